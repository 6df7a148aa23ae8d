"""Lexicon discovery and segmentation: ``min_entropy.lexicon.discover`` + ``Segmenter`` against nlp-zero and jieba.

What is measured, on People's Daily 1998-01 (``data/chinese/199801.txt``; raw lines in, its gold words
for scoring):

1. side by side in one process, for (min_prob, min_pmi) in (1e-7, 1), (1e-7, 2), (1e-7, 3), (1e-5, 1):
   ours with ``rule="length"`` (nlp-zero's rule) and ``rule="constant"`` (the post's), and nlp-zero
   0.1.6's ``Word_Finder`` (the posts' own code; ``requirements-bench.txt``). Discovery time is all
   four passes (``discover``; ``train`` + ``find`` for nlp-zero); segmentation time is building the
   segmenter (``Segmenter(words)``; ``export_tokenizer()``) and segmenting every line. Then lexicon
   size and micro word precision / recall / F1 against the gold. jieba 0.42.1 (HMM on and off) gives
   segmentation rows, and one row segments nlp-zero's lexicon at (1e-7, 1) with our ``Segmenter``, to
   separate the lexicon's quality from the segmenter's. Every repeat runs all rows in turn (the order
   of ours and nlp-zero alternates between repeats), so that load from other processes falls on both;
   each time is the best of ``--repeats`` (3). Ratios are nlp-zero's time / ours (> 1: ours is faster).
2. scaling: ours (and nlp-zero at 1x and 4x; 16x only if 4x took under 2 minutes) at 1x, 4x and 16x
   the characters of People's Daily, on text files made of the raw lines of all three corpora
   (People's Daily, sanguo, reviews) repeated and cut at the size, streamed from disk; each size runs
   once in a fresh subprocess so that its peak RSS is its own (VmHWM from /proc: Linux carries
   ``ru_maxrss`` over fork + exec, so that would include the parent's peak). A bare interpreter that
   imports only our modules (and one that also imports nlp-zero) gives the RSS baseline.

    make bench-lexicon        # or: .venv/bin/python -m benchmarks.lexicon [--quick] [--repeats N]

``--quick``: the first 3,000 lines, only (1e-7, 1), scaling 1x and 4x of those lines: a check that
everything runs, not a figure to quote.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.memory import peak_rss_mb
from min_entropy.chinese_text import Corpus
from min_entropy.lexicon import discover
from min_entropy.segmenter import Segmenter, segmentation_scores

ROOT = Path(__file__).resolve().parents[1]
PD = ROOT / "data/chinese/199801.txt"
RAW = [ROOT / "data/chinese/sanguo.txt", ROOT / "data/chinese/reviews.txt"]
SETTINGS = [(1e-7, 1.0), (1e-7, 2.0), (1e-7, 3.0), (1e-5, 1.0)]
INSTALL = ".venv/bin/pip install -r requirements-bench.txt"
PEER_16X_LIMIT_S = 120.0


def import_nlp_zero() -> Any:
    # nlp-zero 0.1.6 does `from collections import Iterable`, gone since Python 3.10: alias it first.
    import collections
    import collections.abc
    if not hasattr(collections, "Iterable"):
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


def our_segment(words, lines) -> list[list[str]]:
    seg = Segmenter(words)
    return [seg.tokenize(line) for line in lines]


def peer_discover(nz, lines, min_prob: float, min_pmi: float) -> Any:
    finder = nz.Word_Finder(min_proba=min_prob, min_pmi=min_pmi)
    finder.train(lines)
    finder.find(lines)
    return finder


def peer_segment(finder, lines) -> list[list[str]]:
    tok = finder.export_tokenizer()
    return [tok.tokenize(line) for line in lines]


@dataclass
class Row:
    name: str
    setting: str
    disc: list[float] = field(default_factory=list)
    seg: list[float] = field(default_factory=list)
    size: int | None = None
    scores: dict | None = None

    def add(self, disc: float | None, seg: float, size: int | None, pred, gold) -> None:
        if disc is not None:
            self.disc.append(disc)
        self.seg.append(seg)
        if self.scores is None:
            self.size, self.scores = size, segmentation_scores(gold, pred)
        elif size != self.size:
            print(f"  ! {self.name} {self.setting}: lexicon size {size} != {self.size} in an earlier repeat")

    def best(self, which: str) -> float | None:
        times = getattr(self, which)
        return min(times) if times else None


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def side_by_side(lines, gold, settings, repeats: int, nz, jieba) -> dict[str, Row]:
    rows: dict[str, Row] = {}

    def row(key: str, name: str, setting: str) -> Row:
        return rows.setdefault(key, Row(name, setting))

    for rep in range(repeats):
        for k, (p, pmi) in enumerate(settings):
            s = f"({p:g}, {pmi:g})"
            jobs = ["length", "constant", "peer"] if nz is not None else ["length", "constant"]
            for job in jobs if rep % 2 == 0 else jobs[::-1]:
                if job == "peer":
                    t_disc, finder = timed(peer_discover, nz, lines, p, pmi)
                    t_seg, pred = timed(peer_segment, finder, lines)
                    row(f"peer{k}", "nlp-zero", s).add(t_disc, t_seg, len(finder.words), pred, gold)
                    if k == 0:
                        t_seg, pred = timed(our_segment, finder.words, lines)
                        row("peer_lex", "nlp-zero lexicon + our Segmenter", s).add(None, t_seg, len(finder.words), pred, gold)
                    del finder
                else:
                    t_disc, d = timed(discover, lines, p, pmi, job)
                    t_seg, pred = timed(our_segment, d.words, lines)
                    row(f"{job}{k}", f"ours rule={job}", s).add(t_disc, t_seg, len(d.words), pred, gold)
                    del d
                del pred
                r = rows[f"peer{k}" if job == "peer" else f"{job}{k}"]
                print(f"  [{rep + 1}] {r.name:<20} {s:<10} discovery {r.disc[-1]:6.2f} s  segmentation {r.seg[-1]:6.2f} s",
                      flush=True)
        if jieba is not None:
            for hmm in (True, False):
                t_seg, pred = timed(lambda hmm=hmm: [jieba.lcut(line, HMM=hmm) for line in lines])
                row(f"jieba{hmm}", f"jieba HMM={'on' if hmm else 'off'}", "-").add(None, t_seg, None, pred, gold)
                print(f"  [{rep + 1}] jieba HMM={'on' if hmm else 'off':<11} segmentation {t_seg:6.2f} s", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# scaling: one subprocess per size


def scale_worker(path: str, impl: str) -> None:
    """Runs in its own process; prints one ``RESULT {json}`` line."""
    out: dict[str, Any] = {}
    if impl in ("ours", "peer"):
        corpus = Corpus(path, "text")  # streamed from disk on every pass, for both
        p, pmi = SETTINGS[0]
        start = time.perf_counter()
        if impl == "ours":
            d = discover(corpus, p, pmi, "length")
            words, out["pairs"] = d.words, d.num_pairs
            out["disc"] = time.perf_counter() - start
            start = time.perf_counter()
            seg = Segmenter(words)
        else:
            finder = import_nlp_zero().Word_Finder(min_proba=p, min_pmi=pmi)
            finder.train(corpus)
            out["pairs"] = len(finder.pairs)  # find() empties it
            finder.find(corpus)
            words = finder.words
            out["disc"] = time.perf_counter() - start
            start = time.perf_counter()
            seg = finder.export_tokenizer()
        out["tokens"] = sum(len(seg.tokenize(line)) for line in corpus)
        out["seg"], out["lexicon"] = time.perf_counter() - start, len(words)
    elif impl == "bare-peer":
        import_nlp_zero()
    out["rss"] = peak_rss_mb()
    print("RESULT " + json.dumps(out), flush=True)


def run_worker(path: str, impl: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.lexicon", "--scale-worker", path, "--impl", impl]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{impl} worker on {path} failed (rc {proc.returncode}): {proc.stderr[-2000:]}")


def write_scaled(sources: list[str], target: int, path: Path) -> int:
    """The source lines repeated until ``target`` characters, the last one cut at it."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        while n < target:
            for line in sources:
                line = line[:target - n]
                f.write(line + "\n")
                n += len(line)
                if n >= target:
                    break
    return n


