"""What TensorBoard's pages SHOW for a tiny sweep, in a real headless Chromium (Debian's package, ``make browser``).

A real TensorBoard server on loopback (the helpers of test_tensorboard_server.py) serves a sweep over two
learning rates with a constant ``data.batch_size`` set on its command line. Chromium loads the pages and is
driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``: no port, no websocket
client); each check polls, bounded, a script that reads what is rendered: the HParams dashboard is Polymer,
its table lives in shadow roots (which ``--dump-dom`` does not print), so the script walks them and keeps
only visible elements.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import read_metrics
from test_tensorboard_server import job_folders, run_sweep, runs_loaded, serve, stop_process_group

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no {CHROMIUM}: `make browser` installs Debian's chromium"),
]

LRS = (0.1, 0.05)
CALL_TIMEOUT_S = 30  # one DevTools command
RENDER_TIMEOUT_S = 60  # a page until it shows what is checked
POLL_S = 0.25

# The HParams table (tf-hparams-table-view's vaadin-grid, inside shadow roots): every visible cell, with its left
# edge and its vertical centre (the cells of a row differ in top and height)
TABLE_JS = r"""
(() => {
  const cells = [];
  const visit = (root) => {
    for (const grid of root.querySelectorAll('vaadin-grid')) {
      for (const cell of grid.querySelectorAll('vaadin-grid-cell-content')) {
        if (!cell.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
        const r = cell.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        cells.push({text: cell.innerText.trim(), x: Math.round(r.x), y: Math.round(r.y + r.height / 2),
                    header: cell.querySelector('.table-header') !== null});
      }
    }
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(document);
  return cells;
})()
"""

# The Time Series tab (Angular): its card groups in page order, with the cards each one shows (none: closed).
GROUPS_JS = r"""
(() => Array.from(document.querySelectorAll('metrics-card-groups .card-group'))
  .filter(g => g.checkVisibility())
  .map(g => ({
    title: (g.querySelector('.group-title')?.textContent ?? '').trim(),
    cards: Array.from(g.querySelectorAll('card-view tb-truncated-path.tag'))
      .filter(e => e.checkVisibility()).map(e => e.textContent.replace(/\s+/g, '')),
  })))()
"""


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe: JSON messages ending in NUL bytes,
    written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, profile: Path, log_file) -> None:
        to_browser, self._to = self._pipe_high()
        self._from, from_browser = self._pipe_high()

        def as_fds_3_and_4() -> None:  # in the child, before exec: the pipe ends Chromium expects
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1920,1080",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--no-proxy-server",
               "about:blank"]
        # close_fds=False: every other descriptor of ours is close-on-exec already; its own session, so that
        # teardown stops its helper processes with it
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                     close_fds=False, preexec_fn=as_fds_3_and_4, start_new_session=True)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id = b"", 0

    @staticmethod
    def _pipe_high() -> tuple[int, int]:
        """A close-on-exec pipe whose ends are above 4, so that dup2 onto 3 and 4 never overwrites them."""
        ends = []
        for fd in os.pipe():
            ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
            os.close(fd)
        return ends[0], ends[1]

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events in between are dropped)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._from], [], [], left)[0]:
                    raise AssertionError(f"Chromium did not answer {method} in {CALL_TIMEOUT_S}s")
                chunk = os.read(self._from, 1 << 20)
                if not chunk:
                    raise AssertionError(f"Chromium exited (code {self.proc.poll()}) during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer["result"]

    def open(self, url: str) -> str:
        """A new tab at ``url``; its session id."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        return self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def evaluate(self, session: str, script: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise AssertionError(f"the page's script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def poll(self, session: str, script: str, done: Callable[[Any], bool], what: str) -> Any:
        """``script``'s value once ``done`` holds for it (bounded); the assertion error shows the last value."""
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while True:
            value = self.evaluate(session, script)
            if done(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page did not show {what} in {RENDER_TIMEOUT_S}s; it shows {value!r}")
            time.sleep(POLL_S)

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            stop_process_group(self.proc)
            os.close(self._to)
            os.close(self._from)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # data.batch_size is set on the command line but constant: a job folder names it, the table does not
    return run_sweep(tmp_path_factory.mktemp("tb_browser") / "runs", "optim.lr=" + ",".join(map(str, LRS)),
                     "data.batch_size=64")


@pytest.fixture(scope="module")
def server(sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    runs = [p.name for p in job_folders(sweep)]
    assert len(runs) == len(LRS)
    with serve(sweep, tmp_path_factory.mktemp("tb_log") / "tensorboard.log",
               runs_loaded(runs, len(runs))) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    folder = tmp_path_factory.mktemp("chromium")
    with open(folder / "chromium.log", "w") as log_file:
        chromium = Chromium(folder / "profile", log_file)
        try:
            chromium.call("Browser.getVersion")
        except AssertionError as e:
            chromium.close()
            raise AssertionError(f"{e}; Chromium's log:\n{(folder / 'chromium.log').read_text()[-3000:]}") from e
        yield chromium
        chromium.close()


def _table(cells: list[dict]) -> tuple[list[str], list[dict[str, str]]]:
    """The rendered grid as its column headers (left to right) and its rows (top to bottom) keyed by header."""
    columns = {c["x"]: c["text"] for c in cells if c["header"]}
    rows: dict[int, dict[str, str]] = {}
    for c in cells:
        if not c["header"] and c["x"] in columns:
            rows.setdefault(c["y"], {})[columns[c["x"]]] = c["text"]
    return [columns[x] for x in sorted(columns)], [rows[y] for y in sorted(rows)]


def _table_filled(cells: Any) -> bool:
    if not cells:
        return False
    headers, rows = _table(cells)
    return ("test/acc" in headers and "val/best_acc" in headers and len(rows) == len(LRS)
            and all(row.get("test/acc") and row.get("val/best_acc") for row in rows))


def test_hparams_table_shows_the_swept_key_and_the_headline_metrics(browser: Chromium, server: str, sweep: Path):
    page = browser.open(f"{server}/#hparams")
    headers, rows = _table(browser.poll(page, TABLE_JS, _table_filled, "the HParams table with both jobs"))

    # columns: the swept key, then the headline metrics by their display names
    assert "optim.lr" in headers and "test/acc" in headers
    assert headers.index("optim.lr") < headers.index("test/acc") < headers.index("val/best_acc")
    # constant keys are no columns, though data.batch_size was set on the command line and names the job folders
    for key in ("data.batch_size", "data.train_subset", "experiment", "seed", "model", "name"):
        assert key not in headers, (key, headers)
    assert not [h for h in headers if h.startswith("~") or h.startswith("hparam")], headers

    # a row per job, named by its folder, with its own learning rate and the metrics of its metrics.json
    jobs = {p.name: p for p in job_folders(sweep)}
    names = [name for row in rows for name in row.values() if name in jobs]
    assert sorted(names) == sorted(jobs) and all(n.startswith("optim.lr=") for n in names), rows
    for row in rows:
        (name,) = [v for v in row.values() if v in jobs]
        assert "data.batch_size=64" in name
        metrics = read_metrics(jobs[name])
        assert float(row["optim.lr"]) == pytest.approx(float(name.split(",")[0].removeprefix("optim.lr=")))
        assert float(row["test/acc"]) == pytest.approx(metrics["test/acc"], rel=1e-3)
        # val/best_acc is read from the run's own ~val/best_acc scalar
        assert float(row["val/best_acc"]) == pytest.approx(metrics["val/best_acc"], rel=1e-3)


def _train_loss_shown(groups: Any) -> bool:
    return bool(groups) and any("train/loss" in g["cards"] for g in groups)


def test_time_series_opens_the_headline_groups_first(browser: Chromium, server: str):
    page = browser.open(f"{server}/#timeseries")
    groups = browser.poll(page, GROUPS_JS, _train_loss_shown, "the train/loss card")
    titles = [g["title"] for g in groups]
    headline = [t for t in titles if not t.startswith("~")]

    # the headline groups come first, every ~detail group after them (and no hparam/* group at all)
    assert headline == ["test", "train", "val"], titles
    assert titles[:len(headline)] == headline, titles
    assert {"~val", "~test", "~lr", "~throughput", "~time"} <= set(titles), titles
    assert not [t for t in titles if t.startswith("hparam")], titles

    # the groups TensorBoard opens are the first ones: headline groups, train/loss among their cards
    opened = [g["title"] for g in groups if g["cards"]]
    assert opened and opened == titles[:len(opened)], groups
    assert not [t for t in opened if t.startswith("~")], opened
    cards = {g["title"]: g["cards"] for g in groups}
    assert "train/loss" in cards["train"] and all(c.startswith("train/") for c in cards["train"]), cards["train"]
    assert cards["~val"] == [], "a detail group is closed on the first screen"
