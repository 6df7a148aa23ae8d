"""Reaction networks: parsing, propensities against hand-computed values, and bad input."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
import torch
from conftest import REPO

from engine.errors import ConfigError
from ssa.gillespie import _Kernel
from ssa.reaction_network import Network, Reaction, load_network, network_from_config, parse_reaction

SHIPPED = sorted(p.stem for p in (REPO / "configs" / "network").glob("*.yaml"))


def net(*reactions, species=("A", "B"), initial=None):
    cfg = {"name": "t", "species": list(species), "reactions": [{"eq": e, "rate": r} for e, r in reactions]}
    if initial is not None:
        cfg["initial"] = initial
    return network_from_config(cfg)


def test_parse_equation():
    r = parse_reaction("2 A + B -> 3 C", 0.5)
    assert (r.rate, dict(r.reactants), dict(r.products)) == (0.5, {"A": 2, "B": 1}, {"C": 3})
    assert dict(parse_reaction("0 -> X", 1).reactants) == {}
    assert dict(parse_reaction("A + A -> 0", 1).reactants) == {"A": 2}


def test_propensities_by_hand():
    n = net(("0 -> A", 2.0), ("A -> B", 3.0), ("A + B -> 0", 0.5), ("2 A -> B", 0.1), ("3 B -> A", 0.01))
    a = n.propensities([7, 4])
    # c, c n_A, c n_A n_B, c C(n_A,2) = c n_A (n_A-1)/2, c C(n_B,3)
    assert np.allclose(a, [2.0, 21.0, 0.5 * 28, 0.1 * 21, 0.01 * 4])
    assert np.allclose(n.propensities([1, 2]), [2.0, 3.0, 1.0, 0.0, 0.0])  # too few molecules: 0
    rates, reac, change = n.matrices()
    assert change.tolist() == [[1, 0], [-1, 1], [-1, -1], [-2, 1], [1, -3]]


@pytest.mark.parametrize("name", SHIPPED)
def test_vectorised_propensities_match_reference(name):
    network = load_network(name)
    rng = np.random.default_rng(0)
    states = rng.integers(0, 400, size=(64, network.num_species))
    states[:8] = rng.integers(0, 3, size=(8, network.num_species))  # near the binomial's zeros
    kern = _Kernel(network, torch.device("cpu"), torch.float64)
    x = torch.cat([torch.as_tensor(states, dtype=torch.float64), torch.ones(64, 1, dtype=torch.float64)], 1).T
    got = kern.propensities(x.contiguous()).T.numpy()
    ref = network.propensities(states)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    for m, r in enumerate(network.reactions):  # one more check with math.comb written out
        i = np.arange(len(states))
        want = r.rate * np.prod([[comb(int(states[b, network.species.index(s)]), k) for s, k in r.reactants.items()]
                                 for b in i], axis=1) if r.reactants else np.full(len(i), r.rate)
        np.testing.assert_allclose(ref[:, m], want, rtol=1e-12)


def test_schlogl_third_order_by_hand():
    a = load_network("schlogl").propensities([250])
    assert np.allclose(a, [0.03 * 250 * 249 / 2, 1e-4 * 250 * 249 * 248 / 6, 200.0, 3.5 * 250])


@pytest.mark.parametrize("cfg, words", [
    ({"species": ["A"], "reactions": [{"eq": "A -> C", "rate": 1}]}, "unknown species ['C']"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": -1}]}, "rates must be finite and >= 0"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": "fast"}]}, "is not a number"),
    ({"species": ["A"], "initial": {"A": -3}, "reactions": [{"eq": "A -> 0", "rate": 1}]}, "non-negative integers"),
    ({"species": ["A"], "initial": {"A": 2.5}, "reactions": [{"eq": "A -> 0", "rate": 1}]}, "non-negative integers"),
    ({"species": ["A"], "initial": {"Z": 1}, "reactions": [{"eq": "A -> 0", "rate": 1}]}, "unknown species ['Z']"),
    ({"species": ["A"], "reactions": [{"eq": "A => 0", "rate": 1}]}, "exactly one `->`"),
    ({"species": ["A"], "reactions": [{"eq": "A + -> 0", "rate": 1}]}, "cannot parse"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0"}]}, "write it as"),
    ({"species": ["A", "A"], "reactions": [{"eq": "A -> 0", "rate": 1}]}, "repeat"),
    ({"species": ["A"], "reactions": []}, "no reactions"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": 1}], "rates": 3}, "unknown keys ['rates']"),
    ({"species": ["A", "B"], "reactions": [{"eq": "A <-> B", "rate": 1}]}, "two reactions"),
    ({"species": "AB", "reactions": [{"eq": "A -> 0", "rate": 1}]}, "must be a list of names"),
    ({"species": ["A"], "reactions": ["A -> 0"]}, "write it as"),
    ({"species": ["A"], "initial": [1], "reactions": [{"eq": "A -> 0", "rate": 1}]}, "must map species to counts"),
    ({"species": ["A"], "initial": {"A": 1e20}, "reactions": [{"eq": "A -> 0", "rate": 1}]}, "below 2**53"),
    ({"species": ["A"], "initial": {"A": True}, "reactions": [{"eq": "A -> 0", "rate": 1}]}, "non-negative integers"),
    ({"species": ["A", "B"], "reactions": [{"eq": "A -> B", "rate": 1}], "reference": {"cme_max_counts": {"A": 9}}},
     "a bound for every species"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": 1}], "reference": {"moments": {"A": 1.0}}},
     "expected [mean, variance]"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": 1}], "reference": {"poison": {"A": 1.0}}},
     "unknown `reference:` entries ['poison']"),
    ({"species": ["A"], "reactions": [{"eq": "A -> 0", "rate": 1}], "simulate": {"num_trajectroies": 5}},
     "unknown `simulate:` entries"),
])
def test_bad_networks_one_clear_line(cfg, words):
    with pytest.raises(ConfigError) as info:
        network_from_config({"name": "bad", **cfg})
    assert words in str(info.value) and "\n" not in str(info.value)


def test_negative_coefficient_would_make_a_count_negative():
    with pytest.raises(ConfigError, match="count negative"):
        Network(("A",), (Reaction(1.0, {}, {"A": -1}, "0 -> -A"),), (0,), "bad")


def test_load_network_errors(tmp_path):
    with pytest.raises(ConfigError, match="one of \\['birth_death'"):
        load_network("no_such_network")
    bad = tmp_path / "bad.yaml"
    bad.write_text("species: [A\nreactions: {")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_network(bad)
