"""Losses and data see where training is; fresh batches per repeat; per-part compile; resume stays exact."""

from __future__ import annotations

import json
import os
import signal
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import TINY, compose_cfg, losses

from engine import Trainer
from engine.checkpoint import load_checkpoint
from engine.contracts import DataModule, Evaluator, Loss
from engine.parts import ModelParts
from engine.progress import Progress
from engine.seeding import stream_seed
from losses.cross_entropy import CrossEntropyLoss
from train import make_trainer, train


class WarmupCE(CrossEntropyLoss):
    """Cross-entropy scaled by min(1, fraction / 0.5): a schedule written inside the loss."""

    seen: list[Progress] = []

    def forward(self, model, batch, player="main", progress=None):
        WarmupCE.seen.append(progress)
        out = super().forward(model, batch, player, progress)
        out["loss"] = out["loss"] * min(1.0, progress.fraction / 0.5)
        return out


WARMUP = ["experiment=fmnist_cnn", *TINY, "loss._target_=test_progress.WarmupCE", "trainer.max_steps=10",
          "trainer.val_every_steps=4", "model.dropout=0.3"]


def test_the_loss_sees_step_epoch_and_fraction(tmp_path: Path):
    WarmupCE.seen.clear()
    trainer = make_trainer(compose_cfg(*WARMUP, "data.train_subset=128"), tmp_path)  # 4 batches of 32 an epoch
    trainer.fit()
    seen = WarmupCE.seen
    assert [p.step for p in seen] == list(range(10))
    assert [(p.epoch, p.batch) for p in seen] == [divmod(s, 4) for s in range(10)]
    assert {(p.total_steps, p.steps_per_epoch, p.player, p.repeat, p.repeats) for p in seen} == {(10, 4, "main", 0, 1)}
    assert seen[3].fraction == pytest.approx(0.3)
    assert losses(tmp_path)[0][1] == 0.0  # the warm-up starts at 0


def sigterm_at(step: int):
    def callback(trainer) -> None:
        if trainer.step == step:
            os.kill(os.getpid(), signal.SIGTERM)
    return callback


def test_a_schedule_inside_the_loss_survives_resume_bit_for_bit(tmp_path: Path):
    train(compose_cfg(*WARMUP), tmp_path / "one_go")
    assert make_trainer(compose_cfg(*WARMUP), tmp_path / "split", callbacks=[sigterm_at(3)]).fit()["status"] == "interrupted"
    resumed = make_trainer(compose_cfg(*WARMUP, "resume=auto"), tmp_path / "split")
    resumed.resume(tmp_path / "split" / "last.pt")
    assert resumed.train_seconds > 0  # carried over in the checkpoint
    resumed.fit()
    assert losses(tmp_path / "one_go") == losses(tmp_path / "split")
    a, b = (load_checkpoint(tmp_path / d / "last.pt")["model"] for d in ("one_go", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


class CountingData(DataModule):
    """Batch ``(epoch, i)`` holds the number ``1000 epoch + i``; every request is recorded."""

    unit = "numbers"
    batch_size = 4

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []

    @property
    def batches_per_epoch(self) -> int:
        return 10

    def setup(self, device, rank=0, world_size=1, seed=0) -> None:
        self.seed = seed

    def train_batch(self, progress: Progress):
        self.requests.append((progress.epoch, progress.batch))
        gen = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch, progress.batch))
        noise = torch.randn(self.batch_size, 1, generator=gen)
        return {"x": noise, "id": torch.tensor(1000 * progress.epoch + progress.batch)}

    def eval_batches(self, split):
        yield {"x": torch.ones(4, 1), "id": torch.tensor(-1)}


class TwoPlayers(Loss):
    """Player ``a`` fits part ``a`` to its batch, ``b`` fits part ``b``; each records which batch it saw."""

    players = ("a", "b")
    updates = {"a": ("a",), "b": ("b",)}

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, int]] = []

    def forward(self, model, batch, player, progress):
        self.seen.append((player, progress.repeat, int(batch["id"])))
        z = torch.randn(4, 1)  # the global stream, as a GAN's noise
        return {"loss": ((getattr(model, player)(batch["x"] + z) - 1) ** 2).mean()}


