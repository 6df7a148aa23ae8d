"""The NCE head against its formula written out by hand, and its noise distribution against ``count^alpha``."""

from __future__ import annotations

import math

import pytest
import torch
from heads import COUNTS, D, V, features, unit_noise_probs, with_fixed_noise

from engine.errors import ConfigError
from losses.nce import NCELoss


def hand_nce(h, y, noise, W, b, gamma, q, k, correction=True):
    """mean over targets of -log s(l_y) - sum_j log(1 - s(l_nj)), l_w = <h, W_w> + b_w - gamma - log(k q_w)."""
    pos = (h * W[y]).sum(-1) + b[y] - gamma - (math.log(k) + q[y].log() if correction else 0)
    noise = noise if noise.dim() == 2 else noise[None].expand(len(h), -1)
    neg = (h[:, None, :] * W[noise]).sum(-1) + b[noise] - gamma - (math.log(k) + q[noise].log() if correction else 0)
    sig = torch.sigmoid
    return (-(sig(pos)).log() - (1 - sig(neg)).log().sum(-1)).mean()


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("correction", [True, False])
def test_nce_loss_is_its_formula(shared: bool, correction: bool):
    torch.manual_seed(0)
    k = 4
    head = NCELoss(V, D, k=k, alpha=0.75, shared=shared, gamma=1.3, correction=correction)
    torch.nn.init.normal_(head.bias)
    head.set_noise(COUNTS)
    h, y = features()
    noise = torch.randint(2, V, (k,) if shared else (len(y), k))
    loss = with_fixed_noise(head, noise).loss(h, y)["loss"]
    q = unit_noise_probs(0.75).float()
    expected = hand_nce(h, y, noise, head.weight, head.bias, head.gamma, q, k, correction)
    torch.testing.assert_close(loss, expected)
    g_ours = torch.autograd.grad(loss, [h, head.weight, head.bias, head.gamma])
    g_ref = torch.autograd.grad(expected, [h, head.weight, head.bias, head.gamma])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b)


def test_fixed_gamma_is_a_buffer_not_a_parameter():
    head = NCELoss(V, D, gamma=2.0, learn_gamma=False)
    assert "gamma" not in dict(head.named_parameters()) and float(head.gamma) == 2.0
    assert "gamma" in head.state_dict()


@pytest.mark.parametrize("alpha", [0.75, 1.0, 0.0])
def test_noise_draws_follow_count_to_the_alpha(alpha: float):
    head = NCELoss(V, D, k=50, alpha=alpha)
    head.set_noise(COUNTS)
    torch.manual_seed(1)
    draws = head.sample_noise(4000).flatten()  # 200,000 draws
    freq = torch.bincount(draws, minlength=V).double() / len(draws)
    q = unit_noise_probs(alpha)
    assert freq[:2].sum() == 0, "words with count 0 are never drawn"
    se = (q * (1 - q) / len(draws)).sqrt()
    assert ((freq - q).abs() <= 5 * se + 1e-12).all(), (freq, q)
    torch.testing.assert_close(head.noise_probs.double(), q, rtol=1e-6, atol=1e-7)


def test_noise_counts_of_the_wrong_size_are_refused():
    head = NCELoss(V, D)
    with pytest.raises(ConfigError, match="disagree"):
        head.set_noise(torch.ones(V + 1))


def test_nce_gradient_is_unbiased_over_the_noise():
    """E_noise[grad of the sampled loss] = grad of -log s(l_y) - k sum_w q(w) log s(-l_w), by Monte Carlo."""
    torch.manual_seed(0)
    k, draws = 3, 40000
    head = NCELoss(V, D, k=k, alpha=0.75, gamma=0.5).double()
    torch.nn.init.normal_(head.bias)
    head.set_noise(COUNTS)
    h = torch.randn(1, D, dtype=torch.float64)
    y = torch.tensor([3])
    # Monte Carlo: the same (h, y) repeated, the mean over independent noise draws
    loss = head.loss(h.expand(draws, -1), y.expand(draws))["loss"]
    mc = torch.autograd.grad(loss, [head.weight, head.bias, head.gamma])
    # exact expectation over the noise
    q = head.noise_probs.double()
    logits = h @ head.weight.t() + head.bias - head.gamma - (math.log(k) + q.clamp_min(1e-30).log())
    sig = torch.nn.functional.logsigmoid
    exact_loss = -sig(logits[0, y]).sum() - k * (q * sig(-logits[0])).sum()
    exact = torch.autograd.grad(exact_loss, [head.weight, head.bias, head.gamma])
    for a, b in zip(mc, exact):
        # the Monte-Carlo error of a mean of 40,000 draws: a few 1e-3 here; the tolerance is 3e-2 of the scale
        scale = b.abs().max().item()
        assert (a - b).abs().max().item() < 3e-2 * scale + 1e-3, (a, b)


def test_several_targets_per_row_share_the_rows_noise_words():
    """A row of T targets (-1: none) against its k noise words = the targets one by one against the same words."""
    torch.manual_seed(0)
    k = 3
    head = NCELoss(V, D, k=k, gamma=0.4, reduction="sum")
    torch.nn.init.normal_(head.bias)
    head.set_noise(COUNTS)
    h, _ = features(n=4)
    y = torch.tensor([[2, 5, -1], [3, -1, -1], [7, 8, 9], [-1, -1, -1]])
    noise = torch.randint(2, V, (4, k))
    loss = with_fixed_noise(head, noise).loss(h, y)["loss"]
    expected = 0.0
    for i in range(4):
        for t in y[i][y[i] >= 0]:
            one = NCELoss(V, D, k=k, gamma=0.4, reduction="sum")
            one.load_state_dict(head.state_dict())
            one.set_noise(COUNTS)
            expected = expected + with_fixed_noise(one, noise[i:i + 1]).loss(h[i:i + 1], t.view(1))["loss"]
    torch.testing.assert_close(loss, expected)
