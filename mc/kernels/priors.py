"""Log-prior densities and their gradients for the continuous kernels (Numba).

Signature shared by all: ``f(x, params, grad_out) -> log p0(x)``, writing ``grad log p0(x)`` into
``grad_out``; ``params`` is a tuple of arrays (its layout is documented per function and built by
the model's hook ``numba_log_prior()``, e.g. ``mc.GaussianMixture.numba_log_prior``). A user prior
is any ``@njit`` function with this signature.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["flat", "gaussian_mixture_diagonal", "gaussian_mixture_full"]


@njit(cache=True)
def flat(x, params, grad_out):
    """Improper flat prior: ``log p0 = 0``, gradient 0 (the posterior is the Gaussian likelihood)."""
    for i in range(x.size):
        grad_out[i] = 0.0
    return 0.0


@njit(cache=True)
def _responsibilities(logs):
    """Turn component log densities into responsibilities in place; return their log-sum-exp."""
    top = -np.inf
    for k in range(logs.size):
        if logs[k] > top:
            top = logs[k]
    total = 0.0
    for k in range(logs.size):
        logs[k] = np.exp(logs[k] - top)
        total += logs[k]
    for k in range(logs.size):
        logs[k] /= total
    return top + np.log(total)


@njit(cache=True)
def gaussian_mixture_diagonal(x, params, grad_out):
    """``log sum_k pi_k N(x; mu_k, diag(lambda_k))`` and ``sum_k P(k|x) (mu_k - x) / lambda_k``.

    params = (means (K, N), inv_var (K, N) = 1 / lambda_k, log_coef (K,) =
    log pi_k - (1/2) sum_i log(2 pi lambda_ki), scratch (K,)).
    """
    means, inv_var, log_coef, logs = params
    n_comp, n = means.shape
    for k in range(n_comp):
        q = 0.0
        for i in range(n):
            d = x[i] - means[k, i]
            q += d * d * inv_var[k, i]
        logs[k] = log_coef[k] - 0.5 * q
    log_p = _responsibilities(logs)
    for i in range(n):
        grad_out[i] = 0.0
    for k in range(n_comp):
        w = logs[k]
        for i in range(n):
            grad_out[i] += w * (means[k, i] - x[i]) * inv_var[k, i]
    return log_p


@njit(cache=True)
def gaussian_mixture_full(x, params, grad_out):
    """Mixture with full covariances ``C_k = U_k diag(lambda_k) U_k^T``.

    params = (means (K, N), eigenvectors (K, N, N) (columns), inv_lam (K, N), log_coef (K,),
    scratch_logs (K,), scratch_r (K, N)). With ``r_k = U_k^T (x - mu_k)``:
    ``log N_k = log_coef_k - (1/2) sum r_k^2 / lambda_k`` and the gradient is
    ``-sum_k P(k|x) U_k (r_k / lambda_k)``.
    """
    means, vecs, inv_lam, log_coef, logs, rs = params
    n_comp, n = means.shape
    for k in range(n_comp):
        q = 0.0
        for j in range(n):
            acc = 0.0
            for i in range(n):
                acc += vecs[k, i, j] * (x[i] - means[k, i])
            rs[k, j] = acc * inv_lam[k, j]
            q += acc * acc * inv_lam[k, j]
        logs[k] = log_coef[k] - 0.5 * q
    log_p = _responsibilities(logs)
    for i in range(n):
        grad_out[i] = 0.0
    for k in range(n_comp):
        w = logs[k]
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += vecs[k, i, j] * rs[k, j]
            grad_out[i] -= w * acc
    return log_p
