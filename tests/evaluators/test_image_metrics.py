"""torch-fidelity's metrics on our features against plain recomputations: the Frechet distance against the
scipy ``sqrtm`` implementation this project used before (to 1e-3), KID against the unbiased MMD^2 with the
cubic kernel written out, precision / recall against a brute-force k-nearest-neighbour count."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from evaluators.image_metrics import frechet_distance, kernel_distance, precision_recall, weights_hash
from models.small_cnn import SmallCNN


def scipy_frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The previous implementation: scipy's matrix square root of S_1 S_2, in float64."""
    a, b = a.double().numpy(), b.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make S_1 S_2 singular; sqrtm still converges
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def classifier_features(seed: int, n: int, shift: float) -> torch.Tensor:
    """Penultimate features (128-D after ReLU) of a random SmallCNN, as the evaluator takes them (times 10: a
    trained classifier's features are that large)."""
    torch.manual_seed(0)
    net = SmallCNN(width=8, hidden=128).eval()
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=g) + shift).clamp(0, 1) * 2 - 1
    with torch.no_grad():
        return 10 * net.classifier[:-1](net.features(x))


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.4])
def test_library_frechet_distance_equals_the_scipy_one(shift):
    real, fake = classifier_features(0, 3000, 0.0), classifier_features(1, 2000, shift)
    ours, reference = frechet_distance(real, fake), scipy_frechet_distance(real, fake)
    assert ours == pytest.approx(reference, abs=1e-3)
    assert reference > 0.1


def test_frechet_distance_closed_form():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(20_000, 8, generator=g), torch.randn(20_000, 8, generator=g)
    assert frechet_distance(a, 2 * b + 1) == pytest.approx(8 * 1 + 8, rel=0.03)  # |1|^2 per dim + Tr(I + 4I - 4I)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - kxx.diag().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diag().sum()) / (n * (n - 1))
                 - 2 * kxy.mean())


def test_kid_is_the_unbiased_cubic_kernel_mmd():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 16, generator=g, dtype=torch.float64), 1.2 * torch.randn(300, 16, generator=g, dtype=torch.float64)
    mean, std = kernel_distance(x, y, subsets=1, subset_size=300)  # one subset of all rows: a permutation
    assert mean == pytest.approx(mmd2_unbiased(x, y), rel=1e-9) and std == 0
    same = kernel_distance(x, torch.randn(300, 16, generator=g, dtype=torch.float64), subsets=20, subset_size=200)
    assert abs(same[0]) < 3 * same[1] + 1e-3  # unbiased: about 0 for two samples of one law
    assert kernel_distance(x, y, subsets=20, subset_size=200)[0] > 10 * abs(same[0])


def brute_precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    def radii(a: torch.Tensor) -> torch.Tensor:  # distance to the k-th nearest other point
        return torch.cdist(a, a).sort(1).values[:, k]

    r_real, r_fake = radii(real), radii(fake)
    precision = np.mean([bool((torch.linalg.norm(real - f, dim=1) <= r_real).any()) for f in fake])
    recall = np.mean([bool((torch.linalg.norm(fake - r, dim=1) <= r_fake).any()) for r in real])
    return float(precision), float(recall)


def test_precision_recall_against_brute_force():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 2, generator=g)
    fake = torch.cat([torch.randn(200, 2, generator=g) * 0.3, torch.randn(100, 2, generator=g) + 6])
    p, r = precision_recall(real, fake, k=3)
    bp, br = brute_precision_recall(real, fake, 3)
    assert p == pytest.approx(bp, abs=1e-6) and r == pytest.approx(br, abs=1e-6)
    assert 0.55 < p < 0.75 and r < 0.6  # the far cluster is imprecise; the narrow one misses the tails
    assert precision_recall(real, real, k=3) == (1.0, 1.0)


def test_weights_hash_follows_the_weights():
    torch.manual_seed(0)
    a, b = SmallCNN(width=4, hidden=16), SmallCNN(width=4, hidden=16)
    b.load_state_dict(a.state_dict())
    assert weights_hash(a) == weights_hash(b)
    with torch.no_grad():
        b.classifier[-1].bias.add_(1e-3)
    assert weights_hash(a) != weights_hash(b)
