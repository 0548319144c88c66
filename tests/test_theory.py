"""Analytic predictions of ``replica.theory`` against independent routes.

References used here, independent of the code under test: closed forms written out in the
tests; root finding checked against them; the exact posteriors of ``mc`` (Gaussian mixtures,
two deltas, the hypersphere, the Hubbard-Stratonovich Curie-Weiss posterior at finite N,
data sets) averaged over planted draws; scipy quadrature; a numerical Legendre transform of the
noncentral chi-square cumulant generating function; direct simulation of Poisson-Dirichlet
weights. Statistical checks use fixed seeds and 5 standard errors.
"""
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import mc
import replica
from replica import theory as th
from tests.conftest import within_standard_errors


# ------------------------------------------------------------------------------------------
# time conversions
# ------------------------------------------------------------------------------------------
def test_s_and_time_conversions_match_the_forward_processes_of_mc():
    t = np.array([1e-6, 0.01, 0.3, 1.0, 4.0])
    np.testing.assert_allclose(th.s_from_time(t, "vp"), mc.VP().s(t), rtol=1e-14)
    # sigma is the parameter of mc.VE itself (a standard deviation, D_t = sigma^2 t)
    np.testing.assert_allclose(th.s_from_time(t, "ve", sigma=1.6), mc.VE(1.6).s(t), rtol=1e-14)
    np.testing.assert_allclose(th.time_from_s(th.s_from_time(t, "vp"), "vp"), t, rtol=1e-13)
    np.testing.assert_allclose(th.time_from_s(th.s_from_time(t, "ve", sigma=0.3), "ve", sigma=0.3), t, rtol=1e-14)
    assert isinstance(th.s_from_time(0.5), float)


def test_the_ve_standard_deviation_is_keyword_only_so_a_variance_cannot_take_its_place():
    with pytest.raises(TypeError):
        th.collapse_time(0.2, 1.0, "ve", 0.7)
    with pytest.raises(TypeError):
        th.cloning_probability(0.5, 10.0, 1.0, "ve", 0.7)


# ------------------------------------------------------------------------------------------
# collapse
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variance", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("process", ["vp", "ve"])
def test_collapse_time_gaussian_isotropic_equals_closed_form_collapse_time(variance, process):
    n_dim = 40
    for alpha in (0.1, 0.2, 0.3):
        got = th.collapse_time_gaussian(np.full(n_dim, variance), log_n_points=alpha * n_dim, process=process,
                                        sigma=0.7)
        assert abs(got - th.collapse_time(alpha, variance, process, sigma=0.7)) < 1e-12
    s_c = variance / math.expm1(2 * 0.2)  # written out: I / N = (1/2) log(1 + variance / s) = alpha
    want = 0.5 * math.log1p(s_c) if process == "vp" else s_c / 0.7**2  # VE: s = sigma^2 t
    assert abs(th.collapse_time(0.2, variance, process, sigma=0.7) - want) < 1e-14
    if process == "ve":  # the time at which mc.VE(0.7) reaches s_c
        assert abs(mc.VE(0.7).s(th.collapse_time(0.2, variance, process, sigma=0.7)) - s_c) < 1e-14


def test_collapse_time_gaussian_puts_the_mutual_information_at_log_n():
    lam = np.array([5.0, 2.0, 1.0, 0.5, 0.0, 0.1])
    n = 1234.0
    t = th.collapse_time_gaussian(lam, n)
    a, D = mc.VP().a(t), mc.VP().D(t)
    info = 0.5 * np.sum(np.log1p(a * a * lam / D))
    assert abs(info - math.log(n)) < 1e-11
    # monotone: more points collapse later in generation (smaller t)
    assert th.collapse_time_gaussian(lam, 10 * n) < t


def test_collapse_time_is_vectorised_over_alpha():
    alpha = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(th.collapse_time(alpha), [th.collapse_time(a) for a in alpha], rtol=0, atol=0)


@pytest.mark.parametrize("variance", [0.3, 1.0, 3.0])
def test_rem_condensation_time_coincides_with_collapse_time_for_every_variance(variance):
    alpha = np.array([0.05, 0.1, 0.2, 0.3, 0.8])
    for process in ("vp", "ve"):
        np.testing.assert_allclose(th.rem_condensation_time(alpha, variance, process),
                                   th.collapse_time(alpha, variance, process), rtol=1e-12, atol=1e-13)
    # and KL(lambda = 1) is the mutual information per coordinate at every s
    s = np.geomspace(1e-3, 1e3, 13)
    np.testing.assert_allclose(th.rem_kl(1.0, s, variance), 0.5 * np.log1p(variance / s), rtol=1e-12)


