"""Adaptive tau-leaping (Cao, Gillespie & Petzold 2006) against exact answers and its own contract.

Tolerances: ``z`` standard errors (z = 5: a false alarm about once in 3 million runs per check)
plus, where the method is biased, the bias it is known to have. Explicit tau-leaping with leaps
of length ``tau`` on a species degraded at rate ``g`` inflates its stationary variance by
``1 / (1 - g tau / 2)`` (for immigration-death with a fixed ``tau``: ``v = (k / g) * 2 / (2 - g tau)``)
and leaves the mean of a linear network unbiased.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_poisson_sampler import chi_square_p

from engine.errors import ConfigError
from ssa.direct_method import simulate_direct
from ssa.gillespie import SimulationError
from ssa.kinetic_model import Event, KineticModel
from ssa.reaction_network import load_network, network_from_config
from ssa.tau_leaping import LeapTrajectories, simulate_tau_leaping

Z = 5.0


def model(name: str, initial: dict, reactions: list[tuple[str, float]]) -> KineticModel:
    net = network_from_config({"name": name, "species": list(initial), "initial": initial,
                               "reactions": [{"eq": eq, "rate": c} for eq, c in reactions]})
    return KineticModel.from_network(net)


def immigration_death(k=1000.0, g=1.0, x0=1000) -> KineticModel:
    return model("imm_death", {"X": x0}, [("0 -> X", k), ("X -> 0", g)])


def test_pure_immigration_is_exact_at_grid_times():
    """``0 -> X`` bounds no leap (X is no reactant): leaps end on the grid and X(t) ~ Poisson(1000 t) exactly."""
    m = model("immigration", {"X": 0}, [("0 -> X", 1000.0)])
    n = 4000
    traj = simulate_tau_leaping(m, [0.0, 0.5, 2.0], n, seed=1)
    assert traj.counts[:, 0, 0].eq(0).all()
    for j, t in ((1, 0.5), (2, 2.0)):
        assert chi_square_p(traj.counts[:, j, 0].numpy(), 1000 * t) > 1e-6
    assert traj.steps.max() <= 3 and torch.equal(traj.events, traj.counts[:, -1, 0])


@pytest.mark.parametrize("eq, per_firing", [("X -> 0", 1), ("2 X -> 0", 2)])
@pytest.mark.parametrize("n_critical", [10, 0])
def test_no_count_ever_goes_negative(eq, per_firing, n_critical):
    """Fast degradation driven to 0; with ``n_critical=0`` only the rejection of negative leaps guards it."""
    m = model("drain", {"X": 1000}, [(eq, 50.0 if per_firing == 1 else 20.0)])
    traj = simulate_tau_leaping(m, torch.linspace(0, 2, 41), 300, seed=2, n_critical=n_critical)
    x = traj.counts[..., 0]
    assert (x >= 0).all() and (x[:, 1:] <= x[:, :-1]).all()
    assert torch.equal(traj.events * per_firing, 1000 - x[:, -1])  # every firing removed per_firing molecules
    assert (x[:, -1] <= per_firing - 1).all()  # drained (2 X -> 0 may leave one)


def test_decay_mean_follows_exp():
    """``X -> 0`` from 1000: E X(t) = 1000 exp(-t); leaps of tau' = eps / g shrink it by O(eps) at most."""
    traj = simulate_tau_leaping(model("decay", {"X": 1000}, [("X -> 0", 1.0)]), [0.5, 1.0, 2.0], 1000, seed=3)
    for j, t in enumerate([0.5, 1.0, 2.0]):
        mean = 1000 * math.exp(-t)
        se = math.sqrt(1000 * math.exp(-t) * (1 - math.exp(-t)) / 1000)
        assert abs(traj.counts[:, j, 0].double().mean().item() - mean) < Z * se + 0.03 * t * mean


def test_immigration_death_small_epsilon_matches_the_leap_bias():
    """k = 1000, g = 1 from X = 1000 (stationary mean): with epsilon = 0.01 the variance bound gives
    tau = (eps x)^2 / (k + g x) = 0.05, so the variance is (k/g) 2 / (2 - 0.05) = 1.0256 k/g; the mean is k/g."""
    n = 2000
    traj = simulate_tau_leaping(immigration_death(), torch.linspace(0, 10, 11), n, seed=4, epsilon=0.01)
    x = traj.counts[:, 4:, 0].double()  # t = 4 .. 10: independent of the start, nearly of each other (corr e^-2)
    T = x.shape[1]
    mean_se = math.sqrt(1000 / (n * T)) * math.sqrt((1 + math.exp(-1)) / (1 - math.exp(-1)))
    assert abs(x.mean().item() - 1000) < Z * mean_se
    ratio = x.var(0).mean().item() / 1000
    assert abs(ratio - 2 / 1.95) < Z * math.sqrt(2 / (n * T)) * 1.1
    assert (traj.steps >= 180).all() and (traj.steps <= 230).all()  # about 20 leaps per unit time


