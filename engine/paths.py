"""Path settings resolved once, when a command starts, so that a saved config names the same files from anywhere.

A relative path setting (``data.path=my.txt``) means a file under the directory the command was started in; the
shipped configs' defaults (``data/english/wiki.txt``, ``datasets/files/competition.csv``) mean files under the
repository. Each is made absolute before anything reads it or saves it: the checkpoint's config then names the
file itself, and ``eval.py`` or ``resume`` started from another directory find it. A relative path found in neither
place stays as given (the reader then says how to install or name the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parent.parent
NAMES = ("path", "root", "file", "lexicon", "init_from")  # setting names that hold an input file or folder
SUFFIXES = ("_path", "_file")
SKIPPED = ("hydra", "runs_root")  # Hydra's own settings; the output root stays relative to the working directory


def is_path_setting(key: str) -> bool:
    """``data.path``, ``data.val_path``, ``data.reader.root``, ``network_file``, ``trainer.parts.model.init_from``, ..."""
    if key.split(".")[0] in SKIPPED:
        return False
    name = key.rsplit(".", 1)[-1]
    return name in NAMES or name.endswith(SUFFIXES)


def resolve_path(value: str, cwd: str | Path) -> str:
    """``value`` made absolute against ``cwd`` when it exists there, else against the repository when it exists
    there, else unchanged."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    for base in (Path(cwd), REPO):
        if (base / path).exists():
            return str((base / path).resolve())
    return value


def resolve_path_settings(cfg: DictConfig, cwd: str | Path) -> list[str]:
    """Every relative path setting of ``cfg`` made absolute in place (:func:`resolve_path`); returns the keys changed."""
    changed = []
    for key, value in _leaves(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)):
        if isinstance(value, str) and value not in ("", "???") and is_path_setting(key):
            resolved = resolve_path(value, cwd)
            if resolved != value:
                OmegaConf.update(cfg, key, resolved, merge=False, force_add=True)
                changed.append(key)
    return changed


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(node, dict):
        return [(prefix, node)]
    return [leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}")]
