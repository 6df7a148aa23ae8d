"""The segmental LM's loss: -log of the sum over every segmentation, per character, and the lexicon path's log-probability."""

from __future__ import annotations

import math

import torch

from losses.segmental_nll import SegmentalNLLLoss, path_log_prob
from models.segmental_lm import NEVER


def _all_scores(seg: torch.Tensor, start: int, n: int, k: int) -> list[float]:
    """The total score of every segmentation of characters start..n-1 (segments of at most k), recursively."""
    if start == n:
        return [0.0]
    return [float(seg[start, m - 1]) + rest for m in range(1, min(k, n - start) + 1)
            for rest in _all_scores(seg, start + m, n, k)]


class _Fixed(torch.nn.Module):
    """A stand-in model that returns fixed segment scores (masked like the real one)."""

    def __init__(self, seg: torch.Tensor) -> None:
        super().__init__()
        self.seg = seg

    def forward(self, x: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        return self.seg


def test_loss_is_the_negative_log_marginal_per_character() -> None:
    torch.manual_seed(0)
    k, n = 3, 5
    seg = torch.randn(1, 6, k)
    fits = torch.arange(6)[:, None] + torch.arange(1, k + 1)[None] <= n
    seg = seg.masked_fill(~fits, NEVER)
    batch = {"x": torch.zeros(1, 6, dtype=torch.long), "chunk": torch.tensor([[0, 0, 0, 0, 0, -1]])}
    out = SegmentalNLLLoss()(_Fixed(seg), batch)
    expected = -math.log(sum(math.exp(v) for v in _all_scores(seg[0], 0, n, k))) / n
    assert math.isclose(float(out["loss"]), expected, rel_tol=1e-5)
    assert math.isclose(float(out["bits_per_char"]), expected / math.log(2), rel_tol=1e-5)


def test_path_log_prob_cuts_long_words_into_pieces_of_k() -> None:
    seg = torch.arange(1, 8 * 3 + 1, dtype=torch.float).view(1, 8, 3)
    # words of 2, 5 (cut into 3 + 2) and 1 characters
    starts = torch.tensor([[True, False, True, False, False, False, False, True]])
    got = float(path_log_prob(seg, starts, torch.tensor([8]))[0])
    assert got == float(seg[0, 0, 1] + seg[0, 2, 2] + seg[0, 5, 1] + seg[0, 7, 0])
    # a row that begins inside a word: its first piece counts as a segment; padding is left out
    starts = torch.tensor([[False, True, False, False, False, False, False, False]])
    assert float(path_log_prob(seg, starts, torch.tensor([4]))[0]) == float(seg[0, 0, 0] + seg[0, 1, 2])
