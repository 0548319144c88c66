"""Nonequilibrium thermodynamics of diffusion (replica.thermo).

Yu & Huang's closed forms are checked against quadrature written here from scratch (scipy), the
general N-dimensional formulas against them and against Gaussian closed forms, and all of them
against trajectories of mc.dynamics within 5 standard errors.
"""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import mc
from mc import dynamics as dyn
from replica import theory
from replica import thermo as th

from conftest import within_standard_errors

YH_PARAMS = [(2.0, 0.25), (1.0, 1.0), (3.0, 0.01), (1.0, 2.25)]  # (mu, variance)


def fisher_information_by_quad(t, mu, variance):
    """J = int p'^2 / p over the VP marginal of (N(mu, variance) + N(-mu, variance)) / 2."""
    a = math.exp(-t)
    G = a * a * variance + 1.0 - a * a
    m, sd = mu * a, math.sqrt(G)

    def integrand(x):
        l1, l2 = stats.norm.logpdf(x, m, sd), stats.norm.logpdf(x, -m, sd)
        lse = np.logaddexp(l1, l2)
        r1 = np.exp(l1 - lse)
        score = r1 * (m - x) / G + (1.0 - r1) * (-m - x) / G
        return 0.5 * np.exp(lse) * score * score

    pieces = [(-m - 40 * sd, -m), (-m, 0.0), (0.0, m), (m, m + 40 * sd)]
    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=400)[0] for lo, hi in pieces)


def se(a):
    return a.std(axis=0, ddof=1) / np.sqrt(a.shape[0])


# -- Yu & Huang closed forms ---------------------------------------------------------------------------
@pytest.mark.parametrize("mu, variance", YH_PARAMS)
def test_yu_huang_fisher_information_matches_independent_quadrature(mu, variance):
    t = np.array([0.001, 0.05, 0.3, 1.0, 3.0])
    J = th.yu_huang_rates(t, mu, variance=variance)["fisher_information"]
    ref = np.array([fisher_information_by_quad(u, mu, variance) for u in t])
    np.testing.assert_allclose(J, ref, rtol=1e-10)


@pytest.mark.parametrize("mu, variance", YH_PARAMS)
def test_yu_huang_rates_equal_the_general_rates_of_the_1d_mixture(mu, variance):
    t = np.array([0.01, 0.2, 0.7, 1.5, 4.0])
    yh = th.yu_huang_rates(t, mu, variance=variance)
    df = th.entropy_rates(mc.GaussianMixture.two_class(mu, variance=variance), mc.VP(), t, method="quadrature")
    get = lambda name: df[df.observable == name].value.to_numpy()  # noqa: E731
    for name in ["fisher_information", "second_moment", "entropy_production_rate", "entropy_flux", "reverse_entropy_flux", "system_entropy_rate"]:
        np.testing.assert_allclose(get(name), yh[name], rtol=1e-10, atol=1e-12)
    # Fisher information = minus the expected divergence of the score (integration by parts)
    np.testing.assert_allclose(get("score_divergence"), -yh["fisher_information"], rtol=1e-10)
    # the Yu & Huang relations among the rates
    np.testing.assert_allclose(yh["reverse_entropy_flux"], 2 * yh["entropy_production_rate"] - yh["entropy_flux"], rtol=1e-12, atol=1e-12)


def test_yu_huang_reverse_flux_minimum_time_minimises_the_reverse_entropy_flux():
    for mu, variance in [(2.0, 0.25), (1.0, 1.0), (3.0, 0.25)]:
        ts = th.yu_huang_reverse_flux_minimum_time(mu, variance=variance)
        phi = lambda u: float(th.yu_huang_rates(u, mu, variance=variance)["reverse_entropy_flux"])  # noqa: E731
        assert phi(ts) < min(phi(ts - 0.02), phi(ts + 0.02))
        assert abs(phi(ts + 1e-4) - phi(ts - 1e-4)) / 2e-4 < 1e-4
        grid = np.linspace(0, 10, 4001)
        assert phi(ts) <= th.yu_huang_rates(grid, mu, variance=variance)["reverse_entropy_flux"].min() + 1e-12


@pytest.mark.parametrize("mu, variance", [(2.0, 0.25), (1.0, 1.0), (1.0, 2.25), (3.0, 0.01)])
def test_generative_potential_curvature_vanishes_at_yu_huang_speciation_time(mu, variance):
    model = mc.GaussianMixture.two_class(mu, variance=variance)
    ts = theory.speciation_time_potential(mu**2, variance)  # closed form, |mu|^2 = mu^2 in 1D
    assert th.speciation_time_potential_numeric(model, mc.VP()) == pytest.approx(ts, rel=1e-9)
    # multi-well before (in generation: after) speciation, convex-like well before it
    assert th.count_wells(model, mc.VP(), ts + 0.1) == 1
    assert th.count_wells(model, mc.VP(), ts - 0.1) == 2


