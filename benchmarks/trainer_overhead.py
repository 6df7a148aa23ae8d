"""Overhead of ``engine.Trainer`` against a minimal hand-written PyTorch loop, for one and for two players.

What is measured: training steps per second of the same model, data, seed, optimiser, schedule and
loss, run side by side in one process on one device (``auto``: cuda if available, else cpu, for both),
in two cases:

* classifier: ``--model`` (small CNN by default) on Fashion-MNIST at batch 128 (crops and flips), SGD
  (lr 0.05, momentum 0.9), cosine schedule, ``losses.cross_entropy.CrossEntropyLoss``;
* two-player GAN: ``ModelParts`` of a DCGAN generator and discriminator (``--gan-width``) on
  Fashion-MNIST in [-1, 1] at batch 64, ``losses.gan.GANLoss``, one Adam per player (lr 2e-4, betas
  (0.5, 0.999)), no schedule.

The contenders:

* trainer: the real ``Trainer.fit()`` with ``max_steps=N`` (logging every 50 steps, ``last.pt`` and
  ``best.pt`` at the end, progress bar off, validation only at the end on a small ``val_subset``; the
  GAN is validated by :class:`DiscriminatorBCE`, which is only there so that ``fit()`` can finish);
* handwritten: ``data.train_batch``, then for each player (the classifier's one; the GAN's
  discriminator, then generator) zero_grad, the same loss module's value, backward, optimiser step
  (and scheduler step) -- the same arithmetic without the Trainer's bookkeeping.

How: the two contenders alternate step by step, so that both see the same load on a shared machine
(alternating whole runs was dominated by other processes coming and going). A callback passed to the
Trainer (``callbacks=[fn]``, called after each of its steps) takes ``time.perf_counter()``, runs one
step of the hand-written loop and takes ``perf_counter()`` again: a hand-written step is the time of
that step inside the callback, a trainer step the time from the end of one callback to the start of
the next (all of the Trainer's loop, logging included). On cuda the device is synchronised at each of
these stamps (for both). Steps 1..WARMUP are discarded, and so is step N, whose trainer time holds
the final validation and checkpoint. Both contenders must end with identical weights (checked): the
GAN draws its z from the global torch RNG, which the Trainer seeds at ``fit()`` with
``stream_seed(SEED, 0)``, so the hand-written loop keeps a stream of its own, started from that same
seed and swapped in around each of its steps (outside the timed span). Each case runs ``--repeats``
times; per-repeat steps/s, each contender's median and the ratio of the medians are printed, and last
one line with each case's median of the per-repeat (paired, same-load) ratios.

    .venv/bin/python -m benchmarks.trainer_overhead [--steps 100 --repeats 5 --model small_cnn --gan-width 64]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

import datasets.readers
from datasets.images import ImageClassificationData
from engine.contracts import Batch, DataModule, Evaluator, Loss
from engine.devices import select_device
from engine.parts import ModelParts
from engine.progress import Progress
from engine.schedules import cosine
from engine.seeding import stream_seed
from engine.trainer import Trainer
from evaluators.classification import ClassificationEvaluator
from losses.cross_entropy import CrossEntropyLoss
from losses.gan import GANLoss
from models.dcgan import DCGANDiscriminator, DCGANGenerator
from models.preact_resnet18 import PreActResNet18
from models.small_cnn import SmallCNN

WARMUP = 5
SEED = 0
Step = Callable[[int], None]  # one hand-written training step, given its 0-based index

sgd = functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9)
adam = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))


def fashion_mnist(batch_size: int, **kw: Any) -> ImageClassificationData:
    return ImageClassificationData(functools.partial(datasets.readers.fashion_mnist, "data"), batch_size=batch_size,
                                   val_subset=256, **kw)


def position(step: int, total: int, data: DataModule) -> Progress:
    """The trainer's ``progress_at`` for one batch per step."""
    epoch, batch = divmod(step, data.batches_per_epoch)
    return Progress(step, epoch, batch, total, data.batches_per_epoch)