def scaling(pd_lines: list[str], factors: list[int], nz) -> tuple[list[dict], list[str]]:
    sources = pd_lines + [line for p in RAW for line in Corpus(str(p), "text").lines()]
    base = sum(len(line) for line in pd_lines)
    results, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for impl, label in (("bare", "bare python + our modules"), ("bare-peer", "bare python + nlp_zero")):
            if impl == "bare" or nz is not None:
                results.append({"impl": label, "x": "-", "rss": run_worker(str(ROOT), impl)["rss"]})
        for x in factors:
            path = Path(tmp) / f"scaled_{x}x.txt"
            chars = write_scaled(sources, base * x, path)
            for impl in ("ours", "peer"):
                if impl == "peer" and nz is None:
                    continue
                peer4 = next((r for r in results if r["impl"] == "nlp-zero" and r["x"] == 4), None)
                if impl == "peer" and x > 4 and peer4 and peer4["disc"] + peer4["seg"] > PEER_16X_LIMIT_S:
                    notes.append(f"nlp-zero at {x}x skipped: it took {peer4['disc'] + peer4['seg']:.0f} s at 4x "
                                 f"(limit {PEER_16X_LIMIT_S:.0f} s)")
                    continue
                r = run_worker(str(path), impl) | {"impl": "ours (length)" if impl == "ours" else "nlp-zero",
                                                   "x": x, "chars": chars}
                results.append(r)
                print(f"  {r['impl']:<14} {x:>3}x {chars:>12,} chars  discovery {r['disc']:7.2f} s  "
                      f"segmentation {r['seg']:7.2f} s  peak RSS {r['rss']:7.0f} MB", flush=True)
    return results, notes


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="first 3,000 lines, one setting, scaling 1x and 4x")
    p.add_argument("--repeats", type=int, default=3, help="best of N for the timings (default 3)")
    p.add_argument("--scale-worker", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale_worker:
        return scale_worker(args.scale_worker, args.impl)

    wall = time.perf_counter()
    corpus = Corpus(str(PD), "peoples_daily", max_lines=3000 if args.quick else None)
    lines, gold = list(corpus.lines()), list(corpus.gold())
    settings = SETTINGS[:1] if args.quick else SETTINGS
    nz = import_nlp_zero()
    try:
        import jieba
        jieba.setLogLevel(60)
        jieba.initialize()  # loads its dictionary: not timed
    except ImportError:
        jieba = None
    print(f"People's Daily 1998-01: {len(lines):,} lines, {sum(map(len, lines)):,} chars; python "
          f"{sys.version.split()[0]}; nlp-zero {'0.1.6' if nz else 'missing'}; jieba {jieba.__version__ if jieba else 'missing'}"
          + ("" if nz and jieba else f"; missing peers are skipped: {INSTALL}"), flush=True)
    print(f"1. side by side, {args.repeats} repeats, interleaved", flush=True)
    rows = side_by_side(lines, gold, settings, args.repeats, nz, jieba)

    print("\n| system | (min_prob, min_pmi) | lexicon | discovery s | segmentation s | P | R | F1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    order = [f"{j}{k}" for k in range(len(settings)) for j in ("length", "constant", "peer")]
    for key in [*order, "peer_lex", "jiebaTrue", "jiebaFalse"]:
        if key in rows:
            r, sc = rows[key], rows[key].scores
            print(f"| {r.name} | {r.setting} | {fmt(r.size, ',')} | {fmt(r.best('disc'))} | {fmt(r.best('seg'))} | "
                  f"{sc['precision']:.3f} | {sc['recall']:.3f} | {sc['f1']:.3f} |")
    print(f"\ntimes: best of {args.repeats}; segmentation includes building the segmenter / tokenizer.")
    ratios = []
    if nz is not None:
        print("\n| (min_prob, min_pmi) | discovery nlp-zero / ours (length) | segmentation nlp-zero / ours (length) |")
        print("|---|---:|---:|")
        for k in range(len(settings)):
            ours, peer = rows[f"length{k}"], rows[f"peer{k}"]
            rd, rs = peer.best("disc") / ours.best("disc"), peer.best("seg") / ours.best("seg")
            ratios.append((ours.setting, rd, rs))
            print(f"| {ours.setting} | {rd:.2f} | {rs:.2f} |")

    print("\n2. scaling: (1e-7, 1), rule=length; one fresh subprocess per run, files streamed from disk", flush=True)
    results, notes = scaling(lines, [1, 4] if args.quick else [1, 4, 16], nz)
    print("\n| run | size | chars | distinct pairs | lexicon | discovery s | segmentation s | peak RSS MB | "
          "discovery s/char vs 1x | segmentation s/char vs 1x |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r["x"] == "-":
            print(f"| {r['impl']} | - | - | - | - | - | - | {r['rss']:.0f} | - | - |")
            continue
        one = next(b for b in results if b["impl"] == r["impl"] and b["x"] == 1)
        per = [(r[k] / r["chars"]) / (one[k] / one["chars"]) for k in ("disc", "seg")]
        print(f"| {r['impl']} | {r['x']}x | {r['chars']:,} | {r['pairs']:,} | {r['lexicon']:,} | {r['disc']:.2f} | "
              f"{r['seg']:.2f} | {r['rss']:.0f} | {per[0]:.2f} | {per[1]:.2f} |")
    for note in notes:
        print(note)

    print("\nsummary")
    for s, rd, rs in ratios:
        print(f"  {s}: nlp-zero / ours time: discovery {rd:.2f}x, segmentation {rs:.2f}x")
    f1 = {k: r.scores["f1"] for k, r in rows.items()}
    print(f"  F1 at {settings[0]}: ours length {f1['length0']:.3f}, ours constant {f1['constant0']:.3f}"
          + (f", nlp-zero {f1['peer0']:.3f}, nlp-zero lexicon + our Segmenter {f1['peer_lex']:.3f}" if nz else "")
          + (f", jieba HMM on {f1['jiebaTrue']:.3f} / off {f1['jiebaFalse']:.3f}" if jieba else ""))
    for impl in ("ours (length)", "nlp-zero"):
        big = [r for r in results if r["impl"] == impl]
        if len(big) > 1:
            a, b = big[0], big[-1]
            per_char = (b["disc"] + b["seg"]) / b["chars"] / ((a["disc"] + a["seg"]) / a["chars"])
            print(f"  {impl} {b['x']}x vs 1x: time/char {per_char:.2f}x, peak RSS {a['rss']:.0f} -> {b['rss']:.0f} MB")
    print(f"  total benchmark wall time {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
