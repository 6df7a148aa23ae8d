"""Simulated trajectories of a reaction network as a torch ``Dataset`` (for fitting ODE models).

Item ``i`` is trajectory ``first_id + i`` of :func:`ssa.gillespie.simulate` with this seed,
so disjoint id ranges give independent train / validation / test sets of the same network
(``first_id=0``, ``first_id=10_000``, ...). Counts are divided by ``volume`` (the system size
``Omega``: concentrations ``n / Omega`` follow the rate equations as ``Omega`` grows) and
optionally observed through noise:

- ``gaussian``: ``y = x + noise_scale * eps``;
- ``relative``: ``y = x (1 + noise_scale * eps)``;
- ``poisson``: ``y = Poisson(x * noise_scale) / noise_scale`` (photon-counting style, ``noise_scale``
  = detected counts per unit), with ``eps ~ N(0, 1)``.

The noise is drawn once, from a seed of its own for each trajectory id, so a dataset is a fixed
set of numbers and trajectory ``i`` is observed the same way in any id range that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from engine.errors import ConfigError
from engine.seeding import stream_seed
from ssa.gillespie import simulate
from ssa.reaction_network import Network, load_network

NOISE = ("none", "gaussian", "relative", "poisson")


class SimulatedTrajectories(Dataset):
    """``{"t": (K,), "y": (K, S') observed, "x": (K, S') noise-free, "x0": (S',)}`` per item, float32.

    ``S'`` are the ``observe``d species (all by default).
    """

    def __init__(self, network: str | Network, num_trajectories: int, t_end: float, num_points: int,
                 seed: int = 0, first_id: int = 0, noise: str = "none", noise_scale: float = 0.0,
                 volume: float = 1.0, observe: Sequence[str] | None = None, initial=None, device: str = "cpu"):
        net = load_network(network) if isinstance(network, str) else network
        if noise not in NOISE:
            raise ConfigError(f"noise={noise!r} is not one of {list(NOISE)}")
        if noise != "none" and not noise_scale > 0:
            raise ConfigError(f"noise={noise} needs noise_scale > 0, got {noise_scale}")
        if not volume > 0:
            raise ConfigError(f"volume must be > 0, got {volume}")
        if not (t_end > 0 and int(num_points) >= 2):
            raise ConfigError(f"need t_end > 0 and num_points >= 2, got {t_end} and {num_points}")
        if isinstance(observe, str):
            raise ConfigError(f"observe must be a list of species, e.g. [{observe!r}], not a string")
        observe = list(net.species if observe is None else observe)
        cols = [net.index(s) for s in observe]
        self.network, self.species = net, observe
        times = torch.linspace(0.0, float(t_end), int(num_points), dtype=torch.float64)
        traj = simulate(net, times, int(num_trajectories), seed=seed, initial=initial, first_id=first_id, device=device)
        self.t = traj.times.to(torch.float32)
        self.events = traj.events
        x = traj.counts[..., cols].to(torch.float64) / volume
        self.x = x.to(torch.float32)
        self.y = torch.stack([_observe(x[b], noise, noise_scale, stream_seed(seed, first_id + b, 0x6E6F697365))
                              for b in range(len(x))]).to(torch.float32)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"t": self.t, "y": self.y[i], "x": self.x[i], "x0": self.x[i, 0]}


def _observe(x: torch.Tensor, noise: str, scale: float, seed: int) -> torch.Tensor:
    if noise == "none":
        return x.clone()
    g = torch.Generator().manual_seed(seed)
    if noise == "poisson":
        return torch.poisson(x * scale, generator=g) / scale
    eps = torch.randn(x.shape, generator=g, dtype=x.dtype)
    return x + scale * eps if noise == "gaussian" else x * (1 + scale * eps)
