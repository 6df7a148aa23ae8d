"""Accuracy, NLL, calibration and per-class accuracy of a classifier; misclassified images, a confusion
matrix and a reliability diagram."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import as_int


class ClassificationEvaluator(Evaluator):
    """``acc = mean_i [argmax f(x_i) = y_i]``, ``nll = -mean_i log softmax(f(x_i))_{y_i}`` (nats),
    ``ece`` (expected calibration error, :func:`calibration`, ``ece_bins`` equal-width bins of the top
    softmax probability; 15 as in Guo et al. 2017), per-class accuracy ``acc_class/<i>_<name>`` and
    the number of examples ``n``.

    Media: the first ``max_images`` misclassified images of the split (a grid), the confusion matrix
    (rows: true class, columns: predicted, normalised per row) and the reliability diagram, each
    over the whole split.
    """

    monitor, mode = "acc", "max"

    def __init__(self, class_names: list[str] | None = None, per_class: bool = True, max_images: int = 32,
                 ece_bins: int = 15) -> None:
        ece_bins = as_int("evaluator.ece_bins", ece_bins, 1)
        self.class_names = class_names
        self.per_class = per_class
        self.max_images = max_images
        self.ece_bins = ece_bins

    def setup(self, data: DataModule) -> None:
        if self.class_names is None:  # null in the config: the data's own class names
            self.class_names = getattr(data, "classes", None)

    @torch.no_grad()
    def predictions(self, model: nn.Module, batches: Iterable[Batch],
                    keep_inputs: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Logits (float32), labels and (with ``keep_inputs``) inputs of every example of ``batches``."""
        was_training = model.training
        model.eval()
        logits, labels, inputs = [], [], []
        for batch in batches:
            logits.append(model(batch["x"]).float())
            labels.append(batch["y"])
            if keep_inputs:
                inputs.append(batch["x"])
        model.train(was_training)
        if not labels:
            raise ValueError("the evaluation split is empty")
        return torch.cat(logits), torch.cat(labels), torch.cat(inputs) if keep_inputs else None

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        logits, y, _ = self.predictions(model, batches)
        return self.scores(logits, y)

    def scores(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """The metrics of the class docstring from the logits and labels of a split."""
        hit = logits.argmax(1) == y
        n = len(y)
        metrics: dict[str, float] = {"acc": int(hit.sum()) / n, "nll": F.cross_entropy(logits, y, reduction="sum").item() / n,
                                     "ece": calibration(logits.softmax(1), y, self.ece_bins)[0], "n": n}
        if self.per_class:
            k = logits.shape[1]
            correct = torch.bincount(y, weights=hit.double(), minlength=k).tolist()
            total = torch.bincount(y, minlength=k).tolist()
            names = self.class_names or [str(i) for i in range(k)]
            for i, (c, t) in enumerate(zip(correct, total)):
                if t > 0:
                    metrics[f"acc_class/{i}_{names[i].replace('/', '-').replace(' ', '_')}"] = c / t
        return metrics

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        logits, y, x = self.predictions(model, data.eval_batches(split), keep_inputs=True)
        pred = logits.argmax(1)
        wrong = x[pred != y][: self.max_images].float()
        media = Media()
        if len(wrong):
            media.images["misclassified"] = to_unit_range(wrong)
        media.figures["confusion"] = confusion_figure(y, pred, logits.shape[1], self.class_names, len(y))
        media.figures["reliability"] = reliability_figure(logits.softmax(1), y, self.ece_bins)
        return media


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) scaled to [0, 1] by its own minimum and maximum, for display."""
    lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-8)


def calibration(probs: torch.Tensor, y: torch.Tensor, bins: int = 15) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Expected calibration error and its bins (Guo et al. 2017, arXiv 1706.04599).

    With confidence ``c_i = max_k p_ik`` and bin ``B_m`` the examples with ``c_i`` in ``((m-1)/M, m/M]``:
    ``ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|``. Returns the ECE and, per bin, the count, the
    accuracy and the mean confidence (NaN for an empty bin).
    """
    conf, pred = probs.double().max(1)
    hit = (pred == y).double()
    right_edges = torch.arange(1, bins + 1, dtype=torch.float64, device=conf.device) / bins
    idx = torch.bucketize(conf, right_edges).clamp(max=bins - 1)  # bucketize: edge[i-1] < c <= edge[i]
    count = torch.bincount(idx, minlength=bins).double()
    acc = torch.bincount(idx, weights=hit, minlength=bins) / count
    mean_conf = torch.bincount(idx, weights=conf, minlength=bins) / count
    ece = float(((count / len(y)) * (acc - mean_conf).abs()).nansum())
    return ece, count, acc, mean_conf


def reliability_figure(probs: torch.Tensor, y: torch.Tensor, bins: int = 15):
    """Accuracy against confidence per bin (bars), the diagonal of perfect calibration, and the ECE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ece, count, acc, conf = calibration(probs, y, bins)
    full = (count > 0).cpu().numpy()
    acc, conf = acc.cpu().numpy(), conf.cpu().numpy()
    centres = [(m + 0.5) / bins for m in range(bins)]
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.bar([c for c, f in zip(centres, full) if f], acc[full], width=1 / bins, edgecolor="black", linewidth=0.5,
           label="accuracy")
    ax.plot([c for c, f in zip(centres, full) if f], conf[full], "o", color="tab:red", markersize=3,
            label="mean confidence")
    ax.plot([0, 1], [0, 1], "k--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top softmax probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability: ECE {100 * ece:.2f} % ({bins} bins, {len(y)} examples)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


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
    ax.set_title(f"confusion (% of each true class), {n} examples", fontsize=8)
    fig.tight_layout()
    return fig
