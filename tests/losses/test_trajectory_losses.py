"""Squared error, Gaussian and Poisson NLL on observed points, recomputed with plain torch and torch.distributions."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.errors import ConfigError
from losses.gaussian_nll import GaussianNLLLoss
from losses.masked_squared_error import MaskedSquaredErrorLoss
from losses.poisson_nll import PoissonNLLLoss


class Fixed(nn.Module):
    """A "model" that returns given predictions, whatever the initial state and times."""

    def __init__(self, prediction: torch.Tensor) -> None:
        super().__init__()
        self.prediction = nn.Parameter(prediction)

    def forward(self, x0, t):
        return self.prediction


def case():
    g = torch.Generator().manual_seed(0)
    prediction = torch.rand(3, 4, 2, generator=g, dtype=torch.float64) * 10 + 0.5
    y = torch.poisson(prediction.detach(), generator=g)
    mask = torch.rand(3, 4, 2, generator=g) < 0.7
    mask[:, 0] = False
    batch = {"x0": prediction[:, 0].detach(), "t": torch.arange(4.0).expand(3, 4), "y": y, "mask": mask}
    return Fixed(prediction), batch, prediction.detach(), y, mask


def test_masked_squared_error_sum_is_the_posts_loss_and_mean_its_average():
    model, batch, p, y, mask = case()
    per_trajectory = [float(((p[b][mask[b]] - y[b][mask[b]]) ** 2).sum()) for b in range(3)]
    out = MaskedSquaredErrorLoss("sum")(model, batch)
    assert out["loss"].item() == pytest.approx(sum(per_trajectory) / 3)
    mean = MaskedSquaredErrorLoss("mean")(model, batch)
    assert mean["loss"].item() == pytest.approx(float(((p - y)[mask] ** 2).mean()))
    assert mean["mse"].item() == mean["loss"].item()
    mean["loss"].backward()
    assert torch.equal(model.prediction.grad != 0, mask)  # unobserved points get no gradient


def test_gaussian_nll_is_the_normal_log_density():
    model, batch, p, y, mask = case()
    loss = GaussianNLLLoss(num_species=2, sigma=None).double()
    with torch.no_grad():
        loss.log_sigma.copy_(torch.tensor([0.3, -0.2]))
    expected = -torch.distributions.Normal(p, loss.log_sigma.detach().exp()).log_prob(y)
    assert loss(model, batch)["loss"].item() == pytest.approx(float(expected[mask].mean()), rel=1e-10)
    assert [n for n, _ in loss.named_parameters()] == ["log_sigma"]  # learned: restored with best.pt
    assert not list(GaussianNLLLoss(2, sigma=2.0).parameters())


def test_poisson_nll_is_the_poisson_log_mass_at_a_scale():
    model, batch, p, y, mask = case()
    expected = -torch.distributions.Poisson(p).log_prob(y)
    assert PoissonNLLLoss()(model, batch)["loss"].item() == pytest.approx(float(expected[mask].mean()), rel=1e-10)
    scaled = {**batch, "y": y / 4}  # y = Poisson(4 x) / 4
    expected4 = -torch.distributions.Poisson(4 * p).log_prob(y)
    assert PoissonNLLLoss(scale=4.0)(model, scaled)["loss"].item() == pytest.approx(float(expected4[mask].mean()), rel=1e-10)


def test_bad_settings_are_one_line():
    with pytest.raises(ConfigError, match="reduction"):
        MaskedSquaredErrorLoss("median")
    with pytest.raises(ConfigError, match="sigma"):
        GaussianNLLLoss(2, sigma=-1.0)
    with pytest.raises(ConfigError, match="scale"):
        PoissonNLLLoss(scale=0.0)
    with pytest.raises(ConfigError, match="loss.num_species=2 but the data has 1"):
        GaussianNLLLoss(2).pointwise(torch.zeros(1, 3, 1), torch.zeros(1, 3, 1))