def test_numeric_speciation_time_in_n_dimensions_uses_the_squared_norm_of_the_class_mean():
    # a vector mean, and the per-coordinate mu of the models (|mu|^2 = N mu^2)
    mu = np.array([0.5, -0.7, 0.4, 0.3])
    vector = mc.GaussianMixture.two_class(mu, variance=0.3)
    assert th.speciation_time_potential_numeric(vector, mc.VP()) == pytest.approx(
        theory.speciation_time_potential(float(mu @ mu), 0.3), rel=1e-9)
    per_coordinate = mc.GaussianMixture.two_class(0.8, variance=0.3, n_dim=4)
    numeric = th.speciation_time_potential_numeric(per_coordinate, mc.VP())
    assert numeric == pytest.approx(theory.speciation_time_potential(4 * 0.8**2, 0.3), rel=1e-9)
    # negative control: mu per coordinate taken for |mu| gives another time
    assert abs(theory.speciation_time_potential(0.8**2, 0.3) - numeric) > 0.1


def test_yu_huang_rates_match_forward_and_generative_trajectories():
    """Mean increments of Sigma over [t_k, t_k+1] against int Pi dt (forward and generative
    paths), of the medium entropy against int Phi (forward) and int Phi* (generative)."""
    mu, variance = 2.0, 0.25
    model = mc.GaussianMixture.two_class(mu, variance=variance)
    integral = lambda name, lo, hi: integrate.quad(lambda u: float(th.yu_huang_rates(u, mu, variance=variance)[name]), lo, hi, epsabs=1e-11)[0]  # noqa: E731

    fwd = dyn.forward(model, mc.VP(), 3.0, n_trajectories=20000, seed=31, n_steps=6, record_every=1)
    for arr, name in ((fwd.entropy_production, "entropy_production_rate"), (fwd.medium_entropy, "entropy_flux")):
        inc = np.diff(arr, axis=1)
        ref = [integral(name, lo, hi) for lo, hi in zip(fwd.t[:-1], fwd.t[1:])]
        assert within_standard_errors(inc.mean(axis=0), ref, se(inc)).all(), name

    rev = dyn.reverse(model, mc.VP(), 3.0, 0.05, n_trajectories=20000, seed=32, n_steps=300, record_every=50)
    for arr, name in ((rev.entropy_production, "entropy_production_rate"), (rev.medium_entropy, "reverse_entropy_flux")):
        inc = np.diff(arr, axis=1)
        ref = [integral(name, lo, hi) for lo, hi in zip(rev.t[1:], rev.t[:-1])]
        assert within_standard_errors(inc.mean(axis=0), ref, se(inc)).all(), name


def test_yu_huang_entropy_production_rate_plug_in_estimate_along_generative_paths():
    """Pi(t) = E (x + score)^2 (F = -x, D0 = 1) averaged over generative paths at recorded t."""
    mu, variance = 2.0, 0.25
    model = mc.GaussianMixture.two_class(mu, variance=variance)
    rev = dyn.reverse(model, mc.VP(), 3.0, 0.05, n_trajectories=10000, seed=33, n_steps=300, record_every=50, record_positions=True)
    for k, t in enumerate(rev.t):
        x = rev.x[:, k]
        _, score, _, _ = dyn.score_terms(model, mc.VP(), x, t)
        pi = ((x + score) ** 2).ravel()
        assert within_standard_errors(pi.mean(), th.yu_huang_rates(t, mu, variance=variance)["entropy_production_rate"], se(pi))


def test_yu_huang_check_fails_for_wrong_variance_negative_control():
    mu, variance = 2.0, 0.25
    model = mc.GaussianMixture.two_class(mu, variance=variance)
    fwd = dyn.forward(model, mc.VP(), 3.0, n_trajectories=20000, seed=31, n_steps=6, record_every=1)
    inc = np.diff(fwd.entropy_production, axis=1)
    wrong = [integrate.quad(lambda u: float(th.yu_huang_rates(u, mu, variance=0.36)["entropy_production_rate"]), lo, hi)[0] for lo, hi in zip(fwd.t[:-1], fwd.t[1:])]
    assert not within_standard_errors(inc.mean(axis=0), wrong, se(inc)).all()


