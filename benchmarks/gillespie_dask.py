"""Scaling of ``ssa.gillespie.simulate`` over Dask workers: one process against 1 and 2 worker processes.

What is measured: wall seconds and reaction events per second for the same 10,000 trajectories of
the post's gene expression (``load_network("gene_expression")``) on t in [0, 50] with 501 points,
with the same seed in each round, run

* in one process: plain ``simulate`` here, with a budget of 1 thread and of 2 threads;
* on Dask (``ssa.dask_engine.DaskSimulator``): a local cluster of 1 worker process and one of 2,
  one thread each. A run is the whole call: cutting the ids into parts (default: one per worker),
  shipping the tasks, simulating, sending the counts back (80 MB for 10,000 trajectories) and
  copying them into one result.

Thread budget: every worker task runs with 1 torch thread and 1 numba thread
(``ssa.dask_engine.thread_budget``), so 2 workers use 2 threads in all; the one-process rows run
under the same ``thread_budget(1)`` and ``thread_budget(2)``. (The torch backend uses 1 thread for
batches below 16,384 whatever the budget; the compiled one runs a chunk's trajectories on the
budget's numba threads.) The clusters are started once, before the runs: their start-up time and
the first task (imports on the workers) are reported on their own lines, not in the runs.

How: ``--rounds`` rounds (at least 3); each round runs every row once, in an order rotated by one
each round, so that load from other processes on a shared machine falls on all rows alike. Every
row of a round must give the same counts and events (checked with ``torch.equal``). Each row
reports its best (fastest) round; the 2-worker / 1-worker speedup is also given per round (same
seed, so same events: a ratio of seconds). The one-process overhead of Dask is dask with 1 worker
against one process with 1 thread, as extra time per event.
The last line is the 2-worker / 1-worker ratio of events/s.

    .venv/bin/python -m benchmarks.gillespie_dask [--quick] [--rounds 3] [--backend compiled|torch]

``--quick`` uses 1,000 trajectories: a check that everything runs, not a figure to quote.
"""

from __future__ import annotations

import argparse
import inspect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ssa.dask_engine import DaskSimulator, default_parts, thread_budget
from ssa.gillespie import Trajectories, simulate
from ssa.reaction_network import load_network

NETWORK = "gene_expression"
T_END, POINTS = 50.0, 501


@dataclass
class Row:
    """One table row: a way to run the same trajectories, and its rounds."""

    name: str
    budget: str
    run: Callable[[int], Trajectories]  # seed -> trajectories
    seconds: list[float] = field(default_factory=list)
    events: list[int] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def events_per_s(self) -> float:
        return max(e / s for s, e in zip(self.seconds, self.events))


