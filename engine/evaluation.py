"""One evaluation of a split, written to a run folder: used by the final evaluation and by ``eval.py``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf

from engine.checkpoint import load_checkpoint
from engine.contracts import DataModule, Evaluator, Loss
from engine.errors import CheckpointError
from engine.files import write_atomic
from engine.instantiate import build_components
from engine.run_logger import RunLogger
from engine.weights import Weights


@dataclass
class RestoredRun:
    """A checkpoint rebuilt from its own config: data (set up), weights restored, evaluator set up."""

    cfg: DictConfig
    state: dict[str, Any]
    data: DataModule
    weights: Weights
    loss: Loss
    evaluator: Evaluator

    @property
    def model(self) -> nn.Module:
        """The model to evaluate (EMA copies in place of their parts), in eval mode."""
        return self.weights.eval_model().eval()


def restore(path: Path, device: torch.device) -> RestoredRun:
    """Rebuild data, model, loss and evaluator from the config stored in checkpoint ``path`` and restore
    every part, the loss's parameters and EMA copies (``engine.weights.Weights``), as the final evaluation does."""
    state = load_checkpoint(path, map_location=device)
    if not state.get("config"):
        raise CheckpointError(f"{path} holds no config to rebuild the model from")
    cfg = OmegaConf.create(state["config"])
    data, model, loss, evaluator = build_components(cfg)
    parts = cfg.trainer.get("parts")
    weights = Weights(model, loss, OmegaConf.to_container(parts, resolve=True) if parts else None)
    weights.to(device)
    data.setup(device, seed=int(cfg.seed))
    loss.setup(data)  # before the weights load: what it reads from the data must not overwrite them
    weights.load_state_dict(state, source=str(path))
    evaluator.setup(data)
    return RestoredRun(cfg, state, data, weights, loss, evaluator)


def evaluate_to_file(model: nn.Module, loss: Loss, evaluator: Evaluator, data: DataModule, run_dir: Path,
                     split: str, checkpoint: str, checkpoint_step: int, extra: dict[str, Any] | None = None,
                     filename: str = "metrics.json", logger: RunLogger | None = None) -> dict[str, Any]:
    """Run ``evaluator`` on ``split``; write ``run_dir/filename`` and the evaluator's media as PNG files
    (``run_dir/figures/<split>_*.png`` beside ``metrics.json``, ``<ckpt>_<split>_*.png`` beside
    ``metrics_<ckpt>_<split>.json``; also to TensorBoard when a ``logger`` is given)."""
    raw = evaluator.evaluate(model, data.eval_batches(split), loss=loss)
    metrics: dict[str, Any] = {"split": split, "checkpoint": checkpoint, "checkpoint_step": checkpoint_step}
    metrics.update({f"{split}/{k}": v for k, v in raw.items()})
    metrics.update(extra or {})
    write_atomic(run_dir / filename, json.dumps(metrics, indent=2) + "\n")
    media = evaluator.media(model, data, split, loss=loss)
    if media:
        writer = logger or RunLogger(run_dir, events=False)
        prefix = split if filename == "metrics.json" else Path(filename).stem.removeprefix("metrics_")
        writer.media(checkpoint_step, media, prefix=prefix, png_dir=run_dir / "figures")
        if logger is None:
            writer.close()
    return metrics
