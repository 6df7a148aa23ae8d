"""A sweep folder as data: its jobs, their configurations, mean ± std over seeds, curves from ``log.jsonl``, and a
searched sweep's trials with its study read back (the Hydra callback that sets a search up: results/optuna_search.py).

A job folder is a direct sub-folder holding ``.hydra/overrides.yaml``; one without ``metrics.json`` is
unfinished. Jobs are grouped by their overrides without ``seed`` and the result-neutral keys
(``engine.run_folders.RESULT_NEUTRAL``): the configuration. Used by ``tools/summarize.py`` and
``tools/reproduce.py``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from omegaconf import DictConfig, OmegaConf

from engine.files import atomic_open, write_atomic
from engine.metrics import is_headline
from engine.run_folders import RESULT_NEUTRAL
from engine.run_logger import read_jsonl
from results.optuna_search import STUDY_FILE, flat_params, objective_key

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
