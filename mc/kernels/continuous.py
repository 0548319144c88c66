"""Gradient-based and random-walk Monte Carlo for continuous posteriors (Numba kernels).

Target of a chain at ladder rung ``k`` (``tempering.py``), ``x in R^N``:

    log pi_k(x) = theta_prior * log p0(x) + theta_lik * phi_lik(x),   phi_lik = -|y - x|^2 / (2 s),

with ``y = x_t / a_t``, ``s = D_t / a_t^2``. The prior enters through a Numba function
``log_prior_grad(x, params, grad_out) -> log p0(x)`` (``priors.py`` has the built-in ones; any
``@njit`` function with that signature works), which also writes ``grad log p0`` into
``grad_out``. ``log p0 = -inf`` (outside the support) is always rejected.

Moves, one per chain per "sweep", step size ``eps[r, k]`` per replica and rung (adapted per
replica, so that a replica's chain does not depend on the others):

* ``RWM``: random-walk Metropolis, ``x' = x + eps xi`` (Metropolis et al. 1953).
* ``MALA``: ``x' = x + (eps^2 / 2) grad log pi(x) + eps xi``, accepted with the
  Metropolis-Hastings ratio including both proposal densities (Roberts & Tweedie 1996).
* ``HMC``: unit mass, ``n_leapfrog`` leapfrog steps of size ``eps``, accepted with
  ``min(1, exp(-Delta H))``, ``H = -log pi + |p|^2 / 2`` (Duane et al. 1987; Neal 2011).

``xi`` and momenta are standard normal from the replica's own xoshiro stream, by the polar
method with both values of each pair used (``rng.normal_local``): the unused second value is
kept in ``spare[r]`` (R,) float64 (NaN when empty) between moves and between calls, so a
replica's numbers depend only on its own seed; the driver checkpoints it with the state. Cached
per chain:
``lp = log p0(x)`` (R, C) and ``gp = grad log p0(x)`` (R, C, N); the likelihood part is recomputed
(O(N)). Acceptance counters ``acc`` / ``att`` are accumulated per rung (R, K).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import load_state, normal_local, store_state, uniform_local
from .draws import record_draw
from .tempering import exchange

__all__ = ["RWM", "MALA", "HMC", "features_continuous", "init_prior_terms", "run_continuous", "draws_continuous"]

RWM, MALA, HMC = 0, 1, 2


@njit(cache=True)
def features_continuous(x, lp, y, inv_s, phi):
    """``phi[r, c] = (log p0(x), -|y - x|^2 / (2 s))``."""
    n_rep, n_chain, n = x.shape
    for r in range(n_rep):
        for c in range(n_chain):
            acc = 0.0
            for i in range(n):
                d = y[i] - x[r, c, i]
                acc += d * d
            phi[r, c, 0] = lp[r, c]
            phi[r, c, 1] = -0.5 * inv_s * acc


# Not cached on disk: numba keys a cached overload on the identity of a function argument, so
# every process misses, appends an entry to the index and can leave it unreadable for the next
# process ("underlying object has vanished"; numba issues #2956, #6251). Compiled once per process.
@njit
def init_prior_terms(log_prior_grad, params, x, lp, gp):
    """Fill the caches ``lp`` and ``gp`` for every chain."""
    n_rep, n_chain, n = x.shape
    for r in range(n_rep):
        for c in range(n_chain):
            lp[r, c] = log_prior_grad(x[r, c], params, gp[r, c])


@njit(cache=True, inline="always")
def _log_target(tp, tl, lp, x, gp, y, inv_s, g):
    """``log pi`` at ``x`` and its gradient into ``g``."""
    lik = 0.0
    for i in range(x.size):
        d = y[i] - x[i]
        lik += d * d
        g[i] = tp * gp[i] + tl * d * inv_s
    return tp * lp - 0.5 * tl * inv_s * lik


# Not cached on disk: numba keys a cached overload on the identity of a function argument, so
# every process misses, appends an entry to the index and can leave it unreadable for the next
# process ("underlying object has vanished"; numba issues #2956, #6251). Compiled once per process.
@njit
def run_continuous(x, lp, gp, log_prior_grad, params, y, inv_s, theta, rung_of, chain_at, method, eps,
                   n_leapfrog, n_sweeps, exchange_every, sweep0, rng, spare, acc, att, phi, ex_att, ex_acc):
    """``n_sweeps`` moves of every chain (``method`` in RWM, MALA, HMC)."""
    n_rep, n_chain, n = x.shape
    xn = np.empty(n)
    gpn = np.empty(n)
    g0 = np.empty(n)
    g1 = np.empty(n)
    mom = np.empty(n)
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            sp = spare[r]
            for c in range(n_chain):
                k = rung_of[r, c]
                tp = theta[k, 0]
                tl = theta[k, 1]
                e = eps[r, k]
                xc = x[r, c]
                gpc = gp[r, c]
                logp0 = _log_target(tp, tl, lp[r, c], xc, gpc, y, inv_s, g0)
                log_ratio = 0.0
                logpn = logp0
                lpn = lp[r, c]
                if method == HMC:
                    kin0 = 0.0
                    for i in range(n):
                        zi, st, sp = normal_local(st, sp)
                        mom[i] = zi
                        kin0 += zi * zi
                        xn[i] = xc[i]
                        g1[i] = g0[i]
                    for step in range(n_leapfrog):
                        for i in range(n):
                            mom[i] += 0.5 * e * g1[i]
                            xn[i] += e * mom[i]
                        lpn = log_prior_grad(xn, params, gpn)
                        if not np.isfinite(lpn):
                            break
                        logpn = _log_target(tp, tl, lpn, xn, gpn, y, inv_s, g1)
                        for i in range(n):
                            mom[i] += 0.5 * e * g1[i]
                    if not np.isfinite(lpn):
                        log_ratio = -np.inf
                    else:
                        kin1 = 0.0
                        for i in range(n):
                            kin1 += mom[i] * mom[i]
                        log_ratio = logpn - logp0 - 0.5 * (kin1 - kin0)
                else:
                    fwd = 0.0
                    for i in range(n):
                        xi, st, sp = normal_local(st, sp)
                        fwd += xi * xi
                        xn[i] = xc[i] + e * xi
                        if method == MALA:
                            xn[i] += 0.5 * e * e * g0[i]
                    lpn = log_prior_grad(xn, params, gpn)
                    if not np.isfinite(lpn):
                        log_ratio = -np.inf
                    else:
                        logpn = _log_target(tp, tl, lpn, xn, gpn, y, inv_s, g1)
                        log_ratio = logpn - logp0
                        if method == MALA:
                            bwd = 0.0
                            for i in range(n):
                                d = xc[i] - xn[i] - 0.5 * e * e * g1[i]
                                bwd += d * d
                            log_ratio += 0.5 * fwd - 0.5 * bwd / (e * e)
                att[r, k] += 1
                accept = log_ratio >= 0.0
                if not accept:
                    u, st = uniform_local(st)
                    accept = u < np.exp(log_ratio)
                if accept:
                    for i in range(n):
                        xc[i] = xn[i]
                        gpc[i] = gpn[i]
                    lp[r, c] = lpn
                    acc[r, k] += 1
            store_state(rng[r], st)
            spare[r] = sp
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_continuous(x, lp, y, inv_s, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)


# Not cached on disk either (a function argument, as run_continuous).
@njit
def draws_continuous(x, lp, gp, log_prior_grad, params, y, inv_s, theta, rung_of, chain_at, method, eps, n_leapfrog,
                     thin, exchange_every, sweep0, rng, spare, acc, att, phi, ex_att, ex_acc, n_draws, d0, rec):
    """``n_draws`` draws of ``thin`` sweeps of :func:`run_continuous`, each recorded by
    ``draws.record_draw`` (see ``mc.kernels.draws``)."""
    n_chain = x.shape[1]
    for j in range(n_draws):
        start = sweep0 + j * thin
        run_continuous(x, lp, gp, log_prior_grad, params, y, inv_s, theta, rung_of, chain_at, method, eps,
                       n_leapfrog, thin, exchange_every, start, rng, spare, acc, att, phi, ex_att, ex_acc)
        if not (n_chain > 1 and (start + thin) % exchange_every == 0):
            features_continuous(x, lp, y, inv_s, phi)
        record_draw(x, chain_at, phi, d0 + j, rec)
