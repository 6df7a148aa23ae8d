"""Shared helpers: compose the real configs and make tiny runs of them."""

from __future__ import annotations

import atexit
import copy
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.run_folders import register_resolvers  # noqa: E402
from engine.run_logger import read_jsonl  # noqa: E402

register_resolvers()

# a few steps on a small subset: enough to exercise every part of the loop in seconds
TINY = [
    "data.train_subset=512", "data.val_subset=256", "data.test_subset=256", "data.batch_size=32", "data.eval_batch_size=128",
    "trainer.max_steps=6", "trainer.log_every_steps=1", "trainer.val_every_steps=3", "trainer.progress=false",
]


RENDEZVOUS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def no_rendezvous_leaks():
    """A test must leave torch.distributed's variables as it found them: a leaked WORLD_SIZE=2 makes every later
    training in this process (and every subprocess it starts) wait for a second rank."""
    before = {k: os.environ.get(k) for k in RENDEZVOUS}
    yield
    after = {k: os.environ.get(k) for k in RENDEZVOUS}
    assert after == before, f"the test changed {sorted(k for k in before if before[k] != after[k])} in os.environ"


def compose_cfg(*overrides: str) -> DictConfig:
    """The train config with ``overrides``, composed once per distinct list (a fresh copy each call)."""
    return copy.deepcopy(_composed(overrides))


@functools.cache
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def fake_celeba(root: Path) -> None:
    """CelebA has no offline copy: a reader cache of random faces stands in for the smoke run."""
    cache = root / "celeba" / "celeba_64.pt"
    if cache.is_file():  # written once per root
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    x = torch.randint(0, 256, (128, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    torch.save({"train_x": x[:96], "test_x": x[96:]}, cache)


# readers of data this machine cannot have (keyed by the reader's _target_): each writes a stand-in under a root
STAND_IN_DATA = {"datasets.readers.celeba": fake_celeba}


@functools.cache
def _stand_in_root() -> Path:
    """One folder of stand-in data per test session, removed at its end."""
    root = tempfile.mkdtemp(prefix="stand_in_data_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return Path(root)


def with_stand_in(cfg: DictConfig, root: Path | None = None) -> DictConfig:
    """``cfg`` with its data reader pointed at stand-in data when that data cannot be installed (``make data``)."""
    reader = cfg.data.get("reader")
    target = reader.get("_target_") if isinstance(reader, DictConfig) else None
    if target in STAND_IN_DATA:
        root = root or _stand_in_root() / target
        STAND_IN_DATA[target](root)
        reader.root = str(root)
    return cfg


def smoke_cfg(experiment: str, *extra: str) -> DictConfig:
    """The real config of ``experiment``, shrunk by its own ``smoke`` overrides (then ``extra``)."""
    smoke = [str(o) for o in compose_cfg(f"experiment={experiment}").smoke]
    return compose_cfg(f"experiment={experiment}", *smoke, *extra)


def losses(run_dir: Path, key: str = "train/loss") -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in read_jsonl(run_dir / "log.jsonl") if key in r]


def run_script(*args: str, timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def run_torchrun(overrides: list[str], runs_root: Path, timeout: int = 240, script: str = "train.py",
                 check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 <script> overrides runs_root=...``. ``check``: fail the test with its stderr's
    tail when it fails; it always fails when it hangs (a collective that not every rank joined)."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun is installed with torch"
    args = [torchrun, "--nproc_per_node=2", script, *overrides, f"runs_root={runs_root}"]
    # its own process group, so that a hang kills torchrun's workers too, not only torchrun
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        raise AssertionError(f"torchrun did not finish in {timeout} s (a collective that not every rank joined?): "
                             f"{err[-2000:]}") from None
    if check:
        assert proc.returncode == 0, err[-3000:]
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def markov_corpus(path: Path, words: int = 20, lines: int = 500, length: int = 40, seed: int = 0) -> None:
    """Text drawn from a random Markov chain over ``words`` words (``w0``, ``w1``, ...): known pair statistics."""
    gen = torch.Generator().manual_seed(seed)
    transition = torch.distributions.Dirichlet(torch.full((words,), 0.3)).sample((words,))
    state = 0
    rows = []
    for _ in range(lines):
        row = []
        for _ in range(length):
            state = int(torch.multinomial(transition[state], 1, generator=gen))
            row.append(f"w{state}")
        rows.append(" ".join(row))
    path.write_text("\n".join(rows) + "\n")


def sigterm_at(step: int):
    """A trainer callback sending this process the real SIGTERM at ``step`` (caught by the trainer's handler)."""
    def callback(trainer) -> None:
        if trainer.step == step:
            os.kill(os.getpid(), signal.SIGTERM)
    return callback
