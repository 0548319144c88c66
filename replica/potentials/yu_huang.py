"""Yu & Huang's Franz-Parisi potential of the two-Gaussian mixture under the VP process, and its
N-dimensional generalisation.

The construction (Z. Yu & H. Huang, "Nonequilibrium physics of generative diffusion models",
Phys. Rev. E 111, 014111 (2025), arXiv:2405.11932, Sec. on the Franz-Parisi potential, their
Eqs. (73)-(79); ``physics.md``): data ``p0 = (1/2) N(mu, variance) + (1/2) N(-mu, variance)`` in
one dimension, VP process ``x_t = a x0 + sqrt(D) z`` with ``a = e^{-t}``, ``D = 1 - e^{-2t}``;
the reference ``x_ref`` and the noisy state ``x_t`` are drawn jointly (``x_ref ~ p0``, ``x_t``
from the forward kernel: planted disorder, ``x_ref`` an exact posterior sample); with

    H(x | x_t) = (x_t - a x)^2 / (2 D) - log p0(x)          (p0 normalised, the Gaussian kernel not),
    Z(Q | x_ref, x_t) = int dx exp(-H(x | x_t)) delta(Q - (x - x_ref)^2)
                      = [exp(-H(x_ref + sqrt Q)) + exp(-H(x_ref - sqrt Q))] / (2 sqrt Q),
    V(Q) = -E_{(x_ref, x_t)} log Z(Q | x_ref, x_t).

Their normalisation is kept: ``H`` contains the normalised prior and the kernel without its
``1 / sqrt(2 pi D)`` (``likelihood_norm=True`` adds ``(1/2) log(2 pi D)`` to ``V``, the kernel's
normalisation). ``V`` differs from ``-E log P(Q | x_ref, x_t)`` (``P`` the normalised posterior
density of ``Q``, the definition of :func:`replica.franz_parisi`) by the Q-independent
``E log Z_total = (1/2) log(2 pi D) + E log p_t(x_t)``.

Notation: ``mu`` is the class mean (per coordinate in N dimensions), ``variance`` the class
variance (``variance`` of ``mc.GaussianMixture.two_class``) and ``sigma = sqrt(variance)`` the
class standard deviation, used only inside the formulas below; the process is VP, which has no
noise parameter (``sigma`` here is not that of ``mc.VE``).

Defaults ``mu = 1``, ``variance = 0.1``, inferred from the paper: its Franz-Parisi figure is
drawn next to the speciation time ``t_S = 0.42622``, and their speciation formula
``t_S = (1/2) log(mu^2 + sqrt(mu^4 + (variance - 1)^2))``
(:func:`replica.theory.speciation_time_potential`, ``physics.md``) gives 0.426220 for
``mu = 1, variance = 0.1`` (the other solution, ``variance = 1.9``, is a unimodal prior without
a secondary minimum at any t). That time (the curvature of the reverse-SDE potential vanishes)
and :func:`yu_huang_disappearance_time` (the secondary minimum of ``V`` disappears, a spinodal)
are different quantities.

Quadrature (derived). With ``x_ref = mu + sigma g1`` (the mixture is symmetric, so the class
of the reference can be fixed) and ``x_t = a x_ref + sqrt(D) g2``, the two exponents
``-H(x_ref +- r)``, ``r = sqrt Q``, differ by a linear function of ``g2``, and the Gaussian
average over ``g2`` of their quadratic parts is elementary:

    V(Q) = 1/2 + a^2 Q / (2 D) + (1/2) log(4 Q) - E_{g1}[ (L+ + L-)/2 + F(m, s) ],
    L+- = log p0(x_ref +- r),  m = (L+ - L-)/2,  s = a r / sqrt(D),
    F(m, s) = E_g log(2 cosh(m + s g)),  g ~ N(0, 1).

Both Gaussian averages use the trapezoid rule on ``[-8.5, 8.5]`` with steps set by the distance
of the nearest complex singularity of the integrand (``pi / (2 s)`` for ``F``,
``pi sigma / (2 mu)`` for ``log p0``), which makes them accurate to about 1e-13. With the nodes
fixed, ``V`` is an explicit smooth function of ``Q``; its first and second derivatives are the
same sums differentiated analytically (:func:`yu_huang_potential_derivatives`).

N dimensions (derived; :func:`yu_huang_potential_nd`). Prior ``(1/2) N(mu 1, variance I) +
(1/2) N(-mu 1, variance I)`` with ``1 = (1, ..., 1)`` and ``mu`` per coordinate (so the class
mean has ``|mu 1|^2 = N mu^2`` and N = 1 is Yu & Huang's model), ``Q = |x - x_ref|^2 / N``.
Given ``x_t`` the posterior is the two-class mixture with weights
``(1 +- tanh(mu 1 . y / (variance + s)))/2`` (``y = x_t / a``, ``s = D / a^2``) and within-class
covariance ``v I``, ``v = variance s / (variance + s)``; given the class, ``N Q / v`` is
noncentral chi-square with N degrees of freedom. For a planted reference of class + the law of
the whole problem reduces to three independent scalars: ``xi ~ N(0, variance + s)``
(``mu 1 . y = N mu^2 + sqrt(N) mu xi``), ``zeta ~ N(0, 1)`` and ``R ~ chi^2_{N-1}``, with
noncentralities ``lambda_same = zeta^2 + R`` and
``lambda_other = (zeta - 2 sqrt(v N) mu / variance)^2 + R``. The expectation over them is a Monte
Carlo average with common random numbers across Q (so each curve is smooth in Q) and a
standard error; ``P`` is the normalised density, ``V_N(Q) = -(1/N) E log P(Q)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from mc._validation import as_float_array, as_generator, as_positive_int, as_scalar

from .kernels import gaussian_nodes, gaussian_step, log2cosh, log_ncx2_pdf

__all__ = [
    "YU_HUANG_MU",
    "YU_HUANG_VARIANCE",
    "Spinodal",
    "yu_huang_potential",
    "yu_huang_potential_derivatives",
    "yu_huang_extrema",
    "yu_huang_disappearance_time",
    "yu_huang_potential_nd",
]

#: Default class mean of Yu & Huang's mixture (see the module docstring for the source).
YU_HUANG_MU = 1.0
#: Default class variance of Yu & Huang's mixture.
YU_HUANG_VARIANCE = 0.1
#: Accuracy parameter of the trapezoid steps (error about exp(-2 pi accuracy)).
_ACCURACY = 6.0


def _check_params(t, mu, variance):
    t = as_scalar(t, "t", positive=True)
    mu = as_scalar(mu, "mu", nonnegative=True)
    variance = as_scalar(variance, "variance", positive=True)
    return t, mu, variance


def _check_q(Q, name="Q"):
    q = as_float_array(Q, name)
    if q.size == 0:
        raise ValueError(f"{name}: empty")
    if (q <= 0).any():
        raise ValueError(f"{name}: must be > 0 (V diverges like (1/2) log Q at Q = 0), got min {q.min()}")
    return q


class _Prior1D:
    """``log p0`` of the symmetric 1D mixture and its first two derivatives (derived:
    ``p0 = exp(-(x^2 + mu^2) / (2 variance)) cosh(mu x / variance) / sqrt(2 pi variance)``)."""

    def __init__(self, mu, variance):
        self.mu, self.variance = mu, variance
        self.k = mu / variance
        self.const = -0.5 * math.log(2.0 * math.pi * variance) - math.log(2.0)

    def log_p(self, x):
        return -0.5 * (x * x + self.mu**2) / self.variance + log2cosh(self.k * x) + self.const

    def derivatives(self, x):
        th = np.tanh(self.k * x)
        return -x / self.variance + self.k * th, -1.0 / self.variance + self.k**2 * (1.0 - th * th)


def _yh_sums(q_values, t, mu, variance, order):
    """``V`` (and its Q-derivatives up to ``order``) at each ``Q`` (formulas in the module docstring)."""
    a = math.exp(-t)
    D = -math.expm1(-2.0 * t)
    alpha = a * a / (2.0 * D)
    kappa = a / math.sqrt(D)
    prior = _Prior1D(mu, variance)
    sigma = math.sqrt(variance)  # class standard deviation
    d1 = math.inf if mu == 0 else math.pi * sigma / (2.0 * mu)
    g1, w1 = gaussian_nodes(gaussian_step(d1, _ACCURACY, 0.2))
    x_ref = mu + sigma * g1
    out = np.empty((order + 1, q_values.size))
    for i, Q in enumerate(q_values.ravel()):
        r = math.sqrt(Q)
        s = kappa * r
        g2, w2 = gaussian_nodes(gaussian_step(math.pi / (2.0 * s) if s > 0 else math.inf, _ACCURACY))
        xp, xm = x_ref + r, x_ref - r
        Lp, Lm = prior.log_p(xp), prior.log_p(xm)
        m = 0.5 * (Lp - Lm)
        X = m[:, None] + s * g2[None, :]
        F = log2cosh(X) @ w2
        G = float(w1 @ (0.5 * (Lp + Lm) + F))
        out[0, i] = 0.5 + alpha * Q + 0.5 * math.log(4.0 * Q) - G
        if order == 0:
            continue
        d1p, d2p = prior.derivatives(xp)
        d1m, d2m = prior.derivatives(xm)
        T = np.tanh(X)
        Fm = T @ w2
        Fs = T @ (w2 * g2)
        A1 = (d1p - d1m) / (4.0 * r)
        m1 = (d1p + d1m) / (4.0 * r)
        s1 = kappa / (2.0 * r)
        out[1, i] = alpha + 0.5 / Q - float(w1 @ (A1 + Fm * m1 + Fs * s1))
        if order == 1:
            continue
        with np.errstate(under="ignore"):
            e = np.exp(-2.0 * np.abs(X))
        S2 = 4.0 * e / (1.0 + e) ** 2  # sech^2, no cancellation
        Fmm = S2 @ w2
        Fms = S2 @ (w2 * g2)
        Fss = S2 @ (w2 * g2 * g2)
        r3 = r * Q
        A2 = (d2p + d2m) / (8.0 * Q) - (d1p - d1m) / (8.0 * r3)
        m2 = (d2p - d2m) / (8.0 * Q) - (d1p + d1m) / (8.0 * r3)
        s2 = -kappa / (4.0 * r3)
        inner = A2 + Fmm * m1 * m1 + 2.0 * Fms * m1 * s1 + Fss * s1 * s1 + Fm * m2 + Fs * s2
        out[2, i] = -0.5 / (Q * Q) - float(w1 @ inner)
    return out.reshape((order + 1,) + q_values.shape)


def yu_huang_potential(Q, t, *, mu=YU_HUANG_MU, variance=YU_HUANG_VARIANCE, likelihood_norm=False):
    """Yu & Huang's Franz-Parisi potential ``V(Q) = -E log Z(Q | x_ref, x_t)`` of the 1D mixture.

    Parameters
    ----------
    Q : float or array (> 0)
        Squared distance ``(x - x_ref)^2``.
    t : float (> 0)
        VP time (``a = e^{-t}``, ``D = 1 - e^{-2t}``).
    mu : float
        Class mean of the data ``(N(mu, variance) + N(-mu, variance)) / 2``; default 1.
    variance : float (> 0)
        Class variance (the square of the class standard deviation); default 0.1 (source of
        both defaults in the module docstring).
    likelihood_norm : bool
        Add ``(1/2) log(2 pi D)`` (``H`` with the normalised Gaussian kernel).

    Returns
    -------
    ndarray (shape of ``Q``), by deterministic quadrature (module docstring; accuracy ~1e-12).

    >>> v = yu_huang_potential([1.32, 3.65], 1.0)   # barrier top, secondary minimum
    >>> bool(v[1] < v[0])
    True
    """
    t, mu, variance = _check_params(t, mu, variance)
    q = _check_q(Q)
    v = _yh_sums(q, t, mu, variance, 0)[0]
    if likelihood_norm:
        v = v + 0.5 * math.log(2.0 * math.pi * -math.expm1(-2.0 * t))
    return float(v) if np.ndim(Q) == 0 else v


def yu_huang_potential_derivatives(Q, t, *, mu=YU_HUANG_MU, variance=YU_HUANG_VARIANCE, likelihood_norm=False):
    """``(V, dV/dQ, d^2V/dQ^2)`` of :func:`yu_huang_potential`, the derivatives analytic.

    Differentiating the quadrature sum (derived): with ``r = sqrt Q``, ``L+-' = +- l'(x+-) / (2r)``,
    ``L+-'' = l''(x+-) / (4Q) -+ l'(x+-) / (4 r^3)`` (``l = log p0``), ``s' = s / (2Q)``,
    ``s'' = -s / (4 Q^2)``, and ``F_m = E tanh X``, ``F_s = E g tanh X``, ``F_mm = E sech^2 X``,
    ``F_ms = E g sech^2 X``, ``F_ss = E g^2 sech^2 X`` (``X = m + s g``):
    ``V' = a^2 / (2D) + 1 / (2Q) - E[A' + F_m m' + F_s s']`` and
    ``V'' = -1 / (2 Q^2) - E[A'' + F_mm m'^2 + 2 F_ms m' s' + F_ss s'^2 + F_m m'' + F_s s'']``
    with ``A = (L+ + L-)/2``, ``m = (L+ - L-)/2``.
    """
    t, mu, variance = _check_params(t, mu, variance)
    q = _check_q(Q)
    out = _yh_sums(q, t, mu, variance, 2)
    if likelihood_norm:
        out[0] = out[0] + 0.5 * math.log(2.0 * math.pi * -math.expm1(-2.0 * t))
    if np.ndim(Q) == 0:
        return tuple(float(v) for v in out)
    return out[0], out[1], out[2]


def _default_q_range(mu, variance):
    sigma = math.sqrt(variance)
    return 1e-3 * min(1.0, variance), (2.0 * mu + 12.0 * sigma) ** 2


def _dv(Q, t, mu, variance, k):
    return float(_yh_sums(np.array([Q]), t, mu, variance, k)[k][0])


def _min_slope(t, mu, variance, q_lo, q_hi, n_scan):
    """``min_Q dV/dQ`` over ``[q_lo, q_hi]`` and where it is (scan, then bounded Brent)."""
    grid = np.geomspace(q_lo, q_hi, n_scan)
    slopes = _yh_sums(grid, t, mu, variance, 1)[1]
    i = int(np.argmin(slopes))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_scan - 1)]
    res = optimize.minimize_scalar(lambda q: _dv(q, t, mu, variance, 1), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10 * hi})
    if res.fun < slopes[i]:
        return float(res.fun), float(res.x)
    return float(slopes[i]), float(grid[i])


def yu_huang_extrema(t, *, mu=YU_HUANG_MU, variance=YU_HUANG_VARIANCE, q_range=None, n_scan=80):
    """The barrier (local maximum) and the secondary minimum of :func:`yu_huang_potential` at each t.

    ``V`` increases from ``-inf`` at ``Q = 0`` (the ``(1/2) log Q`` of the Jacobian). A secondary
    minimum exists where ``dV/dQ`` becomes negative somewhere: the smallest slope over
    ``q_range`` is found (scan on a geometric grid, bounded Brent refinement); if it is negative,
    the barrier top and the secondary minimum are the roots of ``dV/dQ`` on either side
    (Brent's method, tolerance 1e-12 relative).

    Returns
    -------
    DataFrame with one row per t: ``t, exists, q_barrier, V_barrier, q_secondary, V_secondary,
    barrier`` (``V_barrier - V_secondary``, the escape barrier of the metastable state) and
    ``min_slope``; NaN where no secondary minimum exists.
    """
    import pandas as pd

    times = as_float_array(t, "t")
    if times.ndim > 1 or times.size == 0:
        raise ValueError(f"t: expected a scalar or a 1-D array of times, got shape {times.shape}")
    _check_params(1.0, mu, variance)
    q_lo, q_hi = _default_q_range(mu, variance) if q_range is None else _check_q(q_range, "q_range")
    n_scan = as_positive_int(n_scan, "n_scan", minimum=8)
    rows = []
    for tt in np.atleast_1d(times):
        tt, mu_, var_ = _check_params(float(tt), mu, variance)
        slope, q_star = _min_slope(tt, mu_, var_, q_lo, q_hi, n_scan)
        row = {"t": tt, "exists": slope < 0, "q_barrier": math.nan, "V_barrier": math.nan,
               "q_secondary": math.nan, "V_secondary": math.nan, "barrier": math.nan, "min_slope": slope}
        if slope < 0:
            f = lambda q: _dv(q, tt, mu_, var_, 1)  # noqa: E731
            left = np.geomspace(q_lo, q_star, 40)
            right = np.geomspace(q_star, q_hi, 40)
            fl = np.array([f(q) for q in left])
            fr = np.array([f(q) for q in right])
            j = int(np.flatnonzero(fl > 0)[-1])
            k = int(np.flatnonzero(fr > 0)[0])
            qb = optimize.brentq(f, left[j], q_star, xtol=1e-14, rtol=1e-12)
            qs = optimize.brentq(f, q_star, right[k], xtol=1e-14, rtol=1e-12)
            vb, vs = _yh_sums(np.array([qb, qs]), tt, mu_, var_, 0)[0]
            row.update(q_barrier=qb, V_barrier=vb, q_secondary=qs, V_secondary=vs, barrier=vb - vs)
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Spinodal:
    """Where the secondary minimum of Yu & Huang's potential disappears (it merges with the
    barrier top: ``dV/dQ = d^2V/dQ^2 = 0``).

    Attributes
    ----------
    t : float
        Time: the secondary minimum exists for ``t > t`` near it and not below (nan if none found).
    q : float
        Location of the merger.
    V : float
        ``V(q)`` there.
    dV, d2V : float
        The two derivatives at the point (both ~0; checks of the root).
    """

    t: float
    q: float
    V: float
    dV: float
    d2V: float


def yu_huang_disappearance_time(*, mu=YU_HUANG_MU, variance=YU_HUANG_VARIANCE, t_range=(0.01, 5.0), n_times=24,
                                q_range=None, n_scan=80):
    """Time at which the secondary minimum of :func:`yu_huang_potential` disappears.

    ``h(t) = min_Q dV/dQ`` is continuous in t and negative exactly where a secondary minimum
    exists; its root is found by Brent's method after a scan of ``n_times`` geometric times in
    ``t_range`` locates the sign change (the smallest t where ``h`` turns negative). At the root
    the minimising ``Q`` is the merger point, where ``dV/dQ = d^2V/dQ^2 = 0``.

    A spinodal of the Franz-Parisi potential, not a speciation criterion: Yu & Huang's speciation
    time (the curvature of the reverse-SDE potential vanishes) is
    :func:`replica.theory.speciation_time_potential` (0.42622 at the defaults, where this time is
    about 0.21).

    Parameters
    ----------
    mu, variance : float
        Class mean and class variance, as in :func:`yu_huang_potential`.
    t_range : (float, float)
        Where to look for the sign change.
    n_times : int
        Geometric times of the scan in ``t_range``.
    q_range : (float, float), optional
        Range of ``Q`` searched for the smallest slope (default from ``mu`` and ``variance``).
    n_scan : int
        Grid points of that search.

    Returns a :class:`Spinodal` (fields nan when ``h`` does not change sign in ``t_range``).
    """
    _check_params(1.0, mu, variance)
    lo, hi = (as_scalar(v, "t_range", positive=True) for v in t_range)
    if not hi > lo:
        raise ValueError(f"t_range: expected (t_min, t_max) with t_min < t_max, got {t_range!r}")
    q_lo, q_hi = _default_q_range(mu, variance) if q_range is None else _check_q(q_range, "q_range")
    times = np.geomspace(lo, hi, as_positive_int(n_times, "n_times", minimum=3))
    h = np.array([_min_slope(float(tt), mu, variance, q_lo, q_hi, n_scan)[0] for tt in times])
    neg = np.flatnonzero(h < 0)
    if neg.size == 0 or neg[0] == 0:
        return Spinodal(math.nan, math.nan, math.nan, math.nan, math.nan)
    i = int(neg[0])
    root = optimize.brentq(lambda tt: _min_slope(tt, mu, variance, q_lo, q_hi, n_scan)[0], times[i - 1], times[i],
                           xtol=1e-12, rtol=1e-10)
    _, q_star = _min_slope(root, mu, variance, q_lo, q_hi, n_scan)
    v, dv, d2v = _yh_sums(np.array([q_star]), root, mu, variance, 2)[:, 0]
    return Spinodal(float(root), float(q_star), float(v), float(dv), float(d2v))


# -- N dimensions --------------------------------------------------------------------------------
def nd_mixture_log_density(Q, t, n_dim, mu, variance, xi, zeta, R):
    """``log P(Q)`` of the N-dimensional mixture for given reduced disorder (module docstring).

    ``mu`` is the class mean per coordinate, ``variance`` the class variance; ``xi, zeta, R``
    are arrays of shape ``(n,)``; returns shape ``(n, len(Q))``.
    """
    a = math.exp(-t)
    D = -math.expm1(-2.0 * t)
    s = D / (a * a)
    v = variance * s / (variance + s)
    mu_norm = math.sqrt(n_dim) * mu
    u = 2.0 * (mu_norm**2 + mu_norm * xi) / (variance + s)
    log_w_same = -np.logaddexp(0.0, -u)
    log_w_other = -np.logaddexp(0.0, u)
    b = 2.0 * math.sqrt(v) * mu_norm / variance
    lam_same = zeta * zeta + R
    lam_other = (zeta - b) ** 2 + R
    x = n_dim * np.asarray(Q, dtype=np.float64)[None, :] / v
    jac = math.log(n_dim / v)
    lf_same = log_ncx2_pdf(x, n_dim, lam_same[:, None]) + jac
    lf_other = log_ncx2_pdf(x, n_dim, lam_other[:, None]) + jac
    return np.logaddexp(log_w_same[:, None] + lf_same, log_w_other[:, None] + lf_other)


def yu_huang_potential_nd(Q, t, n_dim, *, mu=YU_HUANG_MU, variance=YU_HUANG_VARIANCE, n_samples=4000, seed=0,
                          return_units=False):
    """Yu & Huang's construction in N dimensions: ``V_N(Q) = -(1/N) E log P(Q | x_ref, x_t)``.

    Prior ``(N(mu 1, variance I) + N(-mu 1, variance I)) / 2`` (``mu`` per coordinate), VP,
    ``Q = |x - x_ref|^2 / N``, planted reference, ``P`` the normalised posterior density of Q
    (a two-term mixture of scaled noncentral chi-square densities, exact); the expectation over
    ``(x_ref, x_t)`` is a Monte Carlo average over ``n_samples`` draws of the three reduced
    variables of the module docstring (exact in law), shared by all Q.

    For ``N = 1`` this is :func:`yu_huang_potential` plus ``E log Z_total`` (a constant in Q).

    Returns
    -------
    DataFrame with columns ``q, V, stderr, n_references, covered, n_dim`` (``stderr`` the
    standard error of the Monte Carlo mean, ``n_references = n_samples``). With
    ``return_units=True`` also the per-draw values ``-(1/N) log P`` (shape ``(n_samples, len(Q))``),
    which :class:`replica.FranzParisi` uses for jackknife errors.
    """
    import pandas as pd

    t, mu, variance = _check_params(t, mu, variance)
    n_dim = as_positive_int(n_dim, "n_dim")
    q = as_float_array(Q, "Q", ndim=1)
    if q.size == 0 or (q < 0).any():
        raise ValueError("Q: expected a non-empty 1-D array of values >= 0")
    n_samples = as_positive_int(n_samples, "n_samples", minimum=2)
    gen = as_generator(seed, "seed")
    D = -math.expm1(-2.0 * t)
    s = D / math.exp(-2.0 * t)
    xi = math.sqrt(variance + s) * gen.standard_normal(n_samples)
    zeta = gen.standard_normal(n_samples)
    R = gen.chisquare(n_dim - 1, n_samples) if n_dim > 1 else np.zeros(n_samples)
    units = np.empty((n_samples, q.size))
    chunk = max(1, (1 << 20) // max(q.size, 1))
    for start in range(0, n_samples, chunk):
        sl = slice(start, start + chunk)
        units[sl] = -nd_mixture_log_density(q, t, n_dim, mu, variance, xi[sl], zeta[sl], R[sl]) / n_dim
    finite = np.isfinite(units).all(axis=0)
    with np.errstate(invalid="ignore"):
        mean = units.mean(axis=0)
        err = units.std(axis=0, ddof=1) / math.sqrt(n_samples)
    frame = pd.DataFrame({
        "q": q, "V": np.where(finite, mean, np.nan), "stderr": np.where(finite, err, np.nan),
        "n_references": np.where(finite, n_samples, 0), "covered": finite, "n_dim": n_dim,
    })
    return (frame, units) if return_units else frame
