"""TensorBoard's web pages, loaded in a real headless Chromium, show the sweep the way the runs meant.

Two jobs (two learning rates; ``data.batch_size`` fixed on the command line, so it names the job folders but
varies nowhere) are trained, and a TensorBoard server on loopback (helpers of test_tensorboard_server.py)
serves them. Selenium steers Debian's ``chromium`` through Debian's ``chromedriver`` (both from ``make browser``;
both paths are given, so Selenium Manager never looks anything up). Each check opens a fresh tab and re-runs,
until a deadline, a small script that reports what is actually rendered: the HParams table (a vaadin-grid buried
in Polymer shadow roots, walked by the script, visible cells only) and the card groups of the Time Series tab.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import read_metrics
from test_tensorboard_server import job_folders, run_sweep, runs_loaded, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
except ImportError:  # the module is skipped below
    webdriver = None

pytestmark = pytest.mark.slow


def missing_browser() -> str:
    """Why the browser cannot start here, or ``""``."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        return f"no {CHROMIUM} or {CHROMEDRIVER}: `make browser` installs Debian's chromium and chromium-driver"
    if webdriver is None:
        return "no selenium in the venv: `make venv` installs it (requirements-dev.txt)"
    return ""


@pytest.fixture(scope="module", autouse=True)
def _browser_installed() -> None:
    """Skipped where the browser is missing, except where it is required (``.ci/run`` sets REQUIRE_BROWSER=1): there
    a broken install fails the run instead of passing it silently."""
    if why := missing_browser():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)

# how Chromium is started: headless, and nothing that reaches beyond loopback (this machine is offline, and
# without the background-networking flags Chromium keeps trying Google's services)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-proxy-server",
                  "--window-size=1920,1080")

LRS = (0.1, 0.05)
CALL_TIMEOUT_S = 30  # one WebDriver command: a page load, a script
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


def _script(script: str) -> str:
    """A page-reading expression as a WebDriver script body, which must ``return`` its value."""
    return "return " + script.strip() + ";"


def poll(driver: Any, script: str, done: Callable[[Any], bool], what: str) -> Any:
    """``script``'s value once ``done`` holds for it, re-run until RENDER_TIMEOUT_S; the failure shows the last value."""
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        value = driver.execute_script(_script(script))
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"the page did not show {what} in {RENDER_TIMEOUT_S}s; it shows {value!r}")
        time.sleep(POLL_S)


def open_tab(driver: Any, url: str) -> None:
    """Load ``url`` in a new tab (a fresh page, not a fragment change of the last one) and make it current."""
    driver.switch_to.new_window("tab")
    driver.get(url)


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
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("chromium")
    log = folder / "chromedriver.log"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log))
    try:
        # Selenium reaches chromedriver on loopback: no proxy from the environment may stand in between (it reads
        # them when the connection is made)
        with pytest.MonkeyPatch.context() as env:
            for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
                env.delenv(name, raising=False)
            driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as e:
        tail = log.read_text()[-3000:] if log.is_file() else "(none)"
        raise AssertionError(f"chromedriver could not start {CHROMIUM}: {e.msg}; its log:\n{tail}") from e
    try:
        driver.set_page_load_timeout(CALL_TIMEOUT_S)
        driver.set_script_timeout(CALL_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()


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


def test_hparams_table_shows_the_swept_key_and_the_headline_metrics(browser: Any, server: str, sweep: Path):
    open_tab(browser, f"{server}/#hparams")
    headers, rows = _table(poll(browser, TABLE_JS, _table_filled, "the HParams table with both jobs"))

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


def test_time_series_opens_the_headline_groups_first(browser: Any, server: str):
    open_tab(browser, f"{server}/#timeseries")
    groups = poll(browser, GROUPS_JS, _train_loss_shown, "the train/loss card")
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
