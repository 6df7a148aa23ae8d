"""``lexicon=pair_pmi``: post 1's method (kexue.fm/archives/5476, ``min_entropy.lexicon.discover``) with its
settings and the engine that counts, as the config group ``lexicon`` builds it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import ConfigError, as_int, as_number
from min_entropy.engines import check_settings, make_engine
from min_entropy.lexicon import RULES, Discovery, check_thresholds, discover


@dataclass
class PairPMI:
    """Cut at weak adjacent pairs (``min_prob``, ``min_pmi``), truncate, then de-redundancy by ``rule``."""

    min_prob: float = 1e-7
    min_pmi: float = 1.0
    rule: str = "constant"
    null_score: float = -100.0
    word_bonus: float = 0.0  # nats added to every word's score when segmenting (min_entropy.segmenter)
    max_len: int | None = 64
    engine: str = "local"
    scheduler: str | None = None
    partitions: int | None = None

    def __post_init__(self) -> None:
        check_thresholds(self.min_prob, self.min_pmi)
        check_settings(self.engine, self.scheduler, self.partitions)
        self.word_bonus = as_number("lexicon.word_bonus", self.word_bonus)
        if self.rule not in RULES:
            raise ConfigError(f"lexicon.rule={self.rule!r} is not one of {', '.join(RULES)}")
        self.max_len = as_int("lexicon.max_len", self.max_len, 2, optional=True)

    def discover(self, corpus: Iterable[str], progress: bool = False) -> Discovery:
        engine = make_engine(self.engine, self.scheduler, self.partitions)
        try:
            return discover(corpus, self.min_prob, self.min_pmi, self.rule, self.null_score, self.max_len,
                            progress, engine)
        finally:
            engine.close()
