"""Our skip-gram word2vec (``experiment=word2vec``) against gensim's ``Word2Vec``, side by side in one process.

Both train on the same corpus (the config's ``data.path``, gensim's Wikipedia sample ``data/english/wiki.txt``
by default: one article per line, tokens space-separated), with the same settings: skip-gram, 5 negatives,
window 5, dimension 100, min_count 5, sample 1e-3, ``--epochs`` epochs (20); gensim's SGD from 0.025 decaying
linearly to 0.0001, ours whatever optimiser and schedule ``experiment=word2vec`` sets.

* ours: every setting comes from the composed ``train`` config with ``experiment=word2vec`` (optimiser, batch
  size, loss, ...; only ``seed``, ``trainer.max_epochs`` and ``trainer.progress`` are overridden, besides any
  Hydra overrides given on the command line, which gensim's values follow too), built by ``train.py``'s own
  ``engine.runs.make_trainer``, in a temporary run folder;
* gensim 4.4.0 (a benchmark-only dependency, ``requirements-bench.txt``): ``Word2Vec(sg=1, hs=0, negative,
  ns_exponent, window, vector_size, min_count, sample, epochs, workers=W, seed)`` with those values read from
  the same config (``loss.k``, ``loss.alpha``, ``data.*``, ``model.dim``), given the same training lines as lists
  of tokens (``read_token_lines`` + ``split_lines``), once per ``--workers`` count. Its learning rate is its
  own default, word2vec's SGD from alpha 0.025 to min_alpha 0.0001, whatever optimiser ours uses.

Both are judged by our evaluator's functions (``evaluators.word_vectors``) on the config's test files, so the
out-of-vocabulary rule is the same: Spearman on WordSim-353 and SimLex-999, 3CosAdd analogy accuracy among the
first ``evaluator.analogy_vocab`` ids (30000; ours counts its two specials ``<unk>``, ``</s>`` among them), with
``n`` questions evaluated and the OOV shares. gensim's vectors are ``wv.vectors`` with ``wv.key_to_index``;
ours the model's ``word_vectors`` with the data's vocabulary (checked equal to the Trainer's own test metrics).

Words per second, effective (kept after subsampling) words over training time:

* gensim: the effective words ``model.train`` reports over the wall time of ``model.train`` (after
  ``build_vocab``, which is not timed);
* ours: the kept words actually trained (each epoch's subsampled text, ``data.epoch_stream``) over the time spent
  inside ``Trainer.train_step`` (batch building, forward, backward, optimiser and schedule), so the per-epoch
  validation, checkpoints and logging are left out as gensim's evaluation is. Also shown ("log"): the rate the
  ``throughput/words_per_s`` rows of the run's ``log.jsonl`` add up to (all their words over all their seconds,
  not the mean of the rows, which over-weights fast windows); those windows count nominal batches
  (``data.batch_size`` each) and leave the validation time out, as the Trainer does.

``torch.set_num_threads(--threads)`` (2 by default) for ours; gensim's workers are its own threads. The last two
lines are the headlines: WS353, ours against gensim (``--workers``' first count), then ours words/s over gensim's
words/s with its most workers (2 by default; the goal is at least 0.5).

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python -m benchmarks.word2vec [--seeds 0 1 2 --epochs 20 --workers 1 2 --threads 2] [--quick] [key=value ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("ws353", "ws353_oov", "simlex", "simlex_oov", "analogy", "analogy_n", "analogy_oov", "words_s")


def compose(seed: int, epochs: int, run_root: str, extra: list[str]) -> Any:
    import hydra

    from engine.run_folders import register_resolvers

    register_resolvers()
    with hydra.initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return hydra.compose("train", overrides=["experiment=word2vec", f"seed={seed}", f"runs_root={run_root}",
                                                 "trainer.progress=false", f"trainer.max_epochs={epochs}", *extra])


def judge(vectors: torch.Tensor, stoi: dict[str, int], tests: dict[str, Any], restrict: int) -> dict[str, float]:
    """Our evaluator's similarity and analogy scores of ``vectors`` (rows indexed by ``stoi``)."""
    from evaluators.word_vectors import analogy_accuracy, similarity_score

    out: dict[str, float] = {}
    for name in ("ws353", "simlex"):
        out[name], out[f"{name}_oov"], _, _ = similarity_score(vectors, stoi, tests[name])
    out["analogy"], out["analogy_oov"], n = analogy_accuracy(vectors, stoi, tests["analogies"], restrict)
    out["analogy_n"] = float(n)
    return out


