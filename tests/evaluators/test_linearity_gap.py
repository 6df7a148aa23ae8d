"""The linearity gap: zero for an affine model, the formula by hand for a non-linear one, fixed pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from evaluators.linearity_gap import LinearityGapEvaluator, fixed_pairs
from losses.mixup import MixupLoss


def split(n: int = 40, batch: int = 16) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, 1, 3, 3, generator=g), torch.randint(4, (n,), generator=g)
    return [{"x": x[i : i + batch], "y": y[i : i + batch]} for i in range(0, n, batch)]


def test_an_affine_model_has_no_logit_gap_and_a_non_linear_one_has():
    torch.manual_seed(0)
    affine = nn.Sequential(nn.Flatten(), nn.Linear(9, 4))
    batches = split()
    m = LinearityGapEvaluator(pairs=30).evaluate(affine, batches)
    assert m["gap_logits"] < 1e-6  # zero up to float32 rounding (logits of size ~1)
    assert m["gap_softmax"] > 1e-3  # softmax of affine logits is not affine
    relu = nn.Sequential(nn.Flatten(), nn.Linear(9, 32), nn.ReLU(), nn.Linear(32, 4))
    assert LinearityGapEvaluator(pairs=30).evaluate(relu, batches)["gap_logits"] > 1e-3


def test_gap_and_mixed_scores_by_hand():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(9, 8), nn.Tanh(), nn.Linear(8, 4))
    batches = split()
    m = LinearityGapEvaluator(pairs=25, pair_seed=3).evaluate(f, batches)
    x, y = torch.cat([b["x"] for b in batches]), torch.cat([b["y"] for b in batches])
    a, b, lam = fixed_pairs(len(y), 25, 3)
    gaps, soft_gaps, hits, nll = [], [], [], []
    with torch.no_grad():
        for i, j, w in zip(a.tolist(), b.tolist(), lam.tolist()):
            mixed = f((w * x[i] + (1 - w) * x[j])[None])[0].double()
            fa, fb = f(x[i][None])[0].double(), f(x[j][None])[0].double()
            gaps.append(math.dist(mixed.tolist(), (w * fa + (1 - w) * fb).tolist()))
            pm, pa, pb = mixed.softmax(0), fa.softmax(0), fb.softmax(0)
            soft_gaps.append(math.dist(pm.tolist(), (w * pa + (1 - w) * pb).tolist()))
            hits.append(int(mixed.argmax()) == (int(y[i]) if w >= 0.5 else int(y[j])))
            nll.append(-(w * math.log(pm[y[i]]) + (1 - w) * math.log(pm[y[j]])))
    n = len(gaps)
    mean = sum(gaps) / n
    se = math.sqrt(sum((g - mean) ** 2 for g in gaps) / (n - 1) / n)
    assert m["gap_logits"] == pytest.approx(mean, rel=1e-5)
    assert m["gap_logits_se"] == pytest.approx(se, rel=1e-4)
    assert m["gap_softmax"] == pytest.approx(sum(soft_gaps) / n, rel=1e-5)
    assert m["mixed_acc"] == pytest.approx(sum(hits) / n)
    assert m["mixed_nll"] == pytest.approx(sum(nll) / n, rel=1e-5)


def test_pairs_are_fixed_and_do_not_depend_on_batching():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(9, 8), nn.ReLU(), nn.Linear(8, 4))
    ev = LinearityGapEvaluator(pairs=1000)  # more pairs than examples: one per example
    first, again, rebatched = ev.evaluate(f, split()), ev.evaluate(f, split()), ev.evaluate(f, split(batch=7))
    assert first == again
    assert first["gap_logits"] == pytest.approx(rebatched["gap_logits"], rel=1e-6)
    a, b, lam = fixed_pairs(40, 1000, 0)
    assert len(a) == 40 and sorted(a.tolist()) == list(range(40)) and bool(((0 <= lam) & (lam < 1)).all())


class Images:
    classes = ["c0", "c1", "c2", "c3"]

    def train_batch(self, progress):
        return split(40, 40)[0]

    def eval_batches(self, split_name):
        return iter(split())


def test_media_shows_training_inputs_as_the_loss_mixes_them():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(9, 4))
    ev = LinearityGapEvaluator(mixed_images=10)
    ev.setup(Images())
    state, numpy_state = torch.get_rng_state(), np.random.get_state()
    media = ev.media(f, Images(), "val", loss=MixupLoss())
    assert torch.equal(torch.get_rng_state(), state)  # the run's random streams are untouched
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    assert len([ax for ax in media.figures["mixed_inputs"].axes if ax.images]) == 10
    assert {"confusion", "reliability"} <= set(media.figures)
    assert "mixed_inputs" not in ev.media(f, Images(), "val", loss=None).figures