def test_immigration_death_default_epsilon_leaps_far_fewer_than_events():
    """epsilon = 0.03: leaps of about 0.45 (variance bound 900 / 2000, mean bound 30 / |k - g x|): about 25 000
    firings in about 30 leaps. The mean stays k/g; the variance is inflated by the leap (1 / (1 - g tau / 2), up
    to 1.29 at tau = 0.45), which the test bounds from both sides."""
    n = 2000
    traj = simulate_tau_leaping(immigration_death(), torch.linspace(0, 10, 11), n, seed=5)
    assert isinstance(traj, LeapTrajectories)
    x = traj.counts[:, 4:, 0].double()
    assert abs(x.mean().item() - 1000) < Z * math.sqrt(1000 * 2.2 / (n * x.shape[1])) + 2.0
    ratio = x.var(0).mean().item() / 1000
    assert 1.12 < ratio < 1.36
    assert abs(traj.events.double().mean().item() - 20_000) < 100  # firings: 2000 per unit time
    assert traj.steps.double().mean().item() < 40 and (traj.steps * 300 < traj.events).all()


def test_gene_expression_default_takes_exact_steps():
    """tau' a_0 is about 0.025 * 140 = 3.5 < 10 for the gene expression network: CGP's rule takes exact steps,
    so the iterations equal the firings (plus the last step past the end)."""
    m = KineticModel.from_network(load_network("gene_expression"))
    traj = simulate_tau_leaping(m, torch.linspace(0, 2, 21), 50, seed=6)
    assert torch.equal(traj.steps, traj.events + 1)


@pytest.mark.slow
@pytest.mark.parametrize("ssa_factor", [10.0, 0.0])
def test_gene_expression_stationary_moments(ssa_factor):
    """mRNA ~ Poisson(20), protein mean 50 variance 112.5. ``ssa_factor=0`` always leaps (tau about 0.025:
    variances inflated by about 1.3 %); the default takes exact steps here (exact moments)."""
    m = KineticModel.from_network(load_network("gene_expression"))
    n = 3000
    traj = simulate_tau_leaping(m, torch.linspace(0, 30, 31), n, seed=7, ssa_factor=ssa_factor)
    if ssa_factor == 0:
        assert traj.steps.sum() * 2 < traj.events.sum()  # about 2.7 firings per leap
    bias = 0.02 if ssa_factor == 0 else 0.0
    for name, mean, var in (("mRNA", 20.0, 20.0), ("protein", 50.0, 112.5)):
        x = traj.species(name)[:, 10:].double()  # t >= 10, samples 1 time unit apart
        T = x.shape[1]
        assert abs(x.mean().item() - mean) < Z * math.sqrt(var / n) * 1.2  # per-trajectory means, corr. over time
        assert abs(x.var(0).mean().item() / var - 1) < Z * math.sqrt(2 / (n * T)) * 1.5 + bias


def mixed_model() -> KineticModel:
    """Leaps with PTRS and inversion draws, a second-order reaction (g_A = 2 + 1/(x_A - 1)), a critical reaction
    (C is always below 10), exact-step phases, a timed event (A = 10 at t = 1.5) and a state event
    (B >= 460: B -= 100). A settles near 306 and B near 470."""
    base = model("mixed", {"A": 300, "B": 450, "C": 3}, [("0 -> A", 400.0), ("A -> 0", 1.0), ("2 A -> B", 0.001),
                                                         ("B -> 0", 0.1), ("C -> 0", 2.0), ("0 -> C", 0.5)])
    events = (Event("reset", None, ((0, "10.0"),), at_time=1.5),
              Event("cap", "x[1] >= 460", ((1, "x[1] - 100"),)))
    return KineticModel(base.name, base.species, base.initial, base.reaction_names, base.reactants, base.change,
                        base.rate_laws, events=events)


def test_batch_chunk_and_first_id_do_not_change_a_trajectory():
    m = mixed_model()
    grid = torch.linspace(0, 2, 21)
    full = simulate_tau_leaping(m, grid, 24, seed=8)
    assert (full.counts >= 0).all()
    assert (full.steps * 2 < full.events).all()  # it leaps (and takes exact steps after A is reset to 10)
    chunked = simulate_tau_leaping(m, grid, 24, seed=8, chunk_size=5)
    assert torch.equal(chunked.counts, full.counts) and torch.equal(chunked.events, full.events)
    assert torch.equal(chunked.steps, full.steps)
    part = simulate_tau_leaping(m, grid, 6, seed=8, first_id=9)
    assert torch.equal(part.counts, full.counts[9:15]) and torch.equal(part.events, full.events[9:15])
    alone = simulate_tau_leaping(m, grid, 1, seed=8, first_id=23)
    assert torch.equal(alone.counts[0], full.counts[23]) and torch.equal(alone.steps[0], full.steps[23])
    other = simulate_tau_leaping(m, grid, 3, seed=9)
    assert not torch.equal(other.counts, full.counts[:3])
    g = KineticModel.from_network(load_network("gene_expression"))  # exact steps and leaps mixed
    a = simulate_tau_leaping(g, torch.linspace(0, 3, 7), 12, seed=1, ssa_factor=1.0)
    b = simulate_tau_leaping(g, torch.linspace(0, 3, 7), 4, seed=1, ssa_factor=1.0, first_id=8)
    assert torch.equal(a.counts[8:], b.counts) and torch.equal(a.steps[8:], b.steps)


