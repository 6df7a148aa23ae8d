"""The neural field starts at rest and scales states in and out."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from models.neural_field import NeuralField


def test_it_starts_at_f_equal_zero_and_learns_away_from_it():
    f = NeuralField(2, hidden=8, depth=2, scale=50.0)
    x = torch.tensor([[20.0, 50.0], [1.0, 1.0]])
    assert torch.equal(f(None, x), torch.zeros(2, 2))
    with torch.no_grad():
        f.net[-1].bias.fill_(0.1)
    torch.testing.assert_close(f(None, x), torch.full((2, 2), 5.0))  # scale * 0.1


def test_a_time_dependent_field_reads_t():
    f = NeuralField(1, hidden=4, depth=1, time_dependent=True)
    with torch.no_grad():
        f.net[-1].weight.fill_(1.0)
    x = torch.zeros(2, 1)
    assert not torch.equal(f(torch.tensor([0.0, 5.0]), x)[0], f(torch.tensor([0.0, 5.0]), x)[1])
    assert not f.autonomous and NeuralField(1).autonomous


def test_bad_sizes_are_one_line():
    with pytest.raises(ConfigError, match="scale > 0"):
        NeuralField(2, scale=0.0)
