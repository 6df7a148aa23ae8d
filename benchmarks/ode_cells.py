"""Our Runge-Kutta cell unrolled as an RNN against ``torchdiffeq.odeint``, forward + backward, side by side.

What is measured, on one device (``--device auto``: cuda if available, else cpu):

* speed: one forward solve and one backward pass (``loss = sum of the states at the output times``,
  gradients of the field's parameters) over ``--steps`` steps of ``h = 0.1``, at batch 1 and batch
  1024, for two fields: the post's competition model (kexue.fm/archives/5643) and a neural field
  (2 -> 64 -> 64 -> 2, tanh). Contenders: our ``rk38`` cell (``ODEModel(solver="cell",
  method="rk38")``), which takes the same step as torchdiffeq's ``rk4`` (Kutta's 3/8 rule; checked
  equal in ``tests/models/test_ode_model.py`` and here), our classic ``rk4`` cell, and
  ``torchdiffeq.odeint(method="rk4", options={"step_size": h})`` called directly. The contenders
  alternate call by call (same load for all); ``--repeats`` calls each after 3 warm-up calls; the
  median time per call is printed;
* memory: the bytes of the tensors autograd keeps for the backward pass (counted by
  ``torch.autograd.graph.saved_tensors_hooks``) for ``--memory-steps`` (1,000) steps at batch 1024 with the neural field:
  back-propagation through our cell, through torchdiffeq's ``odeint``, and ``odeint_adjoint``
  (which keeps none and solves the adjoint ODE backwards instead; its backward-pass time is shown).

The last line is the headline: our rk38 cell's speed over torchdiffeq's rk4 at batch 1024 (> 1: ours
is faster), for each field.

    .venv/bin/python -m benchmarks.ode_cells [--steps 100 --repeats 20 --memory-steps 1000 --device auto]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn
import torchdiffeq

from engine.devices import select_device
from models.competition_field import CompetitionField
from models.neural_field import NeuralField
from models.ode_model import ODEModel


def fields(device: torch.device) -> dict[str, nn.Module]:
    neural = NeuralField(2, hidden=64, depth=2, scale=100.0)
    with torch.no_grad():  # a field that moves (the zero-initialised last layer would make f = 0)
        nn.init.normal_(neural.net[-1].weight, std=0.1)
    return {"competition": CompetitionField(0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003).to(device), "neural": neural.to(device)}


def contenders(field: nn.Module, h: float) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    ours38 = ODEModel(field, "cell", "rk38", step_size=h)
    ours4 = ODEModel(field, "cell", "rk4", step_size=h)

    def torchdiffeq_rk4(x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torchdiffeq.odeint(field, x0, t, method="rk4", options={"step_size": h})

    return {"ours rk38": lambda x0, t: ours38(x0, t).transpose(0, 1), "ours rk4": lambda x0, t: ours4(x0, t).transpose(0, 1),
            "torchdiffeq rk4": torchdiffeq_rk4}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn, field: nn.Module, x0: torch.Tensor, t: torch.Tensor, device: torch.device) -> float:
    field.zero_grad(set_to_none=True)
    sync(device)
    start = time.perf_counter()
    fn(x0, t).sum().backward()
    sync(device)
    return time.perf_counter() - start


def speed(device: torch.device, steps: int, repeats: int, h: float = 0.1) -> dict[tuple[str, int], dict[str, float]]:
    results = {}
    t = torch.arange(0, steps + 1, 10, device=device) * h  # every 10th grid point is an output time
    for name, field in fields(device).items():
        for batch in (1, 1024):
            g = torch.Generator().manual_seed(0)
            x0 = (torch.rand(batch, 2, generator=g) * 200 + 50).to(device)
            fns = contenders(field, h)
            with torch.no_grad():
                out = {k: fn(x0, t) for k, fn in fns.items()}
            assert torch.allclose(out["ours rk38"], out["torchdiffeq rk4"], rtol=1e-5, atol=1e-3), "not the same solve"
            times: dict[str, list[float]] = {k: [] for k in fns}
            for i in range(repeats + 3):
                for k, fn in fns.items():
                    seconds = time_call(fn, field, x0, t, device)
                    if i >= 3:
                        times[k].append(seconds)
            results[(name, batch)] = {k: statistics.median(v) for k, v in times.items()}
            row = "  ".join(f"{k} {1e3 * v:8.2f} ms" for k, v in results[(name, batch)].items())
            print(f"{name:12s} batch {batch:5d}: {row}")
    return results


def saved_bytes(fn: Callable[[], torch.Tensor]) -> tuple[int, float]:
    """Bytes autograd saves during ``fn()`` (distinct storages), and the time of the backward pass."""
    seen: dict[int, int] = {}

    def pack(x: torch.Tensor) -> torch.Tensor:
        seen[x.untyped_storage().data_ptr()] = x.untyped_storage().nbytes()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        loss = fn().sum()
    start = time.perf_counter()
    loss.backward()
    return sum(seen.values()), time.perf_counter() - start


def memory(device: torch.device, steps: int = 1000, batch: int = 1024, h: float = 0.01) -> None:
    field = fields(device)["neural"]
    x0 = (torch.rand(batch, 2, generator=torch.Generator().manual_seed(0)) * 200 + 50).to(device)
    t = torch.tensor([0.0, steps * h], device=device)
    runs = {
        "ours rk38 (backprop)": lambda: ODEModel(field, "cell", "rk38", step_size=h)(x0, t),
        "torchdiffeq odeint rk4 (backprop)": lambda: torchdiffeq.odeint(field, x0, t, method="rk4",
                                                                        options={"step_size": h}),
        "torchdiffeq odeint_adjoint rk4": lambda: torchdiffeq.odeint_adjoint(
            field, x0, t, method="rk4", options={"step_size": h}, adjoint_params=tuple(field.parameters())),
    }
    print(f"\nmemory held for the backward pass, {steps} steps, batch {batch}, neural field:")
    for name, fn in runs.items():
        field.zero_grad(set_to_none=True)
        nbytes, seconds = saved_bytes(fn)
        print(f"  {name:36s} {nbytes / 2**20:9.1f} MB saved   backward {1e3 * seconds:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--memory-steps", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    print(f"device {device}, torch {torch.__version__}, torchdiffeq {torchdiffeq.__version__}, "
          f"{torch.get_num_threads()} threads; forward + backward over {args.steps} steps, median of {args.repeats}")
    results = speed(device, args.steps, args.repeats)
    memory(device, args.memory_steps)
    ratios = {name: results[(name, 1024)]["torchdiffeq rk4"] / results[(name, 1024)]["ours rk38"]
              for name in ("competition", "neural")}
    print("\nspeed of our rk38 cell / torchdiffeq rk4, forward + backward, batch 1024: "
          + ", ".join(f"{name} {r:.2f}x" for name, r in ratios.items()))


if __name__ == "__main__":
    main()
