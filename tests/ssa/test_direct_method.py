"""The direct method on a KineticModel: equal to the mass-action simulator, stream invariance, events, bad laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from ssa.direct_method import simulate_direct
from ssa.gillespie import SimulationError, simulate
from ssa.kinetic_model import Event, KineticModel
from ssa.reaction_network import load_network

GRID = torch.linspace(0, 5, 51, dtype=torch.float64)


def decay_model(law: str = "0.5 * x[0]", events=(), x0: float = 20.0) -> KineticModel:
    return KineticModel("decay", ("X",), (x0,), ("death",), np.array([[1.0]]), np.array([[-1.0]]), (law,),
                        events=tuple(events))


@pytest.mark.parametrize("name", ["gene_expression", "dimerisation", "schlogl"])
def test_a_mass_action_network_gives_the_batched_torch_simulators_trajectories(name):
    """Same streams, same sums of propensities: the same samples and event counts, bit for bit."""
    net = load_network(name)
    ours = simulate_direct(KineticModel.from_network(net), GRID, 300, seed=4)
    torch_path = simulate(net, GRID, 300, seed=4, backend="torch")
    assert torch.equal(ours.counts, torch_path.counts) and torch.equal(ours.events, torch_path.events)


def test_a_network_goes_to_the_compiled_simulator():
    net = load_network("birth_death")
    assert torch.equal(simulate_direct(net, GRID, 50, seed=1).counts, simulate(net, GRID, 50, seed=1).counts)


def test_trajectories_do_not_depend_on_the_batch():
    model = KineticModel.from_network(load_network("gene_expression"))
    whole = simulate_direct(model, GRID, 200, seed=7, chunk_size=64)
    part = simulate_direct(model, GRID, 50, seed=7, first_id=120)
    assert torch.equal(whole.counts[120:170], part.counts) and torch.equal(whole.events[120:170], part.events)


def test_pure_death_is_binomial_at_every_time():
    """X -> 0 at 0.5 X from 20: X(t) ~ Binomial(20, exp(-0.5 t)), mean and variance within 5 standard errors."""
    traj = simulate_direct(decay_model(), GRID, 4000, seed=2)
    p = np.exp(-0.5 * GRID.numpy())
    x = traj.counts[..., 0].double().numpy()
    mean, var = 20 * p, 20 * p * (1 - p)
    se = np.sqrt(np.maximum(var, 1e-12) / len(x))
    assert np.all(np.abs(x.mean(0) - mean) <= 5 * se + 1e-12)
    assert traj.events.tolist() == (20 - traj.counts[:, -1, 0]).tolist()  # every event removed one molecule


def test_a_timed_event_fires_at_its_time_and_a_state_event_on_its_rising_edge():
    reset = Event("reset", None, ((0, "20.0"),), at_time=2.5)
    traj = simulate_direct(decay_model(events=[reset]), GRID, 300, seed=3)
    at = int(torch.nonzero(GRID == 2.5))
    assert (traj.counts[:, at, 0] == 20).all() and (traj.counts[:, at - 1, 0] < 20).any()
    refill = Event("refill", "x[0] < 5", ((0, "x[0] + 10"),))  # X never stays below 5
    traj = simulate_direct(decay_model(events=[refill]), GRID, 300, seed=3)
    assert traj.counts.min() >= 5 and traj.events.max() > 20
    at_start = Event("start", "x[0] > 10", ((0, "3.0"),), initial_value=False)  # true at t = 0: fires at once
    assert (simulate_direct(decay_model(events=[at_start]), GRID, 10, seed=0).counts[:, 0, 0] == 3).all()
    waits = Event("start", "x[0] > 10", ((0, "3.0"),), initial_value=True)  # true before t = 0: no rising edge
    assert (simulate_direct(decay_model(events=[waits]), GRID, 10, seed=0).counts[:, 0, 0] == 20).all()


def test_a_negative_propensity_and_a_fractional_event_value_are_one_line():
    with pytest.raises(SimulationError, match="reaction 'death' has propensity -") as e:
        simulate_direct(decay_model("x[0] - 25.0"), GRID, 10, seed=0)
    assert "\n" not in str(e.value)
    half = Event("half", None, ((0, "x[0] / 2 + 0.5"),), at_time=1.0)
    with pytest.raises(ConfigError, match="event 'half' sets 'X' to .*whole number"):
        simulate_direct(decay_model(events=[half], x0=21.0), GRID, 10, seed=1)


def test_state_events_cascade_at_one_instant_whatever_their_order():
    """E1: when X < 5, set Y = 1 and X = 0; E2: when Y > 0.5, set X = 1000. E1's assignments turn E2's trigger
    true at the same instant, so X jumps to 1000 the first time it falls below 5, in either document order (the
    second time E2's trigger is already true: no rising edge, X stays at 0)."""
    e1 = Event("E1", "x[0] < 5", ((1, "1.0"), (0, "0.0")))
    e2 = Event("E2", "x[1] > 0.5", ((0, "1000.0"),))
    runs = []
    for events in ((e1, e2), (e2, e1)):
        model = KineticModel("cascade", ("X", "Y"), (20.0, 0.0), ("death",), np.array([[1.0, 0.0]]),
                             np.array([[-1.0, 0.0]]), ("2.0 * x[0]",), events=events)
        runs.append(simulate_direct(model, GRID, 50, seed=5).counts)
    assert torch.equal(runs[0], runs[1])
    assert (runs[0][..., 0].amax(1) > 500).all() and (runs[0][:, -1, 1] == 1).all()  # sampled up to 0.1 after it


def test_an_infinite_propensity_is_one_line():
    with pytest.raises(SimulationError, match="reaction 'death' has propensity inf"):
        simulate_direct(decay_model("1.0 / (x[0] - 20.0)"), GRID, 10, seed=0)
