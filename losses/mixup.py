"""mixup (Zhang et al. 2018, arXiv 1710.09412), read as a regulariser in kexue.fm/archives/5693.

``lam ~ Beta(alpha, alpha)``; the input is ``lam x_a + (1 - lam) x_b`` and the loss
``lam c(f(x~), y_a) + (1 - lam) c(f(x~), y_b)``, which for cross-entropy equals the cross-entropy
against the mixed label ``lam y_a + (1 - lam) y_b``. ``alpha = 1`` is the uniform on [0, 1], the
post's suggestion (no hyperparameter) and the mixup paper's value for CIFAR-10; the paper used
0.1-0.4 on ImageNet. ``per_sample``: one lambda per example instead of one per batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.errors import as_bool, as_number
from losses.mixing import Mix, MixingLoss, beta, gather, partners, per_example


class MixupLoss(MixingLoss):
    def __init__(self, alpha: float = 1.0, per_sample: bool = False,
                 criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 start_epoch: int = 0, stop_epoch: int | None = None) -> None:
        super().__init__(criterion, start_epoch, stop_epoch)
        alpha = as_number("loss.alpha", alpha, 0, strict=True, hint="1 is the uniform")
        self.alpha, self.per_sample = alpha, as_bool("loss.per_sample", per_sample)

    def draw(self, n: int) -> float | torch.Tensor:
        """Lambda for a batch of ``n``: one float, or (``per_sample``) a tensor of ``n``."""
        return beta(self.alpha, n if self.per_sample else None)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix:
        perm = partners(len(x), x.device)
        lam = self.draw(len(x))
        if isinstance(lam, torch.Tensor):
            lam = lam.to(x.device)
        weight = per_example(lam, x) if isinstance(lam, torch.Tensor) else lam
        x_b, out = gather(x, perm)
        return Mix(torch.lerp(x_b, x, weight, out=out), perm, lam, lam)  # lerp(b, a, lam) = lam a + (1 - lam) b
