"""Mode coverage on hand-placed 2-D samples is exact; the evaluator scores a generator through the loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from datasets.gaussian_mixture import GaussianMixtureData, mixture_centers
from engine.errors import ConfigError
from engine.parts import ModelParts
from evaluators.mode_coverage import ModeCoverageEvaluator, mode_coverage
from losses.gan import GANLoss


def test_hand_placed_samples():
    centers = mixture_centers("ring")  # 8 modes, radius 2
    std = 0.02
    # 100 samples: 40 on mode 0, 30 on mode 1, 10 on mode 2 just inside 3 std, 2 on mode 3, 3 on mode 4 just
    # outside 3 std, 15 far from every mode
    inside, outside = torch.tensor([0.0599, 0.0]), torch.tensor([0.0, 0.0601])
    on = ([centers[0]] * 40 + [centers[1]] * 30 + [centers[2] + inside] * 10 + [centers[3]] * 2
          + [centers[4] + outside] * 3)
    samples = torch.stack(on + [torch.zeros(2)] * 15)
    m = mode_coverage(samples, centers, std, min_share=0.2)  # covered: >= 0.2 * 100 / 8 = 2.5 samples
    assert m["hq"] == pytest.approx(0.82)
    assert m["modes"] == 4  # PacGAN's count: one high-quality sample captures a mode (mode 3 with 2)
    assert m["modes_covered"] == 3 and m["collapsed"] == 1 and m["all_modes"] == 0  # mode 3 is below 2.5; 3 < 8 / 2
    p = torch.tensor([40, 30, 10, 2], dtype=torch.float64) / 82
    assert m["kl"] == pytest.approx(float((p * (p * 8).log()).sum()))  # reverse KL to uniform, high quality only
    m = mode_coverage(samples, centers, std, min_share=1.0)  # >= 12.5 samples: modes 0 and 1 only
    assert m["modes_covered"] == 2 and m["collapsed"] == 1 and m["modes"] == 4
    assert mode_coverage(torch.zeros(5, 2), centers, std)["kl"] == pytest.approx(math.log(8))


def test_all_modes_and_one_mode():
    centers = mixture_centers("grid")
    every = mode_coverage(centers.repeat(4, 1), centers, 0.05)
    assert every == {"hq": 1.0, "modes": 25.0, "kl": pytest.approx(0.0, abs=1e-12), "modes_covered": 25.0,
                     "collapsed": 0.0, "all_modes": 1.0}
    one = mode_coverage(centers[7:8].repeat(100, 1) + 0.1, centers, 0.05)  # 0.14 from mode 7: within 0.15
    assert one == {"hq": 1.0, "modes": 1.0, "kl": pytest.approx(math.log(25)), "modes_covered": 1.0,
                   "collapsed": 1.0, "all_modes": 0.0}


def test_uniform_draws_cover_the_grid():
    data = GaussianMixtureData("grid", batch_size=2500)
    data.setup()
    x = data.sample(2500, torch.Generator().manual_seed(0))
    m = mode_coverage(x, data.centers, data.std)
    assert m["modes"] == 25 and m["modes_covered"] == 25 and m["all_modes"] == 1
    assert m["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.0065)  # P(|N(0, I_2)| <= 3) in 2-D, +- 3 s.e.
    assert m["kl"] < 0.02


def test_evaluator_scores_the_generator():
    data = GaussianMixtureData("ring", eval_size=10)
    data.setup()
    ev = ModeCoverageEvaluator(samples=800)
    ev.setup(data)
    collapsed = ModelParts({"generator": nn.Linear(16, 2), "discriminator": nn.Linear(2, 1)})
    with torch.no_grad():
        collapsed.generator.weight.zero_()
        collapsed.generator.bias.copy_(data.centers[3])  # every z onto mode 3
    m = ev.evaluate(collapsed, data.eval_batches("val"), GANLoss(z_dim=16))
    assert m == {"hq": 1.0, "modes": 1.0, "kl": pytest.approx(math.log(8)), "modes_covered": 1.0, "collapsed": 1.0,
                 "all_modes": 0.0}
    assert "samples" in ev.media(collapsed, data, "val", GANLoss(z_dim=16)).figures
    with pytest.raises(ConfigError, match="generative"):
        ev.evaluate(collapsed, data.eval_batches("val"), None)


def test_a_mixture_without_modes_is_refused():
    with pytest.raises(ConfigError, match="data.modes=0"):
        GaussianMixtureData("ring", modes=0)
    ev = ModeCoverageEvaluator()

    class NoModes:
        centers, std = torch.zeros(0, 2), 0.1

    with pytest.raises(ConfigError, match="no modes"):
        ev.setup(NoModes())
