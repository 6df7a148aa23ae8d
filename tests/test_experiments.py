"""Every experiment config composes and survives a tiny run (its own ``smoke`` overrides); the CLI works end to end."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import REPO, TINY, compose_cfg, losses, read_metrics, run_script, smoke_cfg, with_stand_in

from engine import distributed as D
from engine.instantiate import build
from engine.run_logger import read_jsonl
from engine.runs import make_trainer

EXPERIMENTS = sorted(p.stem for p in (REPO / "configs" / "experiment").glob("*.yaml"))
# the fast tier smoke-runs one experiment of each kind of loop (one player, two players, an ODE fit, word vectors);
# `make test-all` runs every experiment's smoke run
FAST_SMOKE = ("fmnist_cnn", "gan_ring", "ode_competition", "word2vec")


def test_experiments_found():
    assert {"fmnist_cnn", "fmnist_resnet18", "fmnist_resnet18_cpu", *FAST_SMOKE} <= set(EXPERIMENTS)


@pytest.mark.parametrize("experiment", [e if e in FAST_SMOKE else pytest.param(e, marks=pytest.mark.slow) for e in EXPERIMENTS])
def test_experiment_smoke(experiment: str, tmp_path: Path):
    cfg = with_stand_in(smoke_cfg(experiment), tmp_path / "data")
    assert cfg.smoke, f"configs/experiment/{experiment}.yaml needs a smoke: list of overrides"
    steps = cfg.trainer.max_steps
    assert steps is not None and steps <= 20, "a smoke run takes seconds"
    monitor = build("evaluator", cfg.evaluator).monitor  # the evaluator's own headline metric
    without_gradient: dict[str, list[str]] = {}
    trainer = make_trainer(cfg, tmp_path / "run", callbacks=[lambda t: without_gradient.update(
        gradients_missing(t) if t.step == 1 else {})])
    metrics = trainer.fit()
    tmp_path = tmp_path / "run"
    # DDP (several processes) syncs a player's parameters without find_unused_parameters: each must get a gradient
    assert not any(without_gradient.values()), f"parameters left without a gradient: {without_gradient}"
    assert metrics["checkpoint"] == "best.pt" and metrics["steps"] == steps
    assert math.isfinite(metrics[f"test/{monitor}"]) and math.isfinite(metrics[f"val/best_{monitor}"])
    players = list(dict.fromkeys(k for r in read_jsonl(tmp_path / "log.jsonl") for k in r
                                 if k.startswith("train/") and k.endswith("/loss") or k == "train/loss"))
    assert players, "every player's loss is logged"
    for key in players:  # train/loss, or train/<player>/loss for each player
        assert [s for s, _ in losses(tmp_path, key)] == list(range(1, steps + 1))
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    assert list(tmp_path.glob("events.out.tfevents.*"))
    assert list((tmp_path / "figures").glob("test_*.png")), "the evaluator's figures of the final evaluation"
    if cfg.trainer.val_png:  # and those of every validation (a generator's samples over training)
        assert (tmp_path / "figures" / f"step{steps:07d}" / "val_samples.png").is_file()


def gradients_missing(trainer) -> dict[str, list[str]]:
    """Per player, its parameters without a gradient after the first step (a later player's backward may fill one,
    never empty one: no false alarms). A loss that updates in place has no gradients at all; one that declares
    ``leaves_parameters_unused`` has DDP look for them."""
    if trainer.in_place or trainer.loss.leaves_parameters_unused:
        return {}
    names = {id(p): n for n, p in [*trainer.model.named_parameters(), *trainer.loss.named_parameters()]}
    return {p.name: D.without_gradient(p.params, names) for p in trainer.players.values()}


def test_default_config_is_the_quick_experiment():
    cfg = compose_cfg()
    assert cfg.model._target_.endswith("SmallCNN") and cfg.data._target_.endswith("ImageClassificationData")
    assert cfg.seed == 0


@pytest.mark.slow
def test_train_and_eval_cli(tmp_path: Path):
    out = run_script("train.py", "experiment=fmnist_cnn", *TINY, f"runs_root={tmp_path}", "optim.lr=0.03")
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "fmnist_cnn").iterdir()
    assert f"metrics: {run_dir}" in out.stdout
    assert f"tensorboard --logdir {tmp_path}" in out.stdout
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    trained = read_metrics(run_dir)
    (run_dir / "metrics.json").unlink()

    out = run_script("eval.py", f"run={run_dir}")
    assert out.returncode == 0, out.stderr[-2000:]
    again = read_metrics(run_dir)
    assert again["test/acc"] == trained["test/acc"]
    assert again["test/nll"] == pytest.approx(trained["test/nll"], rel=1e-6)
    assert again["checkpoint_step"] == trained["checkpoint_step"]

    figure = (run_dir / "figures" / "test_confusion.png").read_bytes()
    out = run_script("eval.py", f"run={run_dir}", "ckpt=last", "split=val")
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"metrics: {run_dir / 'metrics_last_val.json'}" in out.stdout
    assert (run_dir / "figures" / "last_val_confusion.png").is_file()
    assert (run_dir / "figures" / "test_confusion.png").read_bytes() == figure  # best.pt's own figures stay


@pytest.mark.slow
def test_sweep_makes_one_folder_per_job(tmp_path: Path):
    overrides = ["data.train_subset=256", "data.val_subset=128", "data.test_subset=256", "trainer.max_steps=2",
                 "trainer.progress=false"]
    out = run_script("train.py", "-m", "experiment=fmnist_cnn", *overrides, f"runs_root={tmp_path}", "seed=0,1")
    assert out.returncode == 0, out.stderr[-2000:]
    (sweep,) = (tmp_path / "multirun" / "fmnist_cnn").iterdir()
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    # named after the overrides, minus those that do not change the result (progress)
    # the swept key first (what TensorBoard's run list still shows when it cuts a long name), then the others
    common = "data.test_subset=256,data.train_subset=256,data.val_subset=128,experiment=fmnist_cnn,trainer.max_steps=2"
    assert jobs == [f"seed=0,{common}", f"seed=1,{common}"]
    m0, m1 = (read_metrics(sweep / j) for j in jobs)
    assert m0["test/acc"] != m1["test/acc"] or m0["test/nll"] != m1["test/nll"]


@pytest.mark.slow
def test_a_sweep_over_experiments_gets_one_folder_per_experiment(tmp_path: Path):
    overrides = ["data.train_subset=256", "data.val_subset=128", "data.test_subset=128", "trainer.max_steps=2",
                 "trainer.progress=false"]
    out = run_script("train.py", "-m", "experiment=fmnist_erm,fmnist_mixup_uniform", "name=study", *overrides,
                     f"runs_root={tmp_path}", "seed=0")
    assert out.returncode == 0, out.stderr[-2000:]
    (sweep,) = (tmp_path / "multirun" / "study").iterdir()
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert [j.split("experiment=")[1].split(",")[0] for j in jobs] == ["fmnist_erm", "fmnist_mixup_uniform"]
    assert all("name=" not in j for j in jobs)
    assert read_metrics(sweep / jobs[0])["test/gap_softmax"] != read_metrics(sweep / jobs[1])["test/gap_softmax"]


def test_a_path_in_an_override_stays_in_one_job_folder():
    from engine.run_folders import job_folder

    assert job_folder(["seed=1", "+trainer.parts.classifier.init_from=runs/fmnist_classifier"]) == (
        "seed=1,+trainer.parts.classifier.init_from=runs_fmnist_classifier")
    assert "${job_folder:${hydra.overrides.task},${hydra.sweep.dir}}" in (REPO / "configs" / "hydra" / "default.yaml").read_text()


def test_job_folders_lead_with_the_swept_keys_seed_last(tmp_path: Path):
    from engine.run_folders import job_folder

    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: ['seed=0,1', experiment=fmnist_cnn, 'optim.lr=0.1,0.05', progress=false]\n")
    job = ["seed=1", "experiment=fmnist_cnn", "optim.lr=0.05", "progress=false", "name=study"]
    assert job_folder(job, str(tmp_path)) == "optim.lr=0.05,seed=1,experiment=fmnist_cnn"
    assert job_folder(job, str(tmp_path / "no_sweep_record")) == "experiment=fmnist_cnn,optim.lr=0.05,seed=1"
