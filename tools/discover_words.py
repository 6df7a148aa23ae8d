"""Discover a lexicon from raw text: ``python tools/discover_words.py [corpus=...] [lexicon.min_pmi=...]``.

Writes to ``runs/discover_words/<corpus>/<date_time>/``:

- ``lexicon.tsv``: ``word, count, log_prob, gain`` (the de-redundancy gain of words of two or more characters);
- ``removed.tsv``: the words de-redundancy removed, with their gains, in the order removed;
- ``metrics.json``: the size after each pass, wall time of each pass, peak memory, ``L`` (bits per
  character) with characters and with the lexicon's words as units, and word precision / recall / F1
  against the corpus's gold segmentation where it has one;
- ``segmented.txt`` with ``write_segmented=true``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hydra
from omegaconf import DictConfig
from tqdm import tqdm

from engine.cli import print_result, run_guarded
from engine.errors import as_bool, as_int, as_number
from engine.files import write_atomic
from engine.instantiate import build
from engine.memory import peak_rss_mb
from min_entropy.chinese_text import Corpus
from min_entropy.lexicon import discover, information_per_char, save_lexicon
from min_entropy.segmenter import Segmenter, segmentation_scores


def segment_corpus(corpus: Corpus, seg: Segmenter, tally: Counter, out: Path | None,
                   progress: bool = False) -> Iterator[list[str]]:
    """Yield the segmentation of each line; count the words of chunks into ``tally``."""
    f = open(out, "w", encoding="utf-8") if out else None
    try:
        for line in tqdm(corpus.lines(), desc="segmenting", unit=" lines", disable=not progress, mininterval=1.0):
            words = seg.tokenize(line, tally)
            if f:
                f.write(" ".join(words) + "\n")
            yield words
    finally:
        if f:
            f.close()


def run(cfg: DictConfig, out: Path) -> dict:
    corpus = build("corpus", cfg.corpus)
    lx = cfg.lexicon
    evaluate, write_segmented = as_bool("evaluate", cfg.evaluate), as_bool("write_segmented", cfg.write_segmented)
    top = as_int("top", cfg.top)
    found = discover(corpus, as_number("lexicon.min_prob", lx.min_prob), as_number("lexicon.min_pmi", lx.min_pmi),
                     str(lx.rule), as_number("lexicon.null_score", lx.null_score),
                     max_len=as_int("lexicon.max_len", lx.max_len, 2), progress=as_bool("progress", cfg.progress))
    save_lexicon(out / "lexicon.tsv", found.words, found.gains)
    write_atomic(out / "removed.tsv", "word\tgain\n" + "".join(f"{w}\t{g:.4f}\n" for w, g in found.removed))
    m: dict = {"corpus": corpus.name or corpus.path, "min_prob": float(lx.min_prob), "min_pmi": float(lx.min_pmi),
               "rule": str(lx.rule), "chars": sum(found.char_counts.values()), "distinct_chars": len(found.char_counts),
               "distinct_pairs": found.num_pairs, "strong_pairs": found.num_strong_pairs,
               "candidates": found.num_candidates, "after_truncation": found.num_truncated,
               "removed": len(found.removed), "lexicon_size": len(found.words),
               "removed_fraction": len(found.removed) / max(found.num_truncated, 1),
               "discovery_s": found.seconds["total"], **{f"{k}_s": v for k, v in found.seconds.items() if k != "total"},
               "L_chars_bits": information_per_char(found.char_counts)}
    if evaluate or write_segmented:
        seg, tally = Segmenter(found.words, lx.null_score), Counter()
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
    return m


def summary(m: dict, out: Path) -> str:
    lines = [f"{m['corpus']}: {m['chars']:,} characters, {m['distinct_pairs']:,} distinct pairs, "
             f"{m['strong_pairs']:,} strong (min_prob {m['min_prob']:g}, min_pmi {m['min_pmi']:g})",
             f"  candidates {m['candidates']:,} -> truncated {m['after_truncation']:,} -> lexicon {m['lexicon_size']:,} "
             f"({m['removed']:,} removed, {100 * m['removed_fraction']:.1f} %, rule {m['rule']}) "
             f"in {m['discovery_s']:.2f} s, peak memory {m['peak_rss_mb']:.0f} MB"]
    if "L_words_bits" in m:
        lines.append(f"  L: {m['L_chars_bits']:.3f} bits/char by character -> {m['L_words_bits']:.3f} with the lexicon "
                     f"(mean word length {m['mean_word_length']:.2f}); segmentation {m['segmentation_s']:.2f} s")
    if "f1" in m:
        lines.append(f"  against gold: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}")
    lines.append("  top words: " + " ".join(f"{w}({n})" for w, n in m["top"]))
    lines.append("  first removed: " + " ".join(m["first_removed"]))
    files = "lexicon.tsv, removed.tsv, metrics.json" + (", segmented.txt" if (out / "segmented.txt").is_file() else "")
    lines.append(f"outputs: {out}/ ({files})")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../configs", config_name="discover_words")
def main(cfg: DictConfig) -> None:
    print_result(run_guarded(lambda c, out: summary(run(c, out), out), cfg, "rerun the same command: discovery is deterministic"))


if __name__ == "__main__":
    main()
