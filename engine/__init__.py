"""The one training loop and what it is made of: ``from engine import Trainer, make_trainer``.

Imported lazily (PEP 562), so that the leaf helpers (``engine.errors``, ``engine.files``, ...) stay cheap to
import for the tools that need nothing of the trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.contracts import DataModule, Evaluator, Loss
    from engine.runs import make_trainer
    from engine.trainer import Trainer

__all__ = ["DataModule", "Evaluator", "Loss", "Trainer", "make_trainer"]

_WHERE = {"Trainer": "engine.trainer", "make_trainer": "engine.runs", "DataModule": "engine.contracts",
          "Evaluator": "engine.contracts", "Loss": "engine.contracts"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
