"""The chemical master equation solved exactly on a truncated state space.

    dP(n, t)/dt = sum_mu [ a_mu(n - nu_mu) P(n - nu_mu, t) - a_mu(n) P(n, t) ],   i.e.  dp/dt = Q p,

over the states reachable from the initial one with every count at most ``max_counts``
(Gillespie 1977; van Kampen, *Stochastic Processes in Physics and Chemistry*, ch. V). Then
``p(t) = expm(Q t) p(0)`` (``scipy.linalg.expm`` for small spaces, ``expm_multiply`` beyond).
In ``transient`` probability that would leave the box is lost, and that lost mass bounds the
truncation error; ``stationary`` drops the transitions out of the box (a reflecting boundary)
and solves ``Q p = 0``, which is close to the truth when the box holds nearly all the mass.
These are the exact references that the simulator is tested against.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from engine.errors import ConfigError
from ssa.reaction_network import Network, check_counts

_DENSE_LIMIT = 3000  # states; beyond this expm_multiply on the sparse generator


def reachable_states(network: Network, max_counts: Sequence[int], initial: Sequence[int] | None = None) -> np.ndarray:
    """States reachable from ``initial`` inside the box ``0 <= n_i <= max_counts[i]``: ``(N, S)``, BFS order."""
    start = tuple(int(c) for c in (network.initial if initial is None else initial))
    check_counts(network, start)
    box = np.asarray(max_counts, dtype=np.int64)
    if box.shape != (network.num_species,) or (box < 0).any():
        raise ConfigError(f"max_counts must give one non-negative bound per species {list(network.species)}")
    if any(s > b for s, b in zip(start, box)):
        raise ConfigError(f"initial state {list(start)} lies outside the box max_counts={box.tolist()}; raise the "
                          "bounds (network.reference.cme_max_counts in tools/simulate.py), or set cme=false")
    _, _, change = network.matrices()
    seen, queue = {start: 0}, deque([start])
    while queue:
        n = queue.popleft()
        a = network.propensities(n)
        for mu in np.nonzero(a > 0)[0]:
            m = tuple(int(v) for v in np.asarray(n) + change[mu])
            if m not in seen and all(0 <= v <= b for v, b in zip(m, box)):
                seen[m] = len(seen)
                queue.append(m)
    return np.array(list(seen), dtype=np.int64)


def generator(network: Network, states: np.ndarray, leak: bool) -> scipy.sparse.csc_matrix:
    """``Q`` with ``Q[j, i]`` = rate from state ``i`` to ``j``; the diagonal is minus the outflow
    (all of it when ``leak``, only the part that stays in ``states`` otherwise)."""
    index = {tuple(s): i for i, s in enumerate(states)}
    _, _, change = network.matrices()
    a = network.propensities(states)  # (N, R)
    rows, cols, vals = [], [], []
    out = np.zeros(len(states))
    for i, s in enumerate(states):
        for mu in np.nonzero(a[i] > 0)[0]:
            j = index.get(tuple(s + change[mu]))
            if j is not None:
                rows.append(j)
                cols.append(i)
                vals.append(a[i, mu])
            if j is not None or leak:
                out[i] += a[i, mu]
    n = len(states)
    q = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n, n)) - scipy.sparse.diags(out)
    return q.tocsc()


def transient(network: Network, max_counts: Sequence[int], times: Sequence[float],
              initial: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(states (N, S), p (len(times), N))``: the exact distribution at each time from ``initial``."""
    states = reachable_states(network, max_counts, initial)
    q = generator(network, states, leak=True)
    p0 = np.zeros(len(states))
    p0[0] = 1.0  # BFS starts at the initial state
    if len(states) <= _DENSE_LIMIT:
        dense = q.toarray()
        p = np.stack([scipy.linalg.expm(dense * t) @ p0 for t in times])
    else:
        p = np.stack([scipy.sparse.linalg.expm_multiply(q * t, p0) for t in times])
    return states, p


def stationary(network: Network, max_counts: Sequence[int],
               initial: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(states, p)``: the stationary distribution of the chain restricted to the box."""
    states = reachable_states(network, max_counts, initial)
    q = generator(network, states, leak=False).tolil()
    q[len(states) - 1, :] = 1.0  # replace one balance equation by sum p = 1
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    p = scipy.sparse.linalg.spsolve(q.tocsc(), rhs)
    if not np.all(np.isfinite(p)):
        raise ConfigError(f"network {network.name!r} has no unique stationary distribution in this box "
                          "(an absorbing state, or a box too small)")
    return states, np.clip(p, 0, None) / np.clip(p, 0, None).sum()


def boundary_mass(states: np.ndarray, p: np.ndarray, max_counts: Sequence[int]) -> float:
    """Probability on states where some count sits at its bound: if it is not tiny, the box is too
    small and the truncated answer is wrong near the boundary."""
    return float(p[(states >= np.asarray(max_counts)).any(1)].sum())


def marginal(network: Network, states: np.ndarray, p: np.ndarray, species: str) -> np.ndarray:
    """The distribution of one species' count (index = count) from a joint ``p`` over ``states``."""
    return np.bincount(states[:, network.index(species)], weights=p)
