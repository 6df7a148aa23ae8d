"""A train config to a ready ``Trainer``: what ``train.py`` runs, and what benchmarks and tests build in process."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from engine.board_hparams import board_hparams
from engine.errors import ConfigError
from engine.instantiate import build, build_components, check_known_keys
from engine.paths import resolve_path_settings
from engine.seeding import seed_everything
from engine.trainer import Trainer


def make_trainer(cfg: DictConfig, run_dir: str | Path, **extra: Any) -> Trainer:
    """Everything ``cfg`` describes, built and handed to one ``Trainer`` (``extra``: e.g. callbacks)."""
    check_known_keys(cfg, "train")
    unknown = set(cfg.trainer) - set(inspect.signature(Trainer).parameters)
    if unknown:
        raise ConfigError(f"unknown trainer setting(s) {sorted(unknown)}: see configs/trainer/default.yaml")
    resolve_path_settings(cfg, os.getcwd())  # the checkpoint's config names the files themselves (eval.py from anywhere)
    seed_everything(cfg.seed)  # before building the model: its initial weights depend on the seed
    data, model, loss, evaluator = build_components(cfg)
    optimizer = build("optim", cfg.optim)
    scheduler = build("scheduler", cfg.scheduler) if cfg.get("scheduler") else None
    trainer_settings = OmegaConf.to_container(cfg.trainer, resolve=True)
    values, shown = board_hparams(cfg)
    return Trainer(
        model, loss, data, evaluator, optimizer, scheduler,
        run_dir=run_dir, seed=cfg.seed,
        config_text=OmegaConf.to_yaml(cfg, resolve=True),
        hparams=values,
        hparams_shown=shown,
        **trainer_settings, **extra,
    )
