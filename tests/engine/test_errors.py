"""Bad input gets one clear line and loses nothing."""

from __future__ import annotations

import math
import traceback
from pathlib import Path

import pytest
import torch
from conftest import TINY, compose_cfg, losses, run_script
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from engine.checkpoint import load_checkpoint
from engine.errors import ConfigError, DataMissingError, NonFiniteLossError, as_bool, as_int, as_number
from engine.instantiate import build
from losses.cross_entropy import CrossEntropyLoss
from train import make_trainer


def one_error_line(out) -> str:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    return lines[0] if lines else ""


@pytest.mark.slow
@pytest.mark.parametrize(("override", "expected"), [
    ("optim.lr=-0.1", "error: optim/scheduler for player 'main': Invalid learning rate: -0.1"),
    ("data.reader.root=/nonexistent", "error: Fashion-MNIST is not installed under /nonexistent: run `make data`"),
    ("trainer.precision=fp8", "error: trainer.precision='fp8' is not one of"),
    ("trainer.max_epochs=0", "error: trainer.max_epochs must be an integer >= 1, got 0"),
    ("trainer.log_every_steps=abc", "error: trainer.log_every_steps must be an integer >= 1, got 'abc'"),
    ("data.num_classes=7", "error: data.num_classes=7 but the data has num_classes=10"),
    ("resume=/nonexistent/last.pt", "error: resume=/nonexistent/last.pt: no such checkpoint"),
])
def test_invalid_values_one_line(override: str, expected: str, tmp_path: Path):
    out = run_script("train.py", "experiment=fmnist_cnn", *TINY, f"runs_root={tmp_path}", override)
    line = one_error_line(out)
    assert line.startswith(expected), out.stderr[-1500:]
    assert len([ln for ln in out.stderr.splitlines() if ln.startswith("error:")]) == 1


@pytest.mark.slow
def test_a_failed_start_leaves_no_run_folder_for_resume_auto_to_pick(tmp_path: Path):
    """A config error at start removes the folder Hydra made for the run (it would hold only .hydra/ and train.log);
    resume=auto then continues the last good run."""
    good = run_script("train.py", "experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", f"runs_root={tmp_path}")
    assert good.returncode == 0, good.stderr[-1500:]
    (run,) = (tmp_path / "fmnist_cnn").iterdir()
    failed = run_script("train.py", "experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", f"runs_root={tmp_path}",
                        "+model.depth=3")
    assert one_error_line(failed).startswith("error: model.depth is not a setting")
    failed = run_script("train.py", "experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", f"runs_root={tmp_path}",
                        "resume=auto", "trainer.max_epochs=0")
    assert one_error_line(failed).startswith("error: trainer.max_epochs must be")
    assert list((tmp_path / "fmnist_cnn").iterdir()) == [run]  # the failed starts left nothing; the good run is whole
    assert (run / "last.pt").is_file() and (run / "metrics.json").is_file()
    resumed = run_script("train.py", "experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", f"runs_root={tmp_path}",
                         "resume=auto")
    assert resumed.returncode == 0 and f"metrics: {run}" in resumed.stdout, resumed.stderr[-1500:]


@pytest.mark.slow
def test_unknown_key_names_the_key(tmp_path: Path):
    out = run_script("train.py", "experiment=fmnist_cnn", f"runs_root={tmp_path}", "optim.lrr=0.1")
    assert "optim.lrr" in one_error_line(out)
    out = run_script("train.py", "experiment=no_such_experiment", f"runs_root={tmp_path}")
    assert "no_such_experiment" in one_error_line(out)


