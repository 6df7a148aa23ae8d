"""``hydra.utils.instantiate`` with user errors as one line naming the config group."""

from __future__ import annotations

from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from engine.errors import ConfigError, ProjectError, one_line


def build(group: str, node: DictConfig) -> Any:
    """``hydra.utils.instantiate``; a wrong class path, argument or a missing ``???`` value becomes one line.

    Any other exception (a bug inside your own model, say) keeps its traceback.
    """
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"{group} needs a _target_: pick one of configs/{group}/ ({group}=<name>)")
    try:
        return hydra.utils.instantiate(node)
    except MissingMandatoryValue as e:
        raise ConfigError(f"{group}.{e.key} has no value: give {group}.{e.key}=...") from None
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, ProjectError):
            raise cause from None
        if isinstance(cause, MissingMandatoryValue):
            raise ConfigError(f"{group}.{cause.key} has no value: give {group}.{cause.key}=...") from None
        if cause is None or isinstance(cause, (ImportError, TypeError, ValueError)):
            raise ConfigError(f"{group}: {one_line(cause or e)}") from None
        raise
