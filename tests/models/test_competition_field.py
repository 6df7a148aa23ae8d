"""The post's competition field against its two equations, written out."""

from __future__ import annotations

import torch

from models.competition_field import CompetitionField


def test_the_field_is_the_posts_equations():
    f = CompetitionField(r1=0.1, r2=0.3, a1=1e-4, a2=2e-4, iN1=0.002, iN2=0.003).double()
    x = torch.tensor([[100.0, 150.0], [324.0, 264.0]], dtype=torch.float64)
    x1, x2 = x[:, 0], x[:, 1]
    dx1 = 0.1 * x1 * (1 - x1 / 500) - 1e-4 * x1 * x2
    dx2 = 0.3 * x2 * (1 - x2 / (1 / 0.003)) - 2e-4 * x1 * x2
    # parameters are created in float32, so they carry its rounding (relative 6e-8 each)
    torch.testing.assert_close(f(None, x), torch.stack([dx1, dx2], 1), rtol=2e-6, atol=0)


def test_six_named_parameters_start_at_the_posts_guess():
    f = CompetitionField()
    assert [n for n, _ in f.named_parameters()] == ["r1", "r2", "a1", "a2", "iN1", "iN2"]
    assert f.parameter_values() == {k: torch.tensor(v).item() for k, v in
                                    dict(r1=0.1, r2=0.1, a1=0.001, a2=0.001, iN1=0.001, iN2=0.001).items()}
