"""What the evaluators of generative models ask of a loss: the prior, the decoder, reconstructions.

VAE, GAN, AAE and ALI (kexue.fm/archives/5716) all draw ``z ~ N(0, I)`` and decode it with the model part
``generator``; those with an encoder also reconstruct ``x`` as ``G(E(x))``. A loss that subclasses
:class:`GenerativeLoss` can be scored by ``evaluators/frechet_distance.py`` and
``evaluators/mode_coverage.py`` whatever its family.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from engine.contracts import Loss
from engine.errors import ConfigError


class GenerativeLoss(Loss):
    """A loss whose model decodes ``z ~ N(0, I_{z_dim})`` with ``model.generator``."""

    def __init__(self, z_dim: int = 100) -> None:
        super().__init__()
        if int(z_dim) < 1:
            raise ConfigError(f"loss.z_dim must be >= 1, got {z_dim}")
        self.z_dim = int(z_dim)

    def prior(self, n: int, device: torch.device | str, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of ``z ~ N(0, I)`` (from ``generator`` when given, on the CPU, then moved)."""
        if generator is None:
            return torch.randn(n, self.z_dim, device=device)
        return torch.randn(n, self.z_dim, generator=generator).to(device)

    def decode(self, model: nn.Module, z: torch.Tensor) -> torch.Tensor:
        """Samples ``x = G(z)`` in the data's range."""
        return model.generator(z)

    def reconstruct(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
        """``G(E(x))`` for families with an encoder; ``None`` for those without (the GAN)."""
        return None

    def eval_terms(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example quantities to average over a split (the VAE's ELBO); none by default."""
        return {}


def encode(model: nn.Module, x: torch.Tensor, z_dim: int, sample: bool = True,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(z, mean, log_variance)`` from ``model.encoder(x)``: a deterministic code (``z = mean``, no variance)
    when it gives ``z_dim`` numbers, a Gaussian ``q(z|x)`` sampled by reparameterisation
    (``z = mean + exp(log_variance / 2) * eps``; ``z = mean`` with ``sample=False``) when it gives ``2 z_dim``."""
    h = model.encoder(x)
    if h.shape[1] == z_dim:
        return h, h, None
    if h.shape[1] != 2 * z_dim:
        raise ConfigError(f"the encoder gives {h.shape[1]} numbers per input; the loss needs z_dim={z_dim} (a code) or "
                          f"{2 * z_dim} (mean and log-variance): set model.encoder.z_dim and model.encoder.gaussian")
    mean, log_var = h.chunk(2, dim=1)
    if not sample:
        return mean, mean, log_var
    eps = torch.randn(mean.shape, generator=generator).to(mean) if generator is not None else torch.randn_like(mean)
    return mean + (0.5 * log_var).exp() * eps, mean, log_var
