"""The fit evaluator's numbers, recomputed by hand, and its figure."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from datasets.trajectory_data import pad_trajectories
from engine.errors import ConfigError
from evaluators.trajectory_fit import TrajectoryFitEvaluator
from losses.gaussian_nll import GaussianNLLLoss
from models.mass_action_field import MassActionField
from models.ode_model import ODEModel


class Line(nn.Module):
    """x(t) = x0 + k t, with one named parameter k."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k))

    def parameter_values(self):
        return {"k": float(self.k)}

    def forward(self, x0, t):
        return x0[:, None, :] + self.k * (t - t[:, :1])[..., None]


class Data:
    species = ["A"]
    true_parameters = {"k": 2.0}

    def __init__(self):
        t = [torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 3.0])]
        y = [torch.tensor([[1.0], [3.5], [5.0]]), torch.tensor([[0.0], [float("nan")]])]
        self.split = pad_trajectories(t, y, [~torch.isnan(v) for v in y], torch.tensor([[1.0], [0.0]]))

    def eval_batches(self, split):
        yield self.split


def test_metrics_by_hand():
    data, evaluator = Data(), TrajectoryFitEvaluator()
    evaluator.setup(data)
    metrics = evaluator.evaluate(Line(2.5), data.eval_batches("val"))
    # observed: trajectory 0 at t = 1 (3.5 vs 3.5) and t = 2 (5.0 vs 6.0); trajectory 1 has nothing observed
    assert metrics["mse"] == pytest.approx((0.0 + 1.0) / 2)
    assert metrics["sse"] == pytest.approx(1.0 / 2)  # summed per trajectory, averaged over the 2 trajectories
    assert metrics["param/k"] == 2.5 and metrics["param_rel_error/k"] == pytest.approx(0.25)
    assert metrics["param_max_rel_error"] == pytest.approx(0.25) and "mse_clean" not in metrics
    assert evaluator.monitor in metrics and evaluator.mode == "min"
    likelihood = GaussianNLLLoss(1, sigma=None)
    with torch.no_grad():
        likelihood.log_sigma.fill_(math.log(3.0))
    metrics = evaluator.evaluate(Line(2.5), data.eval_batches("val"), loss=likelihood)
    assert metrics["sigma/A"] == pytest.approx(3.0)


def test_the_fit_figure():
    data, evaluator = Data(), TrajectoryFitEvaluator(num_plotted=2, points_per_curve=11)
    evaluator.setup(data)
    media = evaluator.media(Line(2.0), data, "val")
    fig = media.figures["fit"]
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_title() == "A"
    x, y = ax.lines[0].get_data()
    assert len(x) == 11 and y[-1] == pytest.approx(1.0 + 2.0 * 2.0)


def test_data_and_model_that_do_not_match_are_one_line():
    evaluator = TrajectoryFitEvaluator()
    wrong = Data()
    wrong.true_parameters = {"k": 2.0, "kk": 1.0}
    evaluator.setup(wrong)
    with pytest.raises(ConfigError, match=r"names \['kk'\], which the model does not have"):
        evaluator.evaluate(Line(2.5), wrong.eval_batches("val"))
    wrong.true_parameters = {"k": 0.0}
    with pytest.raises(ConfigError, match="non-zero"):
        evaluator.setup(wrong)
    data = Data()
    evaluator.setup(data)
    field = MassActionField("gene_expression")  # species M, P: the data's is A
    model = ODEModel(field, "cell", "euler", 0.1)
    with pytest.raises(ConfigError, match="not the vector field's"):
        evaluator.evaluate(model, data.eval_batches("val"))
