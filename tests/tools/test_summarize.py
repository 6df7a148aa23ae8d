"""tools/summarize.py on a hand-written sweep folder: numbers against numpy, table rows, PNG, errors."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from results import sweeps

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("summarize", ROOT / "tools" / "summarize.py")
assert _spec is not None and _spec.loader is not None
summarize = importlib.util.module_from_spec(_spec)
sys.modules["summarize"] = summarize  # dataclasses look their module up there
_spec.loader.exec_module(summarize)

# configuration -> per-seed (test/acc, test/nll); lr=0.1 is better, so it comes first
VALUES = {
    "optim.lr=0.01": [(0.80, 0.60), (0.83, 0.55), (0.79, 0.62)],
    "optim.lr=0.1": [(0.91, 0.25), (0.90, 0.27), (0.94, 0.20)],
}
# (configuration, seed) -> val/acc at steps 100 and 200
VAL_ACC = {(lr, s): [0.5 + 0.1 * s + 0.2 * (lr == "optim.lr=0.1"), 0.7 + 0.05 * s] for lr in VALUES for s in range(3)}


def write_job(sweep: Path, overrides: list[str], metrics: dict[str, Any] | None, log: list[dict[str, Any]], broken: bool) -> None:
    d = sweep / ",".join(sorted(overrides, key=lambda o: o.startswith("seed")))
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (d / "metrics.json").write_text(json.dumps(metrics, indent=2))
    text = "".join(json.dumps(r) + "\n" for r in log)
    (d / "log.jsonl").write_text(text + ('{"step": 300, "val/acc": 0.9' if broken else ""))


def make_sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "multirun" / "fmnist" / "2026-01-01_00-00-00"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for lr, vals in VALUES.items():
        for seed, (acc, nll) in enumerate(vals):
            metrics = {"split": "test", "checkpoint": "best.pt", "checkpoint_step": 200, "test/acc": acc, "test/nll": nll,
                       "test/acc_class/0_T-shirt-top": 0.5, "val/best_acc": acc + 0.01, "steps": 200}
            v100, v200 = VAL_ACC[(lr, seed)]
            log = [{"step": 50, "epoch": 0, "train/loss": 1.0}, {"step": 100, "val/acc": v100, "val/nll": 1.0},
                   {"step": 150, "epoch": 1, "train/loss": 0.5}, {"step": 200, "val/acc": v200, "val/nll": 0.5}]
            write_job(sweep, ["experiment=fmnist_cnn", lr, f"seed={seed}"], metrics, log, broken=seed == 1)
    write_job(sweep, ["experiment=fmnist_cnn", "optim.lr=1.0", "seed=0"], None, [{"step": 100, "val/acc": 0.1}], broken=True)
    return sweep


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {r["configuration"]: r for r in csv.DictReader(f)}


def test_summary_numbers_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = make_sweep(tmp_path)
    assert summarize.main([str(sweep)]) == 0
    stdout = capsys.readouterr().out
    page = (sweep / "index.html").read_text()  # the shareable page: table, embedded curve, config differences
    assert "<td>optim.lr=0.1</td><td>3</td>" in page and page.count("data:image/png;base64,") == 1
    assert "How the configurations differ" in page

    rows = read_csv(sweep / "summary.csv")
    assert list(rows) == ["optim.lr=0.1", "optim.lr=0.01"]  # sorted by test/acc, descending; shared override dropped
    header = list(next(iter(rows.values())))
    assert header == ["configuration", "n", "test/acc_mean", "test/acc_std", "test/nll_mean", "test/nll_std",
                      "val/best_acc_mean", "val/best_acc_std"]  # no per-class metric, no int metric
    for lr, vals in VALUES.items():
        a = np.array(vals)
        r = rows[lr]
        assert int(r["n"]) == 3
        for i, m in enumerate(["test/acc", "test/nll"]):
            assert float(r[f"{m}_mean"]) == pytest.approx(a[:, i].mean(), abs=1e-12)
            assert float(r[f"{m}_std"]) == pytest.approx(a[:, i].std(ddof=1), abs=1e-12)

    md = (sweep / "summary.md").read_text()
    a = np.array(VALUES["optim.lr=0.1"])
    cells = " | ".join(f"{a[:, i].mean():.4f} ± {a[:, i].std(ddof=1):.4f}" for i in range(2))
    assert f"| optim.lr=0.1 | 3 | {cells} |" in md
    lines = md.splitlines()
    assert lines[0] == "| configuration | n | test/acc | test/nll | val/best_acc |"
    assert lines.index([x for x in lines if x.startswith("| optim.lr=0.1 ")][0]) == 2
    assert "Unfinished jobs (no metrics.json): 1" in md and "- experiment=fmnist_cnn,optim.lr=1.0,seed=0" in md
    assert md in stdout

    png = (sweep / "val_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_curve_mean_and_std_skip_broken_line(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path)
    groups = sweeps.group_jobs(sweeps.load_jobs(sweep))
    g = next(g for g in groups if g.label == "optim.lr=0.1")
    steps, mean, std = sweeps.curve(g.jobs, "val/acc")
    expect = np.array([VAL_ACC[("optim.lr=0.1", s)] for s in range(3)])  # the broken step-300 line is ignored
    assert steps.tolist() == [100, 200]
    np.testing.assert_allclose(mean, expect.mean(0), atol=1e-12)
    np.testing.assert_allclose(std, expect.std(0, ddof=1), atol=1e-12)


def test_metric_choice_single_seed_and_out(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path)
    out = tmp_path / "report"
    assert summarize.main([str(sweep), "--metric", "test/nll", "--curve", "val/nll", "--out", str(out)]) == 0
    rows = read_csv(out / "summary.csv")
    assert list(rows) == ["optim.lr=0.01", "optim.lr=0.1"]  # sorted by test/nll, descending
    assert list(rows["optim.lr=0.1"]) == ["configuration", "n", "test/nll_mean", "test/nll_std"]
    assert (out / "val_curves.png").read_bytes().startswith(b"\x89PNG")
    assert not (sweep / "summary.csv").exists()

    one = tmp_path / "one"
    write_job(one, ["seed=0"], {"test/acc": 0.5}, [], broken=False)
    assert summarize.main([str(one)]) == 0
    r = read_csv(one / "summary.csv")["(base)"]
    assert r["n"] == "1" and float(r["test/acc_mean"]) == 0.5 and r["test/acc_std"] == ""
    assert "| (base) | 1 | 0.5000 ± – |" in (one / "summary.md").read_text()
    assert math.isnan(sweeps.stats([0.5])[1])


def test_jobs_continued_with_resume_auto_stay_in_their_configuration(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_job(sweep, ["seed=0"], {"test/acc": 0.5}, [], broken=False)
    write_job(sweep, ["seed=1", "resume=auto", "trainer.progress=false"], {"test/acc": 0.7}, [], broken=False)
    assert summarize.main([str(sweep)]) == 0
    rows = read_csv(sweep / "summary.csv")
    assert list(rows) == ["(base)"] and rows["(base)"]["n"] == "2"
    assert float(rows["(base)"]["test/acc_mean"]) == pytest.approx(0.6)


def test_empty_or_missing_folder_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty" / "not_a_job").mkdir(parents=True)
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        assert summarize.main([str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_command_line_error_exit_code(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "tools" / "summarize.py"), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: no job folders") and r.stderr.count("\n") == 1


def test_reach_gives_first_step_and_training_time(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for seed, curve in enumerate([[30.0, 18.0, 12.0], [25.0, 21.0, 19.5], [40.0, 35.0, 30.0]]):
        log = []
        for k, fd in enumerate(curve):
            log.append({"step": 100 * (k + 1), "time/train_s": 10.0 * (k + 1) + seed})
            log.append({"step": 100 * (k + 1), "val/fd": fd})
        write_job(sweep, ["experiment=gan_fmnist", f"seed={seed}"], {"test/fd": curve[-1]}, log, broken=False)
    jobs = summarize.load_jobs(sweep)
    assert summarize.add_reach(jobs, "val/fd <= 20") == ["reach/reached", "reach/steps", "reach/train_s"]
    got = [(j.metrics["reach/reached"], j.metrics["reach/steps"], j.metrics["reach/train_s"]) for j in jobs]
    assert got == [(1.0, 200.0, 20.0), (1.0, 300.0, 31.0), (0.0, None, None)]
    (row,) = summarize.summarize(summarize.group_jobs(jobs), ["reach/reached", "reach/steps", "reach/train_s"])
    assert row["reach/reached_mean"] == pytest.approx(2 / 3) and row["reach/steps_mean"] == 250.0
    assert row["reach/train_s_mean"] == pytest.approx(25.5)  # over the seeds that reached it
    with pytest.raises(summarize.SummaryError, match="KEY<=VALUE"):
        summarize.add_reach(jobs, "val/fd < 20")
