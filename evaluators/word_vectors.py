"""Word vectors judged as word2vec's are (post 4, kexue.fm/archives/5617): similarity, analogies, neighbours.

- Word similarity (WordSim-353, SimLex-999): Spearman's rank correlation between the cosine of the two
  words' vectors and the human score, over the pairs whose words are both in the vocabulary (lower-cased);
  ``<name>_oov`` is the share of pairs left out, since a model with a smaller vocabulary is judged on an
  easier subset.
- Analogies (``questions-words.txt``, a : b :: c : d): the word nearest by cosine to ``b - a + c`` among the
  ``analogy_vocab`` most frequent words, ``a``, ``b``, ``c`` excluded (3CosAdd, unit vectors); accuracy over the
  questions whose four words are in that range, ``analogy_oov`` the share left out.
- ``pair_nll``: the exact full-softmax NLL of the data's evaluation pairs (``-log p(y | x)`` over the whole
  vocabulary), when the loss has an output head.

The vectors are the model's ``word_vectors`` (word2vec's input vectors ``u``, a language model's embedding).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.stats import spearmanr

from engine.contracts import Batch, DataModule, Embedding, Evaluator, Loss, Media
from engine.errors import ConfigError, DataMissingError, ProjectError, as_int


def _lines(path: str | Path) -> list[str]:
    path = Path(str(path))
    if not path.is_file():
        raise DataMissingError(f"{path} does not exist: `make data` installs the word-similarity and analogy test "
                               "sets, or set the evaluator's path to your own file (or null to skip it)")
    return path.read_text(encoding="utf-8").splitlines()


def read_similarity_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """``(word1, word2, score)`` from a tab-separated file; ``#`` comments and a header line are skipped."""
    pairs = []
    for number, line in enumerate(_lines(path), 1):
        fields = line.strip().split("\t")
        if not line.strip() or line.startswith("#"):
            continue
        try:
            pairs.append((fields[0].lower(), fields[1].lower(), float(fields[2])))
        except (IndexError, ValueError):
            if pairs:  # a header may come first; anything later is malformed
                raise ProjectError(f"{path}:{number}: expected word1<TAB>word2<TAB>score, got {line[:80]!r}") from None
    return pairs


def read_analogies(path: str | Path) -> list[tuple[str, str, str, str]]:
    """``(a, b, c, d)`` lower-cased, from word2vec's ``questions-words.txt`` layout (``: section`` lines skipped)."""
    out = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip() or line.startswith(":"):
            continue
        words = line.lower().split()
        if len(words) != 4:
            raise ProjectError(f"{path}:{number}: expected four words (a b c d), got {line[:80]!r}")
        out.append(tuple(words))
    return out


def similarity_score(vectors: torch.Tensor, stoi: dict[str, int], pairs: Sequence[tuple[str, str, float]]
                     ) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """``(spearman, oov share, cosines, human scores)`` over the in-vocabulary pairs."""
    known = [(stoi[a], stoi[b], s) for a, b, s in pairs if a in stoi and b in stoi]
    oov = 1 - len(known) / max(1, len(pairs))
    if len(known) < 2:
        return float("nan"), oov, torch.zeros(0), torch.zeros(0)
    a, b, human = (torch.tensor(col) for col in zip(*known))
    unit = F.normalize(vectors.float(), dim=1)
    cos = (unit[a.long()] * unit[b.long()]).sum(1).cpu()
    rho = spearmanr(cos.numpy(), human.numpy()).statistic
    return float(rho), oov, cos, human


def analogy_accuracy(vectors: torch.Tensor, stoi: dict[str, int], questions: Sequence[tuple[str, ...]],
                     restrict: int, block: int = 1024) -> tuple[float, float, int]:
    """``(accuracy, oov share, questions evaluated)`` by 3CosAdd among the first ``restrict`` ids."""
    known = [[stoi[w] for w in q] for q in questions if all(w in stoi and stoi[w] < restrict for w in q)]
    oov = 1 - len(known) / max(1, len(questions))
    if not known:
        return float("nan"), oov, 0
    unit = F.normalize(vectors[:restrict].float(), dim=1)
    ids = torch.tensor(known, device=unit.device)
    correct = 0
    for i in range(0, len(ids), block):
        q = ids[i:i + block]
        target = F.normalize(unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]], dim=1)
        sims = target @ unit.t()
        sims.scatter_(1, q[:, :3], -torch.inf)
        correct += int((sims.argmax(1) == q[:, 3]).sum())
    return correct / len(known), oov, len(known)


