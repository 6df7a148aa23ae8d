"""A sweep's results as one self-contained HTML page: the table, the curves, and how the configurations differ.

Pictures are embedded (base64 PNG), so the file alone can be mailed or attached to an issue; nothing is
fetched when it is opened.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from engine.run_logger import flat_hparams
from results.sweeps import Job, Search, best_line

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}code{font-size:90%}img{max-width:100%}"""


def job_config(job: Job) -> dict[str, Any]:
    """The scalar leaves of a job's saved config (``.hydra/config.yaml``), ``{}`` without one."""
    path = job.folder / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    return flat_hparams(OmegaConf.to_container(OmegaConf.load(path), resolve=False))


def config_differences(jobs: list[Job]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The config keys whose values differ between jobs, and each job's values of them (by folder name)."""
    configs = {j.folder.name: job_config(j) for j in jobs}
    keys = sorted({k for c in configs.values() for k in c})
    differing = [k for k in keys if len({repr(c.get(k)) for c in configs.values()}) > 1]
    return differing, {name: {k: c.get(k) for k in differing} for name, c in configs.items()}


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def embedded_png(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def search_section(search: Search) -> str:
    """A searched sweep's trials as an HTML table, the best trial's row in bold, and the best-trial line."""
    keys = list(dict.fromkeys(k for t in search.trials for k in t.params))
    rows = []
    for t in search.trials:
        cells = ["–" if t.number is None else str(t.number), t.state, "–" if t.value is None else f"{t.value:.4f}",
                 *(f"{v:.4g}" if isinstance(v, float) else str(v) for v in (t.params.get(k, "") for k in keys)),
                 t.job.folder.name if t.job else "–"]
        row = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        rows.append(f"<tr style='font-weight:bold'>{row}</tr>" if t is search.best else f"<tr>{row}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trial", "state", search.objective, *keys, "job folder"])
    study = f"study {search.study_name}" if search.study_name else "no study file"
    return (f"<h2>Search: {html.escape(search.direction)} {html.escape(search.objective)} ({html.escape(study)})</h2>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table><p>{html.escape(best_line(search))}</p>")


def results_page(title: str, metrics: list[str], rows: list[dict[str, Any]], jobs: list[Job],
                 curves: list[tuple[str, Path]], command: str = "", search: Search | None = None) -> str:
    """The page: ``rows`` as made by :func:`results.sweeps.summarize` (mean ± std over seeds), a searched sweep's
    trials (``search``), the ``curves`` (``(key, png)``), and the config keys that differ between jobs, job by job."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if command:
        parts.append(f"<p>Made by <code>{html.escape(command)}</code></p>")

    def cell(r: dict[str, Any], m: str) -> str:
        mean, std = r[f"{m}_mean"], r[f"{m}_std"]
        return "–" if math.isnan(mean) else f"{mean:.4g}" + ("" if math.isnan(std) else f" ± {std:.2g}")

    parts.append("<h2>Results (mean ± std over seeds)</h2>")
    parts.append(html_table(["configuration", "n", *metrics], [[r["configuration"], r["n"], *(cell(r, m) for m in metrics)]
                                                              for r in rows]))
    unfinished = [j.folder.name for j in jobs if j.metrics is None]
    if unfinished:
        parts.append("<p>Unfinished jobs (no metrics.json): " + ", ".join(html.escape(u) for u in unfinished) + "</p>")
    if search is not None:
        parts.append(search_section(search))
    for key, png in curves:
        if png.is_file():
            parts.append(f"<h2>{html.escape(key)} over training</h2>" + embedded_png(png, key))
    differing, per_job = config_differences(jobs)
    parts.append("<h2>How the configurations differ</h2>")
    if not any(job_config(j) for j in jobs):
        parts.append("<p>No saved configs (.hydra/config.yaml) in the job folders.</p>")
    elif differing:
        parts.append(html_table(["job", *differing], [[name, *(per_job[name][k] for k in differing)] for name in per_job]))
    else:
        parts.append("<p>Every job has the same config.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
