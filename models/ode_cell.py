"""One explicit Runge-Kutta step as an RNN cell, and its unrolling over a time grid.

The post's observation (Su Jianlin, "貌离神合的RNN与ODE：花式RNN简介", kexue.fm/archives/5643):
the Euler step ``x_{n+1} = x_n + h f(x_n, t_n)`` is a recursion ``y_t = F(y_{t-1}, t)``, i.e. an
RNN whose cell is the step. Unrolling it is an ODE solve, and back-propagation through the unrolled
loop fits the parameters of ``f``. Any explicit tableau gives such a cell::

    k_i = clamp(f(t + c_i h, x + h sum_{j<i} a_ij k_j)),    x_{n+1} = x_n + h sum_i b_i k_i

``clamp`` (the post's ``K.clip(f, -1e5, 1e5)``) bounds each stage's derivative, so that a bad
parameter guess cannot overflow the state in a few steps; ``None`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn

from models.butcher_tableau import ButcherTableau, load_tableau


def is_autonomous(field: nn.Module) -> bool:
    """Fields declare ``autonomous = True`` when ``f`` ignores ``t``; anything else gets the stage times."""
    return bool(getattr(field, "autonomous", False))


class ODECell(nn.Module):
    """``x(t + h)`` from ``x(t)`` by one step of ``tableau`` through ``field(t, x)``.

    ``h`` is a number (one step for the whole batch) or a tensor broadcasting against ``x``
    (a step per sample, as for the last partial step to an observation time).
    """

    def __init__(self, tableau: str | Mapping | ButcherTableau = "euler", clamp: float | None = None) -> None:
        super().__init__()
        self.tableau = load_tableau(tableau)
        self.clamp = None if clamp is None else float(clamp)

    def derivative(self, field: nn.Module, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        f = field(t, x)
        return f if self.clamp is None else f.clamp(-self.clamp, self.clamp)

    def forward(self, field: nn.Module, t: torch.Tensor, x: torch.Tensor, h: float | torch.Tensor) -> torch.Tensor:
        tab, autonomous = self.tableau, is_autonomous(field)
        number = not isinstance(h, torch.Tensor)
        ks: list[torch.Tensor] = []
        for i in range(tab.stages):
            xi = x
            for j, a in enumerate(tab.a[i]):
                if a != 0.0:  # skipping zeros keeps RK4 at the cost of a hand-written step
                    xi = xi.add(ks[j], alpha=h * a) if number else xi + (h * a) * ks[j]
            ti = t if autonomous or tab.c[i] == 0.0 else t + tab.c[i] * (h if number else h.reshape(t.shape))
            ks.append(self.derivative(field, ti, xi))
        out = x
        for b, k in zip(tab.b, ks):
            if b != 0.0:
                out = out.add(k, alpha=h * b) if number else out + (h * b) * k
        return out

    def unroll(self, field: nn.Module, x0: torch.Tensor, t0: torch.Tensor, h: float, steps: int) -> torch.Tensor:
        """States at ``t0 + n h`` for ``n = 0..steps``: shape ``(steps + 1, B, S)`` (the RNN's output sequence)."""
        states = [x0]
        x = x0
        autonomous = is_autonomous(field)
        for n in range(steps):
            t = t0 if autonomous else t0 + n * h
            x = self(field, t, x, h)
            states.append(x)
        return torch.stack(states)

    def extra_repr(self) -> str:
        return f"tableau={self.tableau.name}, stages={self.tableau.stages}, clamp={self.clamp}"
