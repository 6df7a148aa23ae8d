"""Gillespie's direct method for a :class:`~ssa.kinetic_model.KineticModel`: any rate law, rules, events.

Method: D. T. Gillespie, J. Phys. Chem. 81, 2340 (1977); post: Su Jianlin, kexue.fm/archives/5607.
Each step of each trajectory draws ``u1, u2`` from its own stream (as :mod:`ssa.gillespie` does:
the same trajectory whatever the batch, chunk or worker) and sets

    a = a(x, t),   a_0 = sum_mu a_mu,   tau = -ln(u1) / a_0,   mu = min{mu : sum_{nu <= mu} a_nu > u2 a_0}.

Events (SBML events without delay) are handled exactly:

* a timed event at ``T`` (trigger ``t >= T``) that comes before ``t + tau`` fires at ``T`` instead of
  the reaction; the reaction's draw is dropped, which is exact because waiting times are memoryless
  and the propensities do not depend on time between events;
* a state event fires when its trigger turns from false to true, which can only happen when the
  state changes: it is checked after every reaction and every event.

The rate laws are evaluated for the whole batch at once (one column per trajectory), on CPU or GPU.
Rate laws that depend on time are refused by the importer (the direct method needs propensities
that are constant between events).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from engine.devices import select_device
from engine.errors import ConfigError, as_int
from ssa.gillespie import (
    _CHECK_EVERY,
    _CHUNK_NUMBERS,
    SimulationError,
    Trajectories,
    _block,
    _grid_index,
    _Streams,
    _threads_for,
    check_grid,
    filled_samples,
    simulate,
    still_running,
)
from ssa.kinetic_model import KineticModel
from ssa.reaction_network import Network


def initial_amounts(model: KineticModel, initial, n: int) -> torch.Tensor:
    """``(S, n)`` float64 amounts from ``None`` (the model's), one state ``(S,)`` or one per trajectory ``(n, S)``."""
    x0 = torch.as_tensor(model.initial if initial is None else initial, dtype=torch.float64)
    if x0.ndim == 1:
        x0 = x0.expand(n, -1)
    if x0.shape != (n, model.num_species):
        raise ConfigError(f"initial states have shape {tuple(x0.shape)}; expected ({model.num_species},) or "
                          f"({n}, {model.num_species}) for species {list(model.species)}")
    if not (torch.isfinite(x0).all() and (x0 >= 0).all() and (x0 == x0.round()).all()):
        raise ConfigError(f"initial amounts of {list(model.species)} must be non-negative integers")
    return x0.T.contiguous()


def simulate_direct(model: KineticModel | Network, times, num_trajectories: int = 1, seed: int = 0, initial=None,
                    device: str | torch.device = "cpu", first_id: int = 0, chunk_size: int | None = None,
                    max_events: int = 10**7, progress: bool = False) -> Trajectories:
    """Sample ``num_trajectories`` exact trajectories of ``model`` at ``times`` (same contract as
    :func:`ssa.gillespie.simulate`: trajectory ``b`` uses stream ``(seed, first_id + b)``; the sample at
    ``g`` is the state after every reaction and event at times ``<= g``; ``events`` counts reactions).
    A mass-action :class:`~ssa.reaction_network.Network` runs :func:`ssa.gillespie.simulate` (its compiled kernel)."""
    if isinstance(model, Network):
        return simulate(model, times, num_trajectories, seed=seed, initial=initial, device=device, first_id=first_id,
                        chunk_size=chunk_size, max_events=max_events, progress=progress)
    n = as_int("num_trajectories", num_trajectories, 1)
    first_id = as_int("first_id", first_id, 0, 2**32 - n + 1)
    seed, max_events = as_int("seed", seed), as_int("max_events", max_events, 1)
    grid = check_grid(times)
    even_tol = (2.0**-22 if torch.as_tensor(times).dtype == torch.float32 else 1e-12) * grid.abs().max().item()
    device = select_device(device, key="device")
    K, S = grid.numel(), model.num_species
    x0 = initial_amounts(model, initial, n)
    counts = torch.empty(n, K, S, dtype=torch.int64)
    events = torch.empty(n, dtype=torch.int64)
    if chunk_size is None:
        chunk_size = max(1024, _CHUNK_NUMBERS // ((K + 1) * S))
    chunk_size = as_int("chunk_size", chunk_size, 1, hint="null: automatic")
    bar = tqdm(total=n * K, desc=f"simulate {model.name}", unit="samples", disable=not progress, leave=False)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        with _threads_for(device, stop - start):
            times_out, counts[start:stop], events[start:stop] = _chunk(
                model, grid, even_tol, x0[:, start:stop], seed, first_id + start, device, bar, max_events)
    bar.close()
    return Trajectories(model, times_out, counts, events, int(seed), int(first_id))


MAX_CASCADE = 100  # rounds of state events at one instant before a model is called a loop


class _EventState:
    """Per-trajectory bookkeeping of a model's events: the next timed event, the state triggers' last values."""

    def __init__(self, model: KineticModel, B: int, device) -> None:
        self.model = model
        timed = sorted((ev.at_time, e) for e, ev in enumerate(model.events) if ev.at_time is not None
                       and not (ev.initial_value and ev.at_time <= 0))  # true before t = 0: never turns true
        self.timed_events = [e for _, e in timed]
        self.timed_at = torch.tensor([T for T, _ in timed] + [float("inf")], dtype=torch.float64, device=device)
        self.state_events = [e for e, ev in enumerate(model.events) if ev.at_time is None]
        self.next = torch.zeros(B, dtype=torch.int64, device=device)  # index into timed_at
        initial = [model.events[e].initial_value for e in self.state_events]
        self.last = torch.tensor(initial, dtype=torch.bool, device=device).reshape(-1, 1).expand(-1, B).clone()

    def next_time(self) -> torch.Tensor:
        return self.timed_at[self.next]

    def fire_timed(self, x: torch.Tensor, t: torch.Tensor, rows: torch.Tensor) -> None:
        """Fire, in the ``rows`` whose next timed event is due, that event (in time order)."""
        for i, e in enumerate(self.timed_events):
            due = rows & (self.next == i)
            if bool(due.any()):
                self.model.assign(e, x, t, due)
        self.next += rows

    def fire_state(self, x: torch.Tensor, t: torch.Tensor, live: torch.Tensor) -> None:
        """Fire the state events whose triggers turned true (in ``live`` rows), recording every trigger, and
        again while an event's assignments turn another trigger true at the same instant (a cascade)."""
        for _ in range(MAX_CASCADE):
            fired = False
            for i, e in enumerate(self.state_events):
                now = self.model.trigger(e, x, t)
                rising = now & ~self.last[i] & live
                self.last[i] = now
                if bool(rising.any()):
                    self.model.assign(e, x, t, rising)
                    fired = True
            if not fired:
                return
        raise SimulationError(f"model {self.model.name!r}{self.model._where()}: events kept triggering one another "
                              f"{MAX_CASCADE} times at one instant (t = {t.max().item():.6g}); an event's assignments "
                              "must not keep turning triggers true")

    def keep(self, rows: torch.Tensor) -> None:
        self.next, self.last = self.next[rows], self.last[:, rows]


def _chunk(model, grid, even_tol, x, seed, first_id, device, bar, max_events, trace=False):
    """Simulate the columns of ``x``. A propensity that goes negative, NaN or infinite is flagged per row; at
    the next check the first flagged trajectory is simulated again alone with ``trace`` on, which keeps the
    state it went wrong in for the message (its stream makes it the same trajectory)."""
    dtype = torch.float64
    S, K, B = model.num_species, grid.numel(), x.shape[1]
    change = torch.as_tensor(model.change.T, dtype=dtype, device=device).contiguous()  # (S, R)
    x_start = x
    x = x.to(device).clone()
    ids = torch.arange(B, device=device)
    streams = _Streams(seed, ids + first_id)
    keys = streams.keys
    t = torch.zeros(B, dtype=dtype, device=device)
    grid, index = _grid_index(grid, even_tol)
    t_end = grid[-1].item()
    ev = _EventState(model, B, device) if model.events else None
    if ev is not None:  # events due at t = 0 act on the initial state
        at_start = ev.next_time() <= 0
        ev.fire_timed(x, t, at_start)
        ev.fire_state(x, t, torch.ones(B, dtype=torch.bool, device=device))
    k = index(t)
    out = torch.full((B, K + 1, S), -1.0, dtype=dtype, device=device)  # column K: a sink for rows that cross nothing
    n_events = torch.zeros(B, dtype=torch.int64, device=device)
    events = torch.zeros(B, dtype=torch.int64, device=device)
    bad = torch.zeros(B, dtype=torch.bool, device=device)
    bad_x, bad_t = x.clone(), t.clone()  # with trace: the state when the propensities first went wrong
    j, finished, block = 0, 0, _block(B)
    while True:
        if j % block == 0:
            u = streams.uniforms(keys, j, block, dtype)
        a = model.propensities(x, t)
        cs = a.cumsum(0)
        a0 = cs[-1]
        wrong = ~(a.amin(0) >= 0) | torch.isinf(a0)  # a negative, NaN or infinite propensity
        if trace:
            first = wrong & ~bad
            bad_x, bad_t = torch.where(first, x, bad_x), torch.where(first, t, bad_t)
        bad |= wrong
        t_new = t - torch.log(u[j % block, 0]) / a0
        timed = None
        if ev is not None and ev.timed_events:
            t_event = ev.next_time()
            timed = t_event < t_new  # the event comes first: it fires, the reaction's draw is dropped
            t_new = torch.where(timed, t_event, t_new)
        k_new = index(t_new)
        crossed = k_new > k  # the state before this step is the sample at every grid time in [t, t_new)
        out[ids, torch.where(crossed, k, K)] = x.T
        live = t_new <= t_end
        fired = live if timed is None else live & ~timed
        mu = (cs[:-1] < u[j % block, 1] * a0).sum(0)
        x.addcmul_(change.index_select(1, mu), fired)
        n_events += fired
        if timed is not None:
            ev.fire_timed(x, t_new, timed & live)
        if ev is not None and ev.state_events:
            ev.fire_state(x, t_new, live)
        t, k = t_new, k_new
        j += 1
        if j % _CHECK_EVERY:
            continue
        if bool(bad.any()):
            if trace:
                _report_bad_propensity(model, bad_x[:, bad][:, :1], bad_t[bad][:1])
            b = int(ids[bad][0])
            _chunk(model, grid, even_tol, x_start[:, b:b + 1], seed, first_id + b, device, tqdm(disable=True),
                   max_events, trace=True)
            _report_bad_propensity(model, x[:, bad][:, :1], t[bad][:1])  # (the trace always raises first)
        active, n_active = still_running(f"model {model.name!r}", k, K, t, t_end, j, max_events)
        bar.update(finished * K + int(k.sum()) - bar.n)
        if n_active == 0:
            break
        if n_active < 0.75 * len(k):  # drop finished rows: their random streams are their own
            keep = torch.nonzero(active).squeeze(1)
            finished += len(k) - n_active
            events[ids] = n_events
            x, t, k, keys, ids, n_events = x[:, keep], t[keep], k[keep], keys[keep], ids[keep], n_events[keep]
            bad, bad_x, bad_t = bad[keep], bad_x[:, keep], bad_t[keep]
            if ev is not None:
                ev.keep(keep)
    events[ids] = n_events
    return grid, filled_samples(out, K), events.cpu()


def _report_bad_propensity(model: KineticModel, x: torch.Tensor, t: torch.Tensor) -> None:
    """One line naming a reaction whose propensity is negative, NaN or infinite (in a row flagged since the last check)."""
    a = model.propensities(x, t)[:, 0]
    wrong = torch.nonzero(~((a >= 0) & torch.isfinite(a))).flatten().tolist()
    state = {s: int(v) for s, v in zip(model.species, x[:, 0].tolist())}
    when = f"at t = {t.item():.6g} " if torch.isfinite(t).all() else ""
    what = (f"reaction {model.reaction_names[wrong[0]]!r} has propensity {a[wrong[0]].item():g} {when}in state {state}"
            if wrong else "a reaction's propensity was negative, NaN or infinite")
    raise SimulationError(f"model {model.name!r}{model._where()}: {what}; a rate law must be finite and >= 0 in every "
                          "reachable state (a piecewise needs an otherwise; guard divisions; check the parameters)")
