"""Tableaus as data: fractions, shipped files, and one line for a tableau that is not an explicit method."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from models.butcher_tableau import load_tableau, shipped_tableaus


def test_shipped_tableaus_and_fractions():
    assert {"euler", "midpoint", "heun", "rk4", "rk38"} <= set(shipped_tableaus())
    rk4 = load_tableau("rk4")
    assert rk4.b == (1 / 6, 1 / 3, 1 / 3, 1 / 6) and rk4.a[3] == (0.0, 0.0, 1.0) and rk4.order == 4
    assert load_tableau({"a": [[], ["2/3"]], "b": ["1/4", "3/4"], "c": [0, "2/3"]}).c == (0.0, 2 / 3)


@pytest.mark.parametrize("bad, match", [
    ({"a": [[], [1, 2]], "b": [0.5, 0.5], "c": [0, 1]}, "explicit"),
    ({"a": [[], [1]], "b": [0.5, 0.6], "c": [0, 1]}, "sum to"),
    ({"a": [[], [1]], "b": [0.5, 0.5], "c": [0, 0.5]}, "must be equal"),
    ({"a": [[], ["1/x"]], "b": [0.5, 0.5], "c": [0, 1]}, "fraction"),
    ({"a": [[]], "b": [1]}, "expected keys"),
])
def test_a_malformed_tableau_is_one_line(bad, match):
    with pytest.raises(ConfigError, match=match):
        load_tableau(bad)
    with pytest.raises(ConfigError, match="no tableau 'nope'"):
        load_tableau("nope")



def test_the_textbook_square_matrix_is_accepted():
    """RK4 written as the usual 4x4 matrix (zeros on and above the diagonal, as scipy's ``RK45.A``) equals the file."""
    square = {"a": [[0, 0, 0, 0], ["1/2", 0, 0, 0], [0, "1/2", 0, 0], [0, 0, 1, 0]],
              "b": ["1/6", "1/3", "1/3", "1/6"], "c": [0, "1/2", "1/2", 1]}
    assert load_tableau(square).a == load_tableau("rk4").a
    heun = load_tableau({"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 1]})
    assert heun.a == load_tableau("heun").a == ((), (1.0,))


@pytest.mark.parametrize("bad", [
    [[0, 0.5], [1, 0]],      # above the diagonal: an implicit coupling
    [[0, 0], [1, 0.5]],      # on the diagonal: a diagonally implicit method
    [[0, 0, 0], [1, 0]],     # longer than there are stages
])
def test_a_square_matrix_that_is_not_explicit_is_one_line(bad):
    with pytest.raises(ConfigError, match=r"row \d of a") as caught:
        load_tableau({"a": bad, "b": [0.5, 0.5], "c": [0, 1]})
    assert "\n" not in str(caught.value)
