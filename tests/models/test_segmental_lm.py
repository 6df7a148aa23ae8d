"""The segmental language model: segment log-probabilities recomputed step by step, the forward recursion and
Viterbi against enumeration of every segmentation, and chunk edges respected."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from models.segmental_lm import NEVER, SegmentalLM, log_marginal, viterbi


def _segmentations(n: int, k: int):
    """Every segmentation of n characters into segments of at most k, as lists of lengths."""
    for cuts in itertools.product([0, 1], repeat=max(n - 1, 0)):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        lengths = [b - a for a, b in itertools.pairwise(bounds)]
        if max(lengths) <= k:
            yield lengths


def _score(seg: torch.Tensor, lengths: list[int]) -> float:
    t, total = 0, 0.0
    for m in lengths:
        total += float(seg[t, m - 1])
        t += m
    return total


def test_segment_log_prob_equals_the_decoder_step_by_step() -> None:
    torch.manual_seed(0)
    model = SegmentalLM(vocab_size=9, eos_id=2, embed_dim=6, dim=5, max_seg_len=3, dropout=0.0).eval()
    x = torch.tensor([[3, 4, 5, 6, 7, 8]])
    chunk = torch.tensor([[0, 0, 0, 0, 1, 1]])
    seg = model(x, chunk)
    with torch.no_grad():
        context, _ = model.encoder(torch.cat([model.start[None, None], model.embed(x[:, :-1])], dim=1))
        for t in range(6):
            for k in range(1, 4):
                state = (torch.tanh(model.to_decoder(context[:, t]))[None], torch.zeros(1, 1, 5))
                inp, total = model.start[None, None], 0.0
                for j in range(k + 1):
                    out, state = model.decoder(inp, state)
                    log_p = F.log_softmax(model.out(out[0, 0]), dim=-1)
                    if j < k and t + j < 6:
                        total += float(log_p[x[0, t + j]])
                        inp = model.embed(x[:, t + j])[None]
                    else:
                        total += float(log_p[2])
                fits = t + k <= 6 and chunk[0, t] == chunk[0, t + k - 1]
                assert math.isclose(float(seg[0, t, k - 1]), total if fits else NEVER, rel_tol=1e-5, abs_tol=1e-5)


def test_log_marginal_and_viterbi_against_enumeration() -> None:
    torch.manual_seed(1)
    k = 3
    for n in range(1, 8):
        seg = torch.randn(2, 8, k)
        fits = torch.arange(8)[:, None] + torch.arange(1, k + 1)[None] <= n
        seg = seg.masked_fill(~fits, NEVER)
        lengths = torch.tensor([n, n])
        scores = {tuple(s): _score(seg[0], s) for s in _segmentations(n, k)}
        expected = math.log(sum(math.exp(v) for v in scores.values()))
        assert math.isclose(float(log_marginal(seg, lengths)[0]), expected, rel_tol=1e-5)
        assert tuple(viterbi(seg, lengths)[0]) == max(scores, key=scores.get)


def test_segments_stay_inside_their_chunk() -> None:
    torch.manual_seed(2)
    model = SegmentalLM(vocab_size=9, eos_id=2, embed_dim=4, dim=4, max_seg_len=4, dropout=0.0).eval()
    chunk = torch.tensor([[0, 0, 1, 1, 1, 2, -1, -1]])
    x = torch.tensor([[3, 4, 5, 6, 7, 8, 0, 0]])
    with torch.no_grad():
        seg = model(x, chunk)
        cuts = viterbi(seg, torch.tensor([6]))[0]
    edges = {0, 2, 5, 6}
    starts = list(itertools.accumulate([0] + cuts))
    assert edges <= set(starts) and starts[-1] == 6
    assert bool((seg[0, 1, 1:] == NEVER).all()) and bool((seg[0, 6:] == NEVER).all())
