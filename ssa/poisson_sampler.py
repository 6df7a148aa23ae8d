"""Poisson variates from counter-based uniforms, for tau-leaping (:mod:`ssa.tau_leaping`).

Every variate reads only its own uniforms, numbered ``uniform(s, rows)`` for draw ``s`` of the elements
``rows``, so it does not depend on what else is sampled with it (a batch, a chunk, a Dask worker):

* ``lam < 10``: inversion of the cdf with one uniform (draw 0), a sequential search
  ``F(k) = F(k - 1) + p_k`` with ``p_k = p_{k-1} lam / k`` until ``F(k) >= u``;
* ``lam >= 10``: W. Hörmann's transformed rejection with squeeze, PTRS ("The transformed rejection
  method for generating Poisson random variables", Insurance: Math. Econ. 12, 39 (1993)), attempt ``m``
  using draws ``1 + 2m`` and ``2 + 2m``, repeated until every variate is accepted (no cap, no truncation).

Exact up to the 2**-32 resolution of the uniforms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

POISSON_SWITCH = 10.0  # below: inversion; at or above: PTRS (Hörmann states it for mu >= 10)


def sample_poisson(lam: torch.Tensor, uniform: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Poisson variates of means ``lam`` (``(N,)`` float64, each finite and ``>= 0``), as float64.

    ``uniform(s, rows)`` returns the uniforms in (0, 1) of draw ``s`` of the elements ``rows`` (an
    int64 index into ``lam``); a variate uses draw 0 (inversion, ``lam < 10``) or draws
    ``1 + 2m, 2 + 2m`` for attempt ``m = 0, 1, ...`` of PTRS (``lam >= 10``), so each variate is a
    function of its own draws only.
    """
    out = torch.zeros_like(lam)
    small = torch.nonzero((lam > 0) & (lam < POISSON_SWITCH)).squeeze(1)
    if small.numel():
        out[small] = _poisson_inversion(lam[small], uniform(0, small))
    large = torch.nonzero(lam >= POISSON_SWITCH).squeeze(1)
    if large.numel():
        out[large] = _poisson_ptrs(lam[large], large, uniform)
    return out


def _poisson_inversion(lam: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``X = #{k >= 0 : F(k) < u}`` with ``F`` the Poisson(lam) cdf (``F(k) = F(k-1) + p_k``,
    ``p_k = p_{k-1} lam / k``, ``p_0 = exp(-lam)``), for ``0 < lam < 10``.

    The search stops when every ``F(k) >= u``; the count of an element depends only on its own
    ``F(0), F(1), ...``, not on when the batch stops. ``F`` reaches 1 to within 1e-15, above every
    uniform (at most ``1 - 2**-33``), so the search ends (by ``k = 80`` for ``lam < 10``).
    """
    p = torch.exp(-lam)
    cdf = p.clone()
    below = cdf < u
    count = below.to(lam.dtype)
    k = 1
    while bool(below.any()):
        p = p * lam / k
        cdf += p
        below = cdf < u
        count += below
        k += 1
    return count


def _poisson_ptrs(lam: torch.Tensor, rows: torch.Tensor,
                  uniform: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Hörmann's PTRS (transformed rejection with squeeze) for ``lam >= 10``; ``rows`` index the draws.

    With ``b = 0.931 + 2.53 sqrt(lam)``, ``a = -0.059 + 0.02483 b``, ``1/alpha = 1.1239 + 1.1328 / (b - 3.4)``,
    ``v_r = 0.9277 - 3.6224 / (b - 2)``: draw ``U ~ U(0,1) - 1/2``, ``V ~ U(0,1)``, ``u_s = 1/2 - |U|``,
    ``k = floor((2a / u_s + b) U + lam + 0.43)``; accept at once if ``u_s >= 0.07`` and ``V <= v_r``;
    reject if ``k < 0`` or (``u_s < 0.013`` and ``V > u_s``); otherwise accept iff
    ``log(V / alpha / (a / u_s^2 + b)) <= -lam + k log(lam) - log(k!)``.
    """
    out = torch.empty_like(lam)
    b = 0.931 + 2.53 * lam.sqrt()
    a = -0.059 + 0.02483 * b
    log_inv_alpha = torch.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    log_lam = lam.log()
    pending = torch.arange(lam.numel(), device=lam.device)
    m, tries = 0, 1  # attempts m .. m + tries - 1 of every pending variate at once: 1, then 4 per round
    while pending.numel():
        U = torch.stack([uniform(1 + 2 * (m + i), rows[pending]) for i in range(tries)]) - 0.5  # (tries, P)
        V = torch.stack([uniform(2 + 2 * (m + i), rows[pending]) for i in range(tries)])
        lp, ap, bp = lam[pending], a[pending], b[pending]
        us = 0.5 - U.abs()
        k = torch.floor((2.0 * ap / us + bp) * U + lp + 0.43)
        accept = (us >= 0.07) & (V <= v_r[pending])
        reject = (k < 0) | ((us < 0.013) & (V > us))
        log_f = -lp + k * log_lam[pending] - torch.lgamma(k.clamp(min=0) + 1.0)
        test = V.log() + log_inv_alpha[pending] - torch.log(ap / (us * us) + bp)
        accept |= ~reject & (test <= log_f)
        first = accept.to(torch.uint8).argmax(0)  # the first accepted attempt (argmax returns the first maximum)
        done = accept.any(0)
        out[pending[done]] = k.gather(0, first[None])[0][done]
        pending = pending[~done]
        m, tries = m + tries, 4
    return out
