"""Statistics of simulated trajectories, weighted by time.

A stationary distribution is the fraction of *time* spent in each state. Along one event path the
state ``n_e`` holds for the dwell time ``t_{e+1} - t_e``, so

    P(n) = sum_e [n_e = n] (t_{e+1} - t_e) / (t_end - t_start).

The post (kexue.fm/archives/5607) instead counts events (``pd.Series(n).value_counts()``), which
weights a state by how often it is *left*, i.e. by ``a_0(n)``: for the gene-expression network that
moves the protein mean up by about 1.3 (+1.26 on one path of 100,000 events, measured in docs/gillespie.md). Both are here,
the event count only to redraw the post's figure. Samples on an evenly spaced grid, pooled over
trajectories after a burn-in, are time-weighted by construction.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.errors import ConfigError
from ssa.gillespie import EventPath, Trajectories


def dwell_weights(path: EventPath, t_start: float = 0.0) -> torch.Tensor:
    """Time each state of ``path`` holds within ``[t_start, t_end]``: shape ``(E + 1,)``."""
    if not 0 <= t_start < path.t_end:
        raise ConfigError(f"t_start={t_start} must lie in [0, t_end={path.t_end:.4g}) of the path")
    right = torch.cat([path.times[1:], torch.tensor([path.t_end], dtype=path.times.dtype)])
    return (right.clamp(max=path.t_end) - path.times.clamp(min=t_start)).clamp(min=0)


def time_weighted_moments(path: EventPath, t_start: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-averaged mean and variance ``(S,)`` of each species along one path."""
    w = dwell_weights(path, t_start)
    w = w / w.sum()
    x = path.counts.to(torch.float64)
    mean = w @ x
    return mean, w @ (x - mean) ** 2


def pmf(samples, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """``(values 0..max, probabilities)`` of non-negative integer samples, optionally weighted."""
    p = np.bincount(np.asarray(samples), weights=None if weights is None else np.asarray(weights)).astype(np.float64)
    return np.arange(len(p)), p / p.sum()


def pmf_moments(p: np.ndarray) -> tuple[float, float]:
    """Mean and variance of a distribution on 0, 1, 2, ..."""
    v = np.arange(len(p))
    mean = float((v * p).sum() / p.sum())
    return mean, float(((v - mean) ** 2 * p).sum() / p.sum())


def time_weighted_distribution(path: EventPath, species: str, t_start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The fraction of time spent at each count of one species."""
    return pmf(path.counts[:, path.network.index(species)], dwell_weights(path, t_start))


def event_weighted_distribution(path: EventPath, species: str, t_start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The post's histogram: the fraction of *events* at each count, over states entered at
    ``t >= t_start`` (biased; for comparison only)."""
    return pmf(path.counts[path.times >= t_start, path.network.index(species)])


def grid_samples(traj: Trajectories, species: str, t_start: float = 0.0) -> torch.Tensor:
    """All samples of one species at grid times ``>= t_start``, pooled over trajectories (1-D)."""
    keep = traj.times >= t_start
    if not keep.any():
        raise ConfigError(f"t_start={t_start} is after the last grid time {traj.times[-1].item():.4g}")
    return traj.species(species)[:, keep].reshape(-1)


def grid_distribution(traj: Trajectories, species: str, t_start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(values, probabilities)`` of one species over grid times ``>= t_start`` and all trajectories."""
    return pmf(grid_samples(traj, species, t_start))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``(1/2) sum |p - q|`` of two distributions on ``0, 1, 2, ...`` (the shorter one padded with 0)."""
    n = max(len(p), len(q))
    return 0.5 * float(np.abs(np.pad(p, (0, n - len(p))) - np.pad(q, (0, n - len(q)))).sum())


def ks_distance(p: np.ndarray, q: np.ndarray) -> float:
    """``sup_n |F_p(n) - F_q(n)|``: the Kolmogorov-Smirnov distance of two distributions on 0, 1, 2, ..."""
    n = max(len(p), len(q))
    return float(np.abs(np.cumsum(np.pad(p, (0, n - len(p)))) - np.cumsum(np.pad(q, (0, n - len(q))))).max())
