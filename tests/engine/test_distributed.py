"""torchrun with 2 CPU processes (gloo, DistributedDataParallel per player) gives the single-process result.

Each rank takes one half of every global batch and DDP averages the gradients, so for a model without
batch norm or dropout the two-process loss trace and weights equal the one-process ones up to float
rounding (the halves are summed in another order). Checked for a one-player classifier, the two-player
GAN and a loss that owns parameters (AM-Softmax's class weights); then exact resume on every rank, a
stop signal to one rank, a rank that dies, a rank that hangs, and a batch that does not split.
Run them alone with ``pytest -m distributed``; the fast tests at the end check which parameters each player's
DDP syncs, in this process (a process group of one).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from conftest import REPO, compose_cfg, losses, run_torchrun

from engine import distributed as D
from engine.checkpoint import load_checkpoint
from engine.parts import ModelParts
from engine.runs import make_trainer
from engine.seeding import stream_seed
from train import train

JOB = str(REPO / "tests" / "engine" / "torchrun_job.py")
CLASSIFIER = ["experiment=fmnist_cnn", "data.train_subset=1024", "data.val_subset=256", "data.batch_size=64",
              "trainer.max_steps=8", "trainer.log_every_steps=1", "trainer.val_every_steps=4", "trainer.progress=false"]


def smoke(experiment: str, *extra: str) -> list[str]:
    return [f"experiment={experiment}", *map(str, compose_cfg(f"experiment={experiment}").smoke), *extra]


GAN = smoke("gan_grid", "trainer.max_steps=6", "trainer.val_every_steps=3")
# plain SGD: Adam's first steps move every weight by about lr whatever the size of its gradient, so a gradient
# that is float noise (the GRU's recurrent weights at the start) would turn summation order into lr-sized changes
AM_SOFTMAX = smoke("sentsim_amsoftmax", "trainer.max_steps=6", "trainer.val_every_steps=3",
                   "optim=sgd", "~optim.betas", "optim.lr=0.5")


def assert_same_weights(a: dict, b: dict, exact: bool = False) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if exact:
            assert torch.equal(a[name], b[name]), name
        else:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)


def only_run(root: Path) -> Path:
    (run,) = [p.parent for p in root.glob("*/*/last.pt")]
    return run


@pytest.mark.slow
@pytest.mark.distributed
def test_classifier_two_processes_match_one(tmp_path: Path):
    run_torchrun(CLASSIFIER, tmp_path / "ddp")
    ddp_dir = only_run(tmp_path / "ddp")
    assert not list((tmp_path / "ddp").glob("*/*/rank*")), "only rank 0 writes"
    single_dir = tmp_path / "single"
    train(compose_cfg(*CLASSIFIER), single_dir)

    ddp, single = losses(ddp_dir), losses(single_dir)
    assert [s for s, _ in ddp] == [s for s, _ in single] == list(range(1, 9))
    assert [v for _, v in ddp] == pytest.approx([v for _, v in single], rel=1e-4)
    assert single[-1][1] < single[0][1]  # it trained
    assert_same_weights(load_checkpoint(ddp_dir / "last.pt")["model"], load_checkpoint(single_dir / "last.pt")["model"])


def two_rank_prior(loss, seed: int, global_batch: int):
    """The GAN's prior as two ranks draw it: rank r draws its half of every batch of z from its own global stream
    (seeded ``stream_seed(seed, r)`` when training starts); one process gets both halves, side by side."""
    streams = [torch.Generator().manual_seed(stream_seed(seed, r)) for r in range(2)]
    own = loss.prior

    def prior(n: int, device, generator=None):
        if generator is not None:  # the evaluator's own stream
            return own(n, device, generator)
        chunks = n // global_batch
        halves = [torch.randn(chunks, global_batch // 2, loss.z_dim, generator=g) for g in streams]
        return torch.cat(halves, dim=1).reshape(n, loss.z_dim).to(device)
    return prior


@pytest.mark.slow
@pytest.mark.distributed
def test_gan_two_players_two_processes_match_one(tmp_path: Path):
    """Each player has its own DDP over its own parts: the discriminator's step syncs only D's gradients, the
    generator's only G's (D's, computed on the way, stay local and are cleared before D's next step)."""
    run_torchrun(GAN, tmp_path / "ddp")
    ddp_dir = only_run(tmp_path / "ddp")

    cfg = compose_cfg(*GAN)
    trainer = make_trainer(cfg, tmp_path / "single")
    trainer.loss.prior = two_rank_prior(trainer.loss, cfg.seed, cfg.data.batch_size)
    trainer.fit()

    for key in ("train/discriminator/loss", "train/generator/loss"):
        ddp, single = losses(ddp_dir, key), losses(tmp_path / "single", key)
        assert [s for s, _ in ddp] == [s for s, _ in single] == list(range(1, 7))
        assert [v for _, v in ddp] == pytest.approx([v for _, v in single], rel=1e-4), key
    ddp_w, one_w = load_checkpoint(ddp_dir / "last.pt")["model"], load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    assert {k.split(".")[0] for k in one_w} == {"generator", "discriminator"}
    assert_same_weights(ddp_w, one_w)
    first = load_checkpoint(ddp_dir / "best.pt") if (ddp_dir / "best.pt").is_file() else None
    assert first is not None and int(first["step"]) in (3, 6)


@pytest.mark.slow
@pytest.mark.distributed
def test_loss_with_parameters_two_processes_match_one(tmp_path: Path):
    """AM-Softmax's class weights belong to the loss, not the model: DDP syncs them with the encoder's."""
    run_torchrun(AM_SOFTMAX, tmp_path / "ddp")
    ddp_dir = only_run(tmp_path / "ddp")
    train(compose_cfg(*AM_SOFTMAX), tmp_path / "single")

    ddp, one = load_checkpoint(ddp_dir / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    assert any(v.dim() == 2 for v in one["loss"].values()), "the loss owns a weight matrix"
    start = make_trainer(compose_cfg(*AM_SOFTMAX), tmp_path / "start").loss.state_dict()
    assert any(not torch.equal(start[k], one["loss"][k]) for k in start), "the loss's weights trained"
    assert_same_weights(ddp["loss"], one["loss"])
    assert_same_weights(ddp["model"], one["model"])


@pytest.mark.slow
@pytest.mark.distributed
def test_a_loss_that_leaves_parameters_unused_matches_one_process(tmp_path: Path):
    """Adaptive softmax's tail clusters get no gradient in a step where no target falls in them: the loss says so
    (leaves_parameters_unused) and its DDP looks for them, instead of waiting for gradients that never come."""
    overrides = smoke("lm_adaptive_softmax", "trainer.max_steps=6", "trainer.val_every_steps=3")
    run_torchrun(overrides, tmp_path / "ddp")
    train(compose_cfg(*overrides), tmp_path / "single")
    ddp, one = load_checkpoint(only_run(tmp_path / "ddp") / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    assert_same_weights(ddp["loss"], one["loss"])
    assert_same_weights(ddp["model"], one["model"])


@pytest.mark.slow
@pytest.mark.distributed
def test_stop_signal_to_one_rank_stops_all_then_resume_is_exact_on_every_rank(tmp_path: Path):
    """SIGTERM to rank 1 after step 2: both ranks stop after the same step, rank 0 writes last.pt once, holding
    every rank's random streams; resumed, the run ends with the weights of an uninterrupted one, bit for bit
    (the GAN's z come from each rank's own stream, so a rank that resumed with another stream would differ)."""
    run_torchrun(GAN, tmp_path / "straight", script=JOB)
    saves = tmp_path / "saves.txt"
    stopped = run_torchrun(GAN, tmp_path / "stopped", script=JOB, check=False,
                           env={"FAULT": "1:2:TERM", "SAVES": str(saves)})
    assert stopped.returncode != 0
    assert saves.read_text().splitlines() == ["0 last.pt 2"], "one last.pt, by rank 0, at the step both stopped"
    state = load_checkpoint(tmp_path / "stopped" / "job" / "last.pt")
    assert len(state["rng_per_rank"]) == 2
    assert not torch.equal(state["rng_per_rank"][0]["torch"], state["rng_per_rank"][1]["torch"])

    run_torchrun([*GAN, "resume=auto"], tmp_path / "stopped", script=JOB)
    resumed = load_checkpoint(tmp_path / "stopped" / "job" / "last.pt")
    straight = load_checkpoint(tmp_path / "straight" / "job" / "last.pt")
    assert int(resumed["step"]) == int(straight["step"]) == 6
    assert_same_weights(resumed["model"], straight["model"], exact=True)
    s, r = losses(tmp_path / "straight" / "job"), losses(tmp_path / "stopped" / "job")
    assert [v for k, v in r if k > 2] == [v for k, v in s if k > 2]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
@pytest.mark.distributed
def test_a_rank_that_dies_stops_the_other_with_one_line(tmp_path: Path):
    result = run_torchrun(CLASSIFIER, tmp_path, script=JOB, check=False, env={"FAULT": "1:2:KILL"}, timeout=120)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert lines and all("another process of this run stopped" in line for line in lines), result.stderr[-2000:]
    assert "resume=auto" in lines[0]


@pytest.mark.slow
@pytest.mark.distributed
def test_a_rank_that_hangs_times_out_with_one_line(tmp_path: Path):
    """SIGSTOP: the rank is alive but silent, so only the process group's timeout can end the wait."""
    start = time.monotonic()
    result = run_torchrun([*CLASSIFIER, "trainer.dist_timeout_s=8"], tmp_path, script=JOB, check=False,
                          env={"FAULT": "1:2:STOP"}, timeout=150)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "rank 0: another process of this run stopped or stopped answering at step 2" in lines[0], \
        result.stderr[-2000:]
    assert time.monotonic() - start < 150


