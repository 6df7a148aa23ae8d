"""What a run writes besides checkpoints: TensorBoard events, ``log.jsonl`` and figures.

``log.jsonl`` holds one JSON object per logged row (``{"step": .., "train/loss": ..}``): the same
scalars as TensorBoard, readable without it (sweep summaries, tests). On resume both are cut back
to the checkpoint's step, so an interrupted stretch is not logged twice. An evaluator's media go to
TensorBoard (images, figures, the embedding projector) and, when asked, to PNG files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid, save_image

from engine.board import DETAIL, board_tag, hparams_summaries
from engine.config_leaves import config_leaves
from engine.contracts import Media
from engine.files import atomic_open, write_atomic


def close_figures(media: Media) -> None:
    """Release the media's matplotlib figures (pyplot keeps every figure it made until it is closed)."""
    if media.figures:
        import matplotlib.pyplot as plt

        for fig in media.figures.values():
            plt.close(fig)


class RunLogger:
    """Writes one run's scalars, text, hparams and media; ``enabled=False`` (ranks > 0) writes nothing.

    ``events=False`` writes no TensorBoard events or ``log.jsonl``, only PNG files (``eval.py``).
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None, enabled: bool = True,
                 events: bool = True) -> None:
        self.enabled = enabled
        self.events = enabled and events
        self.run_dir = Path(run_dir)
        if not self.events:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # TensorBoard drops events at steps >= purge_step: keep those of the checkpoint's own step
        self.writer = SummaryWriter(str(self.run_dir), purge_step=None if resume_step is None else resume_step + 1)
        self.jsonl_path = self.run_dir / "log.jsonl"
        if resume_step is not None and self.jsonl_path.exists():
            rows = [r for r in read_jsonl(self.jsonl_path) if r.get("step", 0) <= resume_step]
            write_atomic(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in rows))
        self._jsonl = open(self.jsonl_path, "a")

    def scalars(self, step: int, values: dict[str, float], final: bool = False, **extra: Any) -> None:
        """``values`` to ``log.jsonl`` as named, and to TensorBoard under :func:`engine.board.board_tag`
        (``final``: the final evaluation's values)."""
        if not self.events:
            return
        for k, v in values.items():
            self.writer.add_scalar(board_tag(k, final, v), v, step)
        row = {"step": step, **extra, **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()

    def media(self, step: int, media: Media, prefix: str, png_dir: Path | None = None) -> None:
        """Images and figures to TensorBoard as ``~<prefix>/<name>`` (after the curves) and, with ``png_dir``, to
        ``png_dir/<prefix>_<name>.png`` (texts: ``.md``); embeddings to TensorBoard's projector. Every figure is
        closed once logged (or at once where nothing is written), so none stays open in pyplot's registry."""
        if not self.enabled:
            close_figures(media)
            return
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
        for name, x in media.images.items():
            x = x.detach().float().cpu().clamp(0, 1)
            if self.events:
                self.writer.add_images(f"{DETAIL}{prefix}/{name}", x, step)
            if png_dir is not None:
                with atomic_open(png_dir / f"{prefix}_{name}.png") as f:
                    save_image(make_grid(x, nrow=min(len(x), 8), padding=2, pad_value=1.0), f, format="png")
        for name, fig in media.figures.items():
            if png_dir is not None:
                with atomic_open(png_dir / f"{prefix}_{name}.png") as f:
                    fig.savefig(f, format="png", dpi=120)
            if self.events:
                self.writer.add_figure(f"{DETAIL}{prefix}/{name}", fig, step, close=False)
        close_figures(media)
        for name, text in media.texts.items():
            if png_dir is not None:
                write_atomic(png_dir / f"{prefix}_{name}.md", text + "\n")
            if self.events:
                self.writer.add_text(f"{DETAIL}{prefix}/{name}", text, step)
        if self.events:
            for name, emb in media.embeddings.items():
                images = None if emb.images is None else emb.images.detach().float().cpu()
                self.writer.add_embedding(emb.vectors.detach().float().cpu(), metadata=list(emb.labels),
                                          label_img=images, global_step=step, tag=f"{prefix}/{name}")

    def text(self, tag: str, text: str) -> None:
        if self.events:
            # TensorBoard renders markdown: indent so YAML shows as a code block
            self.writer.add_text(tag, "\n".join("    " + line for line in text.splitlines()))

    def hparams(self, values: dict[str, Any], shown: dict[str, bool], metrics: list[str]) -> None:
        """The HParams plugin's summaries (:func:`engine.board.hparams_summaries`): ``shown`` keys in the table,
        every one of ``values`` in the session, ``metrics`` read from this run's own final scalars."""
        if self.events:
            for summary in hparams_summaries(values, shown, metrics):
                self.writer._get_file_writer().add_summary(summary)

    def close(self) -> None:
        if self.events:
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
    """Scalar leaves of a nested config as ``{"optim.lr": 0.1, ...}`` (for the hparams plugin; None as ``"None"``)."""
    return {k: "None" if v is None else v for k, v in config_leaves(cfg, prefix).items()
            if v is None or isinstance(v, (bool, int, float, str))}
