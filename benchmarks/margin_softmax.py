"""Our AM-Softmax against pytorch-metric-learning's ``CosFaceLoss`` (the same loss), forward + backward, side by side.

Both compute ``CE(s (cos theta - m onehot(y)), y)`` with s = 30, m = 0.35 over unit-normalised sentence
vectors ``z`` and unit-normalised class centres, averaged over the batch; here at ``--dim`` 128, batch
``--batch`` 100 and 10,000 and 90,000 classes (post 6's scale, kexue.fm/archives/5743), float32 on the CPU.

* ours: :class:`losses.am_softmax.AMSoftmaxLoss` called as the Trainer calls a ``Loss``:
  ``loss(nn.Identity(), {"x": z, "y": y})["loss"].backward()`` (its forward also computes the batch
  accuracy, an argmax over the ``(B, C)`` cosines, which is part of our cost);
* pytorch-metric-learning 2.9.0 (a benchmark-only dependency, ``requirements-bench.txt``):
  ``CosFaceLoss(num_classes, dim, margin=0.35, scale=30)``, ``loss(z, y).backward()``. It keeps its
  centres as ``W`` of shape ``(dim, classes)``; ours (``centres``, ``(classes, dim)``) are copied into it
  transposed, and both normalise them in the forward pass, so both see the same centres.

Before timing, the two losses and their gradients (w.r.t. ``z`` and the centres) are checked equal on the
same ``z``, ``y`` and centres. Each step starts with the gradients set to ``None`` (as ``zero_grad`` does),
so both allocate their gradients every step. Time: the contenders alternate call by call (``--calls``
timed calls after ``WARMUP``, ``--repeats`` rounds); each round's median is kept and the median over
rounds printed. ``torch.set_num_threads(--threads)``, 1 by default.

Peak memory ("MB", above the baseline), after the timing: one step of each under ``torch.profiler`` with
``profile_memory=True``; the allocation and free events of PyTorch's CPU allocator during the step (from
the profiler's event tree, so temporaries freed inside an op count too), summed in time order, and the
maximum of that running sum; "fwd MB" is the same maximum up to the start of ``backward()``. The baseline
is everything alive before the step (inputs, centres; gradients cleared), so the number is what the step
adds: activations, temporaries, saved tensors and the new gradients. Caveats: tensor storage through
PyTorch's allocator only (not Python objects, not buffers BLAS / oneDNN allocate themselves, not the
process's RSS); and it reads a private profiler structure (``experimental_event_tree``). Theirs builds a
dense ``(B, C)`` one-hot mask and more ``(B, C)`` temporaries in its forward and normalises the centres
through autograd's ``F.normalize`` (several ``(classes, dim)`` temporaries in backward); ours keeps one
``(B, C)`` tensor for backward and normalises the centres with a written-out gradient. The profiler prints
its start / stop lines on stderr.

The last line is the headline: pytorch-metric-learning's time per step over ours per class count (above 1:
ours is faster).

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python -m benchmarks.margin_softmax [--batch 100 --dim 128 --calls 30 --repeats 5 --threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from engine.memory import step_peak_bytes

WARMUP = 3
CLASSES = (10_000, 90_000)
SCALE, MARGIN = 30.0, 0.35


@dataclass
class Step:
    """A contender: ``forward()`` returns the loss; ``clear()`` sets the gradients to ``None`` (``zero_grad``)."""

    forward: Callable[[], torch.Tensor]
    z: torch.Tensor
    centres: torch.Tensor

    def clear(self) -> None:
        self.z.grad = self.centres.grad = None


def make_pair(classes: int, dim: int) -> tuple[nn.Module, nn.Module]:
    """Our AMSoftmax and pytorch-metric-learning's CosFaceLoss with the same centres."""
    from pytorch_metric_learning.losses import CosFaceLoss

    from losses.am_softmax import AMSoftmaxLoss

    torch.manual_seed(0)
    ours = AMSoftmaxLoss(classes, dim, scale=SCALE, margin=MARGIN)
    theirs = CosFaceLoss(classes, dim, margin=MARGIN, scale=SCALE)
    with torch.no_grad():
        theirs.W.copy_(ours.centres.t())  # theirs: (dim, classes); ours: (classes, dim)
    return ours, theirs


