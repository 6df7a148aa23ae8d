"""Learning-rate schedules against their formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from engine import schedules


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


def test_linear_decays_to_the_final_factor():
    from engine.schedules import linear

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.025)
    sched = linear(opt, total_steps=100, final_factor=0.004)
    lrs = []
    for _ in range(101):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.025) and lrs[50] == pytest.approx(0.025 * (1 - 0.996 * 0.5))
    assert lrs[100] == pytest.approx(0.0001)
