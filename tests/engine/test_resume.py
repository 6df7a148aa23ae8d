"""Resume is exact: an interrupted run continued with resume=auto equals one run in one go."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY, compose_cfg, losses, run_script, sigterm_at

from engine.checkpoint import load_checkpoint
from train import make_trainer, train

# dropout and crop/flip augmentation make every random stream matter
EXACT = ["experiment=fmnist_cnn", *TINY, "trainer.max_steps=10", "trainer.val_every_steps=4", "model.dropout=0.3"]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "last.pt")["model"]


def assert_same_run(a: Path, b: Path) -> None:
    assert losses(a) == losses(b)  # exact float equality, step by step
    assert losses(a, "val/acc") == losses(b, "val/acc")
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sigterm_then_resume_is_bit_exact(tmp_path: Path):
    cfg = compose_cfg(*EXACT)
    train(cfg, tmp_path / "one_go")

    interrupted = make_trainer(cfg, tmp_path / "split", callbacks=[sigterm_at(5)])
    assert interrupted.fit() == {"status": "interrupted", "step": 5, "signal": signal.SIGTERM}
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 5
    assert not (tmp_path / "split" / "metrics.json").exists()

    resumed = make_trainer(compose_cfg(*EXACT, "resume=auto"), tmp_path / "split")
    resumed.resume(tmp_path / "split" / "last.pt")
    assert resumed.step == 5
    resumed.fit()
    assert_same_run(tmp_path / "one_go", tmp_path / "split")


def test_same_seed_same_run_other_seed_other_run(tmp_path: Path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(compose_cfg(*EXACT, f"seed={seed}"), tmp_path / name)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert losses(tmp_path / "a") != losses(tmp_path / "c")
    wa, wc = weights(tmp_path / "a"), weights(tmp_path / "c")
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.slow
def test_kill_and_resume_auto_from_the_command_line(tmp_path: Path):
    """SIGTERM a real `train.py` mid-run; `resume=auto` continues in the same folder to the same result."""
    args = [sys.executable, "train.py", "experiment=fmnist_cnn", "data.train_subset=2048", "data.val_subset=256",
            "data.test_subset=256", "data.batch_size=32", "trainer.max_steps=160", "trainer.log_every_steps=1",
            "trainer.val_every_steps=40", "trainer.progress=false"]
    ref = subprocess.run([*args, f"runs_root={tmp_path}/ref"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-2000:]

    proc = subprocess.Popen([*args, f"runs_root={tmp_path}/cut"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        logs = list((tmp_path / "cut").glob("fmnist_cnn/*/log.jsonl"))
        if logs and len(logs[0].read_text().splitlines()) >= 20:
            log = logs[0]
            break
        time.sleep(0.05)
    assert log is not None, "the run did not start logging"
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "continue with resume=auto" in stdout
    run_dir = log.parent
    stopped_at = load_checkpoint(run_dir / "last.pt")["step"]
    assert 20 <= stopped_at < 160

    out = subprocess.run([*args, f"runs_root={tmp_path}/cut", "resume=auto"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [p.name for p in (tmp_path / "cut" / "fmnist_cnn").iterdir()] == [run_dir.name]  # same folder
    (ref_dir,) = (tmp_path / "ref" / "fmnist_cnn").iterdir()
    assert_same_run(ref_dir, run_dir)
    # the run's own config record stays; the resuming command's is kept beside it
    assert "resume=auto" not in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert len(list((run_dir / ".hydra").glob("resume_*/overrides.yaml"))) == 1

    # resuming a finished run changes nothing
    metrics = (run_dir / "metrics.json").read_text()
    again = subprocess.run([*args, f"runs_root={tmp_path}/cut", "resume=auto"], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and "already finished" in again.stdout, again.stderr[-2000:]
    assert (run_dir / "metrics.json").read_text() == metrics
    assert_same_run(ref_dir, run_dir)


@pytest.mark.slow
def test_resume_auto_continues_every_job_of_the_latest_sweep(tmp_path: Path):
    args = ["train.py", "-m", "experiment=fmnist_cnn", "data.train_subset=256", "data.val_subset=64",
            "data.test_subset=64", "data.batch_size=32", "trainer.log_every_steps=1", "trainer.progress=false",
            f"runs_root={tmp_path}", "seed=0,1"]
    first = run_script(*args, "trainer.max_steps=3")
    assert first.returncode == 0, first.stderr[-2000:]
    (sweep,) = (tmp_path / "multirun" / "fmnist_cnn").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    before = {job.name: losses(job) for job in jobs}
    for job in jobs:  # pretend the jobs were pre-empted after their last checkpoint
        (job / "metrics.json").unlink()
    again = run_script(*args, "trainer.max_steps=3", "resume=auto")
    assert again.returncode == 0, again.stderr[-2000:]
    assert [p.name for p in (tmp_path / "multirun" / "fmnist_cnn").iterdir()] == [sweep.name]
    assert sorted(p for p in sweep.iterdir() if p.is_dir()) == jobs and len(jobs) == 2
    for job in jobs:
        assert (job / "metrics.json").is_file()
        assert losses(job) == before[job.name]  # continued from last.pt, not retrained or logged twice


@pytest.mark.slow
def test_mixup_resume_is_bit_exact(tmp_path: Path):
    # partners and per-example lambdas come from the run's saved random stream
    cfg = compose_cfg("experiment=fmnist_mixup_uniform", *TINY, "trainer.max_steps=10", "trainer.val_every_steps=4",
                      "loss.per_sample=true", "evaluator.pairs=64")
    train(cfg, tmp_path / "one_go")
    interrupted = make_trainer(cfg, tmp_path / "split", callbacks=[sigterm_at(5)])
    assert interrupted.fit()["status"] == "interrupted"
    resumed = make_trainer(cfg, tmp_path / "split")
    resumed.resume(tmp_path / "split" / "last.pt")
    resumed.fit()
    assert_same_run(tmp_path / "one_go", tmp_path / "split")
    assert losses(tmp_path / "one_go", "train/lam") == losses(tmp_path / "split", "train/lam")
