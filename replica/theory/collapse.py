"""Collapse (memorisation) times and the random-energy-model view of data-set disorder.

Holds: the collapse time of ``n = exp(alpha N)`` i.i.d. Gaussian points in closed form
(:func:`collapse_time`), for any covariance spectrum (:func:`collapse_time_gaussian`) and for a
finite data set (:func:`collapse_time_entropy`, :class:`CollapseEstimate`); the random energy
model of the posterior over the points for an unplanted noisy state (:func:`rem_kl`,
:func:`rem_parisi_m`, :func:`rem_condensation_time`) and the Poisson-Dirichlet weights of its
condensed phase (:func:`poisson_dirichlet_y`).

Notation: ``variance`` is the variance per coordinate of the data (``variance`` of
``mc.Dataset`` and ``mc.GaussianMixture``); ``sigma`` is the standard deviation parameter of
``mc.VE(sigma)`` (``D_t = sigma^2 t``, keyword-only, ignored for VP); ``s = D_t / a_t^2``.

Sources
-------
* Biroli, Bonnaire, de Bortoli & Mezard (2024), "Dynamical regimes of diffusion models",
  Nat. Commun. 15, 9957, arXiv:2402.18491: the collapse time of Gaussian data and the
  excess-entropy criterion.
* Derrida (1981), Phys. Rev. B 24, 2613 (random energy model); Mezard, Parisi & Virasoro (1987),
  "Spin glass theory and beyond" (Poisson-Dirichlet weights, ``E Y = 1 - m``,
  ``Var Y = m (1 - m) / 3``).
* "derived": worked out for this package; the derivation is in the docstring.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from ._common import _RTOL, _XTOL, _array, _out, _process, _scalar, _sigma, s_from_time, time_from_s

__all__ = [
    "collapse_time",
    "collapse_time_gaussian",
    "CollapseEstimate",
    "collapse_time_entropy",
    "rem_kl",
    "rem_parisi_m",
    "rem_condensation_time",
    "poisson_dirichlet_y",
]


def collapse_time(alpha, variance=1.0, process="vp", *, sigma=1.0):
    """Collapse (memorisation) time of ``n = exp(alpha N)`` i.i.d. points of ``N(0, variance I_N)``.

    VP: ``t_C = (1/2) log(1 + variance / (exp(2 alpha) - 1))`` (Biroli et al. 2024). In ``s``
    variables ``s_C = variance / (exp(2 alpha) - 1)``, which is where the mutual information per
    coordinate ``I(x0; x_t) / N = (1/2) log(1 + variance / s)`` reaches ``alpha = log(n) / N``
    (``physics.md``); VE: ``t_C = s_C / sigma^2``.

    Parameters
    ----------
    alpha : float or array, > 0
        ``log(n) / N``.
    variance : float > 0
        Variance per coordinate of the data.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Examples
    --------
    >>> round(collapse_time(0.2), 6)
    0.554816
    """
    proc = _process(process)
    variance = _scalar(variance, "variance", positive=True)
    sd = _sigma(sigma)
    al = _array(alpha, "alpha", positive=True)
    with np.errstate(over="ignore"):
        s = variance / np.expm1(2.0 * al)
    return _out(time_from_s(s, proc, sigma=sd), alpha)


def _information_per_sample(s, eigenvalues):
    """``I(x0; x_t) = (1/2) sum_k log(1 + lambda_k / s)`` for Gaussian data (``physics.md``)."""
    return 0.5 * float(np.sum(np.log1p(eigenvalues / s)))


def collapse_time_gaussian(eigenvalues, n_points=None, process="vp", *, log_n_points=None, sigma=1.0):
    """Collapse time of ``n`` points from a Gaussian with covariance eigenvalues ``lambda_k``.

    The time at which the mutual information between a clean point and its noisy version,
    ``I(x0; x_t) = (1/2) sum_k log(1 + a_t^2 lambda_k / D_t) = (1/2) sum_k log(1 + lambda_k / s)``,
    reaches ``log n`` (``physics.md``; Biroli et al. 2024: the excess entropy vanishes there).
    Solved in ``log s`` by Brent's method (``I`` decreases monotonically in ``s``). For
    isotropic eigenvalues ``variance`` and ``n = exp(alpha N)`` it is :func:`collapse_time`.

    Parameters
    ----------
    eigenvalues : array (N,), >= 0, not all zero
    n_points : float > 1, optional
        Number of points ``n``; or give ``log_n_points`` (for ``n`` beyond float range).
    process : {"vp", "ve"}
    log_n_points : float > 0, optional
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    lam = _array(eigenvalues, "eigenvalues", ndim=1)
    # round-off: a covariance with constant coordinates (e.g. image pixels that are always 0)
    # has zero eigenvalues that eigvalsh returns as -1e-17; clip those at the tolerance of
    # speciation_time, refuse a truly negative one
    floor = -1e-10 * max(float(np.abs(lam).max()), np.finfo(float).tiny) * lam.size
    if (lam < floor).any():
        raise ValueError(f"eigenvalues: must be >= 0 (a covariance spectrum), got {float(lam.min())!r}")
    lam = np.clip(lam, 0.0, None)
    if not (lam > 0).any():
        raise ValueError("eigenvalues: all zero (the data carry no information; no collapse)")
    if (n_points is None) == (log_n_points is None):
        raise ValueError("n_points, log_n_points: give exactly one of them")
    if n_points is not None:
        n = _scalar(n_points, "n_points")
        if not n > 1:
            raise ValueError(f"n_points: must be > 1, got {n}")
        log_n = math.log(n)
    else:
        log_n = _scalar(log_n_points, "log_n_points", positive=True)
    s = _solve_information(lam, log_n)
    return float(time_from_s(s, proc, sigma=sd))


