"""The direct method compiled (numba): one CPU loop over events per trajectory, trajectories in parallel.

Method: D. T. Gillespie, J. Phys. Chem. 81, 2340 (1977); post: Su Jianlin, "python简单实现gillespie
模拟", kexue.fm/archives/5607 (2018). In state ``n`` reaction ``mu`` has the mass-action propensity
``a_mu(n) = c_mu prod_i C(n_i, s_mu_i)``; an event draws ``u1, u2`` and sets ``t <- t - ln(u1) / a_0``
and ``n <- n + nu_mu`` for the smallest ``mu`` with ``a_0 + ... + a_mu > u2 a_0`` (``a_0 = sum a``).

:func:`direct_method` computes the same numbers as the batched torch path of :mod:`ssa.gillespie`,
float operation for float operation, so the two give the same samples and event counts:

- the uniforms of event ``j`` of trajectory ``id`` come from the same counter-based streams
  (``ssa.gillespie._Streams``): ``u = (hash(key ^ v_c) + 1/2) / 2**32`` for the counters
  ``c = 2 j, 2 j + 1``, with ``key = hash(hash(id ^ s_lo) ^ s_hi)`` and ``v_c = hash(hash(c ^ s_hi) ^ s_lo)``
  (``hash``: ``lowbias32``; the 32-bit products are formed exactly in uint64 and masked);
- ``C(n, s)`` is written as ``s`` factors ("slots") ``(n - j) / (j + 1)`` computed as
  ``(n - j) * (1 / (j + 1))``, multiplied in the same order; the partial sums are taken in reaction
  order, and the chosen reaction is the number of partial sums (last one left out) below ``u2 a_0``;
- ``ln(u1)`` is taken with the routine ``torch.log`` uses on the CPU: MKL's ``vdLn`` inside torch's
  ``libtorch_cpu`` where torch was built with MKL (x86 wheels), for a block of events at a time.
  Without it (:data:`LOG_ROUTINE` ``"libm"``) the C library's ``log`` is used: it differs from
  torch's in the last bit for about 0.1 % of arguments, and a trajectory whose waiting time moves by
  that ulp across a grid time or ``t_end`` (about once in 10**12 events) then differs.

The per-trajectory streams make a trajectory the same whatever the batch, chunking, thread count or
schedule. Speed (gene expression, 2 cores): about 22 ns per event and thread, of which ~4.5 ns are the
uniforms and logarithms (hashes from a table of the counters, MKL's vector ``log`` on 128 at a time)
and most of the rest the chain state -> propensities -> partial sums -> choice -> state, which one
event cannot shorten. The grid index is only recomputed once ``t`` passes a bound ``lo`` set a
relative 1e-9 below the next grid time (far more than the rounding of ``(t - g0) / step``), so most
events cost a compare instead of a division; nothing is allocated per event.
"""

from __future__ import annotations

import ctypes
import math
import os
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
import torch
from numba import cfunc, njit, prange, types

CHECK_EVERY = 64  # the torch path checks the event budget every 64 events: the same rule here
BLOCK = 128  # events whose uniforms and logarithms are drawn together
_M = np.uint64(0xFFFFFFFF)
_H1, _H2 = np.uint64(0x7FEB352D), np.uint64(0x846CA68B)
_S15, _S16 = np.uint64(15), np.uint64(16)
_SCALE = 2.0 ** -32
_VML_MODE = 0x2 | 0x140000 | 0x100  # VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE: what ATen passes
_LN_SYMBOL = "ssa_gillespie_vector_ln"
_LN_SIG = types.void(types.int64, types.CPointer(types.float64), types.CPointer(types.float64), types.int64)


def _torch_mkl() -> tuple[int, int] | None:
    """The addresses of MKL's ``vmdLn_64`` and ``MKL_Set_Num_Threads_Local`` (C calls) in torch's CPU library, or
    ``None`` (no MKL in this build)."""
    for path in sorted((Path(torch.__file__).parent / "lib").glob("*torch_cpu.*")):
        try:
            lib = ctypes.CDLL(str(path))
            return (ctypes.cast(lib.vmdLn_64, ctypes.c_void_p).value,
                    ctypes.cast(lib.MKL_Set_Num_Threads_Local, ctypes.c_void_p).value)
        except (OSError, AttributeError):
            continue
    return None


def _libm_ln_address() -> int:
    """A C-callable ``r[i] = log(a[i])`` loop (the C library's ``log``), for torch builds without MKL."""

    @cfunc(_LN_SIG, cache=True)
    def libm_ln(n, a, r, mode):  # pragma: no cover - compiled; used only where torch has no MKL
        for i in range(n):
            r[i] = math.log(a[i])

    return libm_ln.address


def _no_threads_address() -> int:
    """A C-callable stand-in for ``MKL_Set_Num_Threads_Local`` where there is no MKL: returns 0."""

    @cfunc(_THREADS_SIG, cache=True)
    def no_threads(n):  # pragma: no cover - compiled; used only where torch has no MKL
        return 0

    return no_threads.address


