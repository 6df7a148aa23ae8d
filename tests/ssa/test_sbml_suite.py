"""The SBML Test Suite's stochastic cases (DSMTS) at the suite's rule: Z in (-3, 3), Y in (-5, 5).

The fast tier runs a few cases (one per feature: birth-death, concentrations, an assignment rule, a
timed event, a state event, non-unity stoichiometry) at 2,000 trajectories: Z and Y are standardised
by n, so the bands are the suite's own; fewer trajectories only make the check less sensitive (a bias
of 3 sigma / sqrt(2000) is caught instead of 3 sigma / sqrt(10000)). ``pytest -m sbml`` runs all 39
cases at 10,000 trajectories (minutes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssa.direct_method import simulate_direct
from ssa.sbml_import import read_sbml
from ssa.sbml_suite import ALLOWED_OUTSIDE, P_OUTSIDE_Z, case_numbers, check_case, read_case, sample_outputs, score

FAST = [1, 11, 19, 28, 29, 33, 37]


def test_case_files_read():
    c = read_case(1)
    assert c.variables == ["X"] and c.band("meanRange") == (-3.0, 3.0) and c.band("sdRange") == (-5.0, 5.0)
    assert len(c.times) == 51 and c.times[-1] == 50 and c.mu["X"][0] == 100 and c.sigma["X"][0] == 0
    # birth-death from 100 with lambda = 0.1, mu = 0.11: the exact mean is 100 exp(-0.01 t)
    np.testing.assert_allclose(c.mu["X"], 100 * np.exp(-0.01 * c.times), rtol=1e-5)
    assert "HasOnlySubstanceUnits" in c.tags and c.synopsis.startswith("Basic two-reaction")


def test_score_recomputes_z_and_y_by_hand():
    c = read_case(1)
    x = torch.tensor(np.stack([c.mu["X"] + d for d in (-1.0, 0.0, 2.0, 3.0)]))  # 4 samples at every time
    z, y, out_z, out_y, points, fixed_ok = score(c, {"X": x})
    mean, var = c.mu["X"] + 1.0, np.var([-1.0, 0.0, 2.0, 3.0], ddof=1)
    live = c.sigma["X"] > 0
    np.testing.assert_allclose(z["X"], 2 * (mean - c.mu["X"])[live] / c.sigma["X"][live])
    np.testing.assert_allclose(y["X"], math.sqrt(2) * (var / c.sigma["X"][live] ** 2 - 1))
    assert points == 50 and not fixed_ok  # at t = 0 the samples spread, though sigma = 0
    assert out_z == int(np.sum(np.abs(z["X"]) >= 3)) and out_y == int(np.sum(np.abs(y["X"]) >= 5))


@pytest.mark.parametrize("number", FAST)
def test_a_few_cases_pass_at_2000_trajectories(number):
    first, second = check_case(read_case(number), n=2000, seed=0)
    assert first.fixed_ok
    assert first.passed or second.passed, (first.outside_z, first.outside_y, second and second.outside_z)


def test_the_check_catches_a_wrong_reading_of_concentrations():
    """Case 11 reads X as a concentration (X / 2 in a compartment of size 2); simulating case 1's law
    (X as an amount, twice the rates) and scoring it against case 11's answers must fail."""
    case11 = read_case(11)
    wrong = read_sbml(read_case(1).sbml())
    traj = simulate_direct(wrong, torch.as_tensor(case11.times), 2000, seed=3)
    _, _, out_z, _, points, _ = score(case11, sample_outputs(wrong, traj.counts, traj.times, ["X"]))
    assert out_z > points // 2


def test_events_fire_at_their_time_and_on_their_condition():
    case = read_case(28)  # immigration-death from 0; at t = 25, X is set to 50
    model = read_sbml(case.sbml())
    times = torch.tensor([24.999, 25.0, 25.001], dtype=torch.float64)
    traj = simulate_direct(model, times, 500, seed=1)
    assert (traj.counts[:, 1, 0] == 50).all() and not (traj.counts[:, 0, 0] == 50).all()
    model33 = read_sbml(read_case(33).sbml())  # when P2 > 30: P = 100, P2 = 0 -> P2 never stays above 30
    traj = simulate_direct(model33, torch.linspace(0, 50, 501, dtype=torch.float64), 300, seed=2)
    assert traj.counts[..., model33.index("P2")].max() <= 30


@pytest.mark.sbml
@pytest.mark.slow
def test_every_case_passes_at_10000_trajectories():
    """All 39 cases at the suite's n = 10,000; the points outside the Z band stay near their expected count."""
    outside = points = 0
    failed = []
    for number in case_numbers():
        first, second = check_case(read_case(number), n=10_000, seed=0)
        outside, points = outside + first.outside_z, points + first.points
        if not first.fixed_ok or not (first.passed or second.passed):
            failed.append((number, first.outside_z, first.outside_y))
    assert not failed, f"cases failing twice (> {ALLOWED_OUTSIDE} points outside a band): {failed}"
    expected = P_OUTSIDE_Z * points  # about 6: clusters of correlated points make the count vary more than Poisson
    assert outside <= 4 * expected + 10, (outside, expected)
