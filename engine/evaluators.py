"""Evaluators: a model and a stream of batches in, a dict of metrics out.

The trainer calls ``evaluate(model, batches, objective=...)`` on the validation split during
training (``monitor`` and ``mode`` pick the best checkpoint) and on the test split at the end;
``eval.py`` calls it on a saved checkpoint. The objective is passed for evaluators that need the
loss's own parameters (class centres, an NCE head). ``images`` is the optional hook for pictures
worth looking at in TensorBoard; ``class_names`` is filled from the data when left empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.files import write_atomic


def attach_class_names(evaluator: object, data: object) -> None:
    """Name per-class metrics after the data's classes when the config leaves ``class_names`` empty."""
    if getattr(evaluator, "class_names", False) is None:
        evaluator.class_names = getattr(data, "classes", None)


class ClassificationEvaluator:
    """Accuracy, mean negative log-likelihood (nats), per-class accuracy and the number of examples n.

    ``acc = mean_i [argmax f(x_i) = y_i]``, ``nll = -mean_i log softmax(f(x_i))_{y_i}``.
    """

    monitor, mode = "acc", "max"

    def __init__(self, class_names: list[str] | None = None, per_class: bool = True) -> None:
        self.class_names = class_names
        self.per_class = per_class

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]],
                 objective: nn.Module | None = None) -> dict[str, float]:
        was_training = model.training
        model.eval()
        nll_sum, correct_sum, n = 0.0, 0, 0
        per_class_correct: torch.Tensor | None = None
        per_class_total: torch.Tensor | None = None
        for batch in batches:
            logits = model(batch["x"]).float()
            y = batch["y"]
            nll_sum += F.cross_entropy(logits, y, reduction="sum").item()
            hit = logits.argmax(1) == y
            correct_sum += int(hit.sum())
            n += len(y)
            k = logits.shape[1]
            c = torch.bincount(y, weights=hit.double(), minlength=k)
            t = torch.bincount(y, minlength=k).double()
            per_class_correct = c if per_class_correct is None else per_class_correct + c
            per_class_total = t if per_class_total is None else per_class_total + t
        model.train(was_training)
        if n == 0:
            raise ValueError("the evaluation split is empty")
        metrics: dict[str, float] = {"acc": correct_sum / n, "nll": nll_sum / n, "n": n}
        if self.per_class and per_class_total is not None:
            names = self.class_names or [str(i) for i in range(len(per_class_total))]
            for i, (c, t) in enumerate(zip(per_class_correct.tolist(), per_class_total.tolist())):
                if t > 0:
                    metrics[f"acc_class/{i}_{names[i].replace('/', '-').replace(' ', '_')}"] = c / t
        return metrics

    @torch.no_grad()
    def images(self, model: nn.Module, batch: dict[str, torch.Tensor], max_images: int = 32) -> dict[str, torch.Tensor]:
        """The first misclassified validation images, scaled to [0, 1], for a TensorBoard grid."""
        was_training = model.training
        model.eval()
        wrong = model(batch["x"]).argmax(1) != batch["y"]
        model.train(was_training)
        x = batch["x"][wrong][:max_images].float()
        if len(x) == 0:
            return {}
        lo = x.amin(dim=(1, 2, 3), keepdim=True)
        hi = x.amax(dim=(1, 2, 3), keepdim=True)
        return {"misclassified": (x - lo) / (hi - lo).clamp_min(1e-8)}


def evaluate_to_file(model: nn.Module, objective: nn.Module | None, evaluator: Any, data: Any, run_dir: Path,
                     split: str, checkpoint: str, checkpoint_step: int, extra: dict[str, Any] | None = None,
                     filename: str = "metrics.json") -> dict[str, Any]:
    """Run ``evaluator`` on ``split`` and write ``run_dir/filename`` (also used by ``eval.py``)."""
    raw = evaluator.evaluate(model, data.eval_batches(split), objective=objective)
    metrics: dict[str, Any] = {"split": split, "checkpoint": checkpoint, "checkpoint_step": checkpoint_step}
    metrics.update({f"{split}/{k}": v for k, v in raw.items()})
    metrics.update(extra or {})
    write_atomic(run_dir / filename, json.dumps(metrics, indent=2) + "\n")
    return metrics
