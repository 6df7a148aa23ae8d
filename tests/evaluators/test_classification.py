"""ClassificationEvaluator's metrics by hand, and its media."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from evaluators.classification import ClassificationEvaluator


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



class FirstPixel(nn.Module):
    """Predicts class 0 for every image (logits [1, 0, 0])."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0]).expand(len(x), 3)


class OneBatch:
    classes = ["c0", "c1", "c2"]

    def eval_batches(self, split):
        images = torch.arange(24.0).view(6, 1, 2, 2)
        yield {"x": images, "y": torch.tensor([0, 1, 2, 0, 1, 2])}


def test_media_misclassified_and_confusion():
    evaluator = ClassificationEvaluator(max_images=3)
    evaluator.setup(OneBatch())
    assert evaluator.class_names == ["c0", "c1", "c2"]  # null in the config: the data's names
    media = evaluator.media(FirstPixel(), OneBatch(), "test")
    wrong = media.images["misclassified"]  # 4 wrong (labels 1, 2, 1, 2), the first 3 kept, each scaled to [0, 1]
    assert wrong.shape == (3, 1, 2, 2) and wrong.amin(dim=(1, 2, 3)).tolist() == [0, 0, 0]
    assert wrong.amax(dim=(1, 2, 3)).tolist() == [1, 1, 1]
    rates = media.figures["confusion"].axes[0].images[0].get_array()
    assert rates[:, 0].tolist() == [1.0, 1.0, 1.0] and float(rates[:, 1:].sum()) == 0.0  # every row predicted c0


def test_expected_calibration_error_by_hand():
    from evaluators.classification import calibration

    # confidences 0.9, 0.75, 0.55, 0.35 (top class 0 each); right, wrong, right, right
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.75, 0.25, 0.0], [0.55, 0.45, 0.0], [0.35, 0.33, 0.32]])
    y = torch.tensor([0, 1, 0, 0])
    ece, count, acc, conf = calibration(probs, y, bins=5)
    # bins (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]: 0.35 -> 2nd, 0.55 -> 3rd, 0.75 -> 4th, 0.9 -> 5th
    assert count.tolist() == [0, 1, 1, 1, 1]
    expected = (abs(1 - 0.35) + abs(1 - 0.55) + abs(0 - 0.75) + abs(1 - 0.9)) / 4
    assert ece == pytest.approx(expected, rel=1e-6)
    assert math.isnan(acc[0]) and conf[4] == pytest.approx(0.9)
    m = ClassificationEvaluator(ece_bins=5).evaluate(Fixed(probs.log()), [{"x": torch.arange(4), "y": y}])
    assert m["ece"] == pytest.approx(expected, rel=1e-6)
    assert ClassificationEvaluator().ece_bins == 15
    # a confidence exactly on an edge belongs to the bin it closes: 0.7 (float64) in (0.6, 0.7] of 10 bins
    _, count, _, _ = calibration(torch.tensor([[0.7, 0.3]], dtype=torch.float64), torch.tensor([0]), bins=10)
    assert count.tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
