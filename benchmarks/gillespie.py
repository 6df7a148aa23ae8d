"""Reaction events per second of ``ssa.gillespie.simulate`` against the post's loop and gillespy2.

What is measured: wall seconds and reaction events per second for the post's two-stage gene
expression (``load_network("gene_expression")``: 0 -> mRNA 20, mRNA -> mRNA + protein 2.5,
mRNA -> 0 1, protein -> 0 1, start (1, 1)) on t in [0, 50] with 501 output points, side by side in
one process:

* post: the post's style (kexue.fm/archives/5607), a plain Python loop over events written here --
  ``Reaction.propensity`` as ``rate * prod(scipy.special.comb(n, num_lefts))``, ``np.random`` for the
  two uniforms, the lists ``t`` and ``n`` appended per event -- one trajectory to t = 50;
* gillespy2 1.8.3 (``requirements-bench.txt``; skipped with one line if it is not installed):
  ``NumPySSASolver`` (pure Python) on a few trajectories and the C++ ``SSACSolver`` on 10,000. The
  SSACSolver's C++ build (SCons + g++, once per solver object) is timed and reported on its own line,
  not in the run. gillespy2 does not report events: its rows count the expected 6,837 events per
  trajectory (``EXPECTED_EVENTS``: the propensities are linear, so the mean counts follow the rate
  equations and the expected number of events is the integral of the mean total propensity) and are
  marked ``*``;
* ours: ``simulate(network, times, N)`` for N = 1, 100, 10,000 on CPU -- the compiled direct method
  (``ssa.gillespie_kernels``, numba threads: ``numba.get_num_threads()``) -- and on CUDA (the batched
  torch steps) for 10,000 and 100,000 when ``torch.cuda.is_available()``, counting the events it
  reports (``.events``);
* tau-leaping: on a network where leaping pays (``immigration_death``: 0 -> X 1000, X -> 0 0.1 X from 0,
  counts near 10,000, about 90,000 firings per trajectory on [0, 50]; the SBML suite's case 00023; on
  the gene expression above the method's rule never leaps), ours
  ``ssa.tau_leaping.simulate_tau_leaping(KineticModel.from_network(network), times, N, epsilon=0.03)``
  against gillespy2's ``TauLeapingCSolver`` (C++, ``tau_tol=0.03``) on 10,000 trajectories
  (``--tau-trajectories``), next to our exact method; events are reaction firings (ours counted,
  gillespy2's the expected 90,067 per trajectory, ``*``), and each row's Z scores against the exact
  Poisson law at the 51 grid times show the approximation's bias. Skipped with one line if
  ``ssa.tau_leaping`` cannot be imported.

How: short runs (post, NumPySSA, ours with 1 and 100) go round-robin for ``--short-repeats`` rounds;
the long ones (SSACSolver and ours at 10,000) go in ``--long-repeats`` (5) paired rounds, the one that
goes first alternating from round to round, so that load from other processes on a shared machine
falls on both sides alike; the tau-leaping runs likewise for ``--tau-repeats`` (1: gillespy2's solver
takes minutes at 10,000) rounds. Each table row reports its best (the fastest) repeat; every run uses
a different seed. The SSACSolver's wall time is its ``run()`` call: the C++ binary plus gillespy2's
Python parsing of its text output (which runs alongside, so both contenders can use both cores). A
statistics check follows, for the last 10,000-trajectory run of each: protein (and mRNA) mean and
variance pooled over all trajectories and grid times t >= 10 (theory: protein 50 and 112.5, mRNA 20
and 20), so that a fast but wrong simulator would show.

The headline is the ratio of events/s, ours exact / SSACSolver at 10,000, of each paired round: the
rounds' ratios are printed with their median and spread (min-max), and the last line is their median
(the exact method's; the tau-leaping ratio is printed above it). A single best-of ratio swings with the load
of the moment; a median of paired rounds does much less.

    .venv/bin/python -m benchmarks.gillespie [--quick] [--short-repeats 3 --long-repeats 5] [--threads N]

``--threads N`` sets torch's and numba's thread counts for ours (default: their own, all cores).
``--quick`` uses 1,000 trajectories in place of 10,000 (100,000 -> 10,000 on CUDA), 5 for
NumPySSASolver, 100 for the tau-leaping runs and fewer repeats: a check that everything runs, not a
figure to quote.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch
from scipy.special import comb

from ssa.gillespie import simulate
from ssa.reaction_network import Network, load_network

NETWORK = "gene_expression"
T_END, POINTS = 50.0, 501
BURN_IN = 10.0  # statistics use grid times t >= BURN_IN
# Expected events per trajectory on [0, 50] from (m, n) = (1, 1): the propensities are linear, so
# E m = 20 - 19 e^-t, E n = 50 - 49 e^-t - 47.5 t e^-t, and E[events] = int_0^50 (20 + 3.5 E m + E n) dt
# = 1000 + 3.5 (1000 - 19) + (2500 - 49 - 47.5) = 6837 (to the nearest event; e^-50 terms dropped).
EXPECTED_EVENTS = 6837
THEORY = {"protein": (50.0, 112.5), "mRNA": (20.0, 20.0)}  # stationary (mean, variance)
INSTALL = ".venv/bin/pip install -r requirements-bench.txt"
TAU_EPSILON = 0.03  # ours epsilon, gillespy2's tau_tol (Cao, Gillespie & Petzold 2006's bound)
# the tau-leaping section: large counts (DSMTS 002-04, SBML case 00023), 51 points as in the suite
TAU_NETWORK, TAU_POINTS, TAU_STATIONARY = "immigration_death", 51, 1e4
# E[firings] on [0, 50] = int (1000 + 0.1 mu(t)) dt = 50,000 + 1000 (50 - 10 (1 - e^-5)) = 90,067
TAU_EXPECTED_EVENTS = 90067


@dataclass
class Row:
    """One table row: the best of its repeats."""

    name: str
    trajectories: int
    expected_events: bool = False  # events are EXPECTED_EVENTS per trajectory, not counted
    runs: list[tuple[float, int]] = field(default_factory=list)  # (wall seconds, events) per repeat

    def add(self, seconds: float, events: int) -> None:
        self.runs.append((seconds, events))

    @property
    def seconds(self) -> float:
        return min(s for s, _ in self.runs)

    @property
    def events_per_s(self) -> float:
        return max(e / s for s, e in self.runs)


# ---------------------------------------------------------------------------------------------
# 1. The post's style: a plain Python loop over events.


class PostReaction:
    """The post's ``Reaction``: a rate, reactant and product counts, ``propensity(n)``."""

    def __init__(self, rate: float, num_lefts, num_rights) -> None:
        self.rate = rate
        self.num_lefts = np.array(num_lefts)
        self.num_rights = np.array(num_rights)
        self.num_diff = self.num_rights - self.num_lefts

    def propensity(self, n: np.ndarray) -> float:
        return self.rate * np.prod(comb(n, self.num_lefts))


