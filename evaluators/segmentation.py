"""Word segmentation by a segmental language model, scored (``models/segmental_lm.py``, ``datasets/segment_chunks.py``).

Every chunk of the split is cut by Viterbi (the most probable segmentation), the chunks and the punctuation
between them are put back into lines, numbers and Latin words unfolded. ``val`` (People's Daily's first lines)
is scored against People's Daily's gold, span by span (``min_entropy.segmenter.segmentation_scores``: the
selection criterion, ``f1`` the monitor); ``test`` (the PKU test text) by the bakeoff's rules
(``min_entropy.bakeoff_scorer``: precision, recall, F1, OOV and IV recall), the gold file read at that call
only. Both report ``bits_per_char``, the negative log marginal likelihood of the split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Evaluator, Loss
from engine.errors import ConfigError
from min_entropy.bakeoff_scorer import read_segmented, read_vocabulary, score_lines
from min_entropy.segmenter import segmentation_scores
from models.segmental_lm import log_marginal, viterbi


class SegmentationEvaluator(Evaluator):
    """``f1`` (the monitor), ``precision``, ``recall``, ``bits_per_char``; on ``test`` also ``oov_recall``, ``iv_recall``."""

    monitor, mode = "f1", "max"

    def __init__(self, gold_file: str = "datasets/files/sighan2005_pku/pku_test_gold.utf8",
                 words_file: str = "datasets/files/sighan2005_pku/pku_training_words.utf8") -> None:
        self.gold_file, self.words_file = gold_file, words_file
        self.data: DataModule | None = None

    def setup(self, data: DataModule) -> None:
        if not callable(getattr(data, "assemble", None)):
            raise ConfigError("evaluator=segmentation needs data=segment_chunks (chunks it can put back into lines)")
        self.data = data

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        was_training = model.training
        model.eval()
        lengths_of: list[int] = []  # segment lengths over the split's chunks end to end
        nll, chars, split = 0.0, 0, None
        for batch in batches:
            split = "test" if int(batch["split"]) else "val"
            seg = model(batch["x"], batch["chunk"])
            lengths = (batch["chunk"] >= 0).sum(1)
            nll -= float(log_marginal(seg, lengths).sum())
            chars += int(lengths.sum())
            for cuts in viterbi(seg, lengths):
                lengths_of += cuts
        model.train(was_training)
        if split is None:
            raise ConfigError("the evaluation split holds no chunk of text")
        words = _spell(self.data.chunks(split), lengths_of)
        lines = self.data.assemble(split, words)
        out = {"bits_per_char": nll / max(chars, 1) / math.log(2)}
        if split == "val":
            scores = segmentation_scores(self.data.splits["val"].gold, lines)
            return {**out, **{k: scores[k] for k in ("precision", "recall", "f1")}}
        gold = (line for _, line in read_segmented(self.gold_file, "gold file"))
        s = score_lines(gold, ["  ".join(w) for w in lines], read_vocabulary(self.words_file), self.gold_file, "prediction")
        return {**out, "precision": s.precision, "recall": s.recall, "f1": s.f1, "oov_recall": s.oov_recall,
                "iv_recall": s.iv_recall}


def _spell(chunks: list[str], lengths: list[int]) -> list[list[str]]:
    """The words of each chunk, from segment lengths over the chunks laid end to end (no segment crosses a chunk)."""
    text, out, a, k = "".join(chunks), [], 0, 0
    for chunk in chunks:
        words, end = [], a + len(chunk)
        while a < end:
            words.append(text[a:a + lengths[k]])
            a += lengths[k]
            k += 1
        out.append(words)
    return out
