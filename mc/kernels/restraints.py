"""Log priors with a harmonic restraint on an order parameter (umbrella sampling; Numba).

Umbrella window ``k`` adds the restraint ``R_k(x) = (kappa N / 2) (q(x) - q_k)^2`` to the
posterior energy; for the continuous kernels (``continuous.py``) that is a log prior
``log p0(x) - R_k(x)`` with gradient ``grad log p0(x) - grad R_k(x)``. Two order parameters:

* linear, ``q = x . u / N + c0``: ``grad R_k = kappa (q - q_k) u``;
* squared distance, ``Q = |x - r|^2 / N``: ``grad R_k = 2 kappa (Q - Q_k) (x - r)``.

Every function has the signature of ``priors.py``, ``f(x, params, grad_out) -> log p0(x) - R(x)``,
so the sampler runs them as user priors. ``params = (inner_params, v, restraint)`` with
``inner_params`` the parameter tuple of the unrestrained prior, ``v`` the direction ``u`` (linear)
or the reference ``r`` (distance), and ``restraint = [kappa, q_k, c0]`` (``c0`` unused for the
distance). The wrappers of the built-in mixture priors are module-level functions (compiled once
and cached on disk); :func:`restrained_prior` builds the same wrapper around any other ``@njit``
prior (compiled in each process, not cached).
"""
from __future__ import annotations

from numba import njit

from .priors import gaussian_mixture_diagonal, gaussian_mixture_full

__all__ = [
    "linear_restraint",
    "distance_restraint",
    "linear_gaussian_mixture_diagonal",
    "linear_gaussian_mixture_full",
    "distance_gaussian_mixture_diagonal",
    "distance_gaussian_mixture_full",
    "restrained_prior",
]


@njit(cache=True, inline="always")
def linear_restraint(x, grad_out, u, restraint):
    """Subtract ``kappa (q - q_k) u`` from ``grad_out``; return ``-R = -(kappa N / 2)(q - q_k)^2``
    with ``q = x . u / N + c0`` and ``restraint = [kappa, q_k, c0]``."""
    n = x.size
    acc = 0.0
    for i in range(n):
        acc += x[i] * u[i]
    d = acc / n + restraint[2] - restraint[1]
    kd = restraint[0] * d
    for i in range(n):
        grad_out[i] -= kd * u[i]
    return -0.5 * n * kd * d


@njit(cache=True, inline="always")
def distance_restraint(x, grad_out, r, restraint):
    """Subtract ``2 kappa (Q - Q_k)(x - r)`` from ``grad_out``; return ``-(kappa N / 2)(Q - Q_k)^2``
    with ``Q = |x - r|^2 / N`` and ``restraint = [kappa, Q_k, unused]``."""
    n = x.size
    acc = 0.0
    for i in range(n):
        di = x[i] - r[i]
        acc += di * di
    d = acc / n - restraint[1]
    kd = restraint[0] * d
    for i in range(n):
        grad_out[i] -= 2.0 * kd * (x[i] - r[i])
    return -0.5 * n * kd * d


@njit(cache=True)
def linear_gaussian_mixture_diagonal(x, params, grad_out):
    """``priors.gaussian_mixture_diagonal`` with a linear restraint."""
    inner, u, restraint = params
    lp = gaussian_mixture_diagonal(x, inner, grad_out)
    return lp + linear_restraint(x, grad_out, u, restraint)


@njit(cache=True)
def linear_gaussian_mixture_full(x, params, grad_out):
    """``priors.gaussian_mixture_full`` with a linear restraint."""
    inner, u, restraint = params
    lp = gaussian_mixture_full(x, inner, grad_out)
    return lp + linear_restraint(x, grad_out, u, restraint)


@njit(cache=True)
def distance_gaussian_mixture_diagonal(x, params, grad_out):
    """``priors.gaussian_mixture_diagonal`` with a squared-distance restraint."""
    inner, r, restraint = params
    lp = gaussian_mixture_diagonal(x, inner, grad_out)
    return lp + distance_restraint(x, grad_out, r, restraint)


@njit(cache=True)
def distance_gaussian_mixture_full(x, params, grad_out):
    """``priors.gaussian_mixture_full`` with a squared-distance restraint."""
    inner, r, restraint = params
    lp = gaussian_mixture_full(x, inner, grad_out)
    return lp + distance_restraint(x, grad_out, r, restraint)


_BUILT = {
    (gaussian_mixture_diagonal, "linear"): linear_gaussian_mixture_diagonal,
    (gaussian_mixture_full, "linear"): linear_gaussian_mixture_full,
    (gaussian_mixture_diagonal, "distance"): distance_gaussian_mixture_diagonal,
    (gaussian_mixture_full, "distance"): distance_gaussian_mixture_full,
}


def restrained_prior(log_prior_grad, kind):
    """The restrained version of ``log_prior_grad`` (``kind`` ``"linear"`` or ``"distance"``).

    The built-in mixture priors map to the cached module-level wrappers; any other ``@njit``
    prior gets a wrapper made here (one per prior and kind, kept for the life of the process).
    """
    if kind not in ("linear", "distance"):
        raise ValueError(f"kind: expected 'linear' or 'distance', got {kind!r}")
    key = (log_prior_grad, kind)
    if key not in _BUILT:
        f = log_prior_grad
        if kind == "linear":

            @njit
            def wrapped(x, params, grad_out):
                inner, u, restraint = params
                lp = f(x, inner, grad_out)
                return lp + linear_restraint(x, grad_out, u, restraint)

        else:

            @njit
            def wrapped(x, params, grad_out):
                inner, r, restraint = params
                lp = f(x, inner, grad_out)
                return lp + distance_restraint(x, grad_out, r, restraint)

        _BUILT[key] = wrapped
    return _BUILT[key]