def test_collapse_time_entropy_annealed_on_a_large_gaussian_sample_agrees_with_collapse_time():
    n_dim, n = 20, 200_000
    pts = np.random.default_rng(7).standard_normal((n, n_dim))
    est = th.collapse_time_entropy(pts)
    alpha = math.log(n) / n_dim
    t_c = th.collapse_time(alpha)
    # Finite-sample allowance (derived): with F(s) = (1/2) sum_k log(1 + lambda_k / s) - log(n - 1),
    # the empirical spectrum shifts F by f'(1)(tr C - N) + (1/2) f''(1) sum (lambda_k - 1)^2 (variance 1)
    # - log((n-1)/n), f(l) = log(1 + l / s) / 2: Var tr C = 2 N / n, E tr C - N = -N / n and the
    # Marchenko-Pastur spread sum (lambda_k - 1)^2 ~ N^2 / n. The time moves by dF / |dF/dt|.
    s = math.expm1(2 * t_c)
    fp, fpp = 0.5 / (s + 1.0), 0.5 / (s + 1.0) ** 2
    dF = 5 * fp * math.sqrt(2 * n_dim / n) + fp * n_dim / n + fpp * n_dim**2 / n + 1.0 / n
    dF_dt = 0.5 * n_dim * (1.0 / (s + 1.0) - 1.0 / s) * 2 * (1 + s)  # dF/ds * ds/dt
    allowance = dF / abs(dF_dt)
    assert abs(est.t - t_c) < allowance, (est.t, t_c, allowance)
    assert est.stderr == 0 and est.method == "annealed"


def test_collapse_time_entropy_annealed_fails_for_a_sample_of_the_wrong_variance_negative_control():
    pts = math.sqrt(1.3) * np.random.default_rng(7).standard_normal((200_000, 20))
    est = th.collapse_time_entropy(pts)
    assert abs(est.t - th.collapse_time(math.log(200_000) / 20)) > 10 * 1e-3


@pytest.mark.slow
def test_collapse_time_entropy_planted_is_where_the_exact_posterior_weight_of_the_planted_point_is_half():
    n_dim, alpha = 12, 0.3
    data = mc.Dataset.from_alpha(alpha, n_dim, seed=3)
    est = th.collapse_time_entropy(data.points, method="planted", n_draws=2000, seed=1)
    # independent check with the exact posterior of mc at the returned time, fresh draws
    rng = np.random.default_rng(99)

    def mean_log_odds(t, n=3000):
        idx = rng.integers(0, data.n_points, n)
        x_t = mc.VP().sample_xt(data.points[idx], t, rng)
        vals = np.empty(n)
        for k in range(n):
            w = mc.Posterior(data, mc.VP(), x_t[k], t).weights
            vals[k] = math.log(w[idx[k]]) - math.log1p(-w[idx[k]])
        return vals.mean(), vals.std(ddof=1) / math.sqrt(n)

    mean, se = mean_log_odds(est.t)
    # the estimator's own error moves the mean by slope * stderr(t); add it to the allowance
    slope = (mean_log_odds(est.t + 0.05)[0] - mean_log_odds(est.t - 0.05)[0]) / 0.1
    assert abs(mean) < 5 * math.hypot(se, slope * est.stderr), (mean, se, slope, est)
    # negative control: at the large-N collapse time the planted point already holds more than half
    mean_c, se_c = mean_log_odds(th.collapse_time(math.log(data.n_points) / n_dim))
    assert mean_c > 5 * se_c


# ------------------------------------------------------------------------------------------
# speciation
# ------------------------------------------------------------------------------------------
def test_speciation_time_is_half_log_top_eigenvalue_of_the_covariance():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal(6)
    cov = 0.7 * np.eye(6) + np.outer(mu, mu)  # two-class mixture: Lambda = |mu|^2 + variance
    lam = mu @ mu + 0.7
    assert abs(th.speciation_time(cov) - 0.5 * math.log(lam)) < 1e-13
    assert abs(th.speciation_time(lam) - th.speciation_time(cov)) < 1e-13
    assert abs(th.speciation_time(cov, "ve", sigma=2.0) - lam / 4.0) < 1e-12  # s = sigma^2 t = Lambda
    assert math.isnan(th.speciation_time(0.8))  # never met at t > 0 (documented choice)


