"""Fixed points of the reverse drift, their branching, and mean-field critical exponents.

Holds: closed-form posterior means in ``(y, s)`` variables for two deltas
(:func:`two_deltas_mean`) and the uniform hypersphere (:func:`hypersphere_mean`); the fixed
points ``y = F(y)`` of the reverse drift of any tractable posterior mean, with their stability
(:func:`reverse_drift_fixed_points`, :class:`FixedPoints`), and the point where non-zero fixed
points appear (:func:`branching_s`, :func:`branching_time`); the two-deltas self-consistency
(:func:`two_deltas_fixed_points`, :func:`two_deltas_critical_s`); and fitted critical exponents
of the two-deltas and Curie-Weiss equations of state (:func:`critical_exponents`,
:class:`ExponentFit`, :class:`CriticalExponents`). The mean of the two-class Gaussian mixture,
:func:`replica.theory.mixture_posterior_mean`, lives with the speciation criteria.

Notation: ``y = x_t / a_t``, ``s = D_t / a_t^2``; ``v`` is the vector of the two deltas ``+-v``
(``v_norm2 = |v|^2``); ``sigma`` is the standard deviation parameter of ``mc.VE(sigma)``
(``D_t = sigma^2 t``, keyword-only, ignored for VP).

Sources
-------
* ``physics.md``: the posterior means, the equation of state ``m = tanh(m / s)`` of two deltas
  and its branching at ``s = |v|^2``.
* Mardia & Jupp (2000), "Directional Statistics", 9.3 (von Mises-Fisher mean resultant length);
  DLMF 10.33.1 (Gauss's continued fraction for Bessel ratios).
* "derived": worked out for this package (the VP drift map, the reduction of two deltas to one
  variable, the branching of the hypersphere at ``s = 1``); the derivation is in the docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ive

from ._common import (_RTOL, _array, _callable, _count, _range, _roots_on_grid, _scalar, _sech2, _sigma,
                      time_from_s)
from .curie_weiss import curie_weiss_critical_beta, curie_weiss_magnetisation

__all__ = [
    "two_deltas_mean",
    "hypersphere_mean",
    "FixedPoints",
    "reverse_drift_fixed_points",
    "branching_s",
    "branching_time",
    "two_deltas_fixed_points",
    "two_deltas_critical_s",
    "ExponentFit",
    "CriticalExponents",
    "critical_exponents",
]


# ------------------------------------------------------------------------------------------
# posterior means in (y, s) variables
# ------------------------------------------------------------------------------------------
def two_deltas_mean(y, s, v=1.0):
    """Posterior mean of ``p0 = (1/2) delta(x0 - v) + (1/2) delta(x0 + v)``: ``m = v tanh(v . y / s)``.

    ``y = x_t / a_t``, ``s = D_t / a_t^2`` (``physics.md``, two deltas: ``P(+v | x_t) =
    (1 + tanh g) / 2``, ``g = a v . x_t / D = v . y / s``). In 1D VE with ``v = 1``:
    ``tanh(x / (sigma^2 t))`` (``sigma`` that of ``mc.VE(sigma)``).

    Parameters
    ----------
    y : array
        ``(..., N)`` for a vector ``v``; any shape for a scalar ``v`` (1D, elementwise).
    s : float > 0 (or an array broadcasting with ``y`` for a scalar ``v``)
    v : float or array (N,), non-zero
    """
    vv = _array(v, "v")
    yy = _array(y, "y")
    ss = _array(s, "s", positive=True)
    if not np.any(vv != 0):
        raise ValueError("v: must be non-zero")
    if vv.ndim == 0:
        return float(vv) * np.tanh(float(vv) * yy / ss)
    if vv.ndim != 1 or yy.shape[-1:] != vv.shape:
        raise ValueError(f"y: expected shape (..., {vv.size}) for v of shape {vv.shape}, got {yy.shape}")
    if ss.ndim != 0:
        raise ValueError("s: expected a scalar for a vector v")
    return np.tanh((yy @ vv) / float(ss))[..., None] * vv



def _bessel_ratio(nu, kappa):
    """``A = I_nu(kappa) / I_{nu-1}(kappa)`` (mean resultant length of von Mises-Fisher, ``nu = d/2``).

    ``scipy.special.ive`` ratio where ``ive(nu - 1, kappa)`` is a normal number; elsewhere (small
    ``kappa`` at large ``nu``, where ``ive`` underflows) Gauss's continued fraction
    ``kappa / (2 nu + kappa^2 / (2 (nu + 1) + ...))`` (DLMF 10.33.1 iterated), 60 terms, which
    converges fast for ``kappa << nu``.
    """
    kappa = np.asarray(kappa, dtype=np.float64)
    with np.errstate(under="ignore"):
        num = ive(nu, kappa)
        den = ive(nu - 1.0, kappa)
    good = den > 1e-280
    out = np.where(good, num / np.where(good, den, 1.0), 0.0)
    if not good.all():
        k = kappa[~good]
        tail = np.zeros_like(k)
        for j in range(60, 0, -1):
            tail = k / (2.0 * (nu + j) + k * tail)
        out[~good] = k / (2.0 * nu + k * tail)
    return out


def hypersphere_mean(y, s, radius=None):
    """Posterior mean of the uniform prior on the sphere ``|x0| = r`` in R^N (von Mises-Fisher).

    ``m(y) = r A_N(kappa) y / |y|``, ``kappa = r |y| / s``, ``A_N = I_{N/2} / I_{N/2 - 1}``
    (``physics.md``; Mardia & Jupp 2000, Directional Statistics, 9.3). ``m(0) = 0``. Since
    ``A_N(kappa) = kappa / N + O(kappa^3)`` and ``A_N`` is concave, with ``r^2 = N`` the fixed
    points of ``y = m(y)`` branch at exactly ``s = 1`` for every N (derived), and
    ``q = |y| / sqrt(N) -> sqrt(1 - s)`` as N grows.

    Parameters
    ----------
    y : array (..., N), N >= 2
    s : float > 0
    radius : float > 0, optional
        ``r``, default ``sqrt(N)``.
    """
    yy = _array(y, "y")
    if yy.ndim == 0 or yy.shape[-1] < 2:
        raise ValueError(f"y: expected shape (..., N) with N >= 2, got {yy.shape}")
    s = _scalar(s, "s", positive=True)
    N = yy.shape[-1]
    r = math.sqrt(N) if radius is None else _scalar(radius, "radius", positive=True)
    norm = np.sqrt(np.sum(yy * yy, axis=-1))
    A = _bessel_ratio(0.5 * N, r * norm / s)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(norm[..., None] > 0, yy / norm[..., None], 0.0)
    return (r * A)[..., None] * unit



# ------------------------------------------------------------------------------------------
# fixed points of the reverse drift and their branching
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FixedPoints:
    """Fixed points ``y* = r e`` of the reverse-drift map along a direction ``e``.

    Attributes
    ----------
    roots : ndarray
        ``r`` of every fixed point found, increasing.
    slopes : ndarray
        ``d/dr [e . F(r e)]`` at each root (finite differences).
    stable : ndarray of bool
        ``slopes < 1``: a minimum of the potential along ``e`` (attracting for the reverse
        dynamics along ``e``).
    perpendicular : ndarray
        ``|F(r e) - (e . F(r e)) e|`` at each root: 0 for a fixed point of the full map (by
        symmetry along an axis of the model); non-zero flags a root of the projected equation
        only.
    s : float
    drift : str
    direction : ndarray
    """

    roots: np.ndarray
    slopes: np.ndarray
    stable: np.ndarray
    perpendicular: np.ndarray
    s: float
    drift: str
    direction: np.ndarray

    def nonzero(self, tol):
        """Roots with ``|r| > tol``."""
        return self.roots[np.abs(self.roots) > tol]


def _drift_map(posterior_mean, s, drift):
    """``F(y)``: ``m(y, s)`` (``"ve"``) or ``2 (1 + s) m(y, s) / (2 + s)`` (``"vp"``)."""
    factor = 1.0 if drift == "ve" else 2.0 * (1.0 + s) / (2.0 + s)

    def F(y):
        out = np.asarray(posterior_mean(y, s), dtype=np.float64)
        if out.shape != y.shape:
            raise ValueError(f"posterior_mean: expected output shape {y.shape}, got {out.shape}")
        return factor * out

    return F


def _drift(drift):
    if drift not in ("ve", "vp"):
        raise ValueError(f"drift: expected 've' or 'vp', got {drift!r}")
    return drift


def _radial_grid(r_max, n_grid):
    """``0``, ``+-`` a geometric grid from ``1e-9 r_max`` to ``r_max`` (resolves roots near 0)."""
    geo = np.geomspace(1e-9 * r_max, r_max, n_grid)
    return np.concatenate([-geo[::-1], [0.0], geo])


def _direction(direction, n_dim):
    """The unit vector ``e`` along ``direction`` (default: the first of ``n_dim`` axes)."""
    if direction is not None:
        e = _array(direction, "direction", ndim=1)
        norm = float(np.linalg.norm(e))
        if norm == 0:
            raise ValueError("direction: must be non-zero")
        return e / norm
    n = _count(n_dim, "n_dim", 1)
    e = np.zeros(n)
    e[0] = 1.0
    return e


def _auto_r_max(f_scalar):
    """Smallest power of two ``R >= 1`` with ``f(R) < 0 < f(-R)`` (the map contracts beyond it)."""
    R = 1.0
    for _ in range(60):
        if f_scalar(R) < 0 < f_scalar(-R):
            return 1.5 * R
        R *= 2.0
    raise ValueError("r_max: no radius found beyond which the map contracts; give r_max")


def reverse_drift_fixed_points(posterior_mean, s, *, direction=None, n_dim=1, drift="ve", r_max=None, n_grid=200):
    """Fixed points of the reverse drift along a direction, and their stability.

    For a tractable posterior mean ``m(y, s) = E[x0 | y]`` in VE variables (``y = x_t / a_t``,
    ``s = D_t / a_t^2``) the zeros of the reverse drift are the fixed points ``y = F(y)``
    (``physics.md``: equation of state; derived maps):

    * ``drift="ve"``: ``F = m``. Tweedie's score is ``(a m - x_t) / D = (m - y) / (a s)``, so
      these are the stationary points of ``p_t`` (modes and saddles); their branching is the
      bimodality criterion (:func:`replica.theory.bimodality_time`). This is the VE reverse drift
      ``sigma^2 grad log p_t``.
    * ``drift="vp"``: ``F = 2 (1 + s) m / (2 + s)``: the zeros of the VP reverse-SDE drift
      ``x + 2 grad log p_t`` (``x = a y``, ``D = s / (1 + s)``:
      ``x + 2 (a m - x) / D = a (2/D - 1) [F(y) - y]``), the stationary points of Yu & Huang's
      potential ``U``; their branching is :func:`replica.theory.speciation_time_potential`.

    In both cases the drift is a positive multiple of ``F(y) - y``, so a fixed point is stable
    along ``e`` iff ``dF/dr < 1`` (for a posterior mean ``dm/dy = Cov / s`` is positive
    semi-definite, so this is ``|dF/dr| < 1``).

    Along the unit vector ``e`` (default: the single axis of a 1D model) the projected equation
    ``e . F(r e) = r`` is solved on a grid of ``r`` (0 and ``+-`` a geometric grid from
    ``1e-9 r_max`` to ``r_max``), sign changes refined by Brent's method; ``r_max`` defaults to
    1.5 times the first power of two beyond which ``e . F(r e) - r`` has the sign of ``-r``.
    Roots closer to each other than the grid spacing can be missed (e.g. at a spinodal).

    Parameters
    ----------
    posterior_mean : callable ``m(y, s)``
        ``y`` of shape ``(k, N)`` -> ``(k, N)``.
    s : float > 0, or array of them (a list of results is returned)
    direction : array (N,), optional
    n_dim : int
        N when ``direction`` is not given.
    drift : {"ve", "vp"}
    r_max : float > 0, optional
    n_grid : int
        Geometric grid points on each side.

    Returns
    -------
    FixedPoints, or a list of them for an array ``s``
    """
    fn = _callable(posterior_mean, "posterior_mean")
    drift = _drift(drift)
    e = _direction(direction, n_dim)
    n_grid = _count(n_grid, "n_grid", 3)
    s_arr = _array(s, "s", positive=True)
    if r_max is not None:
        r_max = _scalar(r_max, "r_max", positive=True)
    if s_arr.ndim > 0:
        return [_fixed_points(fn, float(si), e, drift, r_max, n_grid) for si in s_arr.ravel()]
    return _fixed_points(fn, float(s_arr), e, drift, r_max, n_grid)


def _projected(fn, s, e, drift):
    F = _drift_map(fn, s, drift)

    def f_vec(r):
        return F(np.asarray(r, dtype=np.float64)[:, None] * e) @ e - r

    def f_scalar(r):
        return float(f_vec(np.array([r]))[0])

    return F, f_vec, f_scalar


def _fixed_points(fn, s, e, drift, r_max, n_grid):
    F, f_vec, f_scalar = _projected(fn, s, e, drift)
    R = _auto_r_max(f_scalar) if r_max is None else r_max
    roots = _roots_on_grid(f_vec, f_scalar, _radial_grid(R, n_grid))
    delta = 1e-6 * np.maximum(np.abs(roots), 1e-3 * R)
    up = f_vec(roots + delta) + roots + delta
    down = f_vec(roots - delta) + roots - delta
    slopes = (up - down) / (2.0 * delta)
    Fy = F(roots[:, None] * e)
    perp = np.linalg.norm(Fy - (Fy @ e)[:, None] * e, axis=1)
    return FixedPoints(roots, slopes, slopes < 1.0, perp, s, drift, e)


def branching_s(posterior_mean, *, s_range, direction=None, n_dim=1, drift="ve", r_max=None, n_grid=200,
                n_scan=40, rtol=1e-13):
    """Largest ``s`` at which fixed points ``r != 0`` of the reverse drift exist (branching point).

    Scans ``s`` on a geometric grid of ``s_range`` from the top down for the first ``s`` with a
    non-zero fixed point (:func:`reverse_drift_fixed_points`; "non-zero" means
    ``|r| > 1e-9 r_max``, the first grid point), then bisects in ``log s`` to relative
    precision ``rtol``. For a pitchfork the non-zero roots grow like ``sqrt(s_c - s)``, so the
    detection threshold shifts ``s_c`` by ``~1e-18 r_max^2``: negligible. ``r_max`` is fixed at
    its value for the lowest ``s`` of the range (or given), so that all ``s`` share one grid.

    Two deltas ``+-v``: ``s_c = |v|^2`` (:func:`two_deltas_critical_s`); two-class mixture
    ``+-mu`` with ``variance`` (:func:`replica.theory.mixture_posterior_mean`):
    ``s_c = |mu|^2 - variance`` (``drift="ve"``, :func:`replica.theory.bimodality_time`) or
    ``e^{2t} = |mu|^2 + sqrt(|mu|^4 + (variance - 1)^2)`` (``drift="vp"``, Yu & Huang,
    :func:`replica.theory.speciation_time_potential`); hypersphere with ``r^2 = N``:
    ``s_c = 1``.

    Parameters
    ----------
    posterior_mean, direction, n_dim, drift, r_max, n_grid
        As in :func:`reverse_drift_fixed_points`.
    s_range : (float, float)
        ``0 < s_lo < s_hi``; there must be no non-zero fixed point at ``s_hi`` (ValueError
        otherwise).
    n_scan : int
        Scan points.
    rtol : float
        Relative precision of ``s_c``.

    Returns
    -------
    float
        ``s_c``; ``nan`` if no non-zero fixed point exists on the range.
    """
    fn = _callable(posterior_mean, "posterior_mean")
    drift = _drift(drift)
    e = _direction(direction, n_dim)
    s_lo, s_hi = _range(s_range, "s_range")
    n_grid = _count(n_grid, "n_grid", 3)
    n_scan = _count(n_scan, "n_scan", 2)
    rtol = _scalar(rtol, "rtol", positive=True)
    if r_max is None:
        R = _auto_r_max(_projected(fn, s_lo, e, drift)[2])
    else:
        R = _scalar(r_max, "r_max", positive=True)
    grid = _radial_grid(R, n_grid)
    tol = grid[n_grid + 1]

    def has_branch(s):
        _, f_vec, f_scalar = _projected(fn, s, e, drift)
        return bool(np.any(np.abs(_roots_on_grid(f_vec, f_scalar, grid)) > tol))

    scan = np.geomspace(s_hi, s_lo, n_scan)
    if has_branch(scan[0]):
        raise ValueError(f"s_range: non-zero fixed points already exist at s_hi = {s_hi} (raise it)")
    hit = None
    for k in range(1, n_scan):
        if has_branch(scan[k]):
            hit = k
            break
    if hit is None:
        return math.nan
    lo, hi = math.log(scan[hit]), math.log(scan[hit - 1])
    while hi - lo > rtol:
        mid = 0.5 * (lo + hi)
        if has_branch(math.exp(mid)):
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def branching_time(posterior_mean, *, s_range, process="vp", sigma=1.0, **kwargs):
    """:func:`branching_s` converted to a forward time (:func:`replica.theory.time_from_s`).

    VP: ``t_c = (1/2) log(1 + s_c)``; VE: ``t_c = s_c / sigma^2``, ``sigma`` the standard
    deviation parameter of ``mc.VE(sigma)``. Other keywords go to :func:`branching_s`.
    """
    sd = _sigma(sigma)
    s_c = branching_s(posterior_mean, s_range=s_range, **kwargs)
    return math.nan if math.isnan(s_c) else float(time_from_s(s_c, process, sigma=sd))


def two_deltas_fixed_points(s, v_norm2=1.0):
    """Fixed points of ``x = m(x)`` for two deltas ``+-v``: ``x = m v`` with ``m = tanh(|v|^2 m / s)``.

    Reduction (derived): ``m(x) = v tanh(v . x / s)`` is parallel to ``v``, so a fixed point is
    ``x = m v`` and ``m v = v tanh(m |v|^2 / s)``. In 1D VE with ``v = 1`` this is
    ``m = tanh(m / s)``, ``s = sigma^2 t`` (``physics.md``; ``sigma`` that of ``mc.VE``).
    ``m = 0`` always; ``+-m*`` for ``s < |v|^2``. The positive root is found by Brent's method on ``tanh(K m) / m - 1``,
    ``K = |v|^2 / s``, on ``(0, 1]``.

    Parameters
    ----------
    s : float > 0
    v_norm2 : float > 0

    Returns
    -------
    FixedPoints
        ``roots`` are the values of ``m`` (so ``r = |v| m`` along ``v / |v|``); ``slopes``
        ``K sech^2(K m)``; ``stable`` ``slopes < 1``.
    """
    s = _scalar(s, "s", positive=True)
    v2 = _scalar(v_norm2, "v_norm2", positive=True)
    K = v2 / s
    roots = [0.0]
    if K > 1.0:
        m_star = _tanh_positive_root(K, 0.0)
        if m_star > 0:
            roots = [-m_star, 0.0, m_star]
    roots = np.array(roots)
    slopes = K * _sech2(K * roots)
    return FixedPoints(roots, slopes, slopes < 1.0, np.zeros_like(roots), s, "ve", np.ones(1))


def _tanh_positive_root(K, H):
    """Largest root of ``m = tanh(K m + H)`` for ``K >= 0``, ``H >= 0`` (0 if ``H = 0``, ``K <= 1``).

    For ``H > 0``, ``tanh(K m + H) - m`` is positive at 0, negative at 1 and concave on
    ``[0, 1]``: one root there. For ``H = 0``, the root of ``tanh(K m) / m - 1`` (``K - 1`` at
    ``m -> 0``).
    """
    if H > 0:
        return brentq(lambda m: math.tanh(K * m + H) - m, 0.0, 1.0, xtol=1e-300, rtol=_RTOL)
    if K <= 1.0:
        return 0.0
    if math.tanh(K) == 1.0 and K > 40:
        return 1.0
    return brentq(lambda m: math.tanh(K * m) / m - 1.0, 1e-300, 1.0, xtol=1e-300, rtol=_RTOL)


def two_deltas_critical_s(v_norm2=1.0, *, drift="ve"):
    """Branching point of the two-deltas fixed points, located numerically (:func:`branching_s`).

    The fixed-point map is :func:`two_deltas_mean` along ``v / |v|`` with ``|v|^2 = v_norm2``;
    the result is the largest ``s`` with a non-zero fixed point, found by bisection on the
    existence of a non-zero root (not by the linear stability of ``m = 0``). Expected
    (``physics.md``): ``s_c = |v|^2`` (1D VE, ``v = 1``: ``sigma^2 t = 1``) for ``drift="ve"``;
    for ``drift="vp"`` ``2 (1 + s) |v|^2 / ((2 + s) s) = 1`` (derived), i.e.
    ``s_c = |v|^2 - 1 + sqrt((|v|^2 - 1)^2 + 2 |v|^2)``.
    """
    v2 = _scalar(v_norm2, "v_norm2", positive=True)
    v = math.sqrt(v2)

    def mean(y, s):
        return v * np.tanh(v * y / s)

    return branching_s(mean, s_range=(1e-3 * v2, 1e3 * max(v2, 1.0)), n_dim=1, drift=_drift(drift), r_max=2.0 * v)



# ------------------------------------------------------------------------------------------
# critical exponents
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExponentFit:
    """A critical exponent from a least-squares fit on log-log axes.

    Attributes
    ----------
    value : float
        The fitted exponent.
    stderr : float
        Its standard error from the residuals of the fit (ordinary least squares; the data are
        deterministic, so it measures the curvature left by corrections to scaling).
    expected : float
        The mean-field value.
    amplitude : float
        ``exp(intercept)``.
    n_points : int
    span : (float, float)
        Range of the variable on the horizontal axis.
    """

    value: float
    stderr: float
    expected: float
    amplitude: float
    n_points: int
    span: tuple

    def __float__(self):
        return self.value


@dataclass(frozen=True)
class CriticalExponents:
    """``beta`` (order parameter), ``gamma`` (susceptibility), ``delta`` (critical isotherm).

    ``critical_point`` is ``s_c`` (two deltas) or ``beta_c J`` (Curie-Weiss), located
    numerically.
    """

    beta: ExponentFit
    gamma: ExponentFit
    delta: ExponentFit
    critical_point: float
    system: str


def _loglog_fit(x, y):
    """Slope, its standard error and intercept of ``log y`` against ``log x`` (OLS)."""
    lx, ly = np.log(x), np.log(y)
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    resid = ly - A @ coef
    dof = max(lx.size - 2, 1)
    sxx = float(np.sum((lx - lx.mean()) ** 2))
    se = math.sqrt(float(resid @ resid) / dof / sxx)
    return float(coef[0]), se, float(coef[1])


def critical_exponents(system="two_deltas", *, v_norm2=1.0, J=1.0, distances=None, fields=None):
    """Fit the mean-field exponents of a self-consistency near its branching point.

    Systems (derived forms of the equations of state, ``physics.md``):

    * ``"two_deltas"``: ``x = m v``, field ``h`` along ``v / |v|`` added to ``y``:
      ``m = tanh((|v|^2 m + |v| h) / s)``; control ``s``, critical ``s_c`` from
      :func:`two_deltas_critical_s`. In 1D with ``v = 1``: ``m = tanh((m + h) / s)``.
    * ``"curie_weiss"``: zero random field, uniform field ``H``:
      ``m = tanh(beta J m + H)`` solved by :func:`replica.theory.curie_weiss_magnetisation`; control ``beta``,
      critical ``beta_c`` from :func:`replica.theory.curie_weiss_critical_beta` (numerical).

    With ``d`` the relative distance to the critical point (``s = s_c (1 -+ d)``,
    ``beta = beta_c (1 +- d)``):

    * ``beta``: ``m ~ d^beta`` on the ordered side (``h = 0``);
    * ``gamma``: ``chi = dm/dh |_{h=0} ~ d^{-gamma}`` on the disordered side, ``chi`` by the
      central difference ``[m(h) - m(-h)] / (2 h)`` of numerical solutions with
      ``h = 1e-3 d^{3/2}`` (the cubic term is then ``~1e-6`` of the linear one);
    * ``delta``: ``m ~ h^{1/delta}`` at the critical point.

    Each exponent is the slope of an ordinary least-squares fit on log-log axes (``delta`` is
    the inverse slope, its error propagated). Mean-field values ``1/2, 1, 3``.

    Parameters
    ----------
    system : {"two_deltas", "curie_weiss"}
    v_norm2 : float > 0
        ``|v|^2`` (two deltas).
    J : float > 0
        Coupling (Curie-Weiss).
    distances : array, optional
        Relative distances ``d`` (default ``logspace(-4, -2, 9)``).
    fields : array, optional
        Fields at the critical point (default ``logspace(-10, -6, 9)``).

    Returns
    -------
    CriticalExponents
    """
    if system not in ("two_deltas", "curie_weiss"):
        raise ValueError(f"system: expected 'two_deltas' or 'curie_weiss', got {system!r}")
    d = np.logspace(-4, -2, 9) if distances is None else _array(distances, "distances", positive=True, ndim=1)
    hs = np.logspace(-10, -6, 9) if fields is None else _array(fields, "fields", positive=True, ndim=1)
    if d.size < 3 or hs.size < 3:
        raise ValueError("distances, fields: need at least 3 values each")
    if (d >= 1).any():
        raise ValueError("distances: relative distances must be < 1")
    if system == "two_deltas":
        v2 = _scalar(v_norm2, "v_norm2", positive=True)
        v = math.sqrt(v2)
        crit = two_deltas_critical_s(v2)

        def magnetisation(dist, h, ordered):
            s = crit * (1.0 - dist) if ordered else crit * (1.0 + dist)
            return _signed_tanh_root(v2 / s, v * h / s)
    else:
        Jf = _scalar(J, "J", positive=True)
        crit = curie_weiss_critical_beta(J=Jf)

        def magnetisation(dist, h, ordered):
            beta = crit * (1.0 + dist) if ordered else crit * (1.0 - dist)
            sol = curie_weiss_magnetisation(np.full(1, h), beta, Jf)
            return float(sol.m[-1]) if h >= 0 else float(sol.m[0])

    m_ord = np.array([magnetisation(x, 0.0, True) for x in d])
    if not (m_ord > 0).all():
        raise ValueError("distances: no ordered solution at some distance (too close to the critical point?)")
    chi = np.empty(d.size)
    for i, x in enumerate(d):
        h = 1e-3 * x**1.5
        chi[i] = (magnetisation(x, h, False) - magnetisation(x, -h, False)) / (2.0 * h)
    m_crit = np.array([magnetisation(0.0, h, True) for h in hs])
    b, b_se, b_int = _loglog_fit(d, m_ord)
    g, g_se, g_int = _loglog_fit(d, chi)
    inv_delta, id_se, d_int = _loglog_fit(hs, m_crit)
    span_d = (float(d.min()), float(d.max()))
    return CriticalExponents(
        beta=ExponentFit(b, b_se, 0.5, math.exp(b_int), d.size, span_d),
        gamma=ExponentFit(-g, g_se, 1.0, math.exp(g_int), d.size, span_d),
        delta=ExponentFit(1.0 / inv_delta, id_se / inv_delta**2, 3.0, math.exp(d_int), hs.size,
                          (float(hs.min()), float(hs.max()))),
        critical_point=crit,
        system=system,
    )


def _signed_tanh_root(K, H):
    """The root of ``m = tanh(K m + H)`` with the sign of ``H`` (the largest for ``H >= 0``)."""
    return _tanh_positive_root(K, H) if H >= 0 else -_tanh_positive_root(K, -H)
