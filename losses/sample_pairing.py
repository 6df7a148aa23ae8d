"""SamplePairing (Inoue 2018, arXiv 1801.02929), read as a regulariser in kexue.fm/archives/5693.

The input is the pixel mean ``(x_a + x_b) / 2`` and the label is ``y_a`` alone. Over random pairings
the mixed input gets ``y_a`` or ``y_b`` with equal chance, so the best output for it is
``(y_a + y_b) / 2``: the same linearity constraint as mixup at ``lam = 1/2`` (the post's argument).

The paper's schedule, as options: no SamplePairing for the first ``start_epoch`` epochs (100 on
CIFAR), then on for ``on_epochs`` and off for ``off_epochs`` in turn (8 and 2), and off again from
``stop_epoch`` for fine-tuning. ``on_epochs: null`` (the default) keeps it on throughout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.errors import ConfigError, as_int
from engine.progress import Progress
from losses.mixing import Mix, MixingLoss, gather, partners


class SamplePairingLoss(MixingLoss):
    def __init__(self, on_epochs: int | None = None, off_epochs: int = 0,
                 criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 start_epoch: int = 0, stop_epoch: int | None = None) -> None:
        super().__init__(criterion, start_epoch, stop_epoch)
        on_epochs = as_int("loss.on_epochs", on_epochs, 1, optional=True, hint="null: always on")
        off_epochs = as_int("loss.off_epochs", off_epochs, 0)
        if on_epochs is None and off_epochs:
            raise ConfigError(f"loss.off_epochs={off_epochs} needs loss.on_epochs (the epochs on between the "
                              "off ones); set both, or neither")
        self.on_epochs, self.off_epochs = on_epochs, off_epochs

    def active(self, progress: Progress | None) -> bool:
        if not super().active(progress):
            return False
        if progress is None or self.on_epochs is None:
            return True
        return (progress.epoch - self.start_epoch) % (self.on_epochs + self.off_epochs) < self.on_epochs

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix:
        perm = partners(len(x), x.device)
        x_b, out = gather(x, perm)
        return Mix(torch.add(x_b, x, out=out).mul_(0.5), perm, 0.5, 1.0)  # (x_b + x_a) / 2