def test_speciation_time_potential_reproduces_yu_huang_value():
    assert round(th.speciation_time_potential(1.0, 0.1), 5) == 0.42622
    # the squared norm of the class mean: N mu^2 for the per-coordinate mu of the models
    assert th.speciation_time_potential(4 * 0.5**2, 0.1) == th.speciation_time_potential(1.0, 0.1)
    assert math.isnan(th.speciation_time_potential(0.01, 1.0))


def _log_pt_1d(x, t, mu, variance):
    """log p_t of the 1D mixture written with scipy (independent of theory.mixture_log_density)."""
    a, D = math.exp(-t), -math.expm1(-2 * t)
    sd = math.sqrt(D + a * a * variance)
    return np.logaddexp(stats.norm.logpdf(x, a * mu, sd), stats.norm.logpdf(x, -a * mu, sd)) - math.log(2)


@pytest.mark.parametrize("mu,variance", [(1.0, 0.1), (2.0, 0.5), (1.5, 1.0), (0.8, 2.0)])
def test_speciation_time_potential_is_the_root_of_the_curvature_of_the_reverse_potential(mu, variance):
    # U = -x^2/2 - 2 log p_t: U''(0) by a five-point stencil on log p_t written with scipy
    h = 1e-2
    stencil = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / (12 * h * h)

    def curvature_fd(t):
        return -1.0 - 2.0 * float(stencil @ _log_pt_1d(h * np.arange(-2.0, 3.0), t, mu, variance))

    # and the curvature of log p_t at 0 written out analytically
    def curvature(t):
        a, D = math.exp(-t), -math.expm1(-2 * t)
        G = D + a * a * variance
        return -1.0 - 2.0 * (-1 / G + (a * mu / G) ** 2)

    closed = th.speciation_time_potential(mu**2, variance)
    assert abs(optimize.brentq(curvature_fd, 1e-4, 20.0, xtol=1e-14) - closed) < 1e-6
    assert abs(optimize.brentq(curvature, 1e-4, 20.0, xtol=1e-15) - closed) < 1e-12
    assert curvature(closed + 0.01) > 0 > curvature(closed - 0.01)  # two wells below t_s


def _n_modes(t, mu, variance, process):
    a, D = (math.exp(-t), -math.expm1(-2 * t)) if process == "vp" else (1.0, t)
    sd = math.sqrt(D + a * a * variance)
    x = np.linspace(-4 * (a * mu + sd), 4 * (a * mu + sd), 400_001)
    p = stats.norm.pdf(x, a * mu, sd) + stats.norm.pdf(x, -a * mu, sd)
    return int(np.sum((p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])))


@pytest.mark.parametrize("process", ["vp", "ve"])
@pytest.mark.parametrize("mu,variance", [(1.0, 0.1), (2.0, 1.5)])
def test_bimodality_time_separates_bimodal_from_unimodal_densities(process, mu, variance):
    t_b = th.bimodality_time(mu**2, variance, process)
    assert _n_modes(t_b * (1 - 1e-3), mu, variance, process) == 2
    assert _n_modes(t_b * (1 + 1e-3), mu, variance, process) == 1
    assert math.isnan(th.bimodality_time(0.25, 0.3, process))


@pytest.mark.parametrize("mu,variance", [(1.0, 0.1), (2.0, 0.5), (1.3, 1.2)])
def test_mixture_fixed_point_branching_gives_bimodality_ve_and_yu_huang_vp(mu, variance):
    def mean(y, s):
        return th.mixture_posterior_mean(y, s, mu, variance)

    t_ve = th.branching_time(mean, s_range=(1e-3, 100.0), drift="ve")
    t_vp = th.branching_time(mean, s_range=(1e-3, 100.0), drift="vp")
    assert abs(t_ve - th.bimodality_time(mu**2, variance)) < 1e-9
    assert abs(t_vp - th.speciation_time_potential(mu**2, variance)) < 1e-9


