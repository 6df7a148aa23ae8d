"""CBOW's features are the mean of the context words' input vectors (word2vec's sg=0, cbow_mean=1)."""

from __future__ import annotations

import pytest
import torch

from datasets.cbow_data import turn_round
from engine.errors import ConfigError
from models.cbow import CBOW


def test_features_are_the_mean_of_the_context_vectors():
    torch.manual_seed(0)
    model = CBOW(10, dim=4)
    contexts = torch.tensor([[1, 2, -1, 3], [-1, -1, -1, -1], [5, -1, -1, 5]])
    h = model(contexts)
    u = model.embedding.weight
    torch.testing.assert_close(h[0], (u[1] + u[2] + u[3]) / 3)
    torch.testing.assert_close(h[1], torch.zeros(4))  # no context: zero features (the data masks its target)
    torch.testing.assert_close(h[2], u[5])
    assert (model.word_vectors.abs() <= 1 / 4).all() and (model.word_vectors.abs() > 0.5 / 4).any()  # gensim 4's start


def test_gradients_are_sparse_when_asked_and_an_unknown_update_is_refused():
    model = CBOW(10, dim=4, sparse=True)
    model(torch.tensor([[1, 2]])).sum().backward()
    assert model.embedding.weight.grad.is_sparse
    with pytest.raises(ConfigError, match="model.update='sgd' is not one of"):
        CBOW(10, update="sgd")


def test_cbow_batches_are_skip_gram_windows_turned_round():
    batch = {"x": torch.tensor([4, 5, 6]), "y": torch.tensor([[1, -1], [-1, -1], [2, 3]])}
    out = turn_round(batch)
    assert torch.equal(out["x"], batch["y"])
    assert out["y"].tolist() == [4, -1, 6]  # a centre without context is no target
