"""Nonequilibrium thermodynamics of the noising and generative diffusions.

Conventions
-----------
Forward process ``dx = F dt + sqrt(2 D0) dW`` with force ``F = -c_t x`` and diffusion coefficient
``D0 = g2_t / 2`` (``mc.dynamics`` lists ``c_t``, ``g2_t``: VP ``c = 1, D0 = 1``; VE ``c = 0,
D0 = sigma^2 / 2``, ``sigma`` that of ``mc.VE(sigma)``). p_t is the law of x_t,
``score = grad log p_t``, ``J = E|score|^2`` its Fisher information and ``v = F - D0 score`` the
mean local velocity. Rates are per unit of forward time t (the generative process runs backward
in t; its rates are per unit of reverse time).

* entropy production rate ``Pi = E|v|^2 / D0``;
* entropy flux into the medium ``Phi = E[F . v] / D0`` (heat per temperature);
* system entropy rate ``dH(p_t)/dt = Pi - Phi``;
* the generative process (drift ``F* = -F + 2 D0 score`` in reverse time, mean velocity ``-v``)
  has the same ``Pi`` and the flux ``Phi* = E[F* . (-v)] / D0 = 2 Pi - Phi``.

With ``E[x . score] = -N`` (integration by parts) these become (derived; Yu & Huang (physics.md)
for VP in 1D)::

    Pi   = c^2 E|x|^2 / D0 - 2 c N + D0 J
    Phi  = c^2 E|x|^2 / D0 - c N
    Phi* = c^2 E|x|^2 / D0 - 3 c N + 2 D0 J.

Conditional entropy of generation (``physics.md``, information rate): with ``s = D_t / a_t^2``,
``dH(x0 | x_t)/ds = E tr Cov[x0 | x_t] / (2 s^2)``; since ``ds/dt = g2 / a^2`` (derived from
``D' = g2 - 2 c D``, ``a' = -c a``) and Tweedie's ``div score = -N / D + (a / D)^2 tr Cov``,

    dH(x0 | x_t)/dt = g2 a^2 E tr Cov / (2 D^2) = (g2 / 2) (N / D + E div score)
                    = (g2 / 2) (N / D - J)                              (derived).

The same Fisher information J therefore sets the entropy production and the information rate:
``J = -E div score`` is the expected divergence of the score.

Trajectory quantities (``mc.dynamics.Trajectories``): the total stochastic entropy production
``Sigma = log p_start(x_start) - log p_t(x_t) + int (2 / g2) b o dx`` (Seifert 2005), the
integral fluctuation theorem ``<exp(-Sigma)> = 1`` and the detailed one,
``P_F(Sigma) / P_R(-Sigma) = exp(Sigma)`` with ``P_R`` the law of the entropy production of the
protocol-reversed process started from the final law (Crooks 1999). The single-process form
``P(Sigma) / P(-Sigma) = exp(Sigma)`` needs the reversed process to have the law of the forward
one (steady states); for the relaxation from data it fails, which the tests use as a control.

Free energy (``physics.md``, posterior as a Boltzmann measure): ``F(x_t, t) = -log Z(x_t, t)``,
averaged over x_t ~ p_t; the reverse drift ``c x + g2 score`` is ``-grad U`` with the regularised
free energy (the potential of the generative SDE; Yu & Huang (physics.md) for VP)
``U(x) = g2 F(x, t) - c |x|^2 / 2`` (up to a constant in x), i.e. ``-|x|^2 / 2 - 2 log p_t`` in VP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from mc import dynamics
from mc._validation import as_float_array, as_positive_int, as_scalar
from mc.disorder import draw_quenched, seed_sequence
from mc.posterior import Posterior
from mc.processes import VE, VP, ForwardProcess

from .stats import Estimate, jackknife

__all__ = [
    "yu_huang_rates",
    "yu_huang_reverse_flux_minimum_time",
    "gaussian_rates",
    "gaussian_entropy_production",
    "entropy_rates",
    "information_rate",
    "information_rate_from_trajectories",
    "peak_time",
    "free_energy",
    "reverse_potential",
    "potential_curvature",
    "speciation_time_potential_numeric",
    "count_wells",
    "integral_fluctuation",
    "DetailedFluctuation",
    "detailed_fluctuation",
    "crooks_pair",
    "entropy_production_profile",
    "thermo_table",
    "trajectory_table",
]

#: Half-width of the quadrature grids, in standard deviations of each Gaussian (tail < e^-98).
Z_MAX = 14.0
#: Largest number of quadrature points on one grid.
MAX_POINTS = 2_000_000


def _grid_step(sd_min, pole):
    """Step of a trapezoid rule for an analytic integrand: a fraction of the narrowest width and
    of the distance ``pole`` of the nearest complex singularity (the error is exponentially small
    in ``pole / step``; Trefethen & Weideman 2014)."""
    return min(sd_min / 40.0, pole / 10.0)


def _times(t, name="t"):
    arr = as_float_array(t, name)
    if (arr < 0).any():
        raise ValueError(f"{name}: must be >= 0")
    return arr


def _check_process(process):
    if not isinstance(process, ForwardProcess):
        raise ValueError(f"process: expected a forward process such as mc.VP(), got {process!r}")


# -- Yu & Huang: 1D two-class mixture, VP ------------------------------------------------------
def yu_huang_rates(t, mu, *, variance=1.0):
    """Closed forms of Yu & Huang (physics.md) for the 1D mixture ``(N(mu, variance) + N(-mu, variance)) / 2`` under VP.

    ``G = 1 - e^{-2t} + variance e^{-2t}``, ``S = mu^2 e^{-2t}``,
    ``M1 = E_{x ~ p_t} tanh^2(mu e^{-t} x / G)`` (trapezoid rule over one component, the integrand
    being even; relative accuracy about 1e-12), Fisher information ``J = 1/G - (S/G^2)(1 - M1)``,
    ``E[x^2] = S + G``, entropy production rate ``Pi = E[x^2] - 2 + J``, entropy flux
    ``Phi = E[x^2] - 1``, reverse flux ``Phi* = E[x^2] - 3 + 2J``, system entropy rate
    ``Pi - Phi = J - 1`` (per unit forward time).

    Parameters
    ----------
    t : float or array (>= 0)
    mu : float (> 0)
        Class mean.
    variance : float (> 0), keyword-only
        Class variance (``variance`` of ``mc.GaussianMixture.two_class``).

    Returns
    -------
    dict of arrays (shape of ``t``): ``G, S, M1, fisher_information, second_moment,
    entropy_production_rate, entropy_flux, reverse_entropy_flux, system_entropy_rate``.
    """
    tt = _times(t)
    mu = as_scalar(mu, "mu", positive=True)
    variance = as_scalar(variance, "variance", positive=True)
    e2 = np.exp(-2.0 * tt)
    G = 1.0 - e2 + variance * e2
    S = mu**2 * e2
    m = mu * np.exp(-tt)
    M1 = np.empty_like(G)
    for idx in np.ndindex(G.shape):
        g, mm = float(G[idx]), float(m[idx])
        # tanh(k x), k = m / G, has poles at distance pi / (2 k) from the real axis
        dz = _grid_step(1.0, math.pi * math.sqrt(g) / (2.0 * mm))
        z = np.linspace(-Z_MAX, Z_MAX, min(MAX_POINTS, int(2 * Z_MAX / dz) + 1))
        wz = np.exp(-0.5 * z * z)
        wz /= wz.sum()
        M1[idx] = float(np.tanh(mm * (mm + math.sqrt(g) * z) / g) ** 2 @ wz)
    J = 1.0 / G - S / G**2 * (1.0 - M1)
    x2 = S + G
    return {
        "G": G,
        "S": S,
        "M1": M1,
        "fisher_information": J,
        "second_moment": x2,
        "entropy_production_rate": x2 - 2.0 + J,
        "entropy_flux": x2 - 1.0,
        "reverse_entropy_flux": x2 - 3.0 + 2.0 * J,
        "system_entropy_rate": J - 1.0,
    }


def yu_huang_reverse_flux_minimum_time(mu, *, variance=1.0, t_max=10.0, n_grid=400):
    """The time ``t*`` minimising the reverse entropy flux ``Phi*(t) = E[x^2] - 3 + 2 J`` of the 1D
    mixture ``(N(mu, variance) + N(-mu, variance)) / 2`` under VP (Yu & Huang (physics.md);
    :func:`yu_huang_rates`).

    A grid search on ``[0, t_max]`` followed by a bounded Brent refinement around the best
    grid point. Returns ``nan`` when the minimum sits on the boundary of the interval.

    A thermodynamic time, not a speciation criterion: the speciation time of the same model (the
    curvature of the reverse-SDE potential vanishes) is
    :func:`replica.theory.speciation_time_potential` (closed form) and
    :func:`speciation_time_potential_numeric` (any model); the peak of the conditional entropy
    rate is :func:`peak_time` of :func:`information_rate`.
    """
    t_max = as_scalar(t_max, "t_max", positive=True)
    n_grid = as_positive_int(n_grid, "n_grid", minimum=3)
    grid = np.linspace(0.0, t_max, n_grid)
    vals = yu_huang_rates(grid, mu, variance=variance)["reverse_entropy_flux"]
    i = int(np.argmin(vals))
    if i == 0 or i == n_grid - 1:
        return math.nan
    res = optimize.minimize_scalar(
        lambda u: float(yu_huang_rates(u, mu, variance=variance)["reverse_entropy_flux"]),
        bounds=(grid[i - 1], grid[i + 1]),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.x)


# -- general rates ----------------------------------------------------------------------------------
def _rates_from_moments(c, g2, n_dim, x2, J):
    D0 = 0.5 * g2
    out = {
        "second_moment": x2,
        "fisher_information": J,
        "entropy_production_rate": c**2 * x2 / D0 - 2.0 * c * n_dim + D0 * J,
        "entropy_flux": c**2 * x2 / D0 - c * n_dim,
        "reverse_entropy_flux": c**2 * x2 / D0 - 3.0 * c * n_dim + 2.0 * D0 * J,
    }
    out["system_entropy_rate"] = out["entropy_production_rate"] - out["entropy_flux"]
    return out


def gaussian_rates(process, t, mean, variance):
    """Rates for Gaussian data ``N(mean, variance I_N)`` (derived; all Gaussian).

    ``p_t = N(a mean, v_t I)`` with ``v_t = a^2 variance + D``, so ``J = N / v_t`` and
    ``E|x|^2 = a^2 |mean|^2 + N v_t``; the rates follow from the module formulas. In VP:
    ``Pi = a^2 |mean|^2 + N (v_t - 1)^2 / v_t``, ``Phi = a^2 |mean|^2 + N (v_t - 1)``.
    Also returns ``conditional_entropy_rate = (g2 / 2)(N / D - J)`` and ``score_divergence = -J``.
    """
    _check_process(process)
    tt = _times(t)
    mean = as_float_array(mean, "mean")
    mean = mean.reshape(-1) if mean.ndim <= 1 else mean
    if mean.ndim != 1:
        raise ValueError(f"mean: expected a scalar or a vector, got shape {mean.shape}")
    variance = as_scalar(variance, "variance", nonnegative=True)
    n_dim = mean.size
    a, D, c, g2 = dynamics.process_coefficients(process, tt)
    v = a**2 * variance + D
    if (v <= 0).any():
        raise ValueError("t: p_t has no density (variance 0 at t = 0)")
    J = n_dim / v
    out = _rates_from_moments(c, g2, n_dim, a**2 * float(mean @ mean) + n_dim * v, J)
    out["score_divergence"] = -J
    with np.errstate(divide="ignore"):
        out["conditional_entropy_rate"] = np.where(D > 0, 0.5 * g2 * (n_dim / np.where(D > 0, D, 1.0) - J), np.inf)
    return out


def gaussian_entropy_production(process, t_start, t, mean, variance):
    """Mean and variance of the total entropy production of forward paths, Gaussian data (derived).

    Data ``N(mean, variance I_N)``; forward paths from x_{t_start} ~ p_{t_start} to x_t.

    Derivation. For VE, VP and VPLinear the medium term is ``kappa (|x_0|^2 - |x_t|^2) / 2`` with
    ``kappa = 2 c / g2`` constant (0 for VE, 1 otherwise): ``int (2/g2)(-c x) o dx`` is exact.
    Per coordinate write ``x_0 = m_0 + sqrt(v_0) xi``, ``x_t = rho x_0 + sqrt(Delta) z`` with
    ``rho = a_t / a_0``, ``Delta = D_t - rho^2 D_0``, ``m_0 = a_0 mean_i``, ``v_0 = a_0^2 variance
    + D_0``, so ``x_t - m_t = beta . u`` with ``u = (xi, z)``, ``beta = (rho sqrt(v_0),
    sqrt(Delta))``, ``|beta|^2 = v_t``. Then ``Sigma_i = k_i + b_i . u + u^T A u`` with
    ``A = -e1 e1^T / 2 + beta beta^T / (2 v_t) + kappa (alpha alpha^T - beta beta^T) / 2``,
    ``alpha = (sqrt(v_0), 0)``, ``b_i = kappa (m_0 alpha - m_t beta)``,
    ``k_i = log(v_t / v_0) / 2 + kappa (m_0^2 - m_t^2) / 2``; for ``u ~ N(0, I_2)``:
    ``E = k + tr A``, ``Var = 2 tr A^2 + |b|^2`` and
    ``E exp(-u^T M u - h . u) = det(I + 2M)^{-1/2} exp(h^T (I + 2M)^{-1} h / 2)``.

    Returns
    -------
    dict with ``mean``, ``variance``, ``ift`` (``<exp(-Sigma)>``, equal to 1: a check of the
    algebra), ``ift_second_moment`` (``<exp(-2 Sigma)>``, ``inf`` where it diverges, i.e. where
    the Monte Carlo estimate of the IFT has infinite variance) and ``ift_fourth_moment``
    (``<exp(-4 Sigma)>``; where it diverges the sample standard error of the IFT estimate is
    itself unreliable and typically too small).
    """
    _check_process(process)
    t0 = as_scalar(t_start, "t_start", nonnegative=True)
    t1 = as_scalar(t, "t", nonnegative=True)
    if t1 < t0:
        raise ValueError("t: must be >= t_start")
    mean = np.atleast_1d(as_float_array(mean, "mean"))
    variance = as_scalar(variance, "variance", positive=True)
    (a0, a1), (D0, D1), (c0, c1), (g0, g1) = dynamics.process_coefficients(process, np.array([t0, t1]))
    k0, k1 = 2 * c0 / g0, 2 * c1 / g1
    if not math.isclose(k0, k1, rel_tol=1e-12, abs_tol=1e-15):
        raise ValueError("process: 2 c_t / g2_t must be constant in time for this closed form")
    kappa = k0
    rho = a1 / a0
    delta = max(D1 - rho**2 * D0, 0.0)
    v0 = a0**2 * variance + D0
    vt = rho**2 * v0 + delta
    alpha = np.array([math.sqrt(v0), 0.0])
    beta = np.array([rho * math.sqrt(v0), math.sqrt(delta)])
    A = -0.5 * np.outer([1.0, 0.0], [1.0, 0.0]) + np.outer(beta, beta) / (2 * vt)
    A += 0.5 * kappa * (np.outer(alpha, alpha) - np.outer(beta, beta))
    m0 = a0 * mean
    mt = a1 * mean
    k = 0.5 * math.log(vt / v0) + 0.5 * kappa * (m0**2 - mt**2)
    b = kappa * (m0[:, None] * alpha - mt[:, None] * beta)
    n = mean.size
    mean_sigma = float(k.sum() + n * np.trace(A))
    var_sigma = float(2 * n * np.trace(A @ A) + np.sum(b * b))

    def exp_moment(lam):
        # E exp(-lam Sigma) = prod_i exp(-lam k_i) E exp(-u^T (lam A) u - (lam b_i) . u)
        M = np.eye(2) + 2 * lam * A
        if np.linalg.eigvalsh(M).min() <= 0:
            return math.inf
        inv = np.linalg.inv(M)
        h = lam * b
        log_val = -lam * k.sum() - 0.5 * n * math.log(np.linalg.det(M)) + 0.5 * np.einsum("ij,jk,ik->", h, inv, h)
        return math.exp(log_val)

    return {
        "mean": mean_sigma,
        "variance": var_sigma,
        "ift": exp_moment(1.0),
        "ift_second_moment": exp_moment(2.0),
        "ift_fourth_moment": exp_moment(4.0),
    }


def _quadrature_nodes(model, process, t):
    """Trapezoid nodes and weights for ``E_{p_t}[f]`` of a 1D model (a mixture of Gaussians).

    The grid covers ``Z_MAX`` standard deviations around every component; its step resolves the
    narrowest component and the complex zeros of p_t (distance about ``pi v / spread`` for
    components of variance v a distance ``spread`` apart), so that score-based integrands
    converge exponentially.
    """
    means, var, log_w = dynamics.mixture_parameters(model)
    a, D, _, _ = dynamics.process_coefficients(process, np.array([t]))
    centres = a[0] * means[:, 0]
    v = a[0] ** 2 * var[:, 0] + D[0]
    sd = np.sqrt(v)
    spread = float(centres.max() - centres.min())
    pole = math.pi * float(v.min()) / spread if spread > 0 else math.inf
    h = _grid_step(float(sd.min()), pole)
    lo = float((centres - Z_MAX * sd).min())
    hi = float((centres + Z_MAX * sd).max())
    n = int((hi - lo) / h) + 1
    if n > MAX_POINTS:
        raise ValueError(f"t: p_t is too peaked for 1D quadrature at t = {t} ({n} points); use 'monte_carlo'")
    x = np.linspace(lo, hi, n)
    log_p = dynamics.score_terms(model, process, x[:, None], t)[0]
    w = np.exp(log_p) * (x[1] - x[0])
    return x[:, None], w / w.sum()


def entropy_rates(model, process, t, *, method="quadrature", n_samples=20000, seed=0, key=()):
    """Entropy production rate, fluxes, Fisher information and conditional entropy rate of p_t.

    Generalises Yu & Huang (physics.md) to any dimension and to the models of
    ``mc.dynamics`` (two deltas, data sets, diagonal Gaussian mixtures); formulas in the module
    docstring (derived). ``E|x|^2`` is exact; ``J = E|score|^2`` comes from

    * ``method="quadrature"`` (N = 1): trapezoid rule on a grid resolving every component of p_t
      (exponentially convergent for these analytic integrands), exact score;
    * ``method="monte_carlo"``: ``n_samples`` exact draws ``x_t = a x0 + sqrt(D) z``, the same
      (x0, z) at every t (common random numbers, seeded by ``(seed, *key)``); errors are
      ``sd / sqrt(n)`` and propagate linearly (``J`` enters every rate linearly).

    Returns
    -------
    pandas.DataFrame with columns ``t, observable, value, stderr, n_samples, method`` and the
    observables ``second_moment, fisher_information, score_divergence (= -J, estimated from the
    divergence itself), entropy_production_rate, entropy_flux, reverse_entropy_flux,
    system_entropy_rate, conditional_entropy_rate``.
    """
    _check_process(process)
    tt = np.atleast_1d(_times(t))
    means, var, log_w = dynamics.mixture_parameters(model)
    n_dim = model.n_dim
    w = np.exp(log_w)
    rows = []
    if method == "quadrature":
        if n_dim != 1:
            raise ValueError(f"method: 'quadrature' needs N = 1, got N = {n_dim}; use 'monte_carlo'")
    elif method == "monte_carlo":
        n_samples = as_positive_int(n_samples, "n_samples", minimum=2)
        gen = np.random.default_rng(seed_sequence(seed, *key))
        x0 = model.sample(n_samples, gen)
        z = gen.standard_normal(x0.shape)
    else:
        raise ValueError(f"method: expected 'quadrature' or 'monte_carlo', got {method!r}")
    a_all, D_all, c_all, g2_all = dynamics.process_coefficients(process, tt)
    for ti, a, D, c, g2 in zip(tt, a_all, D_all, c_all, g2_all):
        x2 = float(w @ (a**2 * np.sum(means**2, axis=1) + np.sum(a**2 * var + D, axis=1)))
        if method == "quadrature":
            x, qw = _quadrature_nodes(model, process, ti)
            _, _, div, s2 = dynamics.score_terms(model, process, x, ti)
            J, J_err, dv, dv_err, n_used = float(qw @ s2), 0.0, float(qw @ div), 0.0, 0
        else:
            _, _, div, s2 = dynamics.score_terms(model, process, a * x0 + math.sqrt(D) * z, ti)
            J, J_err = float(s2.mean()), float(s2.std(ddof=1) / math.sqrt(s2.size))
            dv, dv_err = float(div.mean()), float(div.std(ddof=1) / math.sqrt(div.size))
            n_used = s2.size
        rates = _rates_from_moments(c, g2, n_dim, x2, J)
        D0 = 0.5 * g2
        errs = {
            "second_moment": 0.0,
            "fisher_information": J_err,
            "entropy_production_rate": D0 * J_err,
            "entropy_flux": 0.0,
            "reverse_entropy_flux": 2.0 * D0 * J_err,
            "system_entropy_rate": D0 * J_err,
        }
        rates["score_divergence"] = dv
        errs["score_divergence"] = dv_err
        if D > 0:
            rates["conditional_entropy_rate"] = 0.5 * g2 * (n_dim / D - J)
            errs["conditional_entropy_rate"] = 0.5 * g2 * J_err
        for name, value in rates.items():
            rows.append((float(ti), name, float(value), errs[name], n_used, method))
    return pd.DataFrame(rows, columns=["t", "observable", "value", "stderr", "n_samples", "method"])


# -- conditional entropy (information) rate from the posterior covariance ----------------------------
def information_rate(model, process, t, *, n_disorder, seed, key=()):
    """``dH(x0 | x_t)/dt = g2 a^2 E tr Cov[x0 | x_t] / (2 D^2)`` from exact posterior covariances.

    The average over x_t ~ p_t uses ``mc.draw_quenched`` (planted: x0 from the prior), the same
    disorder samples at every t (common random numbers, so the curve is smooth in t and its peak
    well located), and ``mc.Posterior(...).cov_trace()``; any model with an exact posterior works.

    Returns
    -------
    dict with ``t``, ``rate`` (T,), ``stderr`` (T,), ``cov_trace`` (T,) the mean trace and
    ``samples`` (n_disorder, T): the per-disorder rates, for jackknife errors of derived
    quantities (e.g. :func:`peak_time`).
    """
    _check_process(process)
    tt = np.atleast_1d(as_float_array(t, "t"))
    n_disorder = as_positive_int(n_disorder, "n_disorder", minimum=2)
    a, D, _, g2 = dynamics.process_coefficients(process, tt)
    if (D <= 0).any():
        raise ValueError("t: must be > 0")
    traces = np.empty((n_disorder, tt.size))
    for d in range(n_disorder):
        q = draw_quenched(model, process, tt, seed=seed, disorder=d, key=key)
        xs = np.atleast_2d(q.x_t)
        for k in range(tt.size):
            traces[d, k] = Posterior(model, process, xs[k], tt[k]).cov_trace()
    factor = g2 * a**2 / (2.0 * D**2)
    samples = traces * factor
    return {
        "t": tt,
        "rate": samples.mean(axis=0),
        "stderr": samples.std(axis=0, ddof=1) / math.sqrt(n_disorder),
        "cov_trace": traces.mean(axis=0),
        "samples": samples,
    }


def information_rate_from_trajectories(traj):
    """``dH(x0 | x_t)/dt = (g2 / 2)(N / D + E div score)`` along recorded paths (derived).

    Valid for paths whose marginals are p_t (forward paths; generative paths with the exact
    score, up to discretisation). Returns a DataFrame with ``t, value, stderr, n_samples`` at the
    recorded times with ``D > 0``.
    """
    D, g2 = traj.D, traj.g2
    keep = D > 0
    div = traj.score_divergence[:, keep]
    n = div.shape[0]
    g2k, Dk = g2[keep], D[keep]
    value = 0.5 * g2k * (traj.n_dim / Dk + div.mean(axis=0))
    err = 0.5 * g2k * div.std(axis=0, ddof=1) / math.sqrt(n)
    return pd.DataFrame({"t": traj.t[keep], "value": value, "stderr": err, "n_samples": n})


def peak_time(t, values=None, *, samples=None, blocks=20):
    """Location of the maximum of a curve sampled on a grid, refined by a parabola through the
    best grid point and its neighbours.

    Give ``values`` (T,) for a deterministic curve, or ``samples`` (n, T) of independent units
    (e.g. ``information_rate(...)["samples"]``): the peak of their mean, with a block jackknife
    error (``blocks`` blocks). Returns an :class:`~replica.stats.Estimate`; ``nan`` if the
    maximum lies on the end of the grid.
    """
    tt = as_float_array(t, "t", ndim=1)
    if tt.size < 3 or not (np.diff(tt) > 0).all():
        raise ValueError("t: need at least 3 strictly increasing times")

    def locate(curve):
        i = int(np.argmax(curve))
        if i == 0 or i == curve.size - 1:
            return math.nan
        x, y = tt[i - 1 : i + 2], curve[i - 1 : i + 2]
        coef = np.polyfit(x, y, 2)
        if coef[0] >= 0:
            return float(tt[i])
        return float(np.clip(-coef[1] / (2 * coef[0]), x[0], x[2]))

    if samples is None:
        vals = as_float_array(values, "values", shape=(tt.size,))
        return Estimate(locate(vals), 0.0, n=0, method="exact")
    smp = as_float_array(samples, "samples", ndim=2)
    if smp.shape[1] != tt.size:
        raise ValueError(f"samples: expected shape (n, {tt.size}), got {smp.shape}")
    est = jackknife(smp, lambda s: locate(s.mean(axis=0)), blocks=min(blocks, smp.shape[0]))
    return Estimate(locate(smp.mean(axis=0)), est.stderr, n=est.n, method="jackknife")


# -- free energy and the generative potential ----------------------------------------------------------
def free_energy(model, process, t, *, n_disorder, seed, key=()):
    """Quenched free energy ``E_{x_t}[-log Z(x_t, t)]`` and the entropy ``H(p_t) = -E log p_t``.

    ``log Z = log E_{p0} exp(-|x_t - a x0|^2 / (2 D))`` (``mc.Posterior.log_partition``), x_t from
    ``mc.draw_quenched`` (planted, same disorder at every t). For Gaussian data
    ``N(mu, c I_N)``: ``E[-log Z] = (N/2)(1 + log(v_t / D_t))`` with ``v_t = a^2 c + D`` (derived).

    Returns a DataFrame with ``t, observable (free_energy | entropy), value, stderr, n_samples,
    method``.
    """
    _check_process(process)
    tt = np.atleast_1d(as_float_array(t, "t"))
    n_disorder = as_positive_int(n_disorder, "n_disorder", minimum=2)
    logz = np.empty((n_disorder, tt.size))
    for d in range(n_disorder):
        q = draw_quenched(model, process, tt, seed=seed, disorder=d, key=key)
        xs = np.atleast_2d(q.x_t)
        for k in range(tt.size):
            logz[d, k] = Posterior(model, process, xs[k], tt[k]).log_partition()
    _, D, _, _ = dynamics.process_coefficients(process, tt)
    ent = -(logz - 0.5 * model.n_dim * np.log(2 * np.pi * D))
    rows = []
    for name, arr in (("free_energy", -logz), ("entropy", ent)):
        for k, ti in enumerate(tt):
            rows.append((float(ti), name, float(arr[:, k].mean()), float(arr[:, k].std(ddof=1) / math.sqrt(n_disorder)), n_disorder, "posterior"))
    return pd.DataFrame(rows, columns=["t", "observable", "value", "stderr", "n_samples", "method"])


def reverse_potential(model, process, t, x):
    """The generative potential ``U(x) = -c |x|^2 / 2 - g2 log p_t(x)``, with ``-grad U = c x + g2 score``.

    ``= g2 F(x, t) - c |x|^2 / 2 + const``, ``F = -log Z`` the posterior free energy (module
    docstring); in VP ``-|x|^2/2 - 2 log p_t`` (Yu & Huang (physics.md)). ``x`` : (n, N).
    """
    _check_process(process)
    t = as_scalar(t, "t", positive=True)
    log_p, _, _, _ = dynamics.score_terms(model, process, x, t)
    xb = np.atleast_2d(as_float_array(x, "x"))
    _, _, c, g2 = dynamics.process_coefficients(process, np.array([t]))
    out = -0.5 * c[0] * np.sum(xb * xb, axis=1) - g2[0] * np.atleast_1d(log_p)
    return out if np.ndim(log_p) else float(out[0])


def potential_curvature(model, process, t, x=None):
    """Smallest eigenvalue of the Hessian of U at ``x`` (default: the mean of p_t).

    ``Hess U = (g2 / D - c) I - g2 (a / D)^2 Cov[x0 | x_t = x]`` (Tweedie's Hessian of log p_t,
    ``physics.md``). Negative: the point is a saddle or maximum of the generative potential,
    i.e. the landscape has split into wells (criterion (b) of speciation in ``physics.md``).
    """
    _check_process(process)
    t = as_scalar(t, "t", positive=True)
    if x is None:
        means, _, log_w = dynamics.mixture_parameters(model)
        a_t = float(process.a(t))
        x = a_t * (np.exp(log_w) @ means)
    post = Posterior(model, process, np.atleast_1d(as_float_array(x, "x")), t)
    _, _, c, g2 = dynamics.process_coefficients(process, np.array([t]))
    cov = post.cov()
    lam = np.linalg.eigvalsh(np.atleast_2d(cov)).max()
    return float(g2[0] / post.D - c[0] - g2[0] * (post.a / post.D) ** 2 * lam)


def speciation_time_potential_numeric(model, process, t_lo=1e-3, t_hi=20.0):
    """Speciation time by the potential criterion, for any model and process: the time where
    :func:`potential_curvature` (the smallest eigenvalue of ``Hess U`` at the mean of p_t, from the
    exact posterior covariance) changes sign, root by Brent's method in ``[t_lo, t_hi]``.

    The numeric counterpart of the closed form :func:`replica.theory.speciation_time_potential`:
    for the symmetric two-class mixture ``+-mu`` with ``variance`` in VP both give Yu & Huang's
    ``t_s = (1/2) log(|mu|^2 + sqrt(|mu|^4 + (variance - 1)^2))`` (``|mu|^2 = N mu^2`` for a
    per-coordinate ``mu``). Returns ``nan`` if there is no sign change in ``[t_lo, t_hi]``.
    Other times of the same model: :func:`yu_huang_reverse_flux_minimum_time` (minimum of the
    reverse entropy flux) and ``replica.yu_huang_disappearance_time`` (spinodal of the
    Franz-Parisi potential).
    """
    f = lambda u: potential_curvature(model, process, u)  # noqa: E731
    lo, hi = f(t_lo), f(t_hi)
    if not (lo < 0 < hi):
        return math.nan
    return float(optimize.brentq(f, t_lo, t_hi, xtol=1e-12))


def count_wells(model, process, t, *, direction=None, extent=4.0, n_grid=801):
    """Number of local minima of U along the line through the mean of p_t along ``direction``.

    ``direction`` defaults to the top eigenvector of the data covariance; the line spans
    ``extent`` standard deviations of p_t along it on each side. One well: convex-like landscape
    (before speciation); two or more: multi-well (after it).
    """
    _check_process(process)
    t = as_scalar(t, "t", positive=True)
    means, var, log_w = dynamics.mixture_parameters(model)
    w = np.exp(log_w)
    mean0 = w @ means
    cov = (means - mean0).T @ ((means - mean0) * w[:, None]) + np.diag(w @ var)
    evals, evecs = np.linalg.eigh(cov)
    u = evecs[:, -1] if direction is None else as_float_array(direction, "direction", shape=(model.n_dim,))
    u = u / np.linalg.norm(u)
    a, D, _, _ = dynamics.process_coefficients(process, np.array([t]))
    sd = math.sqrt(a[0] ** 2 * float(u @ cov @ u) + D[0])
    s = np.linspace(-extent * sd, extent * sd, as_positive_int(n_grid, "n_grid", minimum=5))
    U = reverse_potential(model, process, t, a[0] * mean0 + s[:, None] * u)
    interior = (U[1:-1] < U[:-2]) & (U[1:-1] < U[2:])
    return int(interior.sum())


# -- fluctuation theorems ------------------------------------------------------------------------------
def integral_fluctuation(sigma):
    """``<exp(-Sigma)>`` with its standard error ``sd / sqrt(n)`` (independent paths).

    The integral fluctuation theorem says 1. The error is meaningful only where
    ``<exp(-2 Sigma)>`` is finite (see :func:`gaussian_entropy_production`).

    ``sigma`` : array (n,), the total entropy productions ``Sigma`` of n paths (the name is the
    entropy production's symbol, not a standard deviation).
    """
    s = as_float_array(sigma, "sigma", ndim=1)
    if s.size < 2:
        raise ValueError("sigma: need at least 2 paths")
    e = np.exp(-s)
    return Estimate(float(e.mean()), float(e.std(ddof=1) / math.sqrt(e.size)), n=e.size, method="paths")


@dataclass(frozen=True)
class DetailedFluctuation:
    """Histogram test of ``log P_F(Sigma) - log P_R(-Sigma) = Sigma``.

    Attributes
    ----------
    table : DataFrame with ``sigma`` (bin centre), ``log_ratio``, ``stderr`` (Poisson:
        ``sqrt(1/n_F + 1/n_R)``), ``n_forward``, ``n_reverse`` for bins with both counts >= min_count.
    slope, intercept : Estimate
        Weighted least-squares line through ``log_ratio`` vs ``sigma`` (theorem: 1 and 0).
    chi2, dof : the goodness of fit of the theorem's line ``log_ratio = sigma`` itself.
    """

    table: pd.DataFrame
    slope: Estimate
    intercept: Estimate
    chi2: float
    dof: int


def detailed_fluctuation(sigma_forward, sigma_reverse=None, *, bins=30, range_=None, min_count=20):
    """Compare ``P_F(Sigma)`` with ``P_R(-Sigma)`` on common bins.

    ``sigma_reverse`` : entropy productions of the protocol-reversed process (Crooks form; see
    :func:`crooks_pair`). If None, the forward sample is used for both (steady-state form).
    Counts are normalised by the sample sizes; bins are symmetric about 0 so that ``-Sigma`` of
    a reverse path falls in the mirror bin.
    """
    f = as_float_array(sigma_forward, "sigma_forward", ndim=1)
    r = f if sigma_reverse is None else as_float_array(sigma_reverse, "sigma_reverse", ndim=1)
    bins = as_positive_int(bins, "bins", minimum=2)
    if range_ is None:
        hi = float(np.quantile(np.abs(np.concatenate([f, r])), 0.995))
        range_ = (-hi, hi)
    edges = np.linspace(range_[0], range_[1], bins + 1)
    n_f = np.histogram(f, edges)[0].astype(float)
    n_r = np.histogram(-r, edges)[0].astype(float)
    keep = (n_f >= min_count) & (n_r >= min_count)
    centre = 0.5 * (edges[1:] + edges[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(n_f / f.size) - np.log(n_r / r.size)
    err = np.sqrt(1.0 / np.maximum(n_f, 1) + 1.0 / np.maximum(n_r, 1))
    table = pd.DataFrame(
        {"sigma": centre[keep], "log_ratio": ratio[keep], "stderr": err[keep], "n_forward": n_f[keep].astype(int), "n_reverse": n_r[keep].astype(int)}
    )
    if keep.sum() < 3:
        raise ValueError("sigma_forward: fewer than 3 bins with enough counts in both histograms; widen range_ or add paths")
    x, y, e = table["sigma"].to_numpy(), table["log_ratio"].to_numpy(), table["stderr"].to_numpy()
    W = 1.0 / e**2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    beta = cov @ (X.T @ (W * y))
    chi2 = float(np.sum(W * (y - x) ** 2))
    return DetailedFluctuation(
        table=table,
        slope=Estimate(beta[1], math.sqrt(cov[1, 1]), n=int(keep.sum()), method="wls"),
        intercept=Estimate(beta[0], math.sqrt(cov[0, 0]), n=int(keep.sum()), method="wls"),
        chi2=chi2,
        dof=int(keep.sum()),
    )


def crooks_pair(model, process, t_start, t_stop, *, n_trajectories, seed, key=(), n_steps=50):
    """Entropy productions of forward paths and of the protocol-reversed process (Crooks 1999).

    Forward: x ~ p_{t_start} evolved by the forward SDE to t_stop, ``Sigma_F = log p_{t_start}(x_0)
    - log p_{t_stop}(x_T) + medium``. Reverse protocol: for the time-homogeneous VE and VP the
    protocol-reversed dynamics is the same SDE; started from ``x ~ p_{t_stop}`` and run for the same
    duration, ``Sigma_R = log p_{t_stop}(x_0) - log p_{t_start}(x_T) + medium``. Then
    ``P_F(Sigma) = exp(Sigma) P_R(-Sigma)`` exactly (exact transitions are used). Returns
    ``(Sigma_F, Sigma_R)``.
    """
    _check_process(process)
    if not isinstance(process, (VE, VP)):
        raise ValueError("process: the protocol-reversed dynamics is the same SDE only for VE and VP")
    times = dynamics.time_grid(t_start, t_stop, n_steps)
    if times[-1] < times[0]:
        raise ValueError("t_stop: must be > t_start")
    fwd = dynamics.simulate(model, process, times, mode="forward_sde", n_trajectories=n_trajectories, seed=seed, key=(*key, 0), scheme="exact")
    sigma_f = fwd.entropy_production[:, -1]
    # reversed protocol: exact draws of p_{t_stop} (the initial states of a run that starts there)
    start = dynamics.simulate(model, process, np.array([t_stop, t_stop + 1.0]), mode="forward_sde", n_trajectories=n_trajectories, seed=seed, key=(*key, 1), scheme="exact").x_start
    rev = dynamics.simulate(model, process, times, mode="forward_sde", n_trajectories=n_trajectories, seed=seed, key=(*key, 2), scheme="exact", x_init=start)
    lp_start = dynamics.score_terms(model, process, start, t_stop)[0]
    lp_end = dynamics.score_terms(model, process, rev.x_end, t_start)[0]
    sigma_r = lp_start - lp_end + rev.medium_entropy[:, -1]
    return sigma_f, sigma_r


# -- trajectory summaries and the tidy table -------------------------------------------------------------
def entropy_production_profile(traj):
    """Mean cumulative entropy production (total, system, medium) from the start of the paths.

    Returns a DataFrame with ``t, observable (entropy_production | system_entropy |
    medium_entropy), value, stderr, n_samples, method = "trajectories"`` at the recorded times.
    The mean of the total over ``[t_i, t_j]`` equals ``int Pi dt`` (in the direction of simulation).
    """
    rows = []
    n = traj.n_trajectories
    for name, arr in (("entropy_production", traj.entropy_production), ("system_entropy", traj.system_entropy), ("medium_entropy", traj.medium_entropy)):
        for k, ti in enumerate(traj.t):
            rows.append((float(ti), name, float(arr[:, k].mean()), float(arr[:, k].std(ddof=1) / math.sqrt(n)), n, "trajectories"))
    return pd.DataFrame(rows, columns=["t", "observable", "value", "stderr", "n_samples", "method"])


#: ``disorder`` value of rows that are averages over the quenched x_t (not one disorder sample).
DISORDER_AVERAGED = -1


def _identify(frame, model, process, seed, scan=""):
    """Give thermodynamic rows the columns of the result table (``replica.table.RESULT_COLUMNS``).

    These quantities are averages over p_t (over the quenched x_t), so ``disorder`` is
    :data:`DISORDER_AVERAGED`; x_t is drawn from the process itself (``planted``, ``source =
    "prior"``). Model and process parameters follow as their own columns, as in
    ``replica.table``.
    """
    from mc import __version__

    from .table import RESULT_COLUMNS, parameter_columns

    frame = frame.copy()
    frame["scan"] = str(scan)
    frame["model"] = model.name
    frame["process"] = getattr(process, "name", type(process).__name__)
    frame["n_dim"] = model.n_dim
    frame["disorder"] = DISORDER_AVERAGED
    if "tau_int" not in frame.columns:
        frame["tau_int"] = math.nan
    frame["seed"] = seed
    frame["version"] = __version__
    frame["planted"] = True
    frame["source"] = "prior"
    extra = [c for c in frame.columns if c not in RESULT_COLUMNS]
    frame = frame[list(RESULT_COLUMNS) + extra]
    for k, v in parameter_columns(model, process).items():
        if k not in frame.columns:
            frame[k] = v
    return frame


def thermo_table(model, process, t, *, method="monte_carlo", n_samples=20000, n_disorder=200, seed=0, key=(),
                 scan=""):
    """Tidy rows of the thermodynamic observables of p_t on a grid of times.

    Columns: those of the result table (``replica.table.RESULT_COLUMNS``; ``disorder`` is
    :data:`DISORDER_AVERAGED`), then the model's and the process's parameters, so the rows can be
    written with ``replica.table.write_table`` next to the replica observables. Observables: ``entropy_production_rate, entropy_flux,
    reverse_entropy_flux, system_entropy_rate, fisher_information, score_divergence,
    second_moment, conditional_entropy_rate`` (:func:`entropy_rates`, ``method``), and
    ``free_energy``, ``entropy`` (:func:`free_energy`, ``n_disorder`` draws) and
    ``potential_curvature`` (exact, at the mean of p_t).
    """
    tt = np.atleast_1d(_times(t))
    parts = [entropy_rates(model, process, tt, method=method, n_samples=n_samples, seed=seed, key=key)]
    parts.append(free_energy(model, process, tt[tt > 0], n_disorder=n_disorder, seed=seed, key=key))
    curv = [(float(ti), "potential_curvature", potential_curvature(model, process, ti), 0.0, 0, "exact") for ti in tt if ti > 0]
    parts.append(pd.DataFrame(curv, columns=["t", "observable", "value", "stderr", "n_samples", "method"]))
    return _identify(pd.concat(parts, ignore_index=True), model, process, seed, scan)


def trajectory_table(traj, model, process, scan=""):
    """Tidy rows from trajectories: cumulative entropy production (total, system, medium), the
    conditional entropy rate from ``div score``, and ``integral_fluctuation`` (at the last time)."""
    parts = [entropy_production_profile(traj)]
    info = information_rate_from_trajectories(traj)
    info.insert(1, "observable", "conditional_entropy_rate")
    info["method"] = "trajectories"
    parts.append(info)
    ift = integral_fluctuation(traj.entropy_production[:, -1])
    parts.append(pd.DataFrame([(float(traj.t[-1]), "integral_fluctuation", ift.value, ift.stderr, ift.n, "trajectories")], columns=["t", "observable", "value", "stderr", "n_samples", "method"]))
    frame = pd.concat(parts, ignore_index=True)
    frame["mode"] = traj.mode
    frame["scheme"] = traj.scheme
    return _identify(frame, model, process, traj.seed, scan)
