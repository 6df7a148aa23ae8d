"""tools/export_vectors.py: a tiny word2vec run's vectors in word2vec's text and binary formats, read back by gensim
(the same vectors, the same nearest neighbours as our evaluator's), a language model's embedding, and the refusals."""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, run_script, smoke_cfg
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import tools.export_vectors as export_vectors
from engine.errors import ConfigError, ProjectError
from engine.evaluation import restore
from tools.export_vectors import export
from train import train

gensim_models = pytest.importorskip("gensim.models", reason="gensim is a dev dependency: pip install -r requirements-dev.txt")
KeyedVectors = gensim_models.KeyedVectors


def tool_cfg(*overrides: str) -> DictConfig:
    """configs/export_vectors.yaml with ``overrides``, as the command line composes it."""
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose("export_vectors", overrides=list(overrides))


@pytest.fixture(scope="module")
def word2vec_run(tmp_path_factory) -> Path:
    """experiment=word2vec's own smoke run: 4 steps on the Wikipedia sample (8,574 words, dimension 100)."""
    run_dir = tmp_path_factory.mktemp("word2vec") / "run"
    train(smoke_cfg("word2vec"), run_dir)
    return run_dir


@pytest.fixture(scope="module")
def ours(word2vec_run: Path):
    """The restored run: its vocabulary, its word vectors (float32) and its evaluator (set up on its data)."""
    restored = restore(word2vec_run / "best.pt", torch.device("cpu"))
    return SimpleNamespace(words=list(restored.data.vocab.itos), vectors=restored.model.word_vectors.detach().float(),
                           evaluator=restored.evaluator)


def test_both_formats_read_back_by_gensim_as_our_vectors(word2vec_run: Path, ours, tmp_path: Path):
    summary = export_vectors.run(tool_cfg(f"run={word2vec_run}"), tmp_path)
    words, vectors = ours.words[2:], ours.vectors[2:].numpy()  # <unk> and </s> left out by default
    assert ours.words[:2] == ["<unk>", "</s>"] and f"{len(words)} words x 100" in summary
    text, binary = tmp_path / "vectors.txt", tmp_path / "vectors.bin"
    for path in (text, binary):
        with open(path, "rb") as f:
            assert f.readline() == f"{len(words)} 100\n".encode()
    # binary: per word its bytes, a space, 100 float32 and a newline
    assert binary.stat().st_size == len(f"{len(words)} 100\n") + sum(len(w.encode()) + 1 + 400 + 1 for w in words)
    first = text.read_text(encoding="utf-8").splitlines()[1].split(" ")
    assert first[0] == words[0] and len(first) == 101
    for path, binary_format in ((text, False), (binary, True)):
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary_format)
        assert kv.index_to_key == words and kv.vectors.dtype == np.float32
        if binary_format:
            assert np.array_equal(kv.vectors, vectors)
        else:
            np.testing.assert_allclose(kv.vectors, vectors, rtol=1e-6, atol=0)


def test_gensims_most_similar_gives_our_evaluators_neighbours(word2vec_run: Path, ours, tmp_path: Path):
    """With the specials written too, gensim searches the same rows as ``WordVectorsEvaluator.nearest``: the same
    neighbours in the same order, the cosines equal to 1e-5 (the evaluator's table shows them to 2 decimals)."""
    export_vectors.run(tool_cfg(f"run={word2vec_run}", "specials=true", "format=binary"), tmp_path)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.bin"), binary=True)
    assert kv.index_to_key == ours.words
    evaluator, unit = ours.evaluator, F.normalize(ours.vectors, dim=1)
    for word in (ours.words[2], ours.words[3], ours.words[10], ours.words[50]):  # frequent words
        row = evaluator.nearest(ours.vectors, [word]).splitlines()[-1]
        table = [(w, float(c)) for w, c in re.findall(r"(\S+) \((-?[\d.]+)\)", row.split(" | ")[1])]
        theirs = kv.most_similar(word, topn=evaluator.neighbours)
        assert [w for w, _ in theirs] == [w for w, _ in table], word
        for (neighbour, cosine), (_, shown) in zip(theirs, table):
            assert cosine == pytest.approx(float(unit[evaluator.stoi[word]] @ unit[evaluator.stoi[neighbour]]), abs=1e-5)
            assert abs(cosine - shown) <= 0.005 + 1e-6


def test_limit_format_and_the_output_folder(word2vec_run: Path, ours, tmp_path: Path):
    out = tmp_path / "elsewhere" / "new"
    summary = export_vectors.run(tool_cfg(f"run={word2vec_run / 'best.pt'}", "limit=50", "format=text", f"out={out}",
                                          "filename=top50"), tmp_path / "tool")
    assert [p.name for p in out.iterdir()] == ["top50.txt"] and not (tmp_path / "tool").exists()
    assert str(out / "top50.txt") in summary
    kv = KeyedVectors.load_word2vec_format(str(out / "top50.txt"))
    assert kv.index_to_key == ours.words[2:52]  # the 50 most frequent words
    export_vectors.run(tool_cfg(f"run={word2vec_run}", "limit=3", "specials=true", "format=binary"), tmp_path)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.bin"), binary=True)
    assert kv.index_to_key == ["<unk>", "</s>", ours.words[2]]
    assert np.array_equal(kv.vectors, ours.vectors[:3].numpy())


