"""How well an ODE model fits observed trajectories, and how close its parameters are to the truth.

Metrics of a split (every observed value of every trajectory counts once):

- ``mse`` = mean (y - x(t))^2 over observed values; ``rmse`` its square root; ``sse`` = the sum over a
  trajectory's observed values, averaged over trajectories (the post's loss, kexue.fm/archives/5643);
- ``mse_clean``: the same against the noise-free states, where the data knows them (simulations);
- ``param/<name>``: the field's named parameters (rates, not log-rates), so that TensorBoard shows
  them over training; where the data knows the true values, ``param_rel_error/<name>`` =
  ``|fitted / true - 1|`` and ``param_max_rel_error`` their maximum;
- ``sigma/<species>``: the noise level of a Gaussian likelihood that learns it (``losses/gaussian_nll.py``).

Media: ``fit``, the data points of the first ``num_plotted`` trajectories with the model's solution
drawn through them on a fine time grid, one panel per species.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from engine.contracts import Batch, DataModule, Evaluator, Loss, Media
from engine.errors import ConfigError


def _values(model: nn.Module) -> dict[str, float]:
    values = getattr(model, "parameter_values", None)
    return values() if callable(values) else {}


class TrajectoryFitEvaluator(Evaluator):
    monitor, mode = "mse", "min"

    def __init__(self, num_plotted: int = 4, points_per_curve: int = 200) -> None:
        self.num_plotted, self.points_per_curve = num_plotted, points_per_curve
        self.true: dict[str, float] = {}
        self.species: list[str] = []
        self.checked = False

    def setup(self, data: DataModule) -> None:
        self.true = dict(getattr(data, "true_parameters", None) or {})
        zero = sorted(name for name, value in self.true.items() if not (math.isfinite(value) and value != 0))
        if zero:
            raise ConfigError(f"data.true_parameters {zero} must be finite and non-zero: a relative error "
                              "|fitted / true - 1| needs a true value to divide by; leave them out")
        self.species = list(getattr(data, "species", []))
        self.checked = False

    def _check(self, model: nn.Module, fitted: dict[str, float]) -> None:
        """Once per run: the data and the model name the same species and parameters."""
        field_species = getattr(getattr(model, "field", None), "species", None)
        if field_species is not None and self.species and list(field_species) != self.species:
            raise ConfigError(f"the data's species {self.species} are not the vector field's {list(field_species)} "
                              "(matched by name, in order): simulate and fit one network "
                              "(data.network = model.field.network) or pick columns with data.species")
        unknown = sorted(set(self.true) - set(fitted))
        if fitted and unknown:  # a model without named parameters (a neural field) has nothing to compare
            raise ConfigError(f"data.true_parameters names {unknown}, which the model does not have; "
                              f"its parameters are {sorted(fitted)}")
        self.checked = True

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[Batch], loss: Loss | None = None) -> dict[str, float]:
        fitted = _values(model)
        if not self.checked:
            self._check(model, fitted)
        sq, sq_clean, count, count_clean, trajectories = 0.0, 0.0, 0, 0, 0
        for batch in batches:
            prediction = model(batch["x0"], batch["t"]).double()
            mask = batch["mask"]
            sq += float(((prediction - batch["y"].double()) ** 2)[mask].sum())
            count += int(mask.sum())
            trajectories += mask.shape[0]
            if "x" in batch:
                sq_clean += float(((prediction - batch["x"].double()) ** 2)[mask].sum())
                count_clean += int(mask.sum())
        if count == 0:
            raise ValueError("the evaluation split has no observed values")
        metrics = {"mse": sq / count, "rmse": math.sqrt(sq / count), "sse": sq / trajectories, "n": trajectories}
        if count_clean:
            metrics["mse_clean"] = sq_clean / count_clean
        errors = {}
        for name, value in fitted.items():
            metrics[f"param/{name}"] = value
            if name in self.true:
                errors[name] = abs(value / self.true[name] - 1)
                metrics[f"param_rel_error/{name}"] = errors[name]
        if errors:
            metrics["param_max_rel_error"] = max(errors.values())
        log_sigma = getattr(loss, "log_sigma", None)  # a Gaussian likelihood's noise level per species
        if isinstance(log_sigma, torch.Tensor):
            names = self.species if len(self.species) == len(log_sigma) else [str(i) for i in range(len(log_sigma))]
            metrics.update({f"sigma/{name}": float(v) for name, v in zip(names, log_sigma.detach().exp())})
        return metrics

    @torch.no_grad()
    def media(self, model: nn.Module, data: DataModule, split: str, loss: Loss | None = None) -> Media:
        batch = next(iter(data.eval_batches(split)))
        n = min(self.num_plotted, batch["t"].shape[0])
        t, x0 = batch["t"][:n], batch["x0"][:n]
        fine = t[:, :1] + (t[:, -1:] - t[:, :1]) * torch.linspace(0, 1, self.points_per_curve, device=t.device)
        curves = model(x0, fine)
        media = Media()
        media.figures["fit"] = fit_figure(fine, curves, t, batch["y"][:n], batch["mask"][:n], x0, self.species)
        return media


def fit_figure(fine: torch.Tensor, curves: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
               x0: torch.Tensor, species: list[str]):
    """One panel per species: each trajectory's observations (dots; the initial state as a ring) and the fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = curves.shape[-1]
    names = species if len(species) == s else [f"x{i + 1}" for i in range(s)]
    fig, axes = plt.subplots(1, s, figsize=(4.2 * s, 3.2), squeeze=False)
    for i, ax in enumerate(axes[0]):
        for b in range(curves.shape[0]):
            color = f"C{b % 10}"
            ax.plot(fine[b].cpu(), curves[b, :, i].float().cpu(), color=color, lw=1.2)
            seen = mask[b, :, i]
            ax.scatter(t[b][seen].cpu(), y[b, :, i][seen].float().cpu(), s=12, color=color)
            ax.scatter(t[b, :1].cpu(), x0[b, i:i + 1].float().cpu(), s=30, facecolors="none", edgecolors=color)
        ax.set_title(names[i], fontsize=9)
        ax.set_xlabel("t")
    fig.suptitle("observations (dots) and the fitted ODE (lines)", fontsize=9)
    fig.tight_layout()
    return fig
