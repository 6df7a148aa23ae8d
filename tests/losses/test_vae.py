"""VAELoss against its formula by hand, and the ELBO of an exact posterior equals the exact log-likelihood."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import ConfigError
from engine.parts import ModelParts
from engine.progress import Progress
from losses.vae import VAELoss

MAIN = Progress(0, 0, 0, 1, 1, "main")


class LinearPosterior(nn.Module):
    """The exact posterior of x = W z + b + sigma eps, z ~ N(0, I), when W has orthogonal columns:
    Cov = (I + W^T W / sigma^2)^-1 (diagonal), mean = Cov W^T (x - b) / sigma^2."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor, sigma: float) -> None:
        super().__init__()
        self.w, self.b, self.sigma = w, b, sigma
        self.var = 1 / (1 + (w * w).sum(0) / sigma**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = ((x.flatten(1) - self.b) @ self.w) * self.var / self.sigma**2
        return torch.cat([mean, self.var.log().expand_as(mean)], 1)


class Linear(nn.Module):
    def __init__(self, w: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.w, self.b = w, b

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.w.T + self.b


def test_elbo_of_the_exact_posterior_is_the_log_likelihood():
    torch.manual_seed(0)
    d, k, sigma = 6, 3, 0.5
    q, _ = torch.linalg.qr(torch.randn(d, k, dtype=torch.float64))
    w = q * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)  # orthogonal columns: a diagonal posterior
    b = torch.randn(d, dtype=torch.float64)
    model = ModelParts({"encoder": LinearPosterior(w, b, sigma), "generator": Linear(w, b)})
    loss = VAELoss(z_dim=k, likelihood="gaussian", sigma=sigma)
    x = (torch.randn(10, k, dtype=torch.float64) @ w.T + b + sigma * torch.randn(10, d, dtype=torch.float64))
    exact = torch.distributions.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(d, dtype=torch.float64)).log_prob(x)
    draws = 20_000  # the ELBO is an expectation over z ~ q(z|x): its Monte-Carlo mean, with its standard error
    nll, kl = loss.terms(model, x.repeat_interleave(draws, 0))
    elbo = -(nll + kl).view(10, draws)
    se = elbo.std(1) / draws**0.5
    assert torch.all((elbo.mean(1) - exact).abs() <= 4 * se + 1e-9), (elbo.mean(1) - exact, se)
    assert float(se.max()) < 0.02  # a tolerance that can fail: the gap of a wrong posterior is far larger
    wrong = ModelParts({"encoder": LinearPosterior(w, b, 2 * sigma), "generator": Linear(w, b)})
    nll, kl = loss.terms(wrong, x.repeat_interleave(draws, 0))
    assert float((exact + (nll + kl).view(10, draws).mean(1)).min()) > 0.1  # ELBO < log p(x) for any other q


def test_bernoulli_loss_by_hand():
    torch.manual_seed(0)
    enc, dec = nn.Linear(4, 6), nn.Linear(3, 4)
    model = ModelParts({"encoder": enc, "generator": dec})
    loss = VAELoss(z_dim=3)
    x = torch.rand(5, 4) * 2 - 1
    torch.manual_seed(1)
    out = loss(model, {"x": x}, "main", MAIN)
    torch.manual_seed(1)
    mean, log_var = enc(x).chunk(2, 1)
    z = mean + (0.5 * log_var).exp() * torch.randn_like(mean)
    logits = dec(z)
    p = torch.sigmoid(logits)
    t = (x + 1) / 2
    nll = -(t * p.log() + (1 - t) * (1 - p).log()).sum(1)
    kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)
    assert out["loss"].item() == pytest.approx((nll + kl).mean().item(), rel=1e-5)
    assert out["kl"].item() == pytest.approx(kl.mean().item(), rel=1e-5)
    torch.testing.assert_close(loss.decode(model, z), 2 * p - 1)
    torch.testing.assert_close(loss.reconstruct(model, x), 2 * torch.sigmoid(dec(mean)) - 1)


def test_gaussian_nll_by_hand():
    loss = VAELoss(z_dim=1, likelihood="gaussian", sigma=0.3)
    x, mean = torch.randn(2, 5), torch.randn(2, 5)
    expected = ((x - mean) ** 2).sum(1) / (2 * 0.09) + 2.5 * math.log(2 * math.pi * 0.09)
    torch.testing.assert_close(loss.neg_log_likelihood(mean, x), expected)
    torch.testing.assert_close(VAELoss(z_dim=1).neg_log_likelihood(mean, x),
                               F.binary_cross_entropy_with_logits(mean, (x + 1) / 2, reduction="none").sum(1))


def test_bad_settings_are_one_line():
    with pytest.raises(ConfigError, match="likelihood"):
        VAELoss(likelihood="poisson")
    model = ModelParts({"encoder": nn.Linear(4, 3), "generator": nn.Linear(3, 4)})
    with pytest.raises(ConfigError, match="gaussian=true"):
        VAELoss(z_dim=3)(model, {"x": torch.zeros(2, 4)}, "main", MAIN)
    with pytest.raises(ConfigError, match="encoder gives 5"):
        VAELoss(z_dim=3)(ModelParts({"encoder": nn.Linear(4, 5), "generator": nn.Linear(3, 4)}),
                         {"x": torch.zeros(2, 4)}, "main", MAIN)
