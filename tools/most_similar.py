"""The k most similar sentences by cosine, as post 6 shows them (kexue.fm/archives/5743).

``python tools/most_similar.py run=runs/sentsim_amsoftmax/<date_time> "how tall is a sofa" [k=10 split=test]``

The run's ``best.pt`` is restored with its own config (data, vocabulary, encoder); each sentence is
encoded and compared with every sentence of the corpus: the run's own sentences (``split``) or a
file given as ``corpus=``. Prints each query with its k nearest sentences and their cosines, and
writes ``most_similar.tsv`` (query, rank, cosine, sentence) in the tool's run folder. A sentence
that holds ``=`` can be given as ``sentences='["a = b"]'``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from engine.cli import print_result, run_guarded
from engine.devices import select_device
from engine.errors import ConfigError, as_int
from engine.evaluation import restore
from engine.files import write_atomic
from evaluators.retrieval import top_k

OVERRIDE = re.compile(r"^[+~]{0,2}[\w.@/-]+=|^-")  # a Hydra override or flag; anything else is a sentence
QUERIES: list[str] = []  # the plain arguments, taken out of sys.argv before Hydra reads it


@torch.no_grad()
def encode(model: torch.nn.Module, rows: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(rows[i:i + batch_size]).float() for i in range(0, len(rows), batch_size)])


def corpus_of(cfg: DictConfig, data) -> list[str]:
    if cfg.file:
        path = Path(str(cfg.file))
        if not path.is_file():
            raise ConfigError(f"file={path} is not a file: give a text file with one sentence per line")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = ("train", "val", "test") if cfg.split == "all" else (str(cfg.split),)
    if any(s not in data.texts for s in splits):
        raise ConfigError(f"split={cfg.split!r} is not one of all, train, val, test")
    return [t for s in splits for t in data.texts[s]]


def run(cfg: DictConfig, out: Path) -> str:
    queries = [*QUERIES, *(str(s) for s in cfg.sentences)]
    if not queries:
        raise ConfigError('no sentence given: python tools/most_similar.py run=<run folder> "your sentence"')
    k = as_int("k", cfg.k, 1)
    source = Path(str(cfg.run))
    path = source if source.suffix == ".pt" else source / "best.pt"
    restored = restore(path, select_device(str(cfg.device), key="device"))
    data, model = restored.data, restored.model
    if not hasattr(data, "encode"):
        raise ConfigError(f"{path} is not a sentence encoder's run (its data, {type(data).__name__}, encodes no text)")
    corpus = corpus_of(cfg, data)
    vectors = encode(model, data.encode(corpus), data.eval_batch_size)
    cosines, nearest = top_k(encode(model, data.encode(queries), data.eval_batch_size), vectors, k)
    lines, rows = [], ["query\trank\tcosine\tsentence"]
    for query, values, indices in zip(queries, cosines.tolist(), nearest.tolist()):
        lines.append(query)
        for rank, (value, i) in enumerate(zip(values, indices), 1):
            lines.append(f"  {value:.4f}  {corpus[i]}")
            rows.append(f"{query}\t{rank}\t{value:.4f}\t{corpus[i]}")
    write_atomic(out / "most_similar.tsv", "\n".join(rows) + "\n")
    return "\n".join(lines) + f"\n({len(corpus)} sentences searched; outputs: {out}/most_similar.tsv)"


@hydra.main(version_base="1.3", config_path="../configs", config_name="most_similar")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(run, cfg, "rerun the same command"))


if __name__ == "__main__":
    QUERIES.extend(a for a in sys.argv[1:] if not OVERRIDE.match(a))
    sys.argv[1:] = [a for a in sys.argv[1:] if OVERRIDE.match(a)]
    main()
