"""AM-Softmax against its formula written out by hand, and the post's sparse log-sum-exp form (kexue.fm/archives/5743)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from losses.am_softmax import AMSoftmaxLoss


def batch(n=6, dim=8, classes=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=torch.float64), torch.randint(classes, (n,), generator=g)


def test_equals_the_formula_by_hand():
    z, y = batch()
    loss = AMSoftmaxLoss(num_classes=11, dim=8, scale=30.0, margin=0.35).double()
    got = loss(nn.Identity(), {"x": z, "y": y})["loss"]
    zn = z / z.norm(dim=1, keepdim=True)
    c = loss.centres.detach() / loss.centres.detach().norm(dim=1, keepdim=True)
    expected = 0.0
    for i in range(len(y)):
        cos = [float(zn[i] @ c[j]) for j in range(11)]
        t = int(y[i])
        target = torch.tensor(30.0 * (cos[t] - 0.35), dtype=torch.float64)
        others = torch.tensor([30.0 * cos[j] for j in range(11) if j != t], dtype=torch.float64)
        expected += -(target - torch.logsumexp(torch.cat([target.view(1), others]), 0))
    torch.testing.assert_close(got, expected / len(y), rtol=1e-12, atol=1e-12)


def test_the_posts_sparse_form_equals_the_one_hot_form():
    """log Z = LSE(s [cos, cos_t - m]) + log(1 - exp(s cos_t - LSE)); loss = -s (cos_t - m) + log Z."""
    s, m = 30.0, 0.35
    z, y = batch(n=16, classes=50, seed=3)
    loss = AMSoftmaxLoss(num_classes=50, dim=8, scale=s, margin=m).double()
    cos = loss.cosines(z)
    cos_t = cos.gather(1, y[:, None])
    lse = torch.logsumexp(s * torch.cat([cos, cos_t - m], dim=1), dim=1, keepdim=True)
    log_z = lse + torch.log(1 - torch.exp(s * cos_t - lse))
    sparse = (-s * (cos_t - m) + log_z).mean()
    one_hot = F.one_hot(y, 50).double()  # the post's amsoftmax_loss: y_true * (y_pred - m) + (1 - y_true) * y_pred
    dense = F.cross_entropy(s * (one_hot * (cos - m) + (1 - one_hot) * cos), y)
    torch.testing.assert_close(sparse, dense, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(loss(nn.Identity(), {"x": z, "y": y})["loss"], dense, rtol=1e-12, atol=1e-12)


def test_the_margin_makes_the_loss_larger_and_accuracy_ignores_it():
    z, y = batch(n=32, classes=20, seed=5)
    torch.manual_seed(0)
    with_margin = AMSoftmaxLoss(20, 8, margin=0.35).double()
    torch.manual_seed(0)
    without = AMSoftmaxLoss(20, 8, margin=0.0).double()
    a, b = with_margin(nn.Identity(), {"x": z, "y": y}), without(nn.Identity(), {"x": z, "y": y})
    assert a["loss"] > b["loss"] + 1.0  # s m = 10.5 on the target logit
    assert a["acc"] == b["acc"]
