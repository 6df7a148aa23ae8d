"""The rate equations of a network file: the formula, positivity, and the mean of many Gillespie runs."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from models.mass_action_field import MassActionField
from models.ode_model import ODEModel
from ssa.gillespie import simulate
from ssa.reaction_network import load_network


def test_gene_expression_rate_equations():
    f = MassActionField("gene_expression", rates=[20.0, 2.5, 1.0, 1.0]).double()
    x = torch.tensor([[3.0, 7.0], [20.0, 50.0]], dtype=torch.float64)
    m, p = x[:, 0], x[:, 1]
    torch.testing.assert_close(f(None, x), torch.stack([20 - m, 2.5 * m - p], 1), rtol=2e-6, atol=5e-5)  # float32 log-rates


def test_a_second_order_reaction_is_mass_action_in_concentrations():
    """2 P -> P2 (c), P2 -> 2 P (k): dP/dt = -c Omega P^2 + 2 k P2, with propensity c n (n - 1) / 2 in the limit."""
    f = MassActionField("dimerisation", rates=None, volume=10.0).double()
    c, k = 1.66e-3, 0.2
    x = torch.tensor([[30.1, 2.0]], dtype=torch.float64)
    dp = -c * 10.0 * 30.1**2 + 2 * k * 2.0
    torch.testing.assert_close(f(None, x), torch.tensor([[dp, -dp / 2]], dtype=torch.float64), rtol=1e-6, atol=0)


def test_rates_stay_positive_and_fixed_ones_do_not_move():
    f = MassActionField("gene_expression", rates={"r0": 5.0}, fixed=["r2"])
    assert f.parameter_values() == pytest.approx({"r0": 5.0, "r1": 2.5, "r2": 1.0, "r3": 1.0})
    f(None, torch.ones(1, 2)).sum().backward()
    assert f.log_rate.shape == (3,) and bool((f.log_rate.grad != 0).all())  # r2 is not a parameter at all
    # an optimiser with weight decay moves every learned rate and leaves the known one alone
    optimizer = torch.optim.AdamW(f.parameters(), lr=0.5, weight_decay=10.0)
    for _ in range(5):
        optimizer.zero_grad()
        f(None, torch.ones(1, 2)).sum().backward()
        optimizer.step()
    values = f.parameter_values()
    assert values["r2"] == 1.0 and values["r0"] != pytest.approx(5.0, rel=1e-3)
    with torch.no_grad():
        f.log_rate.fill_(-50.0)
    assert all(v > 0 for v in f.parameter_values().values())


@pytest.mark.parametrize("rates, match", [(0.0, "> 0"), ([1.0, 2.0], "give null"), ({"r9": 1.0}, "unknown reactions")])
def test_bad_rates_are_one_line(rates, match):
    with pytest.raises(ConfigError, match=match):
        MassActionField("gene_expression", rates=rates)


def test_the_rate_equations_follow_the_mean_of_many_gillespie_trajectories():
    """A network of zero- and first-order reactions: the mean of the process solves the rate equations exactly."""
    net = load_network("gene_expression")
    times = torch.linspace(0, 4, 9, dtype=torch.float64)
    counts = simulate(net, times, 4000, seed=3).counts.double()  # (N, T, S)
    mean, se = counts.mean(0), counts.std(0) / counts.shape[0] ** 0.5
    model = ODEModel(MassActionField(net, rates=None).double(), "cell", "rk4", step_size=0.01)
    with torch.no_grad():
        ode = model(torch.tensor([[1.0, 1.0]], dtype=torch.float64), times)[0]
    z = ((mean - ode) / se.clamp_min(1e-9))[1:]
    assert float(z.abs().max()) < 4.0, z
    # and the test can tell: a 10 % error in one rate is far outside the bounds
    wrong = ODEModel(MassActionField(net, rates=[22.0, 2.5, 1.0, 1.0]).double(), "cell", "rk4", step_size=0.01)
    with torch.no_grad():
        z_wrong = ((mean - wrong(torch.tensor([[1.0, 1.0]], dtype=torch.float64), times)[0]) / se.clamp_min(1e-9))[1:]
    assert float(z_wrong.abs().max()) > 8.0
