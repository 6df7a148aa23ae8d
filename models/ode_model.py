"""An ODE ``dx/dt = f(t, x)`` solved from each sample's initial state to its own observation times.

The solver is one config value (post: Su Jianlin, kexue.fm/archives/5643; solvers: torchdiffeq,
Chen et al. 2018, "Neural Ordinary Differential Equations"):

- ``solver: cell``: our explicit Runge-Kutta cell unrolled as an RNN on the grid ``t0 + n h``
  (``method``: a tableau of ``configs/tableau/`` or a mapping ``{a, b, c}``);
- ``solver: odeint``: ``torchdiffeq.odeint`` with any of its methods (fixed-grid ones take ``step_size``,
  adaptive ones ``rtol`` / ``atol``), back-propagating through the solver's operations;
- ``solver: odeint_adjoint``: the same solve, with gradients from the adjoint ODE (memory constant in
  the number of steps).

Observation times may differ per sample: ``forward(x0, t)`` takes ``t`` of shape ``(B, K)`` with
``t[:, 0]`` the time of ``x0``. The cell solves the common grid once and reaches an observation
time between two grid points by one more step of the remaining length; odeint solves at the sorted
union of all samples' time offsets. Either way, each sample's points are gathered from one solve.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
import torchdiffeq

from engine.errors import ConfigError, SolverError, as_number
from models.butcher_tableau import ButcherTableau
from models.ode_cell import ODECell, is_autonomous

SOLVERS = ("cell", "odeint", "odeint_adjoint")
FIXED_GRID = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams", "fixed_adams")
ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


class _Shifted(nn.Module):
    """``f(t0 + s, x)`` as a function of the offset ``s``, for samples that start at different times."""

    def __init__(self, field: nn.Module, t0: torch.Tensor) -> None:
        super().__init__()
        self.field, self.t0 = field, t0

    def forward(self, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.field(self.t0 + s, x)


class _Clamped(nn.Module):
    """The post's derivative clip, ``clamp(f(t, x), -c, c)``, around a field for torchdiffeq's solvers."""

    def __init__(self, field: nn.Module, clamp: float) -> None:
        super().__init__()
        self.field, self.clamp = field, clamp
        self.autonomous = is_autonomous(field)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.field(t, x).clamp(-self.clamp, self.clamp)


class ODEModel(nn.Module):
    """``forward(x0 (B, S), t (B, K)) -> x(t) (B, K, S)``; ``field`` is the vector field module."""

    def __init__(self, field: nn.Module, solver: str = "cell", method: str | Mapping | ButcherTableau = "euler",
                 step_size: float | None = 1.0, clamp: float | None = None, rtol: float = 1e-6,
                 atol: float = 1e-6) -> None:
        super().__init__()
        if not isinstance(field, nn.Module):
            raise ConfigError(f"model.field must be a vector field module, got {field!r}: choose one with "
                              "model/field=<competition|mass_action|neural> (a slash, not a dot)")
        if solver not in SOLVERS:
            raise ConfigError(f"model.solver={solver!r} is not one of {list(SOLVERS)}")
        self.step_size = as_number("model.step_size", step_size, 0, strict=True, optional=True,
                                   hint="null: an adaptive odeint")
        clamp = as_number("model.clamp", clamp, 0, strict=True, optional=True)
        self.field, self.solver, self.clamp = field, solver, clamp
        self.rtol, self.atol = float(rtol), float(atol)
        if solver == "cell":
            if self.step_size is None:
                raise ConfigError("model.solver=cell needs model.step_size (the RNN's time step h)")
            if isinstance(method, str) and method in ADAPTIVE:
                raise ConfigError(f"{method} is an adaptive torchdiffeq method, not a tableau of the cell: "
                                  f"use model.solver=odeint model.method={method}")
            self.cell = ODECell(method, clamp)
            self.method = self.cell.tableau.name
        else:
            if not isinstance(method, str) or method not in FIXED_GRID + ADAPTIVE:
                raise ConfigError(f"model.method={method!r} is not a torchdiffeq method: use one of "
                                  f"{list(FIXED_GRID + ADAPTIVE)} (or model.solver=cell for a tableau)")
            if method in FIXED_GRID and self.step_size is None:
                raise ConfigError(f"torchdiffeq's {method} is a fixed-grid method: give model.step_size")
            self.method = method

    def parameter_values(self) -> dict[str, float]:
        """The field's named parameters in their natural units (rates, not log-rates)."""
        values = getattr(self.field, "parameter_values", None)
        return values() if callable(values) else {}

    def forward(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 1:
            t = t.expand(x0.shape[0], -1)
        expected = getattr(self.field, "num_species", x0.shape[-1])
        if x0.shape[-1] != expected:
            raise ConfigError(f"the data has {x0.shape[-1]} species but the vector field "
                              f"{type(self.field).__name__} has {expected}: choose data columns (data.species) "
                              "or a field (model/field, model.field.network) that match")
        offsets = t.double() - t[:, :1].double()  # float64: offsets of large absolute times stay exact
        t0 = t[:, 0].to(x0.dtype)  # the field sees times in the state's dtype
        if bool((offsets[:, 1:] < offsets[:, :-1]).any()):
            raise ConfigError("observation times must not decrease within a trajectory")
        if self.solver == "cell":
            out = self._cell(x0, t0, offsets)
        else:
            out = self._odeint(x0, t0, offsets)
        if not bool(torch.isfinite(out).all()):
            self._diverged(out, t)
        return out

    def _cell(self, x0: torch.Tensor, t0: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        h = self.step_size
        grid = offsets / h  # in steps; float64 so that t = 40 with h = 0.1 is step 400, not 399
        # up to the grid point at or before the last time: a later one would be a step never used
        steps = int(torch.floor(grid.max() + 1e-6).clamp(min=0))
        states = self.cell.unroll(self.field, x0, t0, h, steps)  # (steps + 1, B, S)
        index = torch.floor(grid + 1e-6).clamp(0, steps).long()  # the grid point at or just before each time
        batch = torch.arange(x0.shape[0], device=x0.device)[:, None]
        out = states[index, batch]  # (B, K, S)
        rest = (grid - index) * h
        if bool((rest.abs() > 1e-5 * h).any()):  # off-grid observations: one step of the remaining length
            flat = out.reshape(-1, out.shape[-1])
            times = (t0[:, None] + index.to(t0.dtype) * h).reshape(-1)
            flat = self.cell(self.field, times, flat, rest.reshape(-1, 1).to(flat.dtype))
            out = flat.reshape(out.shape)
        return out

    def _odeint(self, x0: torch.Tensor, t0: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        union, index = torch.unique(offsets, sorted=True, return_inverse=True)
        if union[0] != 0:
            union = torch.cat([union.new_zeros(1), union])
            index = index + 1
        field = self.field if self.clamp is None else _Clamped(self.field, float(self.clamp))
        func = field if is_autonomous(field) or not bool(t0.any()) else _Shifted(field, t0)
        # fixed-grid methods step by h; adaptive ones start with it (and choose their own steps after)
        key = "step_size" if self.method in FIXED_GRID else "first_step"
        options = None if self.step_size is None else {key: self.step_size}
        solve = torchdiffeq.odeint_adjoint if self.solver == "odeint_adjoint" else torchdiffeq.odeint
        kwargs = {"adjoint_params": tuple(func.parameters())} if self.solver == "odeint_adjoint" else {}
        try:
            states = solve(func, x0, union.to(x0.dtype), method=self.method, rtol=self.rtol, atol=self.atol,
                           options=options, **kwargs)  # (U, B, S)
        except AssertionError as e:  # torchdiffeq's way to say "underflow in dt"
            raise SolverError(f"torchdiffeq's {self.method} failed ({e}): the ODE is too stiff or diverges for these "
                              "parameters; loosen model.rtol/model.atol or use a smaller learning rate") from None
        batch = torch.arange(x0.shape[0], device=x0.device)[:, None]
        return states[index, batch]

    def _diverged(self, out: torch.Tensor, t: torch.Tensor) -> None:
        bad = ~torch.isfinite(out).all(dim=-1)  # (B, K)
        first = t[bad].min().item()
        how = (f"{self.method} with step size h = {self.step_size:g}" if self.step_size is not None
               else f"{self.method}")
        raise SolverError(
            f"the ODE solve diverged (a non-finite state by t = {first:g}) using {self.solver} {how}: an explicit "
            "method is unstable when h times the field's fastest rate exceeds its stability limit; lower "
            "model.step_size, set model.clamp, or use an adaptive solver (model.solver=odeint model.method=dopri5)"
        )

    def extra_repr(self) -> str:
        return f"solver={self.solver}, method={self.method}, step_size={self.step_size}"