_THREADS_SYMBOL = "ssa_gillespie_mkl_threads_local"
_THREADS_SIG = types.int32(types.int32)
_mkl = _torch_mkl()
LOG_ROUTINE = "mkl" if _mkl is not None else "libm"
# the kernel calls these by name, resolved when the (cached) machine code is linked
llvm.add_symbol(_LN_SYMBOL, _mkl[0] if _mkl is not None else _libm_ln_address())
llvm.add_symbol(_THREADS_SYMBOL, _mkl[1] if _mkl is not None else _no_threads_address())
_vector_ln = types.ExternalFunction(_LN_SYMBOL, _LN_SIG)
# MKL's vector functions may open an OpenMP team (torch's libgomp) even for 128 numbers: one thread per
# calling thread instead (our threads are numba's), which also keeps a forked child from waiting on a
# team that did not survive the fork
_mkl_threads_local = types.ExternalFunction(_THREADS_SYMBOL, _THREADS_SIG)


@njit(cache=True)
def hash32(x: np.uint64) -> np.uint64:
    """The ``lowbias32`` hash of a 32-bit value held in a uint64 (``ssa.gillespie._hash32``)."""
    x = x ^ (x >> _S16)
    x = (x * _H1) & _M
    x = x ^ (x >> _S15)
    x = (x * _H2) & _M
    return x ^ (x >> _S16)


