"""Unsupervised segmentation of the SIGHAN 2005 PKU test set: ``python tools/segment_benchmark.py [lexicon=...]``.

``lexicon=ngram_pmi_peoples_daily`` (the default: the 2019 method) and ``lexicon=pair_pmi_peoples_daily``
(post 1's) hold the settings chosen on People's Daily's gold; ``lexicon=ngram_pmi`` etc. are the plain methods.

The protocol, in the order the code runs it:

1. raw text only: People's Daily 1998-01 (``corpus``) with its gold spaces removed, then the PKU test text;
   with ``atoms=true`` numbers and Latin words are folded to one symbol each (``min_entropy/atoms.py``);
2. the lexicon method discovers a lexicon from that text; the unigram segmenter (with the method's
   ``word_bonus``) cuts the test lines;
3. the prediction is written to ``pku_pred.utf8``; only then does the scorer read the gold file and score it
   by the bakeoff's rules (``min_entropy/bakeoff_scorer.py``: precision, recall, F1, OOV and IV recall).

With ``dev=true`` the segmenter also cuts People's Daily and scores it against People's Daily's gold: that
``dev_f1`` is what every setting in ``configs/segment_benchmark.yaml`` was chosen by (a sweep with ``-m``).

Writes to ``runs/segment_benchmark/pku/<date_time>/``: ``lexicon.tsv`` (over folded text: ``０`` stands for
any number, ``Ａ`` for any Latin word), ``pku_pred.utf8`` and ``metrics.json`` (scores, settings, wall
time, the machine).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from engine.cli import print_result, run_guarded
from engine.errors import ProjectError, as_bool
from engine.files import write_atomic
from engine.instantiate import build
from min_entropy import atoms
from min_entropy.bakeoff_scorer import score_files
from min_entropy.chinese_text import read_lines
from min_entropy.lexicon import save_lexicon
from min_entropy.segmenter import Segmenter, segmentation_scores


def machine() -> str:
    """The hardware and software the wall time was measured on."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, torch {torch.__version__}"


def segment(seg: Segmenter, lines: list[str], fold: bool) -> list[list[str]]:
    """The words of each line, atoms folded before and put back after segmenting."""
    if not fold:
        return seg.tokenize_lines(lines)
    folded = [atoms.fold(line) for line in lines]
    return [atoms.unfold(words, found) for words, (_, found) in zip(seg.tokenize_lines([f for f, _ in folded]), folded)]


def run(cfg: DictConfig, out: Path) -> dict:
    start = time.perf_counter()
    corpus = build("corpus", cfg.corpus)
    method = build("lexicon", cfg.lexicon)
    fold, dev = as_bool("atoms", cfg.atoms), as_bool("dev", cfg.dev)
    bench = cfg.benchmark
    test = [line for _, line in read_lines(bench.test_file, "test file")]
    if not any(line.strip() for line in test):
        raise ProjectError(f"test file {bench.test_file} has no text: give the raw test text, one sentence per line")
    # 1-2. raw text only: the training corpus's lines (gold spaces removed) and the test text
    gold = list(corpus.gold()) if corpus.has_gold else None  # read once: its words joined are the raw lines
    train = ["".join(words) for words in gold] if gold is not None else list(corpus.lines())
    raw = train + [line for line in test if line.strip()]
    found = method.discover([atoms.fold(line)[0] for line in raw] if fold else raw, progress=as_bool("progress", cfg.progress))
    save_lexicon(out / "lexicon.tsv", found.words, found.gains)
    seg = Segmenter(found.words, method.null_score, method.word_bonus)
    predicted = segment(seg, test, fold)
    wall = time.perf_counter() - start
    # 3. the prediction is on disk before the gold is opened
    write_atomic(out / "pku_pred.utf8", "".join("  ".join(words) + "\n" for words in predicted))
    score = score_files(bench.words_file, bench.gold_file, out / "pku_pred.utf8")
    settings = {k: v for k, v in OmegaConf.to_container(cfg.lexicon).items()
                if k not in ("_target_", "engine", "scheduler", "partitions")}
    m: dict = {"benchmark": bench.name, "method": type(method).__name__, **settings,
               "atoms": fold, "lexicon_size": len(found.words), **score.as_dict(), "wall_s": wall, "machine": machine()}
    if dev and gold is not None:
        dev_scores = segmentation_scores(gold, segment(seg, train, fold))
        m.update({f"dev_{k}": v for k, v in dev_scores.items() if k in ("precision", "recall", "f1")})
    write_atomic(out / "metrics.json", json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    return m


def summary(m: dict, out: Path) -> str:
    settings = ", ".join(f"{k} {m[k]}" for k in ("min_count", "min_pmi", "min_prob", "rule") if k in m)
    lines = [f"{m['benchmark']} test set, {m['method']} ({settings}; "
             f"word_bonus {m['word_bonus']:g}, atoms {m['atoms']}): lexicon {m['lexicon_size']:,} words, {m['wall_s']:.1f} s",
             f"  bakeoff score: P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  "
             f"OOV recall {m['oov_recall']:.3f}  IV recall {m['iv_recall']:.3f}  (OOV rate {m['oov_rate']:.3f})"]
    if "dev_f1" in m:
        lines.append(f"  People's Daily (the settings' selection): P {m['dev_precision']:.3f}  "
                     f"R {m['dev_recall']:.3f}  F1 {m['dev_f1']:.3f}")
    lines.append(f"outputs: {out}/ (lexicon.tsv, pku_pred.utf8, metrics.json)")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../configs", config_name="segment_benchmark")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(lambda c, out: summary(run(c, out), out), cfg, "rerun the same command: it is deterministic"))


if __name__ == "__main__":
    main()
