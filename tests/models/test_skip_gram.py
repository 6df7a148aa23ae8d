"""Skip-gram with negative sampling converges to <u_x, v_y> = PMI(x, y) - log k (post 4, kexue.fm/archives/5617;
Levy and Goldberg 2014), checked on a corpus drawn from a known Markov chain.

With ``k`` negatives from ``q`` the loss of a pair type is minimised where
``sigma(s) = #(x, y) / (#(x, y) + k #(x) q(y))``, i.e. ``s = log(#(x, y) / (#(x) q(y))) - log k``; with ``q`` the
unigram distribution (``alpha = 1``, the post's choice) that is the pointwise mutual information minus ``log k``.
The vectors are wide enough (32 > 22 words) to fit every pair's target exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import markov_corpus

from datasets.skip_gram_data import SkipGramData
from engine.progress import Progress
from losses.negative_sampling import NegativeSamplingLoss
from models.skip_gram import SkipGram


@pytest.mark.parametrize("k", [1, 5])
def test_sgns_learns_pmi_minus_log_k(tmp_path: Path, k: int):
    torch.manual_seed(0)
    markov_corpus(tmp_path / "corpus.txt")
    data = SkipGramData(str(tmp_path / "corpus.txt"), min_count=1, sample=0.0, window=1, batch_size=10 ** 6)
    data.setup("cpu")
    batch = data.train_batch(Progress(0, 0, 0, 1, 1))  # window 1, no subsampling: every epoch has these pairs
    model = SkipGram(len(data.vocab), dim=32, sparse=False)
    head = NegativeSamplingLoss(len(data.vocab), dim=32, k=k, alpha=1.0, init="normal")
    head.setup(data)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=0.05)
    for _ in range(250):
        opt.zero_grad()
        head.loss(model(batch["x"]), batch["y"])["loss"].backward()
        opt.step()

    V = len(data.vocab)
    pairs = torch.zeros(V, V, dtype=torch.float64)
    rows, cols = (batch["y"] >= 0).nonzero(as_tuple=True)
    pairs.index_put_((batch["x"][rows], batch["y"][rows, cols]), torch.ones(len(rows), dtype=torch.float64),
                     accumulate=True)
    q = head.noise_probs.double()
    frequent = pairs >= 40
    x, y = frequent.nonzero(as_tuple=True)
    target = (pairs[x, y] / (pairs.sum(1)[x] * q[y])).log() - math.log(k)
    with torch.no_grad():
        learned = (model.embedding.weight[x] * head.weight[y]).sum(-1).double()
    assert len(x) > 60
    corr = torch.corrcoef(torch.stack([learned, target]))[0, 1].item()
    assert corr > 0.97, corr
    assert (learned - target).abs().mean().item() < 0.15  # the level too: the - log k shift is learned
