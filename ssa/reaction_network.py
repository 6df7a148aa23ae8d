"""Reaction networks as data: species, mass-action reactions, initial counts.

A reaction is written as an equation string with a stochastic rate constant ``c``::

    "0 -> mRNA"            (rate 20)    a(n) = c
    "mRNA -> mRNA + protein"             a(n) = c n_mRNA
    "2 A -> B"                           a(n) = c C(n_A, 2) = c n_A (n_A - 1) / 2

Propensities are mass action with binomial coefficients, as in the post (Su Jianlin,
"python简单实现gillespie模拟", kexue.fm/archives/5607, and Gillespie 1977):
``a_mu(n) = c_mu prod_i C(n_i, s_mu_i)``, where ``s_mu`` is the reactant stoichiometry; the
reaction changes the state by ``nu_mu = products - reactants``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import comb
from pathlib import Path

import numpy as np
import torch
import yaml

from engine.errors import ConfigError, as_number

_TERM = re.compile(r"^\s*(\d+)?\s*\*?\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_EMPTY = {"0", "", "∅", "null", "nothing"}


@dataclass(frozen=True)
class Reaction:
    """One reaction: ``rate`` times the binomial terms of ``reactants``; adds ``products``."""

    rate: float
    reactants: Mapping[str, int]
    products: Mapping[str, int]
    equation: str = ""

    @property
    def order(self) -> int:
        return sum(self.reactants.values())


@dataclass(frozen=True)
class Network:
    """Species, reactions and initial counts of a well-mixed reaction system."""

    species: tuple[str, ...]
    reactions: tuple[Reaction, ...]
    initial: tuple[int, ...]
    name: str = "network"
    _arrays: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.species)) != len(self.species):
            raise ConfigError(f"network {self.name!r}: species names repeat in {list(self.species)}")
        if not self.reactions:
            raise ConfigError(f"network {self.name!r}: no reactions; add at least one under `reactions:`")
        known = set(self.species)
        for r in self.reactions:
            bad = {s: k for side in (r.reactants, r.products) for s, k in side.items()
                   if not (isinstance(k, int) and k >= 1)}
            if bad:
                raise ConfigError(f"network {self.name!r}: reaction {r.equation!r} has coefficients {bad}; they must be "
                                  "positive integers (a negative one would make a count negative; move it to the other side)")
            unknown = sorted((set(r.reactants) | set(r.products)) - known)
            if unknown:
                raise ConfigError(f"network {self.name!r}: reaction {r.equation!r} uses unknown species {unknown}; "
                                  f"declare them under `species:` (known: {list(self.species)})")
            if not (np.isfinite(r.rate) and r.rate >= 0):
                raise ConfigError(f"network {self.name!r}: reaction {r.equation!r} has rate {r.rate}; "
                                  "rates must be finite and >= 0")
        check_counts(self, self.initial)

    @property
    def num_species(self) -> int:
        return len(self.species)

    @property
    def num_reactions(self) -> int:
        return len(self.reactions)

    def index(self, species: str) -> int:
        """The position of ``species`` in the state vector; one line if the network has no such species."""
        if species not in self.species:
            raise ConfigError(f"unknown species {species!r}; the network {self.name!r} has {list(self.species)}")
        return self.species.index(species)

    def matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rates (R,), reactant stoichiometry (R,S), change vectors nu (R,S))`` as numpy arrays."""
        if not self._arrays:
            idx = {s: i for i, s in enumerate(self.species)}
            reac = np.zeros((self.num_reactions, self.num_species), dtype=np.int64)
            prod = np.zeros_like(reac)
            for m, r in enumerate(self.reactions):
                for s, k in r.reactants.items():
                    reac[m, idx[s]] = k
                for s, k in r.products.items():
                    prod[m, idx[s]] = k
            self._arrays.update(rates=np.array([r.rate for r in self.reactions], dtype=np.float64),
                                reactants=reac, change=prod - reac)
        return self._arrays["rates"], self._arrays["reactants"], self._arrays["change"]

    def propensities(self, counts: torch.Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
        """``a(n)`` of every reaction for states ``counts`` of shape ``(..., S)``: shape ``(..., R)``.

        The reference implementation (exact integer binomials); the simulator uses a vectorised
        form of the same product and is tested against this one.
        """
        rates, reac, _ = self.matrices()
        n = np.asarray(counts, dtype=np.int64)
        out = np.empty(n.shape[:-1] + (self.num_reactions,), dtype=np.float64)
        for index in np.ndindex(*n.shape[:-1]):
            state = n[index]
            out[index] = [c * np.prod([comb(int(state[i]), int(s)) for i, s in enumerate(row)])
                          for c, row in zip(rates, reac)]
        return out

    def with_rates(self, **rates: float) -> Network:
        """A copy with some rate constants replaced, by reaction index: ``with_rates(r0=5.0)``."""
        new = list(self.reactions)
        for key, value in rates.items():
            m = int(key[1:]) if re.fullmatch(r"r\d+", key) else None
            if m is None or not 0 <= m < len(new):
                raise ConfigError(f"unknown reaction {key!r}: use r0 .. r{len(new) - 1}")
            new[m] = Reaction(float(value), new[m].reactants, new[m].products, new[m].equation)
        return Network(self.species, tuple(new), self.initial, self.name)


def check_counts(network: Network, counts: Sequence[int]) -> None:
    """Raise one line unless ``counts`` has one non-negative integer per species."""
    try:
        arr = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        arr = None
    shown = [int(c) if isinstance(c, (int, float, np.number)) and float(c).is_integer() else c
             for c in np.ravel(np.asarray(counts, dtype=object)).tolist()]
    if arr is None or arr.shape != (network.num_species,):
        raise ConfigError(f"network {network.name!r}: initial state {shown} must give one count per "
                          f"species {list(network.species)}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)) or np.any(arr >= 2.0**53):
        raise ConfigError(f"network {network.name!r}: initial counts {shown} must be non-negative integers below 2**53")


def parse_side(text: str, equation: str) -> dict[str, int]:
    """``"2 A + B"`` -> ``{"A": 2, "B": 1}``; ``"0"`` or empty -> ``{}``."""
    if text.strip() in _EMPTY:
        return {}
    out: dict[str, int] = {}
    for term in text.split("+"):
        m = _TERM.match(term)
        if not m:
            raise ConfigError(f"cannot parse {term.strip()!r} in reaction {equation!r}; "
                              "write terms as `2 A + B`, and `0` for nothing")
        k = int(m.group(1) or 1)
        if k == 0:
            raise ConfigError(f"reaction {equation!r}: a coefficient of 0 in {term.strip()!r}; drop the term")
        out[m.group(2)] = out.get(m.group(2), 0) + k
    return out


def parse_reaction(equation: str, rate: float) -> Reaction:
    """A reaction from ``"A + B -> C"`` and its stochastic rate constant."""
    if "<->" in equation or "<=>" in equation:
        raise ConfigError(f"reaction {equation!r}: write a reversible reaction as two reactions, "
                          "`A -> B` and `B -> A`, each with its own rate")
    if equation.count("->") != 1:
        raise ConfigError(f"reaction {equation!r} needs exactly one `->`, e.g. `A + B -> C`")
    rate = as_number(f"reaction {equation!r}: rate", rate)
    left, right = equation.split("->")
    return Reaction(rate, parse_side(left, equation), parse_side(right, equation), equation.strip())


def network_from_config(cfg: Mapping) -> Network:
    """Build a :class:`Network` from a mapping (a YAML file under ``configs/network/``)::

        name: birth_death
        species: [X]
        initial: {X: 0}
        reactions:
          - {eq: "0 -> X", rate: 10.0}
          - {eq: "X -> 0", rate: 1.0}

    Species missing from ``initial`` start at 0.
    """
    cfg = dict(cfg)
    name = str(cfg.get("name", "network"))
    extra = set(cfg) - {"name", "species", "initial", "reactions", "description", "simulate", "reference"}
    if extra:
        raise ConfigError(f"network {name!r}: unknown keys {sorted(extra)}; expected name, species, initial, reactions")
    raw_species = cfg.get("species") or []
    if not isinstance(raw_species, (list, tuple)) or not all(isinstance(x, str) for x in raw_species):
        raise ConfigError(f"network {name!r}: `species:` must be a list of names, e.g. [A, B]; got {raw_species!r}")
    species = tuple(raw_species)
    if not species:
        raise ConfigError(f"network {name!r}: `species:` is empty; list the species, e.g. [A, B]")
    raw_reactions = cfg.get("reactions") or []
    if not isinstance(raw_reactions, (list, tuple)):
        raise ConfigError(f"network {name!r}: `reactions:` must be a list of {{eq: \"A -> B\", rate: 1.0}}")
    reactions = []
    for i, r in enumerate(raw_reactions):
        if not isinstance(r, Mapping) or set(r) - {"eq", "rate"} or "eq" not in r or "rate" not in r:
            raise ConfigError(f"network {name!r}: reaction {i} is {r!r}; write it as {{eq: \"A -> B\", rate: 1.0}}")
        reactions.append(parse_reaction(str(r["eq"]), r["rate"]))
    initial = cfg.get("initial") or {}
    if not isinstance(initial, Mapping):
        raise ConfigError(f"network {name!r}: `initial:` must map species to counts, e.g. {{A: 10}}; got {initial!r}")
    unknown = sorted(set(initial) - set(species))
    if unknown:
        raise ConfigError(f"network {name!r}: initial counts for unknown species {unknown}; known: {list(species)}")
    counts = [initial.get(s, 0) for s in species]
    if any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in counts):
        raise ConfigError(f"network {name!r}: initial counts {counts} must be non-negative integers")
    _check_extras(name, species, cfg)
    counts = tuple(int(c) if math.isfinite(c) and c == int(c) else c for c in counts)
    return Network(species, tuple(reactions), counts, name)


_SIMULATE_KEYS = {"t_end", "num_points", "burn_in", "num_trajectories"}
_REFERENCE_KEYS = {"cme_max_counts", "poisson", "moments"}


def _check_extras(name: str, species: tuple[str, ...], cfg: Mapping) -> None:
    """The optional ``simulate:`` defaults and ``reference:`` answers used by ``tools/simulate.py``."""
    sim, ref = cfg.get("simulate") or {}, cfg.get("reference") or {}
    for key, block, allowed in (("simulate", sim, _SIMULATE_KEYS), ("reference", ref, _REFERENCE_KEYS)):
        if not isinstance(block, Mapping) or set(block) - allowed:
            bad = sorted(set(block) - allowed) if isinstance(block, Mapping) else block
            raise ConfigError(f"network {name!r}: unknown `{key}:` entries {bad}; allowed: {sorted(allowed)}")
    for key, value in sim.items():
        as_number(f"network {name!r}: simulate.{key}", value)
    box = ref.get("cme_max_counts")
    if box is not None and (not isinstance(box, Mapping) or set(box) != set(species)):
        raise ConfigError(f"network {name!r}: reference.cme_max_counts must give a bound for every species "
                          f"{list(species)}, e.g. {{{', '.join(f'{s}: 100' for s in species)}}}")
    for key, shape in (("poisson", "a rate"), ("moments", "[mean, variance]")):
        entries = ref.get(key) or {}
        if not isinstance(entries, Mapping) or set(entries) - set(species):
            raise ConfigError(f"network {name!r}: reference.{key} must map species {list(species)} to {shape}")
        for s, v in entries.items():
            ok = (isinstance(v, (int, float)) if key == "poisson" else
                  isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v))
            if not ok:
                raise ConfigError(f"network {name!r}: reference.{key}.{s}={v!r}; expected {shape}")


NETWORK_DIR = Path(__file__).resolve().parent.parent / "configs" / "network"


def load_network(name_or_path: str | Path) -> Network:
    """A network shipped in ``configs/network/`` by name (``"gene_expression"``) or any YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = NETWORK_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in NETWORK_DIR.glob("*.yaml"))
        raise ConfigError(f"no network {str(name_or_path)!r}: give a YAML file or one of {shipped}")
    return network_from_config(read_network_file(path))


def read_network_file(path: str | Path) -> dict:
    """The mapping in a network YAML file; a file that does not parse is one line naming its line and column."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = " ".join(str(part) for part in (e.context, e.problem) if part)
        raise ConfigError(f"{path}{where}: not valid YAML ({reason}); fix the file and run again") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]}); fix the file and run again") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path} must hold a mapping with species, initial and reactions")
    return cfg