def train_ours(cfg: Any, run_dir: Path, tests: dict[str, Any]) -> tuple[dict[str, float], int]:
    """Train ``cfg`` as train.py does (``engine.runs.make_trainer``); its scores, words/s (and the log's), vocabulary size."""
    from engine.run_logger import read_jsonl
    from engine.runs import make_trainer

    trainer = make_trainer(cfg, run_dir)
    data, model = trainer.data, trainer.model
    spent, step = [0.0], trainer.train_step

    def timed_step() -> dict[str, torch.Tensor]:
        start = time.perf_counter()
        out = step()
        spent[0] += time.perf_counter() - start
        return out

    trainer.train_step = timed_step
    metrics = trainer.fit()
    assert trainer.step == trainer.total_steps and trainer.total_steps % trainer.steps_per_epoch == 0, "partial epochs"
    words = sum(len(data.epoch_stream(e)[0]) for e in range(trainer.total_steps // trainer.steps_per_epoch))
    out = judge(model.word_vectors.detach(), data.vocab.stoi, tests, cfg.evaluator.analogy_vocab)
    for k in ("ws353", "simlex", "analogy"):  # the same numbers as the Trainer's own final evaluation
        assert abs(out[k] - metrics[f"test/{k}"]) < 1e-6, (k, out[k], metrics[f"test/{k}"])
    rows = [(r["step"], r["throughput/words_per_s"]) for r in read_jsonl(run_dir / "log.jsonl")
            if "throughput/words_per_s" in r]  # each window's rate: its nominal words over its seconds
    units = [(step - before) * trainer.draws * data.units_per_batch for (step, _), (before, _) in zip(rows, [(0, 0)] + rows)]
    out["words_s"], out["log_words_s"] = words / spent[0], sum(units) / sum(u / rate for u, (_, rate) in zip(units, rows))
    return out, len(data.vocab)


def train_gensim(cfg: Any, lines: list[list[str]], workers: int, epochs: int, tests: dict[str, Any]
                 ) -> tuple[dict[str, float], int]:
    from gensim.models import Word2Vec

    model = Word2Vec(sg=1, hs=0, negative=cfg.loss.k, ns_exponent=cfg.loss.alpha, window=cfg.data.window,
                     vector_size=cfg.model.dim, min_count=cfg.data.min_count, sample=cfg.data.sample, epochs=epochs,
                     workers=workers, seed=cfg.seed)
    model.build_vocab(lines)
    start = time.perf_counter()
    effective, _ = model.train(lines, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.perf_counter() - start
    out = judge(torch.from_numpy(model.wv.vectors), model.wv.key_to_index, tests, cfg.evaluator.analogy_vocab)
    out["words_s"] = effective / seconds
    return out, len(model.wv)


def row(name: str, m: dict[str, float], s: dict[str, float] | None = None) -> str:
    def f(k: str, fmt: str) -> str:
        return format(m[k], fmt) + (" ± " + format(s[k], fmt) if s else "")
    log = f"  (log {m['log_words_s'] / 1e3:.0f}k)" if "log_words_s" in m else ""
    return (f"{name:>12s} {f('ws353', '.3f'):>13s} {f('simlex', '.3f'):>13s} {f('analogy', '.3f'):>13s} "
            f"{m['analogy_n']:6.0f} {m['ws353_oov']:5.1%} {m['simlex_oov']:5.1%} {m['analogy_oov']:5.1%} "
            f"{f('words_s', ',.0f'):>19s}{log}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="gensim's worker threads, one run each")
    p.add_argument("--threads", type=int, default=2, help="torch threads for ours")
    p.add_argument("--quick", action="store_true", help="a smoke run: 2 epochs, 1 seed")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for the config (e.g. data.batch_size=2000)")
    args = p.parse_args()
    if args.quick:
        args.epochs, args.seeds = 2, args.seeds[:1]
    os.chdir(ROOT)  # the configs' paths are relative to the repository
    logging.getLogger("gensim").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    import gensim

    from datasets.token_corpus import read_token_lines, split_lines
    from evaluators.word_vectors import read_analogies, read_similarity_pairs

    results: dict[str, list[dict[str, float]]] = {}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose(seed, args.epochs, tmp, args.overrides)
            if seed == args.seeds[0]:
                ev, d = cfg.evaluator, cfg.data
                tests = {"ws353": read_similarity_pairs(ev.ws353), "simlex": read_similarity_pairs(ev.simlex),
                         "analogies": read_analogies(ev.analogies)}
                lines = split_lines(read_token_lines(d.path), d.val_fraction, d.test_fraction)["train"]
                print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), gensim {gensim.__version__}; "
                      f"{d.path}: {len(lines)} lines, {sum(map(len, lines)):,} tokens; {args.epochs} epochs, "
                      f"seeds {args.seeds}; ours: optim {cfg.optim._target_} lr {cfg.optim.lr}, "
                      f"batch {d.batch_size} kept words, loss {cfg.loss._target_}")
            ours, vocab = train_ours(cfg, Path(tmp) / "run", tests)
            runs = {"ours": ours}
            for w in args.workers:
                runs[f"gensim {w}w"], gensim_vocab = train_gensim(cfg, lines, w, args.epochs, tests)
        print(f"\nseed {seed}: vocabulary ours {vocab} (with <unk>, </s>), gensim {gensim_vocab}")
        print(f"{'':>12s} {'WS353':>13s} {'SimLex':>13s} {'analogy':>13s} {'n':>6s} {'oov: ws':>7s} {'sl':>5s} "
              f"{'an':>5s} {'words/s':>19s}")
        for name, m in runs.items():
            results.setdefault(name, []).append(m)
            print(row(name, m))
    if len(args.seeds) > 1:
        print(f"\nmean ± std over seeds {args.seeds}")
        for name, ms in results.items():
            mean = {k: statistics.mean(m[k] for m in ms) for k in ms[0]}
            print(row(name, mean, {k: statistics.stdev(m[k] for m in ms) for k in ms[0]}))
    print("\nwords/s: effective (kept) words over training time; ours: time inside Trainer.train_step "
          "(log: log.jsonl's throughput rows, words over seconds); gensim: the wall time of model.train")

    def mean_sd(name: str, k: str) -> str:
        v = [m[k] for m in results[name]]
        return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else float('nan'):.3f}"

    first, most = f"gensim {args.workers[0]}w", f"gensim {max(args.workers)}w"
    print(f"WS353: ours {mean_sd('ours', 'ws353')} vs {first} {mean_sd(first, 'ws353')}")
    ratio = statistics.mean(m["words_s"] for m in results["ours"]) / statistics.mean(m["words_s"] for m in results[most])
    print(f"words/s: ours / gensim {max(args.workers)} workers = {ratio:.2f}")


if __name__ == "__main__":
    main()