def test_mixture_posterior_mean_matches_the_exact_posterior_of_mc():
    rng = np.random.default_rng(2)
    mu = rng.standard_normal(5)
    model = mc.GaussianMixture.two_class(mu, variance=0.4)
    for t in (0.1, 0.7, 2.0):
        x_t = rng.standard_normal(5)
        post = mc.Posterior(model, mc.VP(), x_t, t)
        np.testing.assert_allclose(th.mixture_posterior_mean(post.y, post.s, mu, 0.4), post.mean(), rtol=1e-12,
                                   atol=1e-14)
        a, D = post.a, post.D
        lp = np.logaddexp(stats.multivariate_normal.logpdf(x_t, a * mu, (D + a * a * 0.4) * np.eye(5)),
                          stats.multivariate_normal.logpdf(x_t, -a * mu, (D + a * a * 0.4) * np.eye(5))) - math.log(2)
        assert abs(th.mixture_log_density(x_t, t, mu, 0.4) - lp) < 1e-11


# ------------------------------------------------------------------------------------------
# cloning probability
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kappa", [1e-4, 0.3, 2.0, 9.0, 60.0])
def test_cloning_probability_quadrature_against_scipy_quad_and_the_nishimori_identity(kappa):
    # phi = E[(1 + tanh^2 g)/2] with g ~ N(kappa, kappa); kappa = |mu|^2 / (s + variance) with s = 1, variance = 1
    t = 0.5 * math.log(2.0)  # VP: s = 1
    mu_norm2 = 2.0 * kappa
    sd = math.sqrt(kappa)

    def expect(f):
        return integrate.quad(lambda g: f(g) * stats.norm.pdf(g, kappa, sd), kappa - 12 * sd, kappa + 12 * sd,
                              points=[0.0] if abs(kappa) < 12 * sd else None, limit=400, epsabs=1e-14,
                              epsrel=1e-13)[0]

    phi = th.cloning_probability(t, mu_norm2, 1.0)
    assert abs(phi - 0.5 * (1 + expect(lambda g: np.tanh(g) ** 2))) < 1e-12
    assert abs(phi - 0.5 * (1 + expect(np.tanh))) < 1e-12  # E tanh g = E tanh^2 g on this law


def test_cloning_probability_limits_and_dependence_on_n_through_t_minus_half_log_n():
    assert abs(th.cloning_probability(30.0, 100.0) - 0.5) < 1e-20 + 1e-12
    assert th.cloning_probability(0.0, 100.0, variance=0.0) == 1.0  # two deltas at t = 0
    assert th.cloning_probability(1e-8, 1e4, variance=1.0) > 1 - 1e-12
    t = np.linspace(0.2, 3.0, 15)
    for n in (10, 1000, 100_000):
        np.testing.assert_allclose(th.cloning_probability(t + 0.5 * math.log(n), n), th.cloning_probability(t, 1.0),
                                   rtol=0, atol=1e-14)
    # monotone decreasing in t
    assert np.all(np.diff(th.cloning_probability(t, 10.0)) < 0)


@pytest.mark.slow
def test_cloning_probability_matches_exact_posterior_class_weights_over_planted_draws():
    n_dim, variance = 10, 1.0
    mu = np.ones(n_dim)
    model = mc.GaussianMixture.two_class(mu, variance=variance)
    rng = np.random.default_rng(5)
    times = (0.8, 1.4)
    means, errs = [], []
    for t in times:
        x_t = mc.VP().sample_xt(model.sample(2500, rng), t, rng)
        phis = np.array([replica.cloning_probability(mc.Posterior(model, mc.VP(), x, t)).value for x in x_t])
        means.append(phis.mean())
        errs.append(phis.std(ddof=1) / math.sqrt(phis.size))
    predicted = th.cloning_probability(np.array(times), n_dim, variance)  # |mu|^2 = N
    assert within_standard_errors(predicted, means, errs).all(), (predicted, means, errs)
    wrong = th.cloning_probability(np.array(times), n_dim, 3.0)  # negative control: wrong variance
    assert not within_standard_errors(wrong, means, errs).any(), (wrong, means, errs)


