"""Perplexity is exp of the mean full-softmax NLL, whatever the head, in any chunking."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import ConfigError
from evaluators.perplexity import PerplexityEvaluator
from losses.nce import NCELoss


class Table(nn.Module):
    """Features straight from a table: h = E[x]."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)


@pytest.mark.parametrize("chunk", [7, 10 ** 6])
def test_perplexity_is_exp_of_the_full_softmax_nll(chunk: int):
    torch.manual_seed(0)
    V, D = 30, 6
    model, head = Table(V, D), NCELoss(V, D, gamma=0.7)
    nn.init.normal_(head.bias)
    batches = [{"x": torch.randint(0, V, (3, 5)), "y": torch.randint(0, V, (3, 5))} for _ in range(4)]
    out = PerplexityEvaluator(chunk_elements=chunk).evaluate(model, batches, loss=head)
    h = torch.cat([model(b["x"]).reshape(-1, D) for b in batches])
    y = torch.cat([b["y"].reshape(-1) for b in batches])
    logits = h @ head.weight.t() + head.bias
    nll = F.cross_entropy(logits, y).item()
    assert out["nll"] == pytest.approx(nll, rel=1e-5) and out["ppl"] == pytest.approx(math.exp(nll), rel=1e-5)
    assert out["top1"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert out["log_z_mean"] == pytest.approx(torch.logsumexp(logits, 1).mean().item(), rel=1e-5)
    assert out["tokens"] == 60 and out["gamma"] == pytest.approx(0.7)


def test_perplexity_needs_an_output_head():
    with pytest.raises(ConfigError, match="output head"):
        PerplexityEvaluator().evaluate(Table(3, 2), [], loss=None)


def test_eval_restores_the_trained_biases_not_the_unigram_start(tmp_path):
    """``bias_init=log_unigram`` is applied by the loss's setup, before a checkpoint loads: restore keeps the trained ones."""
    from conftest import smoke_cfg

    from engine.evaluation import restore
    from train import train

    train(smoke_cfg("lm_nce", "optim.lr=0.05"), tmp_path)
    run = restore(tmp_path / "best.pt", torch.device("cpu"))
    trained = torch.load(tmp_path / "best.pt", weights_only=True)["loss"]["bias"]
    torch.testing.assert_close(run.loss.bias.detach(), trained)
    counts = run.data.noise_counts()
    start = (counts.clamp_min(0.5) / counts.sum()).log().float()
    assert not torch.allclose(trained, start), "training moved the biases"
