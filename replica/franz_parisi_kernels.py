"""Array kernels of the Franz-Parisi potentials: Gaussian quadrature nodes, ``log 2 cosh``,
``log I_nu`` and the log density of the noncentral chi-square law, all in log space.

Pure functions of arrays (no objects, no random numbers); the drivers are
:mod:`replica.franz_parisi_potential` and :mod:`replica.franz_parisi_1d`.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, ive

__all__ = [
    "gaussian_nodes",
    "gaussian_step",
    "log2cosh",
    "log_iv",
    "log_ncx2_pdf",
    "log_normal_pdf",
]

#: Half-width (in standard deviations) of the Gaussian quadrature grids: e^{-8.5^2 / 2} ~ 2e-16.
HALF_WIDTH = 8.5
#: Below this value ``ive`` is treated as underflowed and a fallback is used.
_TINY = 1e-280
#: Terms of the power series of I_nu (used where z^2 <= 4 (nu + 1), ratio of terms <= 1 / k).
_SERIES_TERMS = 40
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


def _debye_log_iv(nu, z):
    """Uniform asymptotic (Debye) expansion of ``log I_nu(z)`` for large ``nu > 0``, four terms
    (DLMF 10.41.3 and 10.41.10); relative error of ``I`` about ``nu^-5``."""
    w = z / nu
    root = np.sqrt(1.0 + w * w)
    p = 1.0 / root
    eta = root + np.log(w / (1.0 + root))
    p2 = p * p
    u1 = p * (3.0 - 5.0 * p2) / 24.0
    u2 = p2 * (81.0 - 462.0 * p2 + 385.0 * p2 * p2) / 1152.0
    u3 = p * p2 * (30375.0 - 369603.0 * p2 + 765765.0 * p2**2 - 425425.0 * p2**3) / 414720.0
    u4 = p2 * p2 * (
        4465125.0 - 94121676.0 * p2 + 349922430.0 * p2**2 - 446185740.0 * p2**3 + 185910725.0 * p2**4
    ) / 39813120.0
    series = 1.0 + u1 / nu + u2 / nu**2 + u3 / nu**3 + u4 / nu**4
    return -0.5 * np.log(2.0 * np.pi * nu) + nu * eta - 0.5 * np.log(root) + np.log(series)


def _log_series_sum(nu, y):
    """``log sum_k y^k / (k! (nu + 1)_k)`` for ``0 <= y <= nu + 1`` (terms shrink at least like 1 / k!)."""
    term = np.ones_like(y)
    total = np.ones_like(y)
    for k in range(1, _SERIES_TERMS + 1):
        term = term * y / (k * (nu + k))
        total = total + term
    return np.log(total)


def log_iv(nu, z):
    """``log I_nu(z)`` for ``z > 0`` and real ``nu >= -1/2``, without underflow.

    ``log(ive(nu, z)) + z`` (scipy's exponentially scaled Bessel function) where it is
    representable; where it underflows (``nu`` large, ``z`` small) the power series when
    ``z^2 <= 4 (nu + 1)`` and the Debye expansion otherwise (there ``nu > 300``).
    """
    nu = np.asarray(nu, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    nu, z = np.broadcast_arrays(nu, z)
    with np.errstate(under="ignore", divide="ignore"):
        scaled = ive(nu, z)
    out = np.empty(z.shape)
    good = np.isfinite(scaled) & (scaled > _TINY)
    out[good] = np.log(scaled[good]) + z[good]
    bad = ~good
    if bad.any():
        nb, zb = nu[bad], z[bad]
        y = 0.25 * zb * zb
        series = y <= nb + 1.0
        res = np.empty(zb.shape)
        if series.any():
            ns, ys, zs = nb[series], y[series], zb[series]
            with np.errstate(divide="ignore"):
                res[series] = ns * np.log(0.5 * zs) - gammaln(ns + 1.0) + _log_series_sum(ns, ys)
        if (~series).any():
            res[~series] = _debye_log_iv(nb[~series], zb[~series])
        out[bad] = res
    return out


def log_ncx2_pdf(x, k, lam):
    """Log density of the noncentral chi-square law with ``k`` degrees of freedom and
    noncentrality ``lam`` at ``x >= 0`` (arrays broadcast; ``k`` a positive number).

    ``f(x; k, lam) = (1/2) exp(-(x + lam) / 2) (x / lam)^{nu / 2} I_nu(sqrt(lam x))``,
    ``nu = k / 2 - 1`` (Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions 2,
    ch. 29). The exponent is formed as ``-(sqrt x - sqrt lam)^2 / 2`` together with the scaled
    Bessel function (no cancellation of large terms); where ``I_nu`` underflows the power series
    is used in the form ``nu log(x / 2) - log Gamma(nu + 1) + log sum_j (lam x / 4)^j /
    (j! (nu + 1)_j)`` (which also covers ``lam = 0``, the central law). ``x = 0`` gives
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
        with np.errstate(under="ignore", divide="ignore"):
            scaled = ive(nu, zs)
        good = np.isfinite(scaled) & (scaled > _TINY)
        res = np.empty(zs.shape)
        d = np.sqrt(xs[good]) - np.sqrt(ls[good])
        res[good] = -_LOG2 - 0.5 * d * d + 0.5 * nu * (np.log(xs[good]) - np.log(ls[good])) + np.log(scaled[good])
        bad = ~good
        if bad.any():
            xb, lb, zb = xs[bad], ls[bad], zs[bad]
            y = 0.25 * zb * zb
            series = y <= nu + 1.0
            rb = np.empty(zb.shape)
            if series.any():
                xx, ll, yy = xb[series], lb[series], y[series]
                rb[series] = (-_LOG2 - 0.5 * (xx + ll) + nu * np.log(0.5 * xx) - gammaln(nu + 1.0)
                              + _log_series_sum(nu, yy))
            if (~series).any():
                xx, ll, zz = xb[~series], lb[~series], zb[~series]
                rb[~series] = -_LOG2 - 0.5 * (xx + ll) + 0.5 * nu * (np.log(xx) - np.log(ll)) + _debye_log_iv(nu, zz)
            res[bad] = rb
        out[pos] = res
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
