"""Where this process stands in a submitit job (Slurm, or the local twin ``hydra/launcher=local``), and PyTorch's
process-group environment from it.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` itself; a submitit job with
``tasks_per_node > 1`` starts one process per task with submitit's own variables instead (``SLURM_PROCID``,
``SLURM_NTASKS``, ... on Slurm; ``SUBMITIT_LOCAL_GLOBALID``, ``SUBMITIT_LOCAL_NTASKS``, ... on this machine), and
``submitit.helpers.TorchDistributedEnvironment`` translates them: the master is the job's first host, the port is
drawn from the job id (so every task, and a requeued job, agrees on it). A leaf: imports nothing of the project;
submitit itself is imported only inside a submitit job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class SubmititTask:
    """One task of a submitit job: the job's id (``<array job>_<index>`` for a Slurm array; the same when the job
    is requeued), this task's global rank and the job's number of tasks."""

    executor: str
    job_id: str
    rank: int
    num_tasks: int


def submitit_task() -> SubmititTask | None:
    """This process's task, or ``None`` outside a submitit job (submitit's scripts export ``SUBMITIT_EXECUTOR``)."""
    executor = os.environ.get("SUBMITIT_EXECUTOR", "")
    if not executor:
        return None
    try:
        from submitit import JobEnvironment
    except ImportError:  # a process started from a job with submitit's variables, in an environment without it
        return None
    env = JobEnvironment()
    return SubmititTask(executor, env.job_id, env.global_rank, env.num_tasks)


def process_rank() -> int:
    """This process's rank: ``torchrun``'s ``RANK``, else its submitit task's global rank, else 0."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    task = submitit_task()
    return task.rank if task is not None else 0


def export_submitit_env() -> None:
    """Inside a submitit job of more than one task, and unless ``WORLD_SIZE`` is set (``torchrun`` inside a job):
    export ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``,
    what ``torch.distributed``'s ``env://`` start reads. Anywhere else: nothing.

    ``CUDA_VISIBLE_DEVICES`` is left as the job has it (all the node's GPUs of the job): the trainer takes
    ``cuda:<LOCAL_RANK>`` among them, which a list narrowed to the task's one GPU would not hold. The local
    executor's tasks all run on this machine, so their master is ``127.0.0.1`` (as ``torchrun``'s), not the host
    name, which need not resolve. A ``MASTER_ADDR`` or ``MASTER_PORT`` already set is kept.
    """
    if "WORLD_SIZE" in os.environ:
        return
    task = submitit_task()
    if task is None or task.num_tasks <= 1:
        return
    from submitit.helpers import TorchDistributedEnvironment

    env = TorchDistributedEnvironment()  # MASTER_PORT set by the user is kept; so is MASTER_ADDR, below
    if "MASTER_ADDR" in os.environ:
        env.master_addr = os.environ["MASTER_ADDR"]
    elif task.executor == "local":
        env.master_addr = "127.0.0.1"
    env.export(set_cuda_visible_devices=False, overwrite=True)
