"""Where runs live: ``runs/<name>/<date_time>/`` and ``runs/multirun/<name>/<date_time>/<overrides>/``.

Registered as OmegaConf resolvers so that Hydra itself creates the right folder: with
``resume=auto`` the run continues in the latest folder of the same experiment that holds a
``last.pt`` (and a sweep in the latest sweep folder), with ``resume=<folder or .pt file>`` in that
folder, otherwise in a new time-stamped one. A submitit job that is requeued (pre-empted, or at its time limit)
starts again in the folder its first start made (Hydra's launcher pickles the sweep's config, resolved folder
included) and continues from that folder's ``last.pt`` (:meth:`Resume.parse` with ``run_dir``).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from engine.cluster_env import process_rank, submitit_task
from engine.errors import ConfigError

log = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%d_%H-%M-%S"

# Settings that do not change what a run computes: the one list. A resumed run may change them
# (engine.checkpoint.config_changes), sweep job folders leave them out of their names (the Hydra configs
# read this list through ${result_neutral:}) and tools/summarize.py does not group runs by them.
RESULT_NEUTRAL = ("resume", "runs_root", "progress", "device", "trainer.progress", "trainer.device",
                  "trainer.log_every_steps", "trainer.val_png", "board_hparams", "trainer.find_unused_parameters",
                  "trainer.dist_timeout_s")


def folder_name_excludes() -> list[str]:
    """Overrides left out of sweep job folder names: the result-neutral ones, and ``name`` (already the
    sweep folder's own name). ``experiment`` stays, so that a sweep over experiments
    (``-m experiment=a,b name=study``) gets one folder per experiment."""
    return [*RESULT_NEUTRAL, "name"]


def latest_run(base: str | Path, depth: int = 1) -> Path | None:
    """The most recent folder ``depth`` levels under ``base`` that holds a ``last.pt``."""
    base = Path(base)
    if not base.is_dir():
        return None
    pattern = "/".join(["*"] * depth) + "/last.pt"
    found = sorted(base.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1].parents[depth - 1] if found else None


def fresh_folder(base: str) -> str:
    """``base/<date_time>``, with ``_2``, ``_3``, ... appended if a run started in the same second has it."""
    stamp = Path(base) / datetime.now().strftime(TIME_FORMAT)
    path, k = stamp, 1
    while path.exists():
        k += 1
        path = stamp.with_name(f"{stamp.name}_{k}")
    return str(path)


@dataclass(frozen=True)
class Resume:
    """What ``resume=`` says, parsed in this one place: start anew (``kind="new"``), continue the latest run
    (``"auto"``), a checkpoint file (``"file"``) or a run folder (``"folder"``). Both the folder a run writes in
    (:meth:`folder`, read by Hydra through the resolvers below) and the checkpoint it loads (:meth:`checkpoint`,
    read by ``train.py``) come from it. A job that was requeued with no ``resume=`` continues as with
    ``resume=auto``: one that Slurm restarted (``SLURM_RESTART_COUNT`` > 0), or a submitit job started again in
    its own folder (:func:`requeued_in`)."""

    kind: str
    path: Path | None = None

    @classmethod
    def parse(cls, value: str | None, requeue: bool = True, run_dir: str | Path | None = None) -> Resume:
        """``requeue=False``: a restart does not turn an empty ``resume=`` into ``auto`` (a sweep's own folder: only
        its jobs are requeued). ``run_dir``: the job's folder, for :func:`requeued_in`."""
        value = None if value in (None, "", "null") else str(value)
        if value is None:
            restarted = os.environ.get("SLURM_RESTART_COUNT", "0") != "0"
            requeued = requeue and (restarted or (run_dir is not None and requeued_in(run_dir)))
            return cls("auto") if requeued else cls("new")
        if value == "auto":
            return cls("auto")
        path = Path(value)
        return cls("file", path) if path.suffix == ".pt" else cls("folder", path)

    def folder(self, base: str | Path, depth: int = 1) -> Path | None:
        """The folder to continue in (``None``: a new one under ``base``); ``depth`` 2 for a sweep's folder."""
        if self.kind == "auto":
            return latest_run(base, depth)
        if self.kind in ("file", "folder"):
            return self.path.parent if self.kind == "file" else self.path
        return None

    def checkpoint(self, run_dir: str | Path) -> Path | None:
        """The checkpoint the run in ``run_dir`` (the folder Hydra chose) loads, or ``None`` to start fresh; one line
        when ``resume=`` names a file or folder that holds none."""
        if self.kind == "new":
            return None
        if self.kind == "file":
            if not self.path.is_file():
                raise ConfigError(f"resume={self.path}: no such checkpoint")
            return self.path
        last = Path(run_dir) / "last.pt"
        if last.is_file():
            return last
        if self.kind == "auto":
            log.info("resume=auto: no earlier run with a last.pt, starting a new run in %s", run_dir)
            return None
        raise ConfigError(f"resume={self.path}: {self.path / 'last.pt'} does not exist")


def requeued_in(run_dir: str | Path) -> bool:
    """Whether this process is a submitit job started again in the folder it made before: requeued after
    pre-emption or at its time limit (on Slurm, or by the local executor, which restarts the job under the same
    id). ``run_dir`` then holds a ``last.pt`` and Hydra's record of the run's first start (``.hydra/hydra.yaml``)
    names this job's id; a folder of another job (``hydra.sweep.dir`` pointed at an old sweep) does not."""
    task = submitit_task()
    record = Path(run_dir) / ".hydra" / "hydra.yaml"
    if task is None or not (Path(run_dir) / "last.pt").is_file() or not record.is_file():
        return False
    recorded = OmegaConf.select(OmegaConf.load(record), "hydra.job.id", default=None)
    return recorded is not None and str(recorded) == task.job_id


def scratch_folder() -> str:
    """A folder of this process's own, removed at exit: where Hydra puts the config record and log of a rank
    above 0 (only rank 0 writes in the run's folder; the others get rank 0's folder from the trainer)."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix=f"hydra-rank{process_rank()}-")
        atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    return _scratch


_scratch: str | None = None


def run_folder(base: str, resume: str | None) -> str:
    """The folder of a single run under ``base`` (see module docstring)."""
    if process_rank() != 0:  # torchrun's ranks above 0
        return scratch_folder()
    found = Resume.parse(resume).folder(base)
    return fresh_folder(base) if found is None else existing_folder(str(found))


def sweep_folder(base: str, resume: str | None) -> str:
    """The folder of a sweep: the latest one under ``base`` with ``resume=auto``, else a new one."""
    parsed = Resume.parse(resume, requeue=False)
    found = parsed.folder(base, depth=2) if parsed.kind == "auto" else None
    return fresh_folder(base) if found is None else str(found)


def config_subdir(run_dir: str) -> str:
    """Hydra's record of the config: ``.hydra`` for a new run; a resumed run keeps its original one
    and records the resuming command's config beside it."""
    if (Path(run_dir) / "last.pt").is_file():
        return str(Path(".hydra") / f"resume_{datetime.now().strftime(TIME_FORMAT)}")
    return ".hydra"


def swept_keys(sweep_dir: str | Path) -> list[str]:
    """The keys a sweep varies (``seed=0,1,2``, ``optim.lr=range(1,4)``), in command-line order, read from the
    ``multirun.yaml`` Hydra's sweeper writes into the sweep folder before it starts any job; [] without one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return []
    task = OmegaConf.select(OmegaConf.load(path), "hydra.overrides.task", default=None) or []
    return [o.key_or_group for o in OverridesParser.create().parse_overrides([str(t) for t in task])
            if o.is_sweep_override()]


def override_key(override: str) -> str:
    """``+trainer.x=1`` -> ``trainer.x``."""
    return override.split("=", 1)[0].lstrip("+~")


def job_folder(overrides: list[str], sweep_dir: str | None = None) -> str:
    """A sweep job's folder name: its overrides (less the result-neutral ones and ``name``), the keys the sweep
    varies first, so that a name cut short in TensorBoard still shows what differs
    (``optim.lr=0.05,seed=1,experiment=fmnist_cnn``); ``/`` in a value (``init_from=runs/x``) written ``_``,
    so that every job is one folder directly under the sweep's. The tasks above 0 of a multi-task submitit job
    (``hydra.launcher.tasks_per_node=2``) get a scratch folder instead (an absolute path: Hydra joins it as is)."""
    if process_rank() != 0:
        return scratch_folder()
    excluded = set(folder_name_excludes())
    items = [str(o) for o in overrides if override_key(str(o)) not in excluded]
    swept = sorted(swept_keys(sweep_dir) if sweep_dir else [], key=lambda k: k == "seed")  # the replicate last
    rank = {k: i for i, k in enumerate(swept)}
    items.sort(key=lambda o: (rank.get(override_key(o), len(rank)), override_key(o)))
    return ",".join(items).replace("/", "_")


def existing_folder(path: str) -> str:
    """``path`` if it is a folder, else a scratch folder, so that a mistyped ``run=`` or ``resume=``
    creates nothing (``eval.py`` / ``train.py`` then report the missing run themselves)."""
    return path if Path(path).is_dir() else tempfile.mkdtemp(prefix="eval-missing-run-")


def register_resolvers() -> None:
    # use_cache: Hydra copies resolver caches into each job's config, so all jobs of a sweep agree
    for name, fn, cache in (("run_folder", run_folder, True), ("sweep_folder", sweep_folder, True),
                            ("config_subdir", config_subdir, False), ("existing_folder", existing_folder, True),
                            ("fresh_folder", fresh_folder, True),
                            ("result_neutral", folder_name_excludes, False), ("job_folder", job_folder, False)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=cache)
