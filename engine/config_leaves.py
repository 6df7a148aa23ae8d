"""A nested config as flat ``{"optim.lr": 0.1, "scheduler.milestones": [0.5, 0.75], ...}``: one flattener for the
resume check (``engine.checkpoint.config_changes``), the path settings (``engine.paths``) and TensorBoard's
hparams (``engine.run_logger.flat_hparams``)."""

from __future__ import annotations

from typing import Any


def config_leaves(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested dict under its dotted key; lists are leaves (``scheduler.milestones``), empty mappings
    have none."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(config_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
