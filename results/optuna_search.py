"""Searched sweeps: Optuna through Hydra's sweeper (configs/hparams_search/, docs/sweeps.md).

The study lives in the sweep folder (``optuna.db``), beside one job folder per trial. The Hydra callback
:class:`OptunaSearch` (in every train config: configs/hydra/default.yaml; it does nothing under other sweepers) sets
the sweeper up before it starts: it checks the search space and the direction against the composed config, pins the
sweep folder (``resume=auto`` or ``resume=<search folder>``), counts the trials the study already holds (``n_trials``
is the total), re-runs an interrupted trial in its own folder, and tells Optuna the worst value for a trial that
failed. Reading a search folder back (tools/summarize.py) is :mod:`results.sweeps`'s.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from engine.errors import ConfigError, ProjectError
from engine.run_folders import Resume, override_key

log = logging.getLogger(__name__)

# interrupted trial in its own folder, and tells Optuna the worst value for a trial that failed.

STUDY_FILE = "optuna.db"
DIRECTIONS = {"max": "maximize", "min": "minimize"}  # an evaluator's mode -> the direction that optimises it


def objective_key(metrics: dict[str, Any]) -> str | None:
    """The value a sweeper optimises: the first ``val/best_<monitor>`` of a ``metrics.json`` (what train.py returns)."""
    return next((k for k in metrics if k.startswith("val/best_")), None)


def check_direction(direction: Any, monitor: str, mode: str, evaluator: str) -> str:
    """``direction`` checked against the evaluator's ``mode`` (``max`` needs maximize, ``min`` minimize); a missing
    direction is taken from the mode. ``mode = "last"`` says nothing about which way is better: the direction is the
    user's, and must be given."""
    want = DIRECTIONS.get(mode)
    if direction is None:
        if want is None:
            raise ConfigError(f"the objective val/best_{monitor} of {evaluator} (mode {mode}) has no better side: set "
                              "hydra.sweeper.direction=maximize or minimize")
        return want
    direction = str(getattr(direction, "name", direction))
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"hydra.sweeper.direction={direction!r}: write maximize or minimize")
    if want is not None and direction != want:
        better = "higher" if mode == "max" else "lower"
        raise ConfigError(f"hydra.sweeper.direction={direction}, but the objective val/best_{monitor} is better "
                          f"{better} ({evaluator} has mode {mode}): set hydra.sweeper.direction={want}")
    return direction