@pytest.mark.slow
@pytest.mark.distributed
def test_a_batch_that_does_not_split_is_one_line(tmp_path: Path):
    result = run_torchrun([*CLASSIFIER, "data.batch_size=63"], tmp_path, check=False, timeout=120)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert lines and all("data.batch_size=63" in line and "(2)" in line for line in lines), result.stderr[-2000:]
    assert not list(tmp_path.glob("*/*/last.pt"))


class TwoPartLoss(nn.Module):
    """A loss with two players and a parameter of its own for the second."""
    players = ("first", "second")
    updates = {"first": ("a",), "second": ("b",)}

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls: list[str] = []

    def forward(self, model, batch, player, progress):
        self.calls.append(player)
        y = model.b(model.a(batch["x"]))
        return {"loss": (self.scale * y).square().mean() if player == "second" else y.mean()}


@pytest.fixture
def group_of_one():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_each_players_ddp_syncs_exactly_its_parameters(group_of_one):
    model = ModelParts({"a": nn.Linear(3, 4), "b": nn.Linear(4, 1)})
    model.a.bias.requires_grad_(False)  # a frozen tensor: not the player's
    loss = TwoPartLoss()
    first = [model.a.weight]
    second = [*model.b.parameters(), loss.scale]
    ddp_first = D.wrap_player(loss, model, "first", {"a": model.a}, first, torch.device("cpu"))
    ddp_second = D.wrap_player(loss, model, "second", {"b": model.b}, second, torch.device("cpu"))
    synced = {id(p) for name, p in ddp_first.module.named_parameters() if name not in ddp_first.parameters_to_ignore}
    assert synced == {id(model.a.weight)}  # not the frozen bias, not the loss's parameter of the other player
    synced = {id(p) for name, p in ddp_second.module.named_parameters() if name not in ddp_second.parameters_to_ignore}
    assert synced == {id(p) for p in second}

    x = torch.randn(5, 3)
    out = ddp_second({"x": x}, None)
    out["loss"].backward()
    expected = (model.b(model.a(x))).square().mean()  # the loss itself, called by name through the wrapper
    assert out["loss"].item() == pytest.approx(expected.item())
    assert loss.calls == ["second"]
    names = {id(p): n for n, p in model.named_parameters()}
    assert D.without_gradient(second, names) == []
    model.zero_grad(set_to_none=True)
    loss.scale.grad = None
    ddp_first({"x": x}, None)["loss"].backward()
    assert D.without_gradient([*first, loss.scale], {**names, id(loss.scale): "loss.scale"}) == ["loss.scale"]


def test_only_failures_of_collectives_become_one_line():
    info = D.DistInfo(rank=1, world_size=2)
    gone = RuntimeError("[../gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:20353: Connection reset by peer")
    failure = D.collective_failure(gone, info, step=7)
    assert failure is not None and "rank 1" in str(failure) and "step 7" in str(failure) and "resume=auto" in str(failure)
    assert D.collective_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), info, 7) is None
    assert D.collective_failure(gone, D.DistInfo(), 7) is None  # one process: nothing to blame on another rank
