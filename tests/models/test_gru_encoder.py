"""The GRU encoder against a GRU cell run step by step: the post's unmasked last state, masked, mean and both directions."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.errors import ConfigError
from models.gru_encoder import GRUEncoder

X = torch.tensor([[5, 3, 7, 2, 0, 0], [4, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]])


def cell_run(enc: GRUEncoder, tokens: list[int], reverse: bool = False, suffix: str = "") -> torch.Tensor:
    """Outputs of a GRUCell with the encoder's weights, over ``tokens`` (pads included when given)."""
    cell = nn.GRUCell(enc.embedding.embedding_dim, enc.gru.hidden_size).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(enc.gru, f"{name}_l0{suffix}"))
    h = torch.zeros(1, enc.gru.hidden_size, dtype=torch.float64)
    outs = []
    for t in (reversed(tokens) if reverse else tokens):
        h = cell(enc.embedding.weight[t].view(1, -1), h)
        outs.append(h)
    return torch.cat(outs)


def encoder(**kw) -> GRUEncoder:
    torch.manual_seed(0)
    return GRUEncoder(vocab_size=8, embedding_dim=5, dim=kw.pop("dim", 4), **kw).double()


@torch.no_grad()
def test_unmasked_last_state_reads_the_padding():
    enc = encoder()
    z = enc(X)
    for i, row in enumerate(X.tolist()):
        torch.testing.assert_close(z[i], F.normalize(cell_run(enc, row)[-1], dim=0))
    assert torch.allclose(z.norm(dim=1), torch.ones(3, dtype=torch.float64))


@torch.no_grad()
def test_masked_last_state_stops_at_the_text():
    enc = encoder(masked=True)
    z = enc(X)
    for i, row in enumerate(X.tolist()):
        text = [t for t in row if t] or [0]
        torch.testing.assert_close(z[i], F.normalize(cell_run(enc, text)[-1], dim=0))


@torch.no_grad()
def test_mean_pooling_masked_and_not():
    for masked in (False, True):
        enc = encoder(masked=masked, pooling="mean")
        z = enc(X)
        for i, row in enumerate(X.tolist()):
            steps = [t for t in row if t] if masked else row
            torch.testing.assert_close(z[i], F.normalize(cell_run(enc, steps).mean(0), dim=0))


@torch.no_grad()
def test_bidirectional_concatenates_both_final_states():
    enc = encoder(bidirectional=True, masked=True, dim=6)
    z = enc(X)
    assert z.shape == (3, 6)
    for i, row in enumerate(X.tolist()):
        text = [t for t in row if t]
        fwd, bwd = cell_run(enc, text)[-1], cell_run(enc, text, reverse=True, suffix="_reverse")[-1]
        torch.testing.assert_close(z[i], F.normalize(torch.cat([fwd, bwd]), dim=0))


def test_bad_settings():
    with pytest.raises(ConfigError, match="model.pooling"):
        GRUEncoder(10, pooling="max")
    with pytest.raises(ConfigError, match="must be even"):
        GRUEncoder(10, dim=5, bidirectional=True)
