"""Speciation: when the posterior of a two-class (or any) data law commits to a class.

Holds three named speciation criteria, which are different quantities that differ by O(1) in
``e^{2t}``: :func:`speciation_time` (the top covariance eigenvalue, Biroli et al.),
:func:`speciation_time_potential` (the curvature of the reverse-SDE potential, Yu & Huang) and
:func:`bimodality_time` (``p_t`` bimodal); the planted cloning probability
(:func:`cloning_probability`); and the marginal density and posterior mean of the symmetric
two-class Gaussian mixture (:func:`mixture_log_density`, :func:`mixture_posterior_mean`).

Notation: the mixture is ``(1/2) N(mu, variance I_N) + (1/2) N(-mu, variance I_N)``. ``mu`` is
the class mean itself (a vector, or a float for ``N = 1``); ``mu_norm2 = |mu|^2`` is its squared
norm, ``N mu^2`` for the per-coordinate ``mu`` of ``mc.GaussianMixture.two_class(mu, n_dim=N)``
and of the scan specs; ``variance`` is the variance per coordinate of each class; ``sigma`` is
the standard deviation parameter of ``mc.VE(sigma)`` (``D_t = sigma^2 t``, keyword-only, ignored
for VP); ``s = D_t / a_t^2``.

Related elsewhere: the speciation time by the potential criterion for any model and process,
located numerically, is ``replica.thermo.speciation_time_potential_numeric``; the branching of
the zeros of the reverse drift, :func:`replica.theory.branching_time`; and two times of Yu &
Huang's model that are not speciation criteria, ``replica.yu_huang_disappearance_time`` (the
secondary minimum of their Franz-Parisi potential disappears) and
``replica.thermo.yu_huang_reverse_flux_minimum_time`` (the minimum of the reverse entropy flux).

Sources
-------
* Biroli, Bonnaire, de Bortoli & Mezard (2024), "Dynamical regimes of diffusion models",
  Nat. Commun. 15, 9957, arXiv:2402.18491: speciation time ``t_S = (1/2) log Lambda``, the
  cloning probability.
* Yu & Huang (2025), "Nonequilibrium physics of generative diffusion models", Phys. Rev. E 111,
  014111, arXiv:2405.11932: speciation as the vanishing curvature of the reverse-SDE potential,
  ``t_s = (1/2) log(|mu|^2 + sqrt(|mu|^4 + (variance - 1)^2))``.
* "derived": worked out for this package; the derivation is in the docstring.
"""
from __future__ import annotations

import math

import numpy as np

from ._common import _array, _coefficients, _out, _process, _scalar, _sigma, s_from_time

__all__ = [
    "speciation_time",
    "speciation_time_potential",
    "bimodality_time",
    "mixture_log_density",
    "mixture_posterior_mean",
    "cloning_probability",
]


def speciation_time(cov, process="vp", *, sigma=1.0):
    """Speciation time of Biroli et al. (2024): ``t_S = (1/2) log Lambda`` (VP).

    ``Lambda`` is the largest eigenvalue of the data covariance: at ``t_S`` the signal variance
    along the top principal direction, ``a_t^2 Lambda = e^{-2t} Lambda``, equals the stationary
    variance 1 of the VP process. VE analogue (derived, same statement with the noise variance
    in place of the stationary one): ``s_S = Lambda``, ``t_S = Lambda / sigma^2``. For the
    two-class mixture ``+-mu`` with ``variance``, ``Lambda = |mu|^2 + variance``. Other
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
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Examples
    --------
    >>> speciation_time(4.0, "ve", sigma=2.0)
    1.0
    """
    proc = _process(process)
    sd = _sigma(sigma)
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
    return lam / (sd * sd)


