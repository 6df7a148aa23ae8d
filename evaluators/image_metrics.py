"""The field's sample-quality metrics, computed by torch-fidelity (Obukhov et al., github.com/toshas/torch-fidelity)
on features the caller supplies (here: a Fashion-MNIST classifier's, never Inception's, so the numbers are
not comparable with published FID / KID values).

- ``frechet_distance``: ``|m_1 - m_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))`` between Gaussians fitted to the
  two sets (Heusel et al. 2017, arXiv 1706.08500); torch-fidelity takes the trace of the root from the
  eigenvalues of ``S_1 S_2``.
- ``kernel_distance``: KID (Binkowski et al. 2018, arXiv 1801.01401), the unbiased estimate of MMD^2 with the
  cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets of
  ``subset_size`` of each set (mean and standard deviation over subsets).
- ``precision_recall``: improved precision and recall (Kynkaanniemi et al. 2019, arXiv 1904.06991): each set's
  manifold is the union of balls reaching each point's ``k``-th nearest neighbour (k = 3); precision is the
  share of generated points inside the real manifold, recall the share of real points inside the generated one.

:class:`FeatureCache` keeps the real split's features per feature extractor, keyed by a hash of the
extractor's weights (the classifier checkpoint), so that validation does not re-embed the real images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

from engine.files import atomic_open


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Frechet distance between Gaussians fitted to the rows of ``a`` and of ``b`` (in float64)."""
    stats = [fid_features_to_statistics(t.detach().double().cpu()) for t in (a, b)]
    return float(fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"])


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID ``(mean, std)`` over ``subsets`` subsets of ``min(subset_size, len(real), len(fake))`` rows each."""
    size = min(subset_size, len(real), len(fake))
    out = kid_features_to_metric(real.detach().double().cpu(), fake.detach().double().cpu(), kid_subsets=subsets,
                                 kid_subset_size=size, kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                 kid_kernel_poly_coef0=1, kid_kernel="poly", rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved ``(precision, recall)`` of ``fake`` against ``real`` with ``k``-nearest-neighbour balls."""
    out = prc_features_to_metric(fake.detach().float().cpu(), real.detach().float().cpu(), prc_neighborhood=k,
                                 prc_batch_size=10_000, save_cpu_ram=True, verbose=False)
    return float(out[KEY_METRIC_PRECISION]), float(out[KEY_METRIC_RECALL])


def weights_hash(net: nn.Module) -> str:
    """A SHA-256 of the module's parameters and buffers (names, shapes and values): changes with any weight."""
    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class FeatureCache:
    """Real-split features (and whatever else the caller stores with them) per ``(extractor hash, split key)``,
    in memory and, with ``folder``, on disk as ``<folder>/<hash>_<split key>.pt`` for later runs."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.memory: dict[tuple[str, str], dict[str, torch.Tensor]] = {}

    def get(self, key: str, split: str, compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        if (key, split) in self.memory:
            return self.memory[(key, split)]
        path = self.folder / f"{key}_{split}.pt" if self.folder else None
        value = None
        if path is not None and path.is_file():
            try:
                value = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # a torn or foreign file: recompute and overwrite it
                value = None
        if value is None:
            value = {name: t.detach().cpu() for name, t in compute().items()}
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_open(path) as f:
                    torch.save(value, f)
        self.memory[(key, split)] = value
        return value