def _solve_information(lam, log_n):
    """``s`` with ``(1/2) sum log(1 + lam / s) = log_n`` (derived brackets: ``I >= (1/2) log(1 + lam_max / s)``
    and ``I <= sum(lam) / (2 s)``)."""
    lo = float(lam.max()) / math.expm1(min(2.0 * log_n, 700.0))
    hi = float(lam.sum()) / (2.0 * log_n)

    def f(u):
        return _information_per_sample(math.exp(u), lam) - log_n

    a, b = math.log(lo) - 1e-9, math.log(hi) + 1e-9
    if f(a) < 0 or f(b) > 0:  # rounding at the bracket ends only
        a, b = a - 1.0, b + 1.0
    return math.exp(brentq(f, a, b, xtol=_XTOL, rtol=_RTOL))


@dataclass(frozen=True)
class CollapseEstimate:
    """A collapse time estimated from a finite data set (:func:`collapse_time_entropy`).

    Attributes
    ----------
    t : float
        Forward time.
    s : float
        Effective noise variance ``D_t / a_t^2`` at ``t``.
    stderr : float
        Standard error of ``t`` (0 for the deterministic ``"annealed"`` estimate).
    method : str
        ``"annealed"`` or ``"planted"``.
    n_points, n_dim : int
    """

    t: float
    s: float
    stderr: float
    method: str
    n_points: int
    n_dim: int

    def __float__(self):
        return self.t


