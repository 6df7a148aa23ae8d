"""Explicit Runge-Kutta methods as data: a Butcher tableau ``(a, b, c)``.

One step of size ``h`` from ``x`` at time ``t``::

    k_i = f(t + c_i h, x + h sum_{j<i} a_ij k_j),    i = 1..s
    x(t + h) = x + h sum_i b_i k_i

Euler (``s = 1, b = [1]``) is the post's RNN cell (Su Jianlin, "貌离神合的RNN与ODE：花式RNN简介",
kexue.fm/archives/5643). The shipped tableaus live in ``configs/tableau/`` (euler, midpoint, heun,
rk4, rk38); a new one is a YAML file there, or a mapping given in place of a name::

    model.method={a: [[], [2/3]], b: [1/4, 3/4], c: [0, 2/3]}      # Ralston's second-order method

Entries are numbers or fractions written ``"p/q"``. ``a`` lists each row up to the diagonal, or is the
textbook's (and scipy's) square matrix with zeros on and above it. A tableau must be explicit (``a`` strictly lower
triangular) and consistent (``sum b = 1``, ``c_i = sum_j a_ij``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml

from engine.errors import ConfigError, as_int

TABLEAU_DIR = Path(__file__).resolve().parent.parent / "configs" / "tableau"


@dataclass(frozen=True)
class ButcherTableau:
    """Coefficients of an explicit ``s``-stage Runge-Kutta method; ``order`` as stated (0: unknown)."""

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int = 0
    name: str = "tableau"

    @property
    def stages(self) -> int:
        return len(self.b)


def _number(name: str, value) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"tableau {name}: {value!r} is not a number")
    try:
        number = float(Fraction(str(value).replace(" ", ""))) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ConfigError(f"tableau {name}: {value!r} is not a number or a fraction like 1/6") from None
    if not math.isfinite(number):
        raise ConfigError(f"tableau {name}: {value!r} is not a finite number")
    return number


def tableau_from_mapping(cfg: Mapping, name: str = "model.method") -> ButcherTableau:
    """A checked tableau from ``{a: [[], [a21], [a31, a32], ...], b: [...], c: [...], order: k}``."""
    cfg = dict(cfg)
    name = str(cfg.pop("name", name))
    extra = set(cfg) - {"a", "b", "c", "order"}
    if extra or not {"a", "b", "c"} <= set(cfg):
        raise ConfigError(f"tableau {name}: expected keys a, b, c (and optionally order, name); got {sorted(cfg)}")
    raw_a, raw_b, raw_c = cfg["a"], cfg["b"], cfg["c"]
    if not all(isinstance(v, Sequence) and not isinstance(v, str) for v in (raw_a, raw_b, raw_c)):
        raise ConfigError(f"tableau {name}: a, b and c must be lists")
    b = tuple(_number(name, v) for v in raw_b)
    c = tuple(_number(name, v) for v in raw_c)
    s = len(b)
    if s == 0 or len(c) != s or len(raw_a) != s:
        raise ConfigError(f"tableau {name}: b, c and the rows of a must have one entry per stage "
                          f"(got {len(b)}, {len(c)}, {len(raw_a)})")
    a = []
    for i, row in enumerate(raw_a):
        row = [] if row is None else row
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) > s:
            raise ConfigError(f"tableau {name}: row {i} of a must list at most {s} coefficients (one per stage), got {row!r}")
        values = [_number(name, v) for v in row]
        # the textbook's square matrix is accepted: its entries on and above the diagonal must be zero
        if any(v != 0.0 for v in values[i:]):
            raise ConfigError(f"tableau {name}: row {i} of a has a non-zero entry on or above the diagonal ({row!r}); "
                              "an explicit method uses only earlier stages")
        values = values[:i]
        a.append(tuple(values + [0.0] * (i - len(values))))
    if abs(sum(b) - 1.0) > 1e-12:
        raise ConfigError(f"tableau {name}: the weights b sum to {sum(b)!r}, not 1 (the method would not be consistent)")
    for i in range(s):
        if abs(sum(a[i]) - c[i]) > 1e-12:
            raise ConfigError(f"tableau {name}: c[{i}] = {c[i]!r} but row {i} of a sums to {sum(a[i])!r}; "
                              "they must be equal")
    order = as_int(f"tableau {name}: order", cfg.get("order", 0), 0)
    return ButcherTableau(tuple(a), b, c, order, name)


def shipped_tableaus() -> list[str]:
    return sorted(p.stem for p in TABLEAU_DIR.glob("*.yaml"))


def load_tableau(method: str | Mapping | ButcherTableau) -> ButcherTableau:
    """A tableau by name (a file of ``configs/tableau/``), from a YAML path, or from a mapping."""
    if isinstance(method, ButcherTableau):
        return method
    if isinstance(method, Mapping):
        return tableau_from_mapping(method)
    path = Path(str(method))
    if path.suffix not in (".yaml", ".yml"):
        path = TABLEAU_DIR / f"{method}.yaml"
    if not path.is_file():
        raise ConfigError(f"no tableau {str(method)!r}: give one of {shipped_tableaus()}, a YAML file, "
                          "or a mapping {a: ..., b: ..., c: ...}")
    cfg = yaml.safe_load(path.read_text())
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{path} must hold a mapping with a, b and c")
    return tableau_from_mapping(cfg, name=path.stem)
