"""Overhead of ``engine.Trainer`` against a minimal hand-written PyTorch loop.

What is measured: training steps per second of the same model, data, seed, optimiser (SGD, lr 0.05,
momentum 0.9), cosine schedule and loss (``losses.cross_entropy.CrossEntropy``) at batch 128, run
side by side in one process on one device (``auto``: cuda if available, else cpu, for both):

* trainer: the real ``Trainer.fit()`` with ``max_steps=N`` (logging every 50 steps, ``last.pt`` and
  ``best.pt`` at the end, progress bar off, validation only at the end on a small ``val_subset``);
* handwritten: ``data.train_batch(epoch, i)``, zero_grad, forward + loss, backward, optimiser step,
  scheduler step -- the same work without the Trainer's bookkeeping.

How: the two contenders alternate step by step, so that both see the same load on a shared machine
(alternating whole runs was dominated by other processes coming and going). A callback passed to the
Trainer (``callbacks=[fn]``, called after each of its steps) takes ``time.perf_counter()``, runs one
step of the hand-written loop and takes ``perf_counter()`` again: a hand-written step is the time inside
the callback, a trainer step the time from the end of one callback to the start of the next (all of
the Trainer's loop, logging included). On cuda the device is synchronised at each of these stamps (for
both). Steps 1..WARMUP are discarded, and so is step N, whose trainer time holds the final validation
and checkpoint. This runs ``--repeats`` times; per-repeat steps/s, each contender's median and the
ratio of the medians are printed, then last the median of the per-repeat (paired, same-load) ratios;
both contenders must end with identical weights (checked).

    .venv/bin/python -m benchmarks.trainer_overhead [--steps 100 --repeats 5 --model small_cnn --device auto]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn as nn

import datasets.readers
from datasets.images import ImageClassificationData
from engine.devices import select_device
from engine.schedules import cosine
from engine.trainer import Trainer
from evaluators.classification import ClassificationEvaluator
from losses.cross_entropy import CrossEntropy
from models.preact_resnet18 import PreActResNet18
from models.small_cnn import SmallCNN

WARMUP = 5
SEED = 0
BATCH = 128


def make_model(name: str, width: int | None) -> nn.Module:
    """The model under test, initialised from ``SEED`` (the same weights on every call)."""
    torch.manual_seed(SEED)
    kw: dict[str, Any] = {} if width is None else {"width": width}
    if name == "small_cnn":
        return SmallCNN(num_classes=10, in_channels=1, image_size=28, **kw)
    return PreActResNet18(num_classes=10, in_channels=1, **kw)


def sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


def handwritten(data: ImageClassificationData, args: argparse.Namespace, device: torch.device) -> Iterator[nn.Module]:
    """The minimal loop; yields the model after each step."""
    model, loss_fn = make_model(args.model, args.width).to(device), CrossEntropy().to(device)
    opt = sgd(model.parameters())
    sched = cosine(opt, total_steps=args.steps)
    model.train()
    for step in range(args.steps):
        batch = data.train_batch(*divmod(step, data.steps_per_epoch))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)["loss"]
        loss.backward()
        opt.step()
        sched.step()
        yield model


class Interleave:
    """Trainer callback: stamps the end of the trainer's step, runs one hand-written step, stamps again."""

    def __init__(self, steps: Iterator[nn.Module], device: torch.device) -> None:
        self.steps, self.device = steps, device
        self.durations: dict[str, dict[int, float]] = {"trainer": {}, "handwritten": {}}
        self.end: float | None = None  # end of the previous callback
        self.model: nn.Module | None = None

    def stamp(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def __call__(self, trainer: Trainer) -> None:
        start = self.stamp()
        if self.end is not None:  # the first step (no previous stamp) is in the warm-up anyway
            self.durations["trainer"][trainer.step] = start - self.end
        self.model = next(self.steps)
        self.end = self.stamp()
        self.durations["handwritten"][trainer.step] = self.end - start

    def steps_per_s(self, name: str, last: int) -> float:
        window = range(WARMUP + 1, last)
        return len(window) / sum(self.durations[name][s] for s in window)


def run_pair(data: ImageClassificationData, args: argparse.Namespace) -> tuple[dict[str, float], float]:
    """One Trainer.fit() interleaved with one hand-written run: steps/s of each, max |weight difference|."""
    device = select_device(args.device)
    timer = Interleave(handwritten(data, args, device), device)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(make_model(args.model, args.width), CrossEntropy(), data, ClassificationEvaluator(), sgd,
                          scheduler=cosine, run_dir=run_dir, seed=SEED, max_steps=args.steps, val_every_steps=10**9,
                          log_every_steps=50, device=args.device, progress=False, callbacks=[timer])
        trainer.fit()
    assert timer.model is not None
    diff = max((a - b).abs().max().item() for a, b in zip(trainer.model.parameters(), timer.model.parameters()))
    return {name: timer.steps_per_s(name, args.steps) for name in timer.durations}, diff


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help=f"training steps per run (first {WARMUP} and last discarded)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved (trainer, handwritten) runs")
    p.add_argument("--model", choices=["small_cnn", "preact_resnet18"], default="small_cnn")
    p.add_argument("--width", type=int, default=None, help="model width (default: the model's own)")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu) | cpu | cuda")
    args = p.parse_args(argv)
    if args.steps < WARMUP + 3:
        p.error(f"--steps must be >= {WARMUP + 3}")
    device = select_device(args.device)
    data = ImageClassificationData(functools.partial(datasets.readers.fashion_mnist, "data"), batch_size=BATCH,
                                   val_subset=256, crop_padding=2, hflip=True)
    data.setup(device, seed=SEED)  # loaded once, shared by both contenders
    print(f"device {device}, model {args.model} width {args.width or 'default'}, batch {BATCH}, "
          f"{args.steps} steps x {args.repeats} repeats, torch threads {torch.get_num_threads()}")
    results: dict[str, list[float]] = {"trainer": [], "handwritten": []}
    ratios: list[float] = []
    for r in range(args.repeats):
        sps, diff = run_pair(data, args)
        for name in results:
            results[name].append(sps[name])
        ratios.append(sps["trainer"] / sps["handwritten"])
        print(f"repeat {r + 1}: trainer {sps['trainer']:7.2f}  handwritten {sps['handwritten']:7.2f} steps/s  "
              f"ratio {sps['trainer'] / sps['handwritten']:.3f}  max |weight diff| {diff:.3g}")
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"median trainer {med['trainer']:.2f} steps/s, median handwritten {med['handwritten']:.2f} steps/s")
    print(f"ratio of the medians: {med['trainer'] / med['handwritten']:.3f}")
    print(f"ratio trainer/handwritten steps/s: {statistics.median(ratios):.3f} (median of the per-repeat ratios)")


if __name__ == "__main__":
    main()
