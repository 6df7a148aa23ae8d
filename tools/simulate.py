"""Simulate a reaction network: ``python tools/simulate.py network=gene_expression [num_trajectories=...]``.

Writes to ``runs/simulate/<network>/<date_time>/``:

- ``trajectories.npz``: ``times (K,)``, ``counts (N, K, S)``, ``events (N,)``, ``species``, ``seed``;
- ``path.npz``: every event of trajectory 0 (``times``, ``counts``), the post's ``evolute(100000)``;
- ``stats.json``: time-weighted mean / variance of each species after ``burn_in`` (with the
  standard error over trajectories), the exact answers where known (Poisson, moments, the master
  equation on a truncated box) and the total-variation distance to them, the post's
  event-weighted moments of the long path, and the throughput;
- ``sample_paths.png``, ``distributions.png`` and, for small boxes, ``distribution_t_end.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from scipy.stats import poisson

from engine.cli import print_result, run_guarded
from engine.devices import select_device
from engine.errors import ConfigError, as_int, as_number
from engine.files import atomic_open, write_atomic
from ssa import master_equation as cme
from ssa import stats as ssa_stats
from ssa.dask_engine import DaskSimulator
from ssa.gillespie import simulate_events
from ssa.kinetic_model import KineticModel
from ssa.plots import plot_distributions, plot_paths
from ssa.reaction_network import Network, network_from_config, read_network_file
from ssa.sbml_import import SBML_SUFFIXES, read_sbml

_DENSE_STATES = 3000  # exact transient distributions only for boxes this small


def _network_label(network_file, name) -> str:
    return Path(str(network_file)).stem if network_file not in (None, "", "null") else str(name)


def load_model(cfg: DictConfig) -> Network | KineticModel:
    """The network of ``network=`` / a YAML ``network_file=``, or the SBML model of an ``.xml`` / ``.sbml`` file."""
    if not cfg.network_file:
        return network_from_config(OmegaConf.to_container(cfg.network, resolve=True))
    path = Path(str(cfg.network_file))
    if not path.is_file():
        raise ConfigError(f"network_file={path} does not exist")
    if path.suffix.lower() in SBML_SUFFIXES:
        model = read_sbml(path)
        with open_dict(cfg):  # no `simulate:` block in SBML: the defaults of configs/simulate.yaml
            cfg.network = OmegaConf.create({"name": model.name})
        return model
    with open_dict(cfg):  # the file's own `simulate:` block then supplies the defaults
        cfg.network = OmegaConf.create(read_network_file(path))
    return network_from_config(OmegaConf.to_container(cfg.network, resolve=True))


OmegaConf.register_new_resolver("network_label", _network_label, replace=True)


def run(cfg: DictConfig, out: Path) -> dict:
    net = load_model(cfg)
    spec = OmegaConf.to_container(cfg.network, resolve=True)
    ref = spec.get("reference") or {}
    method = HydraConfig.get().runtime.choices.get("method", "direct")
    simulate_fn = instantiate(cfg.method)  # each method takes a YAML network or an SBML model
    t_end, burn_in = as_number("t_end", cfg.t_end), as_number("burn_in", cfg.burn_in)
    num_points = as_int("num_points", cfg.num_points, 2)
    if not t_end > 0:
        raise ConfigError(f"need t_end > 0, got t_end={cfg.t_end}")
    if not 0 <= burn_in < t_end:
        raise ConfigError(f"burn_in={burn_in} must lie in [0, t_end={t_end})")
    grid = torch.linspace(0.0, t_end, num_points, dtype=torch.float64)
    device = select_device(str(cfg.device), key="device")

    seed, first_id = as_int("seed", cfg.seed), as_int("first_id", cfg.first_id)
    kw = dict(seed=seed, first_id=first_id, chunk_size=cfg.chunk_size, max_events=cfg.max_events)
    if cfg.engine == "dask":  # trajectory ids spread over workers; the same trajectories as one process
        if str(cfg.device) not in ("auto", "cpu"):
            raise ConfigError(f"engine=dask runs on the workers' CPUs; set device=cpu (got device={cfg.device})")
        device = torch.device("cpu")
        with DaskSimulator(cfg.dask_scheduler, cfg.dask_workers) as cluster:  # start-up is not in the wall time
            start = time.perf_counter()
            traj = cluster.simulate(simulate_fn, net, grid, cfg.num_trajectories, progress=bool(cfg.progress), **kw)
            wall = time.perf_counter() - start
    elif cfg.engine == "local":
        start = time.perf_counter()
        traj = simulate_fn(net, grid, cfg.num_trajectories, device=device, progress=bool(cfg.progress), **kw)
        wall = time.perf_counter() - start
    else:
        raise ConfigError(f"engine={cfg.engine!r}: use local (this process) or dask (a Dask cluster)")
    with atomic_open(out / "trajectories.npz") as f:
        np.savez_compressed(f, times=traj.times.numpy(), counts=traj.counts.numpy(),
                            events=traj.events.numpy(), species=np.array(net.species), seed=seed, first_id=first_id)
    events = int(traj.events.sum())
    stats: dict = {"network": net.name, "method": method, "engine": str(cfg.engine),
                   "num_trajectories": len(traj.counts), "t_end": t_end,
                   "burn_in": burn_in, "device": str(device), "events": events, "wall_s": round(wall, 3),
                   "events_per_s": events / wall, "species": {}}

    path = None
    if as_int("path_events", cfg.path_events) > 0 and isinstance(net, Network):  # mass action, exact steps
        path = simulate_events(net, max_events=cfg.path_events, seed=seed, trajectory_id=first_id)
        with atomic_open(out / "path.npz") as f:
            np.savez_compressed(f, times=path.times.numpy(), counts=path.counts.numpy(), species=np.array(net.species))
        stats["path"] = {"events": len(path.times) - 1, "t_end": path.t_end}
        # the path's statistics skip its first burn_in time units, when the path runs past them
        path_start = burn_in if burn_in < path.t_end else 0.0
        if path.t_end > 0:
            tw_mean, tw_var = ssa_stats.time_weighted_moments(path, path_start)
            stats["path"]["t_start"] = path_start
        else:  # no event fired: the initial state absorbs
            path = None

    stationary = final = None
    box = ref.get("cme_max_counts")
    if cfg.cme and box and isinstance(net, Network):  # any method's samples against the exact law
        bounds = [int(box[s]) for s in net.species]
        stationary = cme.stationary(net, bounds)
        stats["cme_states"] = len(stationary[0])
        stats["cme_boundary_mass"] = cme.boundary_mass(*stationary, bounds)
        if len(stationary[0]) <= _DENSE_STATES:
            final = cme.transient(net, bounds, [t_end])

    curves, end_curves = {}, {}
    for i, name in enumerate(net.species):
        s = _moments(traj, i, burn_in)
        values, p_sim = ssa_stats.grid_distribution(traj, name, burn_in)
        curves[name] = {f"simulation, time-weighted, t >= {burn_in:g}": p_sim}
        if name in (ref.get("moments") or {}):
            s["theory_mean"], s["theory_var"] = map(float, ref["moments"][name])
        if name in (ref.get("poisson") or {}):
            lam = float(ref["poisson"][name])
            p = poisson.pmf(np.arange(max(len(p_sim), int(lam + 10 * lam**0.5) + 10)), lam)
            curves[name][f"Poisson({lam:g})"] = p
            s["tv_poisson"] = ssa_stats.total_variation(p_sim, p)
        if stationary is not None:
            p = cme.marginal(net, *stationary, name)
            curves[name]["master equation, stationary"] = p
            s["cme_mean"], s["cme_var"] = ssa_stats.pmf_moments(p)
            s["tv_cme_stationary"] = ssa_stats.total_variation(p_sim, p)
        if final is not None:  # independent samples at t_end against the exact law at t_end
            p = cme.marginal(net, final[0], final[1][0], name)
            _, p_end = ssa_stats.pmf(traj.counts[:, -1, i])
            n = traj.counts.shape[0]
            s["ks_cme_at_t_end"] = ssa_stats.ks_distance(p_end, p)
            s["ks_dkw_bound_99"] = (np.log(2 / 0.01) / (2 * n)) ** 0.5  # exceeded with probability <= 1 %
            end_curves[name] = {f"simulation at t = {t_end:g}": p_end, f"master equation at t = {t_end:g}": p}
        if path is not None:
            _, ev_p = ssa_stats.event_weighted_distribution(path, name, path_start)
            ev_mean, ev_var = ssa_stats.pmf_moments(ev_p)
            s["path_time_weighted"] = {"mean": float(tw_mean[i]), "var": float(tw_var[i])}
            s["path_event_weighted_as_in_post"] = {"mean": ev_mean, "var": ev_var}
            curves[name]["the post's histogram (over events, biased)"] = ev_p
        stats["species"][name] = s
    if isinstance(net, KineticModel) and net.outputs:  # assignment-rule variables, sampled on the grid
        late = traj.times >= burn_in
        stats["outputs"] = {name: {"mean": float(v[:, late].mean()), "var": float(v[:, late].var())}
                            for name, v in net.observe(traj.counts, traj.times).items()}

    plot_paths(traj, path, out / "sample_paths.png")
    title = (f"{net.name}: {traj.counts.shape[0]:,} trajectories sampled at t in [{burn_in:g}, {t_end:g}]"
             + (f"\nthe post's histogram: one path of {len(path.times) - 1:,} events" if path is not None else ""))
    plot_distributions(curves, title, out / "distributions.png")
    if end_curves:
        plot_distributions(end_curves, f"{net.name}: {traj.counts.shape[0]:,} trajectories at t = {t_end:g} against "
                           "the master equation (expm)", out / "distribution_t_end.png")
    write_atomic(out / "stats.json", json.dumps(stats, indent=2) + "\n")
    return stats


def _moments(traj, i: int, burn_in: float) -> dict:
    """Mean (with its standard error over independent trajectories) and variance after ``burn_in``."""
    x = traj.counts[:, traj.times >= burn_in, i].to(torch.float64)
    per_traj = x.mean(1)
    se = float(per_traj.std() / len(per_traj) ** 0.5) if len(per_traj) > 1 else None  # JSON null, not NaN
    return {"mean": float(x.mean()), "mean_se": se, "var": float(x.var())}


def summary(stats: dict) -> str:
    lines = [f"{stats['network']} ({stats['method']}): {stats['num_trajectories']:,} trajectories to t = {stats['t_end']:g}, "
             f"{stats['events']:,} events in {stats['wall_s']:.2f} s ({stats['events_per_s']:.3g} events/s, {stats['device']})"]
    for name, s in stats["species"].items():
        se = f" ± {s['mean_se']:.3f}" if s["mean_se"] is not None else ""
        text = f"  {name}: mean {s['mean']:.3f}{se}, var {s['var']:.3f}"
        if "theory_mean" in s:
            text += f" (theory {s['theory_mean']:g}, {s['theory_var']:g})"
        if "cme_mean" in s:
            text += f" | master equation {s['cme_mean']:.3f}, {s['cme_var']:.3f}; TV {s['tv_cme_stationary']:.4f}"
        if "ks_cme_at_t_end" in s:
            text += f"; at t_end KS {s['ks_cme_at_t_end']:.4f} (99 % bound {s['ks_dkw_bound_99']:.4f})"
        if "path_event_weighted_as_in_post" in s:
            tw, ew = s["path_time_weighted"], s["path_event_weighted_as_in_post"]
            text += f" | path: time-weighted {tw['mean']:.2f}/{tw['var']:.1f}, over events {ew['mean']:.2f}/{ew['var']:.1f}"
        lines.append(text)
    for name, s in stats.get("outputs", {}).items():
        lines.append(f"  {name} (assignment rule): mean {s['mean']:.3f}, var {s['var']:.3f}")
    if stats.get("cme_boundary_mass", 0) > 1e-6:
        lines.append(f"  warning: the master equation puts {stats['cme_boundary_mass']:.2g} of its probability on the "
                     "edge of its box; raise network.reference.cme_max_counts")
    return "\n".join(lines)


def _work(cfg: DictConfig, out: Path) -> str:
    stats = run(cfg, out)
    files = ", ".join(sorted(p.name for p in out.iterdir() if p.suffix in (".json", ".npz", ".png")))
    return summary(stats) + f"\noutputs: {out}/ ({files})"


@hydra.main(version_base="1.3", config_path="../configs", config_name="simulate")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(_work, cfg, "the same command and seed simulates the same trajectories again"))


if __name__ == "__main__":
    main()
