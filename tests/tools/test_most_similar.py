"""A tiny sentence-similarity run: metrics.json equals eval.py on its best.pt (class centres restored), and
tools/most_similar.py ranks a corpus by cosine (the query itself, in the corpus, at cosine 1)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from conftest import compose_cfg, run_script

from engine.checkpoint import load_checkpoint
from engine.evaluation import restore
from eval import evaluate
from train import train

WORDS = "the lord said unto moses and god saw light was good he called day night earth heaven water".split()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    rng = random.Random(0)
    tmp = tmp_path_factory.mktemp("sentsim")
    lines = []
    for g in range(400):
        words = rng.choices(WORDS, k=rng.randint(3, 6))
        lines.append(f"v{g}\t{' '.join(words)}")
        words[rng.randrange(len(words))] = rng.choice(WORDS)
        lines.append(f"v{g}\t{' '.join(words)}")
    (tmp / "groups.tsv").write_text("\n".join(lines) + "\n")
    cfg = compose_cfg("experiment=sentsim_amsoftmax", f"data.path={tmp / 'groups.tsv'}", "data.val_groups=40",
                      "data.test_groups=60", "data.batch_size=32", "trainer.max_steps=12", "trainer.val_every_steps=3",
                      "trainer.progress=false", "evaluator.projector_size=10", "model.dim=16", "model.embedding_dim=8")
    train(cfg, tmp / "run")
    return tmp / "run"


def test_metrics_json_equals_eval_py_and_the_centres_are_restored(run_dir: Path):
    trained = json.loads((run_dir / "metrics.json").read_text())
    best = load_checkpoint(run_dir / "best.pt")
    assert best["loss"]["centres"].shape == (400 - 100, 16)  # one centre per training group
    again = evaluate(run_dir)
    for key in ("test/top1", "test/top5", "test/top10", "test/cos_paraphrase"):
        assert again[key] == trained[key], key
    restored = restore(run_dir / "best.pt", torch.device("cpu"))
    assert torch.equal(restored.loss.centres.detach(), best["loss"]["centres"])
    assert (run_dir / "figures" / "test_cosines.png").is_file()


@pytest.mark.slow
def test_most_similar_prints_k_neighbours_by_cosine(run_dir: Path, tmp_path: Path):
    corpus = tmp_path / "corpus.txt"
    sentences = ["the lord said unto moses", "and god saw the light", "day and night"]
    corpus.write_text("\n".join(sentences) + "\n")
    out = run_script("tools/most_similar.py", f"run={run_dir}", "and god saw the light", "k=3",
                     f"file={corpus}", f"runs_root={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    i = lines.index("and god saw the light")
    hits = [line.split(maxsplit=1) for line in lines[i + 1:i + 4]]
    assert sorted(text for _, text in hits) == sorted(sentences)  # k = 3: the whole corpus, each once
    cosines = [float(c) for c, _ in hits]
    assert cosines == sorted(cosines, reverse=True) and all(-1 <= c <= 1 for c in cosines)
    # the query itself is in the corpus: cosine 1 (a 12-step encoder may put other sentences as close)
    assert dict((text, c) for c, text in hits)["and god saw the light"] == "1.0000"
    (tsv,) = tmp_path.glob("most_similar/*/most_similar.tsv")
    rows = tsv.read_text().splitlines()
    assert rows[0] == "query\trank\tcosine\tsentence" and len(rows) == 4
    assert [r.split("\t")[1] for r in rows[1:]] == ["1", "2", "3"]


@pytest.mark.slow
def test_most_similar_without_a_sentence_says_how(run_dir: Path, tmp_path: Path):
    out = run_script("tools/most_similar.py", f"run={run_dir}", f"runs_root={tmp_path}")
    assert out.returncode == 2 and "no sentence given" in out.stderr