class Mean(Evaluator):
    monitor, mode = "out", "min"

    @torch.no_grad()
    def evaluate(self, model, batches, loss=None):
        x = next(iter(batches))["x"]
        return {"out": float(model.a(x).mean() + model.b(x).mean())}


def two_players(run_dir: Path, steps: int, compile: bool = False, **kw) -> Trainer:
    torch.manual_seed(0)
    model = ModelParts({"a": nn.Linear(1, 1), "b": nn.Linear(1, 1)})
    return Trainer(model, TwoPlayers(), CountingData(), Mean(), partial(torch.optim.SGD, lr=0.05), run_dir=run_dir,
                   max_epochs=100, max_steps=steps, val_every_steps=2, log_every_steps=1, progress=False, compile=compile,
                   players={"a": {"repeat": 3, "fresh_batches": True}, "b": {"repeat": 2}}, **kw)


def test_fresh_batches_per_repeat(tmp_path: Path):
    trainer = two_players(tmp_path, steps=4)
    assert trainer.draws == 3 and trainer.steps_per_epoch == 3  # 10 batches an epoch: 3 steps of 3, one left over
    trainer.fit()
    seen = trainer.loss.seen
    ids = [1000 * e + i for e in range(2) for i in range(9)]  # batch 9 of each epoch is never drawn
    for step in range(4):
        first = ids[3 * step]
        assert seen[5 * step: 5 * step + 5] == [("a", 0, first), ("a", 1, ids[3 * step + 1]), ("a", 2, ids[3 * step + 2]),
                                                ("b", 0, first), ("b", 1, first)]
    assert trainer.data.requests == [divmod(i, 1000) for i in ids[:12]]  # each drawn once per step
    rows = [json.loads(r) for r in (tmp_path / "log.jsonl").read_text().splitlines() if "throughput" in r]
    assert "throughput/numbers_per_s" in rows[0]
    times = [r["time/train_s"] for r in rows]  # training time so far: grows, and metrics.json has the total
    assert times == sorted(times) and times[0] > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["train_seconds"] == pytest.approx(times[-1], abs=1e-3)


def test_fresh_batches_resume_bit_for_bit(tmp_path: Path):
    two_players(tmp_path / "one_go", steps=7).fit()
    assert two_players(tmp_path / "split", steps=7, callbacks=[sigterm_at(4)]).fit()["status"] == "interrupted"
    resumed = two_players(tmp_path / "split", steps=7)
    resumed.resume(tmp_path / "split" / "last.pt")
    resumed.fit()
    for key in ("train/a/loss", "train/b/loss"):
        assert losses(tmp_path / "one_go", key) == losses(tmp_path / "split", key)
    a, b = (load_checkpoint(tmp_path / d / "last.pt")["model"] for d in ("one_go", "split"))
    assert a.keys() == {"a.weight", "a.bias", "b.weight", "b.bias"} and all(torch.equal(a[k], b[k]) for k in a)


def test_each_part_is_compiled(tmp_path: Path, monkeypatch):
    graphs: list[str] = []
    calls: list[int] = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm.code)

        def run(*args):
            calls.append(len(graphs))
            return gm.forward(*args)
        return run

    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module: real(module, backend=counting_backend))
    torch._dynamo.reset()
    compiled = two_players(tmp_path / "compiled", steps=3, compile=True)
    assert all(type(p).__name__ == "OptimizedModule" for p in compiled.train_model.values())
    compiled.fit()
    assert len(graphs) >= 1
    # model.a(x) 3 times and model.b(x) 2 times a step, called by name, all through torch.compile
    assert len(calls) == 3 * (3 + 2)
    eager = two_players(tmp_path / "eager", steps=3)
    eager.fit()
    for key in ("train/a/loss", "train/b/loss"):
        eager_trace = [v for _, v in losses(tmp_path / "eager", key)]
        assert [v for _, v in losses(tmp_path / "compiled", key)] == pytest.approx(eager_trace)
