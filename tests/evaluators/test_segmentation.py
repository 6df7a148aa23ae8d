"""SegmentationEvaluator: the model alone is its Viterbi segmentation; with a large lexicon weight the decode is the
lexicon's unigram segmentation; the test split is scored by the bakeoff's rules on the gold file."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from datasets.segment_chunk_data import SegmentChunkData
from evaluators.segmentation import SegmentationEvaluator
from min_entropy.bakeoff_scorer import score_lines
from min_entropy.segmenter import Segmenter, segmentation_scores
from models.segmental_lm import NEVER


class _OneCharacter(torch.nn.Module):
    """Scores every one-character segment 0 and every longer one -5: its Viterbi cuts every character."""

    def forward(self, x: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        b, length = x.shape
        seg = torch.full((b, length, 3), -5.0)
        seg[:, :, 0] = 0.0
        window = torch.arange(length)[:, None] + torch.arange(3)[None]
        last = torch.nn.functional.pad(chunk, (0, 3), value=-2)[:, window]
        return seg.masked_fill(~((last == chunk[:, :, None]) & (chunk[:, :, None] >= 0)), NEVER)


def _data(tmp_path: Path) -> tuple[SegmentChunkData, Path]:
    corpus = tmp_path / "pd.txt"
    corpus.write_text("中国/ns 人民/n 在/p 前进/v 。/w\n我们/r 的/u 新/a 世纪/n ！/w\n" * 3, encoding="utf-8")
    test, gold = tmp_path / "test.txt", tmp_path / "gold.txt"
    test.write_text("中国人民在前进。\n我们的新世纪！\n", encoding="utf-8")
    gold.write_text("中国  人民  在  前进  。\n我们  的  新  世纪  ！\n", encoding="utf-8")
    data = SegmentChunkData(str(corpus), test_file=str(test), max_len=8, min_count=1, val_lines=2)
    data.setup()
    # a lexicon of known scores (log p(w) + bonus) in place of a discovered one
    words = {"中国": -3.0, "人民": -3.0, "前进": -4.0, "世纪": -4.0, "我们": -3.0, "中国人": -5.0}
    data.word_scores = {**{c: -6.0 for c in "中国人民在前进我们的新世纪"}, **words}
    return data, gold


def test_alone_and_with_the_lexicon(tmp_path: Path) -> None:
    data, gold = _data(tmp_path)
    words = tmp_path / "words.txt"
    words.write_text("中国\n人民\n", encoding="utf-8")
    ev = SegmentationEvaluator(str(gold), str(words), lexicon_weight=100.0, dev_weights=[0.0])
    ev.setup(data)
    val = ev.evaluate(_OneCharacter(), data.eval_batches("val"))
    chars = [[c for w in line for c in w] for line in data.splits["val"].gold]
    assert val["slm_f1"] == segmentation_scores(data.splits["val"].gold, chars)["f1"] == val["f1_w0"]
    # weight 100: the model's scores only break ties, so the decode is the unigram segmentation by the word scores
    lexicon = Segmenter({w: math.exp(s) for w, s in data.word_scores.items()}).tokenize_lines(data.splits["val"].lines)
    assert lexicon[0] == ["中国", "人民", "在", "前进", "。"]
    assert val["f1"] == segmentation_scores(data.splits["val"].gold, lexicon)["f1"] == 1.0
    test = ev.evaluate(_OneCharacter(), data.eval_batches("test"))
    chars = ["  ".join("中国人民在前进。"), "  ".join("我们的新世纪！")]
    expected = score_lines(gold.read_text(encoding="utf-8").splitlines(), chars, {"中国", "人民"})
    assert test["slm_f1"] == expected.f1 and test["slm_oov_recall"] == expected.oov_recall
    assert test["f1"] == 1.0
