"""Negative sampling is word2vec's loss: -log s(<h, v_y>) - sum_j log s(-<h, v_nj>), no bias, no gamma, no log(k q)."""

from __future__ import annotations

import torch
from heads import COUNTS, D, V, features, with_fixed_noise

from losses.negative_sampling import NegativeSamplingLoss


def test_negative_sampling_is_word2vecs_loss():
    torch.manual_seed(0)
    head = NegativeSamplingLoss(V, D, k=5, reduction="sum")
    torch.nn.init.normal_(head.weight)
    head.set_noise(COUNTS)
    h, y = features()
    noise = torch.randint(2, V, (len(y), 5))
    loss = with_fixed_noise(head, noise).loss(h, y)["loss"]
    pos = (h * head.weight[y]).sum(-1)
    neg = (h[:, None] * head.weight[noise]).sum(-1)
    expected = (-torch.sigmoid(pos).log() - torch.sigmoid(-neg).log().sum(-1)).sum()
    torch.testing.assert_close(loss, expected)
    assert head.bias is None and "gamma" not in dict(head.named_parameters())


def test_output_vectors_start_at_zero_and_sparse_gradients_are_sparse():
    head = NegativeSamplingLoss(V, D, sparse=True)
    assert head.weight.abs().sum() == 0
    head.set_noise(COUNTS)
    h, y = features()
    head.loss(h, y)["loss"].backward()
    assert head.weight.grad.is_sparse
