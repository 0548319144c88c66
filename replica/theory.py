"""Analytic and semi-analytic predictions for speciation, fragmentation and collapse.

What the samplers and the detectors of this package are checked against. Independent of them:
this module imports numpy and scipy only.

Conventions (``physics.md``). Forward process ``x_t = a_t x0 + sqrt(D_t) z``; every posterior
quantity depends on ``(x_t, t)`` only through ``y = x_t / a_t`` and the effective noise
variance ``s = D_t / a_t^2``:

* ``process="vp"`` (Ornstein-Uhlenbeck ``dx = -x dt + sqrt(2) dW``, the convention of Biroli
  et al. and of Yu & Huang): ``a = e^{-t}``, ``D = 1 - e^{-2t}``, ``s = e^{2t} - 1``;
* ``process="ve"`` (Brownian): ``a = 1``, ``D = sigma^2 t``, ``s = sigma^2 t``, with
  ``noise_scale = sigma^2`` (default 1).

Functions that return a time take ``process`` and ``noise_scale``; :func:`s_from_time` and
:func:`time_from_s` convert. Times and ``s`` are >= 0; where a criterion is never met at a
positive time, the functions that return a time return ``nan`` (documented per function).

Sources
-------
* Biroli, Bonnaire, de Bortoli & Mezard (2024), "Dynamical regimes of diffusion models",
  Nat. Commun. 15, 9957, arXiv:2402.18491: speciation time ``t_S = (1/2) log Lambda``, collapse
  time of Gaussian data ``t_C`` and the excess-entropy criterion, the cloning probability.
* Yu & Huang (2025), "Nonequilibrium physics of generative diffusion models", Phys. Rev. E 111,
  014111, arXiv:2405.11932: speciation as the vanishing curvature of the reverse-SDE potential,
  ``t_s = (1/2) log(mu^2 + sqrt(mu^4 + (sigma^2 - 1)^2))``; Franz-Parisi view of speciation.
* Derrida (1981), Phys. Rev. B 24, 2613 (random energy model); Mezard, Parisi & Virasoro (1987),
  "Spin glass theory and beyond" (Poisson-Dirichlet weights, ``E Y = 1 - m``,
  ``Var Y = m (1 - m) / 3``).
* "derived": worked out for this package; the derivation is in the docstring.

Contents: time conversions; collapse (:func:`collapse_time`, :func:`collapse_time_gaussian`,
:func:`collapse_time_entropy`); speciation (:func:`speciation_time`,
:func:`speciation_time_potential`, :func:`speciation_time_potential_numeric`,
:func:`bimodality_time`, :func:`cloning_probability`); fixed points of the reverse drift and
their branching (:func:`two_deltas_mean`, :func:`mixture_posterior_mean`,
:func:`hypersphere_mean`, :func:`reverse_drift_fixed_points`, :func:`branching_s`,
:func:`branching_time`, :func:`two_deltas_fixed_points`, :func:`two_deltas_critical_s`,
:func:`critical_exponents`); the Curie-Weiss posterior (:func:`curie_weiss_magnetisation`);
the random-energy-model view of unplanted data-set disorder (:func:`rem_parisi_m`,
:func:`rem_condensation_time`, :func:`poisson_dirichlet_y`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ive, logsumexp

from mc._validation import as_scalar as _scalar  # one scalar check for the project

__all__ = [
    "s_from_time",
    "time_from_s",
    "collapse_time",
    "collapse_time_gaussian",
    "CollapseEstimate",
    "collapse_time_entropy",
    "speciation_time",
    "speciation_time_potential",
    "speciation_time_potential_numeric",
    "bimodality_time",
    "mixture_log_density",
    "mixture_posterior_mean",
    "cloning_probability",
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
    "CurieWeissSolutions",
    "curie_weiss_field",
    "curie_weiss_magnetisation",
    "curie_weiss_critical_beta",
    "rem_kl",
    "rem_parisi_m",
    "rem_condensation_time",
    "poisson_dirichlet_y",
]

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


def _array(value, name, *, positive=False, nonnegative=False, ndim=None):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: must be finite, got {arr[~np.isfinite(arr)].ravel()[0]}")
    if positive and (arr <= 0).any():
        raise ValueError(f"{name}: must be > 0, got {arr[arr <= 0].ravel()[0]}")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name}: must be >= 0, got {arr[arr < 0].ravel()[0]}")
    return arr


def _out(values, like):
    """A float for scalar input, an array otherwise."""
    return float(values) if np.ndim(like) == 0 else np.asarray(values, dtype=np.float64)


def _mu_norm2(mu, name="mu"):
    """``|mu|^2`` of a scalar or a vector class mean."""
    arr = _array(mu, name)
    if arr.ndim > 1:
        raise ValueError(f"{name}: expected a scalar or a vector (N,), got shape {arr.shape}")
    return float(arr @ arr) if arr.ndim == 1 else float(arr) ** 2


def _callable(f, name):
    if not callable(f):
        raise ValueError(f"{name}: expected a callable, got {f!r}")
    return f


# ------------------------------------------------------------------------------------------
# time conversions
# ------------------------------------------------------------------------------------------
def s_from_time(t, process="vp", noise_scale=1.0):
    """Effective noise variance ``s = D_t / a_t^2`` of the rescaled state ``y = x_t / a_t``.

    VP: ``s = e^{2t} - 1`` (``expm1``, full precision at small t; ``inf`` beyond t ~ 354);
    VE: ``s = sigma^2 t`` with ``noise_scale = sigma^2`` (``physics.md``).

    Parameters
    ----------
    t : float or array, >= 0
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process (ignored for VP).
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    tt = _array(t, "t", nonnegative=True)
    if proc == "vp":
        with np.errstate(over="ignore"):
            s = np.expm1(2.0 * tt)
    else:
        s = noise * tt
    return _out(s, t)