def speciation_time_potential(mu_norm2, variance):
    """Speciation time of Yu & Huang: the curvature of the reverse-SDE potential vanishes at 0.

    VP process, data ``(1/2) N(mu, variance) + (1/2) N(-mu, variance)`` in 1D. The reverse SDE
    ``dx = (x + 2 d_x log p_t) dt + sqrt(2) dW`` (backward time) has drift ``-U'(x)`` with
    ``U = -x^2/2 - 2 log p_t``; ``p_t`` is the mixture ``+-a mu`` with variance
    ``G = 1 - a^2 + a^2 variance``, so ``U''(0) = -1 + 2 / G - 2 a^2 mu^2 / G^2``. It vanishes
    at ``a^{-2} = e^{2t} = mu^2 + sqrt(mu^4 + (variance - 1)^2)`` (Yu & Huang 2025; checked
    here: ``u = a^2`` solves ``(variance - 1)^2 u^2 + 2 mu^2 u - 1 = 0``), so with
    ``mu_norm2 = |mu|^2``

        t_s = (1/2) log(mu_norm2 + sqrt(mu_norm2^2 + (variance - 1)^2)).

    Above ``t_s`` the origin is a minimum of ``U``, below it a maximum (two wells).
    ``mu_norm2 = 1, variance = 0.1`` gives 0.426220, the value Yu & Huang quote.

    N dimensions (derived): for ``(1/2) N(mu, variance I) + (1/2) N(-mu, variance I)`` the
    Hessian of ``U`` at 0 is ``(-1 + 2 / G) I - 2 a^2 mu mu^T / G^2``: along ``mu`` the 1D
    formula with ``mu^2 -> |mu|^2``; orthogonal to it ``-1 + 2/G``, positive while ``G < 2``
    (always for ``variance < 2``, since ``G`` lies between 1 and ``variance``). With the
    per-coordinate ``mu`` of the models, ``mu_norm2 = N mu^2``.

    Returns ``nan`` when ``mu_norm2 + sqrt(mu_norm2^2 + (variance - 1)^2) <= 1`` (the curvature
    stays positive at every t > 0).

    The same quantity for any model and process, located numerically from the exact posterior:
    ``replica.thermo.speciation_time_potential_numeric``; as the branching of the zeros of the VP
    reverse drift: :func:`replica.theory.branching_time` with ``drift="vp"``. Different
    quantities: :func:`speciation_time`, :func:`bimodality_time`,
    ``replica.yu_huang_disappearance_time`` (the spinodal of Yu & Huang's Franz-Parisi
    potential), ``replica.thermo.yu_huang_reverse_flux_minimum_time``.

    Parameters
    ----------
    mu_norm2 : float >= 0
        ``|mu|^2``, the squared norm of the class mean.
    variance : float >= 0
        Variance per coordinate of each class (0: two deltas).

    Examples
    --------
    >>> round(speciation_time_potential(1.0, 0.1), 6)
    0.42622
    """
    m2 = _scalar(mu_norm2, "mu_norm2", nonnegative=True)
    variance = _scalar(variance, "variance", nonnegative=True)
    x = m2 + math.hypot(m2, variance - 1.0)
    return 0.5 * math.log(x) if x > 1.0 else math.nan


