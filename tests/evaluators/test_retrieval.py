"""Retrieval hit rates on hand-built sets with known answers, against a brute-force reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from evaluators.retrieval import RetrievalEvaluator, rank_by_cosine, retrieval_scores, top_k


def unit(*angles: float) -> torch.Tensor:
    return torch.tensor([[math.cos(a), math.sin(a)] for a in angles])


def test_known_answers_on_a_circle():
    # unit vectors at these angles (radians); groups {0, 1}, {2, 3}, {4, 5}. By angular distance:
    # 0 -> 2 (0.1), 1 (0.25): miss, hit at 2;  1 -> 2 (0.15), 0 (0.25): miss, hit at 2;
    # 2 -> 0 (0.1), 1 (0.15), 3 (1.4): hit at 3;  3 -> 1 (1.25), 2 (1.4): miss, hit at 2;  4 <-> 5 (0.09): hits at 1
    v = unit(0.0, 0.25, 0.1, 1.5, 3.05, 3.14)
    g = torch.tensor([0, 0, 1, 1, 2, 2])
    scores, paraphrase, other = retrieval_scores(v, g, ks=(1, 2, 3))
    assert scores["top1"] == pytest.approx(2 / 6) and scores["top2"] == pytest.approx(5 / 6) and scores["top3"] == 1.0
    expected = torch.tensor([0.25, 0.25, 1.4, 1.4, 0.09, 0.09]).cos()
    torch.testing.assert_close(paraphrase, expected)
    torch.testing.assert_close(other, torch.tensor([0.1, 0.15, 0.1, 1.25, 1.55, 1.64]).cos())
    assert scores["cos_paraphrase"] == pytest.approx(expected.mean().item())


def brute_force(v: torch.Tensor, g: torch.Tensor, k: int) -> float:
    hits = 0
    for i in range(len(v)):
        sims = [(float(v[i] @ v[j]), j) for j in range(len(v)) if j != i]
        sims.sort(reverse=True)
        hits += any(g[j] == g[i] for _, j in sims[:k])
    return hits / len(v)


def test_blocks_equal_the_brute_force_reference():
    torch.manual_seed(0)
    v = F.normalize(torch.randn(203, 8, dtype=torch.float64), dim=1)
    g = torch.randint(60, (203,))
    for block in (1, 17, 1024):
        scores, _, _ = retrieval_scores(v, g, ks=(1, 5, 10), block_size=block)
        for k in (1, 5, 10):
            assert scores[f"top{k}"] == pytest.approx(brute_force(v, g, k), abs=1e-7)


def test_the_query_is_never_its_own_answer():
    v = unit(0.0, 0.0, 0.0, 1.5)  # identical vectors: the query is left out by its index, not by its rank
    g = torch.tensor([0, 1, 1, 0])
    _, indices = top_k(v, v, 3, self_offset=0)
    assert all(i not in row for i, row in enumerate(indices.tolist()))
    same, _, other = rank_by_cosine(v, g, k=2)
    assert not same[0].any()  # 0's two nearest are 1 and 2 (cosine 1, another group); its partner is far
    assert same[1].any() and same[2].any()
    torch.testing.assert_close(other[:3], torch.ones(3))


def test_evaluator_encodes_batches_in_eval_mode():
    class Enc(nn.Module):
        def forward(self, x):
            assert not self.training
            return F.normalize(x.float(), dim=1)

    torch.manual_seed(1)
    x = torch.randn(50, 4)
    y = torch.arange(50) // 2
    batches = [{"x": x[i:i + 7], "y": y[i:i + 7]} for i in range(0, 50, 7)]
    metrics = RetrievalEvaluator().evaluate(Enc(), batches)
    scores, _, _ = retrieval_scores(F.normalize(x, dim=1), y)
    assert metrics["n"] == 50 and metrics["top1"] == scores["top1"] and metrics["top10"] == scores["top10"]