class PostSystem:
    """The post's ``System``, with ``evolute`` run to a time horizon instead of a number of steps."""

    def __init__(self, num_elements: int) -> None:
        self.num_elements = num_elements
        self.reactions: list[PostReaction] = []

    def add_reaction(self, rate: float, num_lefts, num_rights) -> None:
        self.reactions.append(PostReaction(rate, num_lefts, num_rights))

    def evolute(self, t_end: float, inits) -> int:
        """Simulate until the next event would pass ``t_end``; returns the number of events fired."""
        self.t = [0.0]
        self.n = [np.array(inits, dtype=np.float64)]
        while True:
            a = np.array([r.propensity(self.n[-1]) for r in self.reactions])
            a0 = a.sum()
            u1, u2 = np.random.random(), np.random.random()
            t = self.t[-1] - np.log(u1) / a0
            if not t <= t_end:
                break
            mu = int(np.searchsorted(np.cumsum(a), u2 * a0, side="right"))
            self.t.append(t)
            self.n.append(self.n[-1] + self.reactions[mu].num_diff)
        return len(self.t) - 1

    def at(self, grid: np.ndarray) -> np.ndarray:
        """The state at each grid time (the last event at or before it), shape ``(K, S)``."""
        return np.asarray(self.n)[np.searchsorted(self.t, grid, side="right") - 1]


