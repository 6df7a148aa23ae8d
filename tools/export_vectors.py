"""A run's word vectors in word2vec's two file formats, which gensim's ``KeyedVectors.load_word2vec_format`` reads.

``python tools/export_vectors.py run=runs/word2vec/<date_time> [format=text|binary|both] [limit=30000] [specials=true]``

The run's ``best.pt`` (or the ``.pt`` given as ``run=``) is restored with its own config, and its model's
``word_vectors`` (word2vec's input vectors ``u``, a language model's embedding) are written one row per word of
the data's vocabulary (``data.vocab.itos``: most frequent first), as word2vec's C code writes them:

- text (``<filename>.txt``): a header line ``<count> <dim>``, then per word a line of the word and its ``dim``
  numbers, separated by spaces (9 significant digits: each float32 reads back as itself);
- binary (``<filename>.bin``): the same header line, then per word its UTF-8 bytes, a space, ``dim`` float32
  little-endian and a newline.

The vocabulary's specials (``<unk>``: every word below ``min_count``; ``</s>``: the end of a line) are not words,
so they are left out unless ``specials=true``, which writes them first as the vocabulary holds them. ``limit=N``
keeps the first N rows written: the N most frequent words. Files go into the tool's own folder
(``<runs_root>/export_vectors/<date_time>/``) or ``out=<folder>``, each written atomically. A run whose model
has no ``word_vectors`` or whose data has no vocabulary, and a word these formats cannot hold (one with a space,
a newline or other whitespace in it), are refused with one line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from datasets.vocabulary import EOS, PAD, UNK
from engine.cli import print_result, run_guarded
from engine.devices import select_device
from engine.errors import ConfigError, as_bool, as_int
from engine.evaluation import RestoredRun, restore
from engine.files import atomic_open

SPECIALS = (PAD, UNK, EOS)  # the vocabulary's non-words (datasets/vocabulary.py)
FORMATS = {"text": ("txt",), "binary": ("bin",), "both": ("txt", "bin")}
CHUNK = 4096  # rows per write


def vectors_of(restored: RestoredRun, source: Path) -> tuple[list[str], np.ndarray]:
    """``(words, vectors (len(words), dim) float32)``: the data's vocabulary and the model's ``word_vectors``."""
    model, data = restored.model, restored.data
    vectors = getattr(model, "word_vectors", None)
    if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2:
        raise ConfigError(f"{source} has no word vectors to export: its model, {type(model).__name__}, has no "
                          "word_vectors (a skip-gram word2vec run or a language model's run has them)")
    words = getattr(getattr(data, "vocab", None), "itos", None)
    if words is None:
        raise ConfigError(f"{source} has no vocabulary to name its word vectors: its data, {type(data).__name__}, "
                          "has no vocab (a text corpus's data module has one)")
    if len(words) != vectors.shape[0]:
        raise ConfigError(f"{source}: the model has {vectors.shape[0]} word vectors but the data's vocabulary "
                          f"{len(words)} words (was the corpus at {restored.cfg.data.get('path')} changed after training?)")
    return list(words), vectors.detach().float().cpu().numpy()


def select(words: Sequence[str], vectors: np.ndarray, specials: bool = False, limit: int | None = None
           ) -> tuple[list[str], np.ndarray]:
    """The rows to write, in vocabulary order: the specials left out unless ``specials``, then the first ``limit``."""
    rows = [i for i, w in enumerate(words) if specials or w not in SPECIALS][:limit]
    return [words[i] for i in rows], vectors[rows]


def check_words(words: Sequence[str]) -> None:
    """Refuse, naming it, a word that the formats cannot hold: empty, with whitespace inside, or not encodable."""
    for word in words:
        problem = ("is empty" if not word else
                   "holds whitespace" if any(c.isspace() for c in word) else None)
        if problem is None:
            try:
                word.encode("utf-8")
            except UnicodeEncodeError:
                problem = "is not valid Unicode"
        if problem:
            raise ConfigError(f"the word {word!r} {problem}: word2vec's formats end a word at a space and a vector "
                              "at a newline, so it cannot be written (re-tokenise the corpus, or use limit= to stop "
                              "before it)")


def text_lines(words: Sequence[str], vectors: np.ndarray) -> Iterator[bytes]:
    """word2vec's text format, in chunks: the header, then ``word x1 x2 ...`` per line (``%.9g``: float32 exact)."""
    yield f"{len(words)} {vectors.shape[1]}\n".encode()
    row_format = " ".join(["%.9g"] * vectors.shape[1])
    for start in range(0, len(words), CHUNK):
        rows = vectors[start:start + CHUNK].astype(np.float64).tolist()
        yield "".join(f"{w} {row_format % tuple(r)}\n" for w, r in zip(words[start:start + CHUNK], rows)).encode()


def binary_lines(words: Sequence[str], vectors: np.ndarray) -> Iterator[bytes]:
    """word2vec's binary format, in chunks: the header, then per word ``word``, a space, float32 LE, a newline."""
    yield f"{len(words)} {vectors.shape[1]}\n".encode()
    little = np.ascontiguousarray(vectors, dtype="<f4")
    for start in range(0, len(words), CHUNK):
        yield b"".join(w.encode() + b" " + row.tobytes() + b"\n"
                       for w, row in zip(words[start:start + CHUNK], little[start:start + CHUNK]))


def export(words: Sequence[str], vectors: np.ndarray, folder: Path, filename: str = "vectors",
           format: str = "both") -> list[Path]:
    """Write ``<folder>/<filename>.txt`` and/or ``.bin`` (``format``: text | binary | both) atomically."""
    if format not in FORMATS:
        raise ConfigError(f"format={format!r} is not one of {', '.join(FORMATS)}")
    check_words(words)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in FORMATS[format]:
        path = folder / f"{filename}.{suffix}"
        with atomic_open(path) as f:
            for chunk in (text_lines if suffix == "txt" else binary_lines)(words, vectors):
                f.write(chunk)
        written.append(path)
    return written


def run(cfg: DictConfig, out: Path) -> str:
    specials = as_bool("specials", cfg.specials)
    limit = as_int("limit", cfg.limit, 1, optional=True)
    if str(cfg.format) not in FORMATS:  # before the (slow) restore
        raise ConfigError(f"format={cfg.format!r} is not one of {', '.join(FORMATS)}")
    filename = str(cfg.filename)
    if not filename or "/" in filename:
        raise ConfigError(f"filename={filename!r} must be a file name without a folder (the folder is out=)")
    source = Path(str(cfg.run))
    path = source if source.suffix == ".pt" else source / "best.pt"
    words, vectors = select(*vectors_of(restore(path, select_device(str(cfg.device), key="device")), path),
                            specials=specials, limit=limit)
    folder = Path(str(cfg.out)) if cfg.out else out
    written = export(words, vectors, folder, filename, str(cfg.format))
    left_out = "" if specials else " (the specials <unk> and </s> left out)"
    return (f"{len(words)} words x {vectors.shape[1]} from {path}{left_out}; outputs: "
            + ", ".join(str(p) for p in written))


@hydra.main(version_base="1.3", config_path="../configs", config_name="export_vectors")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(run, cfg, "rerun the same command", new_folder=True))  # a refused export leaves no folder


if __name__ == "__main__":
    main()
