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

from engine.errors import ConfigError, ProjectError
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
        check_launcher()
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


def check_launcher() -> None:
    """A submitit launcher (``hydra/launcher=slurm`` or ``local``) named on the command line of a run without ``-m``:
    Hydra would ignore it and train here, in this process (on a cluster's login node); one line instead."""
    hydra_cfg = HydraConfig.get()
    if in_sweep() or not any(override_key(o) == "hydra/launcher" for o in hydra_cfg.overrides.hydra):
        return
    if "hydra_submitit_launcher" in str(hydra_cfg.launcher.get("_target_", "")):
        name = hydra_cfg.runtime.choices.get("hydra/launcher")
        raise ConfigError(f"hydra/launcher={name} submits sweep jobs: add -m (python {hydra_cfg.job.name}.py -m "
                          f"hydra/launcher={name} ...), even for one job; without -m the run would go on here")


def check_submitit_launcher(argv: list[str]) -> None:
    """Before Hydra starts: a submitit launcher named on the command line (``hydra/launcher=slurm`` or ``local``)
    that cannot start jobs here is one line ``error: ...`` and exit status 2, not a traceback from inside Hydra's
    sweep (with an empty sweep folder left behind): submitit or its Hydra plugin not installed, Slurm's ``srun``
    missing, or ``hydra.launcher.nodes`` above 1 for the local executor (one machine)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        overrides = OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except HydraException:
        return  # Hydra reports a malformed override itself
    values = {o.key_or_group: o.value() for o in overrides if not o.is_sweep_override()}
    launcher = values.get("hydra/launcher")
    if launcher not in ("slurm", "local", "submitit_slurm", "submitit_local"):
        return
    problem = None
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
        import submitit  # noqa: F401
    except ImportError as e:
        problem = f"{e.name or 'submitit'} is not installed (pip install -r requirements.txt: submitit, hydra-submitit-launcher)"
    else:
        if "slurm" in launcher and shutil.which("srun") is None:
            problem = "no Slurm on this machine (srun not found); the same jobs run here with hydra/launcher=local"
        elif "local" in launcher and values.get("hydra.launcher.nodes", 1) != 1:
            problem = (f"hydra.launcher.nodes={values['hydra.launcher.nodes']}: the local executor runs every job on "
                       "this machine (nodes=1); more processes per job: hydra.launcher.tasks_per_node")
    if problem:
        print(f"error: hydra/launcher={launcher}: {problem}", file=sys.stderr)
        sys.exit(2)


def remove_if_empty(folder: Path) -> None:
    """Remove a run folder that a failed start left holding nothing but Hydra's config record and the log,
    so that no empty run shows in TensorBoard, ``tools/summarize.py`` or a later ``resume=auto``."""
    if folder.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def print_result(summary: Any) -> None:
    """Print a tool's summary (nothing for a failed sweep job)."""
    if summary is not None:
        print(summary)
