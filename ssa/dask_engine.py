"""Trajectories spread over a Dask cluster: each worker simulates its own range of trajectory ids.

Trajectory ``b`` of a run uses random stream ``(seed, first_id + b)`` and nothing else, so a run of
``N`` trajectories is the concatenation, in id order, of runs over disjoint id ranges
``[first_id + a, first_id + b)``. Here the ids are cut into contiguous parts, each part is one task
``simulate_fn(model, times, b - a, seed=seed, first_id=first_id + a, **kwargs)`` on a worker of a
``dask.distributed`` cluster (https://distributed.dask.org), and the parts are copied into one
:class:`~ssa.gillespie.Trajectories` as they arrive: the result is the one-process result, bit for bit.

It works for any simulator with that signature (``ssa.gillespie.simulate`` on a mass-action
``Network``; an SBML model or tau-leaping simulator returning the same kind of ``Trajectories``)
as long as the simulator is a module-level function and its model pickles. The cluster is a local
one (``scheduler=None``: ``workers`` processes of one thread each, started here and closed
afterwards) or a running scheduler (``scheduler="tcp://host:8786"``, see ``dask scheduler`` and
``dask worker``); every worker must have this project importable at the same version (a shared
folder, or the same checkout on every machine). Each task runs with ``threads`` torch and numba
threads (default 1), so that workers sharing a machine do not oversubscribe its cores.

    with DaskSimulator(workers=2) as dask_sim:         # one cluster for several runs
        traj = dask_sim.simulate(simulate, network, times, 10_000, seed=1)
    traj = simulate_on_dask(simulate, network, times, 10_000, seed=1, workers=2)   # one run
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from tqdm.auto import tqdm

from engine.errors import ConfigError, ProjectError, as_int, as_number
from ssa.gillespie import Trajectories

PER_TRAJECTORY_FIELDS = ("counts", "events", "steps")  # fields with one row per trajectory (tau-leaping adds steps)
PER_TRAJECTORY_KWARGS = ("initial",)  # simulator arguments cut by rows when given one row per trajectory
MIN_PART = 16384  # parts stay at least this large before a worker gets more than one
PARTS_PER_WORKER = 4  # at most, for large runs: smaller parts balance load and bound memory per task

SimulateFn = Callable[..., Trajectories]
# one thread per worker process; no dashboard, and the scheduler's HTTP routes on a free port (the default,
# 8787, warns when another cluster holds it); a failing task is raised in the client with its type and
# message, so the workers need not log it too
LOCAL_CLUSTER = {"threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
                 "scheduler_kwargs": {"dashboard": False}, "silence_logs": logging.CRITICAL}


def split_ids(num_trajectories: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges ``(start, stop)`` tiling ``[0, num_trajectories)``, sizes differing by at
    most one; fewer (one per trajectory) when there are fewer trajectories than parts, never an empty one."""
    n = as_int("num_trajectories", num_trajectories, 1)
    parts = min(as_int("parts", parts, 1), n)
    size, extra = divmod(n, parts)
    bounds = [p * size + min(p, extra) for p in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def default_parts(num_trajectories: int, slots: int) -> int:
    """One part per worker slot, up to :data:`PARTS_PER_WORKER` per slot while parts keep :data:`MIN_PART`
    trajectories. With the torch backend a CPU batch pays a fixed cost per step, so small parts cost more
    in total: 4,000 gene_expression trajectories took 2.5 s in one batch and 4.1 s as four of 1,000 (1 thread,
    measured); the compiled backend does not care, and one part per worker is as good as any there."""
    per_slot = max(1, min(PARTS_PER_WORKER, num_trajectories // (max(slots, 1) * MIN_PART)))
    return max(slots, 1) * per_slot


@contextmanager
def thread_budget(threads: int | None) -> Iterator[None]:
    """Run the body with ``threads`` torch intra-op threads and numba threads (``None``: leave them)."""
    if threads is None:
        yield
        return
    import numba  # a project dependency; its thread count is per calling thread, so set and restore it here

    torch_before, numba_before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        numba.set_num_threads(numba_before)


def part_kwargs(kwargs: dict[str, Any], num_trajectories: int, start: int, stop: int) -> dict[str, Any]:
    """The simulator's keyword arguments for trajectories ``[start, stop)``: an ``initial`` with one state
    per trajectory (``(N, S)``) is cut to its rows; everything else is passed as it is."""
    out = dict(kwargs)
    for key in PER_TRAJECTORY_KWARGS:
        if out.get(key) is None:
            continue
        value = torch.as_tensor(out[key])
        if value.ndim != 2:
            continue
        if value.shape[0] != num_trajectories:
            raise ConfigError(f"{key} has {value.shape[0]} rows for {num_trajectories} trajectories; give one state "
                              "per trajectory or a single state")
        out[key] = value[start:stop]
    return out


def simulate_part(simulate_fn: SimulateFn, model: Any, times: Any, size: int, seed: int, first_id: int,
                  threads: int | None, kwargs: dict[str, Any]) -> Trajectories:
    """One part, as a task on a worker: ``size`` trajectories from id ``first_id``, with ``threads`` threads."""
    with thread_budget(threads):
        return simulate_fn(model, times, size, seed=seed, first_id=first_id, **kwargs)


def assemble(results: Iterable[tuple[int, Trajectories]], spans: Sequence[tuple[int, int]], seed: int,
             first_id: int, per_trajectory: Sequence[str] = PER_TRAJECTORY_FIELDS) -> Trajectories:
    """One :class:`Trajectories` from parts ``(index, part)`` arriving in any order: the ``per_trajectory``
    fields copied into place (so only one part at a time is held besides the result), the other fields
    (``times``, the model) from part 0, ``seed`` and ``first_id`` those of the whole run."""
    n = spans[-1][1]
    out: dict[str, torch.Tensor] = {}
    first: Trajectories | None = None
    times = None
    seen = set()
    for index, part in results:
        start, stop = spans[index]
        if times is None:
            times = part.times
        elif not torch.equal(part.times, times):
            raise ProjectError(f"part {index} (ids {first_id + start}..{first_id + stop - 1}) came back on another "
                               "time grid; every worker must run the same version of this project")
        for name in per_trajectory:
            value = getattr(part, name, None)
            if value is None:  # a simulator without this field
                continue
            if len(value) != stop - start:
                raise ProjectError(f"part {index} returned {len(value)} trajectories in {name}, expected {stop - start}")
            if name not in out:
                out[name] = torch.empty((n, *value.shape[1:]), dtype=value.dtype)
            out[name][start:stop] = value
        if index == 0:
            first = part
        seen.add(index)
    if first is None or len(seen) != len(spans):
        raise ProjectError(f"{len(spans) - len(seen)} of {len(spans)} parts did not come back")
    names = {f.name for f in dataclasses.fields(first)}
    whole = {"seed": int(seed), "first_id": int(first_id)}
    return dataclasses.replace(first, **out, **{k: v for k, v in whole.items() if k in names})


def _check_run(num_trajectories: int, seed: int, first_id: int, parts: int | None,
               threads: int | None) -> tuple[int, int, int, int | None, int | None]:
    n = as_int("num_trajectories", num_trajectories, 1)
    return (n, as_int("seed", seed), as_int("first_id", first_id, 0, 2**32 - n + 1),
            as_int("parts", parts, 1, optional=True, hint="null: one per worker, a few for large runs"),
            as_int("threads", threads, 1, optional=True, hint="null: leave the workers' own"))


def simulate_in_parts(simulate_fn: SimulateFn, model: Any, times: Any, num_trajectories: int, seed: int = 0,
                      first_id: int = 0, parts: int = 2, threads: int | None = None,
                      **kwargs: Any) -> Trajectories:
    """The parts of a Dask run, one after another in this process: the same split, tasks and assembly
    without a cluster (for tests, and to see the cost of splitting alone)."""
    n, seed, first_id, parts, threads = _check_run(num_trajectories, seed, first_id, parts, threads)
    spans = split_ids(n, parts)
    results = ((i, simulate_part(simulate_fn, model, times, b - a, seed, first_id + a, threads,
                                 part_kwargs(kwargs, n, a, b))) for i, (a, b) in enumerate(spans))
    return assemble(results, spans, seed, first_id)


class DaskSimulator:
    """A connection to a Dask cluster that simulates trajectories: a context manager (or call :meth:`close`).

    ``scheduler``: the address of a running scheduler (``tcp://host:8786``); ``None`` starts a local
    cluster of ``workers`` single-threaded worker processes (default: one per core), closed with this
    object; ``workers`` with a ``scheduler`` is refused (that cluster has its own). ``timeout_s``: how long
    to try to reach the scheduler and to wait for its first worker.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None, timeout_s: float = 10.0) -> None:
        from dask.distributed import Client, LocalCluster

        if scheduler is not None and not isinstance(scheduler, str):
            raise ConfigError(f"dask_scheduler must be an address (tcp://host:8786) or null, got {scheduler!r}")
        workers = as_int("dask_workers", workers, 1, optional=True, hint="null: one per core")
        timeout_s = as_number("timeout_s", timeout_s, 0.0, strict=True)
        if scheduler and workers is not None:
            raise ConfigError(f"dask_workers={workers} sizes a local cluster, but dask_scheduler={scheduler} has its own "
                              "workers; set dask_workers=null (or dask_scheduler=null for a local cluster)")
        self.scheduler = scheduler
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=f"{timeout_s}s")
            except (OSError, ValueError, TypeError) as e:
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise ConfigError(f"could not reach the Dask scheduler at dask_scheduler={scheduler} ({reason}); "
                                  "start one (`dask scheduler`, then `dask worker <address>` on each machine) or set "
                                  "dask_scheduler=null for a local cluster") from None
            try:
                self.client.wait_for_workers(1, timeout=timeout_s)
            except TimeoutError:
                self.client.close()
                raise ConfigError(f"the Dask scheduler at dask_scheduler={scheduler} has no workers after "
                                  f"{timeout_s:g} s; start some with `dask worker {scheduler}`") from None
        else:  # the local scheduler lives in this process and logs its start at INFO: kept quiet
            log = logging.getLogger("distributed")
            level = log.level
            log.setLevel(logging.WARNING)
            try:
                self.cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, **LOCAL_CLUSTER)
                self.client = Client(self.cluster)
            finally:
                log.setLevel(level)

    @property
    def slots(self) -> int:
        """Tasks the cluster runs at once: its worker threads."""
        return max(sum(self.client.nthreads().values()), 1)

    def simulate(self, simulate_fn: SimulateFn, model: Any, times: Any, num_trajectories: int, seed: int = 0,
                 first_id: int = 0, parts: int | None = None, threads: int | None = 1, progress: bool = False,
                 **kwargs: Any) -> Trajectories:
        """``simulate_fn(model, times, num_trajectories, seed=seed, first_id=first_id, **kwargs)``, computed on
        the cluster in ``parts`` contiguous id ranges (default :func:`default_parts`), each task with
        ``threads`` torch / numba threads (``None``: the workers' own). ``progress`` shows parts done here;
        it is not passed to the simulator. Errors raised by the simulator are raised here, same type."""
        from dask.distributed import KilledWorker, as_completed

        n, seed, first_id, parts, threads = _check_run(num_trajectories, seed, first_id, parts, threads)
        spans = split_ids(n, parts or default_parts(n, self.slots))
        model_future = self.client.scatter(model, broadcast=True, hash=False)
        futures = [self.client.submit(simulate_part, simulate_fn, model_future, times, b - a, seed, first_id + a,
                                      threads, part_kwargs(kwargs, n, a, b), pure=False) for a, b in spans]
        index = {f.key: i for i, f in enumerate(futures)}
        bar = tqdm(total=n, desc=f"simulate on {self.slots} dask workers", unit="traj", disable=not progress,
                   leave=False)

        def arrivals() -> Iterator[tuple[int, Trajectories]]:
            for future, part in as_completed(futures, with_results=True):
                i = index[future.key]
                futures[i] = None  # the worker may drop its copy
                bar.update(spans[i][1] - spans[i][0])
                yield i, part

        try:
            return assemble(arrivals(), spans, seed, first_id)
        except KilledWorker as e:
            raise ProjectError(f"Dask workers died while simulating ({str(e).splitlines()[0]}); one may have run out "
                               f"of memory: use more parts (now {len(spans)}) or fewer trajectories per run") from None
        finally:
            bar.close()
            self.client.cancel([f for f in futures if f is not None])
            del model_future

    def close(self) -> None:
        # a local cluster's scheduler and nannies live in this process and log each step of closing at INFO,
        # and a worker slow to exit (a busy machine) at WARNING before it is killed
        log = logging.getLogger("distributed")
        level = log.level
        if self.cluster is not None:
            log.setLevel(logging.ERROR)
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            log.setLevel(level)

    def __enter__(self) -> DaskSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def simulate_on_dask(simulate_fn: SimulateFn, model: Any, times: Any, num_trajectories: int, seed: int = 0,
                     first_id: int = 0, scheduler: str | None = None, workers: int | None = None,
                     parts: int | None = None, threads: int | None = 1, timeout_s: float = 10.0,
                     progress: bool = False, **kwargs: Any) -> Trajectories:
    """One run on a Dask cluster (see :class:`DaskSimulator`): equal, bit for bit, to
    ``simulate_fn(model, times, num_trajectories, seed=seed, first_id=first_id, **kwargs)`` in one process."""
    with DaskSimulator(scheduler, workers, timeout_s) as dask_sim:
        return dask_sim.simulate(simulate_fn, model, times, num_trajectories, seed=seed, first_id=first_id,
                                 parts=parts, threads=threads, progress=progress, **kwargs)

