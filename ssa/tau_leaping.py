"""Adaptive explicit tau-leaping with critical reactions, for a :class:`~ssa.kinetic_model.KineticModel`.

Tau-leaping (D. T. Gillespie, J. Chem. Phys. 115, 1716 (2001)) advances a state ``x`` by a leap
``tau`` over which the propensities barely change, firing each reaction a Poisson number of times:

    x(t + tau) = x(t) + sum_j nu_j K_j,      K_j ~ Poisson(a_j(x) tau)   independent.

The step size and the handling of reactions that could drive a count negative follow Y. Cao,
D. T. Gillespie and L. R. Petzold, "Efficient step size selection for the tau-leaping simulation
method", J. Chem. Phys. 124, 044109 (2006) (CGP). In state ``x`` at time ``t``:

1. A reaction ``j`` is *critical* when ``a_j > 0`` and ``L_j < n_c`` (``n_critical``, 10), with
   ``L_j = min_{i : nu_ij < 0} floor(x_i / |nu_ij|)`` (CGP eq. 10: the firings left before a
   species it consumes runs out; a catalyst, like mRNA in ``mRNA -> mRNA + protein``, is not
   consumed and never makes a reaction critical).
2. Over the non-critical reactions ``J_ncr`` and the reactant species ``I_rs``,

       mu_i = sum_{j in J_ncr} nu_ij a_j,     sigma_i^2 = sum_{j in J_ncr} nu_ij^2 a_j,
       tau' = min_{i in I_rs} { max(eps x_i / g_i, 1) / |mu_i|,  max(eps x_i / g_i, 1)^2 / sigma_i^2 }   (CGP eq. 33)

   (``tau' = inf`` when nothing bounds it). ``g_i`` comes from the highest order of reaction
   ``q`` in which species ``i`` is a reactant and the most molecules ``n`` of ``i`` such a
   reaction takes: ``g_i = (q / n) (n + sum_{k=1}^{n-1} k / (x_i - k))``, which is CGP's table
   (``g = 1``; ``2``; ``2 + 1/(x-1)``; ``3``; ``3/2 (2 + 1/(x-1))``; ``3 + 1/(x-1) + 2/(x-2)``)
   written for any order. Orders and ``I_rs`` come from ``model.reactants``: for a rate law that
   is not mass action (an SBML kinetic law, a modifier that is no reactant) the bound is CGP's
   mass-action heuristic, not a guarantee.
3. If ``tau' < ssa_factor / a_0`` (10 / a_0), leaping gains nothing: take ``ssa_steps`` (100) exact
   direct-method steps, then go back to 1.
4. ``tau'' ~ Exp(a_0c)`` with ``a_0c`` the critical reactions' total propensity. If ``tau'' <=
   tau'`` the leap is ``tau''`` and exactly one critical reaction fires (reaction ``j`` with
   probability ``a_j / a_0c``); otherwise the leap is ``tau'`` and no critical reaction fires. The
   non-critical reactions fire ``K_j ~ Poisson(a_j tau)`` times.
5. If a count would go negative, the leap is rejected, ``tau'`` is halved and the step goes back
   to 3 with fresh random numbers (so no count is ever negative).

Choices of this implementation:

* **Grid.** A leap is shortened to end exactly at the next time of the sampling grid (shortening
  keeps the leap condition; for a critical draw ``tau''`` beyond the grid time, dropping it is exact
  because exponential waits are memoryless). The sample at a grid time ``g`` is then the state
  after every leap and step ending at times ``<= g``, the same contract as the direct method,
  without the lag of holding a leap's starting state over the whole leap. A dense grid caps the
  leap length; the exact steps of stage 3 cross grid times as the direct method's do.
* **Events.** Handled as :mod:`ssa.direct_method` does (its ``_EventState``): a leap is shortened to
  end exactly at the next timed event, which then fires; state-triggered events are checked after
  every leap and step, so a trigger crossed inside a leap fires at the leap's end (a delay of at
  most one leap, the method's own resolution).
* **Randomness.** Every draw is a counter-based uniform, a hash of (seed, trajectory id, iteration
  ``j``, slot) built on :class:`ssa.gillespie._Streams`. Every trajectory takes exactly one action
  per iteration (one exact step, one leap, or one rejected leap), chosen from its own state, so a
  trajectory is the same alone, in a batch, in any chunk and on any worker. Slots 0 and 1 are the
  exact step's ``u1, u2`` (or ``tau''`` and the critical choice); slot ``2 + s R + r`` is draw ``s``
  of reaction ``r``'s Poisson variate.
* **Poisson variates** (:func:`ssa.poisson_sampler.sample_poisson`), exact up to the 2**-32 resolution of the uniforms:
  for ``lam < 10`` inversion of the cdf with one uniform (draw 0): a sequential search,
  ``F(k) = F(k-1) + p_k`` with ``p_k = p_{k-1} lam / k``, until ``F(k) >= u``; for ``lam >= 10`` W. Hörmann's
  transformed rejection PTRS ("The transformed rejection method for generating Poisson random
  variables", Insurance: Math. Econ. 12, 39 (1993)) with attempt ``m`` using draws ``1 + 2m`` and
  ``2 + 2m``, repeated until every variate is accepted (no cap, so no truncation; attempts are
  evaluated one, then four at a time per pending variate, and the first accepted is kept, as a
  one-at-a-time loop would).

``events`` of the result counts reaction firings (the Poisson counts, critical firings and exact
steps), comparable with the direct method's; ``steps`` counts iterations (leaps, rejected leaps
and exact steps). Known bias: explicit tau-leaping inflates stationary variances; for a species
degraded at rate ``g`` by about a factor ``1 / (1 - g tau / 2)`` (with ``tau`` the typical leap),
which is what the tests allow for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from engine.devices import select_device
from engine.errors import ConfigError, as_int, as_number
from ssa.direct_method import _EventState, _report_bad_propensity, initial_amounts
from ssa.gillespie import (
    _CHECK_EVERY,
    _CHUNK_NUMBERS,
    _M32,
    Trajectories,
    _block,
    _grid_index,
    _hash32,
    _Streams,
    _threads_for,
    check_grid,
    filled_samples,
    still_running,
)
from ssa.kinetic_model import KineticModel
from ssa.poisson_sampler import sample_poisson
from ssa.reaction_network import Network


@dataclass
class LeapTrajectories(Trajectories):
    """:class:`~ssa.gillespie.Trajectories` plus ``steps[b]``: the iterations trajectory ``b`` took
    (accepted and rejected leaps and exact steps), against ``events[b]`` reaction firings."""

    steps: torch.Tensor | None = None  # (N,) int64


def _unit(h: torch.Tensor) -> torch.Tensor:
    """32-bit hashes as float64 uniforms in (0, 1), as :class:`ssa.gillespie._Streams` makes them."""
    return h.to(torch.float64).add_(0.5).mul_(2.0**-32)


class _Draws:
    """Counter-based uniforms ``u(b, j, slot) = unit(hash(key_b ^ v(j, slot)))``.

    ``key_b`` is the trajectory's key from :class:`~ssa.gillespie._Streams` (seed and id);
    ``v(j, slot) = hash(hash(hash(j ^ s_hi) ^ hash(slot * phi + c)) ^ s_lo)`` mixes the iteration and
    the slot, so any (trajectory, iteration, slot) has its own number whatever else is drawn.
    """

    def __init__(self, streams: _Streams, device: torch.device) -> None:
        self.s_lo, self.s_hi, self.device = streams.s_lo, streams.s_hi, device

    def v(self, j: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """``v`` for iterations ``j`` (any shape) and slots (broadcasting with ``j``), int64 below 2**32."""
        jh = _hash32((j & _M32) ^ self.s_hi)
        sh = _hash32((slots * 0x9E3779B9 + 0x632BE5AB) & _M32)
        return _hash32(_hash32(jh ^ sh) ^ self.s_lo)

    def table(self, j0: int, steps: int, num_slots: int) -> torch.Tensor:
        """``(steps, num_slots)``: ``v`` of iterations ``j0 .. j0 + steps - 1`` and slots ``0 .. num_slots - 1``."""
        j = torch.arange(j0, j0 + steps, dtype=torch.int64, device=self.device)[:, None]
        return self.v(j, torch.arange(num_slots, dtype=torch.int64, device=self.device)[None, :])


class _Leaper:
    """The model's stoichiometry as tensors: change vectors, consumption pairs, the ``g_i`` rule."""

    def __init__(self, model: KineticModel, device: torch.device) -> None:
        f64 = torch.float64
        change = np.asarray(model.change, dtype=np.float64)  # (R, S)
        reac = np.asarray(model.reactants, dtype=np.float64)
        self.R, self.S = change.shape
        self.nu = torch.as_tensor(change.T, dtype=f64, device=device).contiguous()  # (S, R)
        self.nu2 = self.nu * self.nu
        jj, ii = np.nonzero(change < 0)  # reaction j consumes |nu_ij| of species i
        self.cons_j = torch.as_tensor(jj, dtype=torch.int64, device=device)
        self.cons_i = torch.as_tensor(ii, dtype=torch.int64, device=device)
        self.cons_c = torch.as_tensor(-change[jj, ii], dtype=f64, device=device)[:, None]
        order = reac.sum(1)
        rs, q_over_n, n_of = [], [], []
        for i in range(self.S):
            uses = reac[:, i] > 0
            if not uses.any():
                continue
            q = order[uses].max()  # the highest order of reaction (HOR) of species i
            n = int(math.ceil(reac[uses & (order == q), i].max()))
            rs.append(i)
            q_over_n.append(q / n)
            n_of.append(n)
        self.rs = torch.as_tensor(rs, dtype=torch.int64, device=device)
        self.q_over_n = torch.as_tensor(q_over_n, dtype=f64, device=device)[:, None]
        self.n = torch.as_tensor(n_of, dtype=f64, device=device)[:, None]
        self.n_max = max(n_of, default=1)

    def critical(self, x: torch.Tensor, a: torch.Tensor, n_c: int) -> torch.Tensor:
        """``(R, B)`` bool: ``a_j > 0`` and ``L_j = min_{i: nu_ij < 0} floor(x_i / |nu_ij|) < n_c``."""
        if self.cons_j.numel() == 0 or n_c == 0:
            return torch.zeros_like(a, dtype=torch.bool)
        left = torch.floor(x.index_select(0, self.cons_i) / self.cons_c)
        L = torch.full_like(a, math.inf).scatter_reduce_(0, self.cons_j[:, None].expand_as(left), left, "amin")
        return (a > 0) & (L < n_c)

    def g(self, xr: torch.Tensor) -> torch.Tensor:
        """``g_i = (q/n) (n + sum_{k=1}^{n-1} k / (x_i - k))`` (``inf`` while ``x_i <= n - 1``) for ``I_rs``."""
        s = self.n.expand_as(xr).clone()
        for k in range(1, self.n_max):
            term = torch.where(xr > k, k / (xr - k), torch.full_like(xr, math.inf))
            s += torch.where(self.n > k, term, torch.zeros_like(xr))
        return self.q_over_n * s

    def tau_prime(self, x: torch.Tensor, a_nc: torch.Tensor, eps: float) -> torch.Tensor:
        """CGP eq. (33) over the non-critical propensities ``a_nc`` ``(R, B)``; ``(B,)``, ``inf`` if unbounded."""
        if self.rs.numel() == 0:
            return torch.full_like(x[0], math.inf)
        mu = (self.nu @ a_nc).index_select(0, self.rs).abs_()
        sigma2 = (self.nu2 @ a_nc).index_select(0, self.rs)
        xr = x.index_select(0, self.rs)
        bound = (eps * xr / self.g(xr)).clamp_(min=1.0)
        return torch.minimum(bound / mu, bound * bound / sigma2).amin(0)


