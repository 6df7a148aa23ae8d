"""Our word2vec (``experiment=word2vec``) against gensim's ``Word2Vec``, side by side in one process, on two corpora.

Both train on the same corpus with the same settings: skip-gram, 5 negatives from ``count^0.75``, window 5,
dimension 100, min_count 5, sample 1e-3, ``--epochs`` epochs (20), SGD from 0.025 decaying linearly to 0.0001.
The corpora (``--corpus``, both by default): ``wiki``, gensim's Wikipedia sample ``data/english/wiki.txt``
(437k tokens, where 35 % of WordSim-353's pairs have a word outside the vocabulary), and ``gcide``, GCIDE's
dictionary text ``data/gcide/gcide.txt`` (4.2M tokens); each line one sentence, tokens space-separated.

* ours: every setting comes from the composed ``train`` config with ``experiment=word2vec`` (per-pair SGD in the
  compiled kernel, ``model.update=per_pair``, ``model.threads`` threads; batch size, loss, ...; only ``seed``,
  ``data.path``, ``trainer.max_epochs``, ``trainer.progress`` and ``trainer.val_every_steps`` (one validation,
  at the end: the evaluator keeps the last weights) are overridden, besides any Hydra overrides
  given on the command line, which gensim's values follow too: ``model=cbow data=cbow_data`` gives gensim
  ``sg=0``, ``loss=hierarchical_softmax`` gives ``hs=1, negative=0``), built by ``train.py``'s own
  ``engine.runs.make_trainer``, in a temporary run folder;
* gensim 4.4.0 (a benchmark-only dependency, ``requirements-bench.txt``): ``Word2Vec(sg, hs, negative,
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
  inside ``Trainer.train_step`` (batch building and the update), so the per-epoch validation, checkpoints and
  logging are left out as gensim's evaluation is. Also shown ("log"): the rate the
  ``throughput/words_per_s`` rows of the run's ``log.jsonl`` add up to (all their words over all their seconds,
  not the mean of the rows, which over-weights fast windows); those windows count nominal batches
  (``data.batch_size`` each) and leave the validation time out, as the Trainer does.

``torch.set_num_threads(--threads)`` (2 by default) for ours (the kernel's threads when ``model.threads`` is
null); gensim's workers are its own threads. The last lines are the headlines, per corpus: WS353 and SimLex,
ours over gensim's (means over the seeds; gensim's best worker count), with the seed spreads (standard
deviations) side by side; ours words/s over gensim's with its most workers (2 by default); then the smallest of
WS353 / gensim's, SimLex / gensim's and words/s / (0.5 x gensim's 2-worker words/s) over every corpus run, last
(the goal: at least 1.0).

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python -m benchmarks.word2vec [--corpus wiki gcide --seeds 0 1 2 --epochs 20 --workers 1 2 --threads 2]
                                            [--quick] [key=value ...]
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
        # validation only at the end (the evaluator keeps the last weights): 20 validations of GCIDE's analogies
        # would cost minutes of wall time (not of training time, which leaves them out)
        return hydra.compose("train", overrides=["experiment=word2vec", f"seed={seed}", f"runs_root={run_root}",
                                                 "trainer.progress=false", f"trainer.max_epochs={epochs}",
                                                 f"trainer.val_every_steps={10 ** 9}", *extra])


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

    hs = cfg.loss._target_.endswith("HierarchicalSoftmaxLoss")
    model = Word2Vec(sg=0 if cfg.model._target_.endswith("CBOW") else 1, hs=int(hs), negative=0 if hs else cfg.loss.k,
                     ns_exponent=cfg.loss.get("alpha", 0.75), window=cfg.data.window,
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


CORPORA = {"wiki": "data/english/wiki.txt", "gcide": "data/gcide/gcide.txt"}


def mean_sd(runs: list[dict[str, float]], k: str) -> tuple[float, float]:
    v = [m[k] for m in runs]
    return statistics.mean(v), statistics.stdev(v) if len(v) > 1 else float("nan")


def run_corpus(corpus: str, args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    """Every seed of ours and of gensim (each worker count) on one corpus; prints the per-seed rows and the means."""
    from datasets.token_corpus import read_token_lines, split_lines
    from evaluators.word_vectors import read_analogies, read_similarity_pairs

    results: dict[str, list[dict[str, float]]] = {}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose(seed, args.epochs, tmp, [f"data.path={CORPORA[corpus]}", *args.overrides])
            if seed == args.seeds[0]:
                ev, d = cfg.evaluator, cfg.data
                tests = {"ws353": read_similarity_pairs(ev.ws353), "simlex": read_similarity_pairs(ev.simlex),
                         "analogies": read_analogies(ev.analogies)}
                lines = split_lines(read_token_lines(d.path), d.val_fraction, d.test_fraction)["train"]
                print(f"\n== {corpus}: {d.path}: {len(lines)} lines, {sum(map(len, lines)):,} tokens; {args.epochs} "
                      f"epochs, seeds {args.seeds}; ours: model.update={cfg.model['update']} (threads "
                      f"{cfg.model.threads or torch.get_num_threads()}), optim {cfg.optim._target_} lr {cfg.optim.lr}, "
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
        print(f"\n{corpus}: mean ± std over seeds {args.seeds}")
        for name, ms in results.items():
            mean = {k: statistics.mean(m[k] for m in ms) for k in ms[0]}
            print(row(name, mean, {k: statistics.stdev(m[k] for m in ms) for k in ms[0]}))
    return results


def ratios(corpus: str, results: dict[str, list[dict[str, float]]], workers: list[int]) -> dict[str, float]:
    """Ours over gensim's best worker count (means over seeds) for WS353 and SimLex, and ours words/s over half of
    gensim's words/s with its most workers (2 by default: the goal is ours >= 0.5 of it)."""
    gensims = [f"gensim {w}w" for w in workers]
    out = {}
    for k in ("ws353", "simlex"):
        best = max(gensims, key=lambda g: mean_sd(results[g], k)[0])
        (ours, ours_sd), (theirs, theirs_sd) = mean_sd(results["ours"], k), mean_sd(results[best], k)
        print(f"{corpus} {k}: ours {ours:.3f} ± {ours_sd:.3f} vs {best} {theirs:.3f} ± {theirs_sd:.3f} "
              f"(ratio {ours / theirs:.3f}; spread ours / gensim's {ours_sd / theirs_sd:.2f})")
        out[k] = ours / theirs
    most = f"gensim {max(workers)}w"
    speed = mean_sd(results["ours"], "words_s")[0] / mean_sd(results[most], "words_s")[0]
    print(f"{corpus} words/s: ours / {most} = {speed:.3f}")
    out["speed"] = speed / 0.5
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", nargs="+", choices=sorted(CORPORA), default=["wiki", "gcide"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="gensim's worker threads, one run each")
    p.add_argument("--threads", type=int, default=2, help="torch threads for ours (and the kernel's, model.threads=null)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 2 epochs, 1 seed, the Wikipedia sample")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for the config (e.g. model.update=autograd)")
    args = p.parse_args()
    if args.quick:
        args.epochs, args.seeds, args.corpus = 2, args.seeds[:1], ["wiki"]
    os.chdir(ROOT)  # the configs' paths are relative to the repository
    logging.getLogger("gensim").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    import gensim

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), gensim {gensim.__version__}")
    headline = {}
    for corpus in args.corpus:
        results = run_corpus(corpus, args)
        headline[corpus] = ratios(corpus, results, args.workers)
    print("\nwords/s: effective (kept) words over training time; ours: time inside Trainer.train_step "
          "(log: log.jsonl's throughput rows, words over seconds); gensim: the wall time of model.train")
    for corpus, r in headline.items():
        print(f"{corpus}: WS353 / gensim's {r['ws353']:.3f}, SimLex / gensim's {r['simlex']:.3f}, "
              f"words/s / (0.5 x gensim {max(args.workers)}w) {r['speed']:.3f}")
    print(f"smallest of the ratios (goal >= 1.0): {min(min(r.values()) for r in headline.values()):.3f}")


if __name__ == "__main__":
    main()
