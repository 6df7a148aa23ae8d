"""The variational auto-encoder (Kingma and Welling 2014) as kexue.fm/archives/5716 derives it.

With ``q(x, z) = q(x|z) q(z)`` and ``p(x, z) = p~(x) p(z|x)``, the joint KL is, up to a constant,

    L = E_{x ~ p~} [ E_{z ~ p(z|x)} [-log q(x|z)] + KL(p(z|x) || q(z)) ],

the negative ELBO. ``p(z|x) = N(mean(x), diag(exp(log_var(x))))`` is the encoder (part ``encoder``, which
gives ``2 z_dim`` numbers), sampled by reparameterisation; ``q(z) = N(0, I)``, so
``KL = 1/2 sum(mean^2 + exp(log_var) - 1 - log_var)``. The decoder ``q(x|z)`` is part ``generator``:

- ``likelihood: bernoulli``: the generator gives logits (``tanh: false``), the target is the image in
  [0, 1] (``(x + 1) / 2``), ``-log q(x|z) = sum BCE(logits, target)`` (grey values as probabilities, the usual
  choice for MNIST-like data; not a density of continuous pixels);
- ``likelihood: gaussian``: ``q(x|z) = N(G(z), sigma^2 I)``, ``-log q = |x - G(z)|^2 / (2 sigma^2) + D/2 log(2 pi sigma^2)``.

One player, ``main``, updates encoder and generator; the loss is ``L`` in nats per image.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch
from engine.errors import ConfigError
from engine.progress import Progress
from losses.generative import GenerativeLoss, encode

LIKELIHOODS = ("bernoulli", "gaussian")


class VAELoss(GenerativeLoss):
    players = ("main",)
    updates = {"main": ("encoder", "generator")}

    def __init__(self, z_dim: int = 100, likelihood: str = "bernoulli", sigma: float = 0.1) -> None:
        super().__init__(z_dim)
        if likelihood not in LIKELIHOODS:
            raise ConfigError(f"loss.likelihood={likelihood!r} is not one of {LIKELIHOODS}")
        if not sigma > 0:
            raise ConfigError(f"loss.sigma must be > 0, got {sigma}")
        self.likelihood, self.sigma = likelihood, float(sigma)

    def neg_log_likelihood(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``-log q(x|z)`` per example, from the generator's output ``out``."""
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, (x + 1) / 2, reduction="none").flatten(1).sum(1)
        sq = (x - out).pow(2).flatten(1).sum(1)
        return sq / (2 * self.sigma**2) + 0.5 * x[0].numel() * math.log(2 * math.pi * self.sigma**2)

    def terms(self, model: nn.Module, x: torch.Tensor,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(-log q(x|z), KL(p(z|x) || N(0, I)))`` per example, one z per example."""
        z, mean, log_var = encode(model, x, self.z_dim, generator=generator)
        if log_var is None:
            raise ConfigError("loss=vae needs a Gaussian encoder: set model.encoder.gaussian=true")
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(1)
        return self.neg_log_likelihood(model.generator(z), x), kl

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        nll, kl = self.terms(model, batch["x"])
        return {"loss": (nll + kl).mean(), "reconstruction": nll.mean().detach(), "kl": kl.mean().detach()}

    def decode(self, model: nn.Module, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in [-1, 1]."""
        out = model.generator(z)
        return torch.sigmoid(out) * 2 - 1 if self.likelihood == "bernoulli" else out

    def reconstruct(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.decode(model, encode(model, x, self.z_dim, sample=False)[0])

    def eval_terms(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``elbo`` (nats per image, one z per image from a fixed stream) and its ``kl`` term."""
        nll, kl = self.terms(model, x, generator=torch.Generator().manual_seed(0))
        return {"elbo": -(nll + kl), "kl": kl}