def bimodality_time(mu_norm2, variance, process="vp", *, sigma=1.0):
    """Largest time at which ``p_t`` of the symmetric two-class mixture is bimodal (criterion (c)).

    ``p_t`` is the equal-weight mixture of ``N(+-a mu, G)``, ``G = D + a^2 variance``. An
    equal-weight mixture of two Gaussians of equal variance ``G`` and means ``+-c`` is bimodal
    iff ``c^2 > G`` (derived: ``log p = -x^2 / (2G) + log cosh(c x / G) + const`` has
    ``(log p)'' = -1/G + (c/G)^2 sech^2(c x / G) <= -1/G + c^2 / G^2``, so ``log p`` is concave
    for ``c^2 <= G``, while for ``c^2 > G`` the origin is a local minimum between two maxima).
    With ``c^2 = a^2 |mu|^2 = a^2 mu_norm2``:

    * VP: ``a^2 (mu_norm2 + 1 - variance) > 1``, i.e. ``t_b = (1/2) log(1 + mu_norm2 - variance)``;
    * VE: ``mu_norm2 > s + variance``, i.e. ``s_b = mu_norm2 - variance``, ``t_b = s_b / sigma^2``.

    ``nan`` when ``mu_norm2 <= variance`` (``p_0`` itself is unimodal). In N dimensions the
    modes lie on the line of ``mu`` (derived), so only ``|mu|^2`` enters. The branching of the
    fixed points of ``y = m(y)`` (:func:`replica.theory.reverse_drift_fixed_points`,
    ``drift="ve"``) is the same criterion, since ``y = m(y)`` is the vanishing of the score
    (Tweedie).

    Parameters
    ----------
    mu_norm2 : float >= 0
        ``|mu|^2``, the squared norm of the class mean.
    variance : float >= 0
        Variance per coordinate of each class.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    m2 = _scalar(mu_norm2, "mu_norm2", nonnegative=True)
    variance = _scalar(variance, "variance", nonnegative=True)
    if not m2 > variance:
        return math.nan
    if proc == "vp":
        return 0.5 * math.log1p(m2 - variance)
    return (m2 - variance) / (sd * sd)


def mixture_log_density(x, t, mu, variance, process="vp", *, sigma=1.0):
    """``log p_t(x)`` of the symmetric two-class mixture ``(1/2) N(mu, variance I) + (1/2) N(-mu, variance I)``.

    ``p_t = (1/2) N(a mu, G I) + (1/2) N(-a mu, G I)``, ``G = D + a^2 variance`` (``physics.md``):

        log p_t(x) = -(|x|^2 + a^2 |mu|^2) / (2 G) + log cosh(a mu . x / G) - (N/2) log(2 pi G).

    Parameters
    ----------
    x : array (..., N); any shape for a float ``mu`` (one-dimensional points, elementwise)
    t : float >= 0 (``t = 0`` needs ``variance > 0``)
    mu : float or array (N,)
        The class mean itself: a vector, or a float for the one-dimensional mixture. For the
        per-coordinate ``mu`` of ``mc.GaussianMixture.two_class(mu, n_dim=N)`` pass
        ``np.full(N, mu)``.
    variance : float >= 0
        Variance per coordinate of each class.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _scalar(t, "t", nonnegative=True)
    variance = _scalar(variance, "variance", nonnegative=True)
    xx = _array(x, "x")
    mu_arr = _array(mu, "mu")
    a, D, _ = (float(v) for v in _coefficients(tt, proc, sd))
    G = D + a * a * variance
    if not G > 0:
        raise ValueError("t: must be > 0 when variance = 0 (p_0 has no density)")
    if mu_arr.ndim == 0:
        proj, x2, m2, n_dim = float(mu_arr) * xx, xx * xx, float(mu_arr) ** 2, 1
    else:
        if xx.shape[-1:] != mu_arr.shape:
            raise ValueError(f"x: expected shape (..., {mu_arr.size}), got {xx.shape}")
        proj, x2, m2, n_dim = xx @ mu_arr, np.sum(xx * xx, axis=-1), float(mu_arr @ mu_arr), mu_arr.size
    g = a * proj / G
    log_cosh = np.abs(g) + np.log1p(np.exp(-2.0 * np.abs(g))) - math.log(2.0)
    return -(x2 + a * a * m2) / (2.0 * G) + log_cosh - 0.5 * n_dim * math.log(2.0 * math.pi * G)