def steps(ours: nn.Module, theirs: nn.Module, z: torch.Tensor, y: torch.Tensor) -> dict[str, Step]:
    """One forward of each (returns the loss), on its own copy of ``z`` (a leaf, so ``z.grad`` does not mix)."""
    z_ours, z_theirs = z.clone().requires_grad_(), z.clone().requires_grad_()
    identity = nn.Identity()
    return {"ours": Step(lambda: ours(identity, {"x": z_ours, "y": y})["loss"], z_ours, ours.centres),
            "theirs": Step(lambda: theirs(z_theirs, y), z_theirs, theirs.W)}


def check_same(contenders: dict[str, Step]) -> float:
    """The same loss, and the same gradients w.r.t. ``z`` and the centres, from both; returns the loss."""
    ours, theirs = contenders["ours"], contenders["theirs"]
    for c in contenders.values():
        c.clear()
    lo, lt = ours.forward(), theirs.forward()
    lo.backward()
    lt.backward()
    assert torch.allclose(lo, lt, rtol=1e-5, atol=1e-5), f"not the same loss: ours {lo.item()}, theirs {lt.item()}"
    assert torch.allclose(ours.z.grad, theirs.z.grad, rtol=1e-4, atol=1e-7), "not the same gradient w.r.t. z"
    assert torch.allclose(ours.centres.grad, theirs.centres.grad.t(), rtol=1e-4, atol=1e-7), \
        "not the same gradient w.r.t. the centres"
    return lo.item()


def race(contenders: dict[str, Step], calls: int, repeats: int) -> dict[str, float]:
    """Median over rounds of each contender's median seconds per forward + backward, calls alternating."""
    rounds: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for i in range(WARMUP + calls):
            for name, c in contenders.items():
                c.clear()
                start = time.perf_counter()
                c.forward().backward()
                if i >= WARMUP:
                    times[name].append(time.perf_counter() - start)
        for name in contenders:
            rounds[name].append(statistics.median(times[name]))
    return {k: statistics.median(v) for k, v in rounds.items()}


def peak_bytes(c: Step) -> tuple[int, int]:
    """Peak CPU bytes above the baseline during one forward + backward, and during the forward alone
    (:func:`engine.memory.step_peak_bytes`)."""
    return step_peak_bytes(c.forward, c.clear)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a run of seconds: 5 calls, 1 round")
    args = p.parse_args()
    if args.quick:
        args.calls, args.repeats = 5, 1
    torch.set_num_threads(args.threads)
    import pytorch_metric_learning

    print(f"torch {torch.__version__}, pytorch-metric-learning {pytorch_metric_learning.__version__}, "
          f"{torch.get_num_threads()} threads, cpu float32; batch {args.batch}, dim {args.dim}, s {SCALE}, m {MARGIN}; "
          f"forward + backward, median of {args.calls} calls x {args.repeats} rounds")
    print("MB: peak CPU bytes allocated above the baseline during one step (torch.profiler allocation events); "
          "fwd MB: the same during the forward alone")
    print(f"{'classes':>8s} {'ours ms':>9s} {'theirs ms':>10s} {'ratio':>6s} {'ours MB':>8s} {'theirs MB':>10s} "
          f"{'ours fwd MB':>12s} {'theirs fwd MB':>14s}  loss")
    ratios = {}
    for classes in CLASSES:
        ours, theirs = make_pair(classes, args.dim)
        g = torch.Generator().manual_seed(1)
        z = torch.randn(args.batch, args.dim, generator=g)
        y = torch.randint(classes, (args.batch,), generator=g)
        contenders = steps(ours, theirs, z, y)
        loss = check_same(contenders)
        t = race(contenders, args.calls, args.repeats)
        mem = {k: peak_bytes(c) for k, c in contenders.items()}
        ratios[classes] = t["theirs"] / t["ours"]
        print(f"{classes:8d} {1e3 * t['ours']:9.2f} {1e3 * t['theirs']:10.2f} {ratios[classes]:5.2f}x "
              f"{mem['ours'][0] / 2**20:8.1f} {mem['theirs'][0] / 2**20:10.1f} "
              f"{mem['ours'][1] / 2**20:12.1f} {mem['theirs'][1] / 2**20:14.1f}  {loss:.4f}")
    print("pytorch-metric-learning CosFaceLoss / our AMSoftmax (time per step): "
          + ", ".join(f"{c} classes {r:.2f}x" for c, r in ratios.items()))


if __name__ == "__main__":
    main()
