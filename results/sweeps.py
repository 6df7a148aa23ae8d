"""A sweep folder as data: its jobs, their configurations, mean ± std over seeds, curves from ``log.jsonl``, and a
searched sweep's trials (Optuna: the Hydra callback that sets a search up, and its study read back).

A job folder is a direct sub-folder holding ``.hydra/overrides.yaml``; one without ``metrics.json`` is
unfinished. Jobs are grouped by their overrides without ``seed`` and the result-neutral keys
(``engine.run_folders.RESULT_NEUTRAL``): the configuration. Used by ``tools/summarize.py`` and
``tools/reproduce.py``.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import logging
import math
import re
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from engine.errors import ConfigError, ProjectError
from engine.files import atomic_open, write_atomic
from engine.metrics import is_headline
from engine.run_folders import RESULT_NEUTRAL, Resume, override_key
from engine.run_logger import read_jsonl

log = logging.getLogger(__name__)

# overrides that do not define a configuration: the seed (averaged over) and the result-neutral ones
NOT_CONFIG = re.compile(r"^[+~]*(" + "|".join(re.escape(k) for k in ("seed", *RESULT_NEUTRAL)) + ")=")


class SummaryError(Exception):
    pass


@dataclass
class Job:
    folder: Path
    overrides: list[str]
    metrics: dict[str, Any] | None  # None: unfinished


@dataclass
class Group:
    label: str
    jobs: list[Job] = field(default_factory=list)


def load_jobs(sweep: Path, result: str = "metrics.json") -> list[Job]:
    """The job folders of a sweep; a job is finished when it holds ``result`` (``tools/simulate.py``: stats.json)."""
    if not sweep.is_dir():
        raise SummaryError(f"{sweep} is not a folder")
    jobs = []
    for d in sorted(p for p in sweep.iterdir() if (p / ".hydra" / "overrides.yaml").is_file()):
        overrides = [str(o) for o in (yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()) or [])]
        metrics = json.loads((d / result).read_text()) if (d / result).is_file() else None
        jobs.append(Job(d, overrides, metrics))
    if not jobs:
        raise SummaryError(f"no job folders (sub-folders with .hydra/overrides.yaml) in {sweep}")
    return jobs


def group_jobs(jobs: list[Job]) -> list[Group]:
    keys = [tuple(sorted(o for o in j.overrides if not NOT_CONFIG.match(o))) for j in jobs]
    shared = set(keys[0]).intersection(*keys[1:])
    groups: dict[tuple[str, ...], Group] = {}
    for key, job in zip(keys, jobs):
        label = ",".join(o for o in key if o not in shared) or "(base)"
        groups.setdefault(key, Group(label)).jobs.append(job)
    return list(groups.values())


def as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.lower() in ("nan", "inf", "-inf"):
        return float(v)
    return None


def default_metrics(jobs: list[Job]) -> list[str]:
    names: dict[str, None] = {}
    for j in jobs:
        for k, v in (j.metrics or {}).items():
            if is_headline(k, v):
                names[k] = None
    if not names:  # a tool's metrics.json (discover_words: f1, lexicon_size, ...) has no split/name keys
        names = {k: None for j in jobs for k, v in (j.metrics or {}).items() if isinstance(v, float)}
    return list(names)


def stats(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (ddof=1); NaN where undefined (no value, or std of one value)."""
    a = np.asarray(values, dtype=float)
    mean = float(a.mean()) if a.size else math.nan
    std = float(a.std(ddof=1)) if a.size > 1 else math.nan
    return mean, std


def summarize(groups: list[Group], metrics: list[str]) -> list[dict[str, Any]]:
    rows = []
    for g in groups:
        done = [j.metrics for j in g.jobs if j.metrics is not None]
        if not done:
            continue
        row: dict[str, Any] = {"configuration": g.label, "n": len(done)}
        for m in metrics:
            vals = [x for d in done if (x := as_float(d.get(m))) is not None]
            row[f"{m}_mean"], row[f"{m}_std"] = stats(vals)
        rows.append(row)
    if metrics:
        first = f"{metrics[0]}_mean"
        rows.sort(key=lambda r: -math.inf if math.isnan(r[first]) else r[first], reverse=True)
    return rows


def fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.4f}"