def collapse_time_entropy(points, process="vp", *, method="annealed", sigma=1.0, n_draws=200, seed=0, planted=None):
    """Collapse time of a finite data set: where the posterior over the training points commits.

    Biroli et al. (2024) place collapse where the excess entropy ``f(t) = s_sep(t) - s(t)``
    vanishes: the entropy of the posterior over training points, for ``x_t`` generated from a
    training point (planted disorder), drops to zero. With ``E_nu = |x_t - a y_nu|^2 / (2 D)``
    and ``x_t = a y_mu + sqrt(D) z``, the planted point has log weight ``-|z|^2 / 2`` (mean
    ``-N / 2``, self-averaging) and the other ``n - 1`` points form a REM-like sum
    ``Z_rest = sum_{nu != mu} exp(-E_nu)``; the posterior is committed to the planted point when
    ``log Z_rest`` drops below ``-|z|^2 / 2``. Two estimators:

    ``method="annealed"`` (derived). ``Z_rest`` by its annealed value over a population law
    approximated by the Gaussian with the empirical mean ``y_bar`` and covariance ``C``
    (``ddof = 0``, eigenvalues ``lambda_k``):

        log E_y Z_rest = log(n - 1) - (1/2) sum_k log(1 + a^2 lambda_k / D)
                         - (1/2) (x_t - a y_bar)^T (D I + a^2 C)^{-1} (x_t - a y_bar).

    Averaged over ``x_t = a y_mu + sqrt(D) z`` with ``mu`` uniform over the same points, the
    quadratic form averages to ``tr[(D I + a^2 C)^{-1} (a^2 C + D I)] = N`` exactly (that is
    why ``C`` is the ``ddof = 0`` covariance), which cancels the planted ``E|z|^2 / 2 = N / 2``:
    the criterion is ``(1/2) sum_k log(1 + lambda_k / s) = log(n - 1)``, i.e.
    :func:`collapse_time_gaussian` with the empirical spectrum and ``n - 1`` competitors. For
    i.i.d. Gaussian points it converges to :func:`collapse_time` as ``N / n -> 0`` (empirical
    spectrum -> ``variance``; the Marchenko-Pastur spread shifts ``sum log`` by ``O(N^2 / n)``).
    It sees the data only through their covariance.

    ``method="planted"`` (derived; quenched, finite N, any data set). For ``n_draws`` planted
    draws (a point ``mu``, uniform or ``planted``, and ``z ~ N(0, I)``), the log-odds of the
    planted point, ``L = log w_mu - log(1 - w_mu) = -log sum_{nu != mu} exp(-|d_nu|^2 / (2 s)
    - d_nu . z / sqrt(s))`` with ``d_nu = y_mu - y_nu``, averaged over the draws; the time where
    ``E L = 0`` (the typical planted weight is 1/2) by Brent's method with the draws held fixed
    (common random numbers, so ``E L`` is a smooth function of ``s``). ``(1/N) E L`` tends to
    ``I(x0; x_t) / N - log(n) / N`` above the collapse time (annealed ``Z_rest``) and is positive
    below it, so the root converges to the annealed criterion as ``N`` grows; at finite N it is
    the time at which collapse is half done. Standard error from the spread of ``L`` over the
    draws and the slope of ``E L``. Memory ``2 n_draws n`` floats.

    Parameters
    ----------
    points : array (n, N)
        Training points ``y_mu``.
    process : {"vp", "ve"}
    method : {"annealed", "planted"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    n_draws : int >= 2
        Planted draws (``"planted"``).
    seed : int or numpy.random.Generator
        Randomness of the planted draws.
    planted : int, optional
        Index of the generating point of every draw (default: uniform over the points).

    Returns
    -------
    CollapseEstimate
    """
    proc = _process(process)
    sd = _sigma(sigma)
    pts = _array(points, "points", ndim=2)
    n, N = pts.shape
    if method not in ("annealed", "planted"):
        raise ValueError(f"method: expected 'annealed' or 'planted', got {method!r}")
    if n < 3:
        raise ValueError(f"points: need at least 3 points, got {n}")
    if method == "annealed":
        centred = pts - pts.mean(axis=0)
        if n < N:  # the nonzero spectrum of X^T X / n is that of X X^T / n
            lam = np.linalg.eigvalsh(centred @ centred.T / n)
        else:
            lam = np.linalg.eigvalsh(centred.T @ centred / n)
        lam = np.clip(lam, 0.0, None)
        s = _solve_information(lam, math.log(n - 1))
        return CollapseEstimate(float(time_from_s(s, proc, sigma=sd)), s, 0.0, method, n, N)
    if isinstance(n_draws, bool) or not isinstance(n_draws, numbers.Integral) or n_draws < 2:
        raise ValueError(f"n_draws: expected an integer >= 2, got {n_draws!r}")
    if isinstance(seed, np.random.Generator):
        gen = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        gen = np.random.default_rng(seed)
    else:
        raise ValueError(f"seed: expected an int or a numpy.random.Generator, got {seed!r}")
    if planted is None:
        idx = gen.integers(0, n, size=n_draws)
    else:
        if isinstance(planted, bool) or not isinstance(planted, numbers.Integral) or not 0 <= planted < n:
            raise ValueError(f"planted: expected an index in [0, {n}), got {planted!r}")
        idx = np.full(n_draws, int(planted))
    z = gen.standard_normal((n_draws, N))
    half_d2 = np.empty((n_draws, n))
    proj = np.empty((n_draws, n))
    sq = np.einsum("ij,ij->i", pts, pts)
    for k, mu in enumerate(idx):
        d = pts[mu] - pts
        half_d2[k] = 0.5 * np.maximum(sq[mu] + sq - 2.0 * (pts @ pts[mu]), 0.0)
        proj[k] = d @ z[k]
        half_d2[k, mu] = np.inf  # the planted point is not a competitor
    proj[np.arange(n_draws), idx] = 0.0

    def log_odds(s):
        with np.errstate(invalid="ignore"):
            e = -half_d2 / s - proj / math.sqrt(s)
        return -logsumexp(e, axis=1)

    scale = float(np.mean(half_d2[np.isfinite(half_d2)])) / N
    grid = np.geomspace(scale * 1e-6, scale * 1e6, 25)
    means = np.array([log_odds(s).mean() for s in grid])
    if not means[-1] < 0:
        raise ValueError("points: the planted log-odds stay positive at large noise (duplicate points?)")
    pos = np.flatnonzero(means > 0)
    if pos.size == 0:
        raise ValueError("points: the planted point never dominates (duplicate points?)")
    k = int(pos.max())
    u = brentq(lambda v: log_odds(math.exp(v)).mean(), math.log(grid[k]), math.log(grid[k + 1]),
               xtol=1e-10, rtol=_RTOL)
    s_star = math.exp(u)
    spread = float(np.std(log_odds(s_star), ddof=1)) / math.sqrt(n_draws)
    du = 1e-4
    slope = (log_odds(math.exp(u + du)).mean() - log_odds(math.exp(u - du)).mean()) / (2.0 * du)
    se_u = float(spread / abs(slope))
    t_star = float(time_from_s(s_star, proc, sigma=sd))
    dt_du = s_star / (2.0 * (1.0 + s_star)) if proc == "vp" else s_star / (sd * sd)
    return CollapseEstimate(t_star, s_star, float(se_u * dt_du), method, n, N)


