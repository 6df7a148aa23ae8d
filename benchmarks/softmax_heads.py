"""The six output heads against the full softmax: output-layer forward + backward, side by side.

The output layer alone, as post 4 (kexue.fm/archives/5617) motivates it: ``N`` = ``--batch`` 512 features
``h`` of ``--dim`` 256 (float32, a leaf with ``requires_grad``) and their ``N`` target words, over two
vocabularies: 55,310 words (the People's Daily corpus's word types, ``tests/tools/test_install_text.py``)
and 223,334 (our GCIDE install's word types, ``data/gcide/install_report.txt``); float32 on the CPU.
Contenders, each a head of ``losses/`` at its defaults (``reduction="mean"``, ``sparse=False``: the output
vectors' gradient is a dense tensor for every head, so a sampled head's step is still ``O(V dim)`` in time and
memory, and at 223,334 that dense gradient, not the ``k`` scores, is most of its time):

* full softmax: :class:`losses.full_softmax.FullSoftmaxLoss`, ``F.cross_entropy`` over the ``(N, V)`` scores;
* NCE: :class:`losses.nce.NCELoss` (``k=64``, learned ``gamma``, ``log(k q)`` correction);
* sampled softmax: :class:`losses.sampled_softmax.SampledSoftmaxLoss` (``k=64``, accidental hits removed);
* negative sampling: :class:`losses.negative_sampling.NegativeSamplingLoss` (``k=64``, no bias, output vectors
  drawn as the others' rather than word2vec's zeros, so the step does the same work as after the first);
* hierarchical softmax: :class:`losses.hierarchical_softmax.HierarchicalSoftmaxLoss`, a Huffman tree over the
  same Zipfian counts (``O(log V)`` inner nodes per target);
* adaptive softmax: :class:`losses.adaptive_softmax.AdaptiveSoftmaxLoss`, PyTorch's
  ``nn.AdaptiveLogSoftmaxWithLoss`` with the head's default cutoffs;

NCE and sampled softmax once with per-example noise (``shared=False``: ``N x k`` noise words, a gather and a
batched product) and once with shared noise (``shared=True``: ``k`` words for the batch, one matrix
product), negative sampling per example. Noise: ``head.set_noise(counts)`` with Zipfian counts
``count(rank r) = 1 / r`` (exponent 1.0), so ``q(w) ~ count^0.75`` (the heads' default ``alpha``); the targets
are drawn from the counts themselves (the unigram distribution, as in running text), with a fixed seed.

One step: the gradients set to ``None`` (``head.zero_grad(set_to_none=True)`` and ``h.grad = None``, so
every step allocates its gradients), ``head.loss(h, y)["loss"]`` (for the sampled heads this includes
drawing the noise words) and ``.backward()`` (gradients w.r.t. ``h`` and every parameter of the head). Before
timing: the full softmax's loss is checked equal to ``F.cross_entropy(h @ W.T + b, y)``, and each head's loss
and gradients checked finite. Time: the contenders alternate call by call (``WARMUP`` untimed calls, then
``--calls`` timed ones, ``--repeats`` rounds); each round's median is kept and the median over rounds printed,
with ``torch.set_num_threads`` for each of ``--threads`` (1 by default; ``--threads 1 2`` runs the whole table
at both). "speed-up": the full softmax's time per step over the contender's, at the same vocabulary and
thread count.

Peak memory ("MB", above the baseline of everything alive before the step): one step of each under
``torch.profiler`` after the timing, by :func:`engine.memory.step_peak_bytes` (its docstring and
caveats: tensor storage through PyTorch's CPU allocator only; temporaries freed inside an op count).

The last lines are the headline: the full softmax's time per step over each head's at the largest vocabulary
(per-example noise for the sampled heads), NCE's last (the goal: at least 10x at 223,334).

    .venv/bin/python -m benchmarks.softmax_heads [--batch 512 --dim 256 --calls 5 --repeats 3 --threads 1 [2]] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.memory import step_peak_bytes
from losses.adaptive_softmax import AdaptiveSoftmaxLoss
from losses.full_softmax import FullSoftmaxLoss
from losses.hierarchical_softmax import HierarchicalSoftmaxLoss
from losses.nce import NCELoss
from losses.negative_sampling import NegativeSamplingLoss
from losses.output_head import OutputHeadLoss, SampledHeadLoss
from losses.sampled_softmax import SampledSoftmaxLoss

WARMUP = 2
K = 64
VOCABS = (55_310, 223_334)  # People's Daily word types; our GCIDE install's word types
QUICK_VOCABS = (2_000, 20_000)
ZIPF_EXPONENT = 1.0
FULL = ("full softmax", "-")
CONTENDERS: dict[tuple[str, str], Callable[[int, int], OutputHeadLoss]] = {
    FULL: lambda v, d: FullSoftmaxLoss(v, d),
    ("NCE", "per-example"): lambda v, d: NCELoss(v, d, k=K, shared=False),
    ("NCE", "shared"): lambda v, d: NCELoss(v, d, k=K, shared=True),
    ("sampled softmax", "per-example"): lambda v, d: SampledSoftmaxLoss(v, d, k=K, shared=False),
    ("sampled softmax", "shared"): lambda v, d: SampledSoftmaxLoss(v, d, k=K, shared=True),
    ("negative sampling", "per-example"): lambda v, d: NegativeSamplingLoss(v, d, k=K, shared=False, init="normal"),
    ("hierarchical", "-"): lambda v, d: HierarchicalSoftmaxLoss(v, d, init="normal"),
    ("adaptive", "-"): lambda v, d: AdaptiveSoftmaxLoss(v, d),
}


@dataclass
class HeadStep:
    """One contender's step: ``forward()`` returns the loss; ``clear()`` sets every gradient of the head and
    of ``z`` (the features) to ``None`` (``zero_grad``)."""

    forward: Callable[[], torch.Tensor]
    z: torch.Tensor
    head: OutputHeadLoss

    def clear(self) -> None:
        self.head.zero_grad(set_to_none=True)
        self.z.grad = None


def zipf_counts(vocab: int) -> torch.Tensor:
    """``count(rank r) = 1 / r^ZIPF_EXPONENT`` for ``r = 1..vocab`` (word ids in rank order)."""
    return torch.arange(1, vocab + 1, dtype=torch.float64).pow(-ZIPF_EXPONENT)


def make_steps(vocab: int, dim: int, batch: int) -> tuple[dict[tuple[str, str], HeadStep], torch.Tensor]:
    """Every contender's head (seeded; noise set from Zipfian counts) on one ``h`` and ``y``; and ``y``."""
    counts = zipf_counts(vocab)
    g = torch.Generator().manual_seed(1)
    h = torch.randn(batch, dim, generator=g).requires_grad_()
    y = torch.multinomial(counts, batch, replacement=True, generator=g)
    steps = {}
    for i, (key, make) in enumerate(CONTENDERS.items()):
        torch.manual_seed(i)
        head = make(vocab, dim)
        if isinstance(head, SampledHeadLoss):
            head.set_noise(counts)
        if isinstance(head, HierarchicalSoftmaxLoss):
            head.set_tree(counts)  # the Huffman tree of the same Zipfian counts
        steps[key] = HeadStep(lambda head=head: head.loss(h, y)["loss"], h, head)
    return steps, y