# ------------------------------------------------------------------------------------------
# two deltas, hypersphere, fixed points and exponents
# ------------------------------------------------------------------------------------------
def test_two_deltas_mean_matches_the_exact_posterior_of_mc():
    rng = np.random.default_rng(3)
    v = np.array([0.6, -1.1, 0.2])
    model = mc.TwoDeltas(v)
    for process in (mc.VE(0.8), mc.VP()):
        for t in (0.05, 0.5, 2.0):
            x_t = rng.standard_normal(3)
            post = mc.Posterior(model, process, x_t, t)
            np.testing.assert_allclose(th.two_deltas_mean(post.y, post.s, v), post.mean(), rtol=1e-12, atol=1e-15)
    post = mc.Posterior(mc.TwoDeltas(1.0), mc.VE(), np.array([0.3]), 0.5)
    assert abs(th.two_deltas_mean(0.3, 0.5) - post.mean()[0]) < 1e-15


def test_two_deltas_fixed_points_solve_the_self_consistency():
    for s in (0.2, 0.7, 0.999):
        fp = th.two_deltas_fixed_points(s)
        assert fp.roots.size == 3
        np.testing.assert_allclose(np.tanh(fp.roots / s), fp.roots, atol=1e-15)
        assert list(fp.stable) == [True, False, True]
    assert list(th.two_deltas_fixed_points(1.001).roots) == [0.0]
    # N dimensions (derived reduction x = m v, m = tanh(|v|^2 m / s)), through the generic solver
    v = np.array([1.0, 2.0, -0.5])
    v2 = float(v @ v)
    fp = th.reverse_drift_fixed_points(lambda y, s: th.two_deltas_mean(y, s, v), 3.0, direction=v)
    m_star = th.two_deltas_fixed_points(3.0, v2).roots
    np.testing.assert_allclose(fp.roots, math.sqrt(v2) * m_star, rtol=1e-12, atol=1e-15)
    assert np.all(fp.perpendicular < 1e-12)


def test_two_deltas_critical_s_is_located_numerically_at_s_equal_v_norm2():
    assert abs(th.two_deltas_critical_s() - 1.0) < 1e-6
    assert abs(th.two_deltas_critical_s(2.5) - 2.5) < 1e-6 * 2.5
    # VP drift (derived): 2 (1 + s) |v|^2 = (2 + s) s
    v2 = 1.7
    assert abs(th.two_deltas_critical_s(v2, drift="vp") - (v2 - 1 + math.sqrt((v2 - 1) ** 2 + 2 * v2))) < 1e-9


def test_hypersphere_mean_matches_the_von_mises_fisher_posterior_of_mc():
    rng = np.random.default_rng(4)
    for n_dim in (3, 40, 400):
        model = mc.Hypersphere(n_dim)
        for t in (0.1, 1.0):
            x_t = rng.standard_normal(n_dim) * 0.3
            post = mc.Posterior(model, mc.VP(), x_t, t)
            np.testing.assert_allclose(th.hypersphere_mean(post.y, post.s), post.mean(), rtol=1e-11, atol=1e-13)
    # small kappa at large N, where scipy's ive underflows: continued fraction vs A ~ kappa / N
    y = np.zeros(2000)
    y[0] = 1e-3
    m = th.hypersphere_mean(y, 1.0)
    assert abs(m[0] / (math.sqrt(2000) * math.sqrt(2000) * 1e-3 / 2000) - 1) < 1e-6


@pytest.mark.parametrize("n_dim", [3, 50])
def test_hypersphere_fixed_points_branch_at_s_equal_one(n_dim):
    e = np.zeros(n_dim)
    e[-1] = 1.0
    s_c = th.branching_s(th.hypersphere_mean, s_range=(0.01, 100.0), direction=e)
    assert abs(s_c - 1.0) < 1e-6


def test_hypersphere_fixed_point_approaches_sqrt_one_minus_s_at_large_n():
    n_dim = 10_000
    e = np.ones(n_dim) / math.sqrt(n_dim)
    for s in (0.3, 0.8):
        fp = th.reverse_drift_fixed_points(th.hypersphere_mean, s, direction=e)
        q = fp.roots[fp.roots > 0] / math.sqrt(n_dim)
        assert q.size == 1 and fp.stable[fp.roots > 0].all()
        assert abs(q[0] - math.sqrt(1 - s)) < 1.0 / n_dim  # finite-N correction O(1/N)


