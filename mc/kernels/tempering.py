"""Replica exchange between neighbouring rungs of a tempering ladder (Numba kernel).

Every rung ``k`` has parameters ``theta_k = (theta_prior, theta_lik)`` and its target is

    log pi_k(x) = theta_prior * phi_prior(x) + theta_lik * phi_lik(x),

with ``phi_prior = log p0(x)`` and ``phi_lik = -|y - x|^2 / (2 s)`` (``y = x_t / a_t``,
``s = D_t / a_t^2``; for spins ``phi_lik = h . sigma`` up to a constant). Rung 0 is the posterior,
``theta = (1, 1)``. Three ladders are built from this (``mc.sampler``):

* Hamiltonian tempering ``theta_k = (beta_k, beta_k)``: ``pi_k ~ exp(-beta_k H)``;
* likelihood tempering ``theta_k = (1, l_k)``: from the prior (``l = 0``) to the posterior;
* adaptive tempering: a Hamiltonian ladder per replica whose ``beta_k`` are tuned during burn-in
  (non-reversible parallel tempering, Syed, Bouchard-Cote, Deligiannidis & Doucet, J. R. Stat.
  Soc. B 84, 321 (2022)); the kernels then run one replica at a time, each with its own ``theta``.

Swapping the configurations at rungs k and k+1 is accepted with probability
``min(1, exp((theta_k - theta_{k+1}) . (phi(x_{k+1}) - phi(x_k))))`` (detailed balance for the
product measure; Swendsen & Wang 1986, Hukushima & Nemoto 1996). Configurations never move in
memory: the kernel swaps the rung labels ``rung_of[r, c]`` and the inverse map ``chain_at[r, k]``.
Neighbour pairs alternate between even and odd ``k`` with the parity set by the number of exchange
rounds done (deterministic even-odd scheme, DEO: Lingenheil et al. 2009; Okabe et al. 2001), so
one call touches each chain at most once. DEO is the non-reversible scheme of Syed et al. 2022:
a configuration that has just moved up keeps moving up until a swap is rejected, so it crosses
the ladder in O(K) rounds rather than the O(K^2) of a random walk (random pair choice).

Round trips. A round trip of a configuration (a chain ``c``, followed through its rung label) is
a visit to rung 0, then to the top rung ``K - 1``, then to rung 0 again (Katzgraber, Trebst, Huse
& Troyer 2006; Syed et al. 2022). The sweep kernels pass the exchange counters
through unchanged, so the bookkeeping travels in the ``attempts`` array: when it has ``2 K``
columns instead of ``K - 1``, columns ``K - 1 .. 2 K - 2`` hold the state of chain ``c`` (-1: not
yet at rung 0; 0: at rung 0 since its last visit to the top; 1: at the top since its last visit
to rung 0) and column ``2 K - 1`` counts completed round trips; ``round_trip_columns(K)`` gives the
width. ``reset_round_trips`` marks every state pending (-2) and the next exchange round starts
the count from where the chains are; a state still pending after exchange rounds means the
sweep kernel that ran them was compiled from an older version of this module (Numba's on-disk
cache does not see changes in the modules a cached function calls), which
``round_trips_counted`` reports.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import uniform

__all__ = ["exchange", "reset_round_trips", "round_trip_columns", "round_trips_counted"]

#: State of a chain before the first exchange round since ``reset_round_trips``.
PENDING = -2


def round_trip_columns(n_rung):
    """Width of an ``attempts`` array that also counts round trips: ``K - 1`` counters, ``K`` chain
    states and one count (``2 K``; 0 for a single rung, which never exchanges)."""
    return 2 * n_rung if n_rung > 1 else 0


@njit(cache=True)
def reset_round_trips(chain_at, attempts):
    """Zero the exchange counters and round-trip counts, and mark the chain states pending."""
    n_rep, n_rung = chain_at.shape
    for r in range(n_rep):
        for j in range(attempts.shape[1]):
            attempts[r, j] = 0
        if attempts.shape[1] >= 2 * n_rung:
            for c in range(n_rung):
                attempts[r, n_rung - 1 + c] = PENDING


def round_trips_counted(attempts, n_rung):
    """Whether the exchange rounds since ``reset_round_trips`` counted round trips: no exchange
    round yet, or chain states that left the pending mark (``attempts`` of one replica's ladder,
    shape (R, 2 K))."""
    att = np.asarray(attempts)
    if n_rung < 2 or att.shape[1] < 2 * n_rung:
        return False
    ran = att[:, : n_rung - 1].sum(axis=1) > 0
    return bool(np.all(~ran | (att[:, n_rung - 1] != PENDING)))


@njit(cache=True)
def exchange(phi, theta, chain_at, rung_of, rng, parity, attempts, accepts):
    """One round of neighbour swaps on pairs ``(k, k+1)`` with ``k % 2 == parity``.

    phi : (R, C, 2) features of every chain; theta : (K, 2) rung parameters (K == C);
    chain_at : (R, K) int64, chain sitting at rung k; rung_of : (R, C) int64, its inverse;
    rng : (R, 4) uint64, one stream per replica; attempts : (R, K - 1) int64 counters, or (R, 2 K)
    with the round-trip bookkeeping of the module notes; accepts : (R, K - 1) int64 counters.
    """
    n_rep, n_rung = chain_at.shape
    track = attempts.shape[1] >= 2 * n_rung
    for r in range(n_rep):
        if track and attempts[r, n_rung - 1] == PENDING:
            # first round since the reset: the chain at rung 0 starts a trip, the others wait
            for c in range(n_rung):
                attempts[r, n_rung - 1 + c] = -1
            attempts[r, n_rung - 1 + chain_at[r, 0]] = 0
        for k in range(parity, n_rung - 1, 2):
            a = chain_at[r, k]
            b = chain_at[r, k + 1]
            d = (theta[k, 0] - theta[k + 1, 0]) * (phi[r, b, 0] - phi[r, a, 0]) + (
                theta[k, 1] - theta[k + 1, 1]
            ) * (phi[r, b, 1] - phi[r, a, 1])
            attempts[r, k] += 1
            if d >= 0.0 or uniform(rng[r]) < np.exp(d):
                chain_at[r, k] = b
                chain_at[r, k + 1] = a
                rung_of[r, a] = k + 1
                rung_of[r, b] = k
                accepts[r, k] += 1
        if track:
            top = n_rung - 1 + chain_at[r, n_rung - 1]
            if attempts[r, top] == 0:
                attempts[r, top] = 1
            bottom = n_rung - 1 + chain_at[r, 0]
            if attempts[r, bottom] == 1:
                attempts[r, 2 * n_rung - 1] += 1
            attempts[r, bottom] = 0
