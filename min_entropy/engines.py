"""Where the counting passes of word discovery run: this process (``local``) or a Dask cluster (``dask``).

A pass is an *accumulator* (``add(text)`` for a block of lines, ``merge(other)``): the local engine
streams the corpus through one accumulator block by block, so memory follows the distinct n-grams, not
the text; the Dask engine gives each worker byte ranges of the corpus file (``Corpus.byte_ranges``),
one accumulator each, and merges them pairwise in a tree on the cluster
(``dask.distributed``: https://distributed.dask.org). Every worker must see the corpus file at the same
path and have this project importable (a shared folder, or the same checkout on every machine).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from tqdm import tqdm

from engine.errors import ConfigError, ProjectError, as_int
from min_entropy.chinese_text import Corpus, join_lines

ENGINES = ("local", "dask")
BLOCK_CHARS = 1 << 20


class Accumulator(Protocol):
    def add(self, text: str) -> None: ...
    def merge(self, other: Any) -> None: ...


def blocks(source: Iterable[str], block_chars: int = BLOCK_CHARS) -> Iterator[str]:
    """Blocks of whole lines joined by newlines: a :class:`Corpus` streams from disk, anything else
    (a list of lines) is batched."""
    yield from source.blocks(block_chars) if isinstance(source, Corpus) else join_lines(source, block_chars)


class LocalEngine:
    """One process, one accumulator, the corpus streamed through it."""

    name = "local"

    def __init__(self, block_chars: int = BLOCK_CHARS) -> None:
        self.block_chars = block_chars

    def accumulate(self, source: Iterable[str], make: Callable[[], Accumulator], desc: str = "",
                   progress: bool = False) -> Accumulator:
        acc = make()
        bar = tqdm(desc=desc, unit=" chars", unit_scale=True, disable=not progress, mininterval=1.0)
        for text in blocks(source, self.block_chars):
            acc.add(text)
            bar.update(len(text))
        bar.close()
        return acc

    def close(self) -> None:
        pass


def _partition(span: tuple[int, int], corpus: Corpus, make: Callable[[], Accumulator], block_chars: int) -> Accumulator:
    acc = make()
    for text in corpus.blocks(block_chars, *span):
        acc.add(text)
    return acc


def _merge(a: Accumulator, b: Accumulator) -> Accumulator:
    a.merge(b)
    return a


class DaskEngine:
    """Byte ranges of the corpus file counted on a Dask cluster, merged in a tree there.

    ``scheduler``: the address of a running scheduler (``tcp://host:8786``, see ``dask scheduler``);
    ``None`` starts a local cluster of one single-threaded worker process per core for this run.
    ``partitions``: byte ranges per pass (default: 4 per worker); ``timeout_s``: how long to try to connect.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, partitions: int | None = None,
                 block_chars: int = BLOCK_CHARS, timeout_s: float = 10.0) -> None:
        from dask.distributed import Client, LocalCluster

        self.block_chars = block_chars
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=f"{timeout_s}s")
            except OSError as e:
                raise ProjectError(f"could not reach the Dask scheduler at lexicon.scheduler={scheduler} ({e}); "
                                   "start one (`dask scheduler`, then `dask worker <address>` on each machine) "
                                   "or set lexicon.scheduler=null for a local cluster") from None
        else:
            self.cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        workers = max(len(self.client.scheduler_info(n_workers=-1)["workers"]), 1)
        self.partitions = partitions or 4 * workers

    def accumulate(self, source: Iterable[str], make: Callable[[], Accumulator], desc: str = "",
                   progress: bool = False) -> Accumulator:
        if not isinstance(source, Corpus):
            raise ConfigError("lexicon.engine=dask counts a corpus file (byte ranges on each worker), "
                              "not lines in memory: pass a Corpus or use lexicon.engine=local")
        spans = source.byte_ranges(self.partitions)
        futures = self.client.map(_partition, spans, corpus=source, make=make, block_chars=self.block_chars,
                                  pure=False)
        while len(futures) > 1:  # pairwise merges on the workers, never all partial counts at once here
            pairs = [futures[i:i + 2] for i in range(0, len(futures), 2)]
            futures = [self.client.submit(_merge, *p, pure=False) if len(p) == 2 else p[0] for p in pairs]
        return futures[0].result() if futures else make()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def check_settings(name: str, scheduler: str | None, partitions: int | None) -> None:
    """``lexicon.engine``, ``lexicon.scheduler`` and ``lexicon.partitions``, refused with one line each."""
    if name not in ENGINES:
        raise ConfigError(f"lexicon.engine={name!r} is not one of {', '.join(ENGINES)}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ConfigError(f"lexicon.scheduler must be an address (tcp://host:8786) or null, got {scheduler!r}")
    as_int("lexicon.partitions", partitions, 1, optional=True)


def make_engine(name: str = "local", scheduler: str | None = None, partitions: int | None = None,
                block_chars: int = BLOCK_CHARS) -> LocalEngine | DaskEngine:
    """``lexicon.engine``: ``local`` or ``dask`` (with ``lexicon.scheduler`` and ``lexicon.partitions``)."""
    check_settings(name, scheduler, partitions)
    return LocalEngine(block_chars) if name == "local" else DaskEngine(scheduler, partitions, block_chars)