@pytest.mark.parametrize("system", ["two_deltas", "curie_weiss"])
def test_fitted_critical_exponents_are_mean_field(system):
    ce = th.critical_exponents(system)
    assert abs(ce.critical_point - 1.0) < 1e-10
    for fit, want in ((ce.beta, 0.5), (ce.gamma, 1.0), (ce.delta, 3.0)):
        assert abs(fit.value - want) < 0.05 * want, fit
        assert fit.stderr < 0.01 * want
    # amplitudes of m = tanh(m / s): m ~ sqrt(3 d), m ~ (3 h)^(1/3) at s_c
    assert abs(ce.beta.amplitude - math.sqrt(3)) < 0.05
    assert abs(ce.delta.amplitude - 3 ** (1 / 3)) < 0.01


def test_critical_exponent_fits_far_from_the_critical_point_miss_mean_field_negative_control():
    ce = th.critical_exponents(distances=np.linspace(0.3, 0.6, 5), fields=np.logspace(-2, -1, 5))
    assert abs(ce.beta.value - 0.5) > 0.05 * 0.5
    assert abs(ce.delta.value - 3.0) > 0.05 * 3.0


# ------------------------------------------------------------------------------------------
# Curie-Weiss
# ------------------------------------------------------------------------------------------
def test_curie_weiss_solutions_free_energies_and_selection_at_zero_field():
    sol = th.curie_weiss_magnetisation(np.zeros(5), beta=1.5)
    m_star = optimize.brentq(lambda m: math.tanh(1.5 * m) - m, 0.1, 1.0, xtol=1e-15)
    np.testing.assert_allclose(sol.m, [-m_star, 0.0, m_star], atol=1e-13)
    assert list(sol.stable) == [True, False, True]
    f = 0.75 * sol.m**2 - np.log(2 * np.cosh(1.5 * sol.m))
    np.testing.assert_allclose(sol.free_energy, f, atol=1e-14)
    assert th.curie_weiss_magnetisation(np.zeros(5), 1.5, m0=0.01).m_selected == sol.m[2]
    assert th.curie_weiss_magnetisation(np.zeros(5), 1.5, m0=-0.01).m_selected == sol.m[0]
    assert abs(th.curie_weiss_critical_beta(J=2.0) - 0.5) < 1e-10
    h = np.random.default_rng(0).standard_normal(200)
    h = np.concatenate([h, -h])  # symmetric fields: beta_c J <sech^2 h> = 1 (derived)
    # 1e-6: the sum of tanh(h_i) over +-h pairs vanishes only to rounding (~1e-17), which
    # blurs the bifurcation at the scale of the smallest roots the grid resolves (1e-10)
    assert abs(th.curie_weiss_critical_beta(h=h) * np.mean(1 / np.cosh(h) ** 2) - 1) < 1e-6


def _curie_weiss_errors(n_dim, beta, t, n_disorder, seed):
    errs, resid = [], []
    for k in range(n_disorder):
        rng = np.random.default_rng([seed, n_dim, k])
        prior = mc.IsingPrior.curie_weiss(n_dim, J=1.0, beta=beta)
        x_t = mc.VP().sample_xt(prior.sample(1, rng)[0], t, rng)
        exact = float(mc.Posterior(prior, mc.VP(), x_t, t).mean().mean())
        sol = th.curie_weiss_magnetisation(th.curie_weiss_field(x_t, t, "vp"), beta)
        errs.append(exact - sol.m_global)
        resid.append(exact - sol.m_global - sol.finite_size_correction / n_dim)
    return np.abs(errs).mean(), np.abs(resid).mean()


@pytest.mark.parametrize("beta,t", [(1.5, 1.0), (1.2, 0.3)])
def test_curie_weiss_magnetisation_converges_to_the_exact_finite_n_posterior_as_one_over_n(beta, t):
    err_100, res_100 = _curie_weiss_errors(100, beta, t, 8, seed=11)
    err_1000, res_1000 = _curie_weiss_errors(1000, beta, t, 8, seed=11)
    # O(1/N): a factor ~10 from N = 100 to 1000; after the Laplace 1/N term, O(1/N^2): ~100
    assert 5 < err_100 / err_1000 < 20, (err_100, err_1000)
    assert res_100 / res_1000 > 30, (res_100, res_1000)
    assert err_1000 < 2e-3


