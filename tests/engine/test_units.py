"""Small parts against their formulas: schedules, evaluator metrics, models, seeds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from engine import schedules
from engine.seeding import seed_everything, stream_seed
from evaluators.classification import ClassificationEvaluator
from models.preact_resnet18 import PreActResNet18
from models.small_cnn import SmallCNN


def lrs(make, steps: int) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched, out = make(opt, total_steps=steps), []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_schedule_formula():
    got = lrs(lambda o, total_steps: schedules.cosine(o, total_steps, warmup_steps=10, final_factor=0.1), 110)
    assert got[:10] == pytest.approx([0.1 * (i + 1) / 10 for i in range(10)])
    for s in (10, 35, 60, 109):
        t = (s - 10) / 100
        assert got[s] == pytest.approx(0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))))


def test_multistep_is_the_mixup_paper_schedule():
    got = lrs(lambda o, total_steps: schedules.multistep(o, total_steps), 200)  # one step per "epoch"
    assert got[99] == pytest.approx(0.1) and got[100] == pytest.approx(0.01)
    assert got[149] == pytest.approx(0.01) and got[150] == pytest.approx(0.001) and got[199] == pytest.approx(0.001)


class Fixed(nn.Module):
    """Returns the logits stored for each input id."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x.long()]


def test_classification_metrics_by_hand():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    y = torch.tensor([0, 1, 1, 2, 1])
    batches = [{"x": torch.arange(0, 3), "y": y[:3]}, {"x": torch.arange(3, 5), "y": y[3:]}]
    m = ClassificationEvaluator(["a", "b", "c"]).evaluate(Fixed(logits), batches)
    # by hand: predictions 0, 1, 2, 0, 1 -> right, right, wrong, wrong, right
    assert m["acc"] == pytest.approx(3 / 5)
    nll = [-math.log(math.exp(lg[t]) / sum(math.exp(v) for v in lg)) for lg, t in zip(logits.tolist(), y.tolist())]
    assert m["nll"] == pytest.approx(sum(nll) / 5, rel=1e-6)
    assert m["acc_class/0_a"] == 1.0 and m["acc_class/1_b"] == pytest.approx(2 / 3) and m["acc_class/2_c"] == 0.0


def test_preact_resnet18_size_and_shapes():
    # the mixup paper's CIFAR PreAct ResNet-18 has 11.17M parameters
    assert sum(p.numel() for p in PreActResNet18(10, 3, 64).parameters()) == 11_171_146
    for channels, side in ((1, 28), (3, 32)):
        out = PreActResNet18(10, channels, 16)(torch.randn(2, channels, side, side))
        assert out.shape == (2, 10)
    assert SmallCNN(10, 1)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_seeds():
    seed_everything(0)
    a = torch.rand(3)
    seed_everything(0)
    assert torch.equal(a, torch.rand(3))  # 0 is a seed like any other
    seed_everything(1)
    assert not torch.equal(a, torch.rand(3))
    seeds = {stream_seed(s, e, i) for s in range(3) for e in range(10) for i in range(100)}
    assert len(seeds) == 3000 and all(0 <= s < 2**63 for s in seeds)
    assert stream_seed(0, 1) != stream_seed(1, 0)
