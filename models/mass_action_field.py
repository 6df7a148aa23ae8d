"""The rate equations of a reaction network, with learnable positive rates.

For a network file of the Gillespie capability (``configs/network/``), the deterministic limit of the
propensity ``a_mu(n) = c_mu prod_i C(n_i, s_mu_i)`` (Gillespie 1977; Su Jianlin, kexue.fm/archives/5607)
is mass action in concentrations ``x = n / Omega``::

    dx/dt = sum_mu nu_mu c_mu prod_i (Omega x_i)^{s_mu_i} / s_mu_i!  / Omega

so the learned ``c_mu`` are the simulator's own rate constants, and one file drives both the
simulation and the fit. For a network of zero- and first-order reactions the mean of the stochastic
process follows these equations exactly. Rates are kept positive by learning ``log c``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn

from engine.errors import ConfigError
from ssa.reaction_network import Network, load_network


def initial_rates(network: Network, rates: float | Sequence | Mapping | None) -> list[float]:
    """``null``: the file's rates; a number: every rate; a list: one per reaction; a mapping ``{r0: ..}``: some."""
    file_rates = [r.rate for r in network.reactions]
    names = [f"r{m}" for m in range(network.num_reactions)]
    if rates is None:
        values = file_rates
    elif isinstance(rates, (int, float)) and not isinstance(rates, bool):
        values = [float(rates)] * len(names)
    elif isinstance(rates, Mapping):
        unknown = sorted(set(rates) - set(names))
        if unknown:
            raise ConfigError(f"model.field.rates: unknown reactions {unknown}; use {names}")
        values = [float(rates.get(n, c)) for n, c in zip(names, file_rates)]
    elif isinstance(rates, Sequence) and not isinstance(rates, str) and len(rates) == len(names):
        values = [float(v) for v in rates]
    else:
        raise ConfigError(f"model.field.rates={rates!r}: give null (the file's), a number, {len(names)} numbers, "
                          f"or a mapping like {{r0: 1.0}}")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ConfigError(f"model.field.rates must be finite and > 0 (they are learned as log-rates), got {values}")
    return values


class MassActionField(nn.Module):
    """``f(x)`` of shape ``(B, S)`` for the species of ``network``; rates named ``r0 .. r{R-1}`` in file order."""

    autonomous = True

    def __init__(self, network: str | Network, rates: float | Sequence | Mapping | None = 1.0,
                 fixed: Sequence[str] = (), volume: float = 1.0) -> None:
        super().__init__()
        net = load_network(network) if isinstance(network, str) else network
        if not volume > 0:
            raise ConfigError(f"model.field.volume must be > 0, got {volume}")
        self.network = net
        self.names = tuple(f"r{m}" for m in range(net.num_reactions))
        if isinstance(fixed, str) or set(fixed) - set(self.names):
            raise ConfigError(f"model.field.fixed={fixed!r} must list reactions among {list(self.names)}")
        self.species = list(net.species)
        self.num_species = len(self.species)
        log_rate = torch.tensor(initial_rates(net, rates), dtype=torch.float32).log()
        self.register_buffer("fixed", torch.tensor([n in fixed for n in self.names]))
        # known rates are a buffer, not a parameter: no optimiser (weight decay included) can move them
        self.register_buffer("fixed_log_rate", log_rate.masked_fill(~self.fixed, 0.0))
        self.log_rate = nn.Parameter(log_rate[~self.fixed].clone())
        _, reac, change = net.matrices()
        order = reac.sum(axis=1)
        # prod_i Omega^{s_i} / s_i! / Omega, per reaction
        const = [volume ** (int(k) - 1) / math.prod(math.factorial(int(s)) for s in row) for k, row in zip(order, reac)]
        self.register_buffer("reactants", torch.tensor(reac, dtype=torch.float32))
        self.register_buffer("change", torch.tensor(change, dtype=torch.float32))
        self.register_buffer("const", torch.tensor(const, dtype=torch.float32))

    def rates(self) -> torch.Tensor:
        log_rate = self.fixed_log_rate.masked_scatter(~self.fixed, self.log_rate)
        return log_rate.exp()

    def parameter_values(self) -> dict[str, float]:
        return dict(zip(self.names, self.rates().tolist()))

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        monomials = x.unsqueeze(-2).pow(self.reactants.to(x.dtype)).prod(-1)  # (B, R): prod_i x_i^{s_i}
        propensity = monomials * (self.rates() * self.const).to(x.dtype)
        return propensity @ self.change.to(x.dtype)