# ------------------------------------------------------------------------------------------
# REM and Poisson-Dirichlet
# ------------------------------------------------------------------------------------------
def _parisi_m_by_legendre_transform(t, alpha, variance):
    """m = -theta* at the lowest energy with entropy alpha - I(e) >= 0 (noncentral chi-square CGF)."""
    s = math.expm1(2 * t)
    c2 = variance + s  # |Y|^2 / N for a noisy state from the population law

    def cgf(theta):  # (1/N) log E exp(theta E), E = |Y - y|^2 / (2 s), y ~ N(0, variance I)
        r = 1 - theta * variance / s
        return -0.5 * math.log(r) + theta / (2 * s) * c2 / r

    def rate(e):
        res = optimize.minimize_scalar(lambda th_: -(th_ * e - cgf(th_)), bounds=(-1e4, 0.0), method="bounded",
                                       options={"xatol": 1e-13})
        return -res.fun, res.x

    e_typ = (variance + c2) / (2 * s)
    e_boltzmann = (cgf(-1 + 1e-6) - cgf(-1 - 1e-6)) / 2e-6  # energy dominating the measure at lambda = 1
    if rate(e_boltzmann)[0] <= alpha:
        return 1.0
    e_min = optimize.brentq(lambda e: rate(e)[0] - alpha, e_boltzmann, e_typ, xtol=1e-14)
    return -rate(e_min)[1]


@pytest.mark.parametrize("t,alpha,variance", [(0.25, 0.3, 1.0), (0.5, 0.1, 1.0), (0.1, 0.5, 1.0), (0.4, 0.2, 2.5),
                                            (1.0, 0.1, 1.0)])
def test_rem_parisi_m_matches_a_numerical_legendre_transform(t, alpha, variance):
    m = th.rem_parisi_m(t, alpha, variance)
    assert abs(m - _parisi_m_by_legendre_transform(t, alpha, variance)) < 1e-6
    assert (m < 1) == (t < th.collapse_time(alpha, variance))


def _poisson_dirichlet_y(m, n_samples, n_terms, rng):
    """Y = sum w^2 for w_i proportional to Gamma_i^(-1/m), Gamma_i the points of a unit Poisson process.

    The terms beyond n_terms are replaced by their expected mass int_{Gamma_K}^inf x^(-1/m) dx
    (their squares are negligible).
    """
    out = np.empty(n_samples)
    for start in range(0, n_samples, 2000):
        gam = np.cumsum(rng.exponential(size=(min(2000, n_samples - start), n_terms)), axis=1)
        u = gam ** (-1.0 / m)
        tail = gam[:, -1] ** (1.0 - 1.0 / m) * m / (1.0 - m)
        out[start:start + gam.shape[0]] = np.sum(u * u, axis=1) / (np.sum(u, axis=1) + tail) ** 2
    return out


@pytest.mark.parametrize("m", [0.3, 0.6])
def test_poisson_dirichlet_mean_and_variance_of_y_against_simulation(m):
    y = _poisson_dirichlet_y(m, 10_000, 1000, np.random.default_rng(12))
    mean, var = th.poisson_dirichlet_y(m)
    se_mean = y.std(ddof=1) / math.sqrt(y.size)
    dev2 = (y - y.mean()) ** 2
    se_var = dev2.std(ddof=1) / math.sqrt(y.size)
    assert abs(y.mean() - mean) < 5 * se_mean
    assert abs(y.var(ddof=1) - var) < 5 * se_var
    wrong_mean, _ = th.poisson_dirichlet_y(m + 0.05)  # negative control
    assert abs(y.mean() - wrong_mean) > 5 * se_mean


def test_poisson_dirichlet_without_condensation_and_vectorised():
    mean, var = th.poisson_dirichlet_y(np.array([1.0, 0.5]))
    np.testing.assert_allclose(mean, [0.0, 0.5])
    np.testing.assert_allclose(var, [0.0, 0.25 / 3])


