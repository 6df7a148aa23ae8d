"""The Frechet distance against its closed form; class coverage exact; the evaluator's numbers by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from engine.errors import ConfigError
from engine.parts import ModelParts
from evaluators.frechet_distance import FrechetDistanceEvaluator, class_coverage, frechet_distance, last_linear_input
from losses.gan import GANLoss
from losses.vae import VAELoss
from models.small_cnn import SmallCNN


def test_distance_is_zero_for_the_same_data_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    d, n = 8, 20_000
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert frechet_distance(a, b) < 0.01  # two samples of N(0, I): 0 up to sampling error
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = torch.zeros(d)
    shift[0] = 1.0
    assert frechet_distance(a, b + shift) == pytest.approx(1.0, abs=0.03)  # |m1 - m2|^2
    assert frechet_distance(a, b + 3 * shift) == pytest.approx(9.0, abs=0.1)
    # N(0, I) against N(0, 4 I): Tr(I + 4 I - 2 * 2 I) = d
    assert frechet_distance(a, 2 * b) == pytest.approx(float(d), rel=0.02)


def test_class_coverage():
    pred = torch.tensor([0] * 50 + [1] * 30 + [2] * 19 + [3] * 1)
    m = class_coverage(pred, 4, min_share=0.2)  # covered: >= 0.2 * 100 / 4 = 5
    p = torch.tensor([0.5, 0.3, 0.19, 0.01], dtype=torch.float64)
    assert m["classes"] == 3 and m["collapsed"] == 1
    assert m["class_entropy"] == pytest.approx(float(-(p * p.log()).sum()))
    assert class_coverage(torch.arange(10).repeat(10), 10, 0.2) == {"class_entropy": pytest.approx(math.log(10)),
                                                                      "classes": 10.0, "collapsed": 0.0}


def test_features_are_the_last_linear_layers_input():
    torch.manual_seed(0)
    net = SmallCNN(width=4, hidden=16)
    x = torch.randn(3, 1, 28, 28)
    f, logits = last_linear_input(net, x)
    torch.testing.assert_close(f, net.classifier[:-1](net.features(x)))
    torch.testing.assert_close(logits, net(x))


class Flat(nn.Module):
    def __init__(self, a: int, b: int, image: bool) -> None:
        super().__init__()
        self.net, self.image = nn.Linear(a, b), image

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        out = self.net(t.flatten(1))
        return out.view(-1, 1, 28, 28) if self.image else out


def test_evaluator_numbers_by_hand():
    torch.manual_seed(0)
    model = ModelParts({"encoder": Flat(784, 8, False), "generator": Flat(4, 784, True),
                        "classifier": SmallCNN(width=4, hidden=16)}).eval()
    loss = VAELoss(z_dim=4)
    batches = [{"x": torch.rand(50, 1, 28, 28) * 2 - 1, "y": torch.randint(0, 10, (50,))} for _ in range(2)]
    ev = FrechetDistanceEvaluator(samples=300, batch_size=128)
    m = ev.evaluate(model, batches, loss)
    x, y = torch.cat([b["x"] for b in batches]), torch.cat([b["y"] for b in batches])
    with torch.no_grad():
        rec = loss.reconstruct(model, x)
        assert m["recon_mse"] == pytest.approx(float(((rec - x) ** 2).mean()), rel=1e-5)
        assert m["recon_acc"] == pytest.approx(float((model.classifier(rec).argmax(1) == y).double().mean()))
        assert m["classifier_acc"] == pytest.approx(float((model.classifier(x).argmax(1) == y).double().mean()))
        elbo = torch.cat([loss.eval_terms(model, b["x"])["elbo"] for b in batches])
        assert m["elbo"] == pytest.approx(float(elbo.mean()), rel=1e-5)
    assert m["n_samples"] == 300 and m["n_real"] == 100 and m["fd"] > 0 and 0 <= m["class_entropy"] <= math.log(10)
    assert ev.evaluate(model, batches, loss) == m  # fixed z: the same numbers again


def test_real_features_are_embedded_once_per_classifier_and_cached_on_disk(tmp_path):
    torch.manual_seed(0)
    classifier = SmallCNN(width=4, hidden=16)
    model = ModelParts({"generator": Flat(4, 784, True), "discriminator": nn.Linear(784, 1),
                        "classifier": classifier}).eval()
    batches = [{"x": torch.rand(60, 1, 28, 28) * 2 - 1, "y": torch.randint(0, 10, (60,))}]
    seen: list[int] = []
    classifier.register_forward_hook(lambda m, inputs, out: seen.append(len(inputs[0])))
    ev = FrechetDistanceEvaluator(samples=50, cache_dir=str(tmp_path))
    first = ev.evaluate(model, batches, GANLoss(z_dim=4))
    assert sorted(seen) == [50, 60]  # the samples and the real images
    seen.clear()
    assert ev.evaluate(model, batches, GANLoss(z_dim=4)) == first and seen == [50]  # real features from memory
    assert len(list(tmp_path.glob("*.pt"))) == 1
    seen.clear()
    again = FrechetDistanceEvaluator(samples=50, cache_dir=str(tmp_path)).evaluate(model, batches, GANLoss(z_dim=4))
    assert again == first and seen == [50]  # a new run reads them from disk
    with torch.no_grad():
        classifier.classifier[-1].weight.add_(0.1)  # another classifier: another key, embedded anew
    seen.clear()
    ev.evaluate(model, batches, GANLoss(z_dim=4))
    assert sorted(seen) == [50, 60] and len(list(tmp_path.glob("*.pt"))) == 2
    (tmp_path / next(iter(sorted(p.name for p in tmp_path.glob("*.pt"))))).write_bytes(b"torn")
    fresh = FrechetDistanceEvaluator(samples=50, cache_dir=str(tmp_path))
    assert set(fresh.evaluate(model, batches, GANLoss(z_dim=4))) == set(first)  # a torn file is recomputed


def test_gan_without_encoder_and_pixel_features():
    torch.manual_seed(0)
    model = ModelParts({"generator": Flat(4, 784, True), "discriminator": nn.Linear(784, 1)}).eval()
    batches = [{"x": torch.rand(40, 1, 28, 28) * 2 - 1, "y": torch.zeros(40, dtype=torch.int64)}]
    m = FrechetDistanceEvaluator(samples=100, features="pixels", pool_to=4).evaluate(model, batches, GANLoss(z_dim=4))
    assert set(m) == {"fd", "kid", "kid_std", "precision", "recall", "n_samples", "n_real"}
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["kid_std"] >= 0
    with pytest.raises(ConfigError, match="part `classifier`"):
        FrechetDistanceEvaluator(samples=100).evaluate(model, batches, GANLoss(z_dim=4))
    with pytest.raises(ConfigError, match="features"):
        FrechetDistanceEvaluator(features="inception")
