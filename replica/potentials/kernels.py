"""Array kernels of the Franz-Parisi potentials: Gaussian quadrature nodes, ``log 2 cosh`` and
the log densities of the normal and noncentral chi-square laws, all in log space (Bessel
functions from :mod:`mc.special`).

Pure functions of arrays (no objects, no random numbers); the drivers are
:mod:`replica.potentials.franz_parisi` and :mod:`replica.potentials.yu_huang`.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from mc.special import log_bessel_ive

__all__ = [
    "gaussian_nodes",
    "gaussian_step",
    "log2cosh",
    "log_ncx2_pdf",
    "log_normal_pdf",
]

#: Half-width (in standard deviations) of the Gaussian quadrature grids: e^{-8.5^2 / 2} ~ 2e-16.
HALF_WIDTH = 8.5
_LOG2 = math.log(2.0)
_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_step(pole_distance, accuracy=6.0, max_step=0.25):
    """Trapezoid step for a Gaussian average of a function analytic in the strip
    ``|Im g| < pole_distance`` (in standard-normal units).

    The trapezoid rule on the real line has error ``~ exp(-2 pi d / h)`` for such integrands
    (Trefethen & Weideman, SIAM Rev. 56, 385 (2014)); ``h = d / accuracy`` gives about
    ``exp(-2 pi accuracy)`` (2e-17 for ``accuracy = 6``).
    """
    if not pole_distance > 0:
        return max_step
    return min(max_step, pole_distance / accuracy)


def gaussian_nodes(step, half_width=HALF_WIDTH):
    """Trapezoid nodes ``g`` and weights ``w`` (summing to one) for ``E f(g)``, ``g ~ N(0, 1)``."""
    n = int(math.ceil(half_width / step))
    g = np.arange(-n, n + 1, dtype=np.float64) * step
    w = np.exp(-0.5 * g * g)
    return g, w / w.sum()


def log2cosh(x):
    """``log(2 cosh x) = |x| + log1p(exp(-2 |x|))`` (no overflow)."""
    a = np.abs(x)
    with np.errstate(under="ignore"):
        return a + np.log1p(np.exp(-2.0 * a))


def log_normal_pdf(x, mean, var):
    """``log N(x; mean, var)``."""
    d = x - mean
    return -0.5 * (_LOG_2PI + np.log(var)) - 0.5 * d * d / var


def log_ncx2_pdf(x, k, lam):
    """Log density of the noncentral chi-square law with ``k`` degrees of freedom and
    noncentrality ``lam`` at ``x >= 0`` (arrays broadcast; ``k`` a positive number).

    ``f(x; k, lam) = (1/2) exp(-(x + lam) / 2) (x / lam)^{nu / 2} I_nu(sqrt(lam x))``,
    ``nu = k / 2 - 1`` (Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions 2,
    ch. 29). The exponent is formed as ``-(sqrt x - sqrt lam)^2 / 2`` together with the scaled
    Bessel function ``mc.special.log_bessel_ive`` (no cancellation of large terms, no underflow
    of ``I_nu``); ``lam = 0`` is the central law. ``x = 0`` gives
    ``+inf`` (``k < 2``), ``-log 2`` (``k = 2``) or ``-inf`` (``k > 2``).
    """
    x = np.asarray(x, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    x, lam = np.broadcast_arrays(x, lam)
    k = float(k)
    nu = 0.5 * k - 1.0
    out = np.empty(x.shape)
    z = np.sqrt(lam * x)
    pos = z > 0
    if pos.any():
        xs, ls, zs = x[pos], lam[pos], z[pos]
        d = np.sqrt(xs) - np.sqrt(ls)  # -(x + lam) / 2 + z = -d^2 / 2: the scale e^z is in log_bessel_ive
        out[pos] = -_LOG2 - 0.5 * d * d + 0.5 * nu * (np.log(xs) - np.log(ls)) + log_bessel_ive(nu, zs)
    zero = ~pos  # lam = 0 or x = 0: central law (times exp(-lam / 2))
    if zero.any():
        xz, lz = x[zero], lam[zero]
        central = np.empty(xz.shape)
        inside = xz > 0
        xi = xz[inside]
        central[inside] = nu * np.log(xi) - 0.5 * xi - 0.5 * k * _LOG2 - gammaln(0.5 * k)
        central[~inside] = np.inf if k < 2 else (-_LOG2 if k == 2 else -np.inf)
        out[zero] = central - 0.5 * lz
    return out
