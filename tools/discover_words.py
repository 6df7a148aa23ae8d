"""Discover a lexicon from raw text: ``python tools/discover_words.py [corpus=...] [lexicon=pair_pmi|ngram_pmi]``.

``lexicon=pair_pmi`` is post 1's method (kexue.fm/archives/5476), ``lexicon=ngram_pmi`` the 2019 one
(kexue.fm/archives/6920); ``lexicon.engine=dask`` counts on a Dask cluster.

Writes to ``runs/discover_words/<corpus>/<date_time>/``:

- ``lexicon.tsv``: ``word, count, log_prob, gain`` (the de-redundancy gain of words of two or more characters);
- ``removed.tsv``: the words de-redundancy removed, with their gains, in the order removed;
- ``jieba_dict.txt``: the same lexicon as a jieba user dictionary (``word count`` a line, no POS tag), for
  ``jieba.load_userdict(path)``; a word holding whitespace cannot be written in that format and is left out,
  which ``metrics.json`` (``jieba_dict_skipped``) and the summary report;
- ``metrics.json``: the size after each pass, wall time of each pass, peak memory, ``L`` (bits per
  character) with characters and with the lexicon's words as units, and word precision / recall / F1
  against the corpus's gold segmentation where it has one;
- ``segmented.txt`` with ``write_segmented=true``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from engine.cli import print_result, run_guarded
from engine.errors import as_bool, as_int
from engine.files import write_atomic
from engine.instantiate import build
from engine.memory import peak_rss_mb
from min_entropy.chinese_text import Corpus
from min_entropy.lexicon import information_per_char, save_lexicon
from min_entropy.segmenter import Segmenter, segmentation_scores


def segment_corpus(corpus: Corpus, seg: Segmenter, tally: Counter, out: Path | None,
                   progress: bool = False, batch: int = 10_000) -> Iterator[list[str]]:
    """Yield the segmentation of each line; count the words of chunks into ``tally``."""
    f = open(out, "w", encoding="utf-8") if out else None
    bar = tqdm(desc="segmenting", unit=" lines", disable=not progress, mininterval=1.0)
    try:
        lines_iter = corpus.lines()
        while lines := list(itertools.islice(lines_iter, batch)):
            for words in seg.tokenize_lines(lines, tally):
                if f:
                    f.write(" ".join(words) + "\n")
                yield words
            bar.update(len(lines))
    finally:
        bar.close()
        if f:
            f.close()


def save_jieba_dict(path: Path, words: Mapping[str, int]) -> list[str]:
    """Write ``words`` as a jieba user dictionary: ``word count`` a line, sorted like ``lexicon.tsv`` (by count,
    then word); no POS tag. Returns the words left out: jieba splits each line at spaces and strips it, so a word
    that is empty or holds any whitespace character would be read back as another word."""
    skipped = sorted(w for w in words if not w or any(c.isspace() for c in w))
    left_out = set(skipped)
    rows = [f"{w} {n}\n" for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if w not in left_out]
    write_atomic(path, "".join(rows))
    return skipped


def run(cfg: DictConfig, out: Path) -> dict:
    corpus = build("corpus", cfg.corpus)
    method = build("lexicon", cfg.lexicon)
    evaluate, write_segmented = as_bool("evaluate", cfg.evaluate), as_bool("write_segmented", cfg.write_segmented)
    top = as_int("top", cfg.top)
    found = method.discover(corpus, progress=as_bool("progress", cfg.progress))
    save_lexicon(out / "lexicon.tsv", found.words, found.gains)
    jieba_skipped = save_jieba_dict(out / "jieba_dict.txt", found.words)
    write_atomic(out / "removed.tsv", "word\tgain\n" + "".join(f"{w}\t{g:.4f}\n" for w, g in found.removed))
    settings = {k: v for k, v in OmegaConf.to_container(cfg.lexicon).items() if k != "_target_"}
    m: dict = {"corpus": corpus.name or corpus.path, "method": type(method).__name__, **settings,
               "chars": sum(found.char_counts.values()), "distinct_chars": len(found.char_counts),
               "distinct_pairs": found.num_pairs, "strong_pairs": found.num_strong_pairs,
               "candidates": found.num_candidates, "after_truncation": found.num_truncated,
               "removed": len(found.removed), "lexicon_size": len(found.words),
               "removed_fraction": len(found.removed) / max(found.num_truncated, 1),
               "discovery_s": found.seconds["total"], **{f"{k}_s": v for k, v in found.seconds.items() if k != "total"},
               "L_chars_bits": information_per_char(found.char_counts),
               "jieba_dict_words": len(found.words) - len(jieba_skipped), "jieba_dict_skipped": len(jieba_skipped)}
    if evaluate or write_segmented:
        seg, tally = Segmenter(found.words, method.null_score, method.word_bonus), Counter()
        start = time.perf_counter()
        lines = segment_corpus(corpus, seg, tally, out / "segmented.txt" if write_segmented else None, cfg.progress)
        if corpus.has_gold and evaluate:
            m.update(segmentation_scores(corpus.gold(), lines))
        else:
            for _ in lines:
                pass
        m["segmentation_s"] = time.perf_counter() - start
        m["L_words_bits"] = information_per_char(tally)
        m["mean_word_length"] = sum(n * len(w) for w, n in tally.items()) / sum(tally.values())
    m["peak_rss_mb"] = peak_rss_mb()
    write_atomic(out / "metrics.json", json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    m["top"] = [(w, n) for w, n in sorted(found.words.items(), key=lambda kv: -kv[1]) if len(w) > 1]
    m["top"] = m["top"][:top]
    m["first_removed"] = [w for w, _ in found.removed[:20]]
    m["jieba_skipped_examples"] = jieba_skipped[:10]
    return m


def summary(m: dict, out: Path) -> str:
    grams = "pairs" if m["method"] == "PairPMI" else "n-grams"
    settings = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items()
                         if k in ("min_prob", "min_pmi", "rule", "order", "min_count"))
    lines = [f"{m['corpus']}: {m['chars']:,} characters, {m['distinct_pairs']:,} distinct {grams}, "
             f"{m['strong_pairs']:,} strong ({m['method']}: {settings}; engine {m['engine']})",
             f"  candidates {m['candidates']:,} -> kept {m['after_truncation']:,} -> lexicon {m['lexicon_size']:,} "
             f"({m['removed']:,} removed, {100 * m['removed_fraction']:.1f} %) "
             f"in {m['discovery_s']:.2f} s, peak memory {m['peak_rss_mb']:.0f} MB"]
    if "L_words_bits" in m:
        lines.append(f"  L: {m['L_chars_bits']:.3f} bits/char by character -> {m['L_words_bits']:.3f} with the lexicon "
                     f"(mean word length {m['mean_word_length']:.2f}); segmentation {m['segmentation_s']:.2f} s")
    if "f1" in m:
        lines.append(f"  against gold: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}")
    lines.append("  top words: " + " ".join(f"{w}({n})" for w, n in m["top"]))
    lines.append("  first removed: " + " ".join(m["first_removed"]))
    if m.get("jieba_dict_skipped"):
        lines.append(f"  jieba_dict.txt leaves out {m['jieba_dict_skipped']:,} words that hold whitespace (jieba's user "
                     f"dictionary splits its lines at spaces), e.g. " + " ".join(map(repr, m["jieba_skipped_examples"])))
    files = "lexicon.tsv, jieba_dict.txt, removed.tsv, metrics.json"
    files += ", segmented.txt" if (out / "segmented.txt").is_file() else ""
    lines.append(f"outputs: {out}/ ({files})")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../configs", config_name="discover_words")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(lambda c, out: summary(run(c, out), out), cfg, "rerun the same command: discovery is deterministic"))


if __name__ == "__main__":
    main()