def time_from_s(s, process="vp", noise_scale=1.0):
    """Forward time at which ``D_t / a_t^2 = s``: VP ``t = (1/2) log(1 + s)``, VE ``t = s / sigma^2``.

    Parameters
    ----------
    s : float or array, >= 0
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process (ignored for VP).
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    ss = _array(s, "s", nonnegative=True)
    t = 0.5 * np.log1p(ss) if proc == "vp" else ss / noise
    return _out(t, s)


def _coefficients(t, process, noise_scale):
    """``(a, D, s)`` arrays for times ``t >= 0``."""
    s = np.asarray(s_from_time(t, process, noise_scale), dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    if process == "vp":
        a = np.exp(-tt)
        D = -np.expm1(-2.0 * tt)
    else:
        a = np.ones_like(tt)
        D = noise_scale * tt
    return a, D, s


# ------------------------------------------------------------------------------------------
# collapse
# ------------------------------------------------------------------------------------------
def collapse_time(alpha, sigma2=1.0, process="vp", noise_scale=1.0):
    """Collapse (memorisation) time of ``n = exp(alpha N)`` i.i.d. points of ``N(0, sigma2 I_N)``.

    VP: ``t_C = (1/2) log(1 + sigma2 / (exp(2 alpha) - 1))`` (Biroli et al. 2024). In ``s``
    variables ``s_C = sigma2 / (exp(2 alpha) - 1)``, which is where the mutual information per
    coordinate ``I(x0; x_t) / N = (1/2) log(1 + sigma2 / s)`` reaches ``alpha = log(n) / N``
    (``physics.md``); VE: ``t_C = s_C / sigma_VE^2``.

    Parameters
    ----------
    alpha : float or array, > 0
        ``log(n) / N``.
    sigma2 : float > 0
        Variance per coordinate of the data.
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.

    Examples
    --------
    >>> round(collapse_time(0.2), 6)
    0.554816
    """
    proc = _process(process)
    sigma2 = _scalar(sigma2, "sigma2", positive=True)
    al = _array(alpha, "alpha", positive=True)
    with np.errstate(over="ignore"):
        s = sigma2 / np.expm1(2.0 * al)
    return _out(time_from_s(s, proc, noise_scale), alpha)


def _information_per_sample(s, eigenvalues):
    """``I(x0; x_t) = (1/2) sum_k log(1 + lambda_k / s)`` for Gaussian data (``physics.md``)."""
    return 0.5 * float(np.sum(np.log1p(eigenvalues / s)))


def collapse_time_gaussian(eigenvalues, n_points=None, process="vp", *, log_n_points=None, noise_scale=1.0):
    """Collapse time of ``n`` points from a Gaussian with covariance eigenvalues ``lambda_k``.

    The time at which the mutual information between a clean point and its noisy version,
    ``I(x0; x_t) = (1/2) sum_k log(1 + a_t^2 lambda_k / D_t) = (1/2) sum_k log(1 + lambda_k / s)``,
    reaches ``log n`` (``physics.md``; Biroli et al. 2024: the excess entropy vanishes there).
    Solved in ``log s`` by Brent's method (``I`` decreases monotonically in ``s``). For
    isotropic eigenvalues ``sigma2`` and ``n = exp(alpha N)`` it is :func:`collapse_time`.

    Parameters
    ----------
    eigenvalues : array (N,), >= 0, not all zero
    n_points : float > 1, optional
        Number of points ``n``; or give ``log_n_points`` (for ``n`` beyond float range).
    process : {"vp", "ve"}
    log_n_points : float > 0, optional
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    lam = _array(eigenvalues, "eigenvalues", nonnegative=True, ndim=1)
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
    return float(time_from_s(s, proc, noise_scale))


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


