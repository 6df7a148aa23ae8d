"""The truncated master equation against closed forms (it is the reference for the simulator)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import poisson

from engine.errors import ConfigError
from ssa import master_equation as cme
from ssa.reaction_network import load_network, network_from_config


def birth_death(x0=0):
    return network_from_config({"name": "bd", "species": ["X"], "initial": {"X": x0},
                                "reactions": [{"eq": "0 -> X", "rate": 10.0}, {"eq": "X -> 0", "rate": 1.0}]})


def test_birth_death_stationary_is_poisson():
    states, p = cme.stationary(birth_death(), [80])
    q = cme.marginal(birth_death(), states, p, "X")
    np.testing.assert_allclose(q, poisson.pmf(np.arange(81), 10.0), atol=1e-12)


@pytest.mark.parametrize("t", [0.1, 0.7, 2.0])
def test_birth_death_transient_is_poisson(t):
    states, p = cme.transient(birth_death(), [80], [t])
    q = cme.marginal(birth_death(), states, p[0], "X")
    np.testing.assert_allclose(q, poisson.pmf(np.arange(81), 10.0 * (1 - math.exp(-t))), atol=1e-10)


def test_gene_expression_stationary_moments():
    net = load_network("gene_expression")
    states, p = cme.stationary(net, [60, 180])
    for name, mean, var in [("mRNA", 20.0, 20.0), ("protein", 50.0, 112.5)]:
        q = cme.marginal(net, states, p, name)
        v = np.arange(len(q))
        m = (v * q).sum()
        assert abs(m - mean) < 1e-6 and abs(((v - m) ** 2 * q).sum() - var) < 1e-4


def test_leaked_mass_bounds_truncation():
    """A box too small loses probability in `transient`; a large one keeps it."""
    _, small = cme.transient(birth_death(), [8], [5.0])
    _, large = cme.transient(birth_death(), [80], [5.0])
    assert small.sum() < 0.5 and abs(large.sum() - 1) < 1e-12


def test_conservation_law_restricts_states():
    states = cme.reachable_states(load_network("dimerisation"), [301, 151])
    assert len(states) == 151 and np.all(states[:, 0] + 2 * states[:, 1] == 301)


def test_bad_box():
    with pytest.raises(ConfigError, match="outside the box"):
        cme.reachable_states(birth_death(x0=20), [10])
    with pytest.raises(ConfigError, match="one non-negative bound per species"):
        cme.reachable_states(birth_death(), [10, 10])
