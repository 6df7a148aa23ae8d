"""Train any experiment: ``python train.py experiment=fmnist_resnet18 optim.lr=0.05``.

Composes the config, instantiates data, model (one module or named parts), loss, evaluator,
optimiser and schedule from their config groups, and hands them to the one ``engine.Trainer``.
Sweeps: ``python train.py -m ...``; several processes: ``torchrun --nproc_per_node=2 train.py ...``; jobs through
submitit (Slurm, or its local twin): ``python train.py -m hydra/launcher=slurm|local ...`` (docs/cluster.md).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from engine import distributed as D
from engine.cli import check_submitit_launcher, in_sweep, run_guarded
from engine.run_folders import Resume, register_resolvers
from engine.runs import make_trainer
from engine.signals import hand_over_preemption

register_resolvers()


def train(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train (or continue, per ``cfg.resume``) the run in ``run_dir``; returns the final metrics."""
    if cfg.get("smoke_run"):
        cfg.merge_with_dotlist([str(o) for o in cfg.smoke])  # the experiment's own shrinking overrides
    trainer = make_trainer(cfg, run_dir)
    # the same parse that chose the folder; a requeued submitit job continues from its own folder's last.pt
    ckpt = Resume.parse(cfg.resume, run_dir=trainer.run_dir).checkpoint(trainer.run_dir)
    if ckpt is not None:
        trainer.resume(ckpt)
    metrics = trainer.fit()
    D.shutdown(trainer.dist)
    return metrics


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    # resume=<folder or .pt> names a folder made before: a failed start must not remove it
    new_folder = Resume.parse(cfg.get("resume")).kind in ("new", "auto")
    metrics = run_guarded(train, cfg, "continue with resume=auto", new_folder=new_folder)
    if metrics is None:  # a failed sweep job: the other jobs go on
        return math.nan
    if metrics.get("status") == "interrupted":
        signum = metrics["signal"]
        hand_over_preemption(signum)  # submitit's pre-emption signal: its handler requeues the job (no return)
        sys.exit(128 + signum)
    if metrics:
        print(f"metrics: {Path(HydraConfig.get().runtime.output_dir) / 'metrics.json'}")
        # a sweep's own folder: TensorBoard's HParams table takes its columns from one run of the logdir
        board = Path(HydraConfig.get().sweep.dir) if in_sweep() else Path(cfg.runs_root)
        print(f"TensorBoard: tensorboard --logdir {board.resolve()}")
    # what a Hydra sweeper (e.g. Optuna) optimises: the best validation score, never a test score
    return next((v for k, v in metrics.items() if k.startswith("val/best_")), None)


if __name__ == "__main__":
    check_submitit_launcher(sys.argv[1:])
    main()
