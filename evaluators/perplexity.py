"""Perplexity with the exact full softmax, whatever head the model was trained with (post 4, kexue.fm/archives/5617).

For every target word ``y_t`` of the split: ``nll_t = log Z(h_t) - s(y_t | h_t)`` with
``Z(h) = sum_w exp s(w | h)`` over the whole vocabulary; ``ppl = exp(mean nll)``. The scores are the head's
(:meth:`losses.output_head.OutputHeadLoss.logits`), computed in chunks of rows so that memory stays at about
``chunk_elements`` floats for any vocabulary. ``log_z_mean`` / ``log_z_std`` show how far the trained scores
are from self-normalised (NCE's promise: ``log Z(h) ~ gamma``, the learned ``gamma`` reported beside them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError, ProjectError, as_int
from losses.output_head import full_softmax_nll


class PerplexityEvaluator(Evaluator):
    """``ppl`` (the monitor, lower is better), ``nll`` (nats per word), ``top1`` (the next word ranked first),
    ``log_z_mean``, ``log_z_std``, ``gamma`` (NCE heads), ``tokens``; figure: the histogram of ``log Z(h)``."""

    monitor, mode = "ppl", "min"

    def __init__(self, chunk_elements: int = 2 ** 25, max_tokens: int | None = None) -> None:
        self.chunk_elements = as_int("evaluator.chunk_elements", chunk_elements, 1)
        self.max_tokens = None if max_tokens is None else as_int("evaluator.max_tokens", max_tokens, 1)
        self._log_z: torch.Tensor | None = None

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        if loss is None or not callable(getattr(loss, "logits", None)):
            raise ConfigError("evaluator=perplexity needs a loss with an output head over the vocabulary "
                              "(loss=full_softmax|nce|negative_sampling|sampled_softmax|hierarchical_softmax|adaptive_softmax)")
        was_training = model.training
        model.eval()
        nll_sum, correct, n = 0.0, 0, 0
        log_zs = []
        for batch in batches:
            h, y = loss.features(model, batch)
            rows = max(1, self.chunk_elements // loss.vocab_size)
            for i in range(0, len(y), rows):
                logits = loss.logits(h[i:i + rows]).float()
                nll, mask, log_z = full_softmax_nll(logits, y[i:i + rows])
                nll_sum += float(nll.sum())
                correct += int(((logits.argmax(1, keepdim=True) == y[i:i + rows]) & mask).sum())
                n += int(mask.sum())
                log_zs.append(log_z[mask.any(1)].cpu())
            if self.max_tokens is not None and n >= self.max_tokens:
                break
        model.train(was_training)
        if n == 0:
            raise ProjectError("the evaluation split holds no target word: raise data.val_fraction / data.test_fraction")
        log_z = torch.cat(log_zs)
        self._log_z = log_z
        nll = nll_sum / n
        out = {"ppl": math.exp(min(nll, 700.0)), "nll": nll, "top1": correct / n, "log_z_mean": float(log_z.mean()),
               "log_z_std": float(log_z.std()) if len(log_z) > 1 else 0.0, "tokens": float(n)}
        gamma = getattr(loss, "gamma", None)
        if isinstance(gamma, torch.Tensor):
            out["gamma"] = float(gamma.detach())
        return out

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        """The histogram of ``log Z(h)`` of the evaluation just run (``evaluate`` is always called first)."""
        if self._log_z is None:
            return Media()
        gamma = getattr(loss, "gamma", None)
        return Media(figures={"log_z": log_z_histogram(self._log_z, float(gamma.detach()) if gamma is not None else None)})


def log_z_histogram(log_z: torch.Tensor, gamma: float | None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(log_z.numpy(), bins=80, alpha=0.8)
    if gamma is not None:
        ax.axvline(gamma, color="k", linestyle="--", label=f"gamma = {gamma:.3f}")
        ax.legend(fontsize=8)
    ax.set_xlabel("log Z(h) = log sum_w exp s(w | h)")
    ax.set_ylabel("positions")
    fig.tight_layout()
    return fig
