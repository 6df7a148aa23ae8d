"""Path settings resolved when a command starts, so that a saved config names the same files from anywhere.

A relative path given on the command line (``data.path=my.txt``) means a file under the directory the command was
started in (else under the repository); the shipped configs' values (``data/english/wiki.txt``,
``datasets/files/competition.csv``) mean files under the repository (else under that directory). Each is made
absolute before anything reads or saves it: the checkpoint's config then names the file itself, and ``eval.py`` or
``resume`` started from another directory find it. A relative path found in neither place stays as given (the
reader then says how to install or name the file). ``engine.cli.run_guarded`` resolves every app's config with the
keys its command line set; ``engine.runs.make_trainer`` resolves again for configs built in Python (tests,
notebooks), where a relative path is tried under the working directory first; a path made absolute stays as it is.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from engine.config_leaves import config_leaves

REPO = Path(__file__).resolve().parent.parent
# setting names that hold an input file or folder (a network may also be a shipped name: it stays a name)
NAMES = ("path", "root", "file", "lexicon", "init_from", "network", "ws353", "simlex", "analogies")
SUFFIXES = ("_path", "_file")
SKIPPED = ("hydra", "runs_root")  # Hydra's own settings; the output root stays relative to the working directory


def is_path_setting(key: str) -> bool:
    """``data.path``, ``data.val_path``, ``data.reader.root``, ``network_file``, ``trainer.parts.model.init_from``, ..."""
    if key.split(".")[0] in SKIPPED:
        return False
    name = key.rsplit(".", 1)[-1]
    return name in NAMES or name.endswith(SUFFIXES)


def resolve_path(value: str, cwd: str | Path, repository_first: bool = False) -> str:
    """``value`` made absolute against ``cwd`` when it exists there, else against the repository when it exists
    there (the other way round with ``repository_first``), else unchanged."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    for base in ((REPO, Path(cwd)) if repository_first else (Path(cwd), REPO)):
        if (base / path).exists():
            return str((base / path).resolve())
    return value


def resolve_path_settings(cfg: DictConfig, cwd: str | Path, given: set[str] | None = None) -> list[str]:
    """Every relative path setting of ``cfg`` (a string, or a list of strings) made absolute in place
    (:func:`resolve_path`): the keys in ``given`` (set on the command line) under ``cwd`` first, the others under the
    repository first; ``given=None``: every key under ``cwd`` first. Returns the keys changed."""
    changed = []
    for key, value in config_leaves(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)).items():
        if not is_path_setting(key) or not (isinstance(value, str) or isinstance(value, list) and value):
            continue
        repository_first = given is not None and key not in given
        values = value if isinstance(value, list) else [value]
        resolved = [resolve_path(v, cwd, repository_first) if isinstance(v, str) and v not in ("", "???") else v
                    for v in values]
        if resolved != values:
            OmegaConf.update(cfg, key, resolved if isinstance(value, list) else resolved[0], merge=False, force_add=True)
            changed.append(key)
    return changed
