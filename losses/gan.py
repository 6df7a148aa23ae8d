"""The standard GAN (Goodfellow et al. 2014) and the VI-GAN regulariser of kexue.fm/archives/5716.

Players, in order:

- ``discriminator`` (updates part ``discriminator``): ``BCE(D(x), 1) + BCE(D(G(z)), 0)`` over a batch of
  real ``x`` and as many fresh ``z ~ N(0, I)``;
- ``generator`` (updates part ``generator``): the non-saturating loss plus the paper's term
  (arXiv 1807.05936, eq. for L_G),

  ``L_G = E_z[-log D(G(z))] + lam * mean((G(z) - G_old(z))^2)``,

  the mean over every element (the paper's code: ``5 * tf.losses.mean_squared_error``, lam = 5). It
  estimates ``KL(q(x) || q_old(x))``, the term the standard GAN loss drops; ``lam = 0`` is the standard GAN.

``G_old(z)`` is the generator's output on the same ``z`` just before this step's generator updates. With
``trainer.players.generator.repeat = R`` the generator takes R updates per step; each ``steps_per_z``
consecutive updates share one batch of ``z`` and its anchor, and every anchor is taken before the first
update of the step. The paper's experiment 1 is ``R = 2, steps_per_z = 2`` (the regulariser's gradient is 0
on the first update and active on the second); its experiment 2 is ``R = 10, steps_per_z = 2`` (5 batches
of ``z``, anchored together, 2 updates each).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch
from engine.errors import as_int, as_number
from engine.progress import Progress
from losses.generative import GenerativeLoss


def real_fake_bce(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's ``BCE(real, 1) + BCE(fake, 0)`` and its accuracy (for the log)."""
    loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
            + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
    acc = 0.5 * ((real_logit > 0).float().mean() + (fake_logit < 0).float().mean())
    return loss, acc.detach()


class GANLoss(GenerativeLoss):
    players = ("discriminator", "generator")
    updates = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def __init__(self, z_dim: int = 100, lam: float = 0.0, steps_per_z: int = 2) -> None:
        super().__init__(z_dim)
        lam = as_number("loss.lam", lam, 0, hint="0: the standard GAN; the paper used 5")
        self.lam, self.steps_per_z = lam, as_int("loss.steps_per_z", steps_per_z, 1)
        self._z: torch.Tensor | None = None  # (chunks, B, z_dim): this step's generator batches of z
        self._anchors: list[torch.Tensor | None] = []  # G_old(z) per chunk, taken before the step's updates

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        real = batch["x"]
        if player == "discriminator":
            fake = model.generator(self.prior(len(real), real.device)).detach()
            loss, acc = real_fake_bce(model.discriminator(real), model.discriminator(fake))
            return {"loss": loss, "acc": acc}
        chunk = progress.repeat // self.steps_per_z
        if progress.repeat == 0:  # a new step: new z for every chunk, and their anchors before any update
            chunks = math.ceil(progress.repeats / self.steps_per_z)
            self._z = self.prior(chunks * len(real), real.device).view(chunks, len(real), self.z_dim)
            self._anchors = [None] * chunks
            with torch.no_grad():  # chunk 0's anchor comes from the forward below, with the same BN batch
                for c in range(1, chunks):
                    self._anchors[c] = model.generator(self._z[c])
        fake = model.generator(self._z[chunk])
        fake_logit = model.discriminator(fake)
        adversarial = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        if self._anchors[chunk] is None:
            self._anchors[chunk] = fake.detach()
        drift = F.mse_loss(fake, self._anchors[chunk])  # logged with lam = 0 too: how far G moves per step
        loss = adversarial + self.lam * drift if self.lam > 0 else adversarial
        return {"loss": loss, "adversarial": adversarial.detach(), "drift": drift.detach()}
