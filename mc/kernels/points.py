"""Metropolis over the points of a finite data set (Numba kernel).

For the empirical prior ``p0 = sum_mu w_mu delta(x0 - y^mu)`` the posterior is a law on the
indices ``mu`` (``mc.models.dataset``). Chain state: an index. Target at rung ``k``:
``log pi_k(mu) = theta_prior * log w_mu + theta_lik * phi_lik(mu)``, ``phi_lik(mu) =
-|y - y^mu|^2 / (2 s)`` (precomputed, O(n N) once). Proposal: a uniformly random index
(symmetric, independent of the current one), accepted with the target ratio. A check of the
exact softmax weights, and the discrete state space the umbrella and exchange machinery runs on.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import randbelow, uniform
from .tempering import exchange

__all__ = ["features_points", "run_points"]


@njit(cache=True)
def features_points(idx, log_w, lik, phi):
    """``phi[r, c] = (log w_mu, phi_lik(mu))`` at the chain's index ``mu``."""
    n_rep, n_chain = idx.shape
    for r in range(n_rep):
        for c in range(n_chain):
            phi[r, c, 0] = log_w[idx[r, c]]
            phi[r, c, 1] = lik[idx[r, c]]


@njit(cache=True)
def run_points(idx, log_w, lik, theta, rung_of, chain_at, n_sweeps, exchange_every, sweep0, rng, acc, att,
               phi, ex_att, ex_acc):
    """``n_sweeps`` independence-Metropolis moves of every chain (one proposal per sweep)."""
    n_rep, n_chain = idx.shape
    n = lik.size
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = rng[r]
            for c in range(n_chain):
                k = rung_of[r, c]
                cur = idx[r, c]
                new = randbelow(st, n)
                d = theta[k, 0] * (log_w[new] - log_w[cur]) + theta[k, 1] * (lik[new] - lik[cur])
                att[r, k] += 1
                if d >= 0.0 or uniform(st) < np.exp(d):
                    idx[r, c] = new
                    acc[r, k] += 1
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_points(idx, log_w, lik, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
