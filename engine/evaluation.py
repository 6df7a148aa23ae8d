"""One evaluation of a split, written to a run folder: used by the final evaluation and by ``eval.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch.nn as nn

from engine.contracts import DataModule, Evaluator, Objective
from engine.files import write_atomic
from engine.run_logger import RunLogger


def evaluate_to_file(model: nn.Module, objective: Objective, evaluator: Evaluator, data: DataModule, run_dir: Path,
                     split: str, checkpoint: str, checkpoint_step: int, extra: dict[str, Any] | None = None,
                     filename: str = "metrics.json", logger: RunLogger | None = None) -> dict[str, Any]:
    """Run ``evaluator`` on ``split``; write ``run_dir/filename`` and the evaluator's media as PNG files
    (``run_dir/figures/<split>_*.png`` beside ``metrics.json``, ``<ckpt>_<split>_*.png`` beside
    ``metrics_<ckpt>_<split>.json``; also to TensorBoard when a ``logger`` is given)."""
    raw = evaluator.evaluate(model, data.eval_batches(split), objective=objective)
    metrics: dict[str, Any] = {"split": split, "checkpoint": checkpoint, "checkpoint_step": checkpoint_step}
    metrics.update({f"{split}/{k}": v for k, v in raw.items()})
    metrics.update(extra or {})
    write_atomic(run_dir / filename, json.dumps(metrics, indent=2) + "\n")
    media = evaluator.media(model, data, split, objective=objective)
    if media:
        writer = logger or RunLogger(run_dir, events=False)
        prefix = split if filename == "metrics.json" else Path(filename).stem.removeprefix("metrics_")
        writer.media(checkpoint_step, media, prefix=prefix, png_dir=run_dir / "figures")
        if logger is None:
            writer.close()
    return metrics
