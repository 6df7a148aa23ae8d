"""A real TensorBoard server, started on loopback against finished runs, serves the layout the runs meant to write.

A tiny sweep (2 learning rates x 2 seeds) and a single run with ``board_hparams=all`` are read back over HTTP
through TensorBoard's own data endpoints (the ones its web UI uses) and compared with ``log.jsonl``,
``metrics.json`` and the saved configs: headline scalars under their own names, every other scalar under
``~`` (engine.board.DETAIL), no ``hparam/*`` scalars, and an HParams experiment that lists the swept keys
(``board_hparams=all``: every key) with the headline metrics read from the runs' own scalars.

The helpers (``run_sweep``, ``serve``, ``request_json``, ...) are shared with test_tensorboard_browser.py.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, read_metrics, run_script
from omegaconf import OmegaConf

from engine.board import DETAIL, board_tag
from engine.metrics import headline
from engine.paths import resolve_path_settings
from engine.run_folders import folder_name_excludes, override_key
from engine.run_logger import flat_hparams, read_jsonl

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"  # loopback only, never any other address
NOT_SCALARS = {"step", "epoch"}  # log.jsonl bookkeeping, not TensorBoard scalars
REQUEST_TIMEOUT_S = 10
START_TIMEOUT_S = 60
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
# a few steps on small subsets: every part of a run (validation twice, the final evaluation) in seconds
TINY = ("experiment=fmnist_cnn", "data.train_subset=256", "data.val_subset=128", "data.test_subset=128",
        "trainer.max_steps=4", "trainer.val_every_steps=2", "trainer.log_every_steps=1", "trainer.progress=false")
SWEEP = ("seed=0,1", "optim.lr=0.1,0.05")  # seed first on the command line: the folders and the table put it last
SWEPT = ["optim.lr", "seed"]
SINGLE = ("optim.lr=0.05", "board_hparams=all")  # a single run that lists every key

# no proxy from the environment may see these requests: they go straight to the loopback server
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- runs and a server (shared with the browser test)
def run_sweep(runs_root: Path, *overrides: str) -> Path:
    """``train.py -m`` on TINY with ``overrides``; the sweep folder ``runs_root/multirun/fmnist_cnn/<date_time>``."""
    out = run_script("train.py", "-m", *TINY, *overrides, f"runs_root={runs_root}")
    assert out.returncode == 0, out.stderr[-3000:]
    (sweep,) = (runs_root / "multirun" / "fmnist_cnn").iterdir()
    for job in job_folders(sweep):
        assert list(job.glob("events.out.tfevents.*")), f"{job.name} wrote no TensorBoard events"
    return sweep


def job_folders(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def request_json(base: str, path: str, body: dict | None = None) -> Any:
    """GET ``path`` (or POST ``body`` as JSON) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    # the hparams routes read the raw body: without this header werkzeug parses it as a form and they see b""
    headers = {} if body is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, headers=headers, method="GET" if body is None else "POST")
    with _OPENER.open(req, timeout=REQUEST_TIMEOUT_S) as resp:
        assert resp.status == 200, (path, resp.status)
        return json.loads(resp.read().decode())


def hparams_experiment(base: str) -> dict:
    return request_json(base, "/data/plugin/hparams/experiment", {"experimentName": ""})


def session_groups(base: str) -> dict:
    return request_json(base, "/data/plugin/hparams/session_groups", {
        "experimentName": "",
        "allowedStatuses": ALL_STATUSES,  # an empty list of allowed statuses filters every session out
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 100,  # 0 would return an empty slice
    })


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start_tensorboard(logdir: Path, log_file) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("tensorboard")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "tensorboard.main"]
    cmd += ["--logdir", str(logdir), "--host", HOST, "--port", str(port)]
    # its own session, so that teardown can stop it together with the data server it spawns
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, f"http://{HOST}:{port}"


