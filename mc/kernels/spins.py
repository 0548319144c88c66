"""Single-spin-flip Monte Carlo sweeps for Ising-type posteriors (Numba kernels).

Target of a chain at ladder rung ``k`` (``tempering.py``), spins ``sigma in {-1, +1}^N``:

    log pi_k(sigma) = theta_prior * [(1/2) sigma^T (beta W) sigma + b . sigma] + theta_lik * h . sigma,

with ``h = y / s`` the random field of the quenched noisy state (``mc.models.ising``). The
effective local field of site i is ``f_i = theta_prior * (sum_{j != i} beta W_ij sigma_j + b_i)
+ theta_lik * h_i``, and flipping ``sigma_i`` changes ``log pi`` by ``-2 sigma_i f_i``.

Update rules (``heat_bath`` flag):

* Metropolis: flip with probability ``min(1, exp(-2 sigma_i f_i))`` (Metropolis et al. 1953);
  ``exp`` is evaluated only for uphill moves.
* Heat bath (Glauber): set ``sigma_i = +1`` with probability ``1 / (1 + exp(-2 f_i))``.

Site order (``random_order`` flag): sequential ``i = 0..N-1``, or N uniformly random sites per
sweep. Both leave the target invariant (sequential scans satisfy balance, not detailed balance).

Couplings come in three storage forms, each with its incremental local field:

* Curie-Weiss, ``beta W_ij = jn = beta J / N`` for ``i != j``: ``f`` from the running
  magnetisation ``M``, O(1) per attempt;
* dense ``beta W``: the vector ``lf = (beta W) sigma`` is kept per chain and updated in O(N)
  only on accepted flips (the diagonal is subtracted when reading ``f``);
* sparse neighbour lists (CSR ``indptr, indices, weights`` of ``beta W``, no self-loops; lattice
  Ising and Edwards-Anderson priors): ``f`` summed over the neighbours, O(degree) per attempt.

Arrays: ``spins`` (R, C, N) int8 for R replicas of C = K chains each; ``rung_of`` / ``chain_at``
(R, C) int64; ``rng`` (R, 4) uint64 (replica r uses only row r, so a replica's chain does not
depend on R; the row is held in local variables during the replica's sweep, ``rng.load_state``);
counters ``flips`` and ``sweeps_at`` (R, K) are accumulated per rung, exchange
counters (R, K - 1). ``sweep0`` is the number of sweeps done before this call (it sets the
parity of the exchange rounds, so a run cut into calls equals one long call).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import load_state, randbelow_local, store_state, uniform_local
from .tempering import exchange

__all__ = [
    "run_curie_weiss",
    "run_dense",
    "run_sparse",
    "features_curie_weiss",
    "features_dense",
    "features_sparse",
    "local_fields_dense",
]


@njit(cache=True, inline="always")
def _update(si, f, heat_bath, st):
    """New value of a spin of value ``si`` in effective local field ``f``, and the state tuple."""
    if heat_bath:
        u, st = uniform_local(st)
        if u * (1.0 + np.exp(-2.0 * f)) < 1.0:
            return np.int8(1), st
        return np.int8(-1), st
    d = -2.0 * si * f
    if d >= 0.0:
        return np.int8(-si), st
    u, st = uniform_local(st)
    if u < np.exp(d):
        return np.int8(-si), st
    return np.int8(si), st


@njit(cache=True)
def features_curie_weiss(spins, mag, jn, b, h, phi):
    """``phi[r, c] = ((jn/2)(M^2 - N) + b . sigma, h . sigma)`` for every chain."""
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            pb = 0.0
            ph = 0.0
            for i in range(n):
                pb += b[i] * s[i]
                ph += h[i] * s[i]
            m = float(mag[r, c])
            phi[r, c, 0] = 0.5 * jn * (m * m - n) + pb
            phi[r, c, 1] = ph


@njit(cache=True)
def run_curie_weiss(spins, mag, jn, b, h, theta, rung_of, chain_at, n_sweeps, heat_bath, random_order,
                    exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """``n_sweeps`` sweeps of every chain with Curie-Weiss couplings (``jn = beta J / N``)."""
    n_rep, n_chain, n = spins.shape
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                tp = theta[k, 0]
                tl = theta[k, 1]
                s = spins[r, c]
                m = mag[r, c]
                nf = 0
                for step in range(n):
                    i = step
                    if random_order:
                        i, st = randbelow_local(st, n)
                    si = s[i]
                    f = tp * (jn * (m - si) + b[i]) + tl * h[i]
                    new, st = _update(si, f, heat_bath, st)
                    if new != si:
                        s[i] = new
                        m += 2 * new
                        nf += 1
                mag[r, c] = m
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_curie_weiss(spins, mag, jn, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)


@njit(cache=True)
def local_fields_dense(spins, w, lf):
    """``lf[r, c] = w @ spins[r, c]`` (float64)."""
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            for i in range(n):
                acc = 0.0
                row = w[i]
                for j in range(n):
                    acc += row[j] * s[j]
                lf[r, c, i] = acc


@njit(cache=True)
def features_dense(spins, lf, b, h, phi):
    """``phi[r, c] = ((1/2) sigma . lf + b . sigma, h . sigma)`` (``lf = beta W sigma``)."""
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            pw = 0.0
            pb = 0.0
            ph = 0.0
            for i in range(n):
                pw += s[i] * lf[r, c, i]
                pb += b[i] * s[i]
                ph += h[i] * s[i]
            phi[r, c, 0] = 0.5 * pw + pb
            phi[r, c, 1] = ph


@njit(cache=True)
def run_dense(spins, lf, w, b, h, theta, rung_of, chain_at, n_sweeps, heat_bath, random_order,
              exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """Sweeps with dense symmetric couplings ``w = beta W``; ``lf = w @ sigma`` kept up to date."""
    n_rep, n_chain, n = spins.shape
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                tp = theta[k, 0]
                tl = theta[k, 1]
                s = spins[r, c]
                field = lf[r, c]
                nf = 0
                for step in range(n):
                    i = step
                    if random_order:
                        i, st = randbelow_local(st, n)
                    si = s[i]
                    f = tp * (field[i] - w[i, i] * si + b[i]) + tl * h[i]
                    new, st = _update(si, f, heat_bath, st)
                    if new != si:
                        s[i] = new
                        d = 2.0 * new
                        row = w[i]
                        for j in range(n):
                            field[j] += d * row[j]
                        nf += 1
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_dense(spins, lf, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)


@njit(cache=True)
def features_sparse(spins, indptr, indices, weights, b, h, phi):
    """``phi[r, c] = ((1/2) sigma^T (beta W) sigma + b . sigma, h . sigma)`` from neighbour lists."""
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            pw = 0.0
            pb = 0.0
            ph = 0.0
            for i in range(n):
                acc = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    acc += weights[p] * s[indices[p]]
                pw += s[i] * acc
                pb += b[i] * s[i]
                ph += h[i] * s[i]
            phi[r, c, 0] = 0.5 * pw + pb
            phi[r, c, 1] = ph


@njit(cache=True)
def run_sparse(spins, indptr, indices, weights, b, h, theta, rung_of, chain_at, n_sweeps, heat_bath,
               random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """Sweeps with sparse couplings (CSR neighbour lists of ``beta W``, no self-loops)."""
    n_rep, n_chain, n = spins.shape
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                tp = theta[k, 0]
                tl = theta[k, 1]
                s = spins[r, c]
                nf = 0
                for step in range(n):
                    i = step
                    if random_order:
                        i, st = randbelow_local(st, n)
                    si = s[i]
                    acc = 0.0
                    for p in range(indptr[i], indptr[i + 1]):
                        acc += weights[p] * s[indices[p]]
                    f = tp * (acc + b[i]) + tl * h[i]
                    new, st = _update(si, f, heat_bath, st)
                    if new != si:
                        s[i] = new
                        nf += 1
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_sparse(spins, indptr, indices, weights, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
