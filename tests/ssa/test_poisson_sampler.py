"""Poisson variates from counter-based uniforms (ssa/poisson_sampler.py) against scipy, and their independence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ssa.gillespie import _hash32, _Streams, _threads_for
from ssa.poisson_sampler import sample_poisson
from ssa.tau_leaping import _Draws, _unit

Z = 5.0  # standard errors allowed for a moment


def uniforms_for(ids: torch.Tensor, seed: int = 11):
    """``uniform(s, rows)`` of :func:`sample_poisson` for elements with trajectory ids ``ids`` (iteration 0)."""
    streams = _Streams(seed, ids)
    draws = _Draws(streams, torch.device("cpu"))
    zero = torch.tensor(0)

    def uniform(s: int, rows: torch.Tensor) -> torch.Tensor:
        return _unit(_hash32(streams.keys[rows] ^ draws.v(zero, torch.tensor(s))))

    return uniform


def chi_square_p(samples: np.ndarray, lam: float) -> float:
    """p-value of Pearson's chi-square of integer samples against Poisson(lam), bins merged to >= 20 expected."""
    n = len(samples)
    lo, hi = int(stats.poisson.ppf(1e-5, lam)), int(stats.poisson.ppf(1 - 1e-5, lam))
    values = np.arange(lo, hi + 1)
    observed = np.array([(samples <= lo).sum()] + [(samples == v).sum() for v in values[1:-1]] + [(samples >= hi).sum()])
    expected = n * np.diff(np.r_[0.0, stats.poisson.cdf(values[:-1], lam), 1.0])
    obs, exp, o, e = [], [], 0.0, 0.0
    for a, b in zip(observed, expected):
        o, e = o + a, e + b
        if e >= 20:
            obs.append(o)
            exp.append(e)
            o, e = 0.0, 0.0
    obs[-1] += o
    exp[-1] += e
    obs, exp = np.array(obs), np.array(exp)
    return float(stats.chi2.sf(((obs - exp) ** 2 / exp).sum(), len(obs) - 1))


@pytest.mark.parametrize("lam", [0.05, 2.5, 9.9, 10.0, 37.0, 5000.0])
def test_poisson_sampler_matches_scipy(lam):
    """Inversion below 10, PTRS from 10: the pmf (chi-square), the mean and the variance."""
    n = 20_000
    with _threads_for(torch.device("cpu"), n):  # one thread, as the simulator uses (two contend on a busy machine)
        x = sample_poisson(torch.full((n,), lam, dtype=torch.float64), uniforms_for(torch.arange(n))).numpy()
    assert (x == np.round(x)).all() and (x >= 0).all()
    assert chi_square_p(x, lam) > 1e-6
    assert abs(x.mean() - lam) < Z * math.sqrt(lam / n)
    assert abs(x.var(ddof=1) - lam) < Z * math.sqrt((lam + 2 * lam**2) / n)  # Var(s^2) = (mu_4 - sigma^4) / n


def test_poisson_variates_depend_only_on_their_own_draws():
    """A variate is the same whatever else is sampled with it (the batch, the PTRS rounds of others)."""
    n = 3000
    lam = torch.as_tensor(np.random.default_rng(0).choice([0.0, 0.3, 4.0, 9.99, 10.0, 55.0, 2e4], n))
    ids = torch.arange(n)
    with _threads_for(torch.device("cpu"), n):
        full = sample_poisson(lam, uniforms_for(ids))
        for sel in (torch.arange(0, n, 7), torch.tensor([5]), torch.nonzero(lam >= 10).squeeze(1)[:50]):
            assert torch.equal(sample_poisson(lam[sel], uniforms_for(ids[sel])), full[sel])
    assert (full[lam == 0] == 0).all()