def collapse_time_entropy(points, process="vp", *, method="annealed", noise_scale=1.0, n_draws=200, seed=0,
                          planted=None):
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
    spectrum -> ``sigma2``; the Marchenko-Pastur spread shifts ``sum log`` by ``O(N^2 / n)``).
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
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
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
    noise = _scalar(noise_scale, "noise_scale", positive=True)
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
        return CollapseEstimate(float(time_from_s(s, proc, noise)), s, 0.0, method, n, N)
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
    t_star = float(time_from_s(s_star, proc, noise))
    dt_du = s_star / (2.0 * (1.0 + s_star)) if proc == "vp" else s_star / noise
    return CollapseEstimate(t_star, s_star, float(se_u * dt_du), method, n, N)


# ------------------------------------------------------------------------------------------
# speciation
# ------------------------------------------------------------------------------------------
def speciation_time(cov, process="vp", noise_scale=1.0):
    """Speciation time of Biroli et al. (2024): ``t_S = (1/2) log Lambda`` (VP).

    ``Lambda`` is the largest eigenvalue of the data covariance: at ``t_S`` the signal variance
    along the top principal direction, ``a_t^2 Lambda = e^{-2t} Lambda``, equals the stationary
    variance 1 of the VP process. VE analogue (derived, same statement with the noise variance
    in place of the stationary one): ``s_S = Lambda``, ``t_S = Lambda / sigma_VE^2``. For the
    two-class mixture ``+-mu`` with variance ``sigma2``, ``Lambda = |mu|^2 + sigma2``. Other
    speciation criteria differ by O(1) in ``e^{2t}``: :func:`speciation_time_potential`,
    :func:`bimodality_time`.

    Choice for ``Lambda <= 1`` (VP): the formula gives ``t_S <= 0``: the criterion is never met
    during the forward process; ``nan`` is returned (no error, so that scans over parameters
    go through).

    Parameters
    ----------
    cov : float or array (N, N)
        The top eigenvalue ``Lambda`` (> 0), or a symmetric positive semi-definite covariance.
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    c = _array(cov, "cov")
    if c.ndim == 0:
        lam = float(c)
    elif c.ndim == 2:
        if c.shape[0] != c.shape[1]:
            raise ValueError(f"cov: expected a square matrix, got shape {c.shape}")
        scale = max(float(np.abs(c).max()), np.finfo(float).tiny)
        if not np.allclose(c, c.T, rtol=0.0, atol=1e-10 * scale):
            raise ValueError("cov: not symmetric")
        w = np.linalg.eigvalsh(0.5 * (c + c.T))
        if w[0] < -1e-10 * scale * c.shape[0]:
            raise ValueError(f"cov: not positive semi-definite (smallest eigenvalue {w[0]:.3g})")
        lam = float(w[-1])
    else:
        raise ValueError(f"cov: expected a scalar eigenvalue or an (N, N) matrix, got shape {c.shape}")
    if not lam > 0:
        raise ValueError(f"cov: the top eigenvalue must be > 0, got {lam}")
    if proc == "vp":
        return 0.5 * math.log(lam) if lam > 1.0 else math.nan
    return lam / noise


def speciation_time_potential(mu, sigma2):
    """Speciation time of Yu & Huang: the curvature of the reverse-SDE potential vanishes at 0.

    VP process, data ``(1/2) N(mu, sigma2) + (1/2) N(-mu, sigma2)``. The reverse SDE
    ``dx = (x + 2 d_x log p_t) dt + sqrt(2) dW`` (backward time) has drift ``-U'(x)`` with
    ``U = -x^2/2 - 2 log p_t``; ``p_t`` is the mixture ``+-a mu`` with variance
    ``G = 1 - a^2 + a^2 sigma2``, so ``U''(0) = -1 + 2 / G - 2 a^2 mu^2 / G^2``. It vanishes at
    ``a^{-2} = e^{2t} = mu^2 + sqrt(mu^4 + (sigma2 - 1)^2)`` (Yu & Huang 2025; checked here:
    ``u = a^2`` solves ``(sigma2 - 1)^2 u^2 + 2 mu^2 u - 1 = 0``), so

        t_s = (1/2) log(mu^2 + sqrt(mu^4 + (sigma2 - 1)^2)).

    Above ``t_s`` the origin is a minimum of ``U``, below it a maximum (two wells).
    ``mu = 1, sigma2 = 0.1`` gives 0.426220, the value Yu & Huang quote.

    N dimensions (derived): for ``(1/2) N(mu, sigma2 I) + (1/2) N(-mu, sigma2 I)`` the Hessian of
    ``U`` at 0 is ``(-1 + 2 / G) I - 2 a^2 mu mu^T / G^2``: along ``mu`` the 1D formula with
    ``mu -> |mu|``; orthogonal to it ``-1 + 2/G``, positive while ``G < 2`` (always for
    ``sigma2 < 2``, since ``G`` lies between 1 and ``sigma2``). A vector ``mu`` is reduced to
    its norm.

    Returns ``nan`` when ``mu^2 + sqrt(mu^4 + (sigma2 - 1)^2) <= 1`` (the curvature stays positive
    at every t > 0).

    Parameters
    ----------
    mu : float or array (N,)
        Class mean (a vector is reduced to ``|mu|``).
    sigma2 : float >= 0
        Variance per coordinate of each class (0: two deltas).
    """
    m2 = _mu_norm2(mu)
    sigma2 = _scalar(sigma2, "sigma2", nonnegative=True)
    x = m2 + math.hypot(m2, sigma2 - 1.0)
    return 0.5 * math.log(x) if x > 1.0 else math.nan


def bimodality_time(mu, sigma2, process="vp", noise_scale=1.0):
    """Largest time at which ``p_t`` of the symmetric two-class mixture is bimodal (criterion (c)).

    ``p_t`` is the equal-weight mixture of ``N(+-a mu, G)``, ``G = D + a^2 sigma2``. An
    equal-weight mixture of two Gaussians of equal variance ``G`` and means ``+-c`` is bimodal
    iff ``c^2 > G`` (derived: ``log p = -x^2 / (2G) + log cosh(c x / G) + const`` has
    ``(log p)'' = -1/G + (c/G)^2 sech^2(c x / G) <= -1/G + c^2 / G^2``, so ``log p`` is concave
    for ``c^2 <= G``, while for ``c^2 > G`` the origin is a local minimum between two maxima).
    With ``c = a mu``:

    * VP: ``a^2 (mu^2 + 1 - sigma2) > 1``, i.e. ``t_b = (1/2) log(mu^2 + 1 - sigma2)``;
    * VE: ``mu^2 > s + sigma2``, i.e. ``s_b = mu^2 - sigma2``, ``t_b = s_b / sigma_VE^2``.

    ``nan`` when ``mu^2 <= sigma2`` (``p_0`` itself is unimodal). In N dimensions ``mu -> |mu|``
    (the modes lie on the line of ``mu``; derived). The branching of the fixed points of
    ``y = m(y)`` (:func:`reverse_drift_fixed_points`, ``drift="ve"``) is the same criterion, since
    ``y = m(y)`` is the vanishing of the score (Tweedie).

    Parameters
    ----------
    mu : float or array (N,)
    sigma2 : float >= 0
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    m2 = _mu_norm2(mu)
    sigma2 = _scalar(sigma2, "sigma2", nonnegative=True)
    if not m2 > sigma2:
        return math.nan
    if proc == "vp":
        return 0.5 * math.log1p(m2 - sigma2)
    return (m2 - sigma2) / noise