def check(steps: dict[tuple[str, str], HeadStep], y: torch.Tensor) -> None:
    """The full softmax is ``F.cross_entropy`` of the full scores; every head's loss and gradients are finite."""
    full = steps[FULL]
    head, h = full.head, full.z
    with torch.no_grad():
        expected = F.cross_entropy(h @ head.weight.t() + head.bias, y)
        got = full.forward()
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6), f"full softmax {got.item()} != cross-entropy {expected.item()}"
    for key, s in steps.items():
        s.clear()
        loss = s.forward()
        loss.backward()
        grads = [s.z.grad] + [p.grad for p in s.head.parameters()]
        assert torch.isfinite(loss) and all(g is not None and torch.isfinite(g).all() for g in grads), f"{key}: not finite"


def race(steps: dict[tuple[str, str], HeadStep], calls: int, repeats: int) -> dict[tuple[str, str], float]:
    """Median over rounds of each contender's median seconds per step, contenders alternating call by call."""
    rounds: dict[tuple[str, str], list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        times: dict[tuple[str, str], list[float]] = {k: [] for k in steps}
        for i in range(WARMUP + calls):
            for key, s in steps.items():
                s.clear()
                start = time.perf_counter()
                s.forward().backward()
                if i >= WARMUP:
                    times[key].append(time.perf_counter() - start)
        for key in steps:
            rounds[key].append(statistics.median(times[key]))
    return {k: statistics.median(v) for k, v in rounds.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--quick", action="store_true", help=f"a run of seconds: vocabularies {QUICK_VOCABS}, 3 calls, 1 round")
    args = p.parse_args()
    vocabs = QUICK_VOCABS if args.quick else VOCABS
    if args.quick:
        args.calls, args.repeats = 3, 1
    print(f"torch {torch.__version__}, cpu float32; batch {args.batch}, dim {args.dim}, k {K}, noise q ~ count^0.75 with "
          f"count ~ 1/rank^{ZIPF_EXPONENT}; forward + backward, median of {args.calls} calls x {args.repeats} rounds")
    print("MB: peak CPU bytes allocated above the baseline during one step (torch.profiler allocation events)")
    print(f"{'threads':>7s} {'V':>7s}  {'head':17s} {'noise':12s} {'ms/step':>8s} {'speed-up':>9s} {'MB':>8s}")
    speedup: dict[tuple[int, int, str, str], float] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for vocab in vocabs:
            steps, y = make_steps(vocab, args.dim, args.batch)
            check(steps, y)
            t = race(steps, args.calls, args.repeats)
            for key, s in steps.items():
                speedup[(threads, vocab, *key)] = t[FULL] / t[key]
                mb = step_peak_bytes(s.forward, s.clear)[0] / 2**20
                print(f"{threads:7d} {vocab:7d}  {key[0]:17s} {key[1]:12s} {1e3 * t[key]:8.2f} "
                      f"{speedup[(threads, vocab, *key)]:8.1f}x {mb:8.1f}", flush=True)
            del steps
    for name, noise in (("adaptive", "-"), ("hierarchical", "-"), ("negative sampling", "per-example"),
                        ("sampled softmax", "per-example"), ("NCE", "per-example")):
        ratios = [speedup[(threads, vocabs[-1], name, noise)] for threads in args.threads]
        value = f"{ratios[0]:.1f}x" if len(ratios) == 1 else \
            ", ".join(f"{r:.1f}x ({n} thread{'s' * (n > 1)})" for r, n in zip(ratios, args.threads))
        kind = f"k={K}, per-example noise" if noise != "-" else "no noise"
        print(f"speed-up at V={vocabs[-1]} ({name}, {kind}) over the full softmax: {value}")


if __name__ == "__main__":
    main()
