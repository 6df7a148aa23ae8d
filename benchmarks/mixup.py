"""The cost of our mixing losses against timm's ``Mixup``, and the Trainer's images/s with mixing on and off.

Part 1, per batch, on the same tensors in one process: a Fashion-MNIST-sized batch (``--batch`` x 1 x
28 x 28, 10 classes) and a CIFAR-sized one (x 3 x 32 x 32), float32 on the CPU (or ``--device``).

* ours: :class:`losses.mixup.MixupLoss` (one lambda per batch, and ``per_sample=True``) and
  :class:`losses.cutmix.CutMixLoss`, the loss's own forward: ``mix(x, y)`` (a random permutation as
  partners), then ``lam CE(logits, y_a) + (1 - lam) CE(logits, y_b)`` (the wrapped criterion,
  ``CrossEntropyLoss(reduction="none")``), forward and backward on a logits leaf (the "model" returns it);
* timm 1.0.31 (a benchmark-only dependency, ``requirements-bench.txt``): ``timm.data.Mixup`` in
  ``mode="batch"`` and ``mode="elem"`` (per example), and with ``cutmix_alpha=1`` for CutMix, with
  ``label_smoothing=0``; it mixes in place with the flipped batch as partners and returns soft
  targets, then ``timm.loss.SoftTargetCrossEntropy`` forward and backward on the same logits.

Each case is timed twice: the mix alone (ours: ``mix(x, y)`` and the partners' labels; timm: its
``__call__``, blended batch and soft targets) and mix + loss as above. Both draw lambda from
Beta(1, 1). The contenders alternate call by call (``--calls`` timed calls after
``WARMUP``, ``--repeats`` rounds); each round's median is kept and the median over rounds printed.

Part 2: the real ``Trainer.train_step`` of the small CNN on Fashion-MNIST (batch 128, crop and flip,
SGD) with ``NoMixingLoss`` against ``MixupLoss``, stepping the two trainers in turn; images/s of each.

The last line is the headline: timm's time over ours per case (above 1: ours is faster).

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python -m benchmarks.mixup [--batch 128 --calls 200 --repeats 5 --trainer-steps 60]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable

import torch

WARMUP = 10


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_step(obj, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
    """The loss's own forward (mix, loss of the wrapped criterion), with a "model" that returns ``logits``."""
    obj(lambda _: logits, {"x": x, "y": y})["loss"].backward()


def ours_mix(obj, x: torch.Tensor, y: torch.Tensor) -> None:
    """Inputs and targets only: the blended batch and the partners' labels."""
    mix = obj.mix(x, y)
    y.index_select(0, mix.partner)


def timm_mix(mixup, x: torch.Tensor, y: torch.Tensor) -> None:
    mixup(x, y)  # blended batch (in place) and soft targets


