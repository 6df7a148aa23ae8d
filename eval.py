"""Re-evaluate a run's checkpoint: ``python eval.py run=runs/fmnist_cnn/<date_time> [ckpt=last split=val]``.

Rebuilds data, model, loss and evaluator from the config stored in the checkpoint, loads the
weights and runs the evaluator on the split. The default (``best.pt`` on the test split) updates
``<run>/metrics.json``; any other choice writes ``<run>/metrics_<ckpt>_<split>.json``, so the
training run's own result is never overwritten by another kind of number.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from engine.checkpoint import load_checkpoint
from engine.distributed import select_device
from engine.errors import CheckpointError, ConfigError, ProjectError, one_line
from engine.evaluators import attach_class_names, evaluate_to_file
from engine.instantiate import build
from engine.run_folders import register_resolvers

register_resolvers()  # eval.yaml uses the run-folder resolvers


def metrics_filename(checkpoint: Path, split: str) -> str:
    return "metrics.json" if checkpoint.name == "best.pt" and split == "test" else f"metrics_{checkpoint.stem}_{split}.json"


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
    data, model, objective = build("data", cfg.data), build("model", cfg.model), build("loss", cfg.loss)
    evaluator = build("evaluator", cfg.evaluator)
    try:
        model.load_state_dict(state["model"])
        objective.load_state_dict(state["objective"])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not match its own model config ({one_line(e)})") from None
    model.to(dev), objective.to(dev)
    data.setup(dev, seed=int(cfg.seed))
    attach_class_names(evaluator, data)
    default = metrics_filename(path, split) == "metrics.json"
    earlier = run / "metrics.json"
    extra = json.loads(earlier.read_text()) if default and earlier.is_file() else {}
    extra = {k: v for k, v in extra.items() if not k.startswith(f"{split}/")}  # keep e.g. val/best_acc
    extra["steps"] = extra.get("steps", int(state["step"]))
    return evaluate_to_file(model, objective, evaluator, data, run, split, checkpoint=path.name,
                            checkpoint_step=int(state["step"]), extra=extra,
                            filename=metrics_filename(path, split))


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(cfg.run, str(cfg.ckpt), cfg.split, cfg.device)
    except ProjectError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({k: v for k, v in metrics.items() if k.count("/") <= 1}, indent=2))  # not per-class details
    print(f"metrics: {Path(cfg.run) / metrics_filename(Path(metrics['checkpoint']), metrics['split'])}")


if __name__ == "__main__":
    main()
