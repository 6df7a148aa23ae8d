"""The compiled direct method (``ssa.gillespie_kernels``) against the torch path and against theory.

The compiled loop is meant to compute the torch path's numbers float operation for float operation
(same streams, products, partial sums and ``log``), so the comparisons ask for equal samples and
event counts, not close ones. Where torch has no MKL the kernel's ``log`` is the C library's, which
differs in the last bit for ~0.1 % of arguments; a trajectory then differs only if such an ulp moves
an event across a grid time (about once in 10**12 events), and these tests would still pass.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os

import numba
import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from ssa import gillespie_kernels as gk
from ssa.gillespie import SimulationError, _hash32, _Streams, simulate
from ssa.reaction_network import load_network, network_from_config


def both(network, times, n, **kw):
    """The same run on both backends."""
    return simulate(network, times, n, backend="compiled", **kw), simulate(network, times, n, backend="torch", **kw)


def assert_same(a, b):
    differ = (a.counts != b.counts).flatten(1).any(1)
    assert not differ.any(), f"{int(differ.sum())} trajectories differ, the first {int(differ.nonzero()[0])}"
    assert torch.equal(a.events, b.events)
    assert torch.equal(a.times, b.times)


def test_hash_and_counters_match_the_torch_streams():
    xs = np.array([0, 1, 2, 12345, 2**31, 2**32 - 1], dtype=np.uint64)
    assert [int(gk.hash32(x)) for x in xs] == [_hash32(int(x)) for x in xs]
    seed = 2**40 + 7
    s_lo, s_hi = _hash32(seed & 0xFFFFFFFF), _hash32(((seed >> 32) & 0xFFFFFFFF) ^ 0x5BD1E995)
    v1, v2 = gk.counter_values(300, np.uint64(s_lo), np.uint64(s_hi))
    c = torch.arange(600)
    v = _hash32(_hash32(c ^ s_hi) ^ s_lo)
    assert v1.astype(np.int64).tolist() == v[0::2].tolist() and v2.astype(np.int64).tolist() == v[1::2].tolist()
    streams = _Streams(seed, torch.tensor([5]))
    want = streams.uniforms(streams.keys, 0, 300, torch.float64)[:, :, 0]  # (events, 2)
    key = np.uint64(int(streams.keys[0]))
    for j0, tables in [(0, (v1, v2)), (128, (v1[:10], v2[:10]))]:  # from the tables, and hashed past their end
        u1, u2 = np.empty(128), np.empty(128)
        gk.draw_block(key, j0, *tables, np.uint64(s_lo), np.uint64(s_hi), u1, u2)
        assert np.array_equal(u1, want[j0:j0 + 128, 0].numpy()) and np.array_equal(u2, want[j0:j0 + 128, 1].numpy())


def test_log_is_torch_log():
    """The kernel's logarithm is torch's, bit for bit, on uniforms of the streams' form (MKL builds)."""
    rng = np.random.default_rng(0)
    u = (rng.integers(0, 2**32, 200_000).astype(np.float64) + 0.5) * 2.0**-32
    u[:2] = [0.5 * 2.0**-32, (2**32 - 0.5) * 2.0**-32]  # the extremes
    out = np.empty_like(u)
    gk.log_block(u, out)
    want = torch.log(torch.from_numpy(u)).numpy()
    if gk.LOG_ROUTINE == "mkl":
        assert np.array_equal(out, want)
    else:  # the C library's log: within an ulp
        assert np.allclose(out, want, rtol=4e-16, atol=0)


def test_libm_fallback_is_the_c_log():
    address = gk._libm_ln_address()
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double),
                             ctypes.c_int64)
    u = np.array([0.25, 0.5, 1e-9, 0.999])
    out = np.empty_like(u)
    proto(address)(len(u), u.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                   out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 0)
    assert out.tolist() == [math.log(v) for v in u]


@pytest.mark.parametrize("name, t_end", [("gene_expression", 20.0), ("dimerisation", 5.0)])
def test_compiled_equals_torch(name, t_end):
    """2,000 trajectories on a float32 grid (replaced by the exact even grid, indexed by arithmetic)."""
    a, b = both(load_network(name), torch.linspace(0, t_end, 201), 2000, seed=11)
    assert_same(a, b)
    assert a.events.min() > 0


