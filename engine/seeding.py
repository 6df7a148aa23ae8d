"""Seeding. Every seed is honoured, 0 included."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) with ``seed``."""
    if seed is None:
        raise ValueError("seed must be an integer (0 is a valid seed)")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def stream_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers, e.g. ``(seed, epoch, step)``.

    Data order and augmentation draw from generators seeded by these, so the batch at a given
    step is a pure function of the step: resume and multi-process sharding need no saved
    data-loader state.
    """
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h ^= (int(p) + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2)) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF
