"""Reaction systems with arbitrary rate laws, assignment rules and events: the form SBML models take.

A :class:`KineticModel` holds ``S`` species (amounts), ``R`` reactions and, for each reaction, its
propensity ``a_mu(x, t)`` as an expression over the species' amounts ``x[i]`` (rows of an
``(S, B)`` tensor: one column per trajectory) and the time ``t``. The expressions are Python source
over torch (written by :mod:`ssa.sbml_math` from an SBML kinetic law, or from mass action for a
:class:`~ssa.reaction_network.Network`); they are compiled once per process, so a model pickles as
plain data (for Dask workers) and evaluates vectorised over the batch of trajectories.

Besides reactions a model may have

* ``outputs``: variables given by assignment rules (SBML ``assignmentRule``), ``name = f(x, t)``,
  reported beside the species and never stored in the state;
* ``events``: when a trigger goes from false to true, species are set to new values (SBML
  ``event`` without delay). A trigger ``t >= T`` (or ``t > T``) is a *timed* event, fired exactly at
  ``T``; any other trigger must depend on the species only and is checked after every change of
  state.

Species that are boundary conditions or constant have zero columns in ``change``: reactions read
them but never change them (SBML's ``boundaryCondition`` / ``constant``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.errors import ConfigError


@dataclass(frozen=True)
class Event:
    """``when trigger becomes true: x[target] = value`` for each assignment (all values computed first).

    ``at_time``: the trigger is ``t >= at_time`` (a timed event); ``None``: ``trigger`` is an
    expression of the species. ``initial_value``: the trigger's value just before ``t = 0`` (SBML
    ``initialValue``; ``False`` lets an event whose condition holds at the start fire at ``t = 0``).
    """

    name: str
    trigger: str | None
    assignments: tuple[tuple[int, str], ...]
    at_time: float | None = None
    initial_value: bool = False


@dataclass(frozen=True)
class KineticModel:
    """Species amounts, reactions with propensity expressions, assignment-rule outputs and events.

    ``reactants`` and ``change`` are ``(R, S)`` float arrays: reactant stoichiometry (used by
    tau-leaping's step-size rule) and the net change of each species when a reaction fires.
    ``rate_laws[mu]`` is Python source over ``x`` (species rows), ``t`` and the helpers of
    :data:`NAMESPACE`, evaluating to ``a_mu`` for every column.
    """

    name: str
    species: tuple[str, ...]
    initial: tuple[float, ...]
    reaction_names: tuple[str, ...]
    reactants: np.ndarray
    change: np.ndarray
    rate_laws: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...] = ()
    events: tuple[Event, ...] = ()
    source: str = ""
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        R, S = len(self.rate_laws), len(self.species)
        if R == 0:
            raise ConfigError(f"model {self.name!r}{self._where()}: no reactions; nothing to simulate")
        if len(set(self.species)) != S:
            raise ConfigError(f"model {self.name!r}{self._where()}: species names repeat in {list(self.species)}")
        for key in ("reactants", "change"):
            if np.shape(getattr(self, key)) != (R, S):
                raise ConfigError(f"model {self.name!r}: {key} has shape {np.shape(getattr(self, key))}, expected {(R, S)}")
        bad = {s: v for s, v in zip(self.species, self.initial) if not (math.isfinite(v) and v >= 0 and v == round(v))}
        if bad:
            raise ConfigError(f"model {self.name!r}{self._where()}: initial amounts {bad} are not non-negative "
                              "integers; a stochastic simulation counts molecules")

    def _where(self) -> str:
        return f" ({self.source})" if self.source else ""

    def __getstate__(self) -> dict:  # compiled functions stay in their process; the sources travel
        state = dict(self.__dict__)
        state["_compiled"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def num_species(self) -> int:
        return len(self.species)

    @property
    def num_reactions(self) -> int:
        return len(self.rate_laws)

    def index(self, species: str) -> int:
        """The position of ``species`` in the state; one line if the model has no such species."""
        if species not in self.species:
            raise ConfigError(f"unknown species {species!r}; the model {self.name!r} has {list(self.species)}")
        return self.species.index(species)

    def _function(self, key: str, args: str, body: str):
        if key not in self._compiled:
            self._compiled[key] = compile_function(args, body, f"<{self.name}:{key}>")
        return self._compiled[key]

    def propensities(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``a`` of shape ``(R, B)`` for amounts ``x`` of shape ``(S, B)`` at times ``t`` ``(B,)``."""
        lines = "\n".join(f"    a[{m}] = {law}" for m, law in enumerate(self.rate_laws))
        body = f"    a = x.new_empty(({self.num_reactions}, x.shape[1]))\n{lines}\n    return a"
        return self._function("propensities", "x, t", body)(x, t)

    def trigger(self, event: int, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Boolean ``(B,)``: the condition of a state-triggered event."""
        body = f"    return _bool({self.events[event].trigger}, x)"
        return self._function(f"trigger{event}", "x, t", body)(x, t)

    def assign(self, event: int, x: torch.Tensor, t: torch.Tensor, rows: torch.Tensor) -> None:
        """Apply event ``event``'s assignments in place to the columns where ``rows`` is true.

        All values are computed from the state before any is assigned (SBML semantics)."""
        ev = self.events[event]
        values = ", ".join(f"_col({src}, x)" for _, src in ev.assignments)
        body = f"    return ({values},)"
        new = self._function(f"assign{event}", "x, t", body)(x, t)
        for (i, _), v in zip(ev.assignments, new):
            whole = v.round()  # a concentration times a size may miss its integer in the last bits: 29.000000000000004
            bad = rows & ~(((v - whole).abs() <= 1e-9 * whole.abs().clamp(min=1.0)) & (whole >= 0))
            if bool(bad.any()):
                value = v[bad][0].item()
                raise ConfigError(f"model {self.name!r}{self._where()}: event {ev.name!r} sets {self.species[i]!r} to "
                                  f"{value!r}; an amount must be a non-negative whole number of molecules")
            x[i] = torch.where(rows, whole, x[i])

    def observe(self, counts: torch.Tensor, times: torch.Tensor) -> dict[str, torch.Tensor]:
        """The assignment-rule outputs ``(N, K)`` for sampled amounts ``counts (N, K, S)`` at ``times (K,)``."""
        x = counts.to(torch.float64).permute(2, 0, 1).reshape(self.num_species, -1)
        t = times.to(torch.float64).expand(counts.shape[0], -1).reshape(-1)
        out = {}
        for j, (name, src) in enumerate(self.outputs):
            value = self._function(f"output{j}", "x, t", f"    return _col({src}, x)")(x, t)
            out[name] = value.reshape(counts.shape[:2])
        return out

    @classmethod
    def from_network(cls, network) -> KineticModel:
        """A mass-action :class:`~ssa.reaction_network.Network` as a model:
        ``a_mu = c_mu prod_i C(x_i, s_mu_i)`` with ``C(n, s) = n (n - 1) ... (n - s + 1) / s!``."""
        rates, reac, change = network.matrices()
        laws = []
        for c, row in zip(rates, reac):
            factors = [repr(float(c))]
            for i, s in enumerate(row):
                factors += [f"(x[{i}] - {j})" if j else f"x[{i}]" for j in range(int(s))]
                if s > 1:
                    factors.append(f"{1.0 / math.factorial(int(s))!r}")
            laws.append(" * ".join(factors) if len(factors) > 1 else f"_full({factors[0]}, x)")
        return cls(network.name, tuple(network.species), tuple(float(v) for v in network.initial),
                   tuple(r.equation for r in network.reactions), reac.astype(np.float64),
                   change.astype(np.float64), tuple(laws))


def _tensor(v, x: torch.Tensor) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=x.dtype, device=x.device)


def _full(v, x: torch.Tensor) -> torch.Tensor:
    """A constant as a column ``(B,)`` (a zero-order reaction's propensity)."""
    return torch.full((x.shape[1],), float(v), dtype=x.dtype, device=x.device)


def _col(v, x: torch.Tensor) -> torch.Tensor:
    """Any value as a float column ``(B,)``."""
    v = _tensor(v, x).to(x.dtype)
    return v.expand(x.shape[1]) if v.ndim == 0 else v


def _bool(v, x: torch.Tensor) -> torch.Tensor:
    v = _tensor(v, x)
    return (v != 0 if v.dtype != torch.bool else v).expand(x.shape[1])


def _where(cond, a, b, x):
    return torch.where(_tensor(cond, x).to(torch.bool), _tensor(a, x).to(x.dtype), _tensor(b, x).to(x.dtype))


def _log(x, v):
    return torch.log(_tensor(v, x).to(x.dtype))


def _all(x, *conditions):
    out = _tensor(conditions[0], x)
    for c in conditions[1:]:
        out = torch.logical_and(out, _tensor(c, x))
    return out


NAMESPACE: dict = {"torch": torch, "math": math, "_tensor": _tensor, "_full": _full, "_col": _col, "_bool": _bool,
                   "_where": _where, "_log": _log, "_all": _all, "inf": math.inf, "nan": math.nan}


def compile_function(args: str, body: str, label: str):
    """``def f(args): body`` compiled in :data:`NAMESPACE` (the sources are written by this package,
    from parsed SBML math, never taken verbatim from a file)."""
    namespace = dict(NAMESPACE)
    exec(compile(f"def _f({args}):\n{body}\n", label, "exec"), namespace)  # noqa: S102
    return namespace["_f"]