def stop_process_group(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and its children: the process group of a ``start_new_session`` child, nothing else."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_until_served(proc: subprocess.Popen, base: str, ready: Callable[[str], bool]) -> bool:
    """Poll (bounded) until ``ready(base)``; False if the server exited (its port taken, say)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if ready(base):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, KeyError):
            pass  # not listening yet / still loading
        time.sleep(0.3)
    raise AssertionError(f"TensorBoard did not serve the runs in {START_TIMEOUT_S}s")


def runs_loaded(runs: list[str], n_sessions: int) -> Callable[[str], bool]:
    """A ``ready`` test: every run served with its curves and final values, and ``n_sessions`` hparams sessions."""
    def ready(base: str) -> bool:
        tags = request_json(base, "/data/plugin/scalars/tags")
        final = {"train/loss", "val/acc", "test/acc", f"{DETAIL}val/best_acc"}
        return (all(final <= set(tags.get(run, {})) for run in runs)
                and session_groups(base)["totalSize"] == n_sessions)
    return ready


@contextlib.contextmanager
def serve(logdir: Path, log_path: Path, ready: Callable[[str], bool]) -> Iterator[str]:
    """Base URL of a TensorBoard server on loopback, pointed at ``logdir``, once ``ready``; stopped on exit."""
    with open(log_path, "w") as log_file:
        for _attempt in range(3):  # the free port may be taken by someone else before TensorBoard binds it
            proc, base = _start_tensorboard(logdir, log_file)
            try:
                if _wait_until_served(proc, base, ready):
                    yield base
                    return
            except AssertionError as e:
                log_file.flush()
                raise AssertionError(f"{e}; TensorBoard's log:\n{log_path.read_text()[-3000:]}") from e
            finally:
                stop_process_group(proc)
    raise AssertionError(f"TensorBoard exited before serving; its log:\n{log_path.read_text()[-3000:]}")


# ---------------------------------------------------------------- what the runs should have written
def config_values(run: Path) -> dict[str, Any]:
    """Every value the run records in its HParams session: the scalar leaves of its saved config and the
    Hydra group choices (``experiment``, ``model``, ``loss``, ...)."""
    saved = OmegaConf.load(run / ".hydra" / "config.yaml")
    resolve_path_settings(saved, REPO)  # as the command did when it started (in the repository): engine.paths
    values = flat_hparams(OmegaConf.to_container(saved, resolve=True))
    choices = OmegaConf.load(run / ".hydra" / "hydra.yaml").hydra.runtime.choices
    values.update({g: c for g, c in choices.items() if c is not None and not g.startswith("hydra")})
    return values


def logged_tags(run: Path) -> dict[str, str]:
    """Each scalar key of ``log.jsonl`` -> the TensorBoard tag the trainer wrote it under. The final evaluation's
    row (the float values of ``metrics.json``, at the last step) is written with ``final=True``."""
    metrics = read_metrics(run)
    final_keys = {k for k, v in metrics.items() if isinstance(v, float)}
    rows = read_jsonl(run / "log.jsonl")
    finals = [i for i, r in enumerate(rows) if set(r) - NOT_SCALARS == final_keys]
    assert finals == [len(rows) - 1], "the final evaluation's row is the last row of log.jsonl, and only it"
    assert rows[-1]["step"] == max(r["step"] for r in rows) == metrics["steps"]
    tags: dict[str, str] = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key in NOT_SCALARS:
                continue
            value = float(value) if isinstance(value, str) else value  # non-finite floats are logged as strings
            tag = board_tag(key, final=i == finals[0], value=value)
            assert tags.setdefault(key, tag) == tag, f"{key} written under both {tags[key]} and {tag}"
    return tags


def _scalars(base: str, run: str, tag: str) -> list[list[float]]:
    """``[[wall_time, step, value], ...]`` of one scalar series of ``run``."""
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    return request_json(base, f"/data/plugin/scalars/scalars?{query}")


def _jsonl_series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return [(r["step"], float(r[key])) for r in rows if key in r]  # float(): non-finite values are logged as strings


def _same_float32(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=1e-6, abs=1e-7)  # TensorBoard keeps scalars as float32


def _folder_overrides(name: str) -> dict[str, str]:
    """``optim.lr=0.1,seed=0,data.test_subset=128,...`` -> its overrides in folder order."""
    return dict(item.split("=", 1) for item in name.split(","))


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("tb_server") / "runs", *SWEEP)


@pytest.fixture(scope="module")
def runs(sweep: Path) -> dict[str, Path]:
    """The sweep's jobs by their TensorBoard run name (the job folder's name)."""
    jobs = {p.name: p for p in job_folders(sweep)}
    assert len(jobs) == 4
    return jobs


@pytest.fixture(scope="module")
def server(sweep: Path, runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("tb_log") / "tensorboard.log"
    with serve(sweep, log_path, runs_loaded(list(runs), len(runs))) as base:
        yield base


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_root = tmp_path_factory.mktemp("tb_single") / "runs"
    out = run_script("train.py", *TINY, *SINGLE, f"runs_root={runs_root}")
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = (runs_root / "fmnist_cnn").iterdir()
    return run


@pytest.fixture(scope="module")
def single_server(single_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("tb_single_log") / "tensorboard.log"
    with serve(single_run, log_path, runs_loaded(["."], 1)) as base:  # "." is the logdir's own run
        yield base


# ---------------------------------------------------------------- the sweep
def test_server_binds_loopback_and_serves_every_job(server: str, sweep: Path, runs: dict[str, Path]):
    env = request_json(server, "/data/environment")
    flags = env["debug"]["flags"]
    assert flags["host"] == HOST and not flags["bind_all"]
    assert Path(env["data_location"]).resolve() == sweep.resolve()
    assert sorted(request_json(server, "/data/runs")) == sorted(runs)
    plugins = request_json(server, "/data/plugins_listing")
    assert plugins["scalars"]["enabled"] and plugins["hparams"]["enabled"] and plugins["timeseries"]["enabled"]


def test_job_folders_lead_with_the_swept_keys_seed_last(runs: dict[str, Path]):
    grid = set()
    for name in runs:
        overrides = _folder_overrides(name)
        assert list(overrides)[:2] == SWEPT, name
        assert overrides["experiment"] == "fmnist_cnn" and overrides["data.train_subset"] == "256"
        assert not {"trainer.progress", "trainer.log_every_steps", "runs_root"} & set(overrides), name  # result-neutral
        grid.add((float(overrides["optim.lr"]), int(overrides["seed"])))
    assert grid == {(lr, seed) for lr in (0.1, 0.05) for seed in (0, 1)}


def test_scalar_tags_are_the_board_tags_of_log_jsonl(server: str, runs: dict[str, Path]):
    served = request_json(server, "/data/plugin/scalars/tags")
    assert set(served) == set(runs)
    for name, run in runs.items():
        tags = logged_tags(run)
        assert set(served[name]) == set(tags.values()), name
        # log.jsonl keeps the plain names; TensorBoard's tags are the headlines and ~details
        assert not any(k.startswith(DETAIL) for k in tags), name
        assert {k: tags[k] for k in ("train/loss", "train/acc", "val/acc", "val/nll", "test/acc", "test/nll")} == {
            "train/loss": "train/loss", "train/acc": "train/acc", "val/acc": "val/acc", "val/nll": "val/nll",
            "test/acc": "test/acc", "test/nll": "test/nll"}
        assert {k: tags[k] for k in ("lr/main", "throughput/images_per_s", "time/train_s", "val/n", "train_seconds",
                                     "val/best_acc", "val/acc_class/3_Dress", "test/acc_class/3_Dress")} == {
            "lr/main": "~lr/main", "throughput/images_per_s": "~throughput/images_per_s", "time/train_s": "~time/train_s",
            "val/n": "~val/n",  # a count
            "train_seconds": "~train_seconds",
            "val/best_acc": "~val/best_acc",  # of the final evaluation, only the test split's headlines stay on top
            "val/acc_class/3_Dress": "~val/acc_class/3_Dress", "test/acc_class/3_Dress": "~test/acc_class/3_Dress"}
        for tag in served[name]:
            assert not tag.startswith("hparam"), tag
            # on the first screen: one slash under a split, nothing else
            assert tag.startswith(DETAIL) or re.fullmatch(r"(train|val|test)/[^/]+", tag), tag


def test_scalar_series_match_log_jsonl(server: str, runs: dict[str, Path]):
    for name, run in runs.items():
        rows = read_jsonl(run / "log.jsonl")
        assert [s for s, _ in _jsonl_series(rows, "train/loss")] == [1, 2, 3, 4]
        assert [s for s, _ in _jsonl_series(rows, "val/acc")] == [2, 4]
        for key, tag in sorted(logged_tags(run).items()):
            expected = _jsonl_series(rows, key)
            served = _scalars(server, name, tag)
            assert [int(step) for _, step, _ in served] == [step for step, _ in expected], (name, tag)
            for (_, step, value), (_, want) in zip(served, expected, strict=True):
                assert _same_float32(value, want), (name, tag, step, value, want)
            walls = [wall for wall, _, _ in served]
            assert walls == sorted(walls), (name, tag)


def test_pictures_are_details(server: str, runs: dict[str, Path]):
    served = request_json(server, "/data/plugin/images/tags")
    assert set(served) == set(runs)
    for name, tags in served.items():
        assert {"~val/misclassified", "~test/confusion"} <= set(tags), name
        assert all(tag.startswith(DETAIL) for tag in tags), (name, sorted(tags))


def test_hparams_experiment_lists_the_swept_keys_and_the_headline_metrics(server: str, runs: dict[str, Path]):
    exp = hparams_experiment(server)
    assert [h["name"] for h in exp["hparamInfos"]] == SWEPT
    assert all(h["differs"] and h["type"] == "DATA_TYPE_FLOAT64" for h in exp["hparamInfos"])
    # the headline metrics of metrics.json, read from each run's own final scalars (no hparam/* copies)
    for run in runs.values():
        top = headline(read_metrics(run))
        assert list(top) == ["test/acc", "test/nll", "test/ece", "val/best_acc"]
        assert [(m["name"]["tag"], m["displayName"]) for m in exp["metricInfos"]] == [
            (board_tag(k, final=True), k) for k in top]
    assert [m["name"]["tag"] for m in exp["metricInfos"]] == ["test/acc", "test/nll", "test/ece", "~val/best_acc"]
    served = request_json(server, "/data/plugin/scalars/tags")
    for name in runs:
        assert {m["name"]["tag"] for m in exp["metricInfos"]} <= set(served[name]), name


def test_hparams_sessions_hold_every_config_value(server: str, runs: dict[str, Path]):
    answer = session_groups(server)
    assert answer["totalSize"] == len(runs)
    groups = {g["name"]: g for g in answer["sessionGroups"]}
    assert set(groups) == set(runs)  # one group per job, named by its folder
    for name, group in groups.items():
        assert name.startswith("optim.lr="), name
        (session,) = group["sessions"]
        assert session["name"] == name and session["status"] == "STATUS_SUCCESS"

        hparams, overrides = group["hparams"], _folder_overrides(name)
        assert hparams["optim.lr"] == pytest.approx(float(overrides["optim.lr"]))
        assert hparams["seed"] == int(overrides["seed"])
        # constant values too, and Hydra's group choices
        assert hparams["experiment"] == "fmnist_cnn" and hparams["data.batch_size"] == 128
        assert hparams["data.train_subset"] == 256 and {"model", "loss", "optim"} <= set(hparams)
        want = config_values(runs[name])
        assert set(hparams) == set(want), name
        for key, value in want.items():
            # numbers come back as float64, bools as "true"/"false", None as "None"
            want_value = str(value).lower() if isinstance(value, bool) else value
            assert hparams[key] == want_value, (name, key, hparams[key], value)

        metrics = read_metrics(runs[name])
        by_tag = {board_tag(k, final=True): k for k in headline(metrics)}
        served = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert set(served) == set(by_tag), name
        for tag, value in served.items():
            assert _same_float32(value, metrics[by_tag[tag]]), (name, tag)
        assert {m["name"]["tag"]: m["value"] for m in session["metricValues"]} == served


# ---------------------------------------------------------------- a single run with board_hparams=all
def _command_line_keys() -> list[str]:
    """The keys set on the single run's command line that its table shows first (not the result-neutral ones)."""
    keys = [override_key(o) for o in (*TINY, *SINGLE)]
    hidden = set(folder_name_excludes())
    return [k for k in dict.fromkeys(keys) if k not in hidden]


