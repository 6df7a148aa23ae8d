"""Atomic checkpoints and the RNG state that makes resume bit-exact.

A checkpoint is a plain dict of tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``: no pickled code runs when a file is opened.
"""

from __future__ import annotations

import fnmatch
import random
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from engine.config_leaves import config_leaves
from engine.errors import CheckpointError, one_line
from engine.files import atomic_open
from engine.run_folders import RESULT_NEUTRAL

FORMAT_VERSION = 2  # 2: the loss module's state under "loss" (was "objective")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically: a temp file in the same folder, fsync, rename.

    A process that dies mid-write leaves the previous file at ``path`` untouched.
    """
    with atomic_open(path) as f:
        torch.save({"format_version": FORMAT_VERSION, **state}, f)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, or raise one clear ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise CheckpointError(
            f"checkpoint {path} is corrupted or not a checkpoint of this project ({one_line(e)}); "
            "delete it, or resume from another run with resume=<run folder>"
        ) from None
    if isinstance(state, dict) and state.get("format_version") == 1:
        raise CheckpointError(
            f"checkpoint {path} was written before the losses were renamed (format 1: the Objective classes, whose names "
            "its config holds); continue or evaluate it with the code of that time (git checkout 316ed2d), or train anew"
        )
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has an unknown format (expected format_version {FORMAT_VERSION}); "
            "it was written by another version of this code"
        )
    return state


def rng_state() -> dict[str, Any]:
    """Every global random stream the training step may draw from (python, numpy, torch, cuda)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


@cache  # once per process, not at every checkpoint
def code_version() -> str:
    """The git commit of the code that wrote a checkpoint (``-dirty`` when uncommitted edits exist)."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=root, capture_output=True, text=True, timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def config_changes(old_yaml: str, new_yaml: str, defaults: Mapping[str, Any] | None = None) -> list[str]:
    """``key: old -> new`` for each value (scalar or list) that differs between two resolved configs.

    Values are compared, not spellings: a key that is null on one side and absent on the other is no
    change (an optional setting added), and so is a key written at the value the code applies when it is
    absent: ``defaults`` maps key patterns (``trainer.players.*.repeat``, ``fnmatch`` style) to that value.
    """
    if not old_yaml or not new_yaml:
        return []
    patterns = dict(defaults or {})

    def is_default(key: str, value: Any) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) and value == default for pattern, default in patterns.items())

    old, new = ({k: v for k, v in config_leaves(yaml.safe_load(text) or {}).items() if v is not None and not is_default(k, v)}
                for text in (old_yaml, new_yaml))
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)} -> {new.get(k)}" for k in keys
            if old.get(k) != new.get(k) and not _neutral(k)]


def _neutral(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RESULT_NEUTRAL)
