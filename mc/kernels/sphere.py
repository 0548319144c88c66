"""Metropolis on a sphere for the hypersphere prior (Numba kernel).

The prior is uniform on ``{r B^T w : |w| = 1}`` (``mc.models.hypersphere``), so on the support
``|x0|^2 = r^2`` and the target of a chain at rung ``k`` is, up to a constant,

    log pi_k(w) = theta_lik * g . w,   g = r B y / s

(the von Mises-Fisher law with ``kappa = |g|``; both ladders of ``tempering.py`` scale ``g``,
since ``log p0`` is constant on the sphere). Features: ``phi = (0, -|y - x0|^2 / (2 s))`` with
``-|y - x0|^2 / (2 s) = g . w - (|y|^2 + r^2) / (2 s)``; the constant is added by the driver.

Move: ``w' = (w + eps xi) / |w + eps xi|`` with ``xi`` standard normal in R^d. The law of ``w'``
given ``w`` depends only on the angle between them (rotation invariance of ``xi``), so the
proposal is symmetric and the Metropolis ratio is the target ratio alone (derived). The state is
renormalised at every accepted move, so it stays on the sphere to rounding.

Normals by the polar method with both values of each pair used; the spare value is kept per
replica in ``spare`` (R,) float64, NaN when empty (``mc.kernels.continuous``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import load_state, normal_local, store_state, uniform_local
from .tempering import exchange

__all__ = ["features_sphere", "run_sphere"]


@njit(cache=True)
def features_sphere(w, g, phi):
    """``phi[r, c] = (0, g . w)``."""
    n_rep, n_chain, d = w.shape
    for r in range(n_rep):
        for c in range(n_chain):
            acc = 0.0
            for i in range(d):
                acc += g[i] * w[r, c, i]
            phi[r, c, 0] = 0.0
            phi[r, c, 1] = acc


@njit(cache=True)
def run_sphere(w, g, theta, rung_of, chain_at, eps, n_sweeps, exchange_every, sweep0, rng, spare, acc, att,
               phi, ex_att, ex_acc):
    """``n_sweeps`` normalised random-walk moves of every chain on the unit sphere S^{d-1}."""
    n_rep, n_chain, d = w.shape
    wn = np.empty(d)
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            sp = spare[r]
            for c in range(n_chain):
                k = rung_of[r, c]
                tl = theta[k, 1]
                e = eps[r, k]
                wc = w[r, c]
                norm2 = 0.0
                for i in range(d):
                    xi, st, sp = normal_local(st, sp)
                    wn[i] = wc[i] + e * xi
                    norm2 += wn[i] * wn[i]
                inv = 1.0 / np.sqrt(norm2)
                delta = 0.0
                for i in range(d):
                    wn[i] *= inv
                    delta += g[i] * (wn[i] - wc[i])
                log_ratio = tl * delta
                att[r, k] += 1
                accept = log_ratio >= 0.0
                if not accept:
                    u, st = uniform_local(st)
                    accept = u < np.exp(log_ratio)
                if accept:
                    for i in range(d):
                        wc[i] = wn[i]
                    acc[r, k] += 1
            store_state(rng[r], st)
            spare[r] = sp
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_sphere(w, g, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
