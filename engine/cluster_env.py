"""PyTorch's process-group environment from a submitit job's own (a multi-task Slurm or local job).

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` itself; a submitit job
with ``tasks_per_node > 1`` starts one process per task with submitit's variables instead, and
``submitit.helpers.TorchDistributedEnvironment`` translates them (the master is the first host, the
port drawn from the job id).
"""

from __future__ import annotations

import os


def export_submitit_env() -> None:
    """Inside a submitit job of more than one task, and unless ``WORLD_SIZE`` is set: export the variables
    ``torch.distributed``'s ``env://`` start reads. Anywhere else: nothing."""
    if "WORLD_SIZE" in os.environ or "SUBMITIT_EXECUTOR" not in os.environ:
        return
    from submitit import JobEnvironment
    from submitit.helpers import TorchDistributedEnvironment

    if JobEnvironment().num_tasks <= 1:
        return
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