@njit(cache=True)
def counter_values(events: int, s_lo: np.uint64, s_hi: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """``(v_{2j}, v_{2j+1})`` for ``j = 0 .. events - 1``, ``v_c = hash(hash(c ^ s_hi) ^ s_lo)``: the
    stream counters of the first events, shared by all trajectories."""
    v1 = np.empty(events, dtype=np.uint64)
    v2 = np.empty(events, dtype=np.uint64)
    for j in range(events):
        v1[j] = hash32(hash32((np.uint64(2 * j) & _M) ^ s_hi) ^ s_lo)
        v2[j] = hash32(hash32((np.uint64(2 * j + 1) & _M) ^ s_hi) ^ s_lo)
    return v1, v2


@njit(cache=True)
def log_block(u: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = ln(u[i])`` with the routine of :data:`LOG_ROUTINE` (the one ``torch.log`` uses)."""
    _vector_ln(u.size, u.ctypes, out.ctypes, _VML_MODE)


@njit(cache=True)
def draw_block(key: np.uint64, j0: int, v1: np.ndarray, v2: np.ndarray, s_lo: np.uint64, s_hi: np.uint64,
               u1: np.ndarray, u2: np.ndarray) -> None:
    """The uniforms ``u1, u2`` of events ``j0 .. j0 + u1.size - 1`` of the trajectory with stream key ``key``
    (the counters from the tables ``v1, v2`` of :func:`counter_values`, or hashed past their end)."""
    nb = u1.size
    if j0 + nb <= v1.size:
        for q in range(nb):
            u1[q] = (np.float64(hash32(key ^ v1[j0 + q])) + 0.5) * _SCALE
            u2[q] = (np.float64(hash32(key ^ v2[j0 + q])) + 0.5) * _SCALE
        return
    for q in range(nb):
        c = np.uint64(2 * (j0 + q)) & _M
        w1 = hash32(hash32(c ^ s_hi) ^ s_lo)
        w2 = hash32(hash32((c + np.uint64(1)) ^ s_hi) ^ s_lo)
        u1[q] = (np.float64(hash32(key ^ w1)) + 0.5) * _SCALE
        u2[q] = (np.float64(hash32(key ^ w2)) + 0.5) * _SCALE


@njit(cache=True, error_model="numpy")
def simulate_range(lo_b: int, hi_b: int, init: np.ndarray, rates: np.ndarray, slot_start: np.ndarray,
                   slot_species: np.ndarray, slot_off: np.ndarray, slot_scale: np.ndarray, change: np.ndarray,
                   first_id: int, s_lo: np.uint64, s_hi: np.uint64, v1: np.ndarray, v2: np.ndarray, grid: np.ndarray,
                   g0: float, step: float, even: bool, max_events: int, counts: np.ndarray, events: np.ndarray,
                   stopped: np.ndarray) -> int:
    """Simulate rows ``lo_b .. hi_b - 1`` (trajectory ids ``first_id + b``) with the direct method, one after
    another; fills ``counts[b]``, ``events[b]`` and ``stopped[b]`` in place.

    ``init (N, S)``: initial counts. Propensities: ``a_m = rates[m] * prod_p (x[slot_species[p]] -
    slot_off[p]) * slot_scale[p]`` over the slots ``p = slot_start[m] .. slot_start[m + 1] - 1`` of
    reaction ``m``, left to right (all ``R`` of them after each event: for a few reactions this beats
    a dependency graph, whose loop lengths vary with the reaction fired); ``change (R, S)``: the change
    vectors. ``v1, v2``: :func:`counter_values`. Grid: ``counts[b, k]`` is the state after every event
    with time ``<= grid[k]``; with ``even`` the index of a time ``t`` is ``ceil((t - g0) / step)``
    clamped to ``[0, K]`` (the torch path's rule for an evenly spaced grid), otherwise the number of
    grid times ``< t``. ``events[b]``: events with time ``<= grid[-1]``. A trajectory still short of
    ``grid[-1]`` after a multiple of ``CHECK_EVERY`` events that is ``>= max_events`` stops there with
    ``stopped[b]`` its time (else ``stopped[b]`` is nan). Returns the number of trajectories that stopped.
    """
    K, S = counts.shape[1], counts.shape[2]
    R = rates.size
    t_end = grid[K - 1]
    failed = 0
    threads_before = _mkl_threads_local(np.int32(1))
    x = np.empty(S)
    cs = np.empty(R)
    u1 = np.empty(BLOCK)
    u2 = np.empty(BLOCK)
    l1 = np.empty(BLOCK)
    for b in range(lo_b, hi_b):
        for s in range(S):
            x[s] = init[b, s]
        key = hash32(hash32((np.uint64(first_id + b) & _M) ^ s_lo) ^ s_hi)
        t = 0.0
        k = 0  # grid times < 0: none (the grid is checked to be >= 0)
        # below lo the grid index cannot change (a margin far above rounding: see the module)
        lo = g0 - 1e-9 * abs(g0) if even else grid[0]
        j = 0
        fired = 0
        stopped[b] = np.nan
        while True:
            q = j % BLOCK
            if q == 0:
                draw_block(key, j, v1, v2, s_lo, s_hi, u1, u2)
                log_block(u1, l1)
            total = 0.0
            for m in range(R):
                a = rates[m]
                for p in range(slot_start[m], slot_start[m + 1]):
                    a = a * ((x[slot_species[p]] - slot_off[p]) * slot_scale[p])
                total = total + a
                cs[m] = total
            t_new = t - l1[q] / total
            threshold = u2[q] * total
            mu = 0
            for m in range(R - 1):
                mu += cs[m] < threshold
            if t_new >= lo:
                if even:
                    f = np.ceil((t_new - g0) / step)
                    k_new = K if f >= K else (0 if f <= 0 else int(f))
                    if k_new < K:
                        lo = g0 + k_new * step - 1e-9 * (abs(g0) + k_new * step)
                else:
                    k_new = k
                    while k_new < K and grid[k_new] < t_new:
                        k_new += 1
                    if k_new < K:
                        lo = grid[k_new]
                for g in range(k, k_new):  # the state before this event holds on [t, t_new)
                    for s in range(S):
                        counts[b, g, s] = np.int64(x[s])
                k = k_new
            if t_new <= t_end:
                for s in range(S):
                    x[s] += change[mu, s]
                fired += 1
            t = t_new
            j += 1
            if k >= K:
                break
            if j % CHECK_EVERY == 0 and j >= max_events:
                stopped[b] = t
                failed += 1
                break
        events[b] = fired
    _mkl_threads_local(threads_before)
    return failed


@njit(cache=True, parallel=True)
def direct_method(init: np.ndarray, rates: np.ndarray, slot_start: np.ndarray, slot_species: np.ndarray,
                  slot_off: np.ndarray, slot_scale: np.ndarray, change: np.ndarray, first_id: int, s_lo: np.uint64,
                  s_hi: np.uint64, v1: np.ndarray, v2: np.ndarray, grid: np.ndarray, g0: float, step: float, even: bool,
                  max_events: int, counts: np.ndarray, events: np.ndarray, stopped: np.ndarray, parts: int) -> int:
    """:func:`simulate_range` over all ``N`` rows, cut into ``parts`` contiguous parts run in parallel
    (numba's threads); returns the number of trajectories stopped by ``max_events``."""
    n = counts.shape[0]
    failed = 0
    for part in prange(parts):
        failed += simulate_range((part * n) // parts, ((part + 1) * n) // parts, init, rates, slot_start, slot_species,
                                 slot_off, slot_scale, change, first_id, s_lo, s_hi, v1, v2, grid, g0, step, even,
                                 max_events, counts, events, stopped)
    return failed


_forked_from_omp = False  # set in a child forked after numba's GNU OpenMP layer started: its parallel loops abort


def _after_fork_in_child() -> None:
    global _forked_from_omp
    try:
        _forked_from_omp = _forked_from_omp or numba.threading_layer() == "omp"
    except ValueError:  # no parallel layer started yet: the child may start its own
        pass


os.register_at_fork(after_in_child=_after_fork_in_child)


def run(init: np.ndarray, *args, parts: int) -> int:
    """:func:`direct_method` with ``parts`` handed out one at a time as threads free up (on a shared machine
    one thread may lag), or :func:`simulate_range` over all rows in a process forked from one that used
    numba's GNU OpenMP layer (not fork-safe: numba would stop the process). The results are the same."""
    if _forked_from_omp or parts <= 1:
        return simulate_range(0, args[-3].shape[0], init, *args)
    with numba.parallel_chunksize(1):
        return direct_method(init, *args, parts)
