"""Device choice: ``auto`` is the GPU of this process if there is one, else the CPU."""

from __future__ import annotations

import torch

from engine.errors import ConfigError


def select_device(name: str | torch.device, local_rank: int = 0, key: str = "trainer.device") -> torch.device:
    """``auto``: ``cuda:<local_rank>`` if CUDA is available, else ``cpu``. ``key`` names the setting in errors."""
    if str(name) == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{key}={name!r} is not a torch device: use auto, cpu, cuda or cuda:<index>") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name} but no CUDA device is available: use {key}=auto or cpu")
    return device
