"""What a run writes besides checkpoints: TensorBoard events and ``log.jsonl``.

``log.jsonl`` holds one JSON object per logged row (``{"step": .., "train/loss": ..}``): the same
scalars as TensorBoard, readable without it (sweep summaries, tests). On resume both are cut back
to the checkpoint's step, so an interrupted stretch is not logged twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter


class RunLogger:
    def __init__(self, run_dir: str | Path, resume_step: int | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # TensorBoard drops events at steps >= purge_step: keep those of the checkpoint's own step
        self.writer = SummaryWriter(str(self.run_dir), purge_step=None if resume_step is None else resume_step + 1)
        self.jsonl_path = self.run_dir / "log.jsonl"
        if resume_step is not None and self.jsonl_path.exists():
            rows = [r for r in read_jsonl(self.jsonl_path) if r.get("step", 0) <= resume_step]
            self.jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self._jsonl = open(self.jsonl_path, "a")

    def scalars(self, step: int, values: dict[str, float], **extra: Any) -> None:
        if not self.enabled:
            return
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)
        row = {"step": step, **extra, **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()

    def images(self, step: int, images: dict[str, torch.Tensor]) -> None:
        if self.enabled:
            for name, x in images.items():
                self.writer.add_images(name, x.detach().cpu(), step)

    def text(self, tag: str, text: str) -> None:
        if self.enabled:
            # TensorBoard renders markdown: indent so YAML shows as a code block
            self.writer.add_text(tag, "\n".join("    " + line for line in text.splitlines()))

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        if self.enabled:
            self.writer.add_hparams(hparams, metrics, run_name=".")

    def close(self) -> None:
        if self.enabled:
            self.writer.close()
            self._jsonl.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``log.jsonl``; a half-written last line (a killed process) is skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def flat_hparams(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of a nested config as ``{"optim.lr": 0.1, ...}`` (for the hparams plugin)."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_hparams(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        elif v is None:
            out[key] = "None"
    return out
