"""Word discovery, segmentation and templates against the posts' own code (nlp-zero 0.1.6) and jieba.

1. Side by side in one process, on People's Daily 1998-01 (``data/chinese/199801.txt``, raw lines in, gold
   words for scoring) and the *Three Kingdoms* (``sanguo.txt``), at (min_prob, min_pmi) = (1e-7, 1) and
   (1e-7, 3): ours (``discover``, rule=length: nlp-zero's rule) and nlp-zero's ``Word_Finder``. Discovery
   is all passes (``train`` + ``find``); segmentation is building the segmenter (``Segmenter(words)``;
   ``export_tokenizer()``) and segmenting every line (``tokenize_lines``; ``tokenize`` per line). Every
   repeat runs all rows, the order of ours and nlp-zero alternating, so load from other processes falls
   on both; each time is the best of ``--repeats`` (3). Ratios are nlp-zero's time / ours. Our compiled
   loops are loaded from numba's cache by one call on a tiny text before timing (as jieba's dictionary
   is loaded by ``jieba.initialize()``); a fresh checkout compiles them once (about 10 s). Our lexicons
   are checked against digests of the plain-Python code's (``min_entropy/reference.py``, commit 4ecbba7).
2. F1 on People's Daily: both of our methods at the best settings of the sweeps in docs/word_discovery.md, nlp-zero, jieba.
3. Templates on People's Daily's gold words: ``find_templates`` against ``Template_Finder`` (window 5,
   min_prob 1e-5, min_pmi 2), the same clauses in, the two interleaved, best of ``--repeats``; our
   15,143 templates and their counts are checked against a digest (``TEMPLATES_PIN``, the plain-Python
   miner's, ``min_entropy/template_reference.py``).
4. Cost against corpus size, (1e-7, 1), rule=length: text files made of the raw lines of all three corpora
   (People's Daily, Sanguo, reviews: 5.0M distinct characters of text) repeated and cut at ``--scale-mb``
   megabytes, streamed from disk, one fresh process per run so that its peak memory (VmHWM) is its own:
   ours in one process, ours counting on a local Dask cluster (2 single-threaded worker processes; their
   peak memory added), and nlp-zero up to 10 MB.

    make bench-lexicon  # or: .venv/bin/python -m benchmarks.lexicon [--quick] [--repeats N] [--scale-mb 10,100] [--no-scaling]

The last lines list every nlp-zero / ours time ratio (discovery and segmentation of the side-by-side rows,
and templates), and the very last one is the smallest, e.g. ``smallest nlp-zero / ours time ratio: 12.3
(templates)`` (goal: >= 10). Measured 2026-12-07 on 2 CPU cores shared with other work, three full runs:
smallest 15.2, 13.1 and 13.6 (segmentation on People's Daily (1e-7, 1)); discovery 15.0-20.0 (People's
Daily 15.0-19.4); templates 13.9-21.7 (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from min_entropy.chinese_text import Corpus
from min_entropy.engines import DaskEngine
from min_entropy.lexicon import discover
from min_entropy.ngram_pmi import discover_ngram_pmi
from min_entropy.segmenter import Segmenter, segmentation_scores
from min_entropy.templates import find_templates, split_clauses, template_str

ROOT = Path(__file__).resolve().parents[1]
CORPORA = {"peoples_daily": (ROOT / "data/chinese/199801.txt", "peoples_daily"),
           "sanguo": (ROOT / "data/chinese/sanguo.txt", "text")}
RAW = [ROOT / "data/chinese/sanguo.txt", ROOT / "data/chinese/reviews.txt"]
SETTINGS = [(1e-7, 1.0), (1e-7, 3.0)]
PINS = {  # lexicon size, sha256 of the sorted "word<TAB>count" lines, of the segmented lines (rule=length)
    ("peoples_daily", 1.0): (158477, "7b15a6b86c8895f0", "15c47e6f5a168f46"),
    ("peoples_daily", 3.0): (50546, "3d27f5237eb1c50a", "ac0c296a5425fe02"),
    ("sanguo", 1.0): (78876, "d1a10f428c6c5fb4", "206dfaf2dfdfb2e5"),
    ("sanguo", 3.0): (34310, "72d1fbcc3a10abc5", "86fba4076f495a6e"),
}
TEMPLATES_PIN = (15143, "f279ce324813d121")  # People's Daily's gold words: templates kept, sha256 of "template<TAB>count"
BEST_PAIR_PMI = (1e-6, 3.0, "length")  # the sweeps on People's Daily (docs/word_discovery.md)
BEST_NGRAM_PMI = (4, 2, (1.25, 4.5, 8.0))
INSTALL = ".venv/bin/pip install -r requirements-bench.txt"


def import_nlp_zero() -> Any:
    import collections
    import collections.abc
    if not hasattr(collections, "Iterable"):  # nlp-zero 0.1.6 imports it from collections (gone since 3.10)
        collections.Iterable = collections.abc.Iterable
    logging.getLogger().setLevel(logging.WARNING)  # its progress goes to logging.info
    try:
        import nlp_zero
    except ImportError:
        return None
    return nlp_zero


def timed(fn, *args) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ours(lines, p, pmi):
    t_disc, found = timed(discover, lines, p, pmi, "length")
    t_seg, pred = timed(lambda: Segmenter(found.words).tokenize_lines(lines))
    return t_disc, t_seg, found.words, pred


def peer(nz, lines, p, pmi):
    def run():
        finder = nz.Word_Finder(min_proba=p, min_pmi=pmi)
        finder.train(lines)
        finder.find(lines)
        return finder
    t_disc, finder = timed(run)
    t_seg, pred = timed(lambda: [tok.tokenize(line) for tok in [finder.export_tokenizer()] for line in lines])
    return t_disc, t_seg, finder.words, pred


def side_by_side(texts, gold, repeats, nz) -> list[dict]:
    rows: dict[tuple, dict] = {}
    for rep in range(repeats):
        for name, lines in texts.items():
            for p, pmi in SETTINGS:
                for who in (["ours", "peer"] if rep % 2 == 0 else ["peer", "ours"]) if nz else ["ours"]:
                    t_disc, t_seg, words, pred = ours(lines, p, pmi) if who == "ours" else peer(nz, lines, p, pmi)
                    row = rows.setdefault((name, pmi, who), {"corpus": name, "setting": f"({p:g}, {pmi:g})",
                                                             "who": who, "disc": [], "seg": [], "size": len(words)})
                    row["disc"].append(t_disc)
                    row["seg"].append(t_seg)
                    if rep == 0 and who == "ours":
                        size, lex, seg = PINS[name, pmi]
                        row["unchanged"] = (len(words), digest("\n".join(f"{w}\t{c}" for w, c in sorted(words.items()))),
                                            digest("\n".join(" ".join(x) for x in pred))) == (size, lex, seg)
                    if rep == 0 and name in gold:
                        row["scores"] = segmentation_scores(gold[name], pred)
                    print(f"  [{rep + 1}] {who:<4} {name:<13} ({p:g}, {pmi:g})  discovery {t_disc:6.2f} s  "
                          f"segmentation {t_seg:6.2f} s", flush=True)
    return list(rows.values())


def f1_rows(lines, gold, nz, jieba) -> list[tuple[str, str, int | None, float, float, dict]]:
    out = []
    p, pmi, rule = BEST_PAIR_PMI
    t, found = timed(discover, lines, p, pmi, rule)
    s, pred = timed(lambda: Segmenter(found.words).tokenize_lines(lines))
    out.append(("ours: post 1 (pair PMI)", f"min_prob {p:g}, min_pmi {pmi:g}, rule {rule}", len(found.words), t, s,
                segmentation_scores(gold, pred)))
    order, count, pmis = BEST_NGRAM_PMI
    t, found = timed(discover_ngram_pmi, lines, order, count, pmis)
    s, pred = timed(lambda: Segmenter(found.words).tokenize_lines(lines))
    out.append(("ours: 2019 (n-gram PMI)", f"order {order}, min_count {count}, min_pmi {list(pmis)}", len(found.words),
                t, s, segmentation_scores(gold, pred)))
    if jieba is not None:
        for hmm in (True, False):
            s, pred = timed(lambda hmm=hmm: [jieba.lcut(line, HMM=hmm) for line in lines])
            out.append((f"jieba 0.42.1, HMM {'on' if hmm else 'off'}", "supervised dictionary", None, 0.0, s,
                        segmentation_scores(gold, pred)))
    return out


def templates_digest(found: dict) -> tuple[int, str]:
    """The number of templates and the digest of their sorted ``template<TAB>count`` lines (words space-separated)."""
    rows = sorted(f"{template_str(t, ' ')}\t{c}" for t, c in found.items())
    return len(found), digest("\n".join(rows))


def templates(gold, repeats, nz) -> tuple[list[tuple[str, int, float]], bool]:
    """Best-of-``repeats`` times of both miners, and whether ours kept the pinned templates and counts."""
    clauses = [c for words in gold for c in split_clauses(words)]
    sents = ["|".join(c) for c in clauses]  # one clause per sentence, its gold words kept by the tokenizer
    best = {"ours": (float("inf"), 0), "nlp-zero": (float("inf"), 0)}

    def peer_templates():
        finder = nz.Template_Finder(lambda s: s.split("|"), window=5, min_proba=1e-5, min_pmi=2)
        finder.train(sents, filtering=False)
        finder.find(sents, filtering=False)
        return finder

    unchanged = True
    for rep in range(repeats):
        for who in (["ours", "nlp-zero"] if rep % 2 == 0 else ["nlp-zero", "ours"]) if nz is not None else ["ours"]:
            if who == "ours":
                t, found = timed(find_templates, clauses, 5, 1e-5, 2.0)
                unchanged &= templates_digest(found.templates) == TEMPLATES_PIN
                best["ours"] = min(best["ours"], (t, len(found.templates)))
            else:
                t, finder = timed(peer_templates)
                best["nlp-zero"] = min(best["nlp-zero"], (t, len(finder.templates)))
    return [(k, n, t) for k, (t, n) in best.items() if n], unchanged


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scale_worker(path: str, impl: str) -> None:
    """Runs in its own process; prints one ``RESULT {json}`` line."""
    out: dict[str, Any] = {}
    corpus = Corpus(path, "text")
    p, pmi = SETTINGS[0]
    if impl == "peer":
        nz = import_nlp_zero()
        start = time.perf_counter()
        finder = nz.Word_Finder(min_proba=p, min_pmi=pmi)
        finder.train(corpus)
        finder.find(corpus)
        out["disc"], words = time.perf_counter() - start, finder.words
        start = time.perf_counter()
        tok = finder.export_tokenizer()
        out["tokens"] = sum(len(tok.tokenize(line)) for line in corpus)
    elif impl in ("ours", "dask"):
        engine = None
        if impl == "dask":
            from dask.distributed import LocalCluster
            start = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            engine = DaskEngine(cluster.scheduler_address, partitions=16)
            out["cluster_s"] = time.perf_counter() - start
        start = time.perf_counter()
        found = discover(corpus, p, pmi, "length", engine=engine)
        out["disc"], words, out["pairs"] = time.perf_counter() - start, found.words, found.num_pairs
        if engine is not None:
            out["workers_mb"] = sum(engine.client.run(vm_hwm_mb).values())
            engine.close()
            cluster.close()
        start = time.perf_counter()
        seg = Segmenter(words)
        out["tokens"] = sum(len(w) for block in corpus.blocks() for w in seg.tokenize_lines(block.split("\n")))
    out["seg"] = time.perf_counter() - start if impl != "bare" else 0.0
    out["lexicon"] = len(words) if impl != "bare" else 0
    out["rss"] = vm_hwm_mb()
    print("RESULT " + json.dumps(out), flush=True)


def run_worker(path: str, impl: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.lexicon", "--scale-worker", path, "--impl", impl]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{impl} worker on {path} failed (rc {proc.returncode}): {proc.stderr[-2000:]}")


def write_scaled(sources: list[str], megabytes: float, path: Path) -> tuple[int, int]:
    """The source lines repeated until ``megabytes`` of UTF-8, the last copy cut there; (bytes, characters)."""
    text = "\n".join(sources) + "\n"
    blob, target = text.encode(), int(megabytes * 1e6)
    copies, rest = divmod(target, len(blob))
    tail = blob[:rest].decode("utf-8", "ignore")  # cut at a character boundary
    with open(path, "wb") as f:
        for _ in range(copies):
            f.write(blob)
        f.write(tail.encode())
    return copies * len(blob) + len(tail.encode()), copies * len(text) + len(tail)


def scaling(sizes: list[float], nz) -> list[dict]:
    sources = list(Corpus(str(CORPORA["peoples_daily"][0]), "peoples_daily").lines())
    sources += [line for p in RAW for line in Corpus(str(p), "text").lines()]
    results = [{"impl": "bare interpreter + our modules", "mb": 0, **run_worker(str(RAW[0]), "bare")}]
    with tempfile.TemporaryDirectory() as tmp:
        for mb in sizes:
            path = Path(tmp) / f"scaled_{mb:g}MB.txt"
            size, chars = write_scaled(sources, mb, path)
            for impl in ("ours", "dask", "peer"):
                if impl == "peer" and (nz is None or mb > 10):
                    continue
                r = run_worker(str(path), impl) | {"impl": impl, "mb": size / 1e6, "chars": chars}
                results.append(r)
                print(f"  {impl:<5} {size / 1e6:8.1f} MB {chars:>13,} chars  discovery {r['disc']:8.2f} s  "
                      f"segmentation {r['seg']:8.2f} s  peak RSS {r['rss']:7.0f} MB"
                      + (f" + workers {r['workers_mb']:.0f} MB" if "workers_mb" in r else ""), flush=True)
            path.unlink()
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the first 3,000 lines, one repeat, scaling at 2 and 8 MB")
    p.add_argument("--repeats", type=int, default=3, help="best of N for the side-by-side timings (default 3)")
    p.add_argument("--scale-mb", default="10,100,1000", help="corpus sizes for the scaling runs, in MB")
    p.add_argument("--no-scaling", action="store_true", help="skip part 4 (the scaling runs: minutes at 1 GB)")
    p.add_argument("--scale-worker", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale_worker:
        return scale_worker(args.scale_worker, args.impl)
    wall = time.perf_counter()
    n = 3000 if args.quick else None
    texts = {k: list(Corpus(str(path), fmt, max_lines=n).lines()) for k, (path, fmt) in CORPORA.items()}
    gold = {"peoples_daily": list(Corpus(str(CORPORA["peoples_daily"][0]), "peoples_daily", max_lines=n).gold())}
    nz = import_nlp_zero()
    try:
        import jieba
        jieba.setLogLevel(60)
        jieba.initialize()  # loads its dictionary: not timed
    except ImportError:
        jieba = None
    repeats = 1 if args.quick else args.repeats
    warm = ["天地玄黄，宇宙洪荒。"] * 3  # loads the compiled loops from numba's cache (once per process): not timed
    Segmenter(discover(warm).words).tokenize_lines(warm)
    find_templates([["天地", "玄黄"], ["宇宙", "洪荒"]] * 3)
    print(f"python {sys.version.split()[0]}; nlp-zero {'0.1.6' if nz else 'missing'}; jieba "
          f"{jieba.__version__ if jieba else 'missing'}" + ("" if nz and jieba else f"; missing peers are skipped: {INSTALL}"))
    for k, lines in texts.items():
        print(f"{k}: {len(lines):,} lines, {sum(map(len, lines)):,} characters")
    print(f"1. side by side, best of {repeats}, interleaved", flush=True)
    rows = side_by_side(texts, gold, repeats, nz)
    print("\n| corpus | (min_prob, min_pmi) | system | lexicon | discovery s | segmentation s | F1 | lexicon unchanged |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        f1 = f"{r['scores']['f1']:.3f}" if "scores" in r else "-"
        same = ("yes" if r["unchanged"] else "NO") if "unchanged" in r and not args.quick else "-"
        print(f"| {r['corpus']} | {r['setting']} | {'ours' if r['who'] == 'ours' else 'nlp-zero 0.1.6'} | {r['size']:,} | "
              f"{min(r['disc']):.3f} | {min(r['seg']):.3f} | {f1} | {same} |")
    ratios = []
    if nz is not None:
        print("\n| corpus | (min_prob, min_pmi) | discovery nlp-zero / ours | segmentation nlp-zero / ours |")
        print("|---|---|---:|---:|")
        for o in (r for r in rows if r["who"] == "ours"):
            q = next(r for r in rows if r["who"] == "peer" and r["corpus"] == o["corpus"] and r["setting"] == o["setting"])
            rd, rs = min(q["disc"]) / min(o["disc"]), min(q["seg"]) / min(o["seg"])
            ratios += [(rd, f"discovery, {o['corpus']} {o['setting']}"), (rs, f"segmentation, {o['corpus']} {o['setting']}")]
            print(f"| {o['corpus']} | {o['setting']} | {rd:.1f} | {rs:.1f} |")

    print("\n2. F1 on People's Daily (micro, word spans)", flush=True)
    print("| system | settings | lexicon | discovery s | segmentation s | P | R | F1 |\n|---|---|---:|---:|---:|---:|---:|---:|")
    for name, setting, size, t, s, sc in f1_rows(texts["peoples_daily"], gold["peoples_daily"], nz, jieba):
        print(f"| {name} | {setting} | {'-' if size is None else f'{size:,}'} | {t:.2f} | {s:.2f} | "
              f"{sc['precision']:.3f} | {sc['recall']:.3f} | {sc['f1']:.3f} |")
    for r in rows:
        if r["corpus"] == "peoples_daily" and r["who"] == "peer":
            sc = r["scores"]
            print(f"| nlp-zero 0.1.6 | {r['setting']} | {r['size']:,} | {min(r['disc']):.2f} | {min(r['seg']):.2f} | "
                  f"{sc['precision']:.3f} | {sc['recall']:.3f} | {sc['f1']:.3f} |")

    print("\n3. templates on People's Daily's gold words (window 5, min_prob 1e-5, min_pmi 2)", flush=True)
    tpl, same = templates(gold["peoples_daily"], repeats, nz)
    print("| system | templates | seconds |\n|---|---:|---:|")
    for name, count, t in tpl:
        print(f"| {name} | {count:,} | {t:.3f} |")
    if not args.quick:
        print(f"templates unchanged (the pinned {TEMPLATES_PIN[0]:,} templates and counts): {'yes' if same else 'NO'}")
    if len(tpl) == 2:
        ratios.append((tpl[1][2] / tpl[0][2], "templates"))
        print(f"templates: nlp-zero / ours time {ratios[-1][0]:.1f}")

    sizes = [2.0, 8.0] if args.quick else [float(x) for x in args.scale_mb.split(",")]
    results = []
    if not args.no_scaling:
        print("\n4. scaling: (1e-7, 1), rule=length, streamed from disk, one fresh process per run", flush=True)
        results = scaling(sizes, nz)
    if results:
        print("\n| run | MB | characters | lexicon | discovery s | segmentation s | ns / character | peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r["mb"] == 0:
            print(f"| {r['impl']} | - | - | - | - | - | - | {r['rss']:.0f} |")
            continue
        name = {"ours": "ours, one process", "dask": "ours, local Dask cluster (2 workers)", "peer": "nlp-zero 0.1.6"}[r["impl"]]
        rss = f"{r['rss']:.0f}" + (f" + {r['workers_mb']:.0f} (workers)" if "workers_mb" in r else "")
        print(f"| {name} | {r['mb']:.0f} | {r['chars']:,} | {r['lexicon']:,} | {r['disc']:.1f} | {r['seg']:.1f} | "
              f"{1e9 * (r['disc'] + r['seg']) / r['chars']:.0f} | {rss} |")
    print(f"\ntotal benchmark wall time {time.perf_counter() - wall:.0f} s")
    if ratios:
        for ratio, row in sorted(ratios, reverse=True):
            print(f"  nlp-zero / ours {ratio:5.1f}  {row}")
        worst = min(ratios)
        print(f"smallest nlp-zero / ours time ratio: {worst[0]:.1f} ({worst[1]})")


if __name__ == "__main__":
    main()