class DiscriminatorBCE(Evaluator):
    """``d_loss``: the discriminator's BCE on the real images (label 1) plus on as many ``G(z)`` (label 0)."""

    monitor, mode = "d_loss", "min"

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        was_training, gen = model.training, None
        model.eval()
        total, n = 0.0, 0
        for batch in batches:
            real = batch["x"]
            if gen is None:  # z of its own, not from the global RNG
                gen = torch.Generator(real.device).manual_seed(SEED)
            fake = model.generator(torch.randn(len(real), model.generator.z_dim, generator=gen, device=real.device))
            real_logit, fake_logit = model.discriminator(real), model.discriminator(fake)
            total += (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit), reduction="sum")
                      + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit), reduction="sum")).item()
            n += len(real)
        model.train(was_training)
        return {"d_loss": total / n, "n": n}


@dataclass
class Case:
    """One comparison: what the Trainer is given, and the hand-written loop that does the same."""

    name: str
    data: ImageClassificationData
    model: Callable[[], nn.Module]  # initialised from SEED: the same weights on every call
    loss: Callable[[], Loss]
    evaluator: Callable[[], Evaluator]
    optimizer: Callable[..., torch.optim.Optimizer]
    scheduler: Callable[..., Any] | None
    handwritten: Callable[[Case, int, torch.device], tuple[nn.Module, Step]]


def classifier_loop(case: Case, steps: int, device: torch.device) -> tuple[nn.Module, Step]:
    """The minimal one-player loop: its model and its step."""
    model, loss_fn = case.model().to(device), CrossEntropyLoss().to(device)
    opt = sgd(model.parameters())
    sched = cosine(opt, total_steps=steps)
    model.train()

    def step(s: int) -> None:
        batch = case.data.train_batch(position(s, steps, case.data))
        opt.zero_grad(set_to_none=True)
        loss_fn(model, batch)["loss"].backward()
        opt.step()
        sched.step()

    return model, step


def gan_loop(case: Case, steps: int, device: torch.device) -> tuple[nn.Module, Step]:
    """The minimal two-optimiser loop: discriminator step, then generator step, on one batch."""
    model, loss_fn = case.model().to(device), GANLoss().to(device)
    opts = {"discriminator": adam(model.discriminator.parameters()), "generator": adam(model.generator.parameters())}
    model.train()

    def step(s: int) -> None:
        at = position(s, steps, case.data)
        batch = case.data.train_batch(at)
        for player, opt in opts.items():
            opt.zero_grad(set_to_none=True)
            loss_fn(model, batch, player, replace(at, player=player))["loss"].backward()
            opt.step()

    return model, step


