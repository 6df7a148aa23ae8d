"""Configs to objects: ``hydra.utils.instantiate`` with one-line errors, model parts, and keys nobody reads.

The config groups are the registry (each file names its class with ``_target_``). Every key of a
config is read by something: a key that is not a parameter of its ``_target_``, or not a key of the
app's own config file, is refused with one line naming it (not silently ignored).
"""

from __future__ import annotations

import inspect
import sysconfig
import traceback
from pathlib import Path
from typing import Any

import hydra
from hydra._internal.utils import _locate
from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from engine.errors import ConfigError, ProjectError, one_line
from engine.parts import ModelParts

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


def check_target_keys(group: str, node: DictConfig) -> None:
    """Every key of ``node`` (and of nested ``_target_`` nodes) must be a parameter of its target."""
    try:
        target = _locate(str(node._target_))  # hydra's import by dotted path, without its error log
    except Exception as e:
        cause = e.__cause__ or e
        raise ConfigError(f"{group}._target_={node._target_!r} cannot be imported ({one_line(cause)}): check the "
                          "class path, and that its package is importable (installed, or on PYTHONPATH)") from None
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return  # a builtin without a signature: nothing to check against
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in node:
        if key in HYDRA_KEYS:
            continue
        if not takes_any and key not in params:
            known = ", ".join(k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL
                              and k not in ("self", "params"))
            raise ConfigError(f"{group}.{key} is not a setting of {node._target_} (its settings: {known}); "
                              "remove it or correct its name")
        value = node._get_node(key)
        if isinstance(value, DictConfig) and "_target_" in value:
            check_target_keys(f"{group}.{key}", value)


def build(group: str, node: DictConfig) -> Any:
    """``hydra.utils.instantiate``; a wrong class path, an unknown key or a missing ``???`` value becomes one line.

    A ``TypeError`` or ``ValueError`` raised in the project's or your own code (a bug inside your model,
    say) keeps its traceback; raised by a library on a value from the config (``width: abc``), it is one line.
    """
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"{group} needs a _target_: pick one of configs/{group.split('.')[0]}/ ({group}=<name>)")
    check_target_keys(group, node)
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
        if cause is None or isinstance(cause, ImportError) or (isinstance(cause, (TypeError, ValueError))
                                                               and _raised_by_a_library(cause)):
            raise ConfigError(f"{group}: {one_line(cause or e)}") from None
        raise


def _raised_by_a_library(e: BaseException) -> bool:
    """Whether ``e`` was raised in an installed package or the standard library (Hydra binding the config's
    arguments, torch refusing a value), not in the project's or the user's own files."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return True
    where = Path(frames[-1].filename).resolve()
    libraries = {Path(p).resolve() for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                             sysconfig.get_paths()["platlib"])}
    return any(where.is_relative_to(lib) for lib in libraries) or "site-packages" in where.parts


def build_model(node: DictConfig) -> Any:
    """One module (``model._target_``) or named parts (``model.<part>._target_`` each): a ``ModelParts``."""
    if isinstance(node, DictConfig) and "_target_" not in node and len(node) > 0:
        not_parts = [k for k in node if not (isinstance(node.get(k), DictConfig) and "_target_" in node.get(k))]
        if not_parts:
            raise ConfigError(f"model.{not_parts[0]} is neither a setting of a model (there is no model._target_) nor a "
                              "part with a _target_ of its own")
        return ModelParts({name: build(f"model.{name}", node[name]) for name in node})
    return build("model", node)


def fill_sizes(node: Any, sizes: dict[str, int], path: str = "") -> None:
    """Give every ``???`` key of ``node`` (nested too) that ``sizes`` names its value, in place.

    A key given a different value is refused: an embedding or a class layer of the wrong size
    would fail later with an index error, or silently (a run's config against a changed data file).
    """
    if not isinstance(node, DictConfig):
        return
    for key in node:
        if key in sizes and OmegaConf.is_missing(node, key):
            node[key] = sizes[key]
        elif key in sizes and not isinstance(node._get_node(key), DictConfig) and node[key] != sizes[key]:
            raise ConfigError(f"{path}{key}={node[key]} but the data gives {key}={sizes[key]}: leave {path}{key} "
                              "??? to take the data's value (a run's own config: has the data file changed since?)")
        elif isinstance(node._get_node(key), DictConfig):
            fill_sizes(node[key], sizes, f"{path}{key}.")


def build_components(cfg: DictConfig) -> tuple[Any, Any, Any, Any]:
    """``(data, model, loss, evaluator)`` from a train config (``train.py`` and ``eval.py`` alike).

    The data is built first: the sizes it decides (``DataModule.sizes``, e.g. the vocabulary) fill the
    model's and the loss's ``???`` keys of the same name, in ``cfg`` itself, so that the run's saved
    config holds them.
    """
    data = build("data", cfg.data)
    sizes = data.sizes() if callable(getattr(data, "sizes", None)) else {}
    fill_sizes(cfg.model, sizes, "model.")
    fill_sizes(cfg.loss, sizes, "loss.")
    return data, build_model(cfg.model), build("loss", cfg.loss), build("evaluator", cfg.evaluator)


def _groups(defaults: Any) -> set[str]:
    names = set()
    for entry in defaults or []:
        if isinstance(entry, (dict, DictConfig)):
            for key in entry:
                key = str(key).replace("override ", "").strip().lstrip("/")
                names.add(key.split("@")[-1].split("/")[0] if "@" in key else key.split("/")[0])
    return names


def check_known_keys(cfg: DictConfig, config_name: str) -> None:
    """Refuse keys of ``cfg`` that are neither in ``configs/<config_name>.yaml`` nor a config group of it.

    Config groups (``data``, ``corpus``, ``trainer``, ...) are checked by what reads them (their
    ``_target_``'s signature, the ``Trainer``); this catches ``+typo=1`` and keys left over from an
    older version of a config.
    """
    schema = OmegaConf.load(CONFIGS / f"{config_name}.yaml")
    groups = _groups(schema.get("defaults"))

    def walk(node: DictConfig, ref: Any, path: str) -> None:
        for key in node:
            if path == "" and (key == "hydra" or key in groups):
                continue
            if not isinstance(ref, DictConfig) or key not in ref.keys():  # (`in` is False for ??? values)
                raise ConfigError(f"unknown config key {path}{key}: nothing reads it (a typo, or a key from an older "
                                  f"version of configs/{config_name}.yaml?); remove it")
            sub, sub_ref = node._get_node(key), ref._get_node(key)
            if isinstance(sub, DictConfig) and isinstance(sub_ref, DictConfig) and not isinstance(sub_ref, ListConfig):
                if len(sub_ref) > 0:  # an empty mapping in the file (e.g. players: {}) is filled by the user
                    walk(sub, sub_ref, f"{path}{key}.")

    walk(cfg, schema, "")