def mixture_log_density(x, t, mu, sigma2, process="vp", noise_scale=1.0):
    """``log p_t(x)`` of the symmetric two-class mixture ``(1/2) N(mu, sigma2 I) + (1/2) N(-mu, sigma2 I)``.

    ``p_t = (1/2) N(a mu, G I) + (1/2) N(-a mu, G I)``, ``G = D + a^2 sigma2`` (``physics.md``):

        log p_t(x) = -(|x|^2 + a^2 |mu|^2) / (2 G) + log cosh(a mu . x / G) - (N/2) log(2 pi G).

    Parameters
    ----------
    x : array (..., N), or any shape when ``mu`` is a scalar (1D)
    t : float >= 0 (``t = 0`` needs ``sigma2 > 0``)
    mu : float or array (N,)
    sigma2 : float >= 0
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    tt = _scalar(t, "t", nonnegative=True)
    sigma2 = _scalar(sigma2, "sigma2", nonnegative=True)
    xx = _array(x, "x")
    mu_arr = _array(mu, "mu")
    a, D, _ = (float(v) for v in _coefficients(tt, proc, noise))
    G = D + a * a * sigma2
    if not G > 0:
        raise ValueError("t: must be > 0 when sigma2 = 0 (p_0 has no density)")
    if mu_arr.ndim == 0:
        proj, x2, m2, n_dim = float(mu_arr) * xx, xx * xx, float(mu_arr) ** 2, 1
    else:
        if xx.shape[-1:] != mu_arr.shape:
            raise ValueError(f"x: expected shape (..., {mu_arr.size}), got {xx.shape}")
        proj, x2, m2, n_dim = xx @ mu_arr, np.sum(xx * xx, axis=-1), float(mu_arr @ mu_arr), mu_arr.size
    g = a * proj / G
    log_cosh = np.abs(g) + np.log1p(np.exp(-2.0 * np.abs(g))) - math.log(2.0)
    return -(x2 + a * a * m2) / (2.0 * G) + log_cosh - 0.5 * n_dim * math.log(2.0 * math.pi * G)


def speciation_time_potential_numeric(log_pt=None, *, log_pt_curvature=None, n_dim=1, direction=None, origin=None,
                                      t_range=(1e-4, 20.0), n_grid=200, step=1e-2):
    """Largest t at which the curvature of the VP reverse-SDE potential vanishes, for any model.

    ``U(x) = -|x|^2 / 2 - 2 log p_t(x)`` (Yu & Huang 2025; :func:`speciation_time_potential`
    has the closed form of the two-class mixture). Along the unit vector ``e`` at the point
    ``x_c``:

        c(t) = e^T Hess U(x_c) e = -1 - 2 d^2/de^2 log p_t(x_c + eps e) |_{eps = 0},

    with the second derivative from ``log_pt_curvature(t)`` if given, else from ``log_pt`` by
    the five-point stencil ``[-f(2h) + 16 f(h) - 30 f(0) + 16 f(-h) - f(-2h)] / (12 h^2)``
    (truncation ``h^4 f^{(6)} / 90``). ``c > 0`` at large t (``p_t -> N(0, I)``,
    ``c -> 1``); the largest root of ``c`` is bracketed on a geometric grid of ``t`` and
    refined by Brent's method. The time returned is where the confining curvature along ``e``
    is lost (derived: the general form of Yu & Huang's criterion).

    Parameters
    ----------
    log_pt : callable ``log_pt(x, t)``, optional
        ``x`` of shape ``(k, N)`` -> ``log p_t`` of shape ``(k,)`` (up to an x-independent
        constant).
    log_pt_curvature : callable ``f(t)``, optional
        ``e^T Hess log p_t(x_c) e`` directly (give exactly one of the two).
    n_dim : int
        N (when ``direction`` and ``origin`` are not given).
    direction : array (N,), optional
        Direction ``e`` (normalised here; default the first axis).
    origin : array (N,), optional
        ``x_c`` (default 0).
    t_range : (float, float)
        ``0 < t_min < t_max``: where to look.
    n_grid : int
        Grid points in ``t_range``.
    step : float > 0
        Finite-difference step ``h``.

    Returns
    -------
    float
        The largest ``t`` with ``c(t) = 0``; ``nan`` if ``c > 0`` on the whole range.
    """
    if (log_pt is None) == (log_pt_curvature is None):
        raise ValueError("log_pt, log_pt_curvature: give exactly one of them")
    t_lo, t_hi = _range(t_range, "t_range")
    n_grid = _count(n_grid, "n_grid", 3)
    h = _scalar(step, "step", positive=True)
    if log_pt_curvature is not None:
        curv_fn = _callable(log_pt_curvature, "log_pt_curvature")

        def curvature(t):
            return -1.0 - 2.0 * float(curv_fn(t))
    else:
        fn = _callable(log_pt, "log_pt")
        e, x_c = _direction_and_origin(direction, origin, n_dim)
        offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) * h
        stencil = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / (12.0 * h * h)

        def curvature(t):
            vals = np.asarray(fn(x_c + offsets[:, None] * e, t), dtype=np.float64).reshape(-1)
            if vals.shape != (5,):
                raise ValueError(f"log_pt: expected 5 values for 5 points, got shape {vals.shape}")
            return -1.0 - 2.0 * float(stencil @ vals)

    grid = np.geomspace(t_lo, t_hi, n_grid)
    vals = np.array([curvature(t) for t in grid])
    if not np.isfinite(vals).all():
        raise ValueError("log_pt: non-finite curvature on the t grid")
    if vals[-1] <= 0:
        raise ValueError(f"t_range: the curvature is not positive at t_max = {t_hi} (raise t_max)")
    neg = np.flatnonzero(vals <= 0)
    if neg.size == 0:
        return math.nan
    k = int(neg.max())
    if vals[k] == 0:
        return float(grid[k])
    u = brentq(lambda v: curvature(math.exp(v)), math.log(grid[k]), math.log(grid[k + 1]), xtol=_XTOL, rtol=_RTOL)
    return math.exp(u)


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


def _direction_and_origin(direction, origin, n_dim):
    if direction is not None:
        e = _array(direction, "direction", ndim=1)
        norm = float(np.linalg.norm(e))
        if norm == 0:
            raise ValueError("direction: must be non-zero")
        e = e / norm
    else:
        n = _count(n_dim, "n_dim", 1)
        e = np.zeros(n)
        e[0] = 1.0
    if origin is None:
        x_c = np.zeros_like(e)
    else:
        x_c = _array(origin, "origin", ndim=1)
        if x_c.shape != e.shape:
            raise ValueError(f"origin: expected shape {e.shape}, got {x_c.shape}")
    return e, x_c


def _expected_sech2(kappa):
    """``E sech^2(g)`` for ``g ~ N(kappa, kappa)`` (derived quadrature).

    Trapezoid rule in ``g`` over ``[kappa - 10 sqrt(kappa), kappa + 10 sqrt(kappa)]`` cut to
    ``[-40, 40]`` (``sech^2(40) < 1e-34``, the Gaussian beyond 10 sd < 1e-22), step
    ``min(1/4, sqrt(kappa) / 2)``. The integrand is entire but for the poles of ``sech^2`` at
    ``+-i pi / 2``, so the rule converges geometrically: error ``~exp(-pi^2 / h) < 1e-17`` from
    the poles and ``exp(-2 pi^2 kappa / h^2) < 1e-34`` from the Gaussian width.
    """
    if kappa == 0.0:
        return 1.0
    if not math.isfinite(kappa):
        return 0.0
    sd = math.sqrt(kappa)
    lo, hi = max(kappa - 10.0 * sd, -40.0), min(kappa + 10.0 * sd, 40.0)
    if lo >= hi:
        return 0.0
    h = min(0.25, 0.5 * sd)
    n = int(math.ceil((hi - lo) / h)) + 1
    g = np.linspace(lo, hi, n)
    e = np.exp(-2.0 * np.abs(g))
    sech2 = 4.0 * e / (1.0 + e) ** 2
    dens = np.exp(-0.5 * (g - kappa) ** 2 / kappa) / math.sqrt(2.0 * math.pi * kappa)
    return float(np.trapezoid(sech2 * dens, g))


def cloning_probability(t, mu_norm2, sigma2=1.0, process="vp", noise_scale=1.0):
    """Cloning probability ``phi(t)`` of the symmetric two-class mixture with the exact posterior.

    Biroli et al. (2024): two copies of a generative trajectory split at time ``t`` end in the
    same class with probability ``phi = E[sum_c P(c | x_t)^2] = E[(1 + tanh^2 g) / 2]``,
    ``g = a mu . x_t / G``, ``G = D + a^2 sigma2`` (``physics.md``), with ``x_t`` drawn from the
    mixture itself (planted). By symmetry take ``x_t`` from class +:
    ``mu . x_t = a |mu|^2 + sqrt(G) |mu| xi``, ``xi ~ N(0, 1)``, so (derived)

        g ~ N(kappa, kappa),   kappa = a^2 |mu|^2 / G = |mu|^2 / (s + sigma2),
        phi = 1 - E[sech^2 g] / 2,

    a one-dimensional Gaussian integral (trapezoid rule with geometric convergence, see
    ``_expected_sech2``). ``phi`` depends on N only through ``kappa``; for ``sigma2 = 1`` (VP)
    ``kappa = |mu|^2 e^{-2t}`` is a function of ``t - (1/2) log |mu|^2``, so curves with
    ``|mu|^2 = N`` collapse when plotted against ``t - (1/2) log N``. Limits: ``phi -> 1/2`` as
    ``t -> inf`` (``kappa -> 0``); as ``t -> 0``, ``kappa -> |mu|^2 / sigma2`` and ``phi -> 1``
    only for well-separated classes (``sigma2 = 0``: two deltas, ``phi(0) = 1``). Identity used
    in the tests (Nishimori): ``E tanh g = E tanh^2 g`` for this law.

    Parameters
    ----------
    t : float or array, >= 0
    mu_norm2 : float > 0
        ``|mu|^2``.
    sigma2 : float >= 0
        Variance per coordinate of each class.
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    m2 = _scalar(mu_norm2, "mu_norm2", positive=True)
    sigma2 = _scalar(sigma2, "sigma2", nonnegative=True)
    s = np.atleast_1d(np.asarray(s_from_time(t, proc, noise_scale), dtype=np.float64))
    out = np.empty(s.shape)
    for i, si in enumerate(s.ravel()):
        denom = si + sigma2
        kappa = m2 / denom if denom > 0 else math.inf
        out.flat[i] = 1.0 - 0.5 * _expected_sech2(kappa)
    return _out(out.reshape(np.shape(t)), t)


# ------------------------------------------------------------------------------------------
# posterior means in (y, s) variables
# ------------------------------------------------------------------------------------------
def two_deltas_mean(y, s, v=1.0):
    """Posterior mean of ``p0 = (1/2) delta(x0 - v) + (1/2) delta(x0 + v)``: ``m = v tanh(v . y / s)``.

    ``y = x_t / a_t``, ``s = D_t / a_t^2`` (``physics.md``, two deltas: ``P(+v | x_t) =
    (1 + tanh g) / 2``, ``g = a v . x_t / D = v . y / s``). In 1D VE with ``v = 1``:
    ``tanh(x / (sigma^2 t))``.

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


def mixture_posterior_mean(y, s, mu, sigma2):
    """Posterior mean of ``(1/2) N(mu, sigma2 I) + (1/2) N(-mu, sigma2 I)`` (``physics.md``).

    Class weights ``(1 +- tanh(mu . y / (s + sigma2))) / 2``, within-class mean
    ``(s (+-mu) + sigma2 y) / (s + sigma2)``, hence (derived)

        m(y) = [sigma2 y + s mu tanh(mu . y / (s + sigma2))] / (s + sigma2).

    Parameters
    ----------
    y : array (..., N); any shape for a scalar ``mu``
    s : float > 0
    mu : float or array (N,)
    sigma2 : float >= 0
    """
    s = _scalar(s, "s", positive=True)
    sigma2 = _scalar(sigma2, "sigma2", nonnegative=True)
    mu_arr = _array(mu, "mu")
    yy = _array(y, "y")
    G = s + sigma2
    if mu_arr.ndim == 0:
        mu_f = float(mu_arr)
        return (sigma2 * yy + s * mu_f * np.tanh(mu_f * yy / G)) / G
    if mu_arr.ndim != 1 or yy.shape[-1:] != mu_arr.shape:
        raise ValueError(f"y: expected shape (..., {mu_arr.size}), got {yy.shape}")
    return (sigma2 * yy + s * np.tanh((yy @ mu_arr) / G)[..., None] * mu_arr) / G


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
      bimodality criterion (:func:`bimodality_time`). This is the VE reverse drift
      ``sigma^2 grad log p_t``.
    * ``drift="vp"``: ``F = 2 (1 + s) m / (2 + s)``: the zeros of the VP reverse-SDE drift
      ``x + 2 grad log p_t`` (``x = a y``, ``D = s / (1 + s)``:
      ``x + 2 (a m - x) / D = a (2/D - 1) [F(y) - y]``), the stationary points of Yu & Huang's
      potential ``U``; their branching is :func:`speciation_time_potential`.

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
    e, _ = _direction_and_origin(direction, None, n_dim)
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

    Two deltas ``+-v``: ``s_c = |v|^2`` (:func:`two_deltas_critical_s`); mixture ``+-mu``,
    ``sigma2``: ``s_c = mu^2 - sigma2`` (``drift="ve"``, bimodality) or
    ``e^{2t} = mu^2 + sqrt(mu^4 + (sigma2 - 1)^2)`` (``drift="vp"``, Yu & Huang); hypersphere
    with ``r^2 = N``: ``s_c = 1``.

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
    e, _ = _direction_and_origin(direction, None, n_dim)
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


def branching_time(posterior_mean, *, s_range, process="vp", noise_scale=1.0, **kwargs):
    """:func:`branching_s` converted to a forward time (:func:`time_from_s`)."""
    s_c = branching_s(posterior_mean, s_range=s_range, **kwargs)
    return math.nan if math.isnan(s_c) else float(time_from_s(s_c, process, noise_scale))


def two_deltas_fixed_points(s, v_norm2=1.0):
    """Fixed points of ``x = m(x)`` for two deltas ``+-v``: ``x = m v`` with ``m = tanh(|v|^2 m / s)``.

    Reduction (derived): ``m(x) = v tanh(v . x / s)`` is parallel to ``v``, so a fixed point is
    ``x = m v`` and ``m v = v tanh(m |v|^2 / s)``. In 1D VE with ``v = 1`` this is
    ``m = tanh(m / s)``, ``s = sigma^2 t`` (``physics.md``). ``m = 0`` always; ``+-m*`` for
    ``s < |v|^2``. The positive root is found by Brent's method on ``tanh(K m) / m - 1``,
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
      ``m = tanh(beta J m + H)`` solved by :func:`curie_weiss_magnetisation`; control ``beta``,
      critical ``beta_c`` from :func:`curie_weiss_critical_beta` (numerical).

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


# ------------------------------------------------------------------------------------------
# Curie-Weiss
# ------------------------------------------------------------------------------------------
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


def curie_weiss_field(x_t, t, process="vp", noise_scale=1.0):
    """Random field ``h = a_t x_t / D_t`` of the diffused Curie-Weiss posterior (``physics.md``).

    Since ``|sigma|^2 = N``, the posterior of a spin prior given ``x_t`` is the same model in the
    field ``h = a_t x_t / D_t = y / s`` (add the prior's own field ``b`` if it has one).

    Parameters
    ----------
    x_t : array (N,)
    t : float > 0
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    noise = _scalar(noise_scale, "noise_scale", positive=True)
    tt = _scalar(t, "t", positive=True)
    x = _array(x_t, "x_t")
    a, D, _ = (float(v) for v in _coefficients(tt, proc, noise))
    return a * x / D


def _cw_grid():
    """``[-1, 1]`` uniformly (801 points) plus ``+-`` a geometric grid ``1e-10 .. 1e-2``."""
    geo = np.geomspace(1e-10, 1e-2, 60)
    return np.unique(np.concatenate([np.linspace(-1.0, 1.0, 801), geo, -geo, [0.0]]))


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


def _sech2(x):
    """``sech^2 x = 4 e / (1 + e)^2``, ``e = exp(-2 |x|)`` (no overflow)."""
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def _log2cosh(x):
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax))


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


# ------------------------------------------------------------------------------------------
# random energy model view of unplanted data-set disorder
# ------------------------------------------------------------------------------------------
def rem_kl(lam, s, sigma2=1.0):
    """Per-coordinate ``KL(tilted || prior)`` of the REM for Gaussian data (derived).

    Data ``y ~ N(0, sigma2 I_N)``, a noisy state from the population law (``Y = x_t / a``,
    ``|Y|^2 / N -> sigma2 + s``), energies ``E = |Y - y|^2 / (2 s)`` (``= |x_t - a y|^2 / (2 D)``).
    Tilting the prior by ``exp(-lam E)`` gives the Gaussian with variance
    ``v = (1/sigma2 + lam / s)^{-1}`` and mean ``v lam Y / s``, and (derived)

        KL(lam) = (1/2) [r + lam^2 sigma2 (sigma2 + s) / (s + lam sigma2)^2 - 1 - log r],
        r = v / sigma2 = s / (s + lam sigma2).

    ``KL(1) = (1/2) log(1 + sigma2 / s) = I(x0; x_t) / N`` for every ``sigma2`` (the tilted law
    at ``lam = 1`` is the posterior of the Gaussian prior).
    """
    lam = _array(lam, "lam", nonnegative=True)
    s = _array(s, "s", positive=True)
    sigma2 = _scalar(sigma2, "sigma2", positive=True)
    return _rem_kl(lam, s, sigma2)


def _rem_kl(lam, s, sigma2):
    denom = s + lam * sigma2
    r = s / denom
    return 0.5 * (r + lam * lam * sigma2 * (sigma2 + s) / denom**2 - 1.0 + np.log1p(lam * sigma2 / s))


def rem_parisi_m(t, alpha, sigma2=1.0, process="vp", noise_scale=1.0):
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
    sigma2 : float > 0
    process : {"vp", "ve"}
    noise_scale : float > 0
        ``sigma^2`` of the VE process.
    """
    proc = _process(process)
    alpha = _scalar(alpha, "alpha", positive=True)
    sigma2 = _scalar(sigma2, "sigma2", positive=True)
    _array(t, "t", positive=True)
    s = np.atleast_1d(np.asarray(s_from_time(t, proc, noise_scale), dtype=np.float64))
    out = np.empty(s.shape)
    for i, si in enumerate(s.ravel()):
        if not math.isfinite(si) or _rem_kl(1.0, si, sigma2) <= alpha:
            out.flat[i] = 1.0
        else:
            out.flat[i] = brentq(lambda lam: _rem_kl(lam, si, sigma2) - alpha, 0.0, 1.0, xtol=1e-300, rtol=_RTOL)
    return _out(out.reshape(np.shape(t)), t)


def rem_condensation_time(alpha, sigma2=1.0, process="vp", noise_scale=1.0):
    """Time at which the unplanted posterior over ``n = exp(alpha N)`` Gaussian points condenses.

    The root of ``KL(1; s) = alpha`` (:func:`rem_kl`), solved numerically in ``log s`` with the
    general formula of ``KL``. Since ``KL(1) = (1/2) log(1 + sigma2 / s)`` it coincides with
    :func:`collapse_time` for every ``sigma2`` (derived; the tests check the numbers): for
    i.i.d. Gaussian data the REM condensation of an unplanted noisy state and the collapse onto
    the generating point of a planted one happen at the same time.

    Parameters
    ----------
    alpha : float or array, > 0
    sigma2 : float > 0
    process : {"vp", "ve"}
    noise_scale : float > 0
    """
    proc = _process(process)
    sigma2 = _scalar(sigma2, "sigma2", positive=True)
    al = _array(alpha, "alpha", positive=True)
    out = np.empty(al.shape)
    for i, a in enumerate(al.ravel()):
        lo = math.log(sigma2 / math.expm1(min(2.0 * a, 700.0))) - 1.0
        hi = math.log(sigma2 / (2.0 * a)) + 1.0
        u = brentq(lambda v: float(_rem_kl(1.0, math.exp(v), sigma2)) - a, lo, hi, xtol=_XTOL, rtol=_RTOL)
        out.flat[i] = time_from_s(math.exp(u), proc, noise_scale)
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
