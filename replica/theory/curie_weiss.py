"""The Curie-Weiss posterior: the diffused spin prior as a Curie-Weiss model in a random field.

Holds: the random field ``h = a_t x_t / D_t`` that a noisy state puts on the spins
(:func:`curie_weiss_field`), the large-N magnetisation with its ``1/N`` correction
(:func:`curie_weiss_magnetisation`, :class:`CurieWeissSolutions`) and the critical inverse
temperature (:func:`curie_weiss_critical_beta`). The mean-field exponents of its equation of
state are fitted by :func:`replica.theory.critical_exponents`.

Notation: spins ``x0 in {-1, +1}^N`` (so ``|x0|^2 = N``); ``sigma`` is the standard deviation
parameter of ``mc.VE(sigma)`` (``D_t = sigma^2 t``, keyword-only, ignored for VP), never a spin.

Sources
-------
* ``physics.md`` and ``mc.models.ising``: the Hubbard-Stratonovich form of the posterior.
* "derived": worked out for this package (Laplace's method for the ``1/N`` correction, the
  linear stability of ``m = 0`` in random fields); the derivation is in the docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._common import _array, _coefficients, _process, _roots_on_grid, _scalar, _sech2, _sigma

__all__ = [
    "CurieWeissSolutions",
    "curie_weiss_field",
    "curie_weiss_magnetisation",
    "curie_weiss_critical_beta",
]


@dataclass(frozen=True)
class CurieWeissSolutions:
    """Solutions of the Curie-Weiss equation of state ``m = (1/N) sum_i tanh(beta J m + h_i)``.

    Attributes
    ----------
    m : ndarray
        All solutions found, increasing.
    free_energy : ndarray
        ``f(m) = beta J m^2 / 2 - (1/N) sum_i log 2 cosh(beta J m + h_i)`` at each (per spin,
        up to an m-independent constant).
    stable : ndarray of bool
        Local minima of ``f`` (``1 - beta J (1/N) sum_i sech^2(beta J m + h_i) > 0``).
    m_global : float
        The global minimiser of ``f``: the magnetisation of the posterior as ``N -> inf``.
    m_selected : float
        The minimum reached by descending ``f`` from ``m0`` (``m_global`` if ``m0`` is None).
    finite_size_correction : float
        ``c`` in ``m_N = m_global + c / N + O(1/N^2)``, the exact finite-N magnetisation per
        spin (Laplace's method, derived; see :func:`curie_weiss_magnetisation`).
    """

    m: np.ndarray
    free_energy: np.ndarray
    stable: np.ndarray
    m_global: float
    m_selected: float
    finite_size_correction: float


def curie_weiss_field(x_t, t, process="vp", *, sigma=1.0):
    """Random field ``h = a_t x_t / D_t`` of the diffused Curie-Weiss posterior (``physics.md``).

    Since the spins have ``|x0|^2 = N``, the posterior of a spin prior given ``x_t`` is the same
    model in the field ``h = a_t x_t / D_t = y / s`` (add the prior's own field ``b`` if it has
    one).

    Parameters
    ----------
    x_t : array (N,)
    t : float > 0
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _scalar(t, "t", positive=True)
    x = _array(x_t, "x_t")
    a, D, _ = (float(v) for v in _coefficients(tt, proc, sd))
    return a * x / D


def _cw_grid():
    """``[-1, 1]`` uniformly (801 points) plus ``+-`` a geometric grid ``1e-10 .. 1e-2``."""
    geo = np.geomspace(1e-10, 1e-2, 60)
    return np.unique(np.concatenate([np.linspace(-1.0, 1.0, 801), geo, -geo, [0.0]]))


def _log2cosh(x):
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax))


