"""A sweep folder as data: its jobs, their configurations, mean ± std over seeds, and curves from ``log.jsonl``.

A job folder is a direct sub-folder holding ``.hydra/overrides.yaml``; one without ``metrics.json`` is
unfinished. Jobs are grouped by their overrides without ``seed`` and the result-neutral keys
(``engine.run_folders.RESULT_NEUTRAL``): the configuration. Used by ``tools/summarize.py`` and
``tools/reproduce.py``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from engine.files import atomic_open, write_atomic
from engine.metrics import is_headline
from engine.run_folders import RESULT_NEUTRAL
from engine.run_logger import read_jsonl

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