def test_events_fire_at_their_time_and_after_leaps():
    """A timed event at t = 1.5 sets A = 10: a leap ends exactly there, so the sample at 1.5 is 10 (as in the
    direct method). The state event ``B >= 460: B -= 100`` fires after every leap or step that reaches it,
    so no sample shows B >= 460."""
    m = mixed_model()
    grid = torch.tensor([0.5, 1.5, 1.6])
    traj = simulate_tau_leaping(m, grid, 100, seed=10)
    assert traj.counts[:, 1, 0].eq(10).all()
    exact = simulate_direct(m, grid, 100, seed=10)
    assert exact.counts[:, 1, 0].eq(10).all()
    assert (traj.counts[..., 1] < 460).all() and (exact.counts[..., 1] < 460).all()
    assert (traj.counts[:, -1, 1] < 400).sum() >= 10 and (exact.counts[:, -1, 1] < 400).sum() >= 10  # it fired
    # A relaxes from 10 (dA/dt = 400 - A - 0.001 A^2): within 0.1 it gains about 38
    gain = (traj.counts[:, 2, 0] - 10).double().mean().item()
    assert abs(gain - (exact.counts[:, 2, 0] - 10).double().mean().item()) < 3.0


def test_events_in_the_exact_step_phase():
    """Gene expression takes exact steps (tau' a_0 < 10), the first 100 (to t = 0.6 or so) in every row at once:
    a timed event (protein = 500 at t = 0.3) and a state event (mRNA >= 30: mRNA = 0) fire there as in the
    direct method."""
    g = KineticModel.from_network(load_network("gene_expression"))
    events = (Event("boost", None, ((1, "500.0"),), at_time=0.3), Event("purge", "x[0] >= 30", ((0, "0.0"),)))
    m = KineticModel(g.name, g.species, (25.0, 50.0), g.reaction_names, g.reactants, g.change, g.rate_laws,
                     events=events)
    to_event = simulate_tau_leaping(m, torch.tensor([0.25, 0.3], dtype=torch.float64), 100, seed=12)
    assert torch.equal(to_event.steps, to_event.events + 2)  # reactions, the event's step, the step past the end
    assert to_event.counts[:, 1, 1].eq(500).all()
    grid = torch.tensor([0.3, 0.35, 2.0], dtype=torch.float64)  # float32 would put 0.3 before the event
    traj = simulate_tau_leaping(m, grid, 100, seed=12)
    assert traj.counts[:, 0, 1].eq(500).all() and (traj.counts[..., 0] < 30).all()
    exact = simulate_direct(m, grid, 100, seed=12)
    assert exact.counts[:, 0, 1].eq(500).all()
    for k in (1, 2):  # the protein decays from 500 at rate 1 (plus production)
        tl, ex = traj.counts[:, k, 1].double(), exact.counts[:, k, 1].double()
        assert abs(tl.mean().item() - ex.mean().item()) < Z * math.sqrt((tl.var() + ex.var()).item() / 100)


def test_absorbing_state_and_start_grid_point():
    m = model("decay", {"X": 3}, [("X -> 0", 1.0)])
    traj = simulate_tau_leaping(m, torch.linspace(0, 30, 31), 100, seed=0)
    assert traj.counts[:, 0, 0].eq(3).all() and traj.counts[:, -1, 0].eq(0).all() and traj.events.eq(3).all()


def test_explosion_is_reported():
    boom = model("boom", {"X": 10}, [("2 X -> 3 X", 1.0)])
    with pytest.raises(SimulationError, match="explode in finite time"):
        simulate_tau_leaping(boom, [0.0, 1.0], 4, max_events=640)


@pytest.mark.parametrize("kw, words", [
    ({"epsilon": 0.0}, "epsilon must be in \\(0, 1\\)"),
    ({"epsilon": 1.0}, "epsilon must be in \\(0, 1\\)"),
    ({"epsilon": -0.1}, "epsilon must be in \\(0, 1\\)"),
    ({"epsilon": "0.03"}, "epsilon='0.03' is not a number"),
    ({"epsilon": float("nan")}, "epsilon is NaN"),
    ({"n_critical": -1}, "n_critical must be an integer >= 0"),
    ({"n_critical": 2.5}, "n_critical must be an integer"),
    ({"ssa_factor": -1.0}, "ssa_factor must be a number >= 0"),
    ({"ssa_factor": float("inf")}, "ssa_factor must be finite"),
    ({"ssa_steps": 0}, "ssa_steps must be an integer >= 1"),
    ({"num_trajectories": 0}, "num_trajectories must be an integer >= 1"),
    ({"times": [0.0, 2.0, 1.0]}, "goes backwards"),
    ({"initial": [-1]}, "non-negative integers"),
])
def test_bad_input_is_one_line(kw, words):
    args = {"times": [0.0, 1.0], "num_trajectories": 2, **kw}
    with pytest.raises(ConfigError, match=words) as info:
        simulate_tau_leaping(immigration_death(), **args)
    assert "\n" not in str(info.value)
