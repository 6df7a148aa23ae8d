"""Sample quality of an image generator: Frechet distance, KID and precision / recall in a trained classifier's
features, class coverage, reconstruction error and the ELBO (kexue.fm/archives/5716's families: VAE, GAN, AAE, ALI).

- ``fd``: the Frechet distance (Heusel et al. 2017) between Gaussians fitted to features of ``samples``
  generator samples ``G(z)`` (``z`` fixed by ``sample_seed``) and of every image of the split:
  ``|m_1 - m_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))``; ``kid`` and ``kid_std``: the kernel distance (unbiased
  MMD^2, cubic polynomial kernel, ``kid_subsets`` subsets of ``kid_subset_size``); ``precision`` and ``recall``:
  Kynkaanniemi et al.'s with ``pr_k`` = 3 nearest neighbours. All computed by torch-fidelity
  (evaluators/image_metrics.py) in the features below. ``features: classifier``: the input of the last
  linear layer of the model part ``classifier``, a Fashion-MNIST classifier the project trains
  (``experiment=fmnist_classifier``), loaded frozen with ``trainer.parts.classifier.init_from``. It is
  **not** the Inception FID and is not comparable with published FIDs. ``features: pixels``: the images
  average-pooled to ``pool_to`` x ``pool_to`` (for data without a classifier, such as CelebA).
- The real split's features are cached per extractor (a hash of the classifier's weights) and per set of
  real images, in memory and under ``cache_dir``, so validation embeds the real images once.
- with a classifier: ``class_entropy`` (nats) of the histogram of predicted classes over the samples
  (``log K`` = all classes equally often), ``classes`` covered (at least ``min_share`` of a uniform share),
  ``collapsed`` (1 when a class is not covered), and ``classifier_acc`` on the real split (the features' sanity).
- ``recon_mse`` (per element, on the [-1, 1] scale) and ``recon_acc`` (the classifier's accuracy on
  reconstructions ``G(E(x))`` against the true labels) for families with an encoder; the loss's
  per-image terms (the VAE's ``elbo`` in nats) averaged over the split.

Media: a grid of 64 samples from fixed ``z``, reconstructions (rows of real images over their
reconstructions), and the predicted-class histogram.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError, as_int
from evaluators.image_metrics import FeatureCache, frechet_distance, kernel_distance, precision_recall, weights_hash
from evaluators.mode_coverage import checked_loss, draw

FEATURES = ("classifier", "pixels")
__all__ = ["FrechetDistanceEvaluator", "class_coverage", "frechet_distance", "last_linear_input"]


def last_linear_input(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features, logits)``: the input of ``net``'s last ``nn.Linear`` (its penultimate features) and its output."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ConfigError(f"the classifier part ({type(net).__name__}) has no linear layer to take features from")
    seen: list[torch.Tensor] = []
    handle = last[-1].register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    try:
        logits = net(x)
    finally:
        handle.remove()
    return seen[-1].flatten(1), logits


class FrechetDistanceEvaluator(Evaluator):
    """The metrics of the module docstring; ``monitor`` ``fd``, ``mode`` ``last`` (the final weights are judged,
    so that a collapse late in training shows)."""

    def __init__(self, samples: int = 5000, sample_seed: int = 0, features: str = "classifier",
                 min_share: float = 0.2, pool_to: int = 16, batch_size: int = 500, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, pr_k: int = 3, cache_dir: str | None = None,
                 monitor: str = "fd", mode: str = "last") -> None:
        if features not in FEATURES:
            raise ConfigError(f"evaluator.features={features!r} is not one of {FEATURES}")
        if samples < 2 or batch_size < 1 or not 0 < min_share <= 1:
            raise ConfigError("evaluator.samples must be >= 2, batch_size >= 1 and min_share in (0, 1]; "
                              f"got {samples}, {batch_size}, {min_share}")
        self.kid_subsets = as_int("evaluator.kid_subsets", kid_subsets, 1)
        self.kid_subset_size = as_int("evaluator.kid_subset_size", kid_subset_size, 2)
        self.pr_k = as_int("evaluator.pr_k", pr_k, 1, hint="Kynkaanniemi et al. use 3")
        self.samples, self.sample_seed, self.features, self.min_share = samples, sample_seed, features, min_share
        self.pool_to, self.batch_size, self.monitor, self.mode = pool_to, batch_size, monitor, mode
        self.cache = FeatureCache(cache_dir)

    def _classifier(self, model: nn.Module) -> nn.Module | None:
        if self.features == "pixels":
            return None
        if "classifier" not in getattr(model, "keys", lambda: ())():
            raise ConfigError("evaluator.features=classifier needs a model part `classifier` (model=dcgan and friends "
                              "have one, loaded with trainer.parts.classifier.init_from); or set evaluator.features=pixels")
        return model.classifier

    @torch.no_grad()
    def _embed(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        classifier = self._classifier(model)
        if classifier is None:
            return F.adaptive_avg_pool2d(x, self.pool_to).flatten(1), None
        out = [last_linear_input(classifier, x[i : i + self.batch_size]) for i in range(0, len(x), self.batch_size)]
        return torch.cat([f for f, _ in out]), torch.cat([lg for _, lg in out])

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        loss = checked_loss(loss, "evaluator=frechet_distance")
        was_training = model.training
        model.eval()
        images, labels = [], []
        sums: dict[str, float] = {}
        n = recon_correct = 0
        recon_sq, has_encoder = 0.0, False
        for batch in batches:
            x = batch["x"]
            images.append(x)
            labels.append(batch.get("y"))
            rec = loss.reconstruct(model, x)
            if rec is not None:
                has_encoder = True
                recon_sq += float((rec - x).pow(2).sum())
                if self._classifier(model) is not None:
                    recon_correct += int((self._embed(model, rec)[1].argmax(1) == batch["y"]).sum())
            for key, value in loss.eval_terms(model, x).items():
                sums[key] = sums.get(key, 0.0) + float(value.sum())
            n += len(x)
            pixels = x[0].numel()
        real = self._real_features(model, images, labels)
        fake = draw(model, loss, self.samples, self.sample_seed, images[0].device, self.batch_size)
        fake_f, fake_logits = self._embed(model, fake)
        model.train(was_training)
        metrics = {"fd": frechet_distance(real["features"], fake_f), "n_samples": float(self.samples), "n_real": float(n)}
        metrics["kid"], metrics["kid_std"] = kernel_distance(real["features"], fake_f, self.kid_subsets,
                                                             self.kid_subset_size, self.sample_seed)
        metrics["precision"], metrics["recall"] = precision_recall(real["features"], fake_f, self.pr_k)
        if fake_logits is not None:
            metrics.update(class_coverage(fake_logits.argmax(1), fake_logits.shape[1], self.min_share))
            if "correct" in real:
                metrics["classifier_acc"] = float(real["correct"].double().mean())
        if has_encoder:
            metrics["recon_mse"] = recon_sq / (n * pixels)
            if fake_logits is not None:
                metrics["recon_acc"] = recon_correct / n
        metrics.update({key: value / n for key, value in sums.items()})
        return metrics

    def _real_features(self, model: nn.Module, images: list[torch.Tensor],
                       labels: list[torch.Tensor | None]) -> dict[str, torch.Tensor]:
        """The split's features (and the classifier's per-image correctness), from the cache when the same
        extractor has embedded the same images before."""
        classifier = self._classifier(model)
        extractor = weights_hash(classifier) if classifier is not None else f"pixels{self.pool_to}"
        data = hashlib.sha256()
        for x in images:
            data.update(x.detach().cpu().contiguous().numpy().tobytes())

        def compute() -> dict[str, torch.Tensor]:
            feats, logits = zip(*(self._embed(model, x) for x in images), strict=True)
            out = {"features": torch.cat(feats)}
            if logits[0] is not None and all(y is not None for y in labels):
                out["correct"] = torch.cat(logits).argmax(1).cpu() == torch.cat(labels).cpu()
            return out

        return self.cache.get(extractor, f"{sum(map(len, images))}images_{data.hexdigest()[:16]}", compute)

    @torch.no_grad()
    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        loss = checked_loss(loss, "evaluator=frechet_distance")
        x = next(iter(data.eval_batches(split)))["x"][:32]
        samples = draw(model, loss, 64, self.sample_seed, x.device)
        media = Media(images={"samples": (samples.clamp(-1, 1) + 1) / 2})
        was_training = model.training
        model.eval()
        rec = loss.reconstruct(model, x)
        if rec is not None:  # rows of 8: real images over their reconstructions
            pairs = torch.stack([x.view(4, 8, *x.shape[1:]), rec.view(4, 8, *x.shape[1:])], 1).flatten(0, 2)
            media.images["reconstructions"] = (pairs.clamp(-1, 1) + 1) / 2
        if self._classifier(model) is not None:
            fake = draw(model, loss, self.samples, self.sample_seed, x.device, self.batch_size)
            media.figures["classes"] = class_figure(self._embed(model, fake)[1].argmax(1), getattr(data, "classes", None))
        model.train(was_training)
        return media


def class_coverage(pred: torch.Tensor, k: int, min_share: float) -> dict[str, float]:
    """Entropy (nats) of the histogram of predicted classes, the classes covered and the collapse flag."""
    hist = torch.bincount(pred, minlength=k).double()
    p = hist / hist.sum()
    covered = int((hist >= min_share * len(pred) / k).sum())
    return {"class_entropy": float(-(p[p > 0] * p[p > 0].log()).sum()), "classes": float(covered),
            "collapsed": float(covered < k)}


def class_figure(pred: torch.Tensor, names: list[str] | None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names) if names else int(pred.max()) + 1
    hist = torch.bincount(pred.cpu(), minlength=k).numpy() / len(pred)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(k), hist, color="tab:blue")
    ax.axhline(1 / k, color="k", linestyle="--", linewidth=1, label="uniform")
    ax.set_xticks(range(k))
    ax.set_xticklabels(names or range(k), rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of samples")
    ax.set_title(f"predicted classes of {len(pred)} samples", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
