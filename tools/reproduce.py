"""Reproduce one post: run its experiments, then write its results tables and figures.

Usage::

    python tools/reproduce.py post=mixup                 # size=quick: a CPU-sized version, minutes
    python tools/reproduce.py post=mixup size=full       # the sweep behind docs/mixup.md's tables
    python tools/reproduce.py post=vigan size=full from=runs/study/multirun   # tables from runs made before
    python tools/reproduce.py post=word_discovery size=full check=docs   # and compare with the docs' tables

Posts (``configs/post/``): word_discovery, templates, gillespie, nce, ode, sentsim, mixup, vigan. A post's
file is its recipe: ``steps`` (each one Hydra sweep of ``train.py`` or a tool, into ``<run>/<step>/``; the
overrides of ``quick`` / ``tiny`` replace those of the full sweep key by key), ``tables`` (rows and columns,
``results/tables.py``) and ``figures`` (curves from ``log.jsonl``). ``size=tiny`` is a run of seconds
(the experiments' own ``smoke:`` overrides, ``smoke_run=true``) for tests.

Writes into ``runs/reproduce/<post>/<date_time>/``: ``results.md`` (the tables, the post's own numbers
beside ours where it has any, the command, the commit, the hardware and the wall time), ``figures/*.png``
the steps' sweep folders, and one page per sweep (``<step>.html``: ``tools/summarize.py``'s table of every
headline metric, the curves, the config differences). With ``check=docs`` (a folder of pages, or one page) each table is
compared with the table of the same marker on whichever page shows it; every cell beyond its tolerance is printed and
the exit status is 1.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_original_cwd
from omegaconf import DictConfig, OmegaConf

from engine.checkpoint import code_version
from engine.cli import run_guarded
from engine.errors import ConfigError
from engine.files import write_atomic
from engine.paths import resolve_path
from engine.run_folders import override_key, register_resolvers
from results.page import results_page
from results.sweeps import default_metrics, group_jobs, load_jobs, plot, summarize
from results.tables import build_table, compare_all, read_pages, to_markdown

log = logging.getLogger("reproduce")
register_resolvers()
REPO = Path(__file__).resolve().parents[1]
SIZES = ("full", "quick", "tiny")


def step_overrides(step: dict[str, Any], size: str) -> list[str]:
    """The full sweep's overrides with the size's replacing those of the same key (``seed=0`` replaces ``seed=0,1,2``)."""
    merged = {override_key(str(o)): str(o) for o in step.get("args", [])}
    if size != "full":
        merged.update({override_key(str(o)): str(o) for o in step.get(size, [])})
    return list(merged.values())


def run_step(name: str, step: dict[str, Any], size: str, out: Path, parallel: int) -> bool:
    """One sweep into ``out``; True when the command succeeded. ``{steps.<name>}`` in an override is the folder of
    an earlier step (a classifier trained first, then named by ``init_from``)."""
    script = REPO / step["script"]
    overrides = [re.sub(r"\{steps\.(\w+)\}", lambda m: str(out.parent / m[1]), o) for o in step_overrides(step, size)]
    cmd = [sys.executable, str(script), "-m", *overrides, f"hydra.sweep.dir={out}"]
    env = dict(os.environ)
    if parallel > 1:
        cmd += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={parallel}"]
        env["OMP_NUM_THREADS"] = "1"  # one core per job
    log.info("step %s: %s", name, " ".join(cmd[1:]))
    with open(out.parent / f"{name}.log", "w") as f:
        code = subprocess.call(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env)
    if code != 0:
        log.error("step %s failed (exit %d): see %s", name, code, out.parent / f"{name}.log")
    return code == 0


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{os.cpu_count()} CPU cores ({cpu}), {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def reproduce(cfg: DictConfig, out: Path) -> int:
    post = OmegaConf.to_container(cfg.post, resolve=True)
    size, source = cfg.size, cfg.get("from")
    if size not in SIZES:
        raise ConfigError(f"size={size!r} is not one of {list(SIZES)}")
    if int(cfg.parallel) < 1:
        raise ConfigError(f"parallel={cfg.parallel!r}: give the number of jobs at a time, 1 or more")
    start = time.perf_counter()
    failed = []
    folders = {}
    used = {t["step"] for t in post["tables"].values()} | {r["step"] for t in post["tables"].values()
                                                          for r in t["rows"] if "step" in r}
    used |= {f["step"] for f in post.get("figures", [])}
    for name, step in post["steps"].items():
        if source:
            folders[name] = Path(str(source)) / name
            if name in used and not folders[name].is_dir():  # a step no table reads (a classifier) may be absent
                raise ConfigError(f"from={source}: no folder {name}/ (the step's sweep) in it")
            continue
        folders[name] = out / name
        if not run_step(name, step, size, folders[name], int(cfg.parallel)):
            failed.append(name)
    jobs = {name: load_jobs(folder, post["steps"][name].get("result", "metrics.json"))
            for name, folder in folders.items() if folder.is_dir()}
    wall = time.perf_counter() - start

    command = "python tools/reproduce.py " + " ".join(HydraConfig.get().overrides.task)
    lines = [f"# {post['title']}", "", f"Made by `{command}`" + (f", from the runs in `{source}`" if source else "") + ".", "",
             f"- size: {size}: {post['sizes'][size]}", f"- commit: {code_version()}", f"- hardware: {hardware()}",
             f"- wall time: {wall / 60:.1f} minutes" + (" (tables only)" if source else ""),
             f"- the post: {post['source']}" + (f"; {post['post_numbers']}" if post.get("post_numbers") else ""), ""]
    if failed:
        lines += [f"**Failed steps**: {', '.join(failed)} (their logs: `<step>.log` in this folder).", ""]
    tables = {}
    for table_name, spec in post["tables"].items():
        table = build_table(f"{post['name']}/{table_name}", spec, jobs, size)
        tables[table.id] = table
        lines += [f"## {spec['caption']}", "", to_markdown(table)]
        if spec.get("note"):
            lines += [spec["note"], ""]
    for figure in post.get("figures", []):
        if figure["step"] not in jobs:
            continue
        png = out / "figures" / figure["file"]
        png.parent.mkdir(parents=True, exist_ok=True)
        plot(png, group_jobs(jobs[figure["step"]]), figure["curve"])
        lines += [f"![{figure['caption']}](figures/{figure['file']})", ""]
    for name, step_jobs in jobs.items():  # each sweep's own page: every headline metric, its curves, its config differences
        curves = [(f["curve"], out / "figures" / f["file"]) for f in post.get("figures", []) if f["step"] == name]
        metrics = default_metrics(step_jobs)
        page = results_page(f"{post['title']}: {name}", metrics, summarize(group_jobs(step_jobs), metrics), step_jobs, curves,
                            command)
        write_atomic(out / f"{name}.html", page)
    write_atomic(out / "results.md", "\n".join(lines))
    print((out / "results.md").read_text())
    print(f"results: {out / 'results.md'}")
    status = 1 if failed else 0
    if cfg.check:
        status = max(status, check_against(tables, Path(resolve_path(str(cfg.check), get_original_cwd()))))
    return status


def check_against(tables: dict[str, Any], pages: Path) -> int:
    problems = compare_all(tables, read_pages(pages), str(pages))
    for p in problems:
        print(f"stale: {p}")
    print(f"check against {pages}: " + ("every table agrees" if not problems else f"{len(problems)} difference(s)"))
    return 1 if problems else 0


@hydra.main(version_base="1.3", config_path="../configs", config_name="reproduce")
def main(cfg: DictConfig) -> None:
    out = Path(HydraConfig.get().runtime.output_dir)
    status = run_guarded(lambda c, _: reproduce(c, out), cfg, "")
    sys.exit(2 if status is None else status)


if __name__ == "__main__":
    main()
