"""``train.py`` under ``torchrun`` with a fault on one rank, for tests/engine/test_distributed.py.

    torchrun --nproc_per_node=2 tests/engine/torchrun_job.py <overrides> runs_root=DIR

The run goes to ``runs_root/job`` (resuming from its ``last.pt`` with ``resume=auto``). Environment:
``FAULT=<rank>:<step>:<TERM|KILL|STOP>`` makes that rank send itself the signal after that step;
``SAVES=<file>`` appends ``<rank> <checkpoint name> <step>`` for every checkpoint written.
Exit status as ``train.py``'s: 2 with one ``error:`` line for a user error, 128 + signal when stopped.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

import engine.trainer  # noqa: E402
from engine import distributed as D  # noqa: E402
from engine.errors import ProjectError  # noqa: E402
from engine.run_folders import register_resolvers  # noqa: E402
from engine.runs import make_trainer  # noqa: E402


def fault(spec: str):
    rank, step, name = spec.split(":")

    def callback(trainer) -> None:
        if trainer.dist.rank == int(rank) and trainer.step == int(step):
            os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
    return callback


def count_saves(path: str) -> None:
    save = engine.trainer.save_checkpoint

    def counted(state, target) -> None:
        with open(path, "a") as f:
            f.write(f"{int(os.environ['RANK'])} {Path(target).name} {state['step']}\n")
        save(state, target)
    engine.trainer.save_checkpoint = counted


def main() -> int:
    register_resolvers()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=sys.argv[1:])
    run_dir = Path(cfg.runs_root) / "job"
    if os.environ.get("SAVES"):
        count_saves(os.environ["SAVES"])
    callbacks = [fault(os.environ["FAULT"])] if os.environ.get("FAULT") else []
    try:
        trainer = make_trainer(cfg, run_dir, callbacks=callbacks)
        if cfg.resume == "auto" and (run_dir / "last.pt").is_file():
            trainer.resume(run_dir / "last.pt")
        metrics = trainer.fit()
    except ProjectError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    D.shutdown(trainer.dist)
    return 128 + metrics["signal"] if metrics.get("status") == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
