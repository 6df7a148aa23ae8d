"""Data parallelism under ``torchrun`` (or a multi-task submitit job): the process group and DDP.

Each rank sees its own shard of every global batch. Gradients are averaged over ranks by PyTorch's
:class:`~torch.nn.parallel.DistributedDataParallel`, which buckets them and starts each bucket's
all-reduce while the backward pass is still running. DDP wraps one module and syncs the gradients of
the parameters registered in it, whatever path the forward pass takes to them, so each *player* gets
its own DDP around a :class:`PlayerLoss`: a module holding exactly the parts (and loss parameters) that
player trains, whose forward is the loss call ``loss(model, batch, player, progress)``. A loss still
calls any part by name (``model.generator(z)``): a part the player does not train (the discriminator
in the generator's step) is used as it is, its gradients are not synced, and its own player's
``zero_grad`` clears them before they are used.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from engine.cluster_env import export_submitit_env
from engine.errors import DistributedError, one_line


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str, timeout_s: float = 600.0) -> DistInfo:
    """Join the process group described in the environment (``torchrun``'s, or a submitit job's); no-op
    with one process. A collective that waits longer than ``timeout_s`` (a rank died or hangs) raises."""
    export_submitit_env()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo",
                                timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(dist.get_rank(), dist.get_world_size())


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


class PlayerLoss(nn.Module):
    """One player's loss as a module: ``forward(batch, progress) = loss(model, batch, player, progress)``.

    Its registered parameters are exactly the player's: the model parts it trains (``parts``) and the
    loss's own parameters for it (the loss is registered; its other parameters are left to DDP's ignore
    list by :func:`wrap_player`). ``model`` (the model as the loss sees it, all parts, possibly compiled)
    is called but not registered.
    """

    def __init__(self, loss: nn.Module, model: nn.Module, player: str, parts: dict[str, nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(parts)
        self.loss = loss
        self.player = player
        object.__setattr__(self, "model", model)  # not a submodule: its other parts are other players'

    def forward(self, batch: Any, progress: Any) -> dict[str, torch.Tensor]:
        return self.loss(self.model, batch, self.player, progress)


def wrap_player(loss: nn.Module, model: nn.Module, player: str, parts: dict[str, nn.Module],
                params: list[nn.Parameter], device: torch.device, find_unused: bool = False) -> nn.Module:
    """``DistributedDataParallel(PlayerLoss(...))`` syncing the gradients of ``params`` (the player's) only.

    Buffers (batch-norm statistics, a carried recurrent state) are rank 0's at the start (the trainer
    broadcasts them) and then each rank's own, as without DDP. ``find_unused``: DDP's
    ``find_unused_parameters``, needed only when a step leaves some of the player's parameters without a
    gradient (the trainer checks this at the first step and says so)."""
    module = PlayerLoss(loss, model, player, parts)
    mine = {id(p) for p in params}
    ignore = [f"loss.{n}" for n, p in loss.named_parameters() if id(p) not in mine]
    ignore += [f"parts.{n}" for n, p in module.parts.named_parameters() if id(p) not in mine]  # frozen sub-modules
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, ignore)
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   forward_sync_buffers=False, find_unused_parameters=find_unused)


def without_gradient(params: list[nn.Parameter], names: dict[int, str]) -> list[str]:
    """Names of the trainable ``params`` that the last backward pass left without a gradient."""
    return [names.get(id(p), "?") for p in params if p.requires_grad and p.grad is None]


def collective_failure(e: RuntimeError, info: DistInfo, step: int) -> DistributedError | None:
    """A failed collective (another rank died, or stopped answering within the process group's timeout) as one
    line, instead of a traceback or a hang; ``None`` for any other error (a bug to see in full)."""
    if not info.enabled or not is_collective_failure(e):
        return None
    return DistributedError(
        f"rank {info.rank}: another process of this run stopped or stopped answering at step {step} "
        f"({one_line(e, 160)}); every rank stops. The last checkpoint is the run's last.pt: find what stopped "
        "that rank (its own log), then continue with resume=auto")


def is_collective_failure(e: BaseException) -> bool:
    """A gloo/NCCL error from a peer that is gone or silent (not a bug in this process's own code)."""
    if isinstance(e, (dist.DistBackendError, dist.DistNetworkError, dist.DistStoreError)):
        return True
    text = str(e)
    return any(s in text for s in ("Connection closed by peer", "Connection reset by peer", "Timed out waiting",
                                   "[gloo", "gloo/transport", "NCCL", "Broken pipe"))


def all_mean(values: dict[str, float], info: DistInfo, device: torch.device) -> dict[str, float]:
    """Average a dict of scalars over ranks (for logging)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(keys, (t / info.world_size).tolist()))


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
