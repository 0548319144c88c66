"""Shared pieces of :mod:`replica.theory`: input checks, root-finding helpers, the conversions
between forward time and effective noise variance, and the process coefficients.

Conventions (``physics.md``). Forward process ``x_t = a_t x0 + sqrt(D_t) z``; every posterior
quantity depends on ``(x_t, t)`` only through ``y = x_t / a_t`` and the effective noise
variance ``s = D_t / a_t^2``:

* ``process="vp"`` (``mc.VP``, Ornstein-Uhlenbeck ``dx = -x dt + sqrt(2) dW``, the convention of
  Biroli et al. and of Yu & Huang): ``a = e^{-t}``, ``D = 1 - e^{-2t}``, ``s = e^{2t} - 1``;
* ``process="ve"`` (``mc.VE(sigma)``, Brownian): ``a = 1``, ``D = sigma^2 t``, ``s = sigma^2 t``.

``sigma`` is always the parameter of ``mc.VE``: a standard deviation per unit square-root time
(default 1; ignored for VP). It is keyword-only in every function of the package, so that a
variance passed by position cannot be mistaken for it.

Sources: ``physics.md`` (the forward processes); the root-finding tolerances are those of
``scipy.optimize.brentq``.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy.optimize import brentq

from mc._validation import as_float_array
from mc._validation import as_scalar as _scalar  # one scalar check for the project

_PROCESSES = ("vp", "ve")
#: Absolute tolerance of the root finders on log s, log t and similar O(1) variables.
_XTOL = 1e-15
#: Relative tolerance of the root finders (scipy's minimum is 4 eps).
_RTOL = 4.0 * np.finfo(float).eps


# ------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------
def _process(process):
    if isinstance(process, str) and process.lower() in _PROCESSES:
        return process.lower()
    raise ValueError(f"process: expected 'vp' or 've', got {process!r}")


def _sigma(sigma):
    """The standard deviation ``sigma`` of ``mc.VE(sigma)`` (``D_t = sigma^2 t``), checked."""
    return _scalar(sigma, "sigma", positive=True)


def _array(value, name, *, positive=False, nonnegative=False, ndim=None):
    """A non-empty, finite float64 array (``mc._validation.as_float_array``), with the sign checks
    the closed forms need."""
    arr = as_float_array(value, name, ndim=ndim)
    if arr.size == 0:
        raise ValueError(f"{name}: empty")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name}: must be > 0, got {arr[arr <= 0].ravel()[0]}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name}: must be >= 0, got {arr[arr < 0].ravel()[0]}")
    return arr


def _out(values, like):
    """A float for scalar input, an array otherwise."""
    return float(values) if np.ndim(like) == 0 else np.asarray(values, dtype=np.float64)


def _callable(f, name):
    if not callable(f):
        raise ValueError(f"{name}: expected a callable, got {f!r}")
    return f


def _range(pair, name):
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair (low, high), got {pair!r}") from None
    lo = _scalar(lo, name, positive=True)
    hi = _scalar(hi, name, positive=True)
    if not hi > lo:
        raise ValueError(f"{name}: expected low < high, got {pair!r}")
    return lo, hi


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------------
# shared numerics
# ------------------------------------------------------------------------------------------
def _roots_on_grid(f_vec, f_scalar, grid):
    """All roots of ``f`` found as grid zeros and sign changes, refined by Brent's method."""
    vals = f_vec(grid)
    if not np.isfinite(vals).all():
        raise ValueError("posterior_mean: non-finite values on the search grid")
    roots = list(grid[vals == 0.0])
    change = np.flatnonzero(vals[:-1] * vals[1:] < 0)
    for i in change:
        roots.append(brentq(f_scalar, grid[i], grid[i + 1], xtol=1e-300, rtol=_RTOL))
    return np.unique(np.array(roots, dtype=np.float64))


def _sech2(x):
    """``sech^2 x = 4 e / (1 + e)^2``, ``e = exp(-2 |x|)`` (no overflow)."""
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


# ------------------------------------------------------------------------------------------
# time conversions
# ------------------------------------------------------------------------------------------
def s_from_time(t, process="vp", *, sigma=1.0):
    """Effective noise variance ``s = D_t / a_t^2`` of the rescaled state ``y = x_t / a_t``.

    VP: ``s = e^{2t} - 1`` (``expm1``, full precision at small t; ``inf`` beyond t ~ 354);
    VE: ``s = sigma^2 t`` (``physics.md``; ``mc.VE(sigma).s(t)``).

    Parameters
    ----------
    t : float or array, >= 0
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)``, ``D_t = sigma^2 t`` (ignored for VP).

    Examples
    --------
    >>> s_from_time(2.0, "ve", sigma=0.5)
    0.5
    """
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _array(t, "t", nonnegative=True)
    if proc == "vp":
        with np.errstate(over="ignore"):
            s = np.expm1(2.0 * tt)
    else:
        s = sd * sd * tt
    return _out(s, t)


def time_from_s(s, process="vp", *, sigma=1.0):
    """Forward time at which ``D_t / a_t^2 = s``: VP ``t = (1/2) log(1 + s)``, VE ``t = s / sigma^2``.

    Parameters
    ----------
    s : float or array, >= 0
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)``, ``D_t = sigma^2 t`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    ss = _array(s, "s", nonnegative=True)
    t = 0.5 * np.log1p(ss) if proc == "vp" else ss / (sd * sd)
    return _out(t, s)


def _coefficients(t, process, sigma):
    """``(a, D, s)`` arrays for times ``t >= 0`` (``sigma``: that of ``mc.VE``)."""
    s = np.asarray(s_from_time(t, process, sigma=sigma), dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    if process == "vp":
        a = np.exp(-tt)
        D = -np.expm1(-2.0 * tt)
    else:
        a = np.ones_like(tt)
        D = sigma * sigma * tt
    return a, D, s