# -- general models and dimensions ------------------------------------------------------------------
@pytest.mark.parametrize("proc", [mc.VP(), mc.VE(0.7), mc.VPLinear()], ids=lambda p: p.name)
def test_gaussian_rates_equal_quadrature_and_minus_the_kl_derivative(proc):
    mean, var = 0.8, 0.4
    t = np.array([0.05, 0.3, 0.9])
    g = th.gaussian_rates(proc, t, [mean], var)
    df = th.entropy_rates(mc.GaussianMixture(np.array([[mean]]), variances=var), proc, t, method="quadrature")
    for name in ["fisher_information", "entropy_production_rate", "entropy_flux", "reverse_entropy_flux", "conditional_entropy_rate"]:
        np.testing.assert_allclose(df[df.observable == name].value.to_numpy(), g[name], rtol=1e-10)
    if proc.name == "VP":
        # Pi = -d KL(p_t || N(0, 1)) / dt, derived independently by finite differences
        kl = lambda u: 0.5 * ((mean * math.exp(-u)) ** 2 + (1 + (var - 1) * math.exp(-2 * u)) - 1 - math.log(1 + (var - 1) * math.exp(-2 * u)))  # noqa: E731
        h = 1e-5
        fd = [-(kl(u + h) - kl(u - h)) / (2 * h) for u in t]
        np.testing.assert_allclose(g["entropy_production_rate"], fd, rtol=1e-7)


def test_n_dimensional_mixture_rates_decompose_into_yu_huang_plus_gaussian_directions():
    """|mu| along e1 in N = 3: p_t factorises into the 1D mixture along e1 and N(0, G) on the
    other axes, so J_N = J_1D + (N - 1)/G (derived); Monte Carlo within 5 SE."""
    mu, variance, N = 1.5, 0.49, 3
    model = mc.GaussianMixture.two_class(np.array([mu, 0.0, 0.0]), variance=variance)
    t = np.array([0.1, 0.6, 1.5])
    df = th.entropy_rates(model, mc.VP(), t, method="monte_carlo", n_samples=20000, seed=4)
    yh = th.yu_huang_rates(t, mu, variance=variance)
    J_ref = yh["fisher_information"] + (N - 1) / yh["G"]
    rows = df[df.observable == "fisher_information"]
    assert within_standard_errors(rows.value.to_numpy(), J_ref, rows.stderr.to_numpy()).all()
    rows = df[df.observable == "entropy_production_rate"]
    pi_ref = yh["entropy_production_rate"] + (N - 1) * (yh["G"] - 1) ** 2 / yh["G"]
    assert within_standard_errors(rows.value.to_numpy(), pi_ref, rows.stderr.to_numpy()).all()


