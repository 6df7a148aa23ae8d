"""Raw Chinese text as rows of character ids, for the segmental language model (``models/segmental_lm.py``).

The unsupervised protocol of ``tools/segment_benchmark.py``: training text is raw only, People's Daily
1998-01 with its gold spaces removed plus the raw PKU test text. A *chunk* is a run of word characters
(``min_entropy.chinese_text``: punctuation is never inside a word), numbers and Latin words folded to one
symbol each (``min_entropy.atoms``). The chunks of a split are packed whole, in order, into rows of
``max_len`` characters (a longer chunk is cut into pieces of ``max_len``), each character tagged with its
chunk's number (``-1``: the padding at a row's end); a segment never crosses a chunk's edge.

Splits: ``train`` = every chunk of both texts; ``val`` = the first ``val_lines`` lines of People's Daily,
scored against People's Daily's gold (the selection criterion); ``test`` = the PKU test lines, whose gold
only the evaluator's final, test-split call reads.

With ``lexicon`` settings (the 2019 method's), each training character also carries whether the lexicon's
segmentation starts a word there (``starts``), for the loss's warm start from the lexicon's statistics, and
``word_scores`` holds each lexicon word's score in the unigram segmenter (``log p(w) + word_bonus``), which the
evaluator can add to the model's segment scores.
Batch ``k`` of epoch ``e`` is a pure function of ``(seed, e, k)``: rows shuffled by ``(seed, e)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.contracts import DataModule
from engine.errors import ConfigError, ProjectError, as_bool, as_int
from engine.progress import Progress
from engine.seeding import stream_seed
from min_entropy import atoms
from min_entropy.chinese_text import Corpus, pieces, read_lines
from min_entropy.ngram_pmi import NgramPMI
from min_entropy.segmenter import Segmenter

PAD, UNK, EOS = 0, 1, 2  # EOS never appears as input: it is the end-of-segment symbol the model predicts


@dataclass
class Lines:
    """One evaluation split: raw lines, and for each chunk of each line its (line, piece) position."""

    lines: list[str]
    pieces: list[list[tuple[str, bool]]]  # per line: (folded text, is_chunk) pieces, and the atoms to put back
    atoms: list[list[str]]
    gold: list[list[str]] | None


class SegmentChunkData(DataModule):
    """Batches ``{"x": ids (B, L), "chunk": chunk numbers (B, L), "starts": (B, L) bool (with a lexicon)}``;
    ``sizes()`` gives ``vocab_size`` and ``eos_id``."""

    unit = "chars"

    def __init__(self, corpus_path: str = "data/chinese/199801.txt", corpus_format: str = "peoples_daily",
                 test_file: str = "datasets/files/sighan2005_pku/pku_test.utf8", max_len: int = 32,
                 batch_size: int = 32, min_count: int = 2, val_lines: int = 2000, max_train_lines: int | None = None,
                 eval_batch_size: int = 256, fold_atoms: bool = True, lexicon: dict | None = None) -> None:
        self.corpus = Corpus(corpus_path, corpus_format, max_train_lines)
        self.test_file = test_file
        self.max_len = as_int("data.max_len", max_len, 1)
        self.batch_size = as_int("data.batch_size", batch_size, 1)
        self.min_count = as_int("data.min_count", min_count, 1)
        self.val_lines = as_int("data.val_lines", val_lines, 1)
        self.eval_batch_size = as_int("data.eval_batch_size", eval_batch_size, 1)
        self.fold_atoms = as_bool("data.fold_atoms", fold_atoms)
        self.lexicon = dict(lexicon) if lexicon else None
        self.prepared = False

    @property
    def units_per_batch(self) -> int:
        return self.batch_size * self.max_len

    def _fold(self, line: str) -> tuple[str, list[str]]:
        return atoms.fold(line) if self.fold_atoms else (line, [])

    def prepare(self) -> None:
        if self.prepared:
            return
        test = [line for _, line in read_lines(self.test_file, "test file")]
        if not any(line.strip() for line in test):
            raise ProjectError(f"test file {self.test_file} has no text: give the raw test text, one sentence per line")
        if not self.corpus.has_gold:
            raise ConfigError(f"data.corpus_format={self.corpus.format!r} has no gold words: validation scores People's Daily's")
        gold = list(self.corpus.gold())  # read once: its words joined are the raw training lines
        train_lines = ["".join(words) for words in gold]
        raw = [self._fold(line)[0] for line in train_lines + [t for t in test if t.strip()]]
        chunks = [p for line in raw for p, is_chunk in pieces(line) if is_chunk]
        counts = Counter(c for chunk in chunks for c in chunk)
        self.itos = ["<pad>", "<unk>", "</seg>"] + sorted(c for c, n in counts.items() if n >= self.min_count)
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        starts, self.word_scores = None, {}
        if self.lexicon is not None:
            try:
                method = NgramPMI(**self.lexicon)
            except TypeError as e:
                raise ConfigError(f"data.lexicon: {e}; it takes the settings of lexicon=ngram_pmi") from None
            found = method.discover(raw)
            seg = Segmenter(found.words, method.null_score, method.word_bonus)
            starts = [_starts_of(words) for words in seg.tokenize_lines(chunks)]
            # each word's score in the segmenter, log p(w) + word_bonus: what the evaluator can add to the model's
            self.word_scores = {w: math.log(c) - seg.log_total for w, c in found.words.items() if c > 0}
        self.train = self._rows(chunks, starts)
        self.splits = {"val": self._lines(train_lines[: self.val_lines], gold[: self.val_lines]), "test": self._lines(test, None)}
        self.prepared = True

    def _lines(self, lines: list[str], gold: list[list[str]] | None) -> Lines:
        folded = [self._fold(line) for line in lines]
        return Lines(lines, [list(pieces(f)) for f, _ in folded], [a for _, a in folded], gold)

    def encode(self, chunk: str) -> list[int]:
        return [self.stoi.get(c, UNK) for c in chunk]

    def _rows(self, chunks: list[str], starts: list[list[bool]] | None = None) -> dict[str, torch.Tensor]:
        """The chunks in order, packed whole into rows of ``max_len`` (a longer chunk cut into pieces of ``max_len``),
        each row padded at its end: ids ``x``, chunk numbers ``chunk`` (-1: padding), word ``starts``."""
        rows: list[tuple[list[int], list[int], list[bool]]] = []
        room = 0
        for k, chunk in enumerate(chunks):
            ids, marks = self.encode(chunk), starts[k] if starts is not None else [False] * len(chunk)
            for a in range(0, len(ids), self.max_len):
                piece = ids[a:a + self.max_len]
                if len(piece) > room:  # a new row: a piece is never split across rows
                    rows.append(([], [], []))
                    room = self.max_len
                row = rows[-1]
                row[0].extend(piece)
                row[1].extend([k] * len(piece))
                row[2].extend([True] + marks[a + 1:a + len(piece)])  # a cut piece starts a word
                room -= len(piece)
        pad = [self.max_len - len(r[0]) for r in rows]
        out = {"x": torch.tensor([r[0] + [PAD] * p for r, p in zip(rows, pad)], dtype=torch.long).view(-1, self.max_len),
               "chunk": torch.tensor([r[1] + [-1] * p for r, p in zip(rows, pad)], dtype=torch.long).view(-1, self.max_len)}
        if starts is not None:
            out["starts"] = torch.tensor([r[2] + [False] * p for r, p in zip(rows, pad)], dtype=torch.bool).view(-1, self.max_len)
        return out

    def sizes(self) -> dict[str, int]:
        self.prepare()
        return {"vocab_size": len(self.itos), "eos_id": EOS}

    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        if self.batch_size % world_size:
            raise ConfigError(f"data.batch_size={self.batch_size} must be divisible by the number of processes ({world_size})")
        self.prepare()
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        self._order: tuple[int, torch.Tensor] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return len(self.train["x"]) // self.batch_size

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        if self._order is None or self._order[0] != progress.epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch))
            self._order = (progress.epoch, torch.randperm(len(self.train["x"]), generator=gen))
        rows = self._order[1][progress.batch * self.batch_size:(progress.batch + 1) * self.batch_size]
        return self.shard({k: v[rows].to(self.device) for k, v in self.train.items()})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        """The split's chunks (:meth:`chunks`) in rows, in order; ``"split"`` is 1 for test, 0 for val."""
        rows = self._rows(self.chunks(split))
        for a in range(0, len(rows["x"]), self.eval_batch_size):
            yield {**{k: v[a:a + self.eval_batch_size].to(self.device) for k, v in rows.items()},
                   "split": torch.tensor(int(split == "test"))}

    def chunks(self, split: str) -> list[str]:
        if split not in ("val", "test"):
            raise ConfigError(f"unknown split {split!r}: use val or test")
        return [p for line in self.splits[split].pieces for p, is_chunk in line if is_chunk]

    def assemble(self, split: str, chunk_words: list[list[str]]) -> list[list[str]]:
        """The words of every line of ``split``, from the words of its chunks (in :meth:`chunks` order)."""
        lines, k = [], 0
        s = self.splits[split]
        for line_pieces, line_atoms in zip(s.pieces, s.atoms):
            words: list[str] = []
            for piece, is_chunk in line_pieces:
                if is_chunk:
                    words += chunk_words[k]
                    k += 1
                else:
                    words.append(piece)
            lines.append(atoms.unfold(words, line_atoms))
        return lines


def _starts_of(words: list[str]) -> list[bool]:
    out: list[bool] = []
    for w in words:
        out += [True] + [False] * (len(w) - 1)
    return out
