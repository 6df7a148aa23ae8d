"""The one restore path: parts, the loss's own parameters and EMA copies, in metrics.json and eval.py alike."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import TINY, compose_cfg
from omegaconf import OmegaConf

from engine.checkpoint import load_checkpoint
from engine.contracts import Evaluator, Loss
from engine.errors import CheckpointError, ConfigError
from eval import evaluate
from train import make_trainer, train

FEATURES = 16


class HeadLoss(Loss):
    """Cross-entropy of a class head the loss owns (as AM-Softmax owns its class centres)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(FEATURES, 10)

    def forward(self, model, batch, player="main", progress=None):
        return {"loss": F.cross_entropy(self.head(model(batch["x"])), batch["y"])}


class HeadEvaluator(Evaluator):
    """NLL through the loss's head; ``order`` = -(number of calls), so the first validation is best."""

    monitor, mode = "order", "max"

    def __init__(self) -> None:
        self.calls = 0

    @torch.no_grad()
    def evaluate(self, model, batches, loss=None):
        self.calls += 1
        model.eval()
        nll = [F.cross_entropy(loss.head(model(b["x"])), b["y"], reduction="sum") for b in batches]
        model.train()
        return {"nll": float(sum(nll)), "order": -float(self.calls)}


def head_cfg():
    """fmnist_cnn with a 16-feature model, the head loss and its evaluator, named in the config as any other."""
    cfg = compose_cfg("experiment=fmnist_cnn", *TINY, "model.num_classes=16", "trainer.max_steps=6",
                      "trainer.val_every_steps=2", "optim.lr=0.2")
    cfg.loss = OmegaConf.create({"_target_": "test_weights.HeadLoss"})
    cfg.evaluator = OmegaConf.create({"_target_": "test_weights.HeadEvaluator"})
    return cfg


def test_metrics_json_equals_eval_py_with_a_loss_that_owns_parameters(tmp_path: Path):
    metrics = train(head_cfg(), tmp_path)
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert metrics["checkpoint_step"] == best["step"] == 2 and last["step"] == 6
    assert not torch.equal(best["loss"]["head.weight"], last["loss"]["head.weight"])  # the head trained on

    again = evaluate(tmp_path)  # eval.py's function, on the same best.pt
    assert again["test/nll"] == metrics["test/nll"]

    # what the old, half restore gave: the best step's model with the last step's head
    trainer = make_trainer(head_cfg(), tmp_path / "half")
    trainer.model.load_state_dict(best["model"])
    trainer.loss.load_state_dict(last["loss"])
    half = trainer.evaluator.evaluate(trainer.model, trainer.data.eval_batches("test"), loss=trainer.loss)
    assert half["nll"] != metrics["test/nll"]
    trainer.loss.load_state_dict(best["loss"])  # the whole of best.pt gives metrics.json's number
    whole = trainer.evaluator.evaluate(trainer.model, trainer.data.eval_batches("test"), loss=trainer.loss)
    assert whole["nll"] == metrics["test/nll"]


def test_ema_copy_follows_the_formula_and_is_what_is_evaluated(tmp_path: Path):
    decay = 0.6
    seen: list[dict[str, torch.Tensor]] = []
    cfg = compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=5", "trainer.val_every_steps=5",
                      f"+trainer.parts.model.ema={decay}")
    keep = lambda t: seen.append({k: v.clone() for k, v in t.model.state_dict().items()})  # noqa: E731
    trainer = make_trainer(cfg, tmp_path, callbacks=[keep])
    metrics = trainer.fit()
    # torch's AveragedModel: the first update copies, then e <- d e + (1 - d) w after every step
    expected = dict(seen[0])
    for w in seen[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * w[k] for k in w}
    ema = load_checkpoint(tmp_path / "last.pt")["ema"]["model"]
    for k, v in expected.items():
        torch.testing.assert_close(ema[f"module.{k}"], v, rtol=1e-5, atol=1e-6, msg=k)
    assert int(ema["n_averaged"]) == 5
    assert not torch.equal(ema["module.classifier.4.weight"], seen[-1]["classifier.4.weight"])

    # the final evaluation and eval.py both evaluate the EMA weights
    copy = make_trainer(cfg, tmp_path / "copy").model
    copy.load_state_dict({k: v for k, v in expected.items()})
    direct = trainer.evaluator.evaluate(copy, trainer.data.eval_batches("test"))
    assert metrics["test/acc"] == direct["acc"] and metrics["test/nll"] == pytest.approx(direct["nll"], rel=1e-5)
    assert evaluate(tmp_path)["test/nll"] == metrics["test/nll"]


def initialised(*overrides: str, run_dir: Path):
    """A trainer of fmnist_cnn with the parts that have init_from loaded (what fit() does first)."""
    trainer = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, *overrides), run_dir)
    trainer.initialise()
    return trainer


