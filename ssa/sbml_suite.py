"""The SBML Test Suite's stochastic cases (DSMTS; Evans, Gillespie & Wilkinson, Bioinformatics 2008).

Each case gives a model, output times, and the exact mean ``mu`` and standard deviation ``sigma`` of
each output variable at each time. A simulator passes when, with ``n`` simulations, at every output
time (``sigma > 0``)

    Z = sqrt(n) (mean - mu) / sigma       in (-3, 3)    (the settings' meanRange)
    Y = sqrt(n / 2) (s^2 / sigma^2 - 1)   in (-5, 5)    (the settings' sdRange)

where ``mean`` and ``s^2`` are the sample mean and variance. Under a correct simulator ``Z`` is
standard normal, so about 0.27 % of the points fall outside (-3, 3) by chance; the suite allows such
a few. Here a run *passes* when at most :data:`ALLOWED_OUTSIDE` of its points fall outside each band.
Nearby times are strongly correlated (a trajectory that runs high stays high), so a chance excursion
puts several neighbouring points outside together; a case whose first run fails is therefore run once
more with independent streams (:func:`check_case`), and it passes if that run passes: a correct
simulator fails twice with a small probability, a biased one fails every run at n = 10,000. The
number of points outside in the first runs is reported beside its expected count. At ``sigma = 0``
(a fixed value, e.g. the start) the mean must equal ``mu`` and the variance be zero.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import ConfigError
from ssa.direct_method import simulate_direct
from ssa.kinetic_model import KineticModel
from ssa.sbml_import import read_sbml

SUITE_DIR = Path(__file__).resolve().parent.parent / "datasets" / "files" / "sbml_stochastic"
ALLOWED_OUTSIDE = 2  # points per band outside in one run ("a few"); a chance excursion is checked by a second run
RERUN_SEED = 1000  # the second run of a case uses seed + RERUN_SEED + case number
P_OUTSIDE_Z = math.erfc(3 / math.sqrt(2))  # P(|N(0, 1)| > 3) = 0.0027


@dataclass
class SuiteCase:
    """One case: its files, settings, description and exact moments."""

    number: str
    folder: Path
    settings: dict[str, str]
    synopsis: str
    tags: list[str]
    description: str
    times: np.ndarray
    mu: dict[str, np.ndarray]
    sigma: dict[str, np.ndarray]

    def sbml(self, level: str = "l3v2") -> Path:
        return self.folder / f"{self.number}-sbml-{level}.xml"

    def band(self, key: str) -> tuple[float, float]:
        low, high = (float(v) for v in re.findall(r"-?[\d.]+", self.settings[key]))
        return low, high

    @property
    def variables(self) -> list[str]:
        return [v.strip() for v in self.settings["variables"].split(",") if v.strip()]


def case_numbers() -> list[str]:
    return sorted(p.name for p in SUITE_DIR.iterdir() if p.is_dir() and p.name.isdigit())


def read_case(number: str | int, root: Path = SUITE_DIR) -> SuiteCase:
    """Read case ``number`` (``1`` or ``"00001"``) from ``root``."""
    number = f"{int(number):05d}"
    folder = root / number
    if not folder.is_dir():
        raise ConfigError(f"no DSMTS case {number} in {root}; the cases are 00001-00039")
    settings = {}
    for line in (folder / f"{number}-settings.txt").read_text().splitlines():
        key, _, value = line.partition(":")
        settings[key.strip()] = value.strip()
    if settings.get("concentration"):
        raise ConfigError(f"case {number}: concentration outputs ({settings['concentration']}) are not supported")
    model_m = (folder / f"{number}-model.m").read_text()
    field_of = lambda k: (re.search(rf"^{k}:\s*(.*)$", model_m, re.M) or [None, ""])[1].strip()  # noqa: E731
    with open(folder / f"{number}-results.csv", newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    mu = {h[:-5]: body[:, i] for i, h in enumerate(head) if h.endswith("-mean")}
    sigma = {h[:-3]: body[:, i] for i, h in enumerate(head) if h.endswith("-sd")}
    # the case's own words: the paragraph between the header and "The model contains"
    about = re.search(r"^packagesPresent:.*?\n(.*?)^The model contains", model_m, re.M | re.S)
    description = " ".join(about[1].split()) if about else ""
    return SuiteCase(number, folder, settings, field_of("synopsis"),
                     [t.strip() for t in field_of("testTags").split(",") if t.strip()], description, body[:, 0], mu,
                     sigma)


@dataclass
class CaseResult:
    """Z and Y at every output time of every variable, and the verdict."""

    number: str
    n: int
    z: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    outside_z: int
    outside_y: int
    points: int  # (time, variable) pairs with sigma > 0
    fixed_ok: bool  # every sigma = 0 point is matched exactly
    wall_s: float
    events: int
    extra: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.fixed_ok and self.outside_z <= ALLOWED_OUTSIDE and self.outside_y <= ALLOWED_OUTSIDE


def sample_outputs(model: KineticModel, counts: torch.Tensor, times: torch.Tensor, names: list[str]) -> dict:
    """``(N, K)`` samples of each named output: a species' amount or an assignment rule's value."""
    rules = model.observe(counts, times) if model.outputs else {}
    out = {}
    for name in names:
        if name in rules:
            out[name] = rules[name].to(torch.float64)
        else:
            out[name] = counts[..., model.index(name)].to(torch.float64)
    return out


def score(case: SuiteCase, samples: dict[str, torch.Tensor]) -> tuple[dict, dict, int, int, int, bool]:
    """Z, Y per variable; the number of points outside each band; the points scored; the sigma = 0 check."""
    (z_lo, z_hi), (y_lo, y_hi) = case.band("meanRange"), case.band("sdRange")
    zs, ys, out_z, out_y, points, fixed_ok = {}, {}, 0, 0, 0, True
    for name, x in samples.items():
        x = x.numpy()
        n = x.shape[0]
        mean, var = x.mean(0), x.var(0, ddof=1)
        mu, sigma = case.mu[name], case.sigma[name]
        live = sigma > 0
        fixed_ok &= bool(np.all(np.abs(mean[~live] - mu[~live]) < 1e-9) and np.all(var[~live] == 0))
        z = np.sqrt(n) * (mean[live] - mu[live]) / sigma[live]
        y = np.sqrt(n / 2) * (var[live] / sigma[live] ** 2 - 1)
        zs[name], ys[name] = z, y
        out_z += int(np.sum((z <= z_lo) | (z >= z_hi)))
        out_y += int(np.sum((y <= y_lo) | (y >= y_hi)))
        points += int(live.sum())
    return zs, ys, out_z, out_y, points, fixed_ok


def run_case(case: SuiteCase, n: int = 10_000, seed: int = 0, simulate_fn: Callable = simulate_direct,
             level: str = "l3v2", device: str = "cpu") -> CaseResult:
    """Simulate ``n`` trajectories of ``case`` with ``simulate_fn`` and score them: the exact direct method,
    or any simulator with its signature (``functools.partial(simulate_tau_leaping, epsilon=0.01)``).

    Case ``k`` uses seed ``seed + k``: many cases share a model, and with one seed they would share
    their chance excursions too (the bands assume independent runs)."""
    model = read_sbml(case.sbml(level))
    times = torch.as_tensor(case.times, dtype=torch.float64)
    start = time.perf_counter()
    traj = simulate_fn(model, times, n, seed=seed + int(case.number), device=device)
    wall = time.perf_counter() - start
    samples = sample_outputs(model, traj.counts, traj.times, case.variables)
    z, y, out_z, out_y, points, fixed_ok = score(case, samples)
    return CaseResult(case.number, n, z, y, out_z, out_y, points, fixed_ok, wall, int(traj.events.sum()))


def check_case(case: SuiteCase, n: int = 10_000, seed: int = 0, **kw) -> tuple[CaseResult, CaseResult | None]:
    """The suite's verdict on one case: its run, and a second independent run when the first fails."""
    first = run_case(case, n, seed, **kw)
    return first, (None if first.passed else run_case(case, n, seed + RERUN_SEED, **kw))
