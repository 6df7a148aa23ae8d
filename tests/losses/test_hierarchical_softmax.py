"""Hierarchical softmax: a Huffman tree (optimal code lengths) and p(w | h) = prod_j sigma(+-<h, v_nj>), by hand."""

from __future__ import annotations

import pytest
import torch
from heads import COUNTS, D, V, features

from engine.errors import ConfigError
from losses.hierarchical_softmax import HierarchicalSoftmaxLoss, huffman_tree


def test_huffman_code_lengths_are_the_textbook_ones():
    # the classic example: frequencies 45, 13, 12, 16, 9, 5 give code lengths 1, 3, 3, 3, 4, 4 (224 bits)
    counts = torch.tensor([5.0, 9, 12, 13, 16, 45])
    points, codes, lengths = huffman_tree(counts)
    assert lengths.tolist() == [4, 4, 3, 3, 3, 1]
    assert float((counts * lengths).sum()) == 224
    assert float((2.0 ** -lengths.double()).sum()) == 1.0  # Kraft: a full binary tree
    words = {tuple(codes[w, : lengths[w]].tolist()) for w in range(6)}
    assert len(words) == 6  # distinct codes ...
    assert all(a[: len(b)] != b for a in words for b in words if a != b and len(b) < len(a))  # ... and prefix-free
    assert (points[:, 0] == 4).all()  # every path starts at the root, inner node V - 2


def test_probabilities_are_the_product_along_the_path_and_sum_to_one():
    torch.manual_seed(0)
    head = HierarchicalSoftmaxLoss(V, D, reduction="sum")
    head.set_tree(COUNTS)
    torch.nn.init.normal_(head.weight)
    h, y = features()
    points, codes, lengths = huffman_tree(COUNTS)
    expected = torch.zeros(len(y))
    for i, w in enumerate(y.tolist()):
        for j in range(int(lengths[w])):
            f = h[i] @ head.weight[points[w, j]]
            expected[i] -= torch.log(torch.sigmoid(f) if codes[w, j] == 0 else 1 - torch.sigmoid(f))
    torch.testing.assert_close(head.loss(h, y)["loss"], expected.sum())
    logits = head.logits(h)
    torch.testing.assert_close(torch.logsumexp(logits, -1), torch.zeros(len(y)), atol=1e-5, rtol=0)
    torch.testing.assert_close(-logits.gather(1, y[:, None]).squeeze(1), expected)


def test_gradient_is_word2vecs():
    # word2vec / gensim: g = (1 - code - sigma(f)) for each node of the path; the loss's gradient is -g h
    head = HierarchicalSoftmaxLoss(V, D, reduction="sum")
    head.set_tree(COUNTS)
    torch.nn.init.normal_(head.weight)
    h, y = features(n=1)
    head.loss(h, y)["loss"].backward()
    points, codes, lengths = huffman_tree(COUNTS)
    w = int(y[0])
    for j in range(int(lengths[w])):
        node = points[w, j]
        g = 1 - codes[w, j] - torch.sigmoid(h[0] @ head.weight[node])
        torch.testing.assert_close(head.weight.grad[node], (-g * h[0]).detach())


def test_padding_and_mean():
    head = HierarchicalSoftmaxLoss(V, D)
    head.set_tree(COUNTS)
    torch.nn.init.normal_(head.weight)
    h, y = features()
    rows = torch.stack([y, torch.full_like(y, -1)], 1)  # two targets per row, the second absent
    torch.testing.assert_close(head.loss(h, rows)["loss"], head.loss(h, y)["loss"])
    summed = HierarchicalSoftmaxLoss(V, D, reduction="sum")
    summed.load_state_dict(head.state_dict())
    summed.set_tree(COUNTS)
    torch.testing.assert_close(summed.loss(h, y)["loss"], head.loss(h, y)["loss"] * len(y))


def test_word2vec_starts_from_zero_vectors_and_a_wrong_count_vector_is_refused():
    head = HierarchicalSoftmaxLoss(V, D)
    assert head.weight.shape == (V - 1, D) and head.weight.abs().sum() == 0 and head.bias is None
    with pytest.raises(ConfigError, match="vocabulary of 12"):
        head.set_tree(torch.ones(5))


def test_the_tree_walk_of_every_word_equals_each_words_path():
    # logits walks the tree once per row; path_log_probs sums each word's own path (the loss's way)
    torch.manual_seed(1)
    v = 300
    head = HierarchicalSoftmaxLoss(v, D, bias=True, init="normal")
    head.set_tree(torch.arange(1, v + 1).double().pow(-1.0))  # Zipfian counts: a deep, unbalanced tree
    torch.nn.init.normal_(head.bias)
    h = torch.randn(4, D)
    every = torch.arange(v).expand(4, -1)
    torch.testing.assert_close(head.logits(h), head.path_log_probs(h, every), atol=1e-5, rtol=1e-5)


def test_target_nll_is_the_full_softmax_of_the_logits():
    from losses.output_head import full_softmax_nll

    head = HierarchicalSoftmaxLoss(V, D, init="normal")
    head.set_tree(COUNTS)
    h, y = features()
    rows = torch.stack([y, torch.full_like(y, -1)], 1)
    nll, mask = head.target_nll(h, rows)
    expected, expected_mask, _ = full_softmax_nll(head.logits(h), rows)
    torch.testing.assert_close(nll, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(mask, expected_mask)