@pytest.mark.parametrize(("override", "expected"), [
    ("+typo=1", "unknown config key typo: nothing reads it"),
    ("+trainer_typo.x=1", "unknown config key trainer_typo"),
    ("+data.shuffle=true", "data.shuffle is not a setting of datasets.images.ImageClassificationData (its settings: reader,"),
    ("+model.depth=3", "model.depth is not a setting of models.small_cnn.SmallCNN"),
    ("+data.reader.mirror=x", "data.reader.mirror is not a setting of datasets.readers.fashion_mnist"),
    ("+optim.lrr=0.1", "optim.lrr is not a setting of torch.optim.SGD"),
    ("+trainer.players.main.repeats=2", "trainer.players.main takes repeat, fresh_batches, optim; got ['repeats']"),
    ("+trainer.players.main=3", "trainer.players.main must be a mapping of settings"),
])
def test_a_key_nothing_reads_is_refused(override: str, expected: str, tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        make_trainer(compose_cfg(*TINY, override), tmp_path)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


@pytest.mark.slow
def test_a_model_of_parts_called_as_one_module_is_one_line(tmp_path: Path):
    out = run_script("train.py", "experiment=fmnist_cnn", *TINY, "model=dcgan", f"runs_root={tmp_path}")
    assert one_error_line(out).startswith("error: the model has parts ['generator', 'discriminator', 'classifier'] and is not "
                                          "called itself, but the loss or evaluator calls model(x)")


class BuggyNet(torch.nn.Module):
    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.width = sum([width, "2"])  # a bug in the user's own code


def test_a_bug_in_your_own_model_keeps_its_traceback_a_bad_value_is_one_line(tmp_path: Path):
    with pytest.raises(InstantiationException) as err:  # not a ConfigError: the traceback shows the bug
        build("model", OmegaConf.create({"_target_": "test_errors.BuggyNet"}))
    cause = err.value.__cause__
    assert isinstance(cause, TypeError) and traceback.extract_tb(cause.__traceback__)[-1].name == "__init__"
    with pytest.raises(ConfigError, match="^model: "):
        make_trainer(compose_cfg(*TINY, "model.width=abc"), tmp_path)
    with pytest.raises(ConfigError, match=r"model._target_='models.nope.Net' cannot be imported \(.*No module named"):
        make_trainer(compose_cfg(*TINY, "model._target_=models.nope.Net"), tmp_path)


def test_missing_data_in_process(tmp_path: Path):
    with pytest.raises(DataMissingError, match="make data"):
        make_trainer(compose_cfg(*TINY, f"data.reader.root={tmp_path}"), tmp_path / "run")


def test_unknown_player_in_trainer_config(tmp_path: Path):
    with pytest.raises(ConfigError, match="players"):
        make_trainer(compose_cfg(*TINY, "+trainer.players.generator.repeat=2"), tmp_path)


class NaNAfter(CrossEntropyLoss):
    """Cross-entropy that turns NaN from the given call on (a diverging run)."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, model, batch, player="main", progress=None):
        out = super().forward(model, batch, player, progress)
        self.calls += 1
        if self.calls > self.after:
            out["loss"] = out["loss"] * math.nan
        return out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path):
    cfg = compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=20", "trainer.log_every_steps=4",
                      "trainer.checkpoint_every_steps=2", "trainer.val_every_steps=100")
    trainer = make_trainer(cfg, tmp_path)
    trainer.loss = NaNAfter(after=5)
    with pytest.raises(NonFiniteLossError) as err:
        trainer.fit()
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "last.pt") in msg
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 4  # written before the NaN at step 6; the save at step 6 was refused
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert all(math.isfinite(v) for _, v in losses(tmp_path))  # no NaN row was logged


@pytest.mark.slow
def test_a_failing_job_does_not_stop_its_sweep(tmp_path: Path):
    out = run_script("train.py", "-m", "experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", f"runs_root={tmp_path}",
                     "optim.lr=-0.1,0.05")
    assert out.returncode == 0, out.stderr[-1500:]
    assert "error: optim/scheduler for player 'main': Invalid learning rate: -0.1" in out.stderr
    jobs = {p.name.split("optim.lr=")[1].split(",")[0]: p for p in (tmp_path / "multirun" / "fmnist_cnn").glob("*/*")
            if p.is_dir()}
    assert not (jobs["-0.1"] / "metrics.json").exists() and (jobs["0.05"] / "metrics.json").is_file()
    assert (jobs["-0.1"] / "error.txt").read_text().startswith("optim/scheduler for player 'main': Invalid learning rate")


def test_sparse_gradients_with_adam_or_weight_decay_are_one_line():
    import torch.nn as nn

    from engine.players import Player, check_sparse_gradients
    from losses.negative_sampling import NegativeSamplingLoss
    from models.skip_gram import SkipGram

    model, head = SkipGram(10, 4, sparse=True), NegativeSamplingLoss(10, 4, sparse=True)
    params = [*model.parameters(), *head.parameters()]
    player = Player("main", ["model"], params, optimizer=torch.optim.Adam(params))
    with pytest.raises(ConfigError, match="sparse gradients, which Adam cannot take"):
        check_sparse_gradients(model, head, {"main": player})
    player.optimizer = torch.optim.SGD(params, lr=0.1, weight_decay=1e-4)
    with pytest.raises(ConfigError, match="weight_decay=0"):
        check_sparse_gradients(model, head, {"main": player})
    player.optimizer = torch.optim.SGD(params, lr=0.1)
    check_sparse_gradients(model, head, {"main": player})
    check_sparse_gradients(nn.Linear(2, 2), NegativeSamplingLoss(10, 4), {"main": player})  # nothing sparse: no check


@pytest.mark.parametrize(("call", "message"), [
    (lambda: as_int("a.k", 2.5), "a.k must be an integer >= 0, got 2.5"),
    (lambda: as_int("a.k", True), "a.k must be an integer >= 0, got True"),
    (lambda: as_int("a.k", 7, 2, 5), r"a.k must be an integer in \[2, 5\), got 7"),
    (lambda: as_int("a.k", 7, None, 5), "a.k must be an integer < 5, got 7"),
    (lambda: as_int("a.k", "x", None), "a.k must be an integer, got 'x'"),
    (lambda: as_int("a.k", -1, 1, optional=True, hint="null: off"), r"a.k must be an integer >= 1 or null \(null: off\), got -1"),
    (lambda: as_number("a.x", "1e-3"), "a.x='1e-3' is not a number"),
    (lambda: as_number("a.x", float("nan")), "a.x is NaN"),
    (lambda: as_number("a.x", 0, 0, strict=True), "a.x must be a number > 0, got 0"),
    (lambda: as_bool("a.b", "false"), "a.b must be true or false, got 'false'"),
])
def test_the_validators_say_what_is_wrong_in_one_line(call, message: str):
    """The one set of validators that the Trainer, the losses, the data and the tools share (engine.errors)."""
    with pytest.raises(ConfigError, match=message):
        call()


def test_the_validators_pass_good_values_through_typed():
    assert as_int("k", 3.0) == 3 and isinstance(as_int("k", 3.0), int)
    assert as_int("k", None, 1, optional=True) is None and as_number("x", None, optional=True) is None
    assert as_number("x", 2) == 2.0 and isinstance(as_number("x", 2), float) and as_bool("b", False) is False
