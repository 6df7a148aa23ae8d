"""The adversarial auto-encoder (Makhzani et al. 2016) as kexue.fm/archives/5716 derives it.

Swapping the roles of ``x`` and ``z`` in the GAN's derivation, with ``p(z|x) = delta(z - E(x))``, makes the
encoder's codes ``E(x)`` the "generated" samples and the prior ``N(0, I)`` the "real" ones; joint training
with a decoder ``G`` adds the reconstruction term. Players:

- ``discriminator`` (part ``discriminator``, on codes): ``BCE(D(z), 1) + BCE(D(E(x)), 0)``, ``z ~ N(0, I)``;
- ``autoencoder`` (parts ``encoder`` and ``generator``):
  ``-log D(E(x)) + recon_weight * mean((x - G(E(x)))^2)``, the mean over every element.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch
from engine.errors import ConfigError
from engine.progress import Progress
from losses.gan import real_fake_bce
from losses.generative import GenerativeLoss, encode


class AAELoss(GenerativeLoss):
    players = ("discriminator", "autoencoder")
    updates = {"discriminator": ("discriminator",), "autoencoder": ("encoder", "generator")}

    def __init__(self, z_dim: int = 100, recon_weight: float = 10.0) -> None:
        super().__init__(z_dim)
        if not recon_weight >= 0:
            raise ConfigError(f"loss.recon_weight must be >= 0, got {recon_weight}")
        self.recon_weight = float(recon_weight)

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        x = batch["x"]
        code = encode(model, x, self.z_dim)[0]
        if player == "discriminator":
            loss, acc = real_fake_bce(model.discriminator(self.prior(len(x), x.device)), model.discriminator(code.detach()))
            return {"loss": loss, "acc": acc}
        logit = model.discriminator(code)
        adversarial = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        recon = F.mse_loss(model.generator(code), x)
        return {"loss": adversarial + self.recon_weight * recon, "adversarial": adversarial.detach(),
                "reconstruction": recon.detach()}

    def reconstruct(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.decode(model, encode(model, x, self.z_dim, sample=False)[0])
