"""torchrun with 2 CPU processes (gloo) gives the single-process result.

Each rank takes one half of every global batch and the gradients are averaged, so for a model
without batch norm or dropout the two-process loss trace and weights equal the one-process ones
up to float rounding (the halves are summed in another order).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_cfg, losses, run_torchrun

from engine.checkpoint import load_checkpoint
from train import train

OVERRIDES = ["experiment=fmnist_cnn", "data.train_subset=1024", "data.val_subset=256", "data.batch_size=64",
             "trainer.max_steps=8", "trainer.log_every_steps=1", "trainer.val_every_steps=4", "trainer.progress=false"]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path: Path):
    run_torchrun(OVERRIDES, tmp_path / "ddp")
    (ddp_dir,) = (tmp_path / "ddp" / "fmnist_cnn").iterdir()
    assert not list((tmp_path / "ddp").glob("*/*/rank*")), "only rank 0 writes"

    single_dir = tmp_path / "single"
    train(compose_cfg(*OVERRIDES), single_dir)

    ddp, single = losses(ddp_dir), losses(single_dir)
    assert [s for s, _ in ddp] == [s for s, _ in single] == list(range(1, 9))
    assert [v for _, v in ddp] == pytest.approx([v for _, v in single], rel=1e-4)
    assert single[-1][1] < single[0][1]  # it trained

    w_ddp = load_checkpoint(ddp_dir / "last.pt")["model"]
    w_one = load_checkpoint(single_dir / "last.pt")["model"]
    for name in w_one:
        torch.testing.assert_close(w_ddp[name], w_one[name], rtol=1e-4, atol=1e-5, msg=name)
