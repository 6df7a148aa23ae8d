"""Which metrics are headlines: one definition for the hparams plugin, ``eval.py`` and sweep summaries."""

from __future__ import annotations

from typing import Any


def is_headline(key: str, value: Any) -> bool:
    """A float under ``split/name``: ``test/acc`` and ``val/best_acc`` are headlines;
    ``test/acc_class/3_Dress`` (a detail), ``test/n`` (a count) and ``checkpoint_step`` are not."""
    return isinstance(value, float) and key.count("/") == 1


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline metrics of a ``metrics.json``, in their order."""
    return {k: v for k, v in metrics.items() if is_headline(k, v)}
