"""Data-parallel training throughput: 1 process against N, and a flat all-reduce after backward against DDP.

What is measured: training steps per second, and samples per second (processes x per-rank batch x
steps/s), of the project's ``SmallCNN`` (width 32, hidden 128, no dropout: configs/model/small_cnn.yaml)
on real Fashion-MNIST batches (``datasets.images.ImageClassificationData``, crops of padding 2 and
flips, as ``make run`` trains it), loss ``losses.cross_entropy.CrossEntropyLoss``, SGD (lr 0.05,
momentum 0.9, no schedule), ``--batch`` images per process (128 by default), on the device that
``auto`` picks. A step is what the project's trainer does: ``data.train_batch`` (the rank's shard of
the global batch; the data module draws the augmentation for the whole global batch on every rank, so
a rank of 2 crops 256 images for its 128: about 2 ms against 1 ms, of a 60-80 ms step on one CPU
core), ``zero_grad``, forward, loss, backward, the gradient averaging (if any), ``opt.step()``.
The contenders (N = ``--world-size``, 2 by default):

* ``1 process, 1 thread``: no process group, ``torch.set_num_threads(1)``: the per-core baseline that
  the ratios divide by;
* ``1 process, N threads (reference)``, CPU only: the same on as many cores as the N processes use;
* ``N processes, no gradient averaging (reference)``: every rank trains its own copy on its shard,
  no collective: what the N processes would reach if communication were free (the machine's own
  scaling: shared memory bandwidth, the data module's global-batch augmentation);
* ``N processes, flat all-reduce after backward``: the project's former
  ``engine.distributed.average_gradients`` (copied here as :func:`flat_average_gradients`): after the
  whole backward pass all of the model's gradients are flattened into one buffer, one
  ``dist.all_reduce``, divided by the world size, copied back;
* ``N processes, DDP``: ``torch.nn.parallel.DistributedDataParallel`` (default bucket caps,
  ``broadcast_buffers=False``), which all-reduces buckets of gradients while backward still runs.
  SmallCNN's 421,642 gradients (1.7 MB) make two buckets once DDP has rebuilt them after its first
  step: the classifier's (1.6 MB, sent while the convolutions' backward runs), then the convolutions'.

The N processes are started once with ``torch.multiprocessing`` (spawn) and join one process group
(gloo on CPU, nccl on cuda; ``MASTER_ADDR`` 127.0.0.1 and a free port); each runs
``torch.set_num_threads(1)`` and holds all three N-process contenders (built from the same seeded
init), each on its rank's shard of a global batch of N x ``--batch``, so that every rank has the same
per-rank batch as the 1-process rows. The 1-process rows run in the parent process while the
workers wait (blocked on a queue, not spinning).

How: ``--rounds`` rounds (3 by default). A round has two parts, the 1-process contenders (in the
parent) and the N-process ones (in the workers), their order reversed every other round; within a
part the contenders take turns step by step (who goes first rotates), so that load changes on a
shared machine hit them alike: ``--warmup`` untimed steps each (5: DDP rebuilds its buckets after its
first step), then ``--steps`` timed steps each (60). Each timed step is stamped with
``time.perf_counter()`` around the step alone (the thread count is set before it, untimed); an
N-process step starts after a barrier on every rank and lasts until the slowest rank has finished it
(the max over ranks); on cuda the device is synchronised at each stamp. A contender's steps/s is its
timed steps over the sum of their durations. Every contender keeps its model and optimiser from round
to round and draws the batches of its own step counter, so the flat and the DDP contenders take the
same steps on the same data. Printed: each round's steps/s and samples/s per contender with that
round's ratios, then each contender's median, and the medians of the per-round (paired) ratios:
N-process / 1-process (1 thread) samples/s, and DDP / flat steps/s (the pair that is interleaved step
by step, so the most robust figure on a loaded machine; the N-process / 1-process ratios compare
parts of a round run one after the other). Correctness is checked at the end: after the same steps
from the same init the DDP and flat contenders' weights, and every rank's, must agree within
``--tolerance`` (and the no-averaging ranks must have drifted apart, which shows that the ranks
trained on different shards); else the script exits with status 1. The last line is the headline:
N-process DDP / 1-process samples/s, the same for the flat all-reduce, and DDP / flat.

On a machine with GPUs, ``auto`` runs each process on its own GPU (rank r on ``cuda:r``, nccl) and the
1-process row on ``cuda:0``: this same command is what a user with GPUs runs (``--world-size`` up to
the number of GPUs). With fewer GPUs than ``--world-size`` (one GPU, say) only the 1-process row is
measured and the script says why; ``--device cpu`` measures CPU processes with gloo instead. The
nondeterministic cuDNN kernels may need a ``--tolerance`` above the CPU's default.

    .venv/bin/python -m benchmarks.distributed_throughput [--batch 128 --rounds 3 --steps 60 --warmup 5 --world-size 2]
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import queue
import socket
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
from torch.nn.parallel import DistributedDataParallel

import datasets.readers
from datasets.images import ImageClassificationData
from engine.devices import select_device
from engine.errors import ConfigError
from engine.progress import Progress
from losses.cross_entropy import CrossEntropyLoss
from models.small_cnn import SmallCNN

SEED = 0
MODEL_KW = {"num_classes": 10, "in_channels": 1, "image_size": 28, "width": 32, "hidden": 128, "dropout": 0.0}
sgd = functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9)

ONE, ONE_WIDE, APART, FLAT, DDP = "one", "one_wide", "apart", "flat", "ddp"  # contender keys
SYNC = {ONE: "none", ONE_WIDE: "none", APART: "none", FLAT: "flat", DDP: "ddp"}
RANKS = (APART, FLAT, DDP)  # the contenders that run in the worker processes


def flat_average_gradients(params: Iterable[nn.Parameter], world_size: int) -> None:
    """The baseline, as ``engine.distributed.average_gradients`` did it until the trainer moved to DDP: replace each
    ``p.grad`` by its mean over ranks (missing grads count as zero) with one all-reduce of all grads flattened."""
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(world_size)
    for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


# ---------------------------------------------------------------- pure helpers (formatting and ratios)
def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the per-round (paired) ratios ``numerators[i] / denominators[i]``."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("one numerator per denominator, at least one round")
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def headline(world_size: int, ddp_scaling: float, flat_scaling: float, ddp_over_flat: float) -> str:
    """The last line: the N-process / 1-process samples/s of DDP, of the flat all-reduce, and DDP / flat."""
    return (f"{world_size}-process DDP / 1-process samples/s: {ddp_scaling:.2f} (flat all-reduce: {flat_scaling:.2f}; "
            f"DDP / flat at {world_size} processes: {ddp_over_flat:.2f})")


def row(name: str, steps_per_s: float, samples_per_s: float, width: int) -> str:
    return f"  {name:<{width}}  {steps_per_s:8.2f} steps/s  {samples_per_s:9.1f} samples/s"


# ---------------------------------------------------------------- one contender's training loop
def fashion_mnist(global_batch: int) -> ImageClassificationData:
    """Fashion-MNIST as the project trains on it (benchmarks/trainer_overhead.py's set-up): ``global_batch`` in all."""
    return ImageClassificationData(functools.partial(datasets.readers.fashion_mnist, "data"), batch_size=global_batch,
                                   val_subset=256, crop_padding=2, hflip=True)


def sync_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Runner:
    """One contender on this process: its model (from the seeded init), optimiser and step counter."""

    def __init__(self, sync: str, data: ImageClassificationData, device: torch.device, world_size: int = 1) -> None:
        torch.manual_seed(SEED)
        self.model = SmallCNN(**MODEL_KW).to(device)
        self.net: nn.Module = self.model
        if sync == "flat":  # rank 0's weights everywhere, as the trainer did before its first step
            for t in list(self.model.parameters()) + list(self.model.buffers()):
                dist.broadcast(t.data, src=0)
        elif sync == "ddp":  # DDP broadcasts rank 0's weights itself
            with warnings.catch_warnings():  # torch 2.14 deprecates it (SmallCNN has no buffers: either way the same)
                warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated", FutureWarning)
                self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None,
                                                   broadcast_buffers=False)
        self.sync, self.data, self.device, self.world_size = sync, data, device, world_size
        self.loss = CrossEntropyLoss().to(device)
        self.opt = sgd(self.model.parameters())
        self.params = list(self.model.parameters())
        self.step_index = 0
        self.model.train()

    def step(self) -> None:
        epoch, batch = divmod(self.step_index, self.data.batches_per_epoch)
        progress = Progress(self.step_index, epoch, batch, 10**9, self.data.batches_per_epoch)
        batch_ = self.data.train_batch(progress)
        self.opt.zero_grad(set_to_none=True)
        self.loss(self.net, batch_)["loss"].backward()
        if self.sync == "flat":
            flat_average_gradients(self.params, self.world_size)
        self.opt.step()
        self.step_index += 1

    def weights(self) -> bytes:
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, buf)
        return buf.getvalue()


