"""Token ids for every text data module: one vocabulary for sentences (post 6), word2vec and the language model (post 4).

The ``specials`` come first (``<pad>``, ``<unk>`` for padded sentence rows; ``<unk>``, ``</s>`` for word2vec and
the language model, which share ids, word2vec then dropping the ``<unk>`` positions), then every token seen
``min_count`` times or more in the training text, most frequent first, ties in alphabetical order (ids are
reproducible). ``max_size`` (``data.max_vocab``) keeps only the most frequent tokens. ``counts[i]`` is the training
count of token ``i``; a special counts what it stands for (``<unk>``: the tokens left out, ``</s>``: the lines it
ends, ``<pad>``: 0). A vocabulary without ``<unk>`` drops unknown tokens when it encodes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import torch

from engine.errors import ConfigError, as_int

log = logging.getLogger(__name__)
PAD, UNK, EOS = "<pad>", "<unk>", "</s>"


class Vocabulary:
    """Ids of the tokens of ``lines`` (see the module docstring)."""

    def __init__(self, lines: Iterable[Sequence[str]], min_count: int = 5, specials: tuple[str, ...] = (),
                 max_size: int | None = None, setting: str = "data") -> None:
        lines = list(lines)
        self._fill(Counter(t for tokens in lines for t in tokens), min_count, specials, max_size, len(lines), setting)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_count: int = 1, specials: tuple[str, ...] = (),
                    max_size: int | None = None, setting: str = "data") -> Vocabulary:
        """The vocabulary of tokens counted elsewhere (a discovered lexicon's word counts, say)."""
        vocab = cls.__new__(cls)
        vocab._fill(Counter(counts), min_count, specials, max_size, 0, setting)
        return vocab

    def _fill(self, counts: Counter, min_count: int, specials: tuple[str, ...], max_size: int | None, num_lines: int,
              setting: str) -> None:
        min_count = as_int(f"{setting}.min_count", min_count, 1)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in specials), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: as_int(f"{setting}.max_vocab", max_size, 1)]
        if not kept:
            raise ConfigError(f"no token occurs {setting}.min_count={min_count} times in the training text: lower it")
        self.itos = [*specials, *kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        kept_set = set(kept)
        stands_for = {UNK: sum(c for t, c in counts.items() if t not in kept_set), EOS: num_lines}
        self.counts = torch.tensor([stands_for.get(t, 0) for t in specials] + [counts[t] for t in kept], dtype=torch.float64)
        self.total = sum(counts.values())
        self.min_count = min_count

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens``: an unknown token becomes ``<unk>`` if the vocabulary has it, else is dropped."""
        unk = self.stoi.get(UNK)
        return [i for i in (self.stoi.get(t, unk) for t in tokens) if i is not None]

    def encode(self, lines: Sequence[Sequence[str]], eos: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, line_of_each_id)`` of all lines as one stream; ``eos`` appends ``</s>`` to every line."""
        ids: list[int] = []
        line_ids: list[int] = []
        for n, tokens in enumerate(lines):
            row = self.ids(tokens) + ([self.stoi[EOS]] if eos else [])
            ids.extend(row)
            line_ids.extend([n] * len(row))
        return torch.tensor(ids, dtype=torch.long), torch.tensor(line_ids, dtype=torch.long)

    def encode_rows(self, lines: Sequence[Sequence[str]], maxlen: int) -> torch.Tensor:
        """``(N, maxlen)`` int64 ids, one row per line: cut at ``maxlen``, padded after the text with ``<pad>``'s id."""
        pad = self.stoi.get(PAD)
        if pad is None:
            raise ConfigError("padded rows need a vocabulary with the special <pad> (specials=(PAD, UNK))")
        rows = torch.full((len(lines), maxlen), pad, dtype=torch.long)
        for i, tokens in enumerate(lines):
            ids = self.ids(tokens[:maxlen])
            rows[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return rows

    def log_summary(self, name: str) -> None:
        covered = self.counts[[i for i, t in enumerate(self.itos) if t not in (PAD, UNK, EOS)]].sum().item()
        log.info("%s: %d training tokens, vocabulary %d (min_count %d) covering %.1f %% of them",
                 name, self.total, len(self), self.min_count, 100 * covered / max(1, self.total))
