"""The GRU language model reads left to right, and can start from word2vec's input vectors (a part of another run)."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import smoke_cfg

from models.gru_language_model import GRULanguageModel
from train import make_trainer, train


def test_features_depend_only_on_the_past():
    torch.manual_seed(0)
    model = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6).eval()
    x = torch.randint(0, 20, (2, 9))
    later = x.clone()
    later[:, 5:] = (later[:, 5:] + 1) % 20
    a, b = model(x), model(later)
    assert a.shape == (2, 9, 6)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_language_model_starts_from_word2vec_vectors(tmp_path: Path):
    corpus = ["data.path=data/english/wiki.txt", "data.min_count=5", "data.val_fraction=0.05", "data.test_fraction=0.05"]
    w2v = smoke_cfg("word2vec", *corpus, "model.dim=16", "evaluator.simlex=null", "evaluator.analogies=null")
    train(w2v, tmp_path / "w2v")
    lm = smoke_cfg("lm_nce", *corpus, "model.embed_dim=16", f"+trainer.parts.model.init_from={tmp_path / 'w2v'}",
                   "+trainer.parts.model.source=model.embedding", "+trainer.parts.model.module=embedding")
    trainer = make_trainer(lm, tmp_path / "lm")
    trainer.initialise()
    source = torch.load(tmp_path / "w2v" / "best.pt", weights_only=True)["model"]["embedding.weight"]
    torch.testing.assert_close(trainer.model.embedding.weight.detach(), source)