def simulate_tau_leaping(model: KineticModel | Network, times, num_trajectories: int = 1, seed: int = 0, initial=None,
                         device: str | torch.device = "cpu", first_id: int = 0, chunk_size: int | None = None,
                         max_events: int = 10**7, progress: bool = False, epsilon: float = 0.03,
                         n_critical: int = 10, ssa_factor: float = 10.0, ssa_steps: int = 100) -> LeapTrajectories:
    """Sample ``num_trajectories`` tau-leaping trajectories of ``model`` at ``times`` (Cao, Gillespie &
    Petzold 2006; see the module docstring).

    Same contract as :func:`ssa.direct_method.simulate_direct`: trajectory ``b`` uses the streams of
    id ``first_id + b`` (the same whatever the batch, ``chunk_size`` or worker); the sample at ``g``
    is the state after everything at times ``<= g``; ``events`` counts reaction firings.
    ``max_events`` bounds the iterations (leaps, rejected leaps and exact steps) of a trajectory.
    ``epsilon`` in (0, 1): the bound on the relative change of propensities over a leap;
    ``n_critical``: reactions within this many firings of exhausting a reactant are critical;
    ``ssa_factor`` / ``ssa_steps``: when ``tau' < ssa_factor / a_0``, take ``ssa_steps`` exact steps.
    A mass-action :class:`~ssa.reaction_network.Network` is read as :meth:`KineticModel.from_network`.
    """
    if isinstance(model, Network):
        model = KineticModel.from_network(model)
    eps = as_number("epsilon", epsilon, hint="the tau-leaping error bound, e.g. 0.03")
    if not 0.0 < eps < 1.0:
        raise ConfigError(f"epsilon must be in (0, 1) (the bound on the relative change of a propensity over "
                          f"a leap; Cao, Gillespie & Petzold use 0.03), got {epsilon!r}")
    n_c = as_int("n_critical", n_critical, 0, hint="Cao, Gillespie & Petzold use 10")
    factor = as_number("ssa_factor", ssa_factor, 0.0, hint="leap only when tau' >= ssa_factor / a_0; 10")
    if not math.isfinite(factor):
        raise ConfigError(f"ssa_factor must be finite (a finite multiple of 1 / a_0), got {ssa_factor!r}")
    n_ssa = as_int("ssa_steps", ssa_steps, 1, hint="exact steps taken when leaping does not pay; 100")
    n = as_int("num_trajectories", num_trajectories, 1)
    first_id = as_int("first_id", first_id, 0, 2**32 - n + 1)
    seed, max_events = as_int("seed", seed), as_int("max_events", max_events, 1)
    grid = check_grid(times)
    even_tol = (2.0**-22 if torch.as_tensor(times).dtype == torch.float32 else 1e-12) * grid.abs().max().item()
    grid, _ = _grid_index(grid, even_tol)
    device = select_device(device, key="device")
    K, S = grid.numel(), model.num_species
    x0 = initial_amounts(model, initial, n)
    counts = torch.empty(n, K, S, dtype=torch.int64)
    events = torch.empty(n, dtype=torch.int64)
    steps = torch.empty(n, dtype=torch.int64)
    if chunk_size is None:
        chunk_size = max(1024, _CHUNK_NUMBERS // ((K + 1) * S))
    chunk_size = as_int("chunk_size", chunk_size, 1, hint="null: automatic")
    leaper = _Leaper(model, device)
    options = (eps, n_c, factor, n_ssa, max_events)
    bar = tqdm(total=n * K, desc=f"tau-leap {model.name}", unit="samples", disable=not progress, leave=False)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        with _threads_for(device, stop - start):
            counts[start:stop], events[start:stop], steps[start:stop] = _chunk(
                model, leaper, grid, x0[:, start:stop], seed, first_id + start, device, bar, options)
    bar.close()
    return LeapTrajectories(model, grid, counts, events, int(seed), int(first_id), steps)


def _chunk(model: KineticModel, lp: _Leaper, grid: torch.Tensor, x: torch.Tensor, seed: int, first_id: int,
           device: torch.device, bar, options: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    eps, n_c, factor, n_ssa, max_steps = options
    f64, inf = torch.float64, math.inf
    S, R, K, B = model.num_species, model.num_reactions, grid.numel(), x.shape[1]
    x = x.to(device).clone()
    ids = torch.arange(B, device=device)
    streams = _Streams(seed, ids + first_id)
    keys = streams.keys
    draws = _Draws(streams, device)
    n_slots = 2 + 3 * R  # the exact step's two, then draw 0 (inversion) and PTRS attempt 0 of each reaction
    t = torch.zeros(B, dtype=f64, device=device)
    grid = grid.to(device)
    after = torch.cat([grid, grid.new_tensor([inf])])  # after[searchsorted(grid, t, right=True)]: next grid time > t
    t_end = grid[-1].item()
    ev = _EventState(model, B, device) if model.events else None
    timed_events = ev is not None and bool(ev.timed_events)
    if ev is not None:  # events due at t = 0 act on the initial state
        ev.fire_timed(x, t, ev.next_time() <= 0)
        ev.fire_state(x, t, torch.ones(B, dtype=torch.bool, device=device))
    k = torch.searchsorted(grid, t)  # grid times < t
    out = torch.full((B, K + 1, S), -1.0, dtype=f64, device=device)  # column K: a sink for rows that cross nothing
    n_events = torch.zeros(B, dtype=torch.int64, device=device)
    n_steps = torch.zeros(B, dtype=torch.int64, device=device)
    events = torch.zeros(B, dtype=torch.int64, device=device)
    steps = torch.zeros(B, dtype=torch.int64, device=device)
    ssa_left = torch.zeros(B, dtype=torch.int64, device=device)  # exact steps still to take
    retry = torch.full((B,), inf, dtype=f64, device=device)  # halved tau' after a rejected leap; inf: none
    bad = torch.zeros(B, dtype=torch.bool, device=device)
    j, finished, block = 0, 0, _block(B)
    decide_at = 0  # the first iteration at which a row leaves its exact-step phase
    while True:
        if j % block == 0:  # compaction happens at multiples of block, so the rows of a block stay put
            table = draws.table(j, block, n_slots)
            u_block = _unit(_hash32(keys ^ table[:, :2, None]))  # (block, 2, B): slots 0 and 1
        v, u = table[j % block], u_block[j % block]
        a = model.propensities(x, t)
        bad |= ~(a.amin(0) >= 0) | torch.isinf(a.amax(0))
        cs = a.cumsum(0)
        a0 = cs[-1]
        wait = -torch.log(u[0])  # Exp(1)
        t_event = ev.next_time() if timed_events else None
        # an exact step (direct method), for the rows in their exact-step phase
        t_new = t + wait / a0
        one = (cs[:-1] < u[1] * a0).sum(0)
        if timed_events:
            timed = t_event < t_new  # the event comes first: it fires, the reaction's draw is dropped
            t_new = torch.where(timed, t_event, t_new)
        else:
            timed = None
        if j >= decide_at:  # some rows may choose between a leap and exact steps
            ssa, t_new, timed, one, dx, fired, rejected, retry_new = _leap(
                lp, x, t, a, wait, u[1], retry, ssa_left, t_new, timed if timed is not None else torch.zeros_like(bad),
                one, t_event, grid, after, t_end, options, (keys, draws, j, v))
            ssa_left = torch.where(ssa & (ssa_left == 0), n_ssa, ssa_left)
            live = t_new <= t_end
            accepted = live & ~rejected
            fire_one = live & ~timed & (ssa | fired[1])
            dx = dx + lp.nu.index_select(1, one) * fire_one
            n_events += ((fired[0] + fire_one) * accepted).long()
            t_new = torch.where(rejected, t, t_new)
            retry = torch.where(rejected, retry_new, torch.where(ssa | accepted, inf, retry))
            ssa_left = (ssa_left - ssa.long()).clamp_(min=0)
            apply = accepted
            busy = ssa_left[t_new <= t_end]  # active rows: the next iteration at which one of them decides again
            decide_at = j + 1 + (int(busy.min()) if busy.numel() else 0)
        else:  # every row is in its exact-step phase (a direct-method step; ssa_left > 0 for every active row)
            live = accepted = t_new <= t_end
            apply = live if timed is None else live & ~timed  # a timed event replaces the reaction
            dx = lp.nu.index_select(1, one)
            n_events += apply
            ssa_left.sub_(1).clamp_(min=0)
        k_new = torch.searchsorted(grid, t_new)
        crossed = k_new > k  # the state before this step is the sample at every grid time in [t, t_new)
        out[ids, torch.where(crossed, k, K)] = x.T
        x.addcmul_(dx, apply)
        n_steps += k < K
        if timed_events:
            ev.fire_timed(x, t_new, timed & accepted)
        if ev is not None and ev.state_events:
            ev.fire_state(x, t_new, accepted)
        t, k = t_new, k_new
        j += 1
        if j % _CHECK_EVERY:
            continue
        if bool(bad.any()):
            _report_bad_propensity(model, x[:, bad][:, :1], t[bad][:1])
        active, n_active = still_running(f"model {model.name!r}", k, K, t, t_end, j, max_steps,
                                         did="took {j:,} tau-leaping steps")
        bar.update(finished * K + int(k.sum()) - bar.n)
        if n_active == 0:
            break
        if n_active < 0.75 * len(k):  # drop finished rows: their random streams are their own
            keep = torch.nonzero(active).squeeze(1)
            finished += len(k) - n_active
            events[ids], steps[ids] = n_events, n_steps
            x, t, k, keys, ids = x[:, keep], t[keep], k[keep], keys[keep], ids[keep]
            n_events, n_steps, bad, ssa_left, retry = n_events[keep], n_steps[keep], bad[keep], ssa_left[keep], retry[keep]
            if ev is not None:
                ev.keep(keep)
    events[ids], steps[ids] = n_events, n_steps
    return filled_samples(out, K), events.cpu(), steps.cpu()


def _leap(lp: _Leaper, x: torch.Tensor, t: torch.Tensor, a: torch.Tensor, wait: torch.Tensor, u2: torch.Tensor,
          retry: torch.Tensor, ssa_left: torch.Tensor, t_ssa: torch.Tensor, timed_ssa: torch.Tensor,
          one_ssa: torch.Tensor, t_event: torch.Tensor | None, grid: torch.Tensor, after: torch.Tensor, t_end: float,
          options: tuple, rng: tuple):
    """One iteration for a batch in which some rows choose between a leap and exact steps (CGP steps 1-5).

    Returns ``ssa`` (rows taking an exact step: in their exact-step phase, or with ``tau' < ssa_factor
    / a_0``), the step's end time, whether a timed event ends it, the one reaction fired singly (the
    exact step's, or a leap's critical one), the leap's change ``dx`` ``(S, B)`` without that single
    firing, ``(the leap's Poisson firings, whether a critical reaction fires)``, the rejected leaps
    (a count would go negative) and the halved ``tau'`` they retry with. ``wait`` is the Exp(1)
    draw of slot 0 (the exact step's ``-ln u1``, the critical wait ``tau'' = wait / a_0c``) and
    ``u2`` the uniform of slot 1 (the reaction chosen).
    """
    eps, n_c, factor = options[:3]
    inf = math.inf
    a0 = a.cumsum(0)[-1]  # as the caller's: the same rounding in every batch
    crit = lp.critical(x, a, n_c)
    tau_p = torch.where(retry < inf, retry, lp.tau_prime(x, torch.where(crit, 0.0, a), eps))
    ssa = (ssa_left > 0) | (tau_p * a0 < factor)  # tau' < ssa_factor / a_0 (a_0 = 0: an exact step, to t = inf)
    ccs = torch.where(crit, a, 0.0).cumsum(0)
    tau_c = wait / ccs[-1]  # tau'' ~ Exp(a_0c); inf when no reaction is critical
    g_next = after[torch.searchsorted(grid, t, right=True)]  # the first grid time after t (inf past the end)
    h = torch.where(a0 > 0, g_next - t, inf)
    tau_nc = torch.minimum(tau_p, h)
    if t_event is not None:
        tau_nc = torch.minimum(tau_nc, t_event - t)
    fire_c = tau_c <= tau_nc
    tau = torch.where(fire_c, tau_c, tau_nc)
    t_leap = torch.where(~fire_c & (h <= tau_nc), g_next, t + tau)  # a capped leap ends exactly on the grid
    timed = timed_ssa
    if t_event is not None:
        timed_leap = ~fire_c & (t_event - t <= tau_nc)
        t_leap = torch.where(timed_leap, t_event, t_leap)
        timed = torch.where(ssa, timed_ssa, timed_leap)
    t_new = torch.where(ssa, t_ssa, t_leap)
    leap = ~ssa & (t_new <= t_end)
    lam = torch.where(leap & ~crit & (a > 0), a * torch.where(leap, tau, 0.0), 0.0)
    fired = _leap_counts(lam, *rng)  # (R, B)
    one = torch.where(ssa, one_ssa, (ccs[:-1] < u2 * ccs[-1]).sum(0))
    dx = lp.nu @ fired
    fire_one = leap & fire_c & ~timed
    rejected = leap & (x + dx + lp.nu.index_select(1, one) * fire_one < 0).any(0)
    return ssa, t_new, timed, one, dx, (fired.sum(0), leap & fire_c), rejected, tau_nc * 0.5


def _leap_counts(lam: torch.Tensor, keys: torch.Tensor, draws: _Draws, j: int, v: torch.Tensor) -> torch.Tensor:
    """``(R, B)`` Poisson counts of means ``lam``; element ``(r, b)`` takes draw ``s`` from slot ``2 + s R + r``
    of iteration ``j`` of trajectory ``b`` (``v``: this iteration's slot values for draws 0, 1, 2)."""
    R, B = lam.shape
    flat = lam.reshape(-1)
    if not bool((flat > 0).any()):
        return torch.zeros_like(lam)
    j_t = torch.tensor(j, dtype=torch.int64, device=lam.device)

    def uniform(s: int, rows: torch.Tensor) -> torch.Tensor:
        slot = 2 + s * R + torch.div(rows, B, rounding_mode="floor")
        vs = v[slot] if s <= 2 else draws.v(j_t, slot)
        return _unit(_hash32(keys[rows % B] ^ vs))

    return sample_poisson(flat, uniform).view(R, B)
