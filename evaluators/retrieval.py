"""Retrieval by cosine among held-out paraphrase groups, post 6's protocol (kexue.fm/archives/5743).

Every sentence of the split is encoded; each one in turn is the query, and the others, itself
excluded, are ranked by cosine. ``top<k>`` is the share of queries with a sentence of their own group
among the first ``k``. Groups are never seen in training, so this measures the encoder, not the
(discarded) classifier. Exact and in blocks of ``block_size`` queries, so memory is
``block_size x N`` and 100,000 sentences fit on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Embedding, Evaluator, Loss, Media
from engine.errors import ConfigError, as_int


def top_k(queries: torch.Tensor, corpus: torch.Tensor, k: int, block_size: int = 1024,
          self_offset: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and indices of the ``k`` corpus rows nearest each query (rows are unit vectors).

    ``self_offset``: query ``i`` is corpus row ``self_offset + i`` and is left out of its own ranking.
    """
    k = min(k, len(corpus) - (self_offset is not None))
    values, indices = [], []
    for start in range(0, len(queries), block_size):
        sims = queries[start:start + block_size] @ corpus.t()
        if self_offset is not None:
            rows = torch.arange(len(sims), device=sims.device)
            sims[rows, self_offset + start + rows] = -torch.inf
        top = sims.topk(k, dim=1)
        values.append(top.values)
        indices.append(top.indices)
    return torch.cat(values), torch.cat(indices)


def rank_by_cosine(vectors: torch.Tensor, groups: torch.Tensor, k: int,
                   block_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each sentence as a query against all the others (itself excluded), in one pass of blocks.

    Returns ``same`` ``(N, k)``: whether the j-th nearest shares the query's group; ``paraphrase``:
    the cosine of the nearest sentence of the query's group (``-inf`` if it has none); ``other``:
    the cosine of the nearest sentence of another group.
    """
    k = min(k, len(vectors) - 1)
    same, paraphrase, other = [], [], []
    for start in range(0, len(vectors), block_size):
        sims = vectors[start:start + block_size] @ vectors.t()
        rows = torch.arange(len(sims), device=sims.device)
        sims[rows, start + rows] = -torch.inf
        mine = groups[start:start + block_size].unsqueeze(1) == groups.unsqueeze(0)
        same.append(mine.gather(1, sims.topk(k, dim=1).indices))
        paraphrase.append(sims.masked_fill(~mine, -torch.inf).amax(1))
        other.append(sims.masked_fill(mine, -torch.inf).amax(1))
    return torch.cat(same), torch.cat(paraphrase), torch.cat(other)


def retrieval_scores(vectors: torch.Tensor, groups: torch.Tensor, ks: Sequence[int] = (1, 5, 10),
                     block_size: int = 1024) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """``{"top<k>": share of queries with a sentence of their group among their k nearest others}``, with
    ``cos_paraphrase`` and ``cos_other`` (means over queries of the nearest cosine in and out of the
    group), and the two per-query cosines."""
    same, paraphrase, other = rank_by_cosine(vectors, groups, max(ks), block_size)
    scores = {f"top{k}": same[:, :k].any(1).float().mean().item() for k in ks}
    has_partner = paraphrase > -torch.inf
    scores["cos_paraphrase"] = paraphrase[has_partner].mean().item() if has_partner.any() else float("nan")
    scores["cos_other"] = other.mean().item()
    return scores, paraphrase[has_partner], other


class RetrievalEvaluator(Evaluator):
    """``top1``, ``top5``, ``top10`` (monitor: ``top1``) and ``n``, the sentences ranked.

    ``cos_paraphrase`` / ``cos_other``: the mean cosine of each query's nearest paraphrase / nearest
    other sentence. Media: their histograms (``cosines``), and the first ``projector_size`` sentences
    of the split in TensorBoard's projector, labelled with their text.
    """

    monitor, mode = "top1", "max"

    def __init__(self, ks: Sequence[int] = (1, 5, 10), block_size: int = 1024, projector_size: int = 1000) -> None:
        self.ks = [as_int("evaluator.ks[]", k, 1) for k in ks]
        if not self.ks:
            raise ConfigError("evaluator.ks is empty: give e.g. [1, 5, 10]")
        self.block_size = as_int("evaluator.block_size", block_size, 1)
        self.projector_size = as_int("evaluator.projector_size", projector_size)
        self.texts: dict[str, list[str]] = {}

    def setup(self, data: DataModule) -> None:
        self.texts = getattr(data, "texts", {})

    @torch.no_grad()
    def encode(self, model: nn.Module, batches: Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit vectors (float32) and groups of every sentence of ``batches``."""
        was_training = model.training
        model.eval()
        vectors, groups = [], []
        for batch in batches:
            vectors.append(model(batch["x"]).float())
            groups.append(batch["y"])
        model.train(was_training)
        if not groups:
            raise ValueError("the evaluation split is empty")
        return torch.cat(vectors), torch.cat(groups)

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        vectors, groups = self.encode(model, batches)
        scores, _, _ = retrieval_scores(vectors, groups, self.ks, self.block_size)
        return {**scores, "n": len(groups)}  # a count, as the classifier's: not a headline metric

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        if not self.projector_size:
            return Media()
        vectors, groups = self.encode(model, data.eval_batches(split))
        _, paraphrase, other = retrieval_scores(vectors, groups, self.ks, self.block_size)
        n = min(self.projector_size, len(vectors))
        texts = self.texts.get(split) or [str(i) for i in range(n)]
        labels = [" ".join(t.split())[:200] for t in texts[:n]]  # one line each: the projector's metadata is a TSV
        return Media(figures={"cosines": cosine_histogram(paraphrase, other)},
                     embeddings={"sentences": Embedding(vectors[:n], labels)} if n else {})


def cosine_histogram(paraphrase: torch.Tensor, other: torch.Tensor) -> Any:
    """Histograms of each query's nearest paraphrase and nearest other sentence: the margin retrieval sees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    bins = torch.linspace(-1, 1, 81).tolist()
    ax.hist(paraphrase.cpu().numpy(), bins=bins, alpha=0.6, label="nearest paraphrase")
    ax.hist(other.cpu().numpy(), bins=bins, alpha=0.6, label="nearest other sentence")
    ax.set_xlabel("cosine to the query")
    ax.set_ylabel("queries")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