def test_compiled_equals_torch_on_an_uneven_grid_and_higher_orders():
    """An uneven grid (searched, not computed) starting after 0, and a third-order reaction
    (slots with 1/2 and 1/3), a zero-order one and per-trajectory initial states."""
    net = network_from_config({"name": "trimer", "species": ["A", "B"], "initial": {"A": 30, "B": 0},
                               "reactions": [{"eq": "3 A -> B", "rate": 0.002}, {"eq": "B -> 3 A", "rate": 0.5},
                                             {"eq": "0 -> A", "rate": 2.0}, {"eq": "A -> 0", "rate": 0.1}]})
    grid = np.sort(np.random.default_rng(1).uniform(0.5, 6.0, 57))
    grid[10] = grid[11]  # a repeated time
    init = torch.stack([torch.arange(300) % 40, torch.arange(300) % 3], 1)
    a, b = both(net, grid, 300, seed=3, initial=init)
    assert_same(a, b)


def test_absorbing_states_agree():
    net = network_from_config({"name": "decay", "species": ["X"], "initial": {"X": 5},
                               "reactions": [{"eq": "X -> 0", "rate": 1.0}]})
    a, b = both(net, torch.linspace(0, 30, 31), 500, seed=0)
    assert_same(a, b)
    assert a.events.eq(5).all() and a.counts[:, -1].eq(0).all()


def test_event_budget_rule_is_the_torch_rule():
    """A run fails iff a trajectory needs more steps than the first multiple of 64 >= max_events."""
    net = load_network("gene_expression")
    grid = torch.linspace(0, 2, 21)
    steps = int(simulate(net, grid, 200, seed=4).events.max()) + 1  # the last step draws past the end
    ok, fail = steps, (steps - 1) // 64 * 64  # J = 64 ceil(ok / 64) >= steps; J < steps for fail
    for backend in ("compiled", "torch"):
        simulate(net, grid, 200, seed=4, max_events=ok, backend=backend)
        with pytest.raises(SimulationError, match=f"fired {fail:,} events"):
            simulate(net, grid, 200, seed=4, max_events=fail, backend=backend)


def test_chunks_ids_and_threads_do_not_matter():
    net = load_network("gene_expression")
    grid = torch.linspace(0, 10, 101, dtype=torch.float64)
    whole = simulate(net, grid, 400, seed=9)
    assert_same(simulate(net, grid, 400, seed=9, chunk_size=37), whole)
    part = simulate(net, grid, 50, seed=9, first_id=123)
    assert torch.equal(part.counts, whole.counts[123:173]) and torch.equal(part.events, whole.events[123:173])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert_same(simulate(net, grid, 400, seed=9), whole)
    finally:
        numba.set_num_threads(before)


def _simulate_in_child(conn) -> None:
    traj = simulate(load_network("gene_expression"), torch.linspace(0, 5, 51), 64, seed=2)
    conn.send((traj.counts.sum().item(), traj.events.tolist()))


@pytest.mark.slow  # starts a process
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_simulates():
    """numba's GNU OpenMP layer is not fork-safe (a forked child's parallel loop stops the process): a child
    forked after the parent ran the parallel loop runs the serial one, with the same results."""
    want = simulate(load_network("gene_expression"), torch.linspace(0, 5, 51), 64, seed=2)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_simulate_in_child, args=(child,))
    proc.start()
    got = parent.recv() if parent.poll(120) else None
    proc.join(30)
    assert proc.exitcode == 0 and got == (want.counts.sum().item(), want.events.tolist())


def test_backend_is_checked():
    with pytest.raises(ConfigError, match="backend must be one of"):
        simulate(load_network("gene_expression"), [1.0], 2, backend="numba")
    if torch.cuda.is_available():
        with pytest.raises(ConfigError, match="runs on the CPU"):
            simulate(load_network("gene_expression"), [1.0], 2, backend="compiled", device="cuda")


def test_gene_expression_stationary_moments():
    """Independent samples at t = 30 (the means relax as e^-t): mRNA ~ Poisson(20); protein mean 50,
    variance 112.5. Tolerances: 5 standard errors, the variance's from the sample's fourth moment, so a
    1 % error in a mean (0.5 protein) or a 6 % one in a variance would fail."""
    n = 20_000
    traj = simulate(load_network("gene_expression"), [30.0], n, seed=12)
    for name, (mean, var) in {"mRNA": (20.0, 20.0), "protein": (50.0, 112.5)}.items():
        x = traj.species(name)[:, 0].double()
        m, v = float(x.mean()), float(x.var())
        m4 = float(((x - m) ** 4).mean())
        assert abs(m - mean) < 5 * math.sqrt(v / n), (name, m)
        assert abs(v - var) < 5 * math.sqrt((m4 - v * v) / n), (name, v)
