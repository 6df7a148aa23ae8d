"""CutMix (Yun et al. 2019, arXiv 1905.04899): a box of ``x_b`` pasted into ``x_a``.

Not a convex combination of inputs, so it asks whether the linearity that kexue.fm/archives/5693
credits to mixup also comes from a mixing that does not blend pixels. ``lam ~ Beta(alpha, alpha)``
(the paper: alpha = 1) sets the box: sides ``H sqrt(1 - lam)`` and ``W sqrt(1 - lam)`` around a
uniform centre, clipped to the image, one box per batch. The label weight of ``y_a`` is the share of
the image that is still ``x_a``: ``w = 1 - box area / (H W)`` (after clipping).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from engine.errors import ConfigError, as_number
from losses.mixing import Mix, MixingLoss, beta, partners


def box(h: int, w: int, lam: float, cy: int, cx: int) -> tuple[int, int, int, int]:
    """Rows ``y0:y1`` and columns ``x0:x1`` of a box with area ratio ``1 - lam`` centred at (cy, cx), clipped."""
    r = math.sqrt(1.0 - lam)
    ch, cw = int(h * r), int(w * r)
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch - ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw - cw // 2, w)
    return y0, y1, x0, x1


class CutMixLoss(MixingLoss):
    def __init__(self, alpha: float = 1.0,
                 criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 start_epoch: int = 0, stop_epoch: int | None = None) -> None:
        super().__init__(criterion, start_epoch, stop_epoch)
        self.alpha = as_number("loss.alpha", alpha, 0, strict=True)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> Mix:
        if x.dim() < 3:
            raise ConfigError(f"CutMix pastes a box into images (B, C, H, W); the inputs have shape {tuple(x.shape)}")
        perm = partners(len(x), x.device)
        h, w = x.shape[-2:]
        lam = beta(self.alpha)
        cy, cx = (int(v) for v in np.random.randint((h, w)))
        y0, y1, x0, x1 = box(h, w, lam, cy, cx)
        mixed = x.clone()
        mixed[..., y0:y1, x0:x1] = x[..., y0:y1, x0:x1].index_select(0, perm)  # gathers the box only
        kept = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
        return Mix(mixed, perm, kept, kept)