def markdown(rows: list[dict[str, Any]], metrics: list[str], unfinished: list[Job]) -> str:
    lines = ["| configuration | n | " + " | ".join(metrics) + " |", "|---|---:|" + "---:|" * len(metrics)]
    for r in rows:
        cells = [f"{fmt(r[f'{m}_mean'])} ± {fmt(r[f'{m}_std'])}" for m in metrics]
        lines.append(f"| {r['configuration']} | {r['n']} | " + " | ".join(cells) + " |")
    if unfinished:
        lines += ["", f"Unfinished jobs (no metrics.json): {len(unfinished)}"] + [f"- {j.folder.name}" for j in unfinished]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict[str, Any]], metrics: list[str]) -> None:
    cols = ["configuration", "n"] + [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    write_atomic(path, text.getvalue())


def curve(jobs: list[Job], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and std (ddof=1, NaN below two seeds) of ``key`` over the jobs' log.jsonl."""
    per_step: dict[int, list[float]] = defaultdict(list)
    for j in jobs:
        log = j.folder / "log.jsonl"
        seen = {int(r["step"]): v for r in (read_jsonl(log) if log.is_file() else []) if (v := as_float(r.get(key))) is not None}
        for s, v in seen.items():  # a step logged twice (resume): the last row wins
            per_step[s].append(v)
    steps = sorted(per_step)
    ms = [stats(per_step[s]) for s in steps]
    return np.array(steps), np.array([m for m, _ in ms]), np.array([s for _, s in ms])


REACH = re.compile(r"^(?P<key>[^<>=]+)(?P<op><=|>=)(?P<value>[-+0-9.eE]+)$")


def add_reach(jobs: list[Job], condition: str) -> list[str]:
    """Put ``reach/reached``, ``reach/steps`` and ``reach/train_s`` into each finished job's metrics
    (module docstring); the names of the metrics added."""
    m = REACH.match(condition.replace(" ", ""))
    if not m:
        raise SummaryError(f"--reach {condition!r}: write KEY<=VALUE or KEY>=VALUE, e.g. val/fd<=20")
    key, op, target = m["key"], m["op"], float(m["value"])
    for j in jobs:
        if j.metrics is None:
            continue
        rows = read_jsonl(j.folder / "log.jsonl") if (j.folder / "log.jsonl").is_file() else []
        hit = next((r for r in rows if (v := as_float(r.get(key))) is not None
                    and (v <= target if op == "<=" else v >= target)), None)
        times = [(int(r["step"]), t) for r in rows if (t := as_float(r.get("time/train_s"))) is not None]
        j.metrics["reach/reached"] = float(hit is not None)
        j.metrics["reach/steps"] = float(hit["step"]) if hit else None
        j.metrics["reach/train_s"] = next((t for step, t in times if hit and step >= int(hit["step"])), None)
    return ["reach/reached", "reach/steps", "reach/train_s"]


def plot(path: Path, groups: list[Group], key: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for g in groups:
        done = [j for j in g.jobs if j.metrics is not None]
        steps, mean, std = curve(done, key)
        if steps.size:
            (line,) = ax.plot(steps, mean, label=f"{g.label} (n={len(done)})")
            band = np.nan_to_num(std)
            ax.fill_between(steps, mean - band, mean + band, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------------------
# Searched sweeps: Optuna through Hydra's sweeper (configs/hparams_search/, docs/sweeps.md)
#
# The study lives in the sweep folder (``optuna.db``), beside one job folder per trial. The Hydra callback
# ``OptunaSearch`` (named by every hparams_search config) sets the sweeper up before it starts: it checks the search
# space and the direction against the composed config, pins the sweep folder (``resume=auto`` or
# ``resume=<search folder>``), counts the trials the study already holds (``n_trials`` is the total), re-runs an
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


# ---------------------------------------------------------------- a search folder as data (tools/summarize.py)


@dataclass
class SearchTrial:
    """One trial of a search: Optuna's number and state (``None`` and the folder's state without a study), the
    objective read from its job folder's ``metrics.json``, its searched values, and its job folder."""

    number: int | None
    state: str
    value: float | None
    params: dict[str, Any]
    job: Job | None


@dataclass
class Search:
    """A search folder: its study (``optuna.db``; ``study_name`` ``None`` without one), the objective and direction,
    its trials, the best trial by the job folders' ``metrics.json`` and the study's own best trial."""

    study_name: str | None
    direction: str
    objective: str
    n_trials: int | None
    trials: list[SearchTrial]
    best: SearchTrial | None
    study_best: SearchTrial | None


def best_trial(trials: list[SearchTrial], direction: str) -> SearchTrial | None:
    """The trial with the best finite ``value`` (``direction`` maximize or minimize); the earliest on a tie."""
    done = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    if not done:
        return None
    sign = 1.0 if direction == "maximize" else -1.0
    return max(done, key=lambda t: (sign * float(t.value), -(t.number if t.number is not None else math.inf)))


def job_state(job: Job) -> str:
    """A job folder's own state: ``finished`` (``metrics.json``), ``failed`` (``error.txt``) or ``unfinished``."""
    return "finished" if job.metrics is not None else "failed" if (job.folder / "error.txt").is_file() else "unfinished"


def _objective_value(job: Job | None, key: str) -> float | None:
    return as_float((job.metrics or {}).get(key)) if job is not None else None


def _hydra_record(jobs: list[Job]) -> DictConfig | None:
    """The first job's ``.hydra/hydra.yaml`` (the sweeper's settings as the trial saw them)."""
    for j in jobs:
        path = j.folder / ".hydra" / "hydra.yaml"
        if path.is_file():
            return OmegaConf.load(path)
    return None


def load_search(sweep: Path, jobs: list[Job]) -> Search | None:
    """The search in a sweep folder: its study (``optuna.db``) matched to the job folders by the values each trial
    was given (``<key>=<value>`` among the job's overrides, as the sweeper writes them); without a study (optuna not
    importable, or the file removed), the job folders of a sweep whose saved config names Optuna's sweeper. ``None``
    for a grid sweep."""
    record = _hydra_record(jobs)
    def recorded(key: str) -> Any:
        return OmegaConf.select(record, f"hydra.sweeper.{key}", default=None, throw_on_resolution_failure=False) \
            if record is not None else None

    study = _load_study(sweep / STUDY_FILE, recorded("study_name"))
    if study is None and "optuna" not in str(recorded("_target_")):
        return None
    finished = [j.metrics for j in jobs if j.metrics]
    objective = (study.user_attrs.get("objective") if study is not None else None) or next(
        (k for m in finished if (k := objective_key(m))), "val/best")
    direction = (study.direction.name.lower() if study is not None
                 else str(recorded("direction") or "maximize"))
    trials: list[SearchTrial] = []
    if study is not None:
        for t in study.get_trials(deepcopy=False):
            job = next((j for j in jobs if all(f"{k}={v}" in j.overrides for k, v in t.params.items())), None)
            state, value = t.state.name, _objective_value(job, objective)
            if t.user_attrs.get("interrupted"):  # its values were queued again: the later trial of its folder is it
                state, value = "interrupted (run again)", None
            elif job is not None and job_state(job) == "failed":
                state = "failed"
            trials.append(SearchTrial(t.number, state, value, dict(t.params), job))
        study_best = next((t for t in trials if t.number == _study_best_number(study)), None)
    else:
        keys = list(flat_params(recorded("params")))
        for j in jobs:
            values = {k: o.split("=", 1)[1] for o in j.overrides for k in keys if o.startswith(f"{k}=")}
            trials.append(SearchTrial(None, job_state(j), _objective_value(j, objective), values, j))
        study_best = None
    n_trials = study.user_attrs.get("n_trials") if study is not None else None
    return Search(study.study_name if study is not None else None, direction, objective, n_trials, trials,
                  best_trial(trials, direction), study_best)


def _load_study(db: Path, name: str | None) -> Any:
    """The Optuna study in ``db`` (the one named ``name`` when it holds several), or ``None``."""
    if not db.is_file():
        return None
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{db.resolve()}"
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if not names:
        return None
    return optuna.load_study(study_name=name if name in names else names[-1], storage=storage)


def _study_best_number(study: Any) -> int | None:
    """The study's own best trial (finite values only: a failed trial is told an infinite one)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]
    if not done:
        return None
    pick = max if study.direction.name.lower() == "maximize" else min
    return pick(done, key=lambda t: t.value).number


def best_line(search: Search) -> str:
    """``best trial: <job folder> <objective>=<value> (...)``: the best trial by the job folders, and whether the
    study agrees."""
    b = search.best
    if b is None or b.job is None:
        return f"best trial: none finished ({search.objective} in no job's metrics.json)"
    where = f"trial {b.number}" if b.number is not None else "no optuna.db: the job folders alone"
    if search.study_name is not None:
        s = search.study_best
        agrees = s is not None and s.job is not None and s.job.folder == b.job.folder
        where += ("; the study's best trial agrees" if agrees else
                  f"; the study's best trial is {s.number} ({s.job.folder.name if s and s.job else 'no folder'})"
                  if s is not None else "; the study has no finished trial")
    return f"best trial: {b.job.folder.name} {search.objective}={b.value:.4f} ({where})"


def search_markdown(search: Search) -> str:
    """The trials as a markdown table (the best marked) and :func:`best_line`."""
    keys = list(dict.fromkeys(k for t in search.trials for k in t.params))
    done = sum(t.state in ("COMPLETE", "finished") for t in search.trials)
    study = f"study `{search.study_name}` ({STUDY_FILE})" if search.study_name else "no study file"
    total = f" of {search.n_trials}" if search.n_trials else ""
    lines = [f"## Search: {search.direction} {search.objective}; {study}; {done}{total} trials finished", "",
             "| trial | state | " + " | ".join([search.objective, *keys]) + " | job folder |",
             "|---:|---|---:|" + "---:|" * len(keys) + "---|"]
    for t in search.trials:
        value = "–" if t.value is None else f"{t.value:.4f}" + (" (best)" if t is search.best else "")
        params = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in (t.params.get(k, "") for k in keys)]
        number = "–" if t.number is None else str(t.number)
        lines.append(f"| {number} | {t.state} | {value} | " + " | ".join(params) + f" | {t.job.folder.name if t.job else '–'} |")
    return "\n".join(["", *lines, "", best_line(search)]) + "\n"
