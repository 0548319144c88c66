"""Replica exchange between neighbouring rungs of a tempering ladder (Numba kernel).

Every rung ``k`` has parameters ``theta_k = (theta_prior, theta_lik)`` and its target is

    log pi_k(x) = theta_prior * phi_prior(x) + theta_lik * phi_lik(x),

with ``phi_prior = log p0(x)`` and ``phi_lik = -|y - x|^2 / (2 s)`` (``y = x_t / a_t``,
``s = D_t / a_t^2``; for spins ``phi_lik = h . sigma`` up to a constant). Rung 0 is the posterior,
``theta = (1, 1)``. Two ladders are built from this (``mc.sampler``):

* Hamiltonian tempering ``theta_k = (beta_k, beta_k)``: ``pi_k ~ exp(-beta_k H)``;
* likelihood tempering ``theta_k = (1, l_k)``: from the prior (``l = 0``) to the posterior.

Swapping the configurations at rungs k and k+1 is accepted with probability
``min(1, exp((theta_k - theta_{k+1}) . (phi(x_{k+1}) - phi(x_k))))`` (detailed balance for the
product measure; Swendsen & Wang 1986, Hukushima & Nemoto 1996). Configurations never move in
memory: the kernel swaps the rung labels ``rung_of[r, c]`` and the inverse map ``chain_at[r, k]``.
Neighbour pairs alternate between even and odd ``k`` (deterministic even-odd scheme, Lingenheil
et al. 2009), so one call touches each chain at most once.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import uniform

__all__ = ["exchange"]


@njit(cache=True)
def exchange(phi, theta, chain_at, rung_of, rng, parity, attempts, accepts):
    """One round of neighbour swaps on pairs ``(k, k+1)`` with ``k % 2 == parity``.

    phi : (R, C, 2) features of every chain; theta : (K, 2) rung parameters (K == C);
    chain_at : (R, K) int64, chain sitting at rung k; rung_of : (R, C) int64, its inverse;
    rng : (R, 4) uint64, one stream per replica; attempts, accepts : (R, K - 1) int64 counters.
    """
    n_rep, n_rung = chain_at.shape
    for r in range(n_rep):
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