def flat_params(params: Any, prefix: str = "") -> dict[str, str]:
    """``hydra.sweeper.params`` as ``{dotted key: override value}``, nested mappings flattened."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if isinstance(value, (dict, DictConfig)):
            out.update(flat_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def search_space(params: Any, task: list[str]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """What Optuna's sweeper will search, parsed with the sweeper's own function: the distributions by key, the fixed
    overrides by key, and where each searched key was given (``hydra.sweeper.params``, or the command line, whose
    ``optim.lr=interval(0.01,0.1)`` replaces the config's range)."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    flat = flat_params(params)
    space, fixed = create_params_from_overrides([f"{k}={v}" for k, v in flat.items()] + [str(t) for t in task])
    fixed = {k: v for k, v in fixed.items() if k not in space}
    command_line = {override_key(str(t)) for t in task}
    given = {k: "the command line" if override_key(k) in command_line else "hydra.sweeper.params" for k in space}
    return space, fixed, given


def representative(distribution: Any) -> Any:
    """A value inside an Optuna distribution (its low end, or its first choice), to compose one trial's config."""
    if hasattr(distribution, "choices"):
        return distribution.choices[0]
    return int(distribution.low) if type(distribution).__name__.startswith("Int") else distribution.low


def missing_key(cfg: DictConfig, key: str) -> str | None:
    """``None`` when the dotted ``key`` is in ``cfg``; else which part is missing and the keys that are there."""
    node: Any = cfg
    parts = key.split(".")
    for i, part in enumerate(parts):
        if isinstance(node, DictConfig) and part in node.keys():
            node = node._get_node(part)
            continue
        if isinstance(node, ListConfig) and part.isdigit() and int(part) < len(node):
            node = node._get_node(int(part))
            continue
        parent = ".".join(parts[:i])
        there = (", ".join(sorted(str(k) for k in node.keys() if not str(k).startswith("_")))
                 if isinstance(node, DictConfig) else "none, not a mapping")
        return f"{parent + '.' if parent else ''}{part} is not a config key ({parent or 'the top level'} has: {there})"
    return None


def evaluator_mode(node: Any) -> tuple[str, str, str] | None:
    """``(monitor, mode, class path)`` of an evaluator config: its own value, else its class's default; ``None`` for
    a config without an importable ``_target_`` (the trial itself then says what is wrong)."""
    from hydra._internal.utils import _locate

    if not isinstance(node, DictConfig) or "_target_" not in node:
        return None
    target = str(node._target_)
    try:
        cls = _locate(target)
    except Exception:
        return None
    try:
        signature = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        signature = {}

    def setting(name: str) -> str:
        if name in node and not OmegaConf.is_missing(node, name):
            return str(node[name])
        if name in signature and signature[name].default is not inspect.Parameter.empty:
            return str(signature[name].default)
        return str(getattr(cls, name))

    return setting("monitor"), setting("mode"), target


def check_search_space(config: DictConfig, space: dict[str, Any], fixed: dict[str, str], given: dict[str, str],
                       where: str) -> DictConfig:
    """Compose one trial's config (each searched key at a value of its range) as the launcher will, and refuse what
    every trial would refuse: a key no config has, a key nothing reads (``engine.instantiate``'s checks). Returns the
    composed config; ``where`` names the search config in the message."""
    from hydra.core.global_hydra import GlobalHydra

    from engine.instantiate import check_known_keys, check_target_keys

    loader = GlobalHydra.instance().config_loader()
    base = [f"{k}={v}" for k, v in fixed.items()]
    trial = {k: representative(d) for k, d in space.items()}
    # every choice of a categorical key too (a group option that does not exist), the others at their first value
    trials = [trial] + [{**trial, k: c} for k, d in space.items() for c in getattr(d, "choices", ())[1:]]

    def origin(key: str) -> str:
        return f"given in {where}, hydra.sweeper.params" if given.get(key) == "hydra.sweeper.params" else \
            "given on the command line"

    def fix(key: str) -> str:
        return (f"correct its name in {where} (hydra.sweeper.params)" if given.get(key) == "hydra.sweeper.params"
                else f"correct {override_key(key)}=... on the command line")

    try:
        jobs = [loader.load_sweep_config(config, base + [f"{k}={v}" for k, v in t.items()]) for t in trials]
    except Exception as e:  # Hydra's composition errors: find the key, else pass Hydra's reason on in one line
        try:
            plain = loader.load_sweep_config(config, base)
        except Exception:
            plain = None
        for key in space:
            if plain is not None and not key.startswith(("+", "~")) and "/" not in key and "@" not in key:
                if (hint := missing_key(plain, key)) is not None:
                    raise ConfigError(f"the search space names {key}, but {hint}: {fix(key)}; no trial was run") from None
        reason = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ConfigError(f"the search space does not compose into a trial's config ({reason}); no trial was run") from None
    job, key = jobs[0], ""
    try:
        check_known_keys(job, str(config.hydra.job.config_name))
        for key in space:
            path = override_key(key).split(".")
            for depth in range(len(path) - 1, 0, -1):  # the deepest node with a _target_ that holds the key
                node = OmegaConf.select(job, ".".join(path[:depth]))
                if isinstance(node, DictConfig) and "_target_" in node:
                    check_target_keys(".".join(path[:depth]), node)
                    break
            if path[0] == "trainer" and len(path) > 1:
                from engine.trainer import Trainer

                if path[1] not in inspect.signature(Trainer).parameters:
                    raise ConfigError(f"trainer.{path[1]} is not a trainer setting (configs/trainer/default.yaml)")
    except ConfigError as e:
        key = next((k for k in space if re.search(rf"(?<![\w.]){re.escape(override_key(k))}(?![\w.])", str(e))), key)
        raise ConfigError(f"the search space: {e} ({origin(key)}); no trial was run") from None
    return job


def quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value (``hydra.sweep.dir='runs/x,y'``): a quote escaped, backslashes
    doubled where they precede a quote (Hydra's rule), ``${`` escaped so that OmegaConf keeps it as text."""
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return "'" + text.replace("${", "\\${") + "'"


def resume_study(storage: str, study_name: str, direction: str, n_trials: int, objective: str) -> tuple[int, int]:
    """Load (or create) the study; returns ``(trials done, trials held)``: ``n_trials - done`` are still to run.

    ``n_trials`` counts every trial of the study: finished, pruned and failed ones. A trial left running by an
    interrupted search is marked failed (user attribute ``interrupted``, not counted) and its values are queued
    again, so that the next trial re-runs it in the same job folder, where ``resume=auto`` continues its ``last.pt``.
    """
    import optuna
    from optuna.trial import Trial, TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # no such study yet
        study = optuna.create_study(storage=storage, study_name=study_name, direction=direction)
    if study.direction.name.lower() != direction:
        raise ConfigError(f"the study {study_name!r} in {storage} is to {study.direction.name.lower()}, this command "
                          f"says {direction}: keep the study's direction, or start a new search (no resume=)")
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if t.state == TrialState.RUNNING:
            Trial(study, t._trial_id).set_user_attr("interrupted", True)
            study.tell(t.number, state=TrialState.FAIL)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # enqueue_trial is "experimental" in optuna 2.10
                study.enqueue_trial(t.params)
            log.info("trial %d was interrupted: it runs again, continuing from its last.pt", t.number)
    done = sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and not t.user_attrs.get("interrupted")))
    study.set_user_attr("n_trials", int(n_trials))
    study.set_user_attr("objective", objective)
    return done, len(trials)


