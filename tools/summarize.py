"""Turn a Hydra sweep folder into a results table and validation curves.

Usage::

    python tools/summarize.py runs/multirun/<name>/<date_time> [--metric test/acc ...] [--curve val/acc] [--out DIR]

A job folder is a direct sub-folder holding ``.hydra/overrides.yaml``; one without ``metrics.json``
is unfinished and is listed as such (below the table and on stdout), never averaged. Jobs are grouped
by their overrides without ``seed`` and the result-neutral keys (``engine.run_folders.RESULT_NEUTRAL``:
``resume``, ``runs_root``, ``trainer.progress``, ...): the configuration. A row's label leaves out the
overrides that every job shares (``(base)`` if nothing is left). For each configuration and metric
the table gives mean ± sample std over seeds (ddof=1) and n, the number of finished seeds. With one
seed the std is shown as "–" in ``summary.md`` and left empty in ``summary.csv``. Default metrics: the
headline metrics of ``metrics.json`` (``engine.metrics``: floats named ``split/name``, so not the per-class
``test/acc_class/*``), or every float for a tool's ``metrics.json`` that has none. Rows are sorted by the
first metric, descending.

``--reach "val/fd<=20"`` (or ``>=``) adds, per configuration, ``reach/reached`` (the share of seeds whose
``log.jsonl`` curve meets the condition at some logged step), ``reach/steps`` (the first such step) and
``reach/train_s`` (the training time logged as ``time/train_s`` by then, validation left out), the last two
over the seeds that reached it.

Writes into ``--out`` (default: the sweep folder): ``summary.md``, ``summary.csv``,
``val_curves.png`` (mean over seeds of ``--curve`` from ``log.jsonl`` against step, ±std band; one
``<key>.png`` more per further ``--curve``) and ``index.html``: one self-contained page with the table,
the curves and the config keys that differ between jobs, for sharing a result without TensorBoard.
The markdown table is also printed. A folder without job folders: one ``error: ...`` line, exit 2.

A searched sweep (Optuna, ``train.py -m hparams_search=<name>``; docs/sweeps.md) also gets its trials: number,
state, the objective (``val/best_<monitor>``, read from each job folder's ``metrics.json``), the searched values
and the job folder, the best marked, and the line ``best trial: <job folder> <objective>=<value> (trial <n>; ...)``:
the best by the study's direction, and whether the study in ``optuna.db`` names the same trial.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.files import write_atomic
from results.page import results_page
from results.sweeps import (
    SummaryError,
    add_reach,
    default_metrics,
    group_jobs,
    load_jobs,
    load_search,
    markdown,
    plot,
    search_markdown,
    summarize,
    write_csv,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep", type=Path, help="runs/multirun/<name>/<date_time>")
    p.add_argument("--metric", action="append", help="metric of metrics.json (repeatable); default: all float metrics")
    p.add_argument("--curve", action="append", help="log.jsonl key to plot against step (repeatable; default: val/acc)")
    p.add_argument("--reach", help="KEY<=VALUE or KEY>=VALUE: first step (and training time) a curve meets it")
    p.add_argument("--out", type=Path, help="output folder (default: the sweep folder)")
    args = p.parse_args(argv)
    try:
        jobs = load_jobs(args.sweep)
        metrics = args.metric or default_metrics(jobs)
        if args.reach:
            metrics = metrics + add_reach(jobs, args.reach)
    except SummaryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    groups = group_jobs(jobs)
    rows = summarize(groups, metrics)
    out = args.out or args.sweep
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, metrics, [j for j in jobs if j.metrics is None])
    search = load_search(args.sweep, jobs)
    if search is not None:
        table += search_markdown(search)
    write_atomic(out / "summary.md", table)
    write_csv(out / "summary.csv", rows, metrics)
    curves = []
    for i, key in enumerate(args.curve or ["val/acc"]):
        png = out / ("val_curves.png" if i == 0 else key.replace("/", "_") + ".png")
        plot(png, groups, key)
        curves.append((key, png))
    command = "python tools/summarize.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_atomic(out / "index.html", results_page(f"Sweep {args.sweep}", metrics, rows, jobs, curves, command, search))
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
