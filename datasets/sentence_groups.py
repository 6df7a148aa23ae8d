"""Paraphrase groups as classes (post 6, kexue.fm/archives/5743): one class per training group.

Groups are split, seeded and fixed by ``split_seed``, into disjoint test, validation and training
groups: no group has sentences on both sides, so retrieval is measured on paraphrase groups the
encoder never saw. Only groups of two sentences or more can be held out (a query needs a partner);
single sentences stay in training as classes of one. The vocabulary counts the training sentences
only. Every sentence is tokenised once and held on the device as an id row.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator

import torch

from datasets.sentence_files import read_sentence_groups
from datasets.text_tokens import TOKENS, normalise, splitter
from datasets.vocabulary import PAD, UNK, Vocabulary
from engine.contracts import DataModule
from engine.errors import ConfigError, ProjectError, as_bool, as_int
from engine.progress import Progress
from engine.seeding import stream_seed

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def split_groups(groups: list[str], sizes: Counter, val_groups: int, test_groups: int,
                 seed: int) -> dict[str, list[str]]:
    """``{"train", "val", "test"}`` -> group ids: held-out groups drawn (seeded) among those of size >= 2."""
    eligible = [g for g in groups if sizes[g] >= 2]
    if not eligible:
        raise ProjectError("no group has two sentences or more: nothing to learn or retrieve; check the file "
                           "(group ids in the first column, or pairs with label 1)")
    if val_groups + test_groups >= len(eligible):
        raise ConfigError(f"data.val_groups={val_groups} + data.test_groups={test_groups} leave no training group of "
                          f"two sentences (the file has {len(eligible)}): lower them")
    order = torch.randperm(len(eligible), generator=torch.Generator().manual_seed(seed)).tolist()
    test = [eligible[i] for i in order[:test_groups]]
    val = [eligible[i] for i in order[test_groups:test_groups + val_groups]]
    held = set(test) | set(val)
    return {"train": [g for g in groups if g not in held], "val": val, "test": test}


class SentenceGroupsData(DataModule):
    """Batches ``{"x": ids (B, maxlen), "y": group}``; ``y`` is the class in training and the group within a held-out split.

    ``sizes()`` gives ``vocab_size`` and ``num_classes`` to the model and loss configs that leave them ``???``.
    """

    unit = "sentences"

    def __init__(self, path: str, format: str = "auto", tokens: str = "char", lexicon: str | None = None,
                 min_count: int = 5, maxlen: int = 32, lower: bool = True, half_width: bool = True,
                 val_groups: int = 2000, test_groups: int = 5000, train_groups: int | None = None,
                 split_seed: int = 0, batch_size: int = 100, eval_batch_size: int = 1000) -> None:
        if tokens not in TOKENS:
            raise ConfigError(f"data.tokens={tokens!r} is not one of {list(TOKENS)}")
        self.path, self.format, self.tokens, self.lexicon = path, format, tokens, lexicon
        self.min_count = as_int("data.min_count", min_count, 1)
        self.maxlen = as_int("data.maxlen", maxlen, 1)
        self.lower, self.half_width = as_bool("data.lower", lower), as_bool("data.half_width", half_width)
        self.val_groups = as_int("data.val_groups", val_groups, 1)
        self.test_groups = as_int("data.test_groups", test_groups, 1)
        self.train_groups = None if train_groups is None else as_int("data.train_groups", train_groups, 1)
        self.split_seed = as_int("data.split_seed", split_seed)
        self.batch_size = as_int("data.batch_size", batch_size, 1)
        self.eval_batch_size = as_int("data.eval_batch_size", eval_batch_size, 1)
        self.prepared = False
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ reading, once
    def prepare(self) -> None:
        """Read, split, build the vocabulary and encode every sentence (on the CPU); later calls do nothing."""
        if self.prepared:
            return
        rows, _ = read_sentence_groups(self.path, self.format)
        sizes = Counter(g for g, _ in rows)
        order = list(dict.fromkeys(g for g, _ in rows))
        hist = Counter(min(n, 10) for n in sizes.values())
        log.info("%s: %d sentences in %d groups; group sizes %s", self.path, len(rows), len(order),
                 ", ".join(f"{'10+' if k == 10 else k}: {hist[k]}" for k in sorted(hist)))
        groups = split_groups(order, sizes, self.val_groups, self.test_groups, self.split_seed)
        if self.train_groups is not None:
            groups["train"] = groups["train"][: self.train_groups]
        split_of = {g: name for name, gs in groups.items() for g in gs}
        self.texts: dict[str, list[str]] = {s: [] for s in SPLITS}
        group_ids: dict[str, list[str]] = {s: [] for s in SPLITS}
        for g, text in rows:
            if g in split_of:
                self.texts[split_of[g]].append(text)
                group_ids[split_of[g]].append(g)
        self.split = splitter(self.tokens, self.lexicon)  # once: the lexicon's segmenter is costly to build
        tokens = {s: [self.split(normalise(t, self.half_width, self.lower)) for t in self.texts[s]] for s in SPLITS}
        self.vocab = Vocabulary(tokens["train"], self.min_count, specials=(PAD, UNK))
        self.classes = list(dict.fromkeys(group_ids["train"]))
        self.rows = {}
        for s in SPLITS:
            index = {g: i for i, g in enumerate(dict.fromkeys(group_ids[s]))}
            self.rows[s] = (self.vocab.encode_rows(tokens[s], self.maxlen),
                            torch.tensor([index[g] for g in group_ids[s]], dtype=torch.long))
        lengths = torch.tensor([len(t) for t in tokens["train"]], dtype=torch.float)
        unknown = (self.rows["train"][0] == self.vocab.stoi[UNK]).sum().item() / max(1, (self.rows["train"][0] != 0).sum().item())
        log.info("split (split_seed=%d): train %d groups / %d sentences, val %d / %d, test %d / %d; vocabulary %d %s "
                 "tokens (min_count %d, %.2f %% of training tokens unknown); %.0f %% of training sentences longer than "
                 "maxlen %d (median %d tokens)", self.split_seed,
                 *(x for s in SPLITS for x in (len(groups[s]), len(self.texts[s]))), len(self.vocab), self.tokens,
                 self.min_count, 100 * unknown, 100 * (lengths > self.maxlen).float().mean().item(), self.maxlen,
                 int(lengths.median().item()) if len(lengths) else 0)
        self.prepared = True

    def sizes(self) -> dict[str, int]:
        self.prepare()
        return {"vocab_size": len(self.vocab), "num_classes": len(self.classes)}

    def encode(self, sentences: list[str]) -> torch.Tensor:
        """Id rows of new sentences with this data's tokens and vocabulary, on the data's device."""
        self.prepare()
        return self.vocab.encode_rows([self.split(normalise(t, self.half_width, self.lower)) for t in sentences],
                                 self.maxlen).to(self.device)

    # ------------------------------------------------------------------ the DataModule contract
    def setup(self, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        if self.batch_size % world_size:
            raise ConfigError(f"data.batch_size={self.batch_size} (the global batch) must be divisible by the "
                              f"number of processes ({world_size})")
        self.prepare()
        self.device, self.rank, self.world_size, self.seed = torch.device(device), rank, world_size, seed
        self.on_device = {s: (x.to(self.device), y.to(self.device)) for s, (x, y) in self.rows.items()}
        self._epoch_perm: tuple[int, torch.Tensor] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.rows["train"][0]) / self.batch_size)  # the last batch is smaller, as in Keras's fit

    def train_batch(self, progress: Progress) -> dict[str, torch.Tensor]:
        if self._epoch_perm is None or self._epoch_perm[0] != progress.epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, progress.epoch))
            self._epoch_perm = (progress.epoch, torch.randperm(len(self.rows["train"][0]), generator=gen).to(self.device))
        idx = self._epoch_perm[1][progress.batch * self.batch_size:(progress.batch + 1) * self.batch_size]
        x, y = self.on_device["train"]
        return self.shard({"x": x[idx], "y": y[idx]})

    def eval_batches(self, split: str) -> Iterator[dict[str, torch.Tensor]]:
        if split not in ("val", "test"):
            raise ConfigError(f"unknown split {split!r}: use val or test")
        x, y = self.on_device[split]
        for i in range(0, len(x), self.eval_batch_size):
            yield {"x": x[i:i + self.eval_batch_size], "y": y[i:i + self.eval_batch_size]}
