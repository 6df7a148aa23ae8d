"""The adaptive softmax head against its formula written with plain torch ops from the module's own weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import ConfigError
from evaluators.perplexity import PerplexityEvaluator
from losses.adaptive_softmax import AdaptiveSoftmaxLoss, default_cutoffs

V, D, CUTOFFS = 20, 8, [4, 9, 15]  # a shortlist of 4 words, clusters of 5, 6 and 5 words


def head(reduction: str = "mean", head_bias: bool = True) -> AdaptiveSoftmaxLoss:
    torch.manual_seed(0)
    loss = AdaptiveSoftmaxLoss(V, D, cutoffs=CUTOFFS, div_value=2.0, head_bias=head_bias, reduction=reduction)
    if head_bias:
        nn.init.normal_(loss.adaptive.head.bias)
    return loss


def by_hand(loss: AdaptiveSoftmaxLoss, h: torch.Tensor) -> torch.Tensor:
    """``log p(w | h)`` for every word: the shortlist from the head, a cluster's words from the head's cluster entry
    plus the cluster's own log softmax over its projection ``h A_i^T B_i^T``."""
    m = loss.adaptive
    head_lp = F.log_softmax(h @ m.head.weight.t() + (m.head.bias if m.head.bias is not None else 0), -1)
    bounds = [*CUTOFFS, V]
    columns = [head_lp[:, : bounds[0]]]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        proj, out = m.tail[i][0].weight, m.tail[i][1].weight
        assert out.shape == (hi - lo, D // 2 ** (i + 1))
        columns.append(head_lp[:, bounds[0] + i: bounds[0] + i + 1] + F.log_softmax(h @ proj.t() @ out.t(), -1))
    return torch.cat(columns, 1)


def features(n: int = 40, t: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, D, generator=gen).requires_grad_()
    return h, torch.randint(0, V, (n, t), generator=gen)


def test_logits_are_the_formula_and_normalised():
    loss = head()
    h, _ = features()
    logits = loss.logits(h)
    assert logits.shape == (40, V)
    torch.testing.assert_close(logits, by_hand(loss, h))
    torch.testing.assert_close(torch.logsumexp(logits, 1), torch.zeros(40), atol=1e-5, rtol=0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_is_the_nll_of_the_formula(reduction: str):
    loss = head(reduction)
    h, y = features()
    assert {int(c) for c in torch.bucketize(y, torch.tensor(CUTOFFS), right=True).unique()} == {0, 1, 2, 3}
    out = loss.loss(h, y)
    nll = -by_hand(loss, h).gather(1, y)
    expected = nll.mean() if reduction == "mean" else nll.sum()
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(out["nll"], nll.mean().detach())
    assert not out["nll"].requires_grad
    for wrt in (h, loss.adaptive.head.weight, loss.adaptive.tail[2][1].weight):
        torch.testing.assert_close(torch.autograd.grad(out["loss"], wrt, retain_graph=True)[0],
                                   torch.autograd.grad(expected, wrt, retain_graph=True)[0])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_several_targets_per_row_with_padding(reduction: str):
    """A row of targets (a skip-gram window) padded with -1: each real target counts once, with its row's features."""
    loss = head(reduction, head_bias=False)
    h, y = features(n=9, t=4, seed=1)
    y[0, 1:] = -1
    y[3, 2:] = -1
    y[5, 3] = -1
    out = loss.loss(h, y)
    mask = y >= 0
    nll = -by_hand(loss, h).gather(1, y.clamp_min(0))[mask]
    torch.testing.assert_close(out["loss"], nll.mean() if reduction == "mean" else nll.sum())
    torch.testing.assert_close(out["nll"], nll.mean().detach())
    # the same as one target per row, the features repeated
    rows = h.detach().repeat_interleave(4, 0)[mask.flatten()]
    torch.testing.assert_close(out["nll"], loss.loss(rows, y[mask].unsqueeze(1))["nll"])


def test_a_single_target_and_one_dimensional_targets():
    loss = head()
    h, y = features(n=1)
    y[0, 0] = 17  # the last cluster, alone in the batch
    torch.testing.assert_close(loss.loss(h, y)["loss"], -by_hand(loss, h)[0, 17])
    torch.testing.assert_close(loss.loss(h, y[:, 0])["loss"], -by_hand(loss, h)[0, 17])


@pytest.mark.parametrize("cutoffs, says", [([4, 4, 9], "increasing"), ([9, 4], "increasing"),
                                            ([0, 9], r"loss.cutoffs\[0\] must be an integer in \[1, 20\)"),
                                            ([4, 20], r"loss.cutoffs\[1\] must be an integer in \[1, 20\)"),
                                            ([4, 2.5], r"loss.cutoffs\[1\]"), ([], "non-empty list"),
                                            ("4,9", "non-empty list")])
def test_bad_cutoffs_are_one_line(cutoffs, says: str):
    with pytest.raises(ConfigError, match=says) as e:
        AdaptiveSoftmaxLoss(V, D, cutoffs=cutoffs)
    assert "\n" not in str(e.value)


def test_a_projection_of_no_features_is_one_line():
    with pytest.raises(ConfigError, match="cluster 3 .* 0 features") as e:
        AdaptiveSoftmaxLoss(V, D, cutoffs=CUTOFFS, div_value=2.5)
    assert "\n" not in str(e.value)


def test_default_cutoffs_fit_any_vocabulary():
    assert default_cutoffs(52546) == [2000, 10000, 50000]
    assert default_cutoffs(8572) == [2000]
    assert default_cutoffs(2000) == [1000] and default_cutoffs(2) == [1]
    assert AdaptiveSoftmaxLoss(52546, 128).adaptive.cutoffs == [2000, 10000, 50000, 52546]
    assert [seq[0].out_features for seq in AdaptiveSoftmaxLoss(52546, 128).adaptive.tail] == [32, 8, 2]


class Table(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)


@pytest.mark.parametrize("chunk", [3 * V, 10 ** 6])
def test_perplexity_of_the_adaptive_softmax(chunk: int):
    """The evaluator reads the head's logits: its perplexity is exp of the head's own mean NLL, ``log Z`` is 0."""
    torch.manual_seed(0)
    model, loss = Table(), head()
    batches = [{"x": torch.randint(0, V, (3, 5)), "y": torch.randint(0, V, (3, 5))} for _ in range(4)]
    out = PerplexityEvaluator(chunk_elements=chunk).evaluate(model, batches, loss=loss)
    with torch.no_grad():
        nll = sum(float(loss.loss(*loss.features(model, b))["loss"]) * 15 for b in batches) / 60
    assert out["nll"] == pytest.approx(nll, rel=1e-5) and out["ppl"] == pytest.approx(math.exp(nll), rel=1e-5)
    assert abs(out["log_z_mean"]) < 1e-5 and out["log_z_std"] < 1e-5 and out["tokens"] == 60


def test_log_unigram_bias_starts_the_head_as_the_unigram_model():
    """``bias_init=log_unigram``: at ``h = 0`` the head is the unigram model on the shortlist and the clusters' total,
    uniform within each cluster."""
    counts = torch.arange(V, 0, -1, dtype=torch.float64) ** 2
    counts[1] = 0  # a word never seen counts 0.5
    loss = AdaptiveSoftmaxLoss(V, D, cutoffs=CUTOFFS, head_bias=True, bias_init="log_unigram", div_value=2.0)
    loss.set_unigram_bias(counts)
    f = counts.clamp_min(0.5) / counts.clamp_min(0.5).sum()
    bounds = [*CUTOFFS, V]
    expected = torch.cat([f[: CUTOFFS[0]].log()] + [(f[lo:hi].sum() / (hi - lo)).log().expand(hi - lo)
                                                     for lo, hi in zip(bounds, bounds[1:])])
    torch.testing.assert_close(loss.logits(torch.zeros(1, D))[0], expected.float())
    with pytest.raises(ConfigError, match="disagree"):
        loss.set_unigram_bias(counts[:-1])


def test_bias_settings_are_one_line():
    with pytest.raises(ConfigError, match="set loss.head_bias=true"):
        AdaptiveSoftmaxLoss(V, D, bias_init="log_unigram")
    with pytest.raises(ConfigError, match="loss.bias_init='ones' is not one of"):
        AdaptiveSoftmaxLoss(V, D, head_bias=True, bias_init="ones")
    assert not AdaptiveSoftmaxLoss(V, D, head_bias=True).adaptive.head.bias.any()  # zeros
