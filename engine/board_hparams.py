"""What a run puts into TensorBoard's HParams table: every config value, and which keys to show."""

from __future__ import annotations

from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from engine.errors import ConfigError
from engine.run_folders import folder_name_excludes, override_key, swept_keys
from engine.run_logger import flat_hparams

CHOICES = ("varying", "all")


def board_hparams(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, bool]]:
    """``(values, shown)``: every scalar config value and group choice (``experiment``, ``loss``, ...), and the
    keys the HParams table shows, each with whether it leads the table: those the sweep varies, or for a single
    run those set on its command line; with ``board_hparams=all`` every other key after them (not leading).
    Outside Hydra (tests, benchmarks): every key."""
    mode = cfg.get("board_hparams", "varying")
    if mode not in CHOICES:
        raise ConfigError(f"board_hparams={mode!r} is not one of {list(CHOICES)}")
    values = flat_hparams(OmegaConf.to_container(cfg, resolve=True))
    if not HydraConfig.initialized():
        return values, dict.fromkeys(values, True)
    hc = HydraConfig.get()
    values.update({group: choice for group, choice in hc.runtime.choices.items()
                   if choice is not None and not group.startswith("hydra")})
    if hc.mode == RunMode.MULTIRUN and (swept := swept_keys(hc.sweep.dir)):
        keys = swept
    else:
        keys = [override_key(str(o)) for o in hc.overrides.task]
    hidden = set(folder_name_excludes())
    shown = {k: True for k in keys if k not in hidden and k in values}
    if mode == "all":
        shown.update({k: False for k in sorted(values) if k not in shown})
    return values, shown
