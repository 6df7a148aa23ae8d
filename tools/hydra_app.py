"""What every Hydra tool does around its work: one line for a user error, and sweeps that go on."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from engine.errors import ProjectError
from engine.run_folders import register_resolvers

register_resolvers()  # the tools' run folders: ${fresh_folder:...}


def run_guarded(work: Callable[[DictConfig, Path], str], cfg: DictConfig, rerun_hint: str) -> None:
    """Run ``work(cfg, run_folder)`` and print what it returns.

    A :class:`ProjectError` prints ``error: ...`` and exits with 2, except inside a ``-m`` sweep, where
    the other jobs go on. Ctrl-C exits with 130 after saying what the run folder may hold.
    """
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = work(cfg, out)
    except ProjectError as e:
        print(f"error: {e}", file=sys.stderr)
        if out.is_dir():  # a sweep's summary lists this job as unfinished; the reason stays beside it
            (out / "error.txt").write_text(f"{e}\n", encoding="utf-8")
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"interrupted: {out} may hold only part of the outputs; {rerun_hint}", file=sys.stderr)
        sys.exit(130)
    print(summary)