def resumed_seed(seed: int, held: int) -> int:
    """The sampler's seed for a search resumed with ``held`` trials in its study: a fresh stream derived from both
    (the seed itself would draw trial 0's values again), the same for the same study."""
    return int(np.random.SeedSequence([seed, held]).generate_state(1)[0])


def is_optuna_search(config: DictConfig) -> bool:
    """Whether ``config`` runs under Optuna's sweeper."""
    return "optuna" in str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))


def prepare_search(config: DictConfig) -> str:
    """Set the master config of a ``-m`` run under Optuna's sweeper up before the sweeper is made (the section's
    comment); returns the direction. Raises :class:`ConfigError` for a search that would fail or mislead."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # optuna's storage imports alembic, which logs its plugins
    sweeper = config.hydra.sweeper
    choice = OmegaConf.select(config, "hydra.runtime.choices.hparams_search", default=None)
    where = f"configs/hparams_search/{choice}.yaml" if choice else "the search config"
    resume = Resume.parse(config.get("resume"), requeue=False)
    if resume.kind == "file":
        raise ConfigError(f"resume={resume.path} names one run's checkpoint; a search continues with resume=auto (the "
                          "latest search of this name) or resume=<its sweep folder>")
    if resume.kind == "folder" and not (resume.path / STUDY_FILE).is_file():
        raise ConfigError(f"resume={resume.path}: no {STUDY_FILE} there, so not a search folder (a search continues "
                          "with resume=auto or resume=runs/multirun/<name>/<date_time>)")
    sweep_dir = str(resume.path) if resume.kind == "folder" else str(config.hydra.sweep.dir)
    if resume.kind == "auto" and Path(sweep_dir).is_dir() and not (Path(sweep_dir) / STUDY_FILE).is_file():
        raise ConfigError(f"resume=auto found {sweep_dir}, a sweep without {STUDY_FILE} (a grid sweep of the same name?): "
                          "continue a search with resume=<its sweep folder>")
    task = [str(t) for t in config.hydra.overrides.task]
    space, fixed, given = search_space(sweeper.params, task)
    if not space:
        raise ConfigError(f"the search space is empty: give hydra.sweeper.params in {where}, or a range on the command "
                          "line ('optim.lr=tag(log, interval(0.001, 0.1))')")
    job = check_search_space(config, space, fixed, given, where)
    monitor, mode, evaluator = evaluator_mode(job.get("evaluator")) or ("<monitor>", "unknown", "the evaluator")
    direction = check_direction(sweeper.direction, monitor, mode, evaluator)
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    with read_write(config), open_dict(config):
        config.hydra.sweep.dir = sweep_dir  # before the storage's ${hydra.sweep.dir} is read
        storage = str(sweeper.storage or f"sqlite:///{Path(sweep_dir).resolve() / STUDY_FILE}")
        name = str(sweeper.study_name or config.name)
        total = int(sweeper.n_trials)
        done, held = resume_study(storage, name, direction, total, f"val/best_{monitor}")
        sweeper.storage, sweeper.study_name, sweeper.direction = storage, name, direction
        sweeper.n_trials = max(0, total - done)
        if held and OmegaConf.select(sweeper, "sampler.seed") is not None:
            sweeper.sampler.seed = resumed_seed(int(sweeper.sampler.seed), held)
        # every job in the pinned folder, continuing its own last.pt if it has one (a re-run trial, a repeated draw)
        config.hydra.overrides.hydra = [*config.hydra.overrides.hydra, f"hydra.sweep.dir={quoted(sweep_dir)}"]
        config.hydra.overrides.task = [t for t in task if override_key(t) != "resume"] + ["resume=auto"]
    log.info("search %s in %s: %d of %d trials done, %d to run (%s val/best_%s)", name, sweep_dir, done, total,
             max(0, total - done), direction, monitor)
    return direction


class OptunaSearch(Callback):
    """The Hydra callback of a searched sweep (``hydra.callbacks.optuna_search`` in configs/hparams_search/*.yaml):
    :func:`prepare_search` before the sweeper starts, a bad search as one line ``error: ...`` (exit status 2), and a
    failed trial (``train.py`` returns NaN, its folder holds ``error.txt``) told to Optuna as the worst value, so that
    the search goes on (the sweeper would stop at a NaN) and the sampler moves away from it."""

    def __init__(self) -> None:
        self.direction: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_optuna_search(config):
            return
        try:
            self.direction = prepare_search(config)
        except ProjectError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if is_optuna_search(config):
            log.warning("a search config without -m: this is one run of its experiment; search with train.py -m ...")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.direction is None or job_return.status != JobStatus.COMPLETED:
            return
        value = job_return.return_value
        if value is None or (isinstance(value, float) and math.isnan(value)):
            worst = -math.inf if self.direction == "maximize" else math.inf
            job_return.return_value = worst
            folder = OmegaConf.select(config, "hydra.runtime.output_dir", default=job_return.working_dir)
            log.warning("the trial in %s failed (its error.txt says why): Optuna is told %s", folder, worst)
