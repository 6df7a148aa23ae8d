"""word2vec's per-pair SGD kernel against the update written out in plain numpy, pair by pair; the alias sampler
against q exactly and by draws; the kernel's skip-gram reaching the PMI optimum (post 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import markov_corpus
from heads import COUNTS

from datasets.skip_gram_data import SkipGramData
from engine.progress import Progress
from losses.hierarchical_softmax import huffman_tree
from losses.per_pair import _draw, alias_table, set_threads, train_batch

V, D = 12, 6
NO_TREE = (np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64), np.zeros(1, np.int64))
NO_NOISE = (np.ones(1), np.zeros(1, np.int64))


def batch(seed: int = 0, n: int = 9, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.integers(2, V, n)
    contexts = rng.integers(2, V, (n, width))
    contexts[rng.random((n, width)) < 0.3] = -1  # padding
    contexts[0] = -1  # a centre without context
    return centres, contexts


def start(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (V, D)).astype(np.float32), rng.normal(0, 0.5, (V, D)).astype(np.float32)


def rows_update(h: np.ndarray, v: np.ndarray, rows: list[tuple[int, float]], lr: float) -> np.ndarray:
    """word2vec's inner loop: for each (row, label): g = (label - sigma(h.v_row)) lr; e += g v_row; v_row += g h
    (gensim's rule: not for a row scored beyond +-6)."""
    e = np.zeros_like(h)
    for row, label in rows:
        if abs(h @ v[row]) >= 6:
            continue
        g = (label - 1 / (1 + np.exp(-h @ v[row]))) * lr
        e += g * v[row]
        v[row] += g * h
    return e


def reference(u, v, centres, contexts, lr, cbow, rows_of):
    u, v = u.copy(), v.copy()
    for c, ctx in zip(centres, contexts):
        ctx = [w for w in ctx if w >= 0]
        if cbow and ctx:
            e = rows_update(u[ctx].mean(0), v, rows_of(c), lr)
            for w in ctx:
                u[w] += e
        elif not cbow:
            for w in ctx:  # gensim's orientation: the context word's vector predicts the centre
                u[w] += rows_update(u[w].copy(), v, rows_of(c), lr)
    return u, v


@pytest.mark.parametrize("cbow", [False, True])
def test_hierarchical_softmax_kernel_is_word2vecs_update(cbow: bool):
    points, codes, lengths = (t.numpy() for t in huffman_tree(COUNTS + 1))
    centres, contexts = batch()
    u, v = start()
    v = v[: V - 1].copy()
    set_threads(1)
    ku, kv = u.copy(), v.copy()
    train_batch(ku, kv, centres, contexts, 0.3, cbow, 0, *NO_NOISE, points, codes, lengths, 7, 1)

    def path(c):
        return [(points[c, j], 1.0 - codes[c, j]) for j in range(lengths[c])]
    ru, rv = reference(u, v, centres, contexts, 0.3, cbow, path)
    np.testing.assert_allclose(ku, ru, atol=2e-6)
    np.testing.assert_allclose(kv, rv, atol=2e-6)
    assert not np.allclose(ku, u)


@pytest.mark.parametrize("cbow", [False, True])
def test_negative_sampling_kernel_is_word2vecs_update(cbow: bool):
    # all of q on word 5: every noise draw is 5, skipped where 5 is the target (as word2vec skips it)
    q = np.zeros(V)
    q[5] = 1.0
    keep, alias = alias_table(q)
    centres, contexts = batch(seed=3)
    centres[1] = 5
    u, v = start()
    set_threads(1)
    ku, kv = u.copy(), v.copy()
    total, n = train_batch(ku, kv, centres, contexts, 0.2, cbow, 3, keep, alias, *NO_TREE, 11, 1)

    def rows(c):
        return [(c, 1.0)] + ([] if c == 5 else [(5, 0.0)] * 3)
    ru, rv = reference(u, v, centres, contexts, 0.2, cbow, rows)
    np.testing.assert_allclose(ku, ru, atol=2e-6)
    np.testing.assert_allclose(kv, rv, atol=2e-6)
    pairs = sum(1 for row in contexts if (row >= 0).any()) if cbow else int((contexts >= 0).sum())
    assert n == pairs and total > 0


def test_a_saturated_row_is_left_as_it_is():
    # gensim skips a row whose score is beyond +-6 (where its sigmoid table ends); the loss still counts it
    q = np.zeros(V)
    q[5] = 1.0
    keep, alias = alias_table(q)
    u, v = np.zeros((V, D), np.float32), np.zeros((V, D), np.float32)
    u[3], v[4], v[5] = 1.0, 2.0, 0.1  # pair (input 3, target 4): score 12; noise word 5: score 0.6
    ku, kv = u.copy(), v.copy()
    set_threads(1)
    total, n = train_batch(ku, kv, np.array([4]), np.array([[3]]), 0.5, False, 1, keep, alias, *NO_TREE, 0, 1)
    np.testing.assert_array_equal(kv[4], v[4])  # saturated: untouched
    assert not np.allclose(kv[5], v[5]) and not np.allclose(ku[3], u[3])  # the noise row trains
    expected = np.log1p(np.exp(-12.0)) + np.log1p(np.exp(0.6))  # -log sigma(12) - log sigma(-0.6)
    assert total == pytest.approx(expected, rel=1e-5) and n == 1


def test_alias_table_is_exact_and_draws_follow_q():
    probs = (COUNTS.double() ** 0.75).numpy()
    probs /= probs.sum()
    keep, alias = alias_table(probs)
    implied = keep.copy()
    np.add.at(implied, alias, 1.0 - keep)
    np.testing.assert_allclose(implied / len(probs), probs, atol=1e-12)
    state, n = 12345, 60_000
    draws = np.zeros(len(probs))
    for _ in range(n):
        word, state = _draw(state, keep, alias)
        draws[word] += 1
    se = np.sqrt(probs * (1 - probs) / n)
    assert (np.abs(draws / n - probs) <= 5 * se + 1e-12).all()  # 5 standard errors, every word
    assert draws[:2].sum() == 0  # words with q = 0 are never drawn


def test_threads_give_the_same_result_as_one_thread_on_disjoint_rows():
    # chunks that share no word cannot race: two threads equal one
    centres = np.array([2, 3, 4, 5, 6, 7, 8, 9])
    contexts = np.array([[3, -1], [2, -1], [5, -1], [4, -1], [7, -1], [6, -1], [9, -1], [8, -1]])
    contexts = np.where(np.arange(8)[:, None] < 4, contexts, contexts)  # chunk 1: words 2-5, chunk 2: words 6-9
    points, codes, lengths = (t.numpy() for t in huffman_tree(torch.ones(V)))
    u, v = start()
    v = v[: V - 1]
    outs = []
    for threads in (1, 2):
        set_threads(threads)
        ku, kv = u.copy(), np.zeros_like(v)
        train_batch(ku, kv, centres[:4], contexts[:4], 0.1, False, 0, *NO_NOISE, points, codes, lengths, 0, threads)
        outs.append(ku)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_per_pair_skip_gram_learns_pmi_minus_log_k(tmp_path):
    # as tests/models/test_skip_gram.py for the autograd path: with unigram noise (alpha = 1) the optimum of
    # <u_x, v_y> is log(#(x, y) / (#x q(y))) - log k; here reached by word2vec's own per-pair SGD
    k = 5
    markov_corpus(tmp_path / "corpus.txt")
    data = SkipGramData(str(tmp_path / "corpus.txt"), min_count=1, sample=0.0, window=1, batch_size=10 ** 6)
    data.setup("cpu")
    b = data.train_batch(Progress(0, 0, 0, 1, 1))
    x, y = b["x"].numpy(), b["y"].numpy()
    counts = data.noise_counts().double()
    q = (counts / counts.sum()).numpy()
    keep, alias = alias_table(q)
    rng = np.random.default_rng(0)
    u = ((rng.random((len(q), 32)) - 0.5) / 32).astype(np.float32)
    v = np.zeros_like(u)
    set_threads(1)
    epochs = 60
    for epoch in range(epochs):
        lr = 0.05 * (1 - epoch / epochs) + 1e-4
        order = rng.permutation(len(x))
        train_batch(u, v, x[order], y[order], lr, False, k, keep, alias, *NO_TREE, epoch, 1)

    pairs = np.zeros((len(q), len(q)))
    rows, cols = np.nonzero(y >= 0)
    np.add.at(pairs, (y[rows, cols], x[rows]), 1.0)  # (input = context word, output = centre), gensim's orientation
    a, c = np.nonzero(pairs >= 40)
    target = np.log(pairs[a, c] / (pairs.sum(1)[a] * q[c])) - math.log(k)
    learned = (u[a] * v[c]).sum(-1)
    assert len(a) > 60
    assert np.corrcoef(learned, target)[0, 1] > 0.95
    assert np.abs(learned - target).mean() < 0.25