def test_board_hparams_all_lists_every_key(single_server: str, single_run: Path):
    values = config_values(single_run)
    exp = hparams_experiment(single_server)
    names = [h["name"] for h in exp["hparamInfos"]]
    assert len(names) == len(set(names)) and set(names) == set(values)
    assert {"data.batch_size", "experiment", "model", "loss", "seed", "optim.lr"} <= set(names)
    assert [m["name"]["tag"] for m in exp["metricInfos"]] == ["test/acc", "test/nll", "test/ece", "~val/best_acc"]
    (group,) = session_groups(single_server)["sessionGroups"]
    assert set(group["hparams"]) == set(values)
    assert group["hparams"]["optim.lr"] == pytest.approx(0.05) and group["hparams"]["board_hparams"] == "all"
    tags = request_json(single_server, "/data/plugin/scalars/tags")["."]
    assert set(tags) == set(logged_tags(single_run).values())


def test_board_hparams_all_serves_the_command_line_keys_first(single_server: str):
    first = _command_line_keys()
    assert first == ["experiment", "data.train_subset", "data.val_subset", "data.test_subset", "trainer.max_steps",
                     "trainer.val_every_steps", "optim.lr"]  # the single run's own order (engine.board_hparams)
    names = [h["name"] for h in hparams_experiment(single_server)["hparamInfos"]]
    assert set(names[:len(first)]) == set(first)