# ------------------------------------------------------------------------------------------
# random energy model view of unplanted data-set disorder
# ------------------------------------------------------------------------------------------
def rem_kl(lam, s, variance=1.0):
    """Per-coordinate ``KL(tilted || prior)`` of the REM for Gaussian data (derived).

    Data ``y ~ N(0, variance I_N)``, a noisy state from the population law (``Y = x_t / a``,
    ``|Y|^2 / N -> variance + s``), energies ``E = |Y - y|^2 / (2 s)`` (``= |x_t - a y|^2 / (2 D)``).
    Tilting the prior by ``exp(-lam E)`` gives the Gaussian with variance
    ``v = (1/variance + lam / s)^{-1}`` and mean ``v lam Y / s``, and (derived)

        KL(lam) = (1/2) [r + lam^2 variance (variance + s) / (s + lam variance)^2 - 1 - log r],
        r = v / variance = s / (s + lam variance).

    ``KL(1) = (1/2) log(1 + variance / s) = I(x0; x_t) / N`` for every ``variance`` (the tilted
    law at ``lam = 1`` is the posterior of the Gaussian prior).

    Parameters
    ----------
    lam : float or array, >= 0
        Inverse temperature of the tilt.
    s : float or array, > 0
        Effective noise variance ``D_t / a_t^2``.
    variance : float > 0
        Variance per coordinate of the data.
    """
    lam = _array(lam, "lam", nonnegative=True)
    s = _array(s, "s", positive=True)
    variance = _scalar(variance, "variance", positive=True)
    return _rem_kl(lam, s, variance)


def _rem_kl(lam, s, variance):
    denom = s + lam * variance
    r = s / denom
    return 0.5 * (r + lam * lam * variance * (variance + s) / denom**2 - 1.0 + np.log1p(lam * variance / s))


