"""Sampled softmax against its formula: a softmax over the target and k noise words, scores minus log(k q)."""

from __future__ import annotations

import math

import pytest
import torch
from heads import COUNTS, D, V, features, unit_noise_probs, with_fixed_noise

from losses.sampled_softmax import SampledSoftmaxLoss


@pytest.mark.parametrize("shared", [False, True])
def test_sampled_softmax_is_its_formula(shared: bool):
    torch.manual_seed(0)
    k = 6
    head = SampledSoftmaxLoss(V, D, k=k, alpha=0.75, shared=shared)
    torch.nn.init.normal_(head.bias)
    head.set_noise(COUNTS)
    h, y = features(n=9)
    noise = torch.randint(2, V, (k,) if shared else (len(y), k))
    noise_rows = noise.expand(len(y), -1) if shared else noise
    loss = with_fixed_noise(head, noise).loss(h, y)["loss"]
    q = unit_noise_probs(0.75).float()
    W, b = head.weight, head.bias
    expected = []
    for i in range(len(y)):  # one target at a time, as the formula reads
        pos = h[i] @ W[y[i]] + b[y[i]] - math.log(k) - q[y[i]].log()
        terms = [pos]
        for w in noise_rows[i]:
            if w != y[i]:  # accidental hits left out
                terms.append(h[i] @ W[w] + b[w] - math.log(k) - q[w].log())
        expected.append(torch.logsumexp(torch.stack(terms), 0) - pos)
    torch.testing.assert_close(loss, torch.stack(expected).mean())
    assert (noise_rows == y[:, None]).any(), "the draw should include an accidental hit, to test their removal"


def test_sampled_softmax_approaches_the_full_softmax_as_k_grows():
    """With q uniform and k -> infinity, sum_j exp(s_j - log(k q_j)) -> sum_w exp s_w = Z, so the loss
    log(e^{l_y} + Z) - l_y, l_y = s_y - log(k q_y), tends to the full NLL plus the constant log(k q_y)."""
    torch.manual_seed(0)
    head = SampledSoftmaxLoss(V, D, k=200000, alpha=0.0, remove_hits=False)
    head.set_noise(torch.ones(V, dtype=torch.float64))
    h, y = features(n=1)
    full = torch.nn.functional.cross_entropy(head.logits(h), y)
    sampled = head.loss(h, y)["loss"]
    offset = math.log(200000 / V)  # log(k q_y): no parameter in it, so the gradients agree
    assert abs(sampled.item() - offset - full.item()) < 0.02


def test_several_targets_per_row_are_each_softmaxed_against_the_rows_noise():
    torch.manual_seed(0)
    k = 4
    head = SampledSoftmaxLoss(V, D, k=k, reduction="mean")
    head.set_noise(COUNTS)
    h, _ = features(n=3)
    y = torch.tensor([[2, 5], [3, -1], [7, 8]])
    noise = torch.tensor([[5, 4, 4, 9], [2, 3, 6, 6], [11, 10, 8, 2]])  # hits: 5 in row 0, 3 in row 1, 8 in row 2
    loss = with_fixed_noise(head, noise).loss(h, y)["loss"]
    singles = []
    for i in range(3):
        for t in y[i][y[i] >= 0]:
            singles.append(with_fixed_noise(head, noise[i:i + 1]).loss(h[i:i + 1], t.view(1))["loss"])
    torch.testing.assert_close(loss, torch.stack(singles).mean())