def curie_weiss_magnetisation(h, beta, J=1.0, m0=None):
    """Large-N magnetisation of the Curie-Weiss posterior in a random field ``h``.

    Hubbard-Stratonovich (``physics.md``; derived in ``mc.models.ising``):
    ``Z ~ int du exp(-N f(u))`` with

        f(m) = beta J m^2 / 2 - (1/N) sum_i log 2 cosh(beta J m + h_i),

    so as ``N -> inf`` the magnetisation per spin is the global minimiser of ``f``; its
    stationary points solve ``m = (1/N) sum_i tanh(beta J m + h_i)``. All solutions in
    ``[-1, 1]`` are found on a grid (uniform plus geometric near 0), refined by Brent's method;
    pairs of roots closer than the grid spacing ``2.5e-3`` (at a spinodal) can be missed.

    Finite N (derived, Laplace's method). The exact magnetisation per spin is
    ``m_N = E_u[g(u)]``, ``g(u) = (1/N) sum_i tanh(beta J u + h_i)``, under the weight
    ``exp(N phi(u))``, ``phi = -f``. Expanding about the maximum ``u* = m_global``:
    ``E[g] = g + (1/N) [-g'' / (2 phi'') + g' phi''' / (2 phi''^2)] + O(1/N^2)`` with
    ``phi'' = beta J (g' - 1)`` and ``phi''' = beta J g''``, which simplifies to

        m_N = m_global + c / N + O(1/N^2),
        c = g'' / (2 beta J (1 - g')^2)
          = -beta J <sech^2 a tanh a> / (1 - beta J <sech^2 a>)^2,   a_i = beta J m + h_i,

    (``<.>`` the average over sites), valid away from the critical point (``g' -> 1``) and
    from phase coexistence (two minima of ``f`` within ``O(1/N)``).

    Parameters
    ----------
    h : array (N,)
        Fields ``h_i`` (:func:`curie_weiss_field`, plus the prior's field).
    beta : float >= 0
    J : float >= 0
        Ferromagnetic coupling (the Hubbard-Stratonovich form needs ``J >= 0``).
    m0 : float in [-1, 1], optional
        Start of a descent of ``f``: selects the local minimum it reaches (``m_selected``).

    Returns
    -------
    CurieWeissSolutions
    """
    hh = _array(h, "h", ndim=1)
    beta = _scalar(beta, "beta", nonnegative=True)
    J = _scalar(J, "J", nonnegative=True)
    if m0 is not None:
        m0 = _scalar(m0, "m0")
        if not -1.0 <= m0 <= 1.0:
            raise ValueError(f"m0: must lie in [-1, 1], got {m0}")
    bj = beta * J
    if bj == 0.0:
        m = float(np.mean(np.tanh(hh)))
        return CurieWeissSolutions(np.array([m]), np.array([-float(np.mean(_log2cosh(hh)))]),
                                   np.array([True]), m, m, 0.0)
    chunk = max(1, (1 << 22) // hh.size)

    def residual_vec(m):
        out = np.empty(m.size)
        for start in range(0, m.size, chunk):
            mm = m[start:start + chunk]
            out[start:start + chunk] = np.tanh(bj * mm[:, None] + hh).mean(axis=1) - mm
        return out

    def residual(m):
        return float(np.tanh(bj * m + hh).mean()) - m

    roots = _roots_on_grid(residual_vec, residual, _cw_grid())
    fe = np.array([0.5 * bj * m * m - float(np.mean(_log2cosh(bj * m + hh))) for m in roots])
    curv = np.array([1.0 - bj * float(np.mean(_sech2(bj * m + hh))) for m in roots])
    stable = curv > 0
    cand = np.flatnonzero(stable) if stable.any() else np.arange(roots.size)
    m_global = float(roots[cand[np.argmin(fe[cand])]])
    if m0 is None:
        m_sel = m_global
    else:
        r0 = residual(m0)
        if r0 > 0:
            above = roots[roots > m0]
            m_sel = float(above[0]) if above.size else float(roots[-1])
        elif r0 < 0:
            below = roots[roots < m0]
            m_sel = float(below[-1]) if below.size else float(roots[0])
        else:
            m_sel = float(roots[np.argmin(np.abs(roots - m0))])
    a = bj * m_global + hh
    sech2 = _sech2(a)
    correction = -bj * float(np.mean(sech2 * np.tanh(a))) / (1.0 - bj * float(np.mean(sech2))) ** 2
    return CurieWeissSolutions(roots, fe, stable, m_global, m_sel, correction)


def curie_weiss_critical_beta(J=1.0, h=None):
    """Largest ``beta`` below which ``m = (1/N) sum_i tanh(beta J m + h_i)`` has only one solution, numerically.

    Bisection in ``log beta`` on the number of solutions found by
    :func:`curie_weiss_magnetisation` (its geometric grid resolves the new roots near 0, which
    grow like ``sqrt(beta - beta_c)``, down to ``1e-10``). Expected: ``1/J`` at zero field
    (``h = 0``, the default, one spin suffices); for symmetric random fields
    ``beta_c J E sech^2 h = 1`` (derived: linear stability of ``m = 0``).

    Parameters
    ----------
    J : float > 0
    h : array (N,), optional
        Random fields (default ``[0]``).
    """
    J = _scalar(J, "J", positive=True)
    hh = np.zeros(1) if h is None else _array(h, "h", ndim=1)

    def several(beta):
        return curie_weiss_magnetisation(hh, beta, J).m.size > 1

    lo, hi = math.log(1e-3 / J), math.log(1e3 / J)
    if several(math.exp(lo)) or not several(math.exp(hi)):
        raise ValueError("h: the number of solutions does not change on beta J in [1e-3, 1e3]")
    while hi - lo > 1e-13:
        mid = 0.5 * (lo + hi)
        if several(math.exp(mid)):
            hi = mid
        else:
            lo = mid
    return math.exp(0.5 * (lo + hi))