class RNGStream:
    """A torch RNG stream of its own (cpu, and the cuda device), seeded like the Trainer's at ``fit()``."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(self.devices):
            torch.manual_seed(seed)
            self.state = self.get()

    def get(self) -> list[torch.Tensor]:
        return [torch.get_rng_state()] + [torch.cuda.get_rng_state(d) for d in self.devices]

    @contextmanager
    def active(self) -> Iterator[None]:
        """Draw from this stream inside the block; the global one is untouched by it."""
        with torch.random.fork_rng(self.devices):
            torch.set_rng_state(self.state[0])
            for d, s in zip(self.devices, self.state[1:]):
                torch.cuda.set_rng_state(s, d)
            yield
            self.state = self.get()


class Interleave:
    """Trainer callback: stamps the end of the trainer's step, runs one hand-written step, stamps again."""

    def __init__(self, step: Step, device: torch.device) -> None:
        self.step, self.device, self.rng = step, device, RNGStream(stream_seed(SEED, 0), device)
        self.durations: dict[str, dict[int, float]] = {"trainer": {}, "handwritten": {}}
        self.end: float | None = None  # end of the previous callback

    def stamp(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def __call__(self, trainer: Trainer) -> None:
        start = self.stamp()
        if self.end is not None:  # the first step (no previous stamp) is in the warm-up anyway
            self.durations["trainer"][trainer.step] = start - self.end
        with self.rng.active():
            t0 = self.stamp()
            self.step(trainer.step - 1)  # the trainer's step just taken
            self.durations["handwritten"][trainer.step] = self.stamp() - t0
        self.end = self.stamp()

    def steps_per_s(self, name: str, last: int) -> float:
        window = range(WARMUP + 1, last)
        return len(window) / sum(self.durations[name][s] for s in window)


def run_pair(case: Case, args: argparse.Namespace) -> tuple[dict[str, float], float]:
    """One Trainer.fit() interleaved with one hand-written run: steps/s of each, max |weight difference|."""
    device = select_device(args.device)
    hand_model, hand_step = case.handwritten(case, args.steps, device)  # built before the trainer seeds
    timer = Interleave(hand_step, device)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(case.model(), case.loss(), case.data, case.evaluator(), case.optimizer,
                          scheduler=case.scheduler, run_dir=run_dir, seed=SEED, max_steps=args.steps,
                          val_every_steps=10**9, log_every_steps=50, device=args.device, progress=False,
                          callbacks=[timer])
        trainer.fit()
    ours, theirs = trainer.model.state_dict(), hand_model.state_dict()  # parameters and BN statistics
    diff = max((ours[k].double() - theirs[k].double()).abs().max().item() for k in ours)
    if diff > args.tolerance:
        raise AssertionError(f"{case.name}: trainer and handwritten weights differ by {diff:.3g} "
                             f"(> --tolerance {args.tolerance}; cuda's non-deterministic kernels may need > 0)")
    return {name: timer.steps_per_s(name, args.steps) for name in timer.durations}, diff


def seeded(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        torch.manual_seed(SEED)
        return build()

    return make


def cases(args: argparse.Namespace) -> list[Case]:
    kw: dict[str, Any] = {} if args.width is None else {"width": args.width}
    net = SmallCNN if args.model == "small_cnn" else PreActResNet18
    extra = {"image_size": 28} if args.model == "small_cnn" else {}
    classifier = Case(f"classifier ({args.model}, width {args.width or 'default'}, batch 128)",
                      fashion_mnist(128, crop_padding=2, hflip=True),
                      seeded(lambda: net(num_classes=10, in_channels=1, **extra, **kw)), CrossEntropyLoss,
                      ClassificationEvaluator, sgd, cosine, classifier_loop)
    w = args.gan_width
    gan = Case(f"two-player GAN (DCGAN width {w}, batch 64)",
               fashion_mnist(64, test_subset=512, normalize="minus_one_one"),
               seeded(lambda: ModelParts({"generator": DCGANGenerator(width=w), "discriminator": DCGANDiscriminator(width=w)})),
               GANLoss, DiscriminatorBCE, adam, None, gan_loop)
    return [classifier, gan]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help=f"training steps per run (first {WARMUP} and last discarded)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved (trainer, handwritten) runs per case")
    p.add_argument("--model", choices=["small_cnn", "preact_resnet18"], default="small_cnn", help="the classifier")
    p.add_argument("--width", type=int, default=None, help="classifier width (default: the model's own)")
    p.add_argument("--gan-width", type=int, default=64, help="DCGAN width of generator and discriminator")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu) | cpu | cuda")
    p.add_argument("--tolerance", type=float, default=0.0, help="max |weight diff| allowed between the contenders")
    args = p.parse_args(argv)
    if args.steps < WARMUP + 3:
        p.error(f"--steps must be >= {WARMUP + 3}")
    device = select_device(args.device)
    print(f"device {device}, {args.steps} steps x {args.repeats} repeats per case, torch threads {torch.get_num_threads()}")
    headline: dict[str, float] = {}
    for case in cases(args):
        case.data.setup(device, seed=SEED)  # loaded once, shared by both contenders
        print(f"{case.name}:")
        results: dict[str, list[float]] = {"trainer": [], "handwritten": []}
        ratios: list[float] = []
        for r in range(args.repeats):
            sps, diff = run_pair(case, args)
            for name in results:
                results[name].append(sps[name])
            ratios.append(sps["trainer"] / sps["handwritten"])
            print(f"  repeat {r + 1}: trainer {sps['trainer']:7.2f}  handwritten {sps['handwritten']:7.2f} steps/s  "
                  f"ratio {ratios[-1]:.3f}  max |weight diff| {diff:.3g}")
        med = {name: statistics.median(v) for name, v in results.items()}
        headline[case.name.split(" (")[0]] = statistics.median(ratios)
        print(f"  median trainer {med['trainer']:.2f} steps/s, median handwritten {med['handwritten']:.2f} steps/s, "
              f"ratio of the medians {med['trainer'] / med['handwritten']:.3f}, "
              f"median of the per-repeat ratios {statistics.median(ratios):.3f}")
    print("ratio trainer/handwritten steps/s: "
          + ", ".join(f"{name} {ratio:.3f}x" for name, ratio in headline.items()) + " (median of paired repeats)")


if __name__ == "__main__":
    main()
