"""Overhead of ``engine.Trainer`` against a minimal hand-written PyTorch loop.

What is measured: training steps per second of the same model, data, seed, optimiser (SGD, lr 0.05,
momentum 0.9), cosine schedule and loss (``losses.classification.CrossEntropy``) at batch 128, run
side by side in one process on one device (``auto``: cuda if available, else cpu, for both):

* trainer: the real ``Trainer.fit()`` with ``max_steps=N`` (logging every 50 steps, ``last.pt`` and
  ``best.pt`` at the end, progress bar off, validation only at the end on a small ``eval_subset``);
* handwritten: ``data.train_batch(epoch, i)``, zero_grad, forward + loss, backward, optimiser step,
  scheduler step -- the same work without the Trainer's bookkeeping.

How: a callback (the Trainer's own ``callbacks=[fn]``; called the same way by the hand-written loop)
takes ``time.perf_counter()`` after each step (after a ``cuda.synchronize()`` at the two ends of the
timed window). The first ``WARMUP`` steps are discarded, and so is the last step, whose callback comes
after the final validation and checkpoint; the window is steps WARMUP..N-1. The (trainer, handwritten)
pair runs ``--repeats`` times alternately (swapping which goes first); each contender's median steps/s is reported, then the
ratio trainer/handwritten last. Both runs must end with identical weights (checked, printed).

    .venv/bin/python -m benchmarks.trainer_overhead [--steps 100 --repeats 5 --model small_cnn --device auto]
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

import datasets.readers
from datasets.images import ImageClassificationData
from engine.evaluators import ClassificationEvaluator
from engine.schedules import cosine
from engine.seeding import seed_everything, stream_seed
from engine.trainer import Trainer, select_device
from losses.classification import CrossEntropy
from models.preact_resnet import PreActResNet18
from models.small_cnn import SmallCNN

WARMUP = 5
SEED = 0
BATCH = 128


def make_model(name: str, width: int | None) -> nn.Module:
    """The model under test, initialised from ``SEED``."""
    seed_everything(SEED)
    kw: dict[str, Any] = {} if width is None else {"width": width}
    if name == "small_cnn":
        return SmallCNN(num_classes=10, in_channels=1, image_size=28, **kw)
    return PreActResNet18(num_classes=10, in_channels=1, **kw)


def sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


class Stamps:
    """Callback recording ``perf_counter()`` after each step; syncs the device at the window's ends."""

    def __init__(self, device: torch.device, steps: int) -> None:
        self.device, self.ends = device, (WARMUP, steps - 1)
        self.times: list[float] = []

    def __call__(self, step: int) -> None:
        if step in self.ends and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.times.append(time.perf_counter())

    def steps_per_s(self) -> float:
        """Steps WARMUP+1 .. N-1 over the time between the callbacks of steps WARMUP and N-1."""
        a, b = self.ends
        return (b - a) / (self.times[b - 1] - self.times[a - 1])


def run_trainer(data: ImageClassificationData, args: argparse.Namespace) -> tuple[float, nn.Module]:
    stamps = Stamps(select_device(args.device), args.steps)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(make_model(args.model, args.width), CrossEntropy(), data, ClassificationEvaluator(), sgd,
                          scheduler=cosine, run_dir=run_dir, seed=SEED, max_steps=args.steps, val_every_steps=10**9,
                          log_every_steps=50, device=args.device, progress=False,
                          callbacks=[lambda t: stamps(t.step)])
        trainer.fit()
    return stamps.steps_per_s(), trainer.model


def run_handwritten(data: ImageClassificationData, args: argparse.Namespace) -> tuple[float, nn.Module]:
    device = select_device(args.device)
    stamps = Stamps(device, args.steps)
    data.setup(device, seed=SEED)
    model, loss_fn = make_model(args.model, args.width).to(device), CrossEntropy().to(device)
    opt = sgd(model.parameters())
    sched = cosine(opt, total_steps=args.steps)
    seed_everything(stream_seed(SEED, 0))  # as Trainer.fit does
    model.train()
    for step in range(args.steps):
        batch = data.train_batch(*divmod(step, data.steps_per_epoch))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)["loss"]
        loss.backward()
        opt.step()
        sched.step()
        stamps(step + 1)
    return stamps.steps_per_s(), model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help=f"training steps per run (first {WARMUP} discarded)")
    p.add_argument("--repeats", type=int, default=5, help="(trainer, handwritten) pairs, run alternately")
    p.add_argument("--model", choices=["small_cnn", "preact_resnet18"], default="small_cnn")
    p.add_argument("--width", type=int, default=None, help="model width (default: the model's own)")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu) | cpu | cuda")
    args = p.parse_args(argv)
    if args.steps < WARMUP + 3:
        p.error(f"--steps must be >= {WARMUP + 3}")
    logging.basicConfig(level=logging.WARNING)
    data = ImageClassificationData(functools.partial(datasets.readers.fashion_mnist, "data"), batch_size=BATCH,
                                   eval_subset=256, crop_padding=2, hflip=True)
    data.setup(select_device(args.device), seed=SEED)  # load once, shared by both contenders
    print(f"device {select_device(args.device)}, model {args.model} width {args.width or 'default'}, "
          f"{args.steps} steps x {args.repeats} repeats, threads {torch.get_num_threads()}")
    results: dict[str, list[float]] = {"trainer": [], "handwritten": []}
    runs: dict[str, Callable[..., tuple[float, nn.Module]]] = {"trainer": run_trainer, "handwritten": run_handwritten}
    for r in range(args.repeats):
        models = {}
        for name in sorted(runs, reverse=r % 2 == 0):  # trainer first on odd repeats, handwritten on even
            sps, models[name] = runs[name](data, args)
            results[name].append(sps)
            print(f"repeat {r + 1}: {name:<11} {sps:7.2f} steps/s")
        diff = max((a - b).abs().max().item() for a, b in zip(models["trainer"].parameters(),
                                                               models["handwritten"].parameters()))
        print(f"repeat {r + 1}: max |weight difference| after {args.steps} steps: {diff:.3g}")
    med = {name: statistics.median(v) for name, v in results.items()}
    for name, v in med.items():
        print(f"median {name:<11} {v:7.2f} steps/s")
    print(f"ratio trainer/handwritten steps/s: {med['trainer'] / med['handwritten']:.3f}")


if __name__ == "__main__":
    main()
