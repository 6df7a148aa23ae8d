"""A real TensorBoard server, started on loopback against a finished run, serves that run's data.

The run's scalars and hparams are read back over HTTP through TensorBoard's own data endpoints
(the ones its web UI uses) and compared with ``log.jsonl``, ``metrics.json`` and the saved config.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import read_metrics, run_script
from omegaconf import OmegaConf

from engine.metrics import headline
from engine.run_logger import flat_hparams, read_jsonl

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"  # loopback only, never any other address
RUN = "."  # the run name TensorBoard gives the logdir itself (and `add_hparams(..., run_name=".")`)
NOT_SCALARS = {"step", "epoch"}  # log.jsonl bookkeeping, not TensorBoard scalars
REQUEST_TIMEOUT_S = 10
START_TIMEOUT_S = 60

# no proxy from the environment may see these requests: they go straight to the loopback server
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _request(base: str, path: str, body: dict | None = None) -> Any:
    """GET ``path`` (or POST ``body`` as JSON) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    # the hparams routes read the raw body: without this header werkzeug parses it as a form and they see b""
    headers = {} if body is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, headers=headers, method="GET" if body is None else "POST")
    with _OPENER.open(req, timeout=REQUEST_TIMEOUT_S) as resp:
        assert resp.status == 200, (path, resp.status)
        return json.loads(resp.read().decode())


def _scalars(base: str, tag: str) -> list[list[float]]:
    """``[[wall_time, step, value], ...]`` of one scalar series of the run."""
    query = urllib.parse.urlencode({"run": RUN, "tag": tag})
    return _request(base, f"/data/plugin/scalars/scalars?{query}")


def _jsonl_series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return [(r["step"], float(r[key])) for r in rows if key in r]  # float(): non-finite values are logged as strings


def _same_float32(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=1e-6, abs=1e-7)  # TensorBoard keeps scalars as float32


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_root = tmp_path_factory.mktemp("tb_server") / "runs"
    out = run_script(
        "train.py", "experiment=fmnist_cnn", "trainer.max_steps=20", "trainer.log_every_steps=5",
        "trainer.val_every_steps=10", "data.train_subset=2048", "data.val_subset=500", "trainer.progress=false",
        f"runs_root={runs_root}",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = (runs_root / "fmnist_cnn").iterdir()
    assert list(run.glob("events.out.tfevents.*")), "the run wrote no TensorBoard events"
    return run


def _start_tensorboard(logdir: Path, log_file) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("tensorboard")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "tensorboard.main"]
    cmd += ["--logdir", str(logdir), "--host", HOST, "--port", str(port)]
    # its own session, so that teardown can stop it together with the data server it spawns
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, f"http://{HOST}:{port}"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the server started above, nothing else
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_until_served(proc: subprocess.Popen, base: str, expected_tags: set[str]) -> bool:
    """Poll (bounded) until the server answers with the whole run loaded; False if the server exited."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if RUN in _request(base, "/data/runs"):
                tags = _request(base, "/data/plugin/scalars/tags").get(RUN, {})
                if expected_tags <= set(tags):
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass  # not listening yet / still loading
        time.sleep(0.5)
    raise AssertionError(f"TensorBoard did not serve run {RUN!r} with tags {sorted(expected_tags)} in {START_TIMEOUT_S}s")


@pytest.fixture(scope="module")
def server(run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a TensorBoard server on loopback, pointed at the run folder; stopped after the module."""
    log_path = tmp_path_factory.mktemp("tb_log") / "tensorboard.log"
    expected = {"train/loss", "val/acc", "hparam/test/acc"}
    with open(log_path, "w") as log_file:
        for _attempt in range(3):  # the free port may be taken by someone else before TensorBoard binds it
            proc, base = _start_tensorboard(run_dir, log_file)
            try:
                if _wait_until_served(proc, base, expected):
                    yield base
                    return
            except AssertionError as e:
                log_file.flush()
                raise AssertionError(f"{e}; TensorBoard's log:\n{log_path.read_text()[-3000:]}") from e
            finally:
                _stop(proc)
    raise AssertionError(f"TensorBoard exited before serving; its log:\n{log_path.read_text()[-3000:]}")