def post_system(network: Network) -> PostSystem:
    rates, reac, change = network.matrices()
    system = PostSystem(network.num_species)
    for c, left, nu in zip(rates, reac, change):
        system.add_reaction(float(c), left.tolist(), (left + nu).tolist())
    return system


def run_post(network: Network, grid: np.ndarray, seed: int) -> tuple[float, int]:
    system = post_system(network)
    np.random.seed(seed)
    start = time.perf_counter()
    events = system.evolute(grid[-1], network.initial)
    system.at(grid)
    return time.perf_counter() - start, events


# ---------------------------------------------------------------------------------------------
# 2. gillespy2.


def venv_bin_first_on_path() -> None:
    """gillespy2 runs SCons as ``scons`` from PATH, else as the *resolved* interpreter's ``-m SCons``,
    which is the system Python outside the venv ("No module named SCons"): put the venv's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


def import_gillespy2() -> Any:
    try:
        import gillespy2
    except ImportError:
        print(f"gillespy2 is not installed, its rows are skipped: {INSTALL}")
        return None
    return gillespy2


def gillespy2_model(gillespy2: Any, network: Network, grid: np.ndarray) -> Any:
    """The same network as a gillespy2 model (mass action; volume 1, so propensities are c prod C(n, s))."""
    model = gillespy2.Model(name=network.name)
    model.add_species([gillespy2.Species(name=s, initial_value=int(v), mode="discrete")
                       for s, v in zip(network.species, network.initial)])
    model.add_parameter([gillespy2.Parameter(name=f"c{m}", expression=r.rate) for m, r in enumerate(network.reactions)])
    for m, r in enumerate(network.reactions):
        model.add_reaction(gillespy2.Reaction(name=f"r{m}", reactants=dict(r.reactants), products=dict(r.products),
                                              rate=f"c{m}"))
    model.timespan(grid)
    return model


def run_gillespy2(solver: Any, n: int, seed: int) -> tuple[float, Any]:
    start = time.perf_counter()
    results = solver.run(number_of_trajectories=n, seed=seed)
    return time.perf_counter() - start, results


def gillespy2_counts(network: Network, results: Any) -> np.ndarray:
    """``(N, K, S)`` counts from a gillespy2 ``Results``."""
    return np.stack([np.stack([np.asarray(tr[s]) for s in network.species], -1) for tr in results])


# ---------------------------------------------------------------------------------------------
# 3. Ours.


def run_ours(network: Network, grid: torch.Tensor, n: int, seed: int, device: str) -> tuple[float, int, torch.Tensor]:
    start = time.perf_counter()
    traj = simulate(network, grid, n, seed=seed, device=device)  # returns CPU tensors: synchronised
    return time.perf_counter() - start, int(traj.events.sum()), traj.counts


# ---------------------------------------------------------------------------------------------


def moments(network: Network, counts: np.ndarray, grid: np.ndarray) -> dict[str, tuple[float, float]]:
    """Mean and variance per species pooled over trajectories and grid times t >= BURN_IN."""
    late = counts[:, grid >= BURN_IN - 1e-9].astype(np.float64)
    return {s: (float(late[..., i].mean()), float(late[..., i].var())) for i, s in enumerate(network.species)}


def fmt_n(n: int) -> str:
    return f"{n:,}"


def alternating_ratio(ours: Callable[[], float], theirs: Callable[[], float], rep: int) -> float:
    """``ours() / theirs()`` (rates), the peer first in even rounds and ours first in odd ones, so that a load
    that drifts over a round hits both alike."""
    if rep % 2 == 0:
        peer = theirs()
        return ours() / peer
    mine = ours()
    return mine / theirs()


def paired_summary(ratios: list[float]) -> str:
    """``median m (min-max a-b) of n paired rounds``."""
    return (f"median {statistics.median(ratios):.2f} (min-max {min(ratios):.2f}-{max(ratios):.2f}) of {rounds(len(ratios))}")


def rounds(n: int) -> str:
    """``n paired round(s)``."""
    return f"{n} paired round{'s' if n != 1 else ''}"


def import_tau_leaping() -> tuple[Any, Any] | None:
    """``(simulate_tau_leaping, KineticModel)``, or ``None`` with one line when they cannot be imported."""
    try:
        from ssa.kinetic_model import KineticModel
        from ssa.tau_leaping import simulate_tau_leaping
    except ImportError as e:
        print(f"ssa.tau_leaping cannot be imported, the tau-leaping rows are skipped: {e}")
        return None
    return simulate_tau_leaping, KineticModel


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1,000 trajectories instead of 10,000, fewer repeats")
    p.add_argument("--short-repeats", type=int, default=None, help="rounds of the short runs (default 3; quick 2)")
    p.add_argument("--long-repeats", type=int, default=None,
                   help="paired rounds of SSACSolver and ours at 10,000 (default 5; quick 2)")
    p.add_argument("--tau-repeats", type=int, default=1, help="paired rounds of the tau-leaping runs (default 1)")
    p.add_argument("--tau-trajectories", type=int, default=None, help="tau-leaping trajectories (default 10,000; quick 100)")
    p.add_argument("--threads", type=int, default=None, help="torch and numba CPU threads for ours (default: their own)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    short_rep = args.short_repeats or (2 if args.quick else 3)
    long_rep = args.long_repeats or (2 if args.quick else 5)
    tau_rep = max(1, args.tau_repeats)
    big = 1_000 if args.quick else 10_000
    tau_n = args.tau_trajectories or (100 if args.quick else 10_000)
    numpy_n = 5 if args.quick else 20
    cuda_ns = [big, 10 * big] if torch.cuda.is_available() else []

    wall_start = time.perf_counter()
    venv_bin_first_on_path()
    network = load_network(NETWORK)
    grid_t = torch.linspace(0.0, T_END, POINTS, dtype=torch.float64)
    grid = grid_t.numpy()
    print(f"network {network.name}: {len(network.reactions)} reactions, initial {dict(zip(network.species, network.initial))}"
          f"; t in [0, {T_END:g}], {POINTS} points; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads; {os.cpu_count()} CPUs; "
          f"cuda {'yes' if cuda_ns else 'no'}", flush=True)
    gillespy2 = import_gillespy2()
    if gillespy2 is not None:
        print(f"gillespy2 {gillespy2.__version__}", flush=True)

    rows: dict[str, Row] = {}

    def row(key: str, name: str, n: int, expected: bool = False) -> Row:
        if key not in rows:
            rows[key] = Row(name, n, expected)
        return rows[key]

    def report(r: Row, rep: int) -> None:
        s, e = r.runs[-1]
        print(f"  [{rep + 1}] {r.name:<28} {r.trajectories:>7,} traj  {s:8.3f} s  {e / s:10.3g} events/s", flush=True)

    # ---- short runs, round-robin
    numpy_solver = gillespy2.NumPySSASolver(model=gillespy2_model(gillespy2, network, grid)) if gillespy2 else None
    print(f"short runs: {short_rep} rounds, round-robin", flush=True)
    for rep in range(short_rep):
        seed = 1 + rep
        short: list[tuple[Row, Callable[[], tuple[float, int]]]] = [
            (row("post", "post-style Python loop", 1), lambda seed=seed: run_post(network, grid, seed)),
            (row("ours1", "ours simulate (cpu)", 1), lambda seed=seed: run_ours(network, grid_t, 1, seed, "cpu")[:2]),
            (row("ours100", "ours simulate (cpu)", 100), lambda seed=seed: run_ours(network, grid_t, 100, seed, "cpu")[:2]),
        ]
        if numpy_solver is not None:
            short.append((row("numpy", "gillespy2 NumPySSASolver", numpy_n, True),
                          lambda seed=seed: (run_gillespy2(numpy_solver, numpy_n, seed)[0], numpy_n * EXPECTED_EVENTS)))
        for r, fn in short:
            r.add(*fn())
            report(r, rep)

    # ---- long runs, paired rounds; which goes first alternates
    ssa_solver, build_s = None, None
    if gillespy2 is not None:
        start = time.perf_counter()
        try:
            ssa_solver = gillespy2.SSACSolver(model=gillespy2_model(gillespy2, network, grid))  # builds the C++ here
            build_s = time.perf_counter() - start
            print(f"SSACSolver C++ build: {build_s:.2f} s (one-off per solver object, not in the runs)", flush=True)
        except Exception as e:  # noqa: BLE001 (g++ missing, SCons failing: report and go on)
            print(f"SSACSolver could not be built, its rows are skipped: {type(e).__name__}: {str(e).splitlines()[0]}")
    print(f"long runs: {rounds(long_rep)}, the first of each pair alternating", flush=True)
    stats: dict[str, tuple[int, dict[str, tuple[float, float]]]] = {}
    paired: list[float] = []
    for rep in range(long_rep):
        seed = 101 + rep

        def run_ssac(rep: int = rep, seed: int = seed) -> float:
            r = row("ssac", "gillespy2 SSACSolver (C++)", big, True)
            seconds, results = run_gillespy2(ssa_solver, big, seed)
            r.add(seconds, big * EXPECTED_EVENTS)
            report(r, rep)
            stats[f"gillespy2 SSACSolver, {fmt_n(big)}"] = big, moments(network, gillespy2_counts(network, results), grid)
            return big * EXPECTED_EVENTS / seconds

        def run_big(rep: int = rep, seed: int = seed) -> float:
            r = row("ours_big", "ours simulate (cpu)", big)
            seconds, events, counts = run_ours(network, grid_t, big, seed, "cpu")
            r.add(seconds, events)
            report(r, rep)
            stats[f"ours (cpu), {fmt_n(big)}"] = big, moments(network, counts.numpy(), grid)
            return events / seconds

        if ssa_solver is None:
            run_big()
        else:
            paired.append(alternating_ratio(run_big, run_ssac, rep))
        if paired:
            print(f"      round {rep + 1}: ours / SSACSolver = {paired[-1]:.2f}", flush=True)
    mean_events = rows["ours_big"].runs[-1][1] / big

    # ---- CUDA
    if cuda_ns:
        run_ours(network, grid_t, 64, 0, "cuda")  # warm-up: CUDA context and kernels
        for rep in range(long_rep):
            for n in cuda_ns:
                r = row(f"cuda{n}", "ours simulate (cuda)", n)
                seconds, events, counts = run_ours(network, grid_t, n, 201 + rep, "cuda")
                r.add(seconds, events)
                report(r, rep)
                if n == big:
                    stats[f"ours (cuda), {fmt_n(big)}"] = big, moments(network, counts.numpy(), grid)
                del counts

    # ---- table
    order = ["post", "numpy", "ssac", "ours1", "ours100", "ours_big", *[f"cuda{n}" for n in cuda_ns]]
    ref = rows.get("ssac")
    ref_label = f"SSACSolver ({fmt_n(big)})"
    print()
    print(f"| implementation | trajectories | wall seconds | events/s | ratio vs gillespy2 {ref_label} |")
    print("|---|---:|---:|---:|---:|")
    for key in order:
        if key not in rows:
            continue
        r = rows[key]
        ratio = f"{r.events_per_s / ref.events_per_s:.3g}" if ref else "n/a"
        star = " *" if r.expected_events else ""
        print(f"| {r.name} | {fmt_n(r.trajectories)} | {r.seconds:.3f} | {r.events_per_s:.3g}{star} | {ratio} |")
    print()
    print(f"wall seconds: the best of {short_rep} interleaved repeats for post, NumPySSASolver and ours with 1 and 100 "
          f"trajectories, the best of {rounds(long_rep)} for the others; events/s from the same best run.")
    if gillespy2 is not None:
        print(f"* gillespy2 does not report events: counted as the expected {EXPECTED_EVENTS:,} events per trajectory "
              f"(the rate equations' mean); ours"
              f" fired {mean_events:,.1f} per trajectory in its last {fmt_n(big)}-trajectory run.")
    else:
        print(f"ours fired {mean_events:,.1f} events per trajectory in its last {fmt_n(big)}-trajectory run "
              f"(expected {EXPECTED_EVENTS:,}).")
    if build_s is not None:
        print(f"SSACSolver one-off C++ build (SCons + g++, per solver object): {build_s:.2f} s")

    # ---- tau-leaping
    print()
    tau_paired = run_tau_leaping(gillespy2, tau_n, tau_rep, report)

    # ---- statistics check
    print()
    print(f"statistics check, last run of each, pooled over trajectories and grid times t >= {BURN_IN:g} "
          f"(flag: mean within 1%, variance within 4% of theory at 10,000 trajectories, x sqrt(10,000 / trajectories))")
    print("| run | protein mean (50) | protein variance (112.5) | mRNA mean (20) | mRNA variance (20) | check |")
    print("|---|---:|---:|---:|---:|---|")
    for name, (n, m) in stats.items():
        tol = math.sqrt(10_000 / n)  # tolerances grow as 1/sqrt(trajectories)
        ok = all(abs(m[s][0] / THEORY[s][0] - 1) <= 0.01 * tol and abs(m[s][1] / THEORY[s][1] - 1) <= 0.04 * tol
                 for s in THEORY)
        print(f"| {name} | {m['protein'][0]:.3f} | {m['protein'][1]:.2f} | {m['mRNA'][0]:.3f} | {m['mRNA'][1]:.2f} | "
              f"{'ok' if ok else 'OFF'} |")

    print()
    if tau_paired:
        print(f"tau-leaping, ours / TauLeapingCSolver at {fmt_n(tau_n)} per round: "
              f"{', '.join(f'{x:.2f}' for x in tau_paired)}; {paired_summary(tau_paired)}")
    if paired:
        print(f"exact, ours / SSACSolver at {fmt_n(big)} per round: {', '.join(f'{x:.2f}' for x in paired)}; "
              f"{paired_summary(paired)}")
    print(f"total benchmark wall time {time.perf_counter() - wall_start:.1f} s")
    headline = (f"{statistics.median(paired):.2f} (median of {rounds(len(paired))})" if paired
                else "n/a (no SSACSolver rows)")
    print(f"exact method: ours (CPU, {fmt_n(big)}) / gillespy2 {ref_label} events/s = {headline}")


def run_tau_leaping(gillespy2: Any, n: int, repeats: int, report: Callable[[Row, int], None],
                    exact_threads: int | None = None) -> list[float]:
    """The tau-leaping section on ``TAU_NETWORK`` (counts near 10,000, where leaping pays): paired rounds of
    gillespy2's ``TauLeapingCSolver`` and ours (epsilon 0.03), our exact method once per round, then their
    table with the suite's Z score against the exact Poisson law; returns ours / theirs events/s per round."""
    tau = import_tau_leaping()
    if tau is None:
        return []
    simulate_tau_leaping, KineticModel = tau
    network = load_network(TAU_NETWORK)
    model = KineticModel.from_network(network)
    grid_t = torch.linspace(0.0, T_END, TAU_POINTS, dtype=torch.float64)
    grid = grid_t.numpy()
    mu = TAU_STATIONARY * (1 - np.exp(-0.1 * grid))  # X(t) ~ Poisson(mu(t)): mean = variance = mu(t)
    solver = None
    if gillespy2 is not None:
        start = time.perf_counter()
        try:
            solver = gillespy2.TauLeapingCSolver(model=gillespy2_model(gillespy2, network, grid))
            print(f"TauLeapingCSolver C++ build: {time.perf_counter() - start:.2f} s (not in the runs)", flush=True)
        except Exception as e:  # noqa: BLE001 (g++ missing, SCons failing: report and go on)
            print(f"TauLeapingCSolver could not be built, its rows are skipped: {type(e).__name__}: "
                  f"{str(e).splitlines()[0]}")
    print(f"tau-leaping on {TAU_NETWORK} (0 -> X 1000, X -> 0 0.1 X, from 0; t in [0, {T_END:g}], {TAU_POINTS} points; "
          f"epsilon = tau_tol = {TAU_EPSILON}): {rounds(repeats)}, who goes first alternating", flush=True)
    rows: dict[str, Row] = {}
    z: dict[str, np.ndarray] = {}
    paired: list[float] = []

    def record(key: str, name: str, seconds: float, events: int, counts: np.ndarray, rep: int, expected=False) -> float:
        r = rows.setdefault(key, Row(name, n, expected))
        r.add(seconds, events)
        report(r, rep)
        x = counts[..., 0].astype(np.float64)
        live = mu > 0
        z[key] = np.sqrt(len(x)) * (x.mean(0)[live] - mu[live]) / np.sqrt(mu[live])
        return events / seconds

    for rep in range(repeats):
        seed = 301 + rep

        def theirs(rep: int = rep, seed: int = seed) -> float:
            start = time.perf_counter()
            results = solver.run(number_of_trajectories=n, seed=seed, tau_tol=TAU_EPSILON)
            seconds = time.perf_counter() - start
            return record("tau_g2", "gillespy2 TauLeapingCSolver (C++)", seconds, n * TAU_EXPECTED_EVENTS,
                          gillespy2_counts(network, results), rep, expected=True)

        def ours(rep: int = rep, seed: int = seed) -> float:
            start = time.perf_counter()
            traj = simulate_tau_leaping(model, grid_t, n, seed=seed, epsilon=TAU_EPSILON)
            seconds = time.perf_counter() - start
            return record("tau_ours", "ours simulate_tau_leaping", seconds, int(traj.events.sum()),
                          traj.counts.numpy(), rep)

        if solver is None:
            ours()
        else:
            paired.append(alternating_ratio(ours, theirs, rep))
        start = time.perf_counter()
        traj = simulate(network, grid_t, n, seed=seed)
        record("tau_exact", "ours simulate, exact (cpu)", time.perf_counter() - start, int(traj.events.sum()),
               traj.counts.numpy(), rep)
    ref = rows.get("tau_g2")
    print()
    print("| implementation | trajectories | wall seconds | events (firings)/s | ratio vs TauLeapingCSolver | "
          "mean X at t = 50 (exact 9,932.6) | max abs Z over t | points with abs Z >= 3 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in ("tau_g2", "tau_ours", "tau_exact"):
        if key not in rows:
            continue
        r = rows[key]
        ratio = f"{r.events_per_s / ref.events_per_s:.3g}" if ref else "n/a"
        star = " *" if r.expected_events else ""
        last = mu[-1] + z[key][-1] * math.sqrt(mu[-1] / n)
        print(f"| {r.name} | {fmt_n(r.trajectories)} | {r.seconds:.3f} | {r.events_per_s:.3g}{star} | {ratio} | "
              f"{last:,.1f} | {np.abs(z[key]).max():.1f} | {int((np.abs(z[key]) >= 3).sum())} of {len(z[key])} |")
    print(f"* counted as the expected {TAU_EXPECTED_EVENTS:,} firings per trajectory; "
          f"ours fired {rows['tau_ours'].runs[-1][1] / n:,.0f} (tau-leaping) and "
          f"{rows['tau_exact'].runs[-1][1] / n:,.0f} (exact) per trajectory. Z = sqrt(n)(mean - mu)/sigma against the "
          "exact Poisson law at each grid time (the SBML suite's mean test, band (-3, 3)): tau-leaping's bias shows "
          f"there. Best of {rounds(repeats)} each.")
    return paired

if __name__ == "__main__":
    main()