def start_cluster(workers: int) -> tuple[DaskSimulator, float]:
    start = time.perf_counter()
    dask_sim = DaskSimulator(workers=workers)
    return dask_sim, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1,000 trajectories instead of 10,000")
    p.add_argument("--trajectories", type=int, default=None, help="trajectories per run (default 10,000; quick 1,000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (at least 3)")
    p.add_argument("--parts", type=int, default=None, help="parts per Dask run (default: ssa.dask_engine.default_parts)")
    p.add_argument("--backend", default=None, help="simulate's backend= (default: simulate's own default)")
    args = p.parse_args(argv)
    if args.rounds < 3:
        p.error("--rounds must be at least 3")
    n = args.trajectories or (1_000 if args.quick else 10_000)
    kwargs = {} if args.backend is None else {"backend": args.backend}
    backend_param = inspect.signature(simulate).parameters.get("backend")
    backend = args.backend or (f"simulate's default ({backend_param.default})" if backend_param else "torch (only one)")

    wall_start = time.perf_counter()
    network = load_network(NETWORK)
    grid = torch.linspace(0.0, T_END, POINTS, dtype=torch.float64)
    print(f"network {network.name}: {n:,} trajectories, t in [0, {T_END:g}], {POINTS} points; backend {backend}; "
          f"torch {torch.__version__}; {os.cpu_count()} CPUs", flush=True)

    clusters: dict[int, DaskSimulator] = {}
    try:
        for workers in (1, 2):
            dask_sim, seconds = start_cluster(workers)
            clusters[workers] = dask_sim
            print(f"cluster start-up, {workers} worker process{'es' if workers > 1 else ''}: {seconds:.2f} s "
                  "(not in the runs)", flush=True)
            start = time.perf_counter()  # the runs' own call on one trajectory per worker: imports, compilation
            dask_sim.simulate(simulate, network, grid, dask_sim.slots, seed=0, threads=1, **kwargs)
            print(f"  first task on each worker (imports, compilation): {time.perf_counter() - start:.2f} s "
                  "(not in the runs)", flush=True)
        start = time.perf_counter()
        for threads in (1, 2):
            with thread_budget(threads):
                simulate(network, grid, 2, seed=0, **kwargs)
        print(f"first calls in this process: {time.perf_counter() - start:.2f} s (not in the runs)", flush=True)

        def local(threads: int) -> Callable[[int], Trajectories]:
            def run(seed: int) -> Trajectories:
                with thread_budget(threads):
                    return simulate(network, grid, n, seed=seed, **kwargs)
            return run

        def on_dask(workers: int) -> Callable[[int], Trajectories]:
            return lambda seed: clusters[workers].simulate(simulate, network, grid, n, seed=seed, parts=args.parts,
                                                          threads=1, **kwargs)

        rows = [Row("one process", "1 thread", local(1)), Row("one process", "2 threads", local(2)),
                Row("dask, 1 worker", "1 thread", on_dask(1)), Row("dask, 2 workers", "1 thread each", on_dask(2))]
        identical = True
        for rnd in range(args.rounds):
            seed = 1 + rnd
            order = rows[rnd % len(rows):] + rows[:rnd % len(rows)]
            reference: Trajectories | None = None
            for row in order:
                start = time.perf_counter()
                traj = row.run(seed)
                seconds = time.perf_counter() - start
                events = int(traj.events.sum())
                row.seconds.append(seconds)
                row.events.append(events)
                if reference is None:
                    reference = traj
                else:
                    identical &= torch.equal(traj.counts, reference.counts) and torch.equal(traj.events, reference.events)
                print(f"  [{rnd + 1}] {row.name:<16} {row.budget:<14} {seconds:8.3f} s  {events / seconds:10.3g} events/s",
                      flush=True)
                del traj
            del reference
    finally:
        for dask_sim in clusters.values():
            dask_sim.close()

    one1, one2, dask1, dask2 = rows
    parts = {w: args.parts or default_parts(n, w) for w in (1, 2)}
    print()
    print("| run | thread budget | best wall seconds | events/s | seconds per round |")
    print("|---|---|---:|---:|---|")
    for row in rows:
        print(f"| {row.name} | {row.budget} | {row.best:.3f} | {row.events_per_s:.3g} | "
              f"{', '.join(f'{s:.2f}' for s in row.seconds)} |")
    print()
    print(f"best of {args.rounds} rotated rounds; dask parts per run: {parts[1]} (1 worker), {parts[2]} (2 workers); "
          f"{dask2.events[-1] / n:,.1f} events per trajectory; every row of every round identical: "
          f"{'yes' if identical else 'NO'}")
    paired = [b / a for a, b in zip(dask2.seconds, dask1.seconds)]
    print(f"speedup of 2 workers over 1 worker (best events/s): {dask2.events_per_s / dask1.events_per_s:.2f}x; "
          f"per round: {', '.join(f'{x:.2f}' for x in paired)}")
    print(f"one-process overhead of dask (1 worker vs one process, 1 thread): "
          f"{one1.events_per_s / dask1.events_per_s - 1:+.1%} time per event (best wall seconds "
          f"{dask1.best:.3f} vs {one1.best:.3f})")
    print(f"2 workers vs one process with 2 threads (events/s): {dask2.events_per_s / one2.events_per_s:.2f}x")
    print(f"total benchmark wall time {time.perf_counter() - wall_start:.1f} s")
    print(f"dask 2 workers / 1 worker events/s = {dask2.events_per_s / dask1.events_per_s:.2f}")


if __name__ == "__main__":
    main()
