"""ODE fits through the one loop: a solve that diverges stops the run with one line; a user's own files work."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_script

STIFF_NETWORK = """name: fast_decay
species: [A]
initial: {A: 1}
reactions:
  - {eq: "A -> 0", rate: 1000.0}
"""


def stiff_run(tmp_path: Path, *extra: str):
    (tmp_path / "fast.yaml").write_text(STIFF_NETWORK)
    (tmp_path / "obs.csv").write_text("t,A\n0,1\n0.5,0\n1,0\n")
    return run_script("train.py", "experiment=ode_competition", "model/field=mass_action",
                      f"model.field.network={tmp_path / 'fast.yaml'}", "model.field.rates=null",
                      f"data.path={tmp_path / 'obs.csv'}", "data.true_parameters=null", "model.clamp=null",
                      "model.step_size=0.01", "trainer.max_steps=3", "trainer.progress=false",
                      f"runs_root={tmp_path / 'runs'}", *extra)


@pytest.mark.slow
def test_an_explicit_step_beyond_the_stability_limit_is_one_line_naming_h(tmp_path: Path):
    """Euler with h |lambda| = 10 > 2 on the user's own network and CSV: no NaN metrics, one line."""
    out = stiff_run(tmp_path)
    assert out.returncode != 0
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "step size h = 0.01" in error[0] and "Traceback" not in out.stderr, out.stderr[-1500:]
    assert not list((tmp_path / "runs").rglob("metrics.json"))
    fine = stiff_run(tmp_path, "model.step_size=0.001")  # h |lambda| = 1: stable, and the run ends
    assert fine.returncode == 0, fine.stderr[-1500:]
    assert list((tmp_path / "runs").rglob("metrics.json"))
