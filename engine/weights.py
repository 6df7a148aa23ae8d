"""Every tensor a run is evaluated with, and the one path that saves and restores them.

:class:`Weights` holds the model's parts, the loss's own parameters (class centres, an NCE head's
output embeddings, a discriminator held by the loss) and the EMA copies of parts. The trainer's
checkpoints, the final evaluation of ``best.pt`` and ``eval.py`` all restore through
:meth:`Weights.load_state_dict`, so ``metrics.json`` and ``eval.py`` see the same numbers.

Per-part settings (``trainer.parts.<name>``; a single-module model's one part is ``model``):

- ``init_from``: a checkpoint (``.pt``), a run folder (its ``best.pt``) or a folder of runs (the latest
  finished one's ``best.pt``, e.g. ``runs/fmnist_classifier``) to initialise the part from,
  before training starts; ``source``: which part of that checkpoint, optionally with a dotted
  sub-module (default: the same name; ``model`` for a single-module run, e.g. ``model.embedding``);
  ``module``: a dotted sub-module of this part to load into (default: the whole part); ``strict``.
  The source's raw weights are loaded, not its EMA copy, before the first step of a new run only: a
  resumed run takes every weight from its checkpoint.
- ``freeze``: the part is not trained (no optimiser updates it; batch-norm statistics still move in
  training mode).
- ``ema``: the decay ``d`` of an exponential moving average ``e <- d e + (1 - d) w`` of the part's
  weights (buffers too), updated after every optimiser step that changes the part. Validation, the
  final evaluation and ``eval.py`` use the EMA copy in place of the raw part; both are checkpointed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from engine.checkpoint import load_checkpoint
from engine.errors import CheckpointError, ConfigError, as_bool, as_number, one_line
from engine.instantiate import CONFIGS
from engine.parts import SINGLE, parts_of, with_parts

PART_SETTINGS = {"init_from": None, "source": None, "module": None, "strict": True, "freeze": False, "ema": None}


def part_settings(parts: dict[str, nn.Module], settings: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``trainer.parts`` validated: known part names and keys, typed values; defaults filled in."""
    settings = dict(settings or {})
    unknown = set(settings) - set(parts)
    if unknown:
        raise ConfigError(f"trainer.parts names {sorted(unknown)}, but the model's parts are {sorted(parts)}")
    out = {}
    for name in parts:
        spec = settings.get(name) or {}
        if not isinstance(spec, dict):
            raise ConfigError(f"trainer.parts.{name} must be a mapping of settings ({', '.join(PART_SETTINGS)}), got {spec!r}")
        spec = dict(spec)
        extra = set(spec) - set(PART_SETTINGS)
        if extra:
            raise ConfigError(f"trainer.parts.{name} has unknown key(s) {sorted(extra)}; known: {sorted(PART_SETTINGS)}")
        unused = [k for k in ("source", "module", "strict") if k in spec and spec[k] != PART_SETTINGS[k]]
        if unused and spec.get("init_from") in (None, ""):
            raise ConfigError(f"trainer.parts.{name}.{unused[0]} only applies with trainer.parts.{name}.init_from=<run or .pt>")
        spec = {**PART_SETTINGS, **spec}
        spec["strict"] = as_bool(f"trainer.parts.{name}.strict", spec["strict"])
        spec["freeze"] = as_bool(f"trainer.parts.{name}.freeze", spec["freeze"])
        if spec["ema"] is not None:
            decay = as_number(f"trainer.parts.{name}.ema", spec["ema"])
            if not 0.0 < decay < 1.0:
                raise ConfigError(f"trainer.parts.{name}.ema must be a decay in (0, 1) or null, got {spec['ema']}")
            spec["ema"] = decay
        out[name] = spec
    return out


def part_state(state: dict[str, Any], source: str, origin: str) -> dict[str, torch.Tensor]:
    """The tensors of part (or dotted sub-module) ``source`` in a checkpoint's model, with the prefix removed."""
    names = state.get("parts") or [SINGLE]
    head = source.split(".", 1)[0]
    if head not in names:
        raise ConfigError(f"{origin}: the checkpoint's model has parts {names}, not {head!r}; set its source=<one of them>")
    prefix = source.split(".", 1)[1] if names == [SINGLE] and "." in source else "" if names == [SINGLE] else source
    prefix = f"{prefix}." if prefix else ""
    found = {k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)}
    if not found:
        raise ConfigError(f"{origin}: no weights under {source!r} in the checkpoint")
    return found


