"""Word similarity, analogies and neighbours on vectors built so that the answers are known."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from scipy.stats import spearmanr

from engine.errors import DataMissingError, ProjectError
from evaluators.word_vectors import (
    WordVectorsEvaluator,
    analogy_accuracy,
    read_analogies,
    read_similarity_pairs,
    similarity_score,
)

WORDS = ["<unk>", "</s>", "king", "queen", "man", "woman", "paris", "france", "rome", "italy"]


def vectors() -> torch.Tensor:
    """Axes: royalty, gender, capital-ness, country identity; analogies hold exactly."""
    rows = {"king": [1, 1, 0, 0], "queen": [1, -1, 0, 0], "man": [0, 1, 0, 0], "woman": [0, -1, 0, 0],
            "paris": [0, 0, 1, 1], "france": [0, 0, 0, 1], "rome": [0, 0, 1, -1], "italy": [0, 0, 0, -1]}
    v = torch.zeros(len(WORDS), 5)
    for i, w in enumerate(WORDS):
        v[i, :4] = torch.tensor(rows.get(w, [0, 0, 0, 0]), dtype=torch.float)
        v[i, 4] = 0.1 * i  # breaks ties
    return v


def test_similarity_is_spearman_over_known_pairs():
    stoi = {w: i for i, w in enumerate(WORDS)}
    pairs = [("king", "queen", 8.0), ("man", "woman", 7.0), ("paris", "king", 1.0), ("rome", "italy", 6.0),
             ("king", "zebra", 5.0)]
    rho, oov, cos, human = similarity_score(vectors(), stoi, pairs)
    unit = torch.nn.functional.normalize(vectors(), dim=1)
    expected_cos = [float(unit[stoi[a]] @ unit[stoi[b]]) for a, b, _ in pairs[:4]]
    assert oov == pytest.approx(0.2)
    assert rho == pytest.approx(spearmanr(expected_cos, [8, 7, 1, 6]).statistic)
    assert cos.tolist() == pytest.approx(expected_cos, abs=1e-6)


def test_analogies_by_3cosadd_with_oov_share():
    stoi = {w: i for i, w in enumerate(WORDS)}
    questions = [("man", "king", "woman", "queen"), ("france", "paris", "italy", "rome"),
                 ("king", "queen", "man", "woman"), ("man", "king", "woman", "zebra")]
    acc, oov, n = analogy_accuracy(vectors(), stoi, questions, restrict=len(WORDS))
    assert (acc, oov, n) == (1.0, 0.25, 3)
    acc, oov, n = analogy_accuracy(vectors(), stoi, questions, restrict=6)  # paris... out of the candidates
    assert n == 2 and oov == 0.5


def test_readers_and_their_errors(tmp_path: Path):
    sim = tmp_path / "sim.tsv"
    sim.write_text("# a comment\nWord 1\tWord 2\tHuman (mean)\nKing\tqueen\t8.5\n")
    assert read_similarity_pairs(sim) == [("king", "queen", 8.5)]
    sim.write_text("king\tqueen\t8.5\nking\tqueen\n")
    with pytest.raises(ProjectError, match=r"sim.tsv:2"):
        read_similarity_pairs(sim)
    ana = tmp_path / "q.txt"
    ana.write_text(": capitals\nAthens Greece Paris France\n")
    assert read_analogies(ana) == [("athens", "greece", "paris", "france")]
    with pytest.raises(DataMissingError, match="make data"):
        read_similarity_pairs(tmp_path / "missing.tsv")


def test_evaluator_metrics_and_neighbours(tmp_path: Path):
    (tmp_path / "ws.tsv").write_text("king\tqueen\t8\nman\twoman\t7\nparis\tking\t1\n")
    (tmp_path / "q.txt").write_text(": x\nman king woman queen\n")
    ev = WordVectorsEvaluator(ws353=str(tmp_path / "ws.tsv"), simlex=None, analogies=str(tmp_path / "q.txt"),
                              neighbours_of=["king", "zebra"], neighbours=2, projector_size=5)

    class Data:
        words = WORDS

    class Model(torch.nn.Module):
        word_vectors = vectors()

    ev.setup(Data())
    out = ev.evaluate(Model(), [])
    assert out["analogy"] == 1.0 and out["ws353_oov"] == 0.0 and "simlex" not in out
    media = ev.media(Model(), Data(), "test")
    assert "| king | man" in media.texts["neighbours"] and "zebra | (not in the vocabulary)" in media.texts["neighbours"]
    assert media.embeddings["words"].labels == ["king", "queen", "man", "woman", "paris"]