# -- conditional entropy (information) rate and speciation ----------------------------------------
def two_deltas_information_rate(t, lam):
    """Exact dH(x0|x_t)/dt for p0 = (delta_v + delta_-v)/2, |v|^2 = lam, VP, by 1D quadrature:
    tr Cov = lam sech^2(v.y/s) with v.y/s ~ lam/s + sqrt(lam/s) z, times g2 a^2 / (2 D^2)."""
    z = np.linspace(-14, 14, 20001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    out = []
    for u in np.atleast_1d(t):
        s = math.expm1(2 * u)
        r = lam / s
        arg = np.clip(r + math.sqrt(r) * z, -350, 350)
        out.append((s + 1) / s**2 * lam * float((1.0 / np.cosh(arg) ** 2) @ w))
    return np.array(out)


def snr_at_peak():
    """r* = argmax_r r E sech^2(r + sqrt(r) z): the signal-to-noise ratio lam/s of the peak for
    large lam (derived: (s + 1)/s -> 1 there)."""
    from scipy.optimize import minimize_scalar

    z = np.linspace(-14, 14, 20001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    f = lambda lr: -math.exp(lr) * float((1.0 / np.cosh(np.clip(math.exp(lr) + math.exp(lr / 2) * z, -350, 350)) ** 2) @ w)  # noqa: E731
    return math.exp(minimize_scalar(f, bounds=(-3, 3), method="bounded", options={"xatol": 1e-10}).x)


def test_information_rate_from_posterior_covariance_matches_quadrature_and_fisher_relation():
    N = 16
    model = mc.TwoDeltas(np.ones(N))
    t = np.array([0.8, 1.2, 1.6, 2.0])
    info = th.information_rate(model, mc.VP(), t, n_disorder=300, seed=3)
    exact = two_deltas_information_rate(t, N)
    assert within_standard_errors(info["rate"], exact, info["stderr"]).all()
    # the same rate from the Fisher information of p_t: (g2/2)(N/D - J)
    df = th.entropy_rates(model, mc.VP(), t, method="monte_carlo", n_samples=20000, seed=5)
    rows = df[df.observable == "conditional_entropy_rate"]
    assert within_standard_errors(rows.value.to_numpy(), exact, rows.stderr.to_numpy()).all()


def test_information_rate_along_generative_paths_matches_quadrature_near_speciation():
    # Restricted to t >= t_S - 0.5: later the rate is carried by rare paths near the decision
    # boundary and the sample error of 4000 paths is no longer reliable.
    N = 16
    model = mc.TwoDeltas(np.ones(N))
    t_s = 0.5 * math.log(N)
    tr = dyn.reverse(model, mc.VP(), t_s + 1.0, t_s - 0.5, n_trajectories=4000, seed=5, n_steps=150, spacing="linear", record_every=10)
    info = th.information_rate_from_trajectories(tr)
    exact = two_deltas_information_rate(info.t.to_numpy(), N)
    assert within_standard_errors(info.value.to_numpy(), exact, info.stderr.to_numpy()).all()


@pytest.mark.slow
@pytest.mark.parametrize("N", [16, 64])
def test_information_rate_peaks_at_the_speciation_time_shifted_by_half_log_r_star(N):
    """Criterion: dH(x0|x_t)/dt peaks where the signal-to-noise ratio Lambda / s_t equals
    r* ~ 1.51, i.e. t_peak = t_S - (1/2) log r* + O(1/Lambda), t_S = (1/2) log Lambda, Lambda = |v|^2
    the top eigenvalue of the data covariance. Tolerances: the peak of the Monte Carlo curve
    within 5 jackknife errors of the exact peak; the exact peak within 0.01 (finite Lambda and
    the 0.05 grid with parabolic refinement) of the large-Lambda prediction; and |t_peak - t_S| <
    0.25, an O(1) factor (< 1.65) in e^{2t}, the spread between speciation criteria
    (physics.md)."""
    model = mc.TwoDeltas(np.ones(N))
    t_s = 0.5 * math.log(N)
    t = t_s + np.arange(-0.7, 0.5001, 0.05)
    info = th.information_rate(model, mc.VP(), t, n_disorder=800, seed=7)
    peak = th.peak_time(t, samples=info["samples"])
    fine = np.linspace(t[0], t[-1], 2401)
    exact_peak = th.peak_time(fine, two_deltas_information_rate(fine, N)).value
    assert abs(peak.value - exact_peak) < 5 * peak.stderr
    assert peak.stderr < 0.05
    assert abs(exact_peak - (t_s - 0.5 * math.log(snr_at_peak()))) < (0.01 if N >= 64 else 0.02)
    assert abs(peak.value - t_s) < 0.25


# -- free energy ----------------------------------------------------------------------------------
def test_free_energy_of_gaussian_data_matches_closed_form():
    N, mean, var = 3, np.array([1.0, 0.0, -1.0]), 0.5
    model = mc.GaussianMixture(mean[None, :], variances=var)
    t = np.array([0.1, 0.5, 2.0])
    df = th.free_energy(model, mc.VP(), t, n_disorder=400, seed=2)
    a, D = np.exp(-t), -np.expm1(-2 * t)
    v = a * a * var + D
    rows = df[df.observable == "free_energy"]
    assert within_standard_errors(rows.value.to_numpy(), 0.5 * N * (1 + np.log(v / D)), rows.stderr.to_numpy()).all()
    rows = df[df.observable == "entropy"]
    assert within_standard_errors(rows.value.to_numpy(), 0.5 * N * np.log(2 * np.pi * np.e * v), rows.stderr.to_numpy()).all()


def test_reverse_potential_gradient_is_minus_the_generative_drift():
    model = mc.GaussianMixture.two_class(np.array([1.0, -0.5]), variance=0.3)
    for proc in (mc.VP(), mc.VE(0.8)):
        x, t, h = np.array([0.3, 0.4]), 0.4, 1e-6
        grad = np.array([(th.reverse_potential(model, proc, t, x + h * e) - th.reverse_potential(model, proc, t, x - h * e)) / (2 * h) for e in np.eye(2)])
        _, score, _, _ = dyn.score_terms(model, proc, x, t)
        c, g2 = dyn.sde_coefficients(proc, t)
        np.testing.assert_allclose(-grad, c * x + g2 * score, rtol=1e-6, atol=1e-6)


# -- detailed fluctuation theorem --------------------------------------------------------------------
def test_detailed_fluctuation_theorem_crooks_form_holds_and_single_process_form_fails():
    model = mc.GaussianMixture.two_class(np.array([1.0, -0.5]), variance=0.7)
    sf, sr = th.crooks_pair(model, mc.VP(), 0.0, 0.5, n_trajectories=100000, seed=3)
    crooks = th.detailed_fluctuation(sf, sr, bins=30)
    assert within_standard_errors(crooks.slope.value, 1.0, crooks.slope.stderr)
    assert within_standard_errors(crooks.intercept.value, 0.0, crooks.intercept.stderr)
    assert crooks.chi2 < crooks.dof + 5 * math.sqrt(2 * crooks.dof)
    # negative control: relaxation from data is not a steady state, P(S)/P(-S) != exp(S)
    single = th.detailed_fluctuation(sf, None, bins=30)
    assert not within_standard_errors(single.slope.value, 1.0, single.slope.stderr)
    assert single.chi2 > single.dof + 5 * math.sqrt(2 * single.dof)


# -- tables and validation -----------------------------------------------------------------------
def test_thermo_table_has_tidy_columns_and_named_observables():
    model = mc.GaussianMixture.two_class(1.0, variance=0.5)
    df = th.thermo_table(model, mc.VP(), [0.2, 1.0], n_samples=500, n_disorder=20, seed=1)
    for col in ["model", "process", "n_dim", "t", "observable", "value", "stderr", "n_samples", "method"]:
        assert col in df.columns
    names = set(df.observable)
    assert {"entropy_production_rate", "score_divergence", "free_energy", "conditional_entropy_rate", "potential_curvature"} <= names
    assert np.isfinite(df.value).all()
    assert (df.model == "gaussian_mixture").all() and (df.process == "VP").all() and (df.n_dim == 1).all()
    tr = dyn.reverse(model, mc.VP(), 2.0, 0.1, n_trajectories=200, seed=1, n_steps=20, record_every=5)
    tt = th.trajectory_table(tr, model, mc.VP())
    assert {"entropy_production", "medium_entropy", "system_entropy", "conditional_entropy_rate", "integral_fluctuation"} <= set(tt.observable)
    assert isinstance(tt, pd.DataFrame) and (tt.method == "trajectories").all()


def test_thermo_rows_have_the_result_table_columns_and_round_trip_through_its_files(tmp_path):
    from replica import table

    model = mc.GaussianMixture.two_class(1.0, variance=0.5)
    df = th.thermo_table(model, mc.VP(), [0.5], n_samples=300, n_disorder=10, seed=1, scan="thermo-demo")
    assert tuple(df.columns[: len(table.RESULT_COLUMNS)]) == table.RESULT_COLUMNS
    assert (df.disorder == th.DISORDER_AVERAGED).all() and df.planted.all() and (df.scan == "thermo-demo").all()
    assert {"variance", "weight"} <= set(df.columns)
    table.write_table(df, table.task_path(tmp_path, "thermo-0", fmt="csv"))
    back = table.read_results(tmp_path)
    assert len(back) == len(df)
    np.testing.assert_allclose(back.sort_values(["observable", "t"]).value.to_numpy(),
                               df.sort_values(["observable", "t"]).value.to_numpy())


def test_invalid_arguments_raise_errors_naming_the_argument():
    with pytest.raises(ValueError, match="^mu: "):
        th.yu_huang_rates(0.5, -1.0)
    with pytest.raises(ValueError, match="^t: "):
        th.yu_huang_rates(-0.5, 1.0)
    with pytest.raises(ValueError, match="^variance: "):
        th.yu_huang_rates(0.5, 1.0, variance=0.0)
    with pytest.raises(TypeError):  # keyword-only: a standard deviation cannot be passed by position
        th.yu_huang_rates(0.5, 1.0, 0.5)
    model = mc.GaussianMixture.two_class(np.array([1.0, 0.0]), variance=0.5)
    with pytest.raises(ValueError, match="^method: 'quadrature' needs N = 1"):
        th.entropy_rates(model, mc.VP(), 0.5)
    with pytest.raises(ValueError, match="^method: "):
        th.entropy_rates(model, mc.VP(), 0.5, method="exact")
    with pytest.raises(ValueError, match="^process: "):
        th.crooks_pair(model, mc.VPLinear(), 0.0, 0.5, n_trajectories=10, seed=0)
    with pytest.raises(ValueError, match="^sigma: "):
        th.integral_fluctuation([0.1])