def initial_checkpoint(path: Path) -> Path:
    """The checkpoint ``init_from`` names: the file itself, a run's ``best.pt``, or the latest finished run's
    ``best.pt`` in a folder of runs (one line naming the command that makes it when there is none)."""
    if not path.is_dir() or (path / "best.pt").is_file():
        return path / "best.pt" if path.is_dir() else path
    runs = sorted(path.glob("*/metrics.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise CheckpointError(f"{path} holds no finished run (a run folder with metrics.json and best.pt): train one "
                              f"first, e.g. `python train.py experiment={path.name}`")
    return runs[-1].parent / "best.pt"


def missing_run_hint(path: Path) -> str:
    """For ``init_from`` naming nothing on disk: the command that trains it when its folder is named after an
    experiment (``runs/fmnist_classifier``), else where to point it."""
    if path.exists():
        return ""
    if (CONFIGS / "experiment" / f"{path.name}.yaml").is_file():
        return f"; train that run first: python train.py experiment={path.name}"
    return "; train that run first or point it at a run folder or .pt"


class Weights:
    """The model's parts, the loss and any EMA copies: what a checkpoint restores."""

    def __init__(self, model: nn.Module, loss: nn.Module, settings: dict[str, Any] | None = None) -> None:
        self.model, self.loss = model, loss
        self.parts = parts_of(model)
        self.settings = part_settings(self.parts, settings)
        self.ema: dict[str, AveragedModel] = {}
        for name, spec in self.settings.items():
            if spec["freeze"]:
                self.parts[name].requires_grad_(False)
            if spec["ema"] is not None:
                avg = get_ema_multi_avg_fn(spec["ema"])
                self.ema[name] = AveragedModel(self.parts[name], multi_avg_fn=avg, use_buffers=True)

    def to(self, device: torch.device) -> Weights:
        self.model.to(device)
        self.loss.to(device)
        for ema in self.ema.values():
            ema.to(device)
        return self

    # ------------------------------------------------------------ before training
    def load_initial(self, device: torch.device | str = "cpu") -> None:
        """Load every part that has ``init_from``, then start each EMA copy from its part."""
        for name, spec in self.settings.items():
            if spec["init_from"] in (None, ""):
                continue
            origin = f"trainer.parts.{name}.init_from={spec['init_from']}"
            try:
                state = load_checkpoint(initial_checkpoint(Path(str(spec["init_from"]))), map_location=device)
            except CheckpointError as e:
                raise CheckpointError(f"{origin}: {e}{missing_run_hint(Path(str(spec['init_from'])))}") from None
            tensors = part_state(state, spec["source"] or name, origin)
            target = self.parts[name]
            try:
                if spec["module"]:
                    target = target.get_submodule(spec["module"])
                target.load_state_dict(tensors, strict=spec["strict"])
            except (AttributeError, RuntimeError) as e:
                raise CheckpointError(f"{origin} does not fit part {name!r}, another architecture ({one_line(e)}); "
                                      "point it at a checkpoint of the same architecture") from None
        self.reset_ema()

    def reset_ema(self) -> None:
        """Each EMA copy becomes its part again (after loading, or after rank 0's weights are broadcast)."""
        for name, ema in self.ema.items():
            ema.module.load_state_dict(self.parts[name].state_dict())
            ema.n_averaged.zero_()

    # ------------------------------------------------------------ during training
    def update_ema(self, names: list[str]) -> None:
        for name in names:
            if name in self.ema:
                self.ema[name].update_parameters(self.parts[name])

    def eval_model(self) -> nn.Module:
        """The model as evaluated: EMA copies in place of their parts."""
        return with_parts(self.model, {name: ema.module for name, ema in self.ema.items()})

    # ------------------------------------------------------------ the one restore path
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "parts": list(self.parts),
            "loss": self.loss.state_dict(),
            "ema": {name: ema.state_dict() for name, ema in self.ema.items()},
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Restore parts, loss and EMA copies from ``state``; one ``CheckpointError`` if they do not fit."""
        parts = state.get("parts") or [SINGLE]
        ema = state.get("ema") or {}
        try:
            if parts != list(self.parts):
                raise KeyError(f"model parts {parts}, expected {list(self.parts)}")
            if set(ema) != set(self.ema):
                raise KeyError(f"EMA copies of {sorted(ema)}, expected {sorted(self.ema)}")
            self.model.load_state_dict(state["model"])
            self.loss.load_state_dict(state["loss"])
            for name, copy in self.ema.items():
                copy.load_state_dict(ema[name])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{source} does not match this model/loss config ({one_line(e)})") from None
