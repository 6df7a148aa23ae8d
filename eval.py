"""Re-evaluate a run's checkpoint: ``python eval.py run=runs/fmnist_cnn/<date_time> [ckpt=last split=val]``.

Rebuilds data, model and evaluator from the config stored in the checkpoint, loads the weights,
runs the evaluator on the split and writes ``<run>/metrics.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from engine.checkpoint import load_checkpoint
from engine.errors import CheckpointError, ConfigError, ProjectError
from engine.trainer import evaluate_to_file, select_device
from train import build


def evaluate(run: str | Path, ckpt: str = "best", split: str = "test", device: str = "auto") -> dict:
    run = Path(run)
    if not run.is_dir():
        raise ConfigError(f"run={run} is not a run folder (expected runs/<name>/<date_time>)")
    path = Path(ckpt) if ckpt.endswith(".pt") else run / f"{ckpt}.pt"
    dev = select_device(device)
    state = load_checkpoint(path, map_location=dev)
    if not state.get("config"):
        raise CheckpointError(f"{path} holds no config to rebuild the model from")
    cfg = OmegaConf.create(state["config"])
    data, model, evaluator = build("data", cfg.data), build("model", cfg.model), build("evaluator", cfg.evaluator)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not match its own model config ({str(e).splitlines()[0]})") from None
    model.to(dev)
    data.setup(dev, seed=int(cfg.seed))
    if getattr(evaluator, "class_names", False) is None:
        evaluator.class_names = getattr(data, "classes", None)
    return evaluate_to_file(model, evaluator, data, run, split, checkpoint=path.name,
                            checkpoint_step=int(state["step"]), extra={"steps": int(state["step"])})


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(cfg.run, str(cfg.ckpt), cfg.split, cfg.device)
    except ProjectError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({k: v for k, v in metrics.items() if "acc_class" not in k}, indent=2))
    print(f"metrics: {Path(cfg.run) / 'metrics.json'}")


if __name__ == "__main__":
    main()
