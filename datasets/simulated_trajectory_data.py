"""Trajectories of a reaction network simulated by the Gillespie capability, for fitting its rates.

Train, validation and test are disjoint trajectory ids of :class:`datasets.trajectories.SimulatedTrajectories`
(ids ``[0, n_train)``, then the next ``num_val``, then ``num_test``), so they are independent runs of
the same network, simulated once per ``data_seed`` (by default the run's seed: another seed is another
data set). Every trajectory starts from the network's initial counts (divided by ``volume``), which
are known; the observations are noisy as configured, and the noise-free states travel as ``"x"``.
``observe`` lists the species that are measured (all by default); the others are never in the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from datasets.trajectories import SimulatedTrajectories
from datasets.trajectory_data import Split, TrajectoryData
from engine.errors import ConfigError, as_int
from ssa.reaction_network import load_network


class SimulatedTrajectoryData(TrajectoryData):
    """``num_train`` / ``num_val`` / ``num_test`` trajectories on ``num_points`` times in ``[0, t_end]``."""

    unit = "trajectories"

    def __init__(self, network: str, num_train: int = 1000, num_val: int = 200, num_test: int = 200,
                 t_end: float = 10.0, num_points: int = 51, noise: str = "none", noise_scale: float = 0.0,
                 volume: float = 1.0, observe: Sequence[str] | None = None, data_seed: int | None = None,
                 batch_size: int = 100, eval_batch_size: int = 1000) -> None:
        super().__init__(batch_size, eval_batch_size)
        num_train, num_val, num_test = (as_int(f"data.{key}", value, 1) for key, value in
                                        (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)))
        self.network = load_network(network)
        if isinstance(observe, str):
            raise ConfigError(f"data.observe must be a list of species, e.g. [{observe!r}], not a string")
        self.observe = list(self.network.species if observe is None else observe)
        for s in self.observe:
            self.network.index(s)  # one line for an unknown species
        self.species = list(self.network.species)
        self.split_sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.settings = dict(t_end=t_end, num_points=num_points, noise=noise, noise_scale=noise_scale, volume=volume)
        self.data_seed = data_seed
        self.true_parameters = {f"r{m}": r.rate for m, r in enumerate(self.network.reactions)}

    def load(self, seed: int) -> dict[str, Split]:
        data_seed = seed if self.data_seed is None else self.data_seed
        observed = torch.tensor([s in self.observe for s in self.species])
        splits, first = {}, 0
        for name, n in self.split_sizes.items():
            traj = SimulatedTrajectories(self.network, n, seed=data_seed, first_id=first, **self.settings)
            first += n
            k = traj.t.shape[0]
            mask = observed.expand(n, k, -1).clone()
            mask[:, 0] = False  # the initial state is the model's input
            splits[name] = {"t": traj.t.expand(n, -1).double(), "y": traj.y, "mask": mask, "x0": traj.x[:, 0], "x": traj.x}
        return splits