def test_a_part_initialised_from_another_run(tmp_path: Path):
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path / "a")
    source = load_checkpoint(tmp_path / "a" / "best.pt")["model"]

    whole = initialised(f"+trainer.parts.model.init_from={tmp_path / 'a'}", run_dir=tmp_path / "b").model.state_dict()
    assert all(torch.equal(whole[k], source[k]) for k in source)

    sub = initialised("seed=5", f"+trainer.parts.model.init_from={tmp_path / 'a' / 'best.pt'}",
                      "+trainer.parts.model.source=model.features", "+trainer.parts.model.module=features",
                      run_dir=tmp_path / "c").model.state_dict()
    assert torch.equal(sub["features.0.weight"], source["features.0.weight"])  # loaded
    assert not torch.equal(sub["classifier.1.weight"], source["classifier.1.weight"])  # left as initialised

    with pytest.raises(ConfigError, match=r"parts \['model'\], not 'generator'"):
        initialised(f"+trainer.parts.model.init_from={tmp_path / 'a'}", "+trainer.parts.model.source=generator",
                    run_dir=tmp_path / "d")
    with pytest.raises(CheckpointError, match="does not fit part 'model'.*size mismatch"):
        initialised("model.width=8", f"+trainer.parts.model.init_from={tmp_path / 'a'}", run_dir=tmp_path / "e")
    with pytest.raises(CheckpointError, match=f"^trainer.parts.model.init_from={tmp_path}/nope: checkpoint .* does not exist"):
        initialised(f"+trainer.parts.model.init_from={tmp_path / 'nope'}", run_dir=tmp_path / "f")


def test_resume_does_not_need_the_init_from_source_again(tmp_path: Path):
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path / "a")
    cfg = ["experiment=fmnist_cnn", *TINY, "trainer.max_steps=6", f"+trainer.parts.model.init_from={tmp_path / 'a'}"]
    stop = lambda t: os.kill(os.getpid(), signal.SIGTERM) if t.step == 3 else None  # noqa: E731
    assert make_trainer(compose_cfg(*cfg), tmp_path / "b", callbacks=[stop]).fit()["status"] == "interrupted"
    shutil.rmtree(tmp_path / "a")  # the source run is gone; last.pt holds the weights
    resumed = make_trainer(compose_cfg(*cfg, "resume=auto"), tmp_path / "b")
    resumed.resume(tmp_path / "b" / "last.pt")
    assert resumed.fit()["steps"] == 6


def test_part_settings_are_checked(tmp_path: Path):
    for override, message in (("+trainer.parts.model.emaa=0.9", r"unknown key\(s\) \['emaa'\]"),
                              ("+trainer.parts.model.ema=1.5", "a decay in \\(0, 1\\)"),
                              ("+trainer.parts.encoder.ema=0.9", r"the model's parts are \['model'\]"),
                              ("+trainer.parts.model.freeze=true", "no trainable parameters"),
                              ("+trainer.parts.model=0.99", "trainer.parts.model must be a mapping of settings"),
                              ("+trainer.parts.model.module=features", "trainer.parts.model.module only applies with "
                               "trainer.parts.model.init_from")):
        with pytest.raises(ConfigError, match=message):
            make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, override), tmp_path)


def test_a_checkpoint_without_the_ema_copy_is_refused(tmp_path: Path):
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), tmp_path / "a")
    trainer = make_trainer(compose_cfg("experiment=fmnist_cnn", *TINY, "+trainer.parts.model.ema=0.9"), tmp_path / "b")
    with pytest.raises(CheckpointError, match=r"EMA copies of \[\], expected \['model'\]"):
        trainer.load_state_dict(load_checkpoint(tmp_path / "a" / "last.pt"))
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["checkpoint"] == "best.pt"


def test_init_from_a_folder_of_runs_takes_the_latest_finished_one(tmp_path: Path):
    runs = tmp_path / "fmnist_classifier"
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2"), runs / "old")
    train(compose_cfg("experiment=fmnist_cnn", *TINY, "trainer.max_steps=2", "seed=3"), runs / "new")
    (runs / "unfinished").mkdir()  # a run without metrics.json is passed over
    newest = load_checkpoint(runs / "new" / "best.pt")["model"]
    loaded = initialised(f"+trainer.parts.model.init_from={runs}", run_dir=tmp_path / "b").model.state_dict()
    assert all(torch.equal(loaded[k], newest[k]) for k in newest)
    (tmp_path / "empty_runs").mkdir()
    with pytest.raises(CheckpointError, match=r"holds no finished run .* `python train.py experiment=empty_runs`"):
        initialised(f"+trainer.parts.model.init_from={tmp_path / 'empty_runs'}", run_dir=tmp_path / "c")
