"""tools/simulate.py: a tiny run of every shipped network, its files, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import REPO, run_script

from datasets.trajectories import SimulatedTrajectories
from engine.errors import ConfigError
from ssa.reaction_network import read_network_file

NETWORKS = sorted(p.stem for p in (REPO / "configs" / "network").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_config_runs(network, tmp_path):
    r = run_script("tools/simulate.py", f"network={network}", "num_trajectories=16", "num_points=11",
                   "t_end=0.5", "burn_in=0.1", "path_events=300", "progress=false", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    (out,) = (tmp_path / "simulate" / network).iterdir()
    stats = json.loads((out / "stats.json").read_text())
    data = np.load(out / "trajectories.npz")
    assert data["counts"].shape[:2] == (16, 11) and data["times"][-1] == 0.5
    assert stats["events"] == int(data["events"].sum()) > 0
    assert np.load(out / "path.npz")["times"].shape == (301,)
    assert (out / "sample_paths.png").stat().st_size > 10_000 and (out / "distributions.png").stat().st_size > 10_000
    assert f"{network} (direct): 16 trajectories" in r.stdout


@pytest.mark.slow
def test_tool_reports_against_the_master_equation(tmp_path):
    r = run_script("tools/simulate.py", "network=birth_death", "num_trajectories=2000", "t_end=30", "num_points=301",
                   "path_events=0", "progress=false", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    (out,) = (tmp_path / "simulate" / "birth_death").iterdir()
    x = json.loads((out / "stats.json").read_text())["species"]["X"]
    assert abs(x["cme_mean"] - 10) < 1e-6 and abs(x["mean"] - 10) < 5 * x["mean_se"]
    assert x["tv_cme_stationary"] < 0.02 and x["tv_poisson"] < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("override, words", [
    ("network=nope", "Could not find 'network/nope'"),
    ("burn_in=100", "burn_in=100.0 must lie in [0, t_end=50.0)"),
    ("num_trajectories=0", "num_trajectories must be an integer >= 1"),
    ("device=cuda:3", "device=cuda:3 but no CUDA device is available"),
    ("device=tpu", "device='tpu' is not a torch device"),
    ("t_end=abc", "t_end='abc' is not a number"),
    ("network_file=/no/such.yaml", "does not exist"),
])
def test_tool_bad_input(override, words, tmp_path):
    r = run_script("tools/simulate.py", override, "path_events=0", "progress=false", f"runs_root={tmp_path}")
    assert r.returncode != 0 and words in r.stdout + r.stderr


def test_a_network_file_that_does_not_parse_is_one_line_with_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nspecies: [X]\ninitial: {X: 0\nreactions: []\n")  # the mapping on line 3 never closes
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+, column \d+: not valid YAML") as caught:
        read_network_file(bad)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_the_tool_reports_a_network_file_that_does_not_parse_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nspecies: [X]\ninitial: {X: 0\nreactions: []\n")
    with pytest.raises(ConfigError) as caught:
        read_network_file(bad)
    r = run_script("tools/simulate.py", f"network_file={bad}", "path_events=0", "progress=false", f"runs_root={tmp_path}")
    assert r.returncode != 0 and "Traceback" not in r.stdout + r.stderr
    assert str(caught.value) in r.stdout + r.stderr


@pytest.mark.slow
def test_own_network_file_absorbing_start_and_sweep_going_on(tmp_path):
    """A YAML outside configs/ with no `simulate:` block; it starts in its absorbing state."""
    net = tmp_path / "decay.yaml"
    net.write_text("name: decay\nspecies: [X]\ninitial: {X: 0}\nreactions:\n  - {eq: \"X -> 0\", rate: 1.0}\n")
    r = run_script("tools/simulate.py", "-m", f"network_file={net}", "num_trajectories=4,-1", "t_end=1", "num_points=3",
                   "path_events=10", "progress=false", f"runs_root={tmp_path}")
    assert "num_trajectories must be an integer >= 1" in r.stderr and r.returncode == 0, r.stderr[-2000:]
    (found,) = (tmp_path / "multirun" / "simulate").rglob("stats.json")  # the job with -1 wrote nothing
    stats = json.loads(found.read_text())
    assert stats["network"] == "decay" and stats["events"] == 0 and stats["species"]["X"]["mean"] == 0


def test_dataset_items_noise_and_id_ranges():
    kw = dict(network="birth_death", num_trajectories=6, t_end=2.0, num_points=21)
    clean = SimulatedTrajectories(**kw, volume=10.0)
    item = clean[2]
    assert item["t"].shape == (21,) and item["y"].shape == (21, 1) and torch.equal(item["y"], item["x"])
    assert torch.allclose(item["x"] * 10, (item["x"] * 10).round())  # counts / volume
    noisy = SimulatedTrajectories(**kw, volume=10.0, noise="gaussian", noise_scale=0.5)
    again = SimulatedTrajectories(**kw, volume=10.0, noise="gaussian", noise_scale=0.5)
    assert torch.equal(noisy.x, clean.x) and torch.equal(noisy.y, again.y)
    resid = (noisy.y - noisy.x).flatten()
    assert 0.3 < resid.std() < 0.7
    later = SimulatedTrajectories(**kw, first_id=3, volume=10.0, noise="gaussian", noise_scale=0.5)
    assert torch.equal(later.x[0], noisy.x[3]) and torch.equal(later.y[0], noisy.y[3])  # ids pick streams and noise
    with pytest.raises(ConfigError, match="noise='laplace' is not one of"):
        SimulatedTrajectories(**kw, noise="laplace")
    with pytest.raises(ConfigError, match="unknown species"):
        SimulatedTrajectories(**kw, observe=["Y"])


SBML_CASES = REPO / "datasets" / "files" / "sbml_stochastic"


@pytest.mark.slow
def test_an_sbml_model_runs_with_its_events_and_rules(tmp_path):
    case = SBML_CASES / "00019" / "00019-sbml-l3v2.xml"  # birth-death with the assignment rule y = 2 X
    r = run_script("tools/simulate.py", f"network_file={case}", "num_trajectories=400", "num_points=51",
                   "progress=false", f"runs_root={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    (out,) = (tmp_path / "simulate" / "00019-sbml-l3v2").iterdir()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["method"] == "direct" and not (out / "path.npz").exists()  # one-path record: mass action only
    x, y = stats["species"]["X"], stats["outputs"]["y"]
    assert y["mean"] == pytest.approx(2 * x["mean"]) and y["var"] == pytest.approx(4 * x["var"])
    # the time-averaged exact mean of 100 exp(-0.01 t) over the grid t = 0, 1, ..., 50
    exact = np.mean(100 * np.exp(-0.01 * np.arange(51)))
    assert abs(x["mean"] - exact) < 5 * x["mean_se"]
    assert "y (assignment rule)" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("edit, words", [
    (lambda s: s[:900], "not valid SBML"),
    (lambda s: s.replace("<ci> Lambda </ci>", "<ci> Lambda2 </ci>", 1), "names an unknown symbol 'Lambda2'"),
    (lambda s: s.replace("</listOfReactions>", "</listOfReactions><listOfEvents><event id=\"late\" "
                         "useValuesFromTriggerTime=\"true\"><trigger initialValue=\"false\" persistent=\"true\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\">"
                         "<true/></math></trigger><delay><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><cn> 1 </cn>"
                         "</math></delay></event></listOfEvents>"), "the delay of event 'late'"),
])
def test_the_tool_refuses_bad_sbml_in_one_line(edit, words, tmp_path):
    bad = tmp_path / "model.xml"
    bad.write_text(edit((SBML_CASES / "00001" / "00001-sbml-l3v2.xml").read_text()))
    r = run_script("tools/simulate.py", f"network_file={bad}", "num_trajectories=10", "progress=false",
                   f"runs_root={tmp_path}")
    assert r.returncode != 0 and "Traceback" not in r.stdout + r.stderr
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert words in line and str(bad) in line


@pytest.mark.slow
def test_engine_dask_gives_the_one_process_trajectories_of_an_sbml_model(tmp_path):
    """A real local cluster of 2 worker processes, each simulating its ids: the same counts, bit for bit."""
    case = SBML_CASES / "00033" / "00033-sbml-l3v2.xml"  # dimerisation with a state event
    runs = {}
    for engine in ("local", "dask"):
        r = run_script("tools/simulate.py", f"network_file={case}", f"engine={engine}", "dask_workers=2",
                       "num_trajectories=600", "num_points=51", "progress=false", f"runs_root={tmp_path / engine}")
        assert r.returncode == 0, r.stderr[-2000:]
        (out,) = (tmp_path / engine / "simulate" / "00033-sbml-l3v2").iterdir()
        runs[engine] = np.load(out / "trajectories.npz")
    assert np.array_equal(runs["local"]["counts"], runs["dask"]["counts"])
    assert np.array_equal(runs["local"]["events"], runs["dask"]["events"])
