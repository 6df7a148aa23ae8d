"""What every command-line app (``train.py``, ``eval.py``, ``tools/*.py``) does around its work.

A :class:`~engine.errors.ProjectError` becomes one line ``error: ...`` and exit status 2; inside a
Hydra sweep (``-m``) the failed job leaves the reason in its folder's ``error.txt`` and the other
jobs go on. Ctrl-C outside the trainer exits with 130 after saying what the run folder may hold.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_original_cwd
from omegaconf import DictConfig

from engine.errors import ProjectError
from engine.files import write_atomic
from engine.instantiate import check_known_keys
from engine.paths import resolve_path_settings
from engine.run_folders import override_key, register_resolvers

register_resolvers()  # every app's run folders: ${run_folder:...}, ${fresh_folder:...}, ${result_neutral:}
T = TypeVar("T")


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_guarded(work: Callable[[DictConfig, Path], T], cfg: DictConfig, rerun_hint: str = "rerun the same command",
                new_folder: bool = False) -> T | None:
    """``work(cfg, run_folder)``, with user errors as one line; returns ``None`` for a failed sweep job.

    Keys of ``cfg`` that nothing reads are refused first (``engine.instantiate.check_known_keys``).
    ``new_folder``: the command made its folder for this run (no ``resume=<folder>``), so a failed start
    removes it again when it holds only Hydra's record and the log (a sweep job keeps it, with ``error.txt``).
    """
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        check_known_keys(cfg, HydraConfig.get().job.config_name)
        # saved configs then name the same files from anywhere; a path set on the command line is the user's file
        given = {override_key(o) for o in HydraConfig.get().overrides.task}
        resolve_path_settings(cfg, get_original_cwd(), given)
        return work(cfg, out)
    except ProjectError as e:
        print(f"error: {e}", file=sys.stderr)
        if in_sweep():  # the sweep goes on; the job's folder keeps the reason beside its config
            if out.is_dir():
                write_atomic(out / "error.txt", f"{e}\n")
            return None
        if new_folder:
            remove_if_empty(out)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted: {out} may hold only part of the outputs; {rerun_hint}", file=sys.stderr)
        sys.exit(130)


def remove_if_empty(folder: Path) -> None:
    """Remove a run folder that a failed start left holding nothing but Hydra's config record and the log,
    so that no empty run shows in TensorBoard, ``tools/summarize.py`` or a later ``resume=auto``."""
    if folder.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def print_result(summary: Any) -> None:
    """Print a tool's summary (nothing for a failed sweep job)."""
    if summary is not None:
        print(summary)
