"""Mixed precision and torch.compile paths of the Trainer (on the CPU here; the same code on a GPU)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import TINY, compose_cfg, losses

from engine.checkpoint import load_checkpoint
from train import train


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_runs_and_tracks_fp32(precision: str, tmp_path: Path):
    base = ["experiment=fmnist_cnn", *TINY, "trainer.max_steps=4"]
    train(compose_cfg(*base), tmp_path / "fp32")
    train(compose_cfg(*base, f"trainer.precision={precision}"), tmp_path / precision)
    ref, low = losses(tmp_path / "fp32"), losses(tmp_path / precision)
    assert all(math.isfinite(v) for _, v in low)
    # same data and init: the half-precision trace stays within a few per cent of fp32's
    assert [v for _, v in low] == pytest.approx([v for _, v in ref], rel=0.05)
    scaler = load_checkpoint(tmp_path / precision / "last.pt")["scalers"]["main"]
    if precision == "fp16":
        assert scaler["scale"] > 0 and "_growth_tracker" in scaler  # the grad scaler's state is saved
    else:
        assert scaler == {}


@pytest.mark.slow
def test_compiled_model_gives_the_eager_trace(tmp_path: Path):
    base = ["experiment=fmnist_cnn", *TINY, "trainer.max_steps=3", "data.crop_padding=0", "data.hflip=false"]
    train(compose_cfg(*base), tmp_path / "eager")
    train(compose_cfg(*base, "trainer.compile=true"), tmp_path / "compiled")
    eager, compiled = losses(tmp_path / "eager"), losses(tmp_path / "compiled")
    assert [v for _, v in compiled] == pytest.approx([v for _, v in eager], rel=1e-4)