def rem_parisi_m(t, alpha, variance=1.0, process="vp", *, sigma=1.0):
    """Parisi parameter ``m`` of the posterior over ``n = exp(alpha N)`` Gaussian points, unplanted ``x_t``.

    Random energy model (Derrida 1981; derived here for these energies, see :func:`rem_kl`):
    the points whose energies dominate the Boltzmann sum at inverse temperature ``lam`` are
    distributed like the prior tilted by ``exp(-lam E)``, and there are
    ``exp(N (alpha - KL(lam)))`` of them. At ``lam = 1`` (the posterior) the measure is
    condensed iff ``KL(1) > alpha``; then ``m = lam*`` with ``KL(lam*) = alpha`` (REM:
    ``m = beta_c / beta``), found by Brent's method on ``(0, 1)``; otherwise ``m = 1``. In the
    condensed phase the weights are Poisson-Dirichlet with parameter ``m``
    (:func:`poisson_dirichlet_y`). ``KL(1) = I(x0; x_t) / N``, so condensation begins exactly at
    the collapse time (:func:`rem_condensation_time`).

    Parameters
    ----------
    t : float or array, > 0
    alpha : float > 0
    variance : float > 0
        Variance per coordinate of the data.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    alpha = _scalar(alpha, "alpha", positive=True)
    variance = _scalar(variance, "variance", positive=True)
    sd = _sigma(sigma)
    _array(t, "t", positive=True)
    s = np.atleast_1d(np.asarray(s_from_time(t, proc, sigma=sd), dtype=np.float64))
    out = np.empty(s.shape)
    for i, si in enumerate(s.ravel()):
        if not math.isfinite(si) or _rem_kl(1.0, si, variance) <= alpha:
            out.flat[i] = 1.0
        else:
            out.flat[i] = brentq(lambda lam: _rem_kl(lam, si, variance) - alpha, 0.0, 1.0, xtol=1e-300, rtol=_RTOL)
    return _out(out.reshape(np.shape(t)), t)


def rem_condensation_time(alpha, variance=1.0, process="vp", *, sigma=1.0):
    """Time at which the unplanted posterior over ``n = exp(alpha N)`` Gaussian points condenses.

    The root of ``KL(1; s) = alpha`` (:func:`rem_kl`), solved numerically in ``log s`` with the
    general formula of ``KL``. Since ``KL(1) = (1/2) log(1 + variance / s)`` it coincides with
    :func:`collapse_time` for every ``variance`` (derived; the tests check the numbers): for
    i.i.d. Gaussian data the REM condensation of an unplanted noisy state and the collapse onto
    the generating point of a planted one happen at the same time.

    Parameters
    ----------
    alpha : float or array, > 0
    variance : float > 0
        Variance per coordinate of the data.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    variance = _scalar(variance, "variance", positive=True)
    sd = _sigma(sigma)
    al = _array(alpha, "alpha", positive=True)
    out = np.empty(al.shape)
    for i, a in enumerate(al.ravel()):
        lo = math.log(variance / math.expm1(min(2.0 * a, 700.0))) - 1.0
        hi = math.log(variance / (2.0 * a)) + 1.0
        u = brentq(lambda v: float(_rem_kl(1.0, math.exp(v), variance)) - a, lo, hi, xtol=_XTOL, rtol=_RTOL)
        out.flat[i] = time_from_s(math.exp(u), proc, sigma=sd)
    return _out(out, alpha)


def poisson_dirichlet_y(m):
    """Mean and variance of ``Y = sum_mu w_mu^2`` for Poisson-Dirichlet ``PD(m, 0)`` weights.

    ``E[Y] = 1 - m``, ``Var[Y] = m (1 - m) / 3`` (Derrida 1981; Mezard, Parisi & Virasoro 1987;
    ``physics.md``). ``m = 1``: no condensation, ``Y = 0``.

    Parameters
    ----------
    m : float or array in (0, 1]

    Returns
    -------
    (mean, variance)
    """
    mm = _array(m, "m", positive=True)
    if (mm > 1).any():
        raise ValueError(f"m: must lie in (0, 1], got {mm[mm > 1].ravel()[0]}")
    return _out(1.0 - mm, m), _out(mm * (1.0 - mm) / 3.0, m)
