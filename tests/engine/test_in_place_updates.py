"""A loss that updates in place (word2vec's per-pair kernel, model.update=per_pair) through the one Trainer:
the schedule's learning rate reaches it, the optimiser never steps, resume is bit-exact with one thread, and
every setting it would silently ignore is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import losses, sigterm_at, smoke_cfg

from engine.checkpoint import load_checkpoint
from engine.errors import ConfigError
from train import make_trainer, train

PER_PAIR = ("model.update=per_pair", "model.threads=1", "trainer.max_steps=6", "trainer.val_every_steps=3",
            "data.batch_size=500")


@pytest.mark.parametrize("experiment,extra", [("word2vec", ()), ("word2vec_cbow", ("loss=hierarchical_softmax",))])
def test_resume_is_bit_exact_with_one_thread(tmp_path: Path, experiment: str, extra: tuple[str, ...]):
    cfg = smoke_cfg(experiment, *PER_PAIR, *extra)
    train(cfg, tmp_path / "one_go")
    interrupted = make_trainer(cfg, tmp_path / "split", callbacks=[sigterm_at(4)])
    assert interrupted.fit()["status"] == "interrupted"
    resumed = make_trainer(cfg, tmp_path / "split")
    resumed.resume(tmp_path / "split" / "last.pt")
    resumed.fit()
    assert losses(tmp_path / "one_go") == losses(tmp_path / "split")
    a, b = (load_checkpoint(tmp_path / d / "last.pt") for d in ("one_go", "split"))
    for part in ("model", "loss"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])


def test_the_kernel_updates_at_the_schedules_rate_and_the_optimiser_never_steps(tmp_path: Path):
    trainer = make_trainer(smoke_cfg("word2vec", *PER_PAIR), tmp_path / "run")
    assert trainer.in_place
    seen = []
    forward = trainer.loss.forward
    trainer.loss.forward = lambda model, batch, player, progress: seen.append(progress.lr) or forward(
        model, batch, player, progress)
    before = trainer.model.word_vectors.detach().clone()
    trainer.fit()
    opt = trainer.players["main"].optimizer
    schedule = [0.025 * (1 - (1 - 0.004) * s / 6) for s in range(6)]  # configs/scheduler/linear.yaml
    assert seen == pytest.approx(schedule)
    assert not opt.state  # SGD never stepped: no momentum buffers, no gradients
    assert all(p.grad is None for p in trainer.players["main"].params)
    assert not torch.equal(before, trainer.model.word_vectors)


DENSE = ("model.sparse=false", "loss.sparse=false")


@pytest.mark.parametrize("overrides,message", [
    (("optim._target_=torch.optim.Adagrad", "~optim.momentum", "~optim.nesterov"), "Adagrad with these settings would be"),
    (("optim.momentum=0.9",), "use optim=sgd with optim.momentum=0"),
    ((*DENSE, "optim.weight_decay=0.01"), "use optim=sgd with optim.momentum=0 and optim.weight_decay=0"),
    (("trainer.grad_clip=1.0",), "trainer.grad_clip=1.0 has no effect"),
    (("trainer.precision=bf16",), "trainer.precision=bf16 has no effect"),
    (("loss=nce",), "NCELoss has no kernel"),
    (("loss.bias=true",), "set loss.bias=false"),
])
def test_settings_the_kernel_would_ignore_are_refused(tmp_path: Path, overrides: tuple[str, ...], message: str):
    with pytest.raises(ConfigError, match=message):
        make_trainer(smoke_cfg("word2vec", *PER_PAIR, *overrides), tmp_path / "run")


def test_an_unknown_update_mode_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="model.update='pair' is not one of"):
        make_trainer(smoke_cfg("word2vec", "model.update=pair"), tmp_path / "run")


def test_a_model_without_word_vectors_is_refused():
    from losses.hierarchical_softmax import HierarchicalSoftmaxLoss
    from losses.per_pair import check_per_pair

    with pytest.raises(ConfigError, match="needs a word2vec model"):
        check_per_pair(torch.nn.Linear(3, 3), HierarchicalSoftmaxLoss(5, 3))
