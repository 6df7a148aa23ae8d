"""The batched direct method against analytic answers and the exact master equation.

Distribution checks use the Dvoretzky-Kiefer-Wolfowitz bound: for ``n`` independent samples,
``P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2)``; ``eps`` is set for a false-alarm rate of 1e-6,
so these tests fail by chance about once in a million runs, and fail for sure on a wrong
propensity, waiting time or grid rule (shifts far larger than ``eps`` at these ``n``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import poisson

from engine.errors import ConfigError
from ssa import master_equation as cme
from ssa import stats as ssa_stats
from ssa.gillespie import SimulationError, _hash32, _Streams, simulate, simulate_events
from ssa.reaction_network import load_network, network_from_config

ALPHA = 1e-6


def dkw(n: int) -> float:
    return math.sqrt(math.log(2 / ALPHA) / (2 * n))


def ks_distance(samples: np.ndarray, pmf: np.ndarray) -> float:
    """``sup |F_n - F|`` of integer samples against a pmf on 0, 1, 2, ..."""
    return ssa_stats.ks_distance(ssa_stats.pmf(samples)[1], pmf)


def birth_death(k=10.0, g=1.0, x0=0):
    return network_from_config({"name": "bd", "species": ["X"], "initial": {"X": x0},
                                "reactions": [{"eq": "0 -> X", "rate": k}, {"eq": "X -> 0", "rate": g}]})


def test_hash_is_the_same_on_ints_and_tensors_and_a_bijection_sample():
    xs = [0, 1, 2, 12345, 2**32 - 1]
    assert _hash32(torch.tensor(xs)).tolist() == [_hash32(x) for x in xs]
    h = _hash32(torch.arange(1 << 16))
    assert len(torch.unique(h)) == 1 << 16


def test_uniform_streams_are_uniform_and_uncorrelated():
    streams = _Streams(7, torch.arange(20_000))
    u1, u2 = streams.uniforms(streams.keys, 3, 1, torch.float64)[0]
    v1, _ = streams.uniforms(streams.keys, 4, 1, torch.float64)[0]
    assert torch.equal(streams.uniforms(streams.keys, 2, 4, torch.float64)[1:3], torch.stack([torch.stack([u1, u2]),
                       torch.stack([v1, _])]))  # a block is the same numbers as single steps
    for u in (u1, u2, v1):
        assert 0 < u.min() and u.max() < 1
        grid = np.linspace(0, 1, 1001)
        assert np.abs(np.searchsorted(np.sort(u.numpy()), grid) / len(u) - grid).max() < dkw(len(u))
    n = len(u1)
    for a, b in [(u1, u2), (u1, v1), (u1[:-1], u1[1:])]:  # within a step, across steps, across trajectories
        assert abs(np.corrcoef(a.numpy(), b.numpy())[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("t", [0.3, 1.0, 3.0])
def test_birth_death_transient_is_poisson(t):
    """From X(0) = 0: X(t) ~ Poisson(k/g (1 - exp(-g t))) exactly."""
    n = 4000
    traj = simulate(birth_death(), [t], n, seed=1)
    lam = 10.0 * (1 - math.exp(-t))
    samples = traj.counts[:, 0, 0].numpy()
    assert ks_distance(samples, poisson.pmf(np.arange(60), lam)) < dkw(n)
    assert abs(samples.mean() - lam) < 5 * math.sqrt(lam / n)


def test_birth_death_stationary_poisson_and_time_average():
    n = 3000
    traj = simulate(birth_death(), torch.linspace(0, 40, 401), n, seed=2)
    at_end = traj.counts[:, -1, 0].numpy()  # independent across trajectories, stationary by t = 40
    assert ks_distance(at_end, poisson.pmf(np.arange(60), 10.0)) < dkw(n)
    _, p = ssa_stats.grid_distribution(traj, "X", t_start=10.0)
    assert ssa_stats.total_variation(p, poisson.pmf(np.arange(len(p) + 20), 10.0)) < 0.01


def test_gene_expression_stationary_moments():
    """mRNA ~ Poisson(20); protein mean 50, variance 112.5 (closed form for the two-stage model)."""
    net = load_network("gene_expression")
    n = 3000
    traj = simulate(net, torch.linspace(0, 30, 301), n, seed=3)
    m_end = traj.species("mRNA")[:, -1].numpy()
    assert ks_distance(m_end, poisson.pmf(np.arange(80), 20.0)) < dkw(n)
    p = traj.species("protein")[:, 100:].to(torch.float64)  # t >= 10
    per_traj = p.mean(1)
    se = float(per_traj.std()) / math.sqrt(n)
    assert abs(float(p.mean()) - 50.0) < 5 * se  # se is about 0.1 here
    assert abs(float(p.var()) - 112.5) < 0.05 * 112.5
    # the same from independent samples at one time: var of n samples has sd ~ var * sqrt(2 / n)
    end = traj.species("protein")[:, -1].to(torch.float64)
    assert abs(float(end.var()) - 112.5) < 5 * 112.5 * math.sqrt(2 / n) * 1.2


def test_dimerisation_against_master_equation_expm():
    """Two species, second order (2P -> P2 uses C(P, 2)): the exact transient law at three times."""
    net = load_network("dimerisation")
    times = [0.2, 1.0, 5.0]
    states, p = cme.transient(net, [301, 151], times)
    assert np.allclose(p.sum(1), 1.0, atol=1e-9)  # the conserved box loses nothing
    n = 4000
    traj = simulate(net, times, n, seed=4)
    for k in range(len(times)):
        pmf = cme.marginal(net, states, p[k], "P2")
        assert ks_distance(traj.species("P2")[:, k].numpy(), pmf) < dkw(n), times[k]


def test_same_seed_same_trajectories_other_seed_others():
    net = load_network("gene_expression")
    grid = torch.linspace(0, 5, 51)
    a, b = simulate(net, grid, 20, seed=5), simulate(net, grid, 20, seed=5)
    c = simulate(net, grid, 20, seed=6)
    assert torch.equal(a.counts, b.counts) and torch.equal(a.events, b.events)
    assert not torch.equal(a.counts, c.counts)
    assert len({tuple(r.flatten().tolist()) for r in a.counts}) == 20  # rows differ from each other


def test_batch_equals_single_runs_and_chunks():
    """Each trajectory owns its stream: a batch row equals that trajectory simulated alone."""
    net = load_network("gene_expression")
    grid = torch.linspace(0, 5, 51)
    batch = simulate(net, grid, 64, seed=8)
    for b in (0, 17, 63):
        alone = simulate(net, grid, 1, seed=8, first_id=b)
        assert torch.equal(alone.counts[0], batch.counts[b]) and alone.events[0] == batch.events[b]
    chunked = simulate(net, grid, 64, seed=8, chunk_size=10)
    assert torch.equal(chunked.counts, batch.counts)


def test_event_path_matches_grid_samples_and_counts():
    net = load_network("gene_expression")
    grid = torch.linspace(0, 8, 161)
    traj = simulate(net, grid, 4, seed=9)
    path = simulate_events(net, max_events=None, t_max=8.0, seed=9, trajectory_id=2)
    assert torch.equal(path.at(grid), traj.counts[2])
    assert len(path.times) - 1 == traj.events[2]
    assert torch.all(path.times[1:] > path.times[:-1])
    steps = path.counts[1:] - path.counts[:-1]  # every event is one of the change vectors
    changes = {tuple(v) for v in net.matrices()[2].tolist()}
    assert {tuple(v) for v in steps.tolist()} <= changes


def test_post_evolute_counts_events():
    path = simulate_events(load_network("gene_expression"), max_events=500, seed=0)
    assert len(path.times) == 501 and path.counts[0].tolist() == [1, 1]
    assert path.t_end == path.times[-1].item()


def test_time_weighted_statistics_by_hand():
    net = birth_death()
    from ssa.gillespie import EventPath
    # X = 0 on [0, 1), 5 on [1, 1.5), 2 on [1.5, 4]: time weights 1, 0.5, 2.5 out of 4
    path = EventPath(net, torch.tensor([0.0, 1.0, 1.5], dtype=torch.float64), torch.tensor([[0], [5], [2]]), 4.0)
    mean, var = ssa_stats.time_weighted_moments(path)
    want_mean = (0 * 1 + 5 * 0.5 + 2 * 2.5) / 4
    want_var = (1 * want_mean**2 + 0.5 * (5 - want_mean) ** 2 + 2.5 * (2 - want_mean) ** 2) / 4
    assert math.isclose(mean.item(), want_mean) and math.isclose(var.item(), want_var)
    v, p = ssa_stats.time_weighted_distribution(path, "X", t_start=1.25)  # weights 0.25 at 5, 2.5 at 2
    assert np.allclose(p[[2, 5]], [2.5 / 2.75, 0.25 / 2.75]) and math.isclose(p.sum(), 1.0)
    _, q = ssa_stats.event_weighted_distribution(path, "X")  # the post's histogram: 1/3 each
    assert np.allclose(q[[0, 2, 5]], 1 / 3)


def test_absorbing_state_stops_cleanly():
    """X -> 0 only: once X = 0 nothing can fire (a_0 = 0); samples stay 0 and time never advances."""
    net = network_from_config({"name": "decay", "species": ["X"], "initial": {"X": 3},
                               "reactions": [{"eq": "X -> 0", "rate": 1.0}]})
    traj = simulate(net, torch.linspace(0, 30, 31), 200, seed=0)
    assert traj.counts[:, -1].eq(0).all() and traj.events.eq(3).all()
    assert (traj.counts[:, 1:] <= traj.counts[:, :-1]).all()
    path = simulate_events(net, max_events=10, seed=0)
    assert path.counts[-1].item() == 0 and len(path.times) == 4


@pytest.mark.parametrize("grid, words", [
    ([0.0, 2.0, 1.0], "goes backwards at index 2"),
    ([], "empty"),
    ([-1.0, 1.0], "< 0"),
    ([0.0, float("nan")], "inf or nan"),
])
def test_bad_time_grid(grid, words):
    with pytest.raises(ConfigError, match=words):
        simulate(birth_death(), grid, 2)


def test_bad_initial_and_sizes():
    with pytest.raises(ConfigError, match="non-negative integers"):
        simulate(birth_death(), [1.0], 2, initial=[-1])
    with pytest.raises(ConfigError, match="expected \\(1,\\) or \\(3, 1\\)"):
        simulate(birth_death(), [1.0], 3, initial=torch.zeros(2, 1))
    with pytest.raises(ConfigError, match="num_trajectories must be an integer >= 1"):
        simulate(birth_death(), [1.0], 0)
    with pytest.raises(ConfigError, match="max_events or a finite t_max"):
        simulate_events(birth_death(), max_events=None)


def test_per_trajectory_initial_states():
    init = torch.tensor([[0], [50]])
    traj = simulate(birth_death(g=1e-9, k=1e-9), [0.0, 1.0], 2, initial=init)
    assert traj.counts[:, :, 0].tolist() == [[0, 0], [50, 50]]


def test_explosion_is_reported():
    net = network_from_config({"name": "boom", "species": ["X"], "initial": {"X": 10},
                               "reactions": [{"eq": "2 X -> 3 X", "rate": 1.0}]})
    with pytest.raises(SimulationError, match="explode in finite time"):
        simulate(net, [0.0, 1.0], 4, max_events=2000)
    with pytest.raises(SimulationError, match="explode in finite time"):
        simulate_events(net, max_events=None, t_max=1.0, event_budget=2000)


def test_uneven_grid_far_from_zero_is_kept():
    grid = torch.tensor([1000.0, 1000.0002, 1000.001], dtype=torch.float64)
    assert torch.equal(simulate(birth_death(), grid, 2).times, grid)
    f32 = torch.linspace(0, 50, 501)  # float32 rounding: replaced by the exact even grid
    times = simulate(birth_death(), f32, 2).times
    assert torch.allclose(times, torch.linspace(0, 50, 501, dtype=torch.float64), rtol=0, atol=1e-12)
    assert not torch.allclose(times, f32.double(), rtol=0, atol=1e-7)