def mixture_posterior_mean(y, s, mu, variance):
    """Posterior mean of ``(1/2) N(mu, variance I) + (1/2) N(-mu, variance I)`` (``physics.md``).

    Class weights ``(1 +- tanh(mu . y / (s + variance))) / 2``, within-class mean
    ``(s (+-mu) + variance y) / (s + variance)``, hence (derived)

        m(y) = [variance y + s mu tanh(mu . y / (s + variance))] / (s + variance).

    Parameters
    ----------
    y : array (..., N); any shape for a float ``mu`` (one-dimensional points, elementwise)
    s : float > 0
        Effective noise variance ``D_t / a_t^2``.
    mu : float or array (N,)
        The class mean itself (a float for the one-dimensional mixture; for the per-coordinate
        ``mu`` of the models pass ``np.full(N, mu)``).
    variance : float >= 0
        Variance per coordinate of each class.
    """
    s = _scalar(s, "s", positive=True)
    variance = _scalar(variance, "variance", nonnegative=True)
    mu_arr = _array(mu, "mu")
    yy = _array(y, "y")
    G = s + variance
    if mu_arr.ndim == 0:
        mu_f = float(mu_arr)
        return (variance * yy + s * mu_f * np.tanh(mu_f * yy / G)) / G
    if mu_arr.ndim != 1 or yy.shape[-1:] != mu_arr.shape:
        raise ValueError(f"y: expected shape (..., {mu_arr.size}), got {yy.shape}")
    return (variance * yy + s * np.tanh((yy @ mu_arr) / G)[..., None] * mu_arr) / G


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


def cloning_probability(t, mu_norm2, variance=1.0, process="vp", *, sigma=1.0):
    """Cloning probability ``phi(t)`` of the symmetric two-class mixture with the exact posterior.

    Biroli et al. (2024): two copies of a generative trajectory split at time ``t`` end in the
    same class with probability ``phi = E[sum_c P(c | x_t)^2] = E[(1 + tanh^2 g) / 2]``,
    ``g = a mu . x_t / G``, ``G = D + a^2 variance`` (``physics.md``), with ``x_t`` drawn from
    the mixture itself (planted). By symmetry take ``x_t`` from class +:
    ``mu . x_t = a |mu|^2 + sqrt(G) |mu| xi``, ``xi ~ N(0, 1)``, so (derived)

        g ~ N(kappa, kappa),   kappa = a^2 |mu|^2 / G = mu_norm2 / (s + variance),
        phi = 1 - E[sech^2 g] / 2,

    a one-dimensional Gaussian integral (trapezoid rule with geometric convergence, see
    ``_expected_sech2``). ``phi`` depends on N only through ``kappa``; for ``variance = 1``
    (VP) ``kappa = |mu|^2 e^{-2t}`` is a function of ``t - (1/2) log |mu|^2``, so curves with
    ``|mu|^2 = N`` collapse when plotted against ``t - (1/2) log N``. Limits: ``phi -> 1/2`` as
    ``t -> inf`` (``kappa -> 0``); as ``t -> 0``, ``kappa -> |mu|^2 / variance`` and ``phi -> 1``
    only for well-separated classes (``variance = 0``: two deltas, ``phi(0) = 1``). Identity
    used in the tests (Nishimori): ``E tanh g = E tanh^2 g`` for this law.

    Parameters
    ----------
    t : float or array, >= 0
    mu_norm2 : float > 0
        ``|mu|^2``, the squared norm of the class mean (``N mu^2`` for a per-coordinate ``mu``).
    variance : float >= 0
        Variance per coordinate of each class.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).
    """
    proc = _process(process)
    sd = _sigma(sigma)
    m2 = _scalar(mu_norm2, "mu_norm2", positive=True)
    variance = _scalar(variance, "variance", nonnegative=True)
    s = np.atleast_1d(np.asarray(s_from_time(t, proc, sigma=sd), dtype=np.float64))
    out = np.empty(s.shape)
    for i, si in enumerate(s.ravel()):
        denom = si + variance
        kappa = m2 / denom if denom > 0 else math.inf
        out.flat[i] = 1.0 - 0.5 * _expected_sech2(kappa)
    return _out(out.reshape(np.shape(t)), t)
