"""Figures of a stochastic simulation: sample paths, and distributions against exact answers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.files import atomic_open  # noqa: E402
from ssa.gillespie import EventPath, Trajectories  # noqa: E402


def plot_paths(traj: Trajectories, path: EventPath | None, out: Path, num_shown: int = 5) -> Path:
    """Per species: a few sampled trajectories, the ensemble mean +- one standard deviation, and
    trajectory 0 event by event (it coincides with the first sampled trajectory on the grid)."""
    species = traj.network.species
    fig, axes = plt.subplots(len(species), 1, figsize=(8, 2.6 * len(species)), sharex=True, squeeze=False)
    t = traj.times.numpy()
    for i, (ax, name) in enumerate(zip(axes[:, 0], species)):
        x = traj.counts[..., i].numpy().astype(np.float64)
        mean, std = x.mean(0), x.std(0)
        ax.fill_between(t, mean - std, mean + std, color="C0", alpha=0.15, lw=0, label=f"mean ± sd of {len(x):,}")
        ax.plot(t, mean, color="C0", lw=1.5)
        for b in range(1, min(num_shown, len(x))):
            ax.plot(t, x[b], color="0.55", lw=0.6, alpha=0.8, drawstyle="steps-post")
        if path is not None:
            keep = path.times.numpy() <= t[-1]
            ax.step(path.times.numpy()[keep], path.counts[keep, i].numpy(), where="post", color="C3", lw=0.8,
                    label="trajectory 0, every event")
        ax.set_ylabel(name)
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel("time")
    fig.suptitle(f"{traj.network.name}: sample paths (Gillespie direct method)")
    fig.tight_layout()
    with atomic_open(out) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
    return out


def plot_distributions(curves: dict[str, dict[str, np.ndarray]], title: str, out: Path) -> Path:
    """One panel per species. ``curves[species][label] = probabilities over counts 0, 1, 2, ...``;
    the first label is drawn as bars (the simulation), the others as lines (references)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 3.8), squeeze=False)
    for ax, (name, by_label) in zip(axes[0], curves.items()):
        for j, (label, p) in enumerate(by_label.items()):
            v = np.arange(len(p))
            if j == 0:
                ax.bar(v, p, width=1.0, color="C0", alpha=0.45, label=label)
            elif label.startswith("Poisson"):  # usually under the master-equation line: dots
                ax.plot(v, p, "o", ms=3, color="C1", label=label)
            elif "event" in label:
                ax.plot(v, p, "--", lw=1.2, color="C3", label=label)
            else:
                ax.plot(v, p, "-", lw=1.4, color="k", label=label)
        support = np.nonzero(next(iter(by_label.values())) > 1e-4)[0]
        if len(support):
            ax.set_xlim(max(0, support[0] - 3), support[-1] + 3)
        ax.set_xlabel(f"{name} count")
        ax.set_ylabel("probability")
        ax.legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_open(out) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
    return out
