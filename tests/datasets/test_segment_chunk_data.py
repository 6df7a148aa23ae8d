"""SegmentChunkData: rows spell the raw text's chunks end to end, chunk numbers mark their edges, the lexicon's
word starts ride along, batches are a pure function of (seed, epoch, batch), and lines are put back whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datasets.segment_chunk_data import PAD, SegmentChunkData
from engine.errors import ProjectError
from engine.progress import Progress
from min_entropy.chinese_text import chunks as chunks_of


def _write(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "pd.txt"
    corpus.write_text("中国/ns 人民/n 在/p １９９８年/t 前进/v 。/w\n我们/r 的/u 新/a 世纪/n ！/w\n", encoding="utf-8")
    test = tmp_path / "test.txt"
    test.write_text("共同创造美好的新世纪——二○○一年新年贺词\r\n\r\nAPEC会议，中国人民\r\n", encoding="utf-8")
    return corpus, test


def test_rows_spell_the_chunks_and_mark_their_edges(tmp_path: Path) -> None:
    corpus, test = _write(tmp_path)
    data = SegmentChunkData(str(corpus), test_file=str(test), max_len=5, batch_size=2, min_count=1, val_lines=2,
                         lexicon={"order": 4, "min_count": 1, "min_pmi": [0.0, 0.0, 0.0]})
    data.setup(seed=3)
    x, chunk, starts = data.train["x"], data.train["chunk"], data.train["starts"]
    raw = ["中国人民在０年前进", "我们的新世纪", "共同创造美好的新世纪", "０年新年贺词", "Ａ会议", "中国人民"]
    assert [m for line in raw for m in chunks_of(line)] == raw  # every chunk of both texts, folded
    text = "".join(data.itos[i] for i in x.flatten().tolist() if i != PAD)
    assert text == "".join(raw)
    numbers = chunk.flatten().tolist()
    assert [n for n in numbers if n >= 0] == [k for k, c in enumerate(raw) for _ in c]
    for row in chunk.tolist():  # padding only at a row's end; a chunk of <= max_len characters is never split
        used = len(row) - row.count(-1)
        assert min(row[:used]) >= 0 and set(row[used:]) <= {-1}
    short = [k for k, c in enumerate(raw) if len(c) <= 5]
    assert all(sum(k in row for row in chunk.tolist()) == 1 for k in short)
    flat = starts.flatten().tolist()
    assert all(flat[numbers.index(k)] for k in range(len(raw)))  # every chunk begins a word
    # a pure function of (seed, epoch, batch): the same batch twice, another epoch another order
    p = Progress(step=0, epoch=0, batch=1, total_steps=4, steps_per_epoch=2)
    a, b = data.train_batch(p), data.train_batch(p)
    assert all(torch.equal(a[k], b[k]) for k in a)
    firsts = [data.train_batch(Progress(step=0, epoch=e, batch=0, total_steps=4, steps_per_epoch=2))["chunk"][:, 0]
              for e in range(6)]
    orders = {tuple(f.tolist()) for f in firsts}
    assert len(orders) > 1


def test_lines_are_put_back_whole(tmp_path: Path) -> None:
    corpus, test = _write(tmp_path)
    data = SegmentChunkData(str(corpus), test_file=str(test), max_len=4, min_count=1, val_lines=2)
    data.setup()
    for split in ("val", "test"):
        chunks = data.chunks(split)
        lines = data.assemble(split, [list(c) for c in chunks])  # every chunk cut into characters
        raw = [line for line in data.splits[split].lines]
        assert ["".join(words) for words in lines] == ["".join(line.split()) for line in raw]
    assert data.assemble("test", [[c] for c in data.chunks("test")])[0] == ["共同创造美好的新世纪", "——", "二○○一年新年贺词"]
    rows = list(data.eval_batches("test"))
    assert sum(int((b["chunk"] >= 0).sum()) for b in rows) == sum(map(len, data.chunks("test")))


def test_empty_test_file_is_one_line(tmp_path: Path) -> None:
    corpus, test = _write(tmp_path)
    test.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="has no text"):
        SegmentChunkData(str(corpus), test_file=str(test)).prepare()