# ------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,name", [
    (lambda: th.collapse_time(-0.1), "alpha"),
    (lambda: th.collapse_time(0.0), "alpha"),
    (lambda: th.collapse_time(0.2, variance=0.0), "variance"),
    (lambda: th.collapse_time(0.2, process="ddpm"), "process"),
    (lambda: th.collapse_time(0.2, process="ve", sigma=-1.0), "sigma"),
    (lambda: th.s_from_time(1.0, "ve", sigma=0.0), "sigma"),
    (lambda: th.s_from_time(-1.0), "t"),
    (lambda: th.s_from_time(float("nan")), "t"),
    (lambda: th.time_from_s(-0.5), "s"),
    (lambda: th.cloning_probability(-0.5, 10.0), "t"),
    (lambda: th.cloning_probability(0.5, 0.0), "mu_norm2"),
    (lambda: th.cloning_probability(0.5, 10.0, variance=-1.0), "variance"),
    (lambda: th.speciation_time(np.ones((2, 3))), "cov"),
    (lambda: th.speciation_time(np.array([[1.0, 0.5], [0.2, 1.0]])), "cov"),
    (lambda: th.speciation_time(np.array([[1.0, 2.0], [2.0, 1.0]])), "cov"),
    (lambda: th.speciation_time(np.ones(3)), "cov"),
    (lambda: th.speciation_time_potential(1.0, float("nan")), "variance"),
    (lambda: th.speciation_time_potential(-1.0, 0.1), "mu_norm2"),
    (lambda: th.bimodality_time(1.0, -0.1), "variance"),
    (lambda: th.bimodality_time(np.ones(3), 0.1), "mu_norm2"),
    (lambda: th.collapse_time_gaussian(np.ones(3), 0.5), "n_points"),
    (lambda: th.collapse_time_gaussian(np.zeros(3), 10.0), "eigenvalues"),
    (lambda: th.collapse_time_gaussian(np.ones(3)), "n_points, log_n_points"),
    (lambda: th.collapse_time_entropy(np.ones((2, 3))), "points"),
    (lambda: th.collapse_time_entropy(np.ones((5, 3)), method="exact"), "method"),
    (lambda: th.rem_parisi_m(0.0, 0.1), "t"),
    (lambda: th.rem_parisi_m(0.5, -0.1), "alpha"),
    (lambda: th.poisson_dirichlet_y(1.5), "m"),
    (lambda: th.poisson_dirichlet_y(0.0), "m"),
    (lambda: th.curie_weiss_magnetisation(np.zeros(3), beta=-1.0), "beta"),
    (lambda: th.curie_weiss_magnetisation(np.zeros(3), 1.0, J=-1.0), "J"),
    (lambda: th.curie_weiss_magnetisation(np.zeros(3), 1.0, m0=2.0), "m0"),
    (lambda: th.curie_weiss_field(np.ones(3), 0.0), "t"),
    (lambda: th.two_deltas_fixed_points(0.0), "s"),
    (lambda: th.two_deltas_mean(np.ones((4, 2)), 1.0, np.ones(3)), "y"),
    (lambda: th.reverse_drift_fixed_points(lambda y, s: y, 1.0, drift="ou"), "drift"),
    (lambda: th.reverse_drift_fixed_points("tanh", 1.0), "posterior_mean"),
    (lambda: th.branching_s(th.hypersphere_mean, s_range=(2.0, 1.0), n_dim=3), "s_range"),
    (lambda: th.critical_exponents("ising"), "system"),
    (lambda: th.hypersphere_mean(np.ones(1), 1.0), "y"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


def test_reached_as_a_submodule():
    import replica.theory

    assert replica.theory is th
    assert "collapse_time" in th.__all__ and all(hasattr(th, n) for n in th.__all__)


def test_collapse_time_gaussian_takes_the_round_off_of_constant_pixels():
    """A covariance with constant coordinates has zero eigenvalues that eigvalsh returns as
    -9e-17; speciation_time accepts such a spectrum, and so must collapse_time_gaussian (same
    answer as with exact zeros), while a truly negative eigenvalue is still refused."""
    lam = np.array([-9e-17, 0.0, 0.5, 2.0])
    t_round = th.collapse_time_gaussian(lam, 100.0)
    assert t_round == th.collapse_time_gaussian(np.clip(lam, 0, None), 100.0)
    pixels = np.random.default_rng(0).standard_normal((50, 6))
    pixels[:, :2] = 0.0  # two constant pixels
    spectrum = np.linalg.eigvalsh(np.cov(pixels.T, bias=True))
    assert np.isfinite(th.collapse_time_gaussian(spectrum, 100.0))
    assert np.isfinite(th.speciation_time(np.cov(pixels.T, bias=True), "ve"))
    with pytest.raises(ValueError, match="eigenvalues: must be >= 0"):
        th.collapse_time_gaussian(np.array([-0.1, 1.0]), 100.0)
