"""Word segmentation by a segmental language model, alone and with the min-entropy lexicon, scored.

Every chunk of the split is cut by Viterbi, the chunks and the punctuation between them put back into lines,
numbers and Latin words unfolded (``datasets/segment_chunk_data.py``). Two decodes:

- the model alone (``slm_*`` metrics): the most probable segmentation, ``max sum_i log p(y_i | y_<i)``;
- the product of the model and the lexicon (the plain metrics, ``f1`` the monitor): each segment scores
  ``log p(y_i | y_<i) + lexicon_weight * s(y_i)``, with ``s(w) = log p(w) + word_bonus`` the unigram segmenter's
  score of a lexicon word (``data.word_scores``) and ``unknown_score`` for any other segment, so the lexicon
  proposes the words and the model's context weighs them. ``lexicon_weight: 0`` is the model alone.

``val`` (People's Daily's first lines) is scored against People's Daily's gold, span by span
(``min_entropy.segmenter.segmentation_scores``), at every weight of ``dev_weights`` too (``f1_w<weight>``): the
weight is chosen there. ``test`` (the PKU test text) is scored by the bakeoff's rules (``min_entropy.bakeoff_scorer``:
precision, recall, F1, OOV and IV recall), the gold file read at that call only. Both report ``bits_per_char``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError, as_number
from min_entropy.bakeoff_scorer import read_vocabulary, score_lines
from min_entropy.chinese_text import read_lines
from min_entropy.segmenter import segmentation_scores
from models.segmental_lm import NEVER, log_marginal, viterbi


class SegmentationEvaluator(Evaluator):
    """``f1`` (the monitor), ``precision``, ``recall``, the same for the model alone (``slm_*``), ``bits_per_char``;
    on ``test`` also ``oov_recall``, ``iv_recall``; on ``val`` ``f1_w<weight>`` for each of ``dev_weights``."""

    monitor, mode = "f1", "max"

    def __init__(self, gold_file: str = "datasets/files/sighan2005_pku/pku_test_gold.utf8",
                 words_file: str = "datasets/files/sighan2005_pku/pku_training_words.utf8",
                 lexicon_weight: float = 0.0, unknown_score: float = -30.0, dev_weights: Sequence[float] = ()) -> None:
        self.gold_file, self.words_file = gold_file, words_file
        self.lexicon_weight = as_number("evaluator.lexicon_weight", lexicon_weight, 0.0)
        self.unknown_score = as_number("evaluator.unknown_score", unknown_score)
        self.dev_weights = [as_number("evaluator.dev_weights", w, 0.0) for w in dev_weights]
        self.data: DataModule | None = None
        self._shown: dict[str, list[list[str]]] = {}  # the last evaluation's segmentations, for media()
        self._lexicon: dict[str, torch.Tensor] = {}  # per split: the lexicon's segment scores (the model does not change them)

    def setup(self, data: DataModule) -> None:
        if not callable(getattr(data, "assemble", None)):
            raise ConfigError("evaluator=segmentation needs data=segment_chunk_data (chunks it can put back into lines)")
        if (self.lexicon_weight or any(self.dev_weights)) and not getattr(data, "word_scores", None):
            raise ConfigError("evaluator.lexicon_weight > 0 needs a lexicon: set data.lexicon "
                              "(e.g. {order: 4, min_count: 2, min_pmi: [0.5, 4.5, 8.0], word_bonus: 3.5})")
        self.data = data
        self._lexicon = {}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        was_training = model.training
        model.eval()
        rows, lengths, nll, split = [], [], 0.0, None
        for batch in batches:
            split = "test" if int(batch["split"]) else "val"
            seg = model(batch["x"], batch["chunk"])
            n = (batch["chunk"] >= 0).sum(1)
            nll -= float(log_marginal(seg, n).sum())
            rows.append(seg.cpu())
            lengths.append(n.cpu())
        model.train(was_training)
        if split is None:
            raise ConfigError("the evaluation split holds no chunk of text")
        seg, n = torch.cat(rows), torch.cat(lengths)
        chunks = self.data.chunks(split)
        if split not in self._lexicon:
            self._lexicon[split] = (self._lexicon_scores(chunks, n, seg.shape[2]) if self.data.word_scores
                                    else torch.zeros_like(seg))
        lexicon = self._lexicon[split]
        out = {"bits_per_char": nll / max(int(n.sum()), 1) / math.log(2)}
        weights = {"": self.lexicon_weight, "slm_": 0.0}
        if split == "val":
            weights.update({f"w{w:g}_": w for w in self.dev_weights})
        self._shown = {"gold": self.data.splits["val"].gold} if split == "val" else {}
        for prefix, w in weights.items():
            scores = seg if w == 0 else torch.where(seg <= NEVER / 2, seg, seg + w * lexicon)
            lines = self.data.assemble(split, _spell(chunks, [c for row in viterbi(scores, n) for c in row]))
            if prefix in ("", "slm_"):
                self._shown[f"with lexicon (weight {self.lexicon_weight:g})" if prefix == "" else "model alone"] = lines
            if split == "val":
                s = segmentation_scores(self.data.splits["val"].gold, lines)
                if prefix.startswith("w"):
                    out[f"f1_{prefix[:-1]}"] = s["f1"]
                else:
                    out.update({f"{prefix}{k}": s[k] for k in ("precision", "recall", "f1")})
            else:
                gold = (line for _, line in read_lines(self.gold_file, "gold file"))
                b = score_lines(gold, ["  ".join(w) for w in lines], read_vocabulary(self.words_file), self.gold_file)
                out.update({f"{prefix}{k}": getattr(b, k) for k in ("precision", "recall", "f1", "oov_recall", "iv_recall")})
        return out

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        """Word lengths of the last evaluation's segmentations (and of the gold on val), and its first lines, segmented."""
        if not self._shown:
            return Media()
        texts = {"segmented": "\n\n".join(f"**{name}**: " + " / ".join("  ".join(line) for line in lines[:3])
                                           for name, lines in self._shown.items())}
        return Media(figures={"word_lengths": word_length_figure(self._shown)}, texts=texts)

    def _lexicon_scores(self, chunks: list[str], lengths: torch.Tensor, k: int) -> torch.Tensor:
        """``(rows, L, K)``: the lexicon's score of every segment of every row (``unknown_score`` off the lexicon)."""
        text, scores, width = "".join(chunks), self.data.word_scores, int(self.data.max_len)
        out = [self.unknown_score] * (len(lengths) * width * k)
        at = 0
        for r, n in enumerate(lengths.tolist()):
            for t in range(n):
                base = (r * width + t) * k
                for m in range(1, min(k, n - t) + 1):
                    out[base + m - 1] = scores.get(text[at + t:at + t + m], self.unknown_score)
            at += n
        return torch.tensor(out).view(len(lengths), width, k)


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


def word_length_figure(segmentations: dict[str, list[list[str]]]) -> Any:
    """Bars: the share of words of each length (1 .. 6+ characters, punctuation included) in each segmentation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(segmentations)
    for i, (name, lines) in enumerate(segmentations.items()):
        lengths = [min(len(w), 6) for line in lines for w in line]
        shares = [lengths.count(k) / max(len(lengths), 1) for k in range(1, 7)]
        ax.bar([k + (i - (len(segmentations) - 1) / 2) * width for k in range(1, 7)], shares, width, label=name)
    ax.set_xticks(range(1, 7), ["1", "2", "3", "4", "5", "6+"])
    ax.set_xlabel("word length (characters)")
    ax.set_ylabel("share of words")
    ax.legend()
    fig.tight_layout()
    return fig
