"""Gillespie's direct method (SSA) for a batch of independent trajectories, as tensors.

Post: Su Jianlin, "python简单实现gillespie模拟", kexue.fm/archives/5607 (2018); method:
D. T. Gillespie, J. Phys. Chem. 81, 2340 (1977). In state ``n`` each reaction ``mu`` fires with
propensity ``a_mu(n) = c_mu prod_i C(n_i, s_mu_i)``. One step of the direct method draws two
uniforms ``u1, u2`` and sets

    a_0 = sum_mu a_mu,     tau = -ln(u1) / a_0,
    mu  = the smallest index with  sum_{nu <= mu} a_nu > u2 a_0,     n <- n + nu_mu,  t <- t + tau.

Here every trajectory of the batch takes its step at once (a column of a ``(S, B)`` tensor), on
CPU or GPU. Each trajectory has its own counter-based random stream: the uniforms of its
``j``-th event are a hash of (seed, trajectory id, j). A trajectory is therefore the same whether
it is simulated alone, in a batch of 10,000, in chunks, or after finished rows are dropped. On the
CPU :func:`simulate` runs the same steps compiled by default (:mod:`ssa.gillespie_kernels`: one loop
over events per trajectory, trajectories in parallel), with the same streams and float operations,
so both give the same samples and event counts.

Outputs: the state on a time grid for many trajectories (:func:`simulate`), or every event of
one trajectory (:func:`simulate_events`). Statistics over time are in :mod:`ssa.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from engine.devices import select_device
from engine.errors import ConfigError, ProjectError, as_int
from ssa.reaction_network import Network, check_counts

_M32 = 0xFFFFFFFF
_CHECK_EVERY = 64  # steps between host-side checks (termination, compaction, event budget)
_CHUNK_NUMBERS = 1 << 25  # float64 samples buffered per chunk by default (256 MB)


class SimulationError(ProjectError):
    """The simulation cannot go on (a trajectory fired more events than allowed)."""


@contextmanager
def _threads_for(device: torch.device, batch: int):
    """One intra-op thread for CPU batches below 16k: the per-step ops are too small to share, and
    two threads contending with another busy process slowed a 100-trajectory run 7x (measured)."""
    before = torch.get_num_threads()
    if device.type == "cpu" and batch < 16384 and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _hash32(x):
    """The ``lowbias32`` integer hash (C. Wellons, hash-prospector) on 32-bit values.

    Works on python ints and on int64 tensors holding values below 2**32: the products overflow
    int64 and wrap, and the mask keeps their low 32 bits, which wrapping leaves exact.
    """
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


class _Streams:
    """Per-trajectory uniforms: ``u = (hash(key_b ^ v_j) + 1/2) / 2**32`` for event ``j``.

    ``key_b`` is a bijective hash of the trajectory id, so ids give distinct keys; ``v_j`` depends
    on (seed, j) only and is computed on the host. Resolution 2**-32: a waiting time is capped at
    ``22.9 / a_0`` and a reaction with ``a_mu < 2**-32 a_0`` is never chosen (both negligible).
    """

    def __init__(self, seed: int, ids: torch.Tensor):
        self.s_lo, self.s_hi = _hash32(seed & _M32), _hash32(((seed >> 32) & _M32) ^ 0x5BD1E995)
        self.keys = _hash32(_hash32((ids & _M32) ^ self.s_lo) ^ self.s_hi)

    def uniforms(self, keys: torch.Tensor, j: int, steps: int, dtype: torch.dtype) -> torch.Tensor:
        """``(steps, 2, B)``: the two uniforms of events ``j .. j + steps - 1`` of each trajectory.

        Drawn a block at a time because each tensor op costs microseconds of overhead, which
        dominates for small batches.
        """
        c = torch.arange(2 * j, 2 * (j + steps), dtype=torch.int64, device=keys.device) & _M32
        v = _hash32(_hash32(c ^ self.s_hi) ^ self.s_lo).view(steps, 2, 1)
        return _hash32(keys ^ v).to(dtype).add_(0.5).mul_(2.0**-32)


def _block(batch: int) -> int:
    """Events per block of uniforms: a power of two dividing _CHECK_EVERY, about 2**16 numbers."""
    return 1 << max(0, min(_CHECK_EVERY.bit_length() - 1, (2**16 // max(batch, 1)).bit_length() - 1))


def _slots(network: Network) -> tuple[np.ndarray, ...]:
    """``(rates (R,), idx (P, R), off (P, R), scale (P, R), change (R, S))``: ``C(n, s)`` as ``s`` slots.

    Slot ``p`` of reaction ``m`` is the factor ``(x[idx[p, m]] - off[p, m]) * scale[p, m]``, i.e.
    ``(n_i - j) * (1 / (j + 1))``; an unused slot has ``idx = S`` (the constant 1), ``off 0``, ``scale 1``.
    """
    rates, reac, change = network.matrices()
    R, S = reac.shape
    slots = max(1, int(reac.sum(1).max()))
    idx = np.full((slots, R), S, dtype=np.int64)
    off = np.zeros((slots, R))
    scale = np.ones((slots, R))
    for m in range(R):
        p = 0
        for i in range(S):
            for j in range(reac[m, i]):
                idx[p, m], off[p, m], scale[p, m] = i, j, 1.0 / (j + 1)
                p += 1
    return rates.astype(np.float64), idx, off, scale, change.astype(np.float64)


class _Kernel:
    """A network's propensities and change vectors as tensors, for states stored as ``(S + 1, B)``.

    Row ``S`` of the state is a constant 1 so that zero-order reactions need no special case.
    ``C(n, s) = prod_{j<s} (n - j) / (j + 1)`` is written as ``s`` factors ("slots"); a slot a
    reaction does not use reads the constant row. For ``n < s`` one factor is 0, so no clamp.
    """

    def __init__(self, network: Network, device: torch.device, dtype: torch.dtype):
        rates, idx, off, scale, change = _slots(network)
        slots, R = idx.shape
        S = change.shape[1]
        t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        self.S, self.R = S, R
        self.rates = t(rates)[:, None]
        self.slots = [(torch.as_tensor(idx[p], device=device),
                       t(off[p])[:, None] if off[p].any() else None,
                       t(scale[p])[:, None] if (scale[p] != 1).any() else None) for p in range(slots)]
        # with b_mu = [cumsum_mu < u2 a0] (b_{R-1} = 0 always): nu_chosen = nu_0 + sum_mu (nu_{mu+1} - nu_mu) b_mu
        self.nu0 = t(change[0])[:, None]
        self.dnu = t(np.diff(change, axis=0).T)  # (S, R - 1)
        self.tril = t(np.tril(np.ones((R, R))))

    def propensities(self, x: torch.Tensor) -> torch.Tensor:
        """``a`` of shape ``(R, B)`` for states ``x`` of shape ``(S + 1, B)``."""
        a = self.rates
        for idx, off, scale in self.slots:
            f = x.index_select(0, idx)
            if off is not None:
                f = f.sub_(off)
            if scale is not None:
                f = f.mul_(scale)
            a = a * f
        return a

    def step(self, x: torch.Tensor, t: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor):
        """One direct-method step for every column: ``(t_new, change (S, B))``.

        A column with ``a_0 = 0`` gets ``t_new = inf``; callers apply ``change`` only where
        ``t_new`` is finite (and within their horizon).
        """
        cs = self.tril @ self.propensities(x)  # cumulative sums over reactions (a small matmul beats cumsum)
        a0 = cs[-1]
        t_new = t - torch.log(u1) / a0
        below = (cs[:-1] < u2 * a0).to(x.dtype)
        return t_new, torch.addmm(self.nu0, self.dnu, below)


def _initial_states(network: Network, initial, n: int, device, dtype) -> torch.Tensor:
    """``(S + 1, n)`` float states (last row ones) from ``None``, one state ``(S,)`` or ``(n, S)``."""
    init = torch.as_tensor(network.initial if initial is None else initial, dtype=torch.float64)
    if init.ndim == 1:
        check_counts(network, init.tolist())
        init = init.expand(n, -1)
    elif init.shape != (n, network.num_species):
        raise ConfigError(f"initial states have shape {tuple(init.shape)}; expected ({network.num_species},) or "
                          f"({n}, {network.num_species}) for {n} trajectories of species {list(network.species)}")
    elif not (torch.isfinite(init).all() and (init >= 0).all() and (init == init.round()).all()):
        raise ConfigError("initial states must be non-negative integers")
    ones = torch.ones(n, 1, dtype=torch.float64)
    return torch.cat([init, ones], 1).T.contiguous().to(device=device, dtype=dtype)


def check_grid(times) -> torch.Tensor:
    """The sampling times as a float64 tensor; one line if they are empty, not finite or go backwards."""
    g = torch.as_tensor(times, dtype=torch.float64).reshape(-1).cpu()
    if g.numel() == 0:
        raise ConfigError("the time grid is empty; give at least one time, e.g. torch.linspace(0, 50, 501)")
    if not torch.isfinite(g).all():
        raise ConfigError("the time grid has inf or nan; give finite times")
    if (g < 0).any():
        raise ConfigError(f"the time grid starts at {g.min().item()} < 0; simulations start at t = 0")
    back = torch.nonzero(g[1:] < g[:-1])
    if len(back):
        i = int(back[0])
        raise ConfigError(f"the time grid goes backwards at index {i + 1} ({g[i].item()} -> {g[i + 1].item()}); "
                          "sort it (times must be non-decreasing)")
    return g


def still_running(label: str, k: torch.Tensor, K: int, t: torch.Tensor, t_end: float, j: int, budget: int,
                  did: str = "fired {j:,} events") -> tuple[torch.Tensor, int]:
    """The rows still before the last grid time and their number; one line when they used up ``budget``
    steps (``label`` names the network or model, ``did`` says what the ``j`` steps were)."""
    active = k < K
    n_active = int(active.sum())
    if n_active and j >= budget:
        raise explosion(label, n_active, did.format(j=j), t_end, t[active].min().item())
    return active, n_active


def explosion(label: str, n: int, did: str, t_end: float, t_min: float) -> SimulationError:
    """The one line for ``n`` trajectories that used up their event budget before ``t_end``."""
    return SimulationError(f"{label}: {n} trajectories {did} and are still before t = {t_end:g} (one is at t = "
                           f"{t_min:.4g}); the {label.split()[0]} may explode in finite time: shorten the time grid "
                           "or raise max_events")


def filled_samples(out: torch.Tensor, K: int) -> torch.Tensor:
    """``(B, K, S)`` int64 counts on the CPU from the ``(B, K + 1, S)`` buffer: a grid time no step wrote
    (marked -1) holds the sample before it."""
    pos = torch.where(out[:, :K, 0] >= 0, torch.arange(K, device=out.device), 0).cummax(1).values
    return out[:, :K].gather(1, pos[..., None].expand(-1, -1, out.shape[2])).round().to(torch.int64).cpu()


@dataclass
class Trajectories:
    """States on a time grid: ``counts[b, k, i]`` = count of species ``i`` in trajectory ``b`` at ``times[k]``."""

    network: Network
    times: torch.Tensor  # (K,) float64
    counts: torch.Tensor  # (N, K, S) int64
    events: torch.Tensor  # (N,) int64: events that fired up to times[-1]
    seed: int
    first_id: int = 0

    def species(self, name: str) -> torch.Tensor:
        """``(N, K)`` counts of one species."""
        return self.counts[..., self.network.index(name)]


def simulate(network: Network, times, num_trajectories: int = 1, seed: int = 0, initial=None,
             device: str | torch.device = "cpu", first_id: int = 0, chunk_size: int | None = None,
             max_events: int = 10**7, progress: bool = False, backend: str = "auto") -> Trajectories:
    """Simulate ``num_trajectories`` independent trajectories from ``t = 0`` and sample them at ``times``.

    The sample at time ``g`` is the state after every event with time ``<= g``. Trajectory ``b``
    uses random stream ``first_id + b``; results do not depend on ``chunk_size`` or ``device``
    (up to the last bits of ``log`` on different hardware). ``initial``: one state ``(S,)``, one
    per trajectory ``(N, S)``, or the network's own when ``None``. A trajectory that needs more
    than ``max_events`` events to reach the last time (a network that explodes in finite time,
    like ``2 X -> 3 X``) stops the run with :class:`SimulationError`. ``chunk_size`` trajectories
    are simulated at a time; by default as many as keep the chunk's sample buffer near 256 MB.

    ``backend``: ``"compiled"`` runs :func:`ssa.gillespie_kernels.direct_method` (numba; CPU only; the
    trajectories of a chunk in parallel on ``numba.get_num_threads()`` threads), ``"torch"`` the batched
    tensor steps below (CPU or CUDA), ``"auto"`` the compiled loop on CPU and torch on CUDA. Both compute
    the same numbers (the same streams, products, sums and ``log``; see the kernels' module).
    """
    n = as_int("num_trajectories", num_trajectories, 1)
    first_id = as_int("first_id", first_id, 0, 2**32 - n + 1)
    seed, max_events = as_int("seed", seed), as_int("max_events", max_events, 1)
    grid = check_grid(times)
    even_tol = (2.0**-22 if torch.as_tensor(times).dtype == torch.float32 else 1e-12) * grid.abs().max().item()
    device = select_device(device, key="device")
    compiled = _use_compiled(backend, device)
    K, S = grid.numel(), network.num_species
    x0 = _initial_states(network, initial, n, "cpu", torch.float64)
    counts = torch.empty(n, K, S, dtype=torch.int64)
    events = torch.empty(n, dtype=torch.int64)
    bar = tqdm(total=n * K, desc=f"simulate {network.name}", unit="samples", disable=not progress, leave=False)
    if chunk_size is None:
        chunk_size = max(1024, _CHUNK_NUMBERS // ((K + 1) * S))
    chunk_size = as_int("chunk_size", chunk_size, 1, hint="null: automatic")
    if compiled:
        times = _simulate_compiled(network, grid, even_tol, x0, seed, first_id, max_events, chunk_size, counts, events, bar)
    else:
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            with _threads_for(device, stop - start):
                times, counts[start:stop], events[start:stop] = _simulate_chunk(
                    network, grid, even_tol, x0[:, start:stop], seed, first_id + start, device, bar, max_events)
    bar.close()
    return Trajectories(network, times, counts, events, int(seed), int(first_id))


def _even_grid(grid: torch.Tensor, tol: float) -> tuple[torch.Tensor, float]:
    """``(grid, step)``: a grid evenly spaced to within ``tol`` (float32 rounding for a float32
    ``linspace``) is replaced by its exact float64 values ``grid[0] + step * k``; any other grid is
    returned as given, with ``step = 0``."""
    K = grid.numel()
    step = (grid[-1] - grid[0]).item() / (K - 1) if K > 1 else 0.0
    even = grid[0] + step * torch.arange(K, dtype=torch.float64)
    if step > 0 and (grid - even).abs().max().item() <= tol:
        return even, step
    return grid, 0.0


def _grid_index(grid: torch.Tensor, tol: float):
    """``(grid, t -> number of grid times < t)``: an even grid (:func:`_even_grid`) is indexed by
    arithmetic, ``ceil((t - g0) / step)`` clamped to ``[0, K]``; any other through ``searchsorted``."""
    grid, step = _even_grid(grid, tol)
    K = grid.numel()
    if step > 0:
        g0 = grid[0].item()
        return grid, lambda t: ((t - g0) / step).ceil_().clamp_(0, K).to(torch.int64)
    return grid, lambda t: torch.searchsorted(grid.to(t.device), t)


_BACKENDS = ("auto", "compiled", "torch")


def _use_compiled(backend: str, device: torch.device) -> bool:
    """Whether ``backend`` on ``device`` means the compiled loop; one line for an unknown or impossible one."""
    if backend not in _BACKENDS:
        raise ConfigError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    if backend == "compiled" and device.type != "cpu":
        raise ConfigError(f"backend 'compiled' runs on the CPU, not on {device}; use backend 'torch' or 'auto' there")
    return backend == "compiled" or (backend == "auto" and device.type == "cpu")


_VTAB_EVENTS = 1 << 14  # events whose stream counters are tabulated once per run (256 KB), then hashed as needed


def _compressed_network(network: Network) -> tuple[np.ndarray, ...]:
    """``(rates, slot_start, slot_species, slot_off, slot_scale, change)`` for
    :func:`ssa.gillespie_kernels.simulate_range`: the slots of :func:`_slots` that each reaction uses,
    in their order, as compressed rows (an unused slot multiplies by exactly 1, so leaving it out
    changes nothing), and the change vectors ``(R, S)``."""
    rates, idx, off, scale, change = _slots(network)
    S = change.shape[1]
    used = [[p for p in range(idx.shape[0]) if idx[p, m] < S] for m in range(len(rates))]
    start = np.concatenate([[0], np.cumsum([len(u) for u in used])]).astype(np.int64)
    pick = [(p, m) for m, u in enumerate(used) for p in u]
    species = np.array([idx[p, m] for p, m in pick], dtype=np.int64)
    return (rates, start, species, np.array([off[p, m] for p, m in pick], dtype=np.float64),
            np.array([scale[p, m] for p, m in pick], dtype=np.float64), change)


def _simulate_compiled(network: Network, grid: torch.Tensor, even_tol: float, x0: torch.Tensor, seed: int, first_id: int,
                       max_events: int, chunk_size: int, counts: torch.Tensor, events: torch.Tensor, bar) -> torch.Tensor:
    """The compiled direct method for every trajectory, ``chunk_size`` at a time, written into ``counts`` and
    ``events`` (CPU tensors, through numpy views); returns the grid used (:func:`_even_grid`)."""
    import numba  # here, not at the top: importing ssa.gillespie stays light

    from ssa import gillespie_kernels as gk

    grid, step = _even_grid(grid, even_tol)
    g = grid.numpy()
    s_lo, s_hi = _hash32(seed & _M32), _hash32(((seed >> 32) & _M32) ^ 0x5BD1E995)
    s_lo, s_hi = np.uint64(s_lo), np.uint64(s_hi)
    v1, v2 = gk.counter_values(min(_VTAB_EVENTS, max_events + _CHECK_EVERY), s_lo, s_hi)
    arrays = _compressed_network(network)
    init = x0[:network.num_species].T.numpy()
    out, ev = counts.numpy(), events.numpy()
    n = len(out)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        stopped = np.empty(stop - start)
        parts = min(stop - start, 8 * numba.get_num_threads())
        failed = gk.run(init[start:stop], *arrays, first_id + start, s_lo, s_hi, v1, v2, g, float(g[0]), step, step > 0,
                        max_events, out[start:stop], ev[start:stop], stopped, parts=parts)
        if failed:
            j = -(-max_events // _CHECK_EVERY) * _CHECK_EVERY
            raise explosion(f"network {network.name!r}", failed, f"fired {j:,} events", g[-1], np.nanmin(stopped))
        bar.update((stop - start) * len(g))
    return grid


def _simulate_chunk(network, grid, even_tol, x, seed, first_id, device, bar, max_events):
    dtype = torch.float64
    S, K, B = network.num_species, grid.numel(), x.shape[1]
    kern = _Kernel(network, device, dtype)
    x = x.to(device)
    ids = torch.arange(B, device=device)
    streams = _Streams(seed, ids + first_id)
    keys = streams.keys
    t = torch.zeros(B, dtype=dtype, device=device)
    grid, index = _grid_index(grid, even_tol)
    t_end = grid[-1].item()
    k = index(t)
    # -1 marks grid times that no step wrote; they hold the sample before them (filled at the end).
    # Column K is a sink, so that on GPU the write needs no host sync.
    out = torch.full((B, K + 1, S), -1.0, dtype=dtype, device=device)
    events = torch.zeros(B, dtype=torch.int64, device=device)
    n_events = torch.zeros(B, dtype=torch.int64, device=device)
    j, finished, block = 0, 0, _block(B)
    while True:
        if j % block == 0:  # compaction happens only at multiples of block, so keys match
            u = streams.uniforms(keys, j, block, dtype)
        t_new, change = kern.step(x, t, u[j % block, 0], u[j % block, 1])
        k_new = index(t_new)
        # the state before this event is the sample at every grid time in [t, t_new)
        crossed = k_new > k
        if x.is_cuda or len(k) <= 4096:
            out[ids, torch.where(crossed, k, K)] = x[:S].T
        else:  # on a large CPU batch few rows cross a grid time per step: write only those
            rows = torch.nonzero(crossed).squeeze(1)
            out[ids[rows], k[rows]] = x[:S, rows].T
        fired = t_new <= t_end
        x[:S].addcmul_(change, fired)
        n_events += fired
        t, k = t_new, k_new
        j += 1
        if j % _CHECK_EVERY:
            continue
        active, n_active = still_running(f"network {network.name!r}", k, K, t, t_end, j, max_events)
        bar.update(finished * K + int(k.sum()) - bar.n)
        if n_active == 0:
            break
        if n_active < 0.75 * len(k):  # drop finished rows: their random streams are their own
            keep = torch.nonzero(active).squeeze(1)
            finished += len(k) - n_active
            events[ids] = n_events
            x, t, k, keys, ids, n_events = x[:, keep], t[keep], k[keep], keys[keep], ids[keep], n_events[keep]
    events[ids] = n_events
    return grid, filled_samples(out, K), events.cpu()


@dataclass
class EventPath:
    """Every event of one trajectory: the state ``counts[e]`` holds from ``times[e]`` to ``times[e + 1]``.

    ``times[0] = 0`` is the initial state; ``t_end`` is where the path stops being observed (the
    horizon, or the last event when the run stopped on ``max_events``).
    """

    network: Network
    times: torch.Tensor  # (E + 1,) float64
    counts: torch.Tensor  # (E + 1, S) int64
    t_end: float

    def at(self, grid) -> torch.Tensor:
        """The state at each time of ``grid`` (``(K, S)``): the last event at or before it."""
        g = check_grid(grid)
        return self.counts[torch.searchsorted(self.times, g, right=True) - 1]


def simulate_events(network: Network, max_events: int | None = 100_000, t_max: float = math.inf, seed: int = 0,
                    initial: Sequence[int] | None = None, trajectory_id: int = 0,
                    device: str | torch.device = "cpu", event_budget: int = 10**7) -> EventPath:
    """Record every event of trajectory ``trajectory_id`` until ``max_events`` or time ``t_max``.

    The post's ``System.evolute(steps)`` is ``simulate_events(network, max_events=steps)``. The
    path uses the same random stream as row ``trajectory_id`` of :func:`simulate` with this seed.
    With ``max_events=None`` the path runs to ``t_max``, and a path that needs more than
    ``event_budget`` events to get there (an explosive network) raises :class:`SimulationError`.
    """
    if max_events is None and not math.isfinite(t_max):
        raise ConfigError("give max_events or a finite t_max, or the simulation may never stop")
    if max_events is not None:
        max_events = as_int("max_events", max_events, 1)
    if not t_max > 0:
        raise ConfigError(f"t_max must be > 0, got {t_max}")
    seed, trajectory_id = as_int("seed", seed), as_int("trajectory_id", trajectory_id, 0, 2**32)
    device = select_device(device, key="device")
    with _threads_for(device, 1):
        return _record_events(network, max_events, t_max, seed, initial, trajectory_id, device, event_budget)


def _record_events(network, max_events, t_max, seed, initial, trajectory_id, device, event_budget) -> EventPath:
    dtype = torch.float64
    x = _initial_states(network, initial, 1, device, dtype)
    S = network.num_species
    kern = _Kernel(network, device, dtype)
    streams = _Streams(seed, torch.tensor([trajectory_id], device=device))
    cap = (int(max_events) if max_events is not None else 1 << 16) + _CHECK_EVERY + 1
    times = torch.zeros(cap, dtype=dtype, device=device)
    states = torch.empty(cap, S, dtype=dtype, device=device)
    states[0] = x[:S, 0]
    t = times[:1].clone()
    j = 0
    while True:
        if j % _CHECK_EVERY == 0:
            u = streams.uniforms(streams.keys, j, _CHECK_EVERY, dtype)
        t, change = kern.step(x, t, u[j % _CHECK_EVERY, 0], u[j % _CHECK_EVERY, 1])
        x[:S] += change * torch.isfinite(t)
        j += 1
        times[j:j + 1], states[j] = t, x[:S, 0]
        if j % _CHECK_EVERY:
            continue
        if (max_events is not None and j >= max_events) or not t.item() <= t_max:  # also stops at t = inf
            break
        if max_events is None and j >= event_budget:
            raise SimulationError(f"network {network.name!r}: {j:,} events and still at t = {t.item():.6g} < "
                                  f"t_max = {t_max:g}; the network may explode in finite time: lower t_max, "
                                  "or give max_events")
        if j + _CHECK_EVERY + 1 > cap:
            times = torch.cat([times, torch.zeros_like(times)])
            states = torch.cat([states, torch.empty_like(states)])
            cap *= 2
    fired = times[1:j + 1]
    n = int((torch.isfinite(fired) & (fired <= t_max)).sum()) + 1  # times increase: these come first
    by_budget = max_events is not None and n > max_events
    n = min(n, max_events + 1) if max_events is not None else n
    # the path is observed up to t_max, or up to its last event when the budget or an absorbing state ended it
    t_end = t_max if math.isfinite(t_max) and not by_budget else times[n - 1].item()
    return EventPath(network, times[:n].cpu(), states[:n].round().to(torch.int64).cpu(), float(t_end))
