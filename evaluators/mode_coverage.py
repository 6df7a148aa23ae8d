"""Mode coverage of a generator on a mixture of 2-D Gaussians (the GAN mode-collapse benchmark).

From ``samples`` draws ``x = G(z)`` (``z`` fixed by ``sample_seed``: every checkpoint and split is scored on
the same ``z``, so ``test/*`` repeats the last validation of the weights it restores), each sample is
assigned to its nearest mode ``c_k``; it is *high quality* when ``||x - c_k|| < 3 std`` (the criterion of
VEEGAN, arXiv 1705.07761, and PacGAN, arXiv 1712.04086). Metrics, PacGAN's first (its Table 1):

- ``hq``: the share of high-quality samples;
- ``modes``: the modes *captured*, those with at least one high-quality sample;
- ``kl``: the reverse KL, ``KL(h || uniform)`` of the histogram ``h`` of high-quality samples over the
  modes (0: every mode equally often; ``log K``: one mode);
- ``modes_covered``: the stricter count of this project's earlier study (docs/vigan.md), the modes holding at
  least ``min_share`` of a uniform share (``min_share * samples / K``) of high-quality samples (default 0.2:
  62 of 2,500 on an 8-mode ring, 20 on the grid);
- ``collapsed``: 1 when fewer than half the modes are covered (``modes_covered``), else 0; ``all_modes``: 1
  when all are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError
from losses.generative import GenerativeLoss


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, min_share: float = 0.2) -> dict[str, float]:
    """The metrics of the module docstring for ``samples`` ``(N, 2)`` and modes ``centers`` ``(K, 2)``."""
    k, n = len(centers), len(samples)
    dist = torch.cdist(samples.double(), centers.double().to(samples.device))
    nearest, which = dist.min(1)
    good = nearest < 3 * std
    hist = torch.bincount(which[good], minlength=k).double()
    covered = int((hist >= min_share * n / k).sum())
    captured = int((hist > 0).sum())
    p = hist / hist.sum().clamp_min(1)
    kl = float((p[p > 0] * (p[p > 0] * k).log()).sum()) if hist.sum() > 0 else math.log(k)
    return {"hq": float(good.double().mean()), "modes": float(captured), "kl": kl, "modes_covered": float(covered),
            "collapsed": float(covered < k / 2), "all_modes": float(covered == k)}


def checked_loss(loss: Loss | None, evaluator: str) -> GenerativeLoss:
    if not isinstance(loss, GenerativeLoss):
        raise ConfigError(f"{evaluator} scores generative models: pick loss=gan, vae, aae or ali "
                          f"(got {type(loss).__name__})")
    return loss


@torch.no_grad()
def draw(model: nn.Module, loss: GenerativeLoss, n: int, seed: int, device: torch.device,
         batch_size: int = 2500) -> torch.Tensor:
    """``n`` samples ``G(z)`` with ``z`` drawn from a generator seeded with ``seed`` (the same z for every
    checkpoint), in eval mode, in batches of ``batch_size``."""
    gen = torch.Generator().manual_seed(seed)
    z = loss.prior(n, "cpu", gen)
    was_training = model.training
    model.eval()
    out = torch.cat([loss.decode(model, z[i : i + batch_size].to(device)) for i in range(0, n, batch_size)])
    model.train(was_training)
    return out


class ModeCoverageEvaluator(Evaluator):
    """Mode coverage (module docstring) of ``samples`` generator samples; media: a scatter over the modes."""

    def __init__(self, samples: int = 2500, min_share: float = 0.2, sample_seed: int = 0,
                 monitor: str = "modes", mode: str = "last") -> None:
        if samples < 1 or not 0 < min_share <= 1:
            raise ConfigError(f"evaluator.samples must be >= 1 and evaluator.min_share in (0, 1]; got {samples}, {min_share}")
        self.samples, self.min_share, self.sample_seed = samples, min_share, sample_seed
        self.monitor, self.mode = monitor, mode
        self.centers: torch.Tensor | None = None

    def setup(self, data: DataModule) -> None:
        if not hasattr(data, "centers") or not hasattr(data, "std"):
            raise ConfigError("evaluator=mode_coverage needs data with known modes (data=gaussian_mixture)")
        if len(data.centers) == 0:
            raise ConfigError("evaluator=mode_coverage: the data has no modes; set data.modes >= 1 (or null)")
        self.centers, self.std = data.centers, data.std

    def _samples(self, model: nn.Module, loss: Loss | None, device: torch.device) -> torch.Tensor:
        loss = checked_loss(loss, "evaluator=mode_coverage")
        return draw(model, loss, self.samples, self.sample_seed, device).float()

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        device = next(iter(batches))["x"].device
        return mode_coverage(self._samples(model, loss, device), self.centers, self.std, self.min_share)

    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        device = next(iter(data.eval_batches(split)))["x"].device
        x = self._samples(model, loss, device).cpu()
        m = mode_coverage(x, self.centers, self.std, self.min_share)
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue", label="G(z)")
        ax.scatter(self.centers[:, 0], self.centers[:, 1], s=30, marker="x", color="tab:red", label="modes")
        lim = float(self.centers.abs().max()) * 1.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{int(m['modes'])}/{len(self.centers)} modes, {100 * m['hq']:.1f} % high quality", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        return Media(figures={"samples": fig})
