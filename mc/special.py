"""Logarithms and ratios of modified Bessel functions of the first kind, stable at any scale.

The hypersphere prior needs ``I_nu(x)`` for orders ``nu = d/2`` with ``d`` in the thousands and
arguments ``x`` (the von Mises-Fisher concentration) from 0 to 1e8 and beyond. There
``I_nu(x)`` itself overflows (large ``x``) or underflows (large ``nu``, small ``x``);
``scipy.special.ive`` underflows too (e.g. ``nu = 500``, ``x = 1``) and returns NaN for
``x >~ 1e12``. The logarithm and the ratio ``I_nu / I_{nu-1}`` are well behaved.

Methods (each chosen where it is accurate to a few units in the last place):

* power series, DLMF 10.25.2 (A&S 9.6.10), for ``x**2 / 4 <= nu + 1``:
  ``I_nu(x) = (x/2)**nu / Gamma(nu + 1) * sum_k (x**2/4)**k / (k! (nu + 1)_k)``.
  All terms are positive and the k-th is at most ``1/k!``, so 26 terms reach full precision;
* ``scipy.special.ive`` (Amos) on the bounded set ``sqrt(nu**2 + x**2) < 50`` that remains;
* the uniform (Debye) asymptotic expansion for large order, A&S 9.7.7 / DLMF 10.41.3, elsewhere:
  with ``h = sqrt(nu**2 + x**2)`` and ``p = nu / h``,
  ``I_nu(x) = exp(h - nu asinh(nu / x)) / sqrt(2 pi h) * sum_k u_k(p) / nu**k``.
  The polynomials ``u_k`` come from the recurrence A&S 9.3.10 / DLMF 10.41.9,
  ``u_{k+1}(p) = p**2 (1 - p**2) u_k'(p) / 2 + (1/8) int_0^p (1 - 5 t**2) u_k(t) dt``,
  evaluated exactly in rational arithmetic at import. Since ``u_k(p)`` is divisible by ``p**k``,
  ``u_k(p) / nu**k = v_k(p) / h**k`` with the polynomial ``v_k(p) = u_k(p) / p**k``: the
  expansion is asymptotic in ``1 / h`` uniformly in ``nu >= 0`` (at ``nu = 0`` it is Hankel's
  large-argument expansion, A&S 9.7.1). With 13 terms and ``h >= 50`` the truncation error is
  below 1e-17.

The ratio ``I_nu(x) / I_{nu-1}(x)`` uses Gauss's continued fraction (DLMF section 10.33;
Gautschi & Slavik 1978, Math. Comp. 32, 865)
``x / (2 nu + x**2 / (2 (nu + 1) + x**2 / (2 (nu + 2) + ...)))`` for ``x <= nu + 50``, evaluated
backward over 130 levels (a backward recurrence is stable: an error in the tail is damped by the
square of each ratio, which is below 0.42 once the order exceeds ``x``), and the difference of
the two Debye expansions, rearranged so that no large terms cancel, for larger ``x``.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import special as _sp

from ._validation import as_float_array

__all__ = [
    "log_bessel_iv",
    "log_bessel_ive",
    "bessel_ratio",
    "bessel_ratio_complement",
    "log_sphere_mgf",
]

#: Debye expansion used where sqrt(nu^2 + x^2) >= _DEBYE_MIN_H (see module docstring).
_DEBYE_MIN_H = 50.0
#: Number of Debye correction terms u_1 .. u_K.
_DEBYE_TERMS = 12
#: Power series terms (the k-th term is below 1/k! where the series is used).
_SERIES_TERMS = 26
#: Continued fraction for the ratio: used for x <= nu + _CF_MARGIN, with _CF_DEPTH levels.
_CF_MARGIN = 50.0
_CF_DEPTH = 130
_LOG_2PI = float(np.log(2.0 * np.pi))


def _debye_coefficients(n_terms):
    """Coefficients of ``v_k(p) = u_k(p) / p**k`` for k = 0..n_terms, ascending powers of p.

    ``u_k`` from A&S 9.3.10 (exact rational arithmetic); ``u_k`` has degree ``3k`` and lowest
    power ``p**k``, so ``v_k`` is a polynomial of degree ``2k``.
    """
    polys = [[Fraction(1)]]
    for _ in range(n_terms):
        u = polys[-1]
        nxt = [Fraction(0)] * (len(u) + 3)
        for i, c in enumerate(u):
            # p^2 (1 - p^2) / 2 * d/dp (c p^i)
            if i:
                nxt[i + 1] += Fraction(i, 2) * c
                nxt[i + 3] -= Fraction(i, 2) * c
            # (1/8) int_0^p (1 - 5 t^2) c t^i dt
            nxt[i + 1] += c / (8 * (i + 1))
            nxt[i + 3] -= 5 * c / (8 * (i + 3))
        polys.append(nxt)
    out = []
    for k, u in enumerate(polys):
        assert all(c == 0 for c in u[:k])
        out.append(np.array([float(c) for c in u[k:]]))
    return out


_V = _debye_coefficients(_DEBYE_TERMS)


# ---------------------------------------------------------------------------------------------
# input handling


def _prepare(nu, x, *, nu_min, nu_text, names=("nu", "x")):
    """Validate and broadcast (order, argument); return flat copies and the shape."""
    nu_name, x_name = names
    nu_arr = as_float_array(nu, nu_name, allow_nonfinite=True)
    x_arr = as_float_array(x, x_name, allow_nonfinite=True)
    if not np.isfinite(nu_arr).all():
        raise ValueError(f"{nu_name}: must be finite")
    if (nu_arr < nu_min).any():
        bad = nu_arr[nu_arr < nu_min].ravel()[0]
        raise ValueError(f"{nu_name}: must be >= {nu_text}, got {bad}")
    if np.isnan(x_arr).any():
        raise ValueError(f"{x_name}: contains NaN")
    if (x_arr < 0).any():
        raise ValueError(f"{x_name}: must be >= 0, got {x_arr[x_arr < 0].ravel()[0]}")
    try:
        nu_b, x_b = np.broadcast_arrays(nu_arr, x_arr)
    except ValueError:
        raise ValueError(
            f"{x_name}: shape {x_arr.shape} does not broadcast with {nu_name} {nu_arr.shape}"
        ) from None
    return nu_b.ravel().copy(), x_b.ravel().copy(), nu_b.shape


def _finish(out, shape):
    return out.reshape(shape)[()]


# ---------------------------------------------------------------------------------------------
# building blocks on flat arrays (no validation)


def _asinh_ratio(nu, x):
    """``asinh(nu / x)`` for x > 0 without overflow of ``nu / x``."""
    h = np.hypot(nu, x)
    big = nu > x
    out = np.empty_like(nu)
    out[big] = np.log(nu[big] + h[big]) - np.log(x[big])
    out[~big] = np.arcsinh(nu[~big] / x[~big])
    return out


def _debye_tail(nu, h):
    """``sum_{k>=1} v_k(p) / h**k`` with ``p = nu / h``: the A&S 9.7.7 correction series minus 1.

    Returned without its leading 1 so that differences of two such sums keep full precision.
    """
    p = nu / h
    inv_h = 1.0 / h
    total = np.zeros_like(h)
    for coef in reversed(_V[1:]):
        vk = np.zeros_like(p)
        for c in coef[::-1]:
            vk = vk * p + c
        total = (total + vk) * inv_h
    return total


def _debye_log_ive(nu, x):
    """``log(I_nu(x) e^{-x})`` by the uniform expansion; needs ``x > 0``, ``hypot(nu, x)`` large.

    ``log I_nu(x) - x = nu^2 / (h + x) - nu asinh(nu / x) - log(2 pi h) / 2 + log S`` where
    ``h - x = nu^2 / (h + x)`` avoids cancellation (derived from A&S 9.7.7).
    """
    h = np.hypot(nu, x)
    return (
        nu * (nu / (h + x))
        - nu * _asinh_ratio(nu, x)
        - 0.5 * (_LOG_2PI + np.log(h))
        + np.log1p(_debye_tail(nu, h))
    )


def _series_log_iv(nu, x):
    """``log I_nu(x)`` from the power series; needs ``0 < x`` and ``x**2 / 4 <= nu + 1``."""
    return nu * np.log(0.5 * x) - _sp.gammaln(nu + 1.0) + np.log1p(_series_tail(nu, x))


def _series_tail(nu, x):
    """``sum_{k>=1} (x^2/4)^k / (k! (nu+1)_k)``, i.e. ``0F1(; nu+1; x^2/4) - 1``.

    Summed from the smallest term up; for ``x^2/4 <= nu + 1`` the k-th term is below ``1/k!``.
    """
    q = (0.5 * x) ** 2
    terms = []
    term = np.ones_like(x)
    for k in range(1, _SERIES_TERMS + 1):
        term = term * (q / (k * (nu + k)))
        terms.append(term)
    total = np.zeros_like(x)
    for term in reversed(terms):
        total = total + term
    return total


def _log_iv_flat(nu, x, scaled):
    """``log I_nu(x)`` (``scaled=False``) or ``log I_nu(x) - x`` (``scaled=True``) on flat arrays.

    The branch that is computed without the ``e^{-x}`` factor (the series) adds nothing, the
    others add ``x`` back only when ``scaled`` is false, so small logarithms keep their digits.
    """
    out = np.empty_like(x)
    zero = x == 0
    out[zero] = np.where(nu[zero] == 0, 0.0, np.where(nu[zero] < 0, np.inf, -np.inf))  # I_nu(0): 1, 0, inf
    inf = np.isposinf(x)
    out[inf] = -np.inf if scaled else np.inf
    pos = ~zero & ~inf
    series = pos & (0.25 * x * x <= nu + 1.0)
    xs = x[series]
    out[series] = _series_log_iv(nu[series], xs) - (xs if scaled else 0.0)
    rest = pos & ~series
    debye = rest & (np.hypot(nu, x) >= _DEBYE_MIN_H)
    amos = rest & ~debye  # nu < 50 and 2 sqrt(nu + 1) < x < 50: ive is a normal number here
    # -1/2 <= nu < 0: I_nu = I_|nu| + (2/pi) sin(|nu| pi) K_|nu|, and K / I ~ e^{-2x} < 1e-43 here
    out[debye] = _debye_log_ive(np.abs(nu[debye]), x[debye])
    out[amos] = np.log(_sp.ive(nu[amos], x[amos]))
    if not scaled:
        out[rest] += x[rest]
    return out


def _cf_ratio(nu, x):
    """``I_nu / I_{nu-1}`` by the backward continued fraction; ``x > 0``, ``x <= nu + 50``."""
    t = np.zeros_like(x)  # t_k = x * I_{nu+k} / I_{nu+k-1}
    for k in range(_CF_DEPTH, 0, -1):
        t = x * (x / (2.0 * (nu + k) + t))
    return x / (2.0 * nu + t)


def _debye_log_ratio(nu, x):
    """``log(I_nu(x) / I_{nu-1}(x))`` from two Debye expansions, for ``x > 50``.

    With ``a = nu``, ``b = |nu - 1|`` (the expansion depends on the order only through its
    square; for ``-1/2 < nu - 1 < 0`` the neglected ``K`` term is ``O(e^{-2x})``),
    ``h_a = hypot(a, x)``, ``h_b = hypot(b, x)`` and ``a^2 - b^2 = 2 nu - 1`` (derived):

    ``log R = (2nu-1)/(h_a + h_b) - (a - b) asinh(a/x) - b asinh((2nu-1)/(a h_b + b h_a))
    - log1p((2nu-1)/h_b^2)/4 + log(S_a / S_b)``,
    with ``S = 1 + tail`` and ``log(S_a / S_b) = log1p((tail_a - tail_b) / S_b)``,

    using ``asinh A - asinh B = asinh(A sqrt(1+B^2) - B sqrt(1+A^2))``. Every term is O(1) or
    smaller, so the result has an absolute error of a few ulps.
    """
    a = nu
    b = np.abs(nu - 1.0)
    diff2 = 2.0 * nu - 1.0
    h_a = np.hypot(a, x)
    h_b = np.hypot(b, x)
    tail_a = _debye_tail(a, h_a)
    tail_b = _debye_tail(b, h_b)
    return (
        diff2 / (h_a + h_b)
        - (a - b) * _asinh_ratio(a, x)
        - b * np.arcsinh(diff2 / (a * h_b + b * h_a))
        - 0.25 * np.log1p((diff2 / h_b) / h_b)
        + np.log1p((tail_a - tail_b) / (1.0 + tail_b))
    )


def _ratio_flat(nu, x, complement):
    out = np.empty_like(x)
    zero = x == 0
    out[zero] = 1.0 if complement else 0.0
    inf = np.isposinf(x)
    out[inf] = 0.0 if complement else 1.0
    pos = ~zero & ~inf
    half = pos & (nu == 0.5)  # I_{1/2} / I_{-1/2} = tanh x (DLMF 10.39.1)
    xh = x[half]
    if complement:
        e = np.exp(-2.0 * xh)
        out[half] = 2.0 * e / (1.0 + e)
    else:
        out[half] = np.tanh(xh)
    pos &= ~half
    cf = pos & (x <= nu + _CF_MARGIN)
    r = _cf_ratio(nu[cf], x[cf])
    out[cf] = 1.0 - r if complement else r
    debye = pos & ~cf
    lr = _debye_log_ratio(nu[debye], x[debye])
    out[debye] = -np.expm1(lr) if complement else np.exp(lr)
    return out


# ---------------------------------------------------------------------------------------------
# public functions


def log_bessel_ive(nu, x):
    """Logarithm of the exponentially scaled Bessel function, ``log(I_nu(x) e^{-x})``.

    Parameters
    ----------
    nu : array_like, >= -1/2
        Order.
    x : array_like, >= 0 (``inf`` allowed)
        Argument; broadcast against ``nu``.

    Returns
    -------
    float or ndarray
        ``log I_nu(x) - x``; ``0`` at ``nu = x = 0``, ``-inf`` at ``x = 0 < nu`` and at
        ``x = inf``. Methods: see the module docstring (power series, ``scipy.special.ive``,
        uniform expansion A&S 9.7.7).
    """
    nu_f, x_f, shape = _prepare(nu, x, nu_min=-0.5, nu_text="-1/2")
    return _finish(_log_iv_flat(nu_f, x_f, scaled=True), shape)


def log_bessel_iv(nu, x):
    """``log I_nu(x)`` for ``nu >= -1/2``, ``x >= 0``, vectorised, without overflow or underflow.

    ``I_nu`` is the modified Bessel function of the first kind (A&S 9.6.3). The relative
    error is a few 1e-16, at most ~2e-14 where the logarithm is a small difference of large
    terms (e.g. ``nu = 99.5``, ``x = 70``). Methods: power series for ``x**2 <= 4 (nu + 1)``,
    ``scipy.special.ive`` where both ``nu`` and ``x`` are below 50, and the uniform
    asymptotic (Debye) expansion for large order, A&S 9.7.7 / DLMF 10.41.3, elsewhere.

    >>> float(log_bessel_iv(500.0, 1.0))  # I_500(1) ~ 1e-1284: ive underflows, this does not
    -2957.90...
    """
    nu_f, x_f, shape = _prepare(nu, x, nu_min=-0.5, nu_text="-1/2")
    return _finish(_log_iv_flat(nu_f, x_f, scaled=False), shape)


def bessel_ratio(nu, x):
    """``I_nu(x) / I_{nu-1}(x)`` for ``nu >= 1/2`` and ``x >= 0``, relative error ~1e-15.

    This is the mean resultant length ``A_d(kappa) = bessel_ratio(d/2, kappa)`` of the von
    Mises-Fisher law on ``S^{d-1}``. Limits: ``x / (2 nu)`` as ``x -> 0`` (exact 0 at 0),
    ``1 - (2 nu - 1) / (2 x)`` as ``x -> inf``. Methods: Gauss's continued fraction
    ``x / (2 nu + x^2 / (2 (nu+1) + x^2 / (2 (nu+2) + ...)))`` (DLMF section 10.33; it is the
    recurrence ``I_{nu-1} - I_{nu+1} = (2 nu / x) I_nu``, DLMF 10.29.1, iterated) for
    ``x <= nu + 50``, ``tanh x`` at ``nu = 1/2`` (DLMF 10.39.1), and the difference of two
    uniform expansions (A&S 9.7.7) otherwise.
    """
    nu_f, x_f, shape = _prepare(nu, x, nu_min=0.5, nu_text="1/2")
    return _finish(_ratio_flat(nu_f, x_f, complement=False), shape)


def bessel_ratio_complement(nu, x):
    """``1 - I_nu(x) / I_{nu-1}(x)``, accurate in relative terms even when it is tiny.

    For large ``x`` the ratio tends to 1 and ``1 - bessel_ratio`` would lose digits; here the
    Debye branch returns ``-expm1(log ratio)`` (see ``bessel_ratio`` for the methods). The
    hypersphere posterior uses it for ``tr Cov = r^2 (1 - A^2) = r^2 (1 - A)(1 + A)``.
    """
    nu_f, x_f, shape = _prepare(nu, x, nu_min=0.5, nu_text="1/2")
    return _finish(_ratio_flat(nu_f, x_f, complement=True), shape)


def log_sphere_mgf(dim, kappa, *, scaled=False):
    """``log E[exp(kappa t)]``, ``t`` the first coordinate of a uniform point on ``S^{dim-1}``.

    ``E[exp(kappa t)] = Gamma(dim/2) (kappa/2)^{1 - dim/2} I_{dim/2 - 1}(kappa)
    = 0F1(; dim/2; kappa^2 / 4)``: the normalising constant of the von Mises-Fisher law relative
    to the uniform measure (Mardia & Jupp 2000, Directional Statistics, section 9.3). It is 0
    at ``kappa = 0``.

    For ``kappa^2 / 4 <= dim / 2`` the hypergeometric series (positive terms) is summed directly,
    so no large logarithms cancel near ``kappa = 0``; elsewhere
    ``lgamma(dim/2) - (dim/2 - 1) log(kappa/2) + log I_{dim/2-1}(kappa)``.

    Parameters
    ----------
    dim : array_like, >= 2
        Dimension of the ambient space of the sphere ``S^{dim-1}``.
    kappa : array_like, >= 0
    scaled : bool
        Return ``log E[exp(kappa t)] - kappa`` (``<= 0``), without the cancellation that
        subtracting ``kappa`` afterwards would cause at large ``kappa``.
    """
    dim_arr = as_float_array(dim, "dim", allow_nonfinite=True)
    if not np.isfinite(dim_arr).all() or (dim_arr < 2).any():
        raise ValueError("dim: must be finite and >= 2")
    nu_f, x_f, shape = _prepare(
        dim_arr / 2.0 - 1.0, kappa, nu_min=0.0, nu_text="0", names=("dim", "kappa")
    )
    out = np.empty_like(x_f)
    zero = x_f == 0
    out[zero] = 0.0
    inf = np.isposinf(x_f)
    out[inf] = -np.inf if scaled else np.inf
    pos = ~zero & ~inf
    series = pos & (0.25 * x_f * x_f <= nu_f + 1.0)
    x_s = x_f[series]
    out[series] = np.log1p(_series_tail(nu_f[series], x_s)) - (x_s if scaled else 0.0)
    rest = pos & ~series
    nu_r, x_r = nu_f[rest], x_f[rest]
    val = _sp.gammaln(nu_r + 1.0) - nu_r * np.log(0.5 * x_r) + _log_iv_flat(nu_r, x_r, True)
    out[rest] = val if scaled else val + x_r
    return _finish(out, shape)
