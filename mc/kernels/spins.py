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
* dense ``beta W`` (float64, or float32 when the model's couplings are float32 numbers, see
  ``run_dense``): the vector ``lf = (beta W) sigma`` is kept per chain in float64, updated in O(N)
  only on accepted flips (the diagonal is subtracted when reading ``f``) and recomputed from
  scratch every ``refresh_every`` sweeps; the chains of a replica visit the same sites in
  lockstep, so that one read of a row of ``beta W`` serves every chain that flips that site;
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
    "DENSE_REFRESH_SWEEPS",
]

#: Default period, in sweeps, of the from-scratch recomputation of the dense local fields
#: (``run_dense``): at most 1000 N flips of a chain between two, so the fields stay within
#: 1001 N u sum_i |w_ij| of ``w @ sigma``; one recomputation costs about one pass over ``w`` per
#: replica, against 1000 sweeps of K N attempts.
DENSE_REFRESH_SWEEPS = 1000


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
    """``lf[r, c] = w @ spins[r, c]`` in float64, for symmetric ``w`` (float64 or float32).

    Computed as ``sum_i spins[r, c, i] w[i, :]`` (rows of ``w``, by symmetry equal to its columns),
    one pass over ``w`` for all chains of a replica. Each ``lf[r, c, j]`` is a float64 sum, in
    order ``i = 0 .. N-1``, of the N exact terms ``+-w[i, j]`` (a float32 ``w`` converts exactly),
    so ``|lf - w @ s| <= (N - 1) u sum_i |w_ij|`` with ``u = 2^-53`` (Higham 2002, eq. 4.4).
    """
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            for j in range(n):
                lf[r, c, j] = 0.0
        for i in range(n):
            row = w[i]
            for c in range(n_chain):
                field = lf[r, c]
                if spins[r, c, i] > 0:
                    for j in range(n):
                        field[j] += row[j]
                else:
                    for j in range(n):
                        field[j] -= row[j]


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
def run_dense(spins, lf, w, b, h, theta, rung_of, chain_at, n_sweeps, heat_bath, random_order, exchange_every,
              sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc, refresh_every=DENSE_REFRESH_SWEEPS):
    """Sweeps with dense symmetric couplings ``w = beta W``; ``lf = w @ sigma`` kept up to date.

    Memory traffic. At large N a sweep is bound by memory, not arithmetic: an accepted flip of
    spin i adds ``2 sigma_i w[i, :]`` to the N local fields, reading one row of ``w`` (8 N bytes,
    or 4 N for a float32 ``w``) that is rarely in cache (the matrix is 8 N^2 bytes). Two things
    cut the bytes per accepted flip:

    * the chains of a replica (its K rungs) sweep in lockstep: at each step every chain attempts
      the same site i (in order, or one uniform draw shared by the K chains), so a row fetched
      for one chain's flip is still in cache for the others' (K rows of local fields, 8 N K
      bytes, stay in cache). The site sequence does not depend on the state, so each chain, and
      the product of the K chains, keeps its invariant law exactly (each site update leaves
      every chain's target invariant whatever the other chains do). Only the order in which the
      replica's random numbers are used changes (one site, then the K chains' uniforms); with
      one rung this is the order of a chain swept alone;
    * ``w`` may be float32 (the kernel is compiled for either dtype). The model is then the one
      with these float32 couplings (``IsingPrior(couplings_dtype="float32")``, whose energy and
      enumeration use the same numbers), so nothing is approximated in the law; the local
      fields are still accumulated in float64, where ``+-2 w_ij`` is exact.

    Accuracy of the local fields (same argument for both dtypes). Each update of ``lf[j]`` adds
    an exact term and rounds once, an error of at most ``u |lf[j]| <= u R_j``, ``u = 2^-53``,
    ``R_j = sum_i |w_ij|``; a from-scratch computation (``local_fields_dense``) is within
    ``(N - 1) u R_j``. With ``refresh_every = P > 0`` the fields of every chain are recomputed
    after each sweep whose global count ``sweep0 + s`` is a multiple of P (at most P N flips of a
    chain in between), so at all times

        |lf[j] - (w sigma)_j| <= (P + 1) N u R_j,

    e.g. 1e-7 for P = 1000, N = 10^4 and SK at beta J = 1 (``R_j ~ 0.8 sqrt(N)``); rounding
    errors of random sign grow like the square root instead. The decisions use ``f`` through
    ``exp``, so this is a relative error of the same size in a flip probability. The schedule
    depends on the global sweep count only, so a run cut into calls equals one long call.
    The default period is ``DENSE_REFRESH_SWEEPS``; ``refresh_every = 0``: never recomputed.
    """
    n_rep, n_chain, n = spins.shape
    tps = np.empty(n_chain)
    tls = np.empty(n_chain)
    ks_ = np.empty(n_chain, dtype=np.int64)
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                ks_[c] = k
                tps[c] = theta[k, 0]
                tls[c] = theta[k, 1]
            for step in range(n):
                i = step
                if random_order:
                    i, st = randbelow_local(st, n)
                row = w[i]
                wii = np.float64(row[i])
                bi = b[i]
                hi = h[i]
                for c in range(n_chain):
                    s = spins[r, c]
                    field = lf[r, c]
                    si = s[i]
                    f = tps[c] * (field[i] - wii * si + bi) + tls[c] * hi
                    new, st = _update(si, f, heat_bath, st)
                    if new != si:
                        s[i] = new
                        if new > 0:
                            for j in range(n):
                                field[j] += 2.0 * row[j]
                        else:
                            for j in range(n):
                                field[j] -= 2.0 * row[j]
                        flips[r, ks_[c]] += 1
            for c in range(n_chain):
                sweeps_at[r, ks_[c]] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if refresh_every > 0 and done % refresh_every == 0:
            local_fields_dense(spins, w, lf)
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