def test_a_language_models_embedding_with_utf8_words(tmp_path: Path):
    """A GRU language model's run: its embedding, one row per word; multi-byte UTF-8 words in both formats."""
    rng = random.Random(0)
    vocabulary = "中国 经济 北京 发展 人民 the of 和 在 是 一个 合作 世界".split()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choices(vocabulary, k=rng.randint(4, 12))) for _ in range(300)) + "\n",
                      encoding="utf-8")
    run_dir = tmp_path / "lm"
    train(smoke_cfg("lm_nce", f"data.path={corpus}", "model.embed_dim=16", "model.dim=16", "trainer.max_steps=2"), run_dir)
    restored = restore(run_dir / "best.pt", torch.device("cpu"))
    words, vectors = restored.data.vocab.itos, restored.model.word_vectors.detach().numpy()
    export_vectors.run(tool_cfg(f"run={run_dir}"), tmp_path / "out")
    assert words[:2] == ["<unk>", "</s>"] and sorted(words[2:]) == sorted(vocabulary)
    for name, binary_format in (("vectors.txt", False), ("vectors.bin", True)):
        kv = KeyedVectors.load_word2vec_format(str(tmp_path / "out" / name), binary=binary_format)
        assert kv.index_to_key == words[2:] and kv.vector_size == 16
        np.testing.assert_allclose(kv.vectors, vectors[2:], rtol=1e-6, atol=0)


def test_a_run_without_word_vectors_is_refused(tmp_path: Path):
    run_dir = tmp_path / "gan"
    train(smoke_cfg("gan_ring", "trainer.max_steps=1", "trainer.val_every_steps=1"), run_dir)
    with pytest.raises(ConfigError, match=r"best\.pt has no word vectors to export: its model, ModelParts, has no "
                                          r"word_vectors") as e:
        export_vectors.run(tool_cfg(f"run={run_dir}"), tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_a_word_with_a_space_is_refused_naming_it(word2vec_run: Path, tmp_path: Path, monkeypatch):
    real = export_vectors.restore

    def with_a_spaced_word(path, device):
        restored = real(path, device)
        itos = list(restored.data.vocab.itos)
        itos[5] = "new york"
        restored.data = SimpleNamespace(vocab=SimpleNamespace(itos=itos))
        return restored

    monkeypatch.setattr(export_vectors, "restore", with_a_spaced_word)
    with pytest.raises(ConfigError, match=r"^the word 'new york' holds whitespace: word2vec's formats"):
        export_vectors.run(tool_cfg(f"run={word2vec_run}"), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the text file
    export_vectors.run(tool_cfg(f"run={word2vec_run}", "limit=3"), tmp_path)  # the first 3 words are fine


@pytest.mark.parametrize("word", ["line\nbreak", "tab\there", "", "non\u00a0breaking"])
def test_words_the_formats_cannot_hold(word: str, tmp_path: Path):
    with pytest.raises(ConfigError, match=re.escape(repr(word))):
        export(["fine", word], np.zeros((2, 3), np.float32), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override, words", [
    ("format=csv", "format='csv' is not one of text, binary, both"),
    ("limit=0", "limit must be an integer >= 1"),
    ("specials=yes", "specials must be true or false"),
    ("filename=a/b", "filename='a/b' must be a file name without a folder"),
    ("run=/no/such/run", "checkpoint /no/such/run/best.pt does not exist"),
    ("run=/no/such.pt", "checkpoint /no/such.pt does not exist"),
])
def test_bad_settings_are_one_line(override: str, words: str, tmp_path: Path):
    run = [] if override.startswith("run=") else ["run=/no/such/run"]  # settings are checked before the restore
    with pytest.raises(ProjectError, match=re.escape(words)):
        export_vectors.run(tool_cfg(*run, override), tmp_path)


@pytest.mark.slow
def test_the_command_line(word2vec_run: Path, tmp_path: Path):
    out = run_script("tools/export_vectors.py", f"run={word2vec_run}", "limit=100", f"runs_root={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    (folder,) = (tmp_path / "export_vectors").iterdir()
    assert {p.name for p in folder.glob("vectors.*")} == {"vectors.txt", "vectors.bin"}
    assert "100 words x 100" in out.stdout and f"{folder}/vectors.bin" in out.stdout
    out = run_script("tools/export_vectors.py", f"run={word2vec_run}", "format=csv", f"runs_root={tmp_path / 'bad'}")
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: format='csv'")
    assert not list((tmp_path / "bad").rglob("*.log"))  # a refused export leaves no folder behind
