"""tools/sbml_suite.py: a tiny run writes its results and table; refusals are listed, simulator errors are not."""

from __future__ import annotations

import json

import pytest
from conftest import run_script


@pytest.mark.slow
def test_a_tiny_run_writes_results_and_the_docs_table(tmp_path):
    r = run_script("tools/sbml_suite.py", "cases=[1,28]", "trajectories=300", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    (out,) = (tmp_path / "sbml_suite" / "direct_l3v2").iterdir()
    results = json.loads((out / "results.json").read_text())
    s = results["summary"]
    assert s["cases"] == 2 and s["method"] == "direct" and s["points"] == 50 + 49
    assert s["passed"] + s["passed_second_run"] == 2 and s["refused"] == 0
    assert [c["case"] for c in results["cases"]] == ["00001", "00028"]
    assert len(results["cases"][0]["z"]["X"]) == 50  # every output time but t = 0 (sigma = 0 there)
    table = (out / "table.md").read_text()
    assert "| 00028 | This model is based off of model 00020, but with an event halfway" in table
    assert "2 cases, 300 trajectories each (direct, l3v2)" in table


@pytest.mark.slow
def test_tau_leaping_settings_reach_the_simulator_and_its_errors_stop_the_run(tmp_path):
    r = run_script("tools/sbml_suite.py", "cases=[31]", "trajectories=200", "method=tau_leaping",
                   "method.epsilon=0.01", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    (out,) = (tmp_path / "sbml_suite" / "tau_leaping_l3v2").iterdir()
    assert json.loads((out / "results.json").read_text())["summary"]["epsilon"] == 0.01
    bad = run_script("tools/sbml_suite.py", "cases=[1]", "trajectories=200", "method=tau_leaping",
                     "method.epsilon=0", f"runs_root={tmp_path}")
    assert bad.returncode != 0 and "refused" not in bad.stdout and "epsilon must be in (0, 1)" in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("override, words", [
    ("cases=[99]", "cases ['00099'] are not in the suite"),
    ("level=l1", "level='l1': use l3v2"),
    ("trajectories=1", "trajectories must be an integer >= 2"),
])
def test_bad_settings_are_one_line(override, words, tmp_path):
    r = run_script("tools/sbml_suite.py", override, f"runs_root={tmp_path}")
    assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr
