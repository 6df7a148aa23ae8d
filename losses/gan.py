"""The standard GAN objective (Goodfellow et al. 2014) with the non-saturating generator loss.

Players, in order: ``discriminator`` (updates the model part ``discriminator``) minimises
``BCE(D(x), 1) + BCE(D(G(z)), 0)`` over a batch of real images ``x`` and as many ``z ~ N(0, I)``;
``generator`` (updates the part ``generator``) minimises ``BCE(D(G(z)), 1) = -E log D(G(z))``
(kexue.fm/archives/5716 derives this step from a joint KL and finds a missing term; that
regulariser belongs to the VI-GAN family, not to this baseline).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, Objective
from engine.progress import Progress


class GANLoss(Objective):
    players = ("discriminator", "generator")
    updates = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def __init__(self, z_dim: int = 100) -> None:
        super().__init__()
        self.z_dim = z_dim

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        real = batch["x"]
        z = torch.randn(len(real), self.z_dim, device=real.device)
        fake = model.generator(z)
        if player == "discriminator":
            real_logit = model.discriminator(real)
            fake_logit = model.discriminator(fake.detach())
            loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                    + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
            acc = 0.5 * ((real_logit > 0).float().mean() + (fake_logit < 0).float().mean())
            return {"loss": loss, "acc": acc.detach()}
        fake_logit = model.discriminator(fake)
        return {"loss": F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))}