def test_server_binds_loopback_and_serves_the_run(server: str, run_dir: Path):
    env = _request(server, "/data/environment")
    flags = env["debug"]["flags"]
    assert flags["host"] == HOST and not flags["bind_all"]
    assert Path(env["data_location"]).resolve() == run_dir.resolve()
    assert _request(server, "/data/runs") == [RUN]
    plugins = _request(server, "/data/plugins_listing")
    assert plugins["scalars"]["enabled"] and plugins["hparams"]["enabled"]


def test_scalar_tags_are_those_of_log_jsonl(server: str, run_dir: Path):
    rows = read_jsonl(run_dir / "log.jsonl")
    logged = {k for r in rows for k in r} - NOT_SCALARS
    assert {"train/loss", "train/acc", "lr/main", "throughput/images_per_s", "val/acc", "val/nll", "test/acc"} <= logged
    metrics = read_metrics(run_dir)
    hparam_metrics = {f"hparam/{k}" for k in headline(metrics)}
    assert "hparam/test/acc" in hparam_metrics
    tags = _request(server, "/data/plugin/scalars/tags")
    assert set(tags) == {RUN}
    assert set(tags[RUN]) == logged | hparam_metrics


def test_scalar_series_match_log_jsonl(server: str, run_dir: Path):
    rows = read_jsonl(run_dir / "log.jsonl")
    assert [s for s, _ in _jsonl_series(rows, "train/loss")] == [5, 10, 15, 20]
    assert [s for s, _ in _jsonl_series(rows, "val/acc")] == [10, 20]
    for tag in sorted({k for r in rows for k in r} - NOT_SCALARS):  # train/loss and val/acc among them
        expected = _jsonl_series(rows, tag)
        served = _scalars(server, tag)
        assert [int(step) for _, step, _ in served] == [step for step, _ in expected], tag
        for (_, step, value), (_, want) in zip(served, expected, strict=True):
            assert _same_float32(value, want), (tag, step, value, want)
        walls = [wall for wall, _, _ in served]
        assert walls == sorted(walls), tag


def test_hparams_experiment(server: str, run_dir: Path):
    exp = _request(server, "/data/plugin/hparams/experiment", {"experimentName": ""})
    infos = {h["name"]: h for h in exp["hparamInfos"]}
    assert infos["optim.lr"]["type"] == "DATA_TYPE_FLOAT64"
    assert infos["name"]["type"] == "DATA_TYPE_STRING"
    metrics = read_metrics(run_dir)
    served_metrics = {m["name"]["tag"] for m in exp["metricInfos"]}
    assert served_metrics == {f"hparam/{k}" for k in headline(metrics)}


def test_hparams_session_group(server: str, run_dir: Path):
    request = {
        "experimentName": "",
        # an empty list of allowed statuses filters every session out
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 100,  # 0 would return an empty slice
    }
    answer = _request(server, "/data/plugin/hparams/session_groups", request)
    assert answer["totalSize"] == 1
    (group,) = answer["sessionGroups"]
    assert group["name"] == RUN
    (session,) = group["sessions"]
    assert session["name"] == RUN and session["status"] == "STATUS_SUCCESS"

    hparams = group["hparams"]
    assert hparams["optim.lr"] == pytest.approx(0.05)
    assert hparams["name"] == "fmnist_cnn"
    # every scalar leaf of the saved config, as the run passed it to `add_hparams`
    saved = flat_hparams(OmegaConf.to_container(OmegaConf.load(run_dir / ".hydra" / "config.yaml"), resolve=True))
    assert set(hparams) == set(saved)
    for key, want in saved.items():
        # numbers and bools come back as float64 (True -> 1.0, which compares equal), None as "None"
        assert hparams[key] == want, (key, hparams[key], want)

    metrics = read_metrics(run_dir)
    served = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
    assert _same_float32(served["hparam/test/acc"], metrics["test/acc"])
    for key, value in served.items():
        assert _same_float32(value, metrics[key.removeprefix("hparam/")]), key
    assert {m["name"]["tag"]: m["value"] for m in session["metricValues"]} == served