def timm_step(mixup, soft_ce, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
    _, target = mixup(x, y)
    soft_ce(logits, target).backward()


def race(contenders: dict[str, Callable[[], None]], calls: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Median over rounds of each contender's median seconds per call, calls alternating."""
    rounds: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for i in range(WARMUP + calls):
            for name, fn in contenders.items():
                sync(device)
                t = time.perf_counter()
                fn()
                sync(device)
                if i >= WARMUP:
                    times[name].append(time.perf_counter() - t)
        for name in contenders:
            rounds[name].append(statistics.median(times[name]))
    return {k: statistics.median(v) for k, v in rounds.items()}


def mixing_cost(batch: int, calls: int, repeats: int, device: torch.device) -> dict[str, float]:
    from timm.data import Mixup as TimmMixup
    from timm.loss import SoftTargetCrossEntropy

    from losses.cutmix import CutMixLoss
    from losses.mixup import MixupLoss

    ratios = {}
    soft_ce = SoftTargetCrossEntropy()
    for shape in ((1, 28, 28), (3, 32, 32)):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *shape, generator=g).to(device)
        x_timm = x.clone()  # timm mixes in place: its own copy
        y = torch.randint(10, (batch,), generator=g).to(device)
        logits = torch.randn(batch, 10, generator=g).to(device).requires_grad_()
        cases = {
            "mixup per batch": (MixupLoss(alpha=1.0),
                                TimmMixup(mixup_alpha=1.0, mode="batch", label_smoothing=0.0, num_classes=10)),
            "mixup per example": (MixupLoss(alpha=1.0, per_sample=True),
                                  TimmMixup(mixup_alpha=1.0, mode="elem", label_smoothing=0.0, num_classes=10)),
            "cutmix": (CutMixLoss(alpha=1.0), TimmMixup(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0, num_classes=10)),
        }
        for case, (ours, theirs) in cases.items():
            key = f"{case}, {batch}x{'x'.join(map(str, shape))}"
            t = race({"ours": functools.partial(ours_mix, ours, x, y),
                      "timm": functools.partial(timm_mix, theirs, x_timm, y)}, calls, repeats, device)
            ratios[f"{key}, mix"] = t["timm"] / t["ours"]
            print(f"{key + ', mix':40s} ours {1e6 * t['ours']:8.1f} us   timm {1e6 * t['timm']:8.1f} us   "
                  f"timm / ours {ratios[key + ', mix']:.2f}x")
            t = race({"ours": functools.partial(ours_step, ours, x, y, logits),
                      "timm": functools.partial(timm_step, theirs, soft_ce, x_timm, y, logits)}, calls, repeats, device)
            ratios[f"{key}, mix + loss"] = t["timm"] / t["ours"]
            print(f"{key + ', mix + loss':40s} ours {1e6 * t['ours']:8.1f} us   timm {1e6 * t['timm']:8.1f} us   "
                  f"timm / ours {ratios[key + ', mix + loss']:.2f}x")
    return ratios


def trainer_throughput(steps: int, device: str) -> None:
    import datasets.readers
    from datasets.images import ImageClassificationData
    from engine.schedules import cosine
    from engine.seeding import seed_everything
    from engine.trainer import Trainer
    from evaluators.classification import ClassificationEvaluator
    from losses.mixing import NoMixingLoss
    from losses.mixup import MixupLoss
    from models.small_cnn import SmallCNN

    def trainer(loss, run_dir: str) -> Trainer:
        seed_everything(0)
        data = ImageClassificationData(lambda: datasets.readers.fashion_mnist(root="data"), batch_size=128,
                                       crop_padding=2, hflip=True, train_subset=20000)
        opt = lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9)  # noqa: E731
        sched = lambda o, total_steps: cosine(o, total_steps=total_steps)  # noqa: E731
        return Trainer(SmallCNN(), loss, data, ClassificationEvaluator(), opt, sched, run_dir=run_dir,
                       max_steps=steps + WARMUP, progress=False, device=device)

    with tempfile.TemporaryDirectory() as tmp:
        pair = {"no mixing": trainer(NoMixingLoss(), f"{tmp}/off"), "mixup": trainer(MixupLoss(), f"{tmp}/on")}
        times: dict[str, list[float]] = {k: [] for k in pair}
        for i in range(WARMUP + steps):
            for name, t in pair.items():
                sync(t.device)
                start = time.perf_counter()
                t.train_step()
                sync(t.device)
                t.step += 1
                if i >= WARMUP:
                    times[name].append(time.perf_counter() - start)
    ips = {k: 128 / statistics.median(v) for k, v in times.items()}
    print(f"Trainer.train_step, small CNN, batch 128: no mixing {ips['no mixing']:.0f} images/s, "
          f"mixup {ips['mixup']:.0f} images/s ({ips['mixup'] / ips['no mixing']:.3f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--trainer-steps", type=int, default=60)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.batch % 2:
        p.error("--batch must be even: timm's Mixup refuses odd batches (ours does not)")
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    ratios = mixing_cost(args.batch, args.calls, args.repeats, device)
    trainer_throughput(args.trainer_steps, args.device)
    print("timm / ours (time per batch): " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
