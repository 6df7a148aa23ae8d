"""CBOW batches (word2vec's ``sg=0``, post 4): the skip-gram windows turned round, the context predicts the centre.

The same subsampled text, dynamic windows and batches as :class:`datasets.skip_gram_data.SkipGramData`
(so the same vocabulary, and the same words per batch); a batch is ``{"x": contexts (C, 2 window), "y": centres
(C,)}``, ``-1`` padded, with ``y = -1`` for a centre without any context (alone in its line after subsampling),
which word2vec skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from datasets.skip_gram_data import SkipGramData
from engine.progress import Progress


def turn_round(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{x: centres, y: contexts}`` -> ``{x: contexts, y: centres}`` (-1 for a centre with no context)."""
    contexts, centres = batch["y"], batch["x"]
    return {"x": contexts, "y": torch.where((contexts >= 0).any(1), centres, torch.full_like(centres, -1))}


class CBOWData(SkipGramData):
    """Batches ``{"x": contexts (C, 2 window), "y": centre words (C,)}`` of the skip-gram data's windows."""

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        return turn_round(super().train_batch(progress))

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        for batch in super().eval_batches(split):
            yield turn_round(batch)
