"""The linearity gap: how far a classifier is from linear between held-out inputs (kexue.fm/archives/5693).

The post reads mixup and SamplePairing as a regulariser that asks
``f(lam x_a + (1 - lam) x_b) = lam f(x_a) + (1 - lam) f(x_b)``, whose solutions are the affine maps.
This evaluator measures how far a model is from that on pairs it never trained on:

    gap = E_(a, b, lam) || f(lam x_a + (1 - lam) x_b) - (lam f(x_a) + (1 - lam) f(x_b)) ||_2,

on softmax outputs (``gap_softmax``) and on logits (``gap_logits``), each with its standard error
(``*_se`` = sample std / sqrt(pairs)). The pairs and lambdas are fixed: ``pairs`` pairs of the
split drawn with ``pair_seed`` (two independent random orders of its examples), ``lam ~ U(0, 1)``
from the same generator, so every checkpoint and every method is measured on the same inputs.
On the blended inputs it also reports ``mixed_acc`` (the prediction equals the label with the larger
weight, ``y_a`` if ``lam >= 1/2``, else ``y_b``) and ``mixed_nll``
(``-(lam log p(y_a) + (1 - lam) log p(y_b))``, the cross-entropy against the mixed label).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Loss, Media
from engine.errors import as_int
from engine.progress import Progress
from evaluators.classification import ClassificationEvaluator, to_unit_range


def fixed_pairs(n: int, pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices ``a``, ``b`` and weights ``lam`` of ``min(pairs, n)`` pairs of ``n`` examples, fixed by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    m = min(pairs, n)
    a = torch.randperm(n, generator=gen)[:m]
    b = torch.randperm(n, generator=gen)[:m]
    lam = torch.rand(m, generator=gen, dtype=torch.float64)
    return a, b, lam


def mean_and_se(v: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error ``std(ddof=1) / sqrt(n)`` (0 for one value)."""
    se = v.std() / len(v) ** 0.5 if len(v) > 1 else torch.zeros(())
    return float(v.mean()), float(se)


@torch.no_grad()
def linearity_gap(model: nn.Module, x: torch.Tensor, logits: torch.Tensor, y: torch.Tensor,
                  a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor, batch_size: int = 1000) -> dict[str, float]:
    """The metrics of the module docstring for the pairs ``(a, b, lam)``; ``logits`` are ``f(x)``."""
    was_training = model.training
    model.eval()
    dev = x.device
    a, b = a.to(dev), b.to(dev)
    w = lam.to(dev)
    out = []
    for i in range(0, len(a), batch_size):
        wi = w[i : i + batch_size].to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        out.append(model(torch.lerp(x[b[i : i + batch_size]], x[a[i : i + batch_size]], wi)).double())
    model.train(was_training)
    mixed = torch.cat(out)
    f, wl = logits.double(), w.double()[:, None]
    metrics: dict[str, float] = {}
    for name, g, g_ab in (("logits", mixed, (f[a], f[b])), ("softmax", mixed.softmax(1), (f[a].softmax(1), f[b].softmax(1)))):
        target = wl * g_ab[0] + (1 - wl) * g_ab[1]
        metrics[f"gap_{name}"], metrics[f"gap_{name}_se"] = mean_and_se((g - target).norm(dim=1))
    major = torch.where(w >= 0.5, y[a], y[b])
    metrics["mixed_acc"] = float((mixed.argmax(1) == major).double().mean())
    logp = mixed.log_softmax(1)
    nll = -(w * logp.gather(1, y[a][:, None])[:, 0] + (1 - w) * logp.gather(1, y[b][:, None])[:, 0])
    metrics["mixed_nll"] = float(nll.mean())
    return metrics


class LinearityGapEvaluator(ClassificationEvaluator):
    """The classification metrics plus the linearity gap (module docstring) on ``pairs`` fixed pairs.

    Media, besides the classification figures: ``mixed_inputs``, a grid of training inputs as the
    run's loss mixes them, each with its input weight and labels (when the loss mixes).
    """

    def __init__(self, class_names: list[str] | None = None, per_class: bool = True, max_images: int = 32,
                 ece_bins: int = 15, pairs: int = 10000, pair_seed: int = 0, mixed_images: int = 16) -> None:
        super().__init__(class_names, per_class, max_images, ece_bins)
        self.pairs = as_int("evaluator.pairs", pairs, 1)
        self.pair_seed = as_int("evaluator.pair_seed", pair_seed, None)
        self.mixed_images = as_int("evaluator.mixed_images", mixed_images, 0, hint="0: no figure")

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        batches = list(batches)
        logits, y, x = self.predictions(model, batches, keep_inputs=True)
        a, b, lam = fixed_pairs(len(y), self.pairs, self.pair_seed)
        metrics = self.scores(logits, y)
        metrics.update(linearity_gap(model, x, logits, y, a, b, lam, batch_size=len(batches[0]["y"])))
        return metrics

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        media = super().media(model, data, split, loss)
        if self.mixed_images and loss is not None and callable(getattr(loss, "mix", None)):
            figure = self.mixed_inputs_figure(data, loss)
            if figure is not None:
                media.figures["mixed_inputs"] = figure
        return media

    def mixed_inputs_figure(self, data: DataModule, loss: Loss):
        """The first training batch mixed by ``loss`` with a fixed seed (the run's stream is untouched)."""
        batch = data.train_batch(Progress(step=0, epoch=0, batch=0, total_steps=1, steps_per_epoch=1))
        x, y = batch["x"][: self.mixed_images], batch["y"][: self.mixed_images]
        numpy_state = np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):  # the mixers draw on the CPU only: seed nothing else
                torch.default_generator.manual_seed(self.pair_seed)
                np.random.seed(self.pair_seed)
                mix = loss.mix(x, y)
        finally:
            np.random.set_state(numpy_state)
        if mix is None or x.dim() != 4:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        images = to_unit_range(mix.x.float()).cpu()
        weights = torch.as_tensor(mix.input_weight, dtype=torch.float64).expand(len(x)).tolist()
        names = self.class_names or [str(i) for i in range(int(y.max()) + 1)]
        y_a, y_b = y.tolist(), y[mix.partner].tolist()
        cols = 8
        rows = (len(x) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 2.0 * rows), squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < len(x):
                img = images[i].permute(1, 2, 0).numpy()
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
                ax.set_title(f"{weights[i]:.2f} {names[y_a[i]]}\n{1 - weights[i]:.2f} {names[y_b[i]]}", fontsize=6)
        fig.suptitle(f"training inputs mixed by {type(loss).__name__} (share of each image, its label)", fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return fig
