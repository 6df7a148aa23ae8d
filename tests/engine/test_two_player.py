"""A two-player loss (a GAN on a 1-D Gaussian, a model of two named parts) trains through the same Trainer.

Data x ~ N(3, 0.5^2); generator G(z) = a z + b with z ~ N(0, 1); discriminator a small MLP.
The game's equilibrium is q = p (Goodfellow et al. 2014): a = +-0.5, b = 3. (With a purely
quadratic logistic discriminator this game collapses to a = 0 here: the test uses an MLP.)
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine import Trainer
from engine.contracts import DataModule, Evaluator, Loss
from engine.parts import ModelParts
from engine.seeding import stream_seed

MEAN, STD = 3.0, 0.5


class GaussianData(DataModule):
    unit = "samples"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size

    @property
    def batches_per_epoch(self) -> int:
        return 100

    def setup(self, device, rank=0, world_size=1, seed=0) -> None:
        self.device, self.seed = device, seed

    def train_batch(self, progress) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch, progress.batch))
        return {"x": (MEAN + STD * torch.randn(self.batch_size, 1, generator=g)).to(self.device)}

    def eval_batches(self, split: str):
        g = torch.Generator().manual_seed(7 if split == "val" else 8)
        yield {"x": (MEAN + STD * torch.randn(20_000, 1, generator=g)).to(self.device)}


def toy_gan() -> ModelParts:
    return ModelParts({"generator": nn.Linear(1, 1),
                       "discriminator": nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32),
                                                      nn.LeakyReLU(0.2), nn.Linear(32, 1))})


class ToyGANLoss(Loss):
    """D: BCE(D(x), 1) + BCE(D(G(z)), 0); G: the non-saturating -log D(G(z))."""

    players = ("discriminator", "generator")
    updates = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def forward(self, model, batch, player, progress):
        z = torch.randn_like(batch["x"])
        fake = model.generator(z)
        if player == "discriminator":
            real_logit, fake_logit = model.discriminator(batch["x"]), model.discriminator(fake.detach())
            loss = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)) + \
                F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
            return {"loss": loss}
        fake_logit = model.discriminator(fake)
        return {"loss": F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))}


class MomentEvaluator(Evaluator):
    """|mean and std of G's samples - the data's|, and the 1-D Wasserstein-1 distance (sorted samples)."""

    monitor, mode = "w1", "min"

    @torch.no_grad()
    def evaluate(self, model: ModelParts, batches, loss=None) -> dict[str, float]:
        real = next(iter(batches))["x"].flatten()
        fake = model.generator(torch.randn(len(real), 1, generator=torch.Generator().manual_seed(0))).flatten()
        w1 = (real.sort().values - fake.sort().values).abs().mean()
        return {"w1": float(w1), "mean": float(fake.mean()), "std": float(fake.std())}


def make(tmp_path: Path, steps: int, players=None, **kw) -> Trainer:
    torch.manual_seed(0)
    return Trainer(toy_gan(), ToyGANLoss(), GaussianData(), MomentEvaluator(),
                   partial(torch.optim.Adam, lr=0.005, betas=(0.5, 0.999)), run_dir=tmp_path, max_epochs=1000,
                   max_steps=steps, val_every_steps=kw.pop("val_every_steps", 500), log_every_steps=100, progress=False,
                   players=players, **kw)


def test_gan_learns_the_gaussian(tmp_path: Path):
    trainer = make(tmp_path, steps=2000)
    g_params = set(map(id, trainer.players["generator"].optimizer.param_groups[0]["params"]))
    d_params = set(map(id, trainer.players["discriminator"].optimizer.param_groups[0]["params"]))
    assert g_params == set(map(id, trainer.model.generator.parameters()))
    assert d_params == set(map(id, trainer.model.discriminator.parameters()))

    metrics = trainer.fit()
    assert abs(metrics["test/mean"] - MEAN) < 0.05, metrics
    assert abs(metrics["test/std"] - STD) < 0.05, metrics
    assert metrics["test/w1"] < 0.05, metrics  # from about 2 at the start
    rows = (tmp_path / "log.jsonl").read_text()
    assert "train/discriminator/loss" in rows and "train/generator/loss" in rows


def test_player_repeat_and_own_optimiser_settings(tmp_path: Path):
    trainer = make(tmp_path, steps=10, players={"generator": {"repeat": 3, "optim": {"lr": 0.001}}})
    trainer.fit()
    g, d = trainer.players["generator"].optimizer, trainer.players["discriminator"].optimizer
    assert g.param_groups[0]["lr"] == 0.001 and d.param_groups[0]["lr"] == 0.005
    assert int(next(iter(g.state.values()))["step"]) == 30
    assert int(next(iter(d.state.values()))["step"]) == 10
