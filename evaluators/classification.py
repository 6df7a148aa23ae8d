"""Accuracy, NLL and per-class accuracy of a classifier; misclassified images and a confusion matrix."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, DataModule, Evaluator, Media, Objective


class ClassificationEvaluator(Evaluator):
    """``acc = mean_i [argmax f(x_i) = y_i]``, ``nll = -mean_i log softmax(f(x_i))_{y_i}`` (nats),
    per-class accuracy ``acc_class/<i>_<name>`` and the number of examples ``n``.

    Media: the first ``max_images`` misclassified images of the split (a grid) and the confusion
    matrix (rows: true class, columns: predicted, normalised per row).
    """

    monitor, mode = "acc", "max"

    def __init__(self, class_names: list[str] | None = None, per_class: bool = True, max_images: int = 32) -> None:
        self.class_names = class_names
        self.per_class = per_class
        self.max_images = max_images

    def setup(self, data: DataModule) -> None:
        if self.class_names is None:  # null in the config: the data's own class names
            self.class_names = getattr(data, "classes", None)

    @torch.no_grad()
    def predictions(self, model: nn.Module, batches: Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (float32) and labels of every example of ``batches``."""
        was_training = model.training
        model.eval()
        logits, labels = [], []
        for batch in batches:
            logits.append(model(batch["x"]).float())
            labels.append(batch["y"])
        model.train(was_training)
        if not labels:
            raise ValueError("the evaluation split is empty")
        return torch.cat(logits), torch.cat(labels)

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], objective: Objective | None = None) -> dict[str, float]:
        logits, y = self.predictions(model, batches)
        hit = logits.argmax(1) == y
        n = len(y)
        metrics: dict[str, float] = {"acc": int(hit.sum()) / n, "nll": F.cross_entropy(logits, y, reduction="sum").item() / n,
                                     "n": n}
        if self.per_class:
            k = logits.shape[1]
            correct = torch.bincount(y, weights=hit.double(), minlength=k).tolist()
            total = torch.bincount(y, minlength=k).tolist()
            names = self.class_names or [str(i) for i in range(k)]
            for i, (c, t) in enumerate(zip(correct, total)):
                if t > 0:
                    metrics[f"acc_class/{i}_{names[i].replace('/', '-').replace(' ', '_')}"] = c / t
        return metrics

    def media(self, model: nn.Module, data: DataModule, split: str, objective: Objective | None = None) -> Media:
        batch = next(iter(data.eval_batches(split)))
        logits, y = self.predictions(model, [batch])
        pred = logits.argmax(1)
        x = batch["x"][pred != y][: self.max_images].float()
        media = Media()
        if len(x):
            lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
            media.images["misclassified"] = (x - lo) / (hi - lo).clamp_min(1e-8)
        media.figures["confusion"] = confusion_figure(y, pred, logits.shape[1], self.class_names, len(y))
        return media


def confusion_figure(y: torch.Tensor, pred: torch.Tensor, k: int, names: list[str] | None, n: int):
    """The row-normalised confusion matrix of ``n`` examples as a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = torch.bincount(y * k + pred, minlength=k * k).view(k, k).double()
    rates = (counts / counts.sum(1, keepdim=True).clamp_min(1)).cpu().numpy()
    labels = names or [str(i) for i in range(k)]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if rates[i, j] >= 0.005:
                ax.text(j, i, f"{100 * rates[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion (% of each true class), first batch: {n} examples", fontsize=8)
    fig.tight_layout()
    return fig
