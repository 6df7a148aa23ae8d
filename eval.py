"""Re-evaluate a run's checkpoint: ``python eval.py run=runs/fmnist_cnn/<date_time> [ckpt=last split=val]``.

Rebuilds data, model, loss and evaluator from the config stored in the checkpoint and restores it
through the same function as the trainer's final evaluation (``engine.weights.Weights``: every
part, the loss's parameters, EMA copies), then runs the evaluator on the split. The default
(``best.pt`` on the test split) updates ``<run>/metrics.json``; any other choice writes
``<run>/metrics_<ckpt>_<split>.json``, so the training run's own result is never overwritten by
another kind of number. The evaluator's figures go to ``<run>/figures/`` (``test_*.png`` for the default,
``<ckpt>_<split>_*.png`` otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

from engine.cli import print_result, run_guarded
from engine.devices import select_device
from engine.errors import ConfigError
from engine.evaluation import evaluate_to_file, restore
from engine.metrics import headline
from engine.run_folders import register_resolvers

register_resolvers()  # eval.yaml uses the run-folder resolvers


def checkpoint_path(run: Path, ckpt: str) -> Path:
    """``ckpt``: ``best`` | ``last`` (the run's own) or a path to a ``.pt`` file."""
    return Path(ckpt) if ckpt.endswith(".pt") else run / f"{ckpt}.pt"


def metrics_filename(run: Path, checkpoint: Path, split: str) -> str:
    """``metrics.json`` for the run's own ``best.pt`` on test; ``metrics_<ckpt>_<split>.json`` for anything else."""
    own_best = checkpoint.name == "best.pt" and checkpoint.parent.resolve() == run.resolve()
    return "metrics.json" if own_best and split == "test" else f"metrics_{checkpoint.stem}_{split}.json"


def evaluate(run: str | Path, ckpt: str = "best", split: str = "test", device: str = "auto") -> dict:
    run = Path(run)
    if not run.is_dir():
        raise ConfigError(f"run={run} is not a run folder (expected runs/<name>/<date_time>)")
    path = checkpoint_path(run, ckpt)
    restored = restore(path, select_device(device, key="device"))
    filename = metrics_filename(run, path, split)
    default = filename == "metrics.json"
    earlier = run / "metrics.json"
    extra = json.loads(earlier.read_text()) if default and earlier.is_file() else {}
    extra = {k: v for k, v in extra.items() if not k.startswith(f"{split}/")}  # keep e.g. val/best_acc
    step = int(restored.state["step"])
    extra["steps"] = extra.get("steps", step)
    return evaluate_to_file(restored.weights.eval_model(), restored.loss, restored.evaluator, restored.data, run,
                            split, checkpoint=path.name, checkpoint_step=step, extra=extra, filename=filename)


def _work(cfg: DictConfig, out: Path) -> str:
    metrics = evaluate(cfg.run, str(cfg.ckpt), cfg.split, cfg.device)
    run = Path(cfg.run)
    where = run / metrics_filename(run, checkpoint_path(run, str(cfg.ckpt)), metrics["split"])
    return json.dumps(headline(metrics), indent=2) + f"\nmetrics: {where}"


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(_work, cfg))


if __name__ == "__main__":
    main()
