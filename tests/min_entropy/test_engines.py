"""Streaming and the engines: byte ranges tile a file, blocks hold every line once, a Dask cluster (a real
local one, two worker processes) counts exactly what one process counts, and bad input is one line."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from engine.errors import ConfigError, ProjectError
from min_entropy import reference
from min_entropy.chinese_text import Corpus
from min_entropy.counts import NgramCounter, PieceCounter
from min_entropy.engines import DaskEngine, LocalEngine, make_engine
from min_entropy.lexicon import discover
from min_entropy.ngram_pmi import discover_ngram_pmi


@pytest.mark.parametrize("seed", range(8))
def test_byte_ranges_and_blocks_hold_every_line_once(seed, tmp_path):
    rng = random.Random(seed)
    lines = ["".join(rng.choices("天地玄黄，。 ab", k=rng.randint(0, 40))) for _ in range(rng.randint(1, 200))]
    if rng.random() < 0.5:
        lines[rng.randrange(len(lines))] = "宇宙" * 5000  # a line longer than a block
    path = tmp_path / "c.txt"
    path.write_text("\ufeff" * (seed % 2) + "\n".join(lines) + ("\n" if seed % 3 else ""), encoding="utf-8")
    corpus = Corpus(str(path))
    for parts in (1, 2, 7, 50):
        for block in (16, 1000):
            text = "\n".join(b for span in corpus.byte_ranges(parts) for b in corpus.blocks(block, *span))
            assert text.split("\n") == lines, (parts, block)


def test_pieces_and_counts_pickle_and_merge(tmp_path):
    lines = ["天地玄黄，宇宙洪荒。", "天地玄黄", "日月盈昃"] * 5
    a, b = NgramCounter(2, 4), NgramCounter(2, 4)
    a.add("\n".join(lines[:7]))
    b.add("\n".join(lines[7:]))
    a.merge(pickle.loads(pickle.dumps(b)))
    whole = NgramCounter(2, 4)
    whole.add("\n".join(lines))
    key = np.argsort(whole.ngrams.entries()[0])
    assert np.array_equal(np.sort(a.ngrams.entries()[0]), whole.ngrams.entries()[0][key])
    assert np.array_equal(a.chars, whole.chars)
    strong = whole.ngrams.entries()[0][whole.ngrams.entries()[2] == 2]
    p, q = PieceCounter(strong), PieceCounter(strong)
    p.add("\n".join(lines[:7]))
    q.add("\n".join(lines[7:]))
    p.merge(pickle.loads(pickle.dumps(q)))
    r = PieceCounter(strong)
    r.add("\n".join(lines))
    assert p.pieces == r.pieces and sorted(p.trie.counts[:len(p.trie)]) == sorted(r.trie.counts[:len(r.trie)])


@pytest.fixture(scope="module")
def dask_engine():
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    engine = DaskEngine(cluster.scheduler_address, partitions=5, block_chars=4096)
    yield engine
    engine.close()
    cluster.close()


@pytest.mark.slow
def test_a_dask_cluster_counts_what_one_process_counts(dask_engine):
    corpus = Corpus("data/chinese/sanguo.txt", "text")
    assert dask_engine.partitions == 5 and len(corpus.byte_ranges(5)) == 5
    local = LocalEngine().accumulate(corpus, NgramCounter)
    spread = dask_engine.accumulate(corpus, NgramCounter)
    assert np.array_equal(local.chars, spread.chars)
    lk, lc, _ = local.ngrams.entries()
    sk, sc, _ = spread.ngrams.entries()
    assert np.array_equal(lk[np.argsort(lk)], sk[np.argsort(sk)]) and np.array_equal(lc[np.argsort(lk)], sc[np.argsort(sk)])
    small = Corpus("data/chinese/sanguo.txt", "text", max_lines=None)
    want = discover(small, 1e-7, 3.0, "length")
    got = discover(small, 1e-7, 3.0, "length", engine=dask_engine)
    assert got.words == want.words and got.removed == want.removed and got.num_candidates == want.num_candidates
    pmi = discover_ngram_pmi(small, 4, 8, (2.0, 4.0, 6.0), engine=dask_engine)
    assert pmi.words == discover_ngram_pmi(small, 4, 8, (2.0, 4.0, 6.0)).words


def test_dask_needs_a_file_and_a_reachable_scheduler(dask_engine):
    with pytest.raises(ConfigError, match="lexicon.engine=dask counts a corpus file"):
        dask_engine.accumulate(["天地"], NgramCounter)
    with pytest.raises(ConfigError, match="byte ranges"):
        list(Corpus("data/chinese/sanguo.txt", max_lines=3).blocks(100, 0, 10))
    with pytest.raises(ProjectError, match="could not reach the Dask scheduler at lexicon.scheduler=tcp://127.0.0.1:9"):
        DaskEngine("tcp://127.0.0.1:9", timeout_s=1.0)
    with pytest.raises(ConfigError, match="lexicon.engine='spark' is not one of local, dask"):
        make_engine("spark")


def test_bad_corpora_are_one_line_or_a_correct_result(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    punct = tmp_path / "punct.txt"
    punct.write_text("，。！？\n……\n", encoding="utf-8")
    for path in (empty, punct):
        with pytest.raises(ProjectError, match="no Chinese characters, letters or digits"):
            discover(Corpus(str(path)))
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("天地玄黄\n".encode() * 3 + "宇宙洪荒\n".encode("gb18030"))
    with pytest.raises(ProjectError, match=r"gbk.txt:4 is not UTF-8 .*iconv"):
        discover(Corpus(str(gbk)))
    english = tmp_path / "en.txt"
    english.write_text("the cat sat on the mat. the cat ate.\n" * 20, encoding="utf-8")
    assert discover(Corpus(str(english))).words == discover(list(Corpus(str(english)).lines())).words
    assert set(discover(Corpus(str(english)), min_pmi=0.5).words) >= {"the", "cat"}
    # one line of 10 MB (3.3M characters) without a single punctuation mark or newline: streamed, cut, bounded
    rng = np.random.default_rng(0)
    words = np.array(["天地", "玄黄", "宇宙洪荒", "日月", "盈", "昃", "辰宿列张"])
    big = tmp_path / "big.txt"
    big.write_text("".join(rng.choice(words, 1_500_000)), encoding="utf-8")
    assert big.stat().st_size > 10_000_000
    found = discover(Corpus(str(big)), 1e-7, 1.0, "length")
    assert set(found.words) <= set(words.tolist()) | {"天", "地", "玄", "黄", "宇", "宙", "洪", "荒"}
    assert max(map(len, found.words)) <= 64
    assert reference.truncate({"a" * 100: 5}, 1e-7, 64) == {}
