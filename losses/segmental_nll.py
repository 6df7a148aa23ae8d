"""The segmental language model's loss: the negative log marginal likelihood per character (Sun & Deng, EMNLP 2018),

    L = -sum_chunks log sum_{segmentations} prod_i p(y_i | y_<i) / characters,

summed over segmentations by the forward recursion (``models.segmental_lm.log_marginal``). With a lexicon in
the data (``data.lexicon``) the loss can start from the min-entropy lexicon's statistics: for the first
``warm_steps`` steps it adds ``warm_weight`` times the negative log-probability of the lexicon's own
segmentation (segments longer than ``K`` cut into pieces of ``K``), which pulls the model's segment
posterior towards the lexicon before the marginal likelihood alone takes over.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from engine.contracts import Batch, Loss
from engine.errors import as_int, as_number
from engine.progress import Progress
from models.segmental_lm import log_marginal


class SegmentalNLLLoss(Loss):
    """One player, ``main``; logs ``nll`` (nats per character), ``bits_per_char`` and, while warm, ``lexicon_nll``."""

    players = ("main",)

    def __init__(self, warm_steps: int = 0, warm_weight: float = 1.0) -> None:
        super().__init__()
        self.warm_steps = as_int("loss.warm_steps", warm_steps, 0)
        self.warm_weight = as_number("loss.warm_weight", warm_weight, 0.0)

    def forward(self, model: nn.Module, batch: Batch, player: str = "main",
                progress: Progress | None = None) -> dict[str, torch.Tensor]:
        seg = model(batch["x"], batch["chunk"])
        lengths = (batch["chunk"] >= 0).sum(1)
        chars = lengths.sum().clamp_min(1)
        nll = -log_marginal(seg, lengths).sum() / chars
        out = {"nll": nll.detach(), "bits_per_char": nll.detach() / math.log(2)}
        loss = nll
        warm = progress is not None and progress.step < self.warm_steps and "starts" in batch
        if warm and self.warm_weight > 0:
            lexicon_nll = -path_log_prob(seg, batch["starts"], lengths).sum() / chars
            out["lexicon_nll"] = lexicon_nll.detach()
            loss = loss + self.warm_weight * lexicon_nll
        out["loss"] = loss
        return out


def path_log_prob(seg: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(B,)`` log-probability of the segmentation whose segments start where ``starts`` is true.

    A segment longer than ``K`` (the model's longest) counts as pieces of ``K`` characters and a remainder.
    """
    b, length, k = seg.shape
    starts = starts.clone()
    starts[:, 0] = True  # a row may begin inside a word: its first piece is a segment
    run = torch.zeros(b, dtype=torch.long, device=seg.device)
    for t in range(length):  # a new start every K characters inside a longer segment
        run = torch.where(starts[:, t], torch.zeros_like(run), run + 1)
        cut = run >= k
        starts[:, t] |= cut
        run = torch.where(cut, torch.zeros_like(run), run)
    inside = torch.arange(length, device=seg.device)[None] < lengths[:, None]
    starts &= inside
    # a segment's length: the distance to the next start (or to the chunk's end)
    nxt = lengths.clone()
    seg_len = torch.zeros(b, length, dtype=torch.long, device=seg.device)
    for t in range(length - 1, -1, -1):
        seg_len[:, t] = nxt - t
        nxt = torch.where(starts[:, t], torch.full_like(nxt, t), nxt)
    picked = seg.gather(2, (seg_len.clamp(1, k) - 1)[..., None]).squeeze(2)
    return torch.where(starts, picked, torch.zeros_like(picked)).sum(1)