def interleaved(runners: dict[str, Runner], warmup: int, steps: int, device: torch.device, barrier: bool = False,
                before: Callable[[str], None] = lambda key: None) -> dict[str, list[float]]:
    """``warmup`` untimed steps of every runner, then ``steps`` timed ones, the runners taking turns step by step
    (who goes first rotates); each timed step from a barrier (if ``barrier``) to its end. ``before(key)``: set-up
    before each of runner ``key``'s steps, untimed. Returns each runner's step durations in seconds."""
    order = list(runners)
    for _ in range(warmup):
        for key in order:
            before(key)
            runners[key].step()
    durations: dict[str, list[float]] = {key: [] for key in order}
    for s in range(steps):
        k = s % len(order)
        for key in order[k:] + order[:k]:
            before(key)
            sync_device(device)
            if barrier:
                dist.barrier()
            start = time.perf_counter()
            runners[key].step()
            sync_device(device)
            durations[key].append(time.perf_counter() - start)
    return durations


# ---------------------------------------------------------------- the worker processes
@dataclass(frozen=True)
class Settings:
    world_size: int
    batch: int
    device_type: str  # cpu | cuda
    port: int


def worker(rank: int, settings: Settings, commands: Any, results: Any) -> None:
    """One rank: join the group, build the N-process contenders, then run what the parent asks."""
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(settings.port))
        torch.set_num_threads(1)
        device = torch.device(f"cuda:{rank}") if settings.device_type == "cuda" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=settings.world_size,
                                device_id=device if device.type == "cuda" else None)
        data = fashion_mnist(settings.world_size * settings.batch)
        data.setup(device, rank, settings.world_size, SEED)
        runners = {key: Runner(SYNC[key], data, device, settings.world_size) for key in RANKS}
        results.put((rank, "ready", None))
        while True:
            cmd = commands.get()
            if cmd[0] == "run":
                _, keys, warmup, steps = cmd
                results.put((rank, "time", interleaved({k: runners[k] for k in keys}, warmup, steps, device, barrier=True)))
            elif cmd[0] == "weights":
                results.put((rank, "weights", {key: r.weights() for key, r in runners.items()}))
            else:  # stop
                break
    except BaseException:  # the parent prints it and stops the others
        results.put((rank, "error", traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


class WorkerError(RuntimeError):
    pass


class Workers:
    """The N rank processes, started once; ``run`` and ``weights`` send a command to all and gather the answers."""

    def __init__(self, settings: Settings) -> None:
        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(settings.world_size)]
        self.procs = [ctx.Process(target=worker, args=(r, settings, self.commands[r], self.results), daemon=True)
                      for r in range(settings.world_size)]
        for p in self.procs:
            p.start()

    def gather(self, what: str) -> list[Any]:
        out: dict[int, Any] = {}
        while len(out) < len(self.procs):
            try:
                rank, kind, value = self.results.get(timeout=5)
            except queue.Empty:
                dead = [f"rank {r} (exit code {p.exitcode})" for r, p in enumerate(self.procs) if p.exitcode is not None]
                if dead:
                    raise WorkerError(f"worker process ended without answering: {', '.join(dead)}") from None
                continue
            if kind == "error":
                raise WorkerError(f"rank {rank} failed:\n{value}")
            assert kind == what, (kind, what)
            out[rank] = value
        return [out[r] for r in range(len(self.procs))]

    def send(self, *cmd: Any) -> None:
        for q in self.commands:
            q.put(cmd)

    def run(self, keys: list[str], warmup: int, steps: int) -> dict[str, list[float]]:
        """Step durations of contenders ``keys`` taking turns (:func:`interleaved`): each step the slowest rank's."""
        self.send("run", keys, warmup, steps)
        answers = self.gather("time")
        return {key: [max(per_rank) for per_rank in zip(*(a[key] for a in answers))] for key in keys}

    def weights(self) -> list[dict[str, bytes]]:
        self.send("weights")
        return self.gather("weights")

    def close(self) -> None:
        for q, p in zip(self.commands, self.procs):
            if p.is_alive():
                q.put(("stop",))
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():  # stuck in a collective that a failed rank never joined
                p.terminate()
                p.join()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@dataclass(frozen=True)
class WeightCheck:
    """Max |weight difference|: DDP against the flat all-reduce (rank 0), rank r against rank 0 (either of the
    two), and the no-averaging contender's rank 1 against its rank 0 (> 0: the ranks trained on different shards)."""

    ddp_vs_flat: float
    between_ranks: float
    shards_apart: float

    def agree(self, tolerance: float) -> bool:
        return self.ddp_vs_flat <= tolerance and self.between_ranks <= tolerance

    def ok(self, tolerance: float) -> bool:
        return self.agree(tolerance) and self.shards_apart > 0

    def line(self, steps: int, tolerance: float) -> str:
        verdict = "agree" if self.agree(tolerance) else "DO NOT AGREE"
        shards = "their shards differ" if self.shards_apart > 0 else "EVERY RANK TRAINED ON THE SAME DATA"
        return (f"weights after {steps} steps from the same init: DDP vs flat all-reduce max |diff| {self.ddp_vs_flat:.3g}, "
                f"between ranks {self.between_ranks:.3g}: {verdict} (tolerance {tolerance:g}); without averaging the ranks "
                f"end {self.shards_apart:.3g} apart ({shards})")


def check_weights(answers: list[dict[str, bytes]]) -> WeightCheck:
    """The weights every rank sent back, compared."""
    loaded = [{key: torch.load(io.BytesIO(blob)) for key, blob in answer.items()} for answer in answers]
    return WeightCheck(
        ddp_vs_flat=max_difference(loaded[0][FLAT], loaded[0][DDP]),
        between_ranks=max(max_difference(loaded[0][key], other[key]) for other in loaded[1:] for key in (FLAT, DDP)),
        shards_apart=max_difference(loaded[0][APART], loaded[1][APART]),
    )


# ---------------------------------------------------------------- the parent
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128, help="images per rank per step (every contender)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of all contenders, alternating")
    p.add_argument("--steps", type=int, default=60, help="timed steps per contender per round")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before each contender's timed steps")
    p.add_argument("--world-size", type=int, default=2, help="processes of the data-parallel contenders")
    p.add_argument("--device", default="auto", help="auto (cuda, one GPU per rank, if available; else cpu) | cpu | cuda")
    p.add_argument("--tolerance", type=float, default=1e-5,
                   help="max |weight difference| allowed between DDP and the flat all-reduce (and between ranks)")
    args = p.parse_args(argv)
    if min(args.batch, args.rounds, args.steps) < 1 or min(args.warmup, args.tolerance) < 0 or args.world_size < 2:
        p.error("--batch, --rounds and --steps must be >= 1, --warmup and --tolerance >= 0, --world-size >= 2")
    try:
        device = select_device(args.device, key="--device")
    except ConfigError as e:
        p.error(str(e))
    n, batch = args.world_size, args.batch
    names = {ONE: "1 process, 1 thread", ONE_WIDE: f"1 process, {n} threads (reference)",
             APART: f"{n} processes, no gradient averaging (reference)",
             FLAT: f"{n} processes, flat all-reduce after backward", DDP: f"{n} processes, DDP"}
    keys = [ONE, ONE_WIDE, APART, FLAT, DDP] if device.type == "cpu" else [ONE, APART, FLAT, DDP]
    skipped = None
    if device.type == "cuda" and torch.cuda.device_count() < n:
        skipped = (f"{n} processes need one GPU per rank and this machine has {torch.cuda.device_count()}: the "
                   f"multi-process rows are skipped (--device cpu measures {n} CPU processes with gloo)")
        keys = [ONE]
    elif device.type == "cpu" and n > (os.cpu_count() or 1):
        print(f"warning: {n} processes on {os.cpu_count()} CPU cores: oversubscribed")
    world = {key: (n if key in RANKS else 1) for key in keys}
    print(f"device {device} (torch {torch.__version__}), SmallCNN {MODEL_KW['width']}/{MODEL_KW['hidden']}, "
          f"CrossEntropyLoss, SGD lr 0.05 momentum 0.9, batch {batch} per rank, {args.rounds} rounds x "
          f"({args.warmup} warm-up + {args.steps} timed) steps per contender, {os.cpu_count()} CPU cores")
    if skipped:
        print(skipped)

    workers = Workers(Settings(n, batch, device.type, free_port())) if FLAT in keys else None
    try:
        data = fashion_mnist(batch)
        data.setup(device, 0, 1, SEED)
        local = {key: Runner("none", data, device) for key in keys if key in (ONE, ONE_WIDE)}
        threads = {ONE: 1, ONE_WIDE: n}
        if workers:
            workers.gather("ready")
        steps_per_s: dict[str, list[float]] = {key: [] for key in keys}
        width = max(len(names[k]) for k in keys)
        groups = [[k for k in keys if k in local], [k for k in keys if k in RANKS]]
        for r in range(args.rounds):
            print(f"round {r + 1}:")
            for group in groups if r % 2 == 0 else groups[::-1]:
                if not group:
                    continue
                if group[0] in local:
                    durations = interleaved({k: local[k] for k in group}, args.warmup, args.steps, device,
                                            before=lambda k: torch.set_num_threads(threads[k]))
                else:
                    assert workers is not None
                    durations = workers.run(group, args.warmup, args.steps)
                for key in group:
                    steps_per_s[key].append(args.steps / sum(durations[key]))
            for key in keys:
                sps = steps_per_s[key][-1]
                print(row(names[key], sps, sps * world[key] * batch, width))
            if FLAT in keys:
                one, apart, flat, ddp = (steps_per_s[k][-1] for k in (ONE, APART, FLAT, DDP))
                print(f"  {n}-process / 1-process samples/s: flat {n * flat / one:.2f}, DDP {n * ddp / one:.2f} "
                      f"(no averaging {n * apart / one:.2f}); DDP / flat {ddp / flat:.2f}")
        print(f"medians of {args.rounds} rounds:")
        for key in keys:
            med = statistics.median(steps_per_s[key])
            print(row(names[key], med, med * world[key] * batch, width)
                  + f"  (rounds: {', '.join(f'{v:.2f}' for v in steps_per_s[key])} steps/s)")
        if workers is None:
            med = statistics.median(steps_per_s[ONE])
            print(f"1-process samples/s: {med * batch:.1f} (no multi-process rows: {skipped})")
            return
        check = check_weights(workers.weights())
    finally:
        if workers:
            workers.close()
    print(check.line(args.rounds * (args.warmup + args.steps), args.tolerance))
    if not check.ok(args.tolerance):
        sys.exit(1)
    scaling = {key: n * median_ratio(steps_per_s[key], steps_per_s[ONE]) for key in RANKS}
    print(f"medians of the per-round ratios, {n}-process / 1-process (1 thread) samples/s: no averaging "
          f"{scaling[APART]:.2f}, flat all-reduce {scaling[FLAT]:.2f}, DDP {scaling[DDP]:.2f}")
    print(headline(n, scaling[DDP], scaling[FLAT], median_ratio(steps_per_s[DDP], steps_per_s[FLAT])))


if __name__ == "__main__":
    main()
