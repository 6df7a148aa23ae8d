"""Train any experiment: ``python train.py experiment=fmnist_resnet18 optim.lr=0.05``.

Composes the config, instantiates data, model (one module or named parts), loss, evaluator,
optimiser and schedule from their config groups, and hands them to the one ``engine.Trainer``.
Sweeps: ``python train.py -m ...``; several processes: ``torchrun --nproc_per_node=2 train.py ...``.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from engine import distributed as D
from engine.cli import run_guarded
from engine.errors import ConfigError
from engine.instantiate import build, build_components, check_known_keys
from engine.run_folders import register_resolvers
from engine.run_logger import flat_hparams
from engine.seeding import seed_everything
from engine.trainer import Trainer

log = logging.getLogger("train")
register_resolvers()


def make_trainer(cfg: DictConfig, run_dir: str | Path, **extra: Any) -> Trainer:
    """Everything ``cfg`` describes, built and handed to one ``Trainer`` (``extra``: e.g. callbacks)."""
    check_known_keys(cfg, "train")
    unknown = set(cfg.trainer) - set(inspect.signature(Trainer).parameters)
    if unknown:
        raise ConfigError(f"unknown trainer setting(s) {sorted(unknown)}: see configs/trainer/default.yaml")
    seed_everything(cfg.seed)  # before building the model: its initial weights depend on the seed
    data, model, objective, evaluator = build_components(cfg)
    optimizer = build("optim", cfg.optim)
    scheduler = build("scheduler", cfg.scheduler) if cfg.get("scheduler") else None
    trainer_settings = OmegaConf.to_container(cfg.trainer, resolve=True)
    return Trainer(
        model, objective, data, evaluator, optimizer, scheduler,
        run_dir=run_dir, seed=cfg.seed,
        config_text=OmegaConf.to_yaml(cfg, resolve=True),
        hparams=flat_hparams(OmegaConf.to_container(cfg, resolve=True)),
        **trainer_settings, **extra,
    )


def resume_checkpoint(resume: str | None, run_dir: Path) -> Path | None:
    """The checkpoint that ``resume`` points to, or None to start fresh.

    A job that Slurm requeued (``SLURM_RESTART_COUNT`` > 0) continues from its own ``last.pt``.
    """
    if resume in (None, "") and os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
        resume = "auto"
    if resume in (None, ""):
        return None
    path = Path(str(resume))
    if path.suffix == ".pt":
        if not path.is_file():
            raise ConfigError(f"resume={resume}: no such checkpoint")
        return path
    last = run_dir / "last.pt"
    if last.is_file():
        return last
    if resume == "auto":
        log.info("resume=auto: no earlier run with a last.pt, starting a new run in %s", run_dir)
        return None
    raise ConfigError(f"resume={resume}: {last} does not exist")


def train(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train (or continue, per ``cfg.resume``) the run in ``run_dir``; returns the final metrics."""
    trainer = make_trainer(cfg, run_dir)
    ckpt = resume_checkpoint(cfg.resume, trainer.run_dir)
    if ckpt is not None:
        trainer.resume(ckpt)
    metrics = trainer.fit()
    D.shutdown(trainer.dist)
    return metrics


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run_guarded(train, cfg, "continue with resume=auto")
    if metrics is None:  # a failed sweep job: the other jobs go on
        return math.nan
    if metrics.get("status") == "interrupted":
        signum = metrics["signal"]
        if signum == getattr(signal, "SIGUSR2", None) and callable(signal.getsignal(signum)):
            signal.raise_signal(signum)  # hand over to submitit's handler, which requeues the job
        sys.exit(128 + signum)
    if metrics:
        print(f"metrics: {Path(HydraConfig.get().runtime.output_dir) / 'metrics.json'}")
        print(f"TensorBoard: tensorboard --logdir {Path(cfg.runs_root).resolve()}")
    # what a Hydra sweeper (e.g. Optuna) optimises: the best validation score, never a test score
    return next((v for k, v in metrics.items() if k.startswith("val/best_")), None)


if __name__ == "__main__":
    main()
