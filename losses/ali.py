"""ALI / BiGAN (Dumoulin et al. 2017; Donahue et al. 2017), with the generator-encoder loss of kexue.fm/archives/5716.

A joint discriminator ``D(x, z)`` (part ``discriminator``) tells encoder pairs ``(x, E(x))``, ``x`` from the
data, from generator pairs ``(G(z), z)``, ``z ~ N(0, I)``. Players:

- ``discriminator``: ``BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)``;
- ``generator`` (parts ``generator`` and ``encoder``), one switch apart:
  - ``derived: false``, the standard (non-saturating) loss with the labels swapped:
    ``BCE(D(x, E(x)), 0) + BCE(D(G(z), z), 1)``;
  - ``derived: true``, the post's loss from the joint KL with the previous step's distributions as reference
    (the GAN derivation applied to both branches, its KL terms dropped):
    ``-E log D(x, E(x)) - E log D(G(z), z) = BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 1)``.
    The post reports it "the same as or slightly better than" the standard loss, with no numbers.

The encoder is deterministic (BiGAN) when it gives ``z_dim`` numbers, a sampled Gaussian (ALI) when ``2 z_dim``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch
from engine.progress import Progress
from losses.gan import real_fake_bce
from losses.generative import GenerativeLoss, encode


class ALILoss(GenerativeLoss):
    players = ("discriminator", "generator")
    updates = {"discriminator": ("discriminator",), "generator": ("generator", "encoder")}

    def __init__(self, z_dim: int = 100, derived: bool = False) -> None:
        super().__init__(z_dim)
        self.derived = bool(derived)

    def forward(self, model: nn.Module, batch: Batch, player: str, progress: Progress) -> dict[str, torch.Tensor]:
        x = batch["x"]
        code = encode(model, x, self.z_dim)[0]
        z = self.prior(len(x), x.device)
        fake = model.generator(z)
        if player == "discriminator":
            loss, acc = real_fake_bce(model.discriminator(x, code.detach()), model.discriminator(fake.detach(), z))
            return {"loss": loss, "acc": acc}
        enc_logit, gen_logit = model.discriminator(x, code), model.discriminator(fake, z)
        enc_target = torch.ones_like(enc_logit) if self.derived else torch.zeros_like(enc_logit)
        encoder_term = F.binary_cross_entropy_with_logits(enc_logit, enc_target)
        generator_term = F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
        return {"loss": encoder_term + generator_term, "encoder_term": encoder_term.detach(),
                "generator_term": generator_term.detach()}

    def reconstruct(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.decode(model, encode(model, x, self.z_dim, sample=False)[0])