class WordVectorsEvaluator(Evaluator):
    """``ws353``, ``simlex`` (Spearman), ``analogy`` (accuracy), each with its ``_oov`` share; ``pair_nll``.

    ``mode = "last"``: these are test sets and the corpus has no validation task to choose a checkpoint on,
    so ``best.pt`` is the latest validated weights (the final ones), as gensim's models are judged.
    Media: nearest neighbours of ``neighbours_of`` (text), the ``projector_size`` most frequent words
    (projector), and the WordSim-353 cosines against the human scores (figure).
    """

    monitor, mode = "ws353", "last"

    def __init__(self, ws353: str | None = "data/english/wordsim353.tsv", simlex: str | None = "data/english/simlex999.txt",
                 analogies: str | None = "data/english/questions-words.txt", analogy_vocab: int = 30000,
                 neighbours_of: Sequence[str] = (), neighbours: int = 8, projector_size: int = 1000,
                 monitor: str = "ws353") -> None:
        self.ws353 = read_similarity_pairs(ws353) if ws353 else []
        self.simlex = read_similarity_pairs(simlex) if simlex else []
        self.analogies = read_analogies(analogies) if analogies else []
        self.analogy_vocab = as_int("evaluator.analogy_vocab", analogy_vocab, 1)
        self.neighbours_of, self.neighbours = list(neighbours_of), as_int("evaluator.neighbours", neighbours, 1)
        self.projector_size = as_int("evaluator.projector_size", projector_size, 0)
        self.monitor = monitor
        self.words: list[str] = []

    def setup(self, data: DataModule) -> None:
        words = getattr(data, "words", None)
        if words is None:
            raise ConfigError(f"evaluator=word_vectors needs a text data module with a vocabulary, not {type(data).__name__}")
        self.words = list(words)
        self.stoi = {w: i for i, w in enumerate(self.words)}

    @staticmethod
    def vectors(model: nn.Module) -> torch.Tensor:
        vectors = getattr(model, "word_vectors", None)
        if vectors is None:
            raise ConfigError(f"evaluator=word_vectors needs a model with word_vectors, not {type(model).__name__}")
        return vectors.detach()

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        vectors = self.vectors(model)
        out: dict[str, float] = {}
        for name, pairs in (("ws353", self.ws353), ("simlex", self.simlex)):
            if pairs:
                out[name], out[f"{name}_oov"], _, _ = similarity_score(vectors, self.stoi, pairs)
        if self.analogies:
            out["analogy"], out["analogy_oov"], n = analogy_accuracy(vectors, self.stoi, self.analogies, self.analogy_vocab)
            out["analogy_n"] = float(n)
        if loss is not None and callable(getattr(loss, "target_nll", None)):
            was_training = model.training
            model.eval()
            nll, n = 0.0, 0
            for batch in batches:
                h, y = loss.features(model, batch)
                pair_nll, mask = loss.target_nll(h, y)
                nll += float(pair_nll.sum())
                n += int(mask.sum())
            model.train(was_training)
            if n:
                out["pair_nll"] = nll / n
        if self.monitor not in out:
            raise ConfigError(f"evaluator.monitor={self.monitor!r} is not among its metrics {sorted(out)}: "
                              "a test set is missing (set its path), or pick another")
        return out

    def nearest(self, vectors: torch.Tensor, words: Sequence[str]) -> str:
        """A markdown table: each word's ``neighbours`` nearest words by cosine (the word itself left out)."""
        unit = F.normalize(vectors.float(), dim=1)
        rows = ["| word | nearest by cosine |", "|---|---|"]
        for word in words:
            if word not in self.stoi:
                rows.append(f"| {word} | (not in the vocabulary) |")
                continue
            sims = unit @ unit[self.stoi[word]]
            sims[self.stoi[word]] = -torch.inf
            top = sims.topk(min(self.neighbours, len(sims) - 1))
            rows.append(f"| {word} | " + ", ".join(f"{self.words[i]} ({v:.2f})" for v, i in
                                                   zip(top.values.tolist(), top.indices.tolist())) + " |")
        return "\n".join(rows)

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        vectors = self.vectors(model)
        media = Media()
        if self.neighbours_of:
            media.texts["neighbours"] = self.nearest(vectors, self.neighbours_of)
        words = [i for i, w in enumerate(self.words) if not (w.startswith("<") or w == "</s>")][: self.projector_size]
        if words:
            media.embeddings["words"] = Embedding(vectors[words].float().cpu(), [self.words[i] for i in words])
        if self.ws353:
            rho, _, cos, human = similarity_score(vectors, self.stoi, self.ws353)
            if len(cos):
                media.figures["ws353"] = similarity_figure(cos, human, rho)
        return media


def similarity_figure(cos: torch.Tensor, human: torch.Tensor, rho: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.scatter(human.numpy(), cos.numpy(), s=6, alpha=0.6)
    ax.set_xlabel("human similarity (WordSim-353)")
    ax.set_ylabel("cosine of the word vectors")
    ax.set_title(f"Spearman {rho:.3f} over {len(cos)} pairs", fontsize=9)
    fig.tight_layout()
    return fig
