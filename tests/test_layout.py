"""Imports flow one way, with no cycle; scripts never import scripts; every script runs as a file and as a module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

LIBRARY = ("datasets", "models", "losses", "evaluators", "ssa", "min_entropy")
SCRIPTS = ("tools", "benchmarks")
PACKAGES = ("engine", *LIBRARY, *SCRIPTS)
# leaf helpers: they import nothing of the project but other leaves; engine.errors and engine.config_leaves import
# nothing at all
LEAVES = ("engine.errors", "engine.config_leaves", "engine.files", "engine.paths", "engine.seeding", "engine.devices",
          "engine.progress", "engine.metrics", "engine.memory")
# what the library may use of the engine: leaves, the contracts and model parts (never the trainer)
ENGINE_FOR_LIBRARY = (*LEAVES, "engine.contracts", "engine.parts")


def project_modules() -> dict[str, Path]:
    mods = {"train": REPO / "train.py", "eval": REPO / "eval.py"}
    for pkg in PACKAGES:
        for path in (REPO / pkg).glob("*.py"):
            mods[pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"] = path
    return mods


MODULES = project_modules()


def imports_of(name: str) -> set[str]:
    """Project modules that ``name`` imports anywhere in its file (``from pkg import mod`` counts as ``pkg.mod``)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return {m for m in found if m in MODULES and m != name and m not in PACKAGES}


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_graph_is_found():
    assert {"engine.trainer", "ssa.gillespie", "min_entropy.lexicon", "tools.simulate"} <= set(GRAPH)
    assert "engine.contracts" in GRAPH["losses.cross_entropy"]


def test_leaves_import_nothing_of_the_project():
    assert GRAPH["engine.errors"] == set() and GRAPH["engine.config_leaves"] == set()
    for leaf in LEAVES:
        assert GRAPH[leaf] <= {"engine.errors", "engine.config_leaves"}, leaf


def test_the_engine_does_not_import_the_library():
    for name, deps in GRAPH.items():
        if name.startswith("engine"):
            assert not {d for d in deps if d.split(".")[0] in (*LIBRARY, *SCRIPTS, "train", "eval")}, name


def test_the_library_uses_only_the_engine_contracts_and_leaves():
    for name, deps in GRAPH.items():
        if name.split(".")[0] in LIBRARY:
            engine = {d for d in deps if d.startswith("engine")}
            assert engine <= set(ENGINE_FOR_LIBRARY), (name, engine - set(ENGINE_FOR_LIBRARY))
            assert not {d for d in deps if d.split(".")[0] in (*SCRIPTS, "train", "eval")}, name


def test_scripts_never_import_scripts():
    for name, deps in GRAPH.items():
        if name.split(".")[0] in (*SCRIPTS, "train", "eval"):
            assert not {d for d in deps if d.split(".")[0] in (*SCRIPTS, "train", "eval")}, name


def test_no_import_cycle():
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path, name])
        if name not in done:
            for dep in sorted(GRAPH[name]):
                visit(dep, [*path, name])
            done.add(name)

    for name in GRAPH:
        visit(name, [])


SCRIPT_FILES = sorted(p.relative_to(REPO) for pkg in SCRIPTS for p in (REPO / pkg).glob("*.py") if p.stem != "__init__")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["file", "module"])
def test_every_script_runs_as_a_file_and_as_a_module(how: str, tmp_path: Path):
    """``--help`` imports everything a script needs; from the root, started both ways (all scripts at once)."""
    procs = {}
    for path in SCRIPT_FILES:
        target = [str(path)] if how == "file" else ["-m", ".".join(path.with_suffix("").parts)]
        procs[path] = subprocess.Popen([sys.executable, *target, "--help"], cwd=REPO, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    for path, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{how} {path}: {err[-1500:]}"
        assert "usage" in out.lower() or "== Config ==" in out or "Powered by Hydra" in out, (path, out[:300])


@pytest.mark.parametrize("folder, contract, word", [("losses", "Loss", "Loss"), ("datasets", "DataModule", "Data"),
                                                    ("evaluators", "Evaluator", "Evaluator")])
def test_class_names_end_with_their_folders_word(folder: str, contract: str, word: str):
    """One rule for the parts a config names: ``losses/`` holds ``...Loss``, ``datasets/`` ``...Data``, ``evaluators/``
    ``...Evaluator`` (abstract bases too), so that the class says which group it belongs to."""
    import importlib
    import inspect

    import engine.contracts

    base = getattr(engine.contracts, contract)
    found = {}
    for name in sorted(m for m in MODULES if m.startswith(f"{folder}.")):
        module = importlib.import_module(name)
        found |= {cls.__name__: name for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, base) and cls.__module__ == name}
    assert len(found) >= 5, found
    assert not [c for c in found if not c.endswith(word)], f"classes in {folder}/ not ending in {word}"


def test_what_the_docs_cite_exists():
    """Every dotted name (``engine.contracts.Loss``) and every file path (``engine/run_folders.py``) that the README and
    the docs pages cite in backticks exists, so that a rename cannot leave the docs pointing at nothing."""
    import importlib
    import re

    import engine

    assert engine.Trainer is importlib.import_module("engine.trainer").Trainer  # `from engine import Trainer` works
    assert engine.make_trainer is importlib.import_module("engine.runs").make_trainer
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "\n".join(p.read_text() for p in pages)
    roots = "|".join(PACKAGES)
    missing = []
    for name in sorted(set(re.findall(rf"`((?:{roots})\.[A-Za-z_][\w.]*)`", text))):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for a in parts[i:]:
                    obj = getattr(obj, a)
            except AttributeError:
                missing.append(name)
            break
        else:
            missing.append(name)
    for path in sorted(set(re.findall(rf"`((?:{roots}|configs|tests)/[\w./-]+)`", text))):
        if "<" not in path and Path(path).stem != "mine" and not (REPO / path.rstrip("/")).exists():  # mine: your own
            missing.append(path)
    assert missing == [], "cited in the docs but not in the code"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a markdown page's headings: lower case, punctuation dropped, spaces as ``-``, ``-1``,
    ``-2``, ... for repeats (code blocks skipped)."""
    import re

    seen: dict[str, int] = {}
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        in_code ^= line.startswith("```")
        if in_code or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_the_docs_links_lead_somewhere():
    """Every relative link of the README and the docs pages names a file that exists, and a heading on it."""
    import re

    broken, checked = [], 0
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert checked >= 30 and broken == []
