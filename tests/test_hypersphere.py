"""Hypersphere prior, its von Mises-Fisher posterior, and the log-Bessel helpers.

References used here are independent of the code under test: mpmath at 50+ digits for the
special functions, two-dimensional quadrature over the polar angles for log Z and the mean,
finite differences for Tweedie's formula and the fluctuation-dissipation relation, the exact
density of ``t = mu.w`` for the sampler, and the large-N equation of state (``physics.md``).
Statistical tolerances are in standard errors, with fixed seeds.
"""
import warnings

import numpy as np
import pytest
from scipy import integrate, stats

from mc.models.hypersphere import Hypersphere, VonMisesFisherPosterior
from mc.special import (
    bessel_ratio,
    bessel_ratio_complement,
    log_bessel_iv,
    log_bessel_ive,
    log_sphere_mgf,
)

NU_GRID = [0.0, 0.5, 1.0, 10.0, 99.5, 500.0, 2000.0]
X_GRID = [1e-8, 1e-3, 1.0, 10.0, 1e3, 1e6]


def random_basis(d, n, seed):
    """Orthonormal rows spanning a random d-dimensional subspace of R^n."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, d)))
    return q.T


def z_scores(samples, expected):
    """Per-coordinate (sample mean - expected) / standard error; zero-variance coordinates
    must match exactly and are left out."""
    n = samples.shape[0]
    se = samples.std(axis=0, ddof=1) / np.sqrt(n)
    diff = samples.mean(axis=0) - expected
    flat = se == 0
    assert np.all(np.abs(diff[flat]) <= 1e-12)
    return diff[~flat] / se[~flat]


@pytest.fixture(scope="module")
def mp():
    mpmath = pytest.importorskip("mpmath")
    return mpmath


# ------------------------------------------------------------------------------------------
# special functions against mpmath


def test_log_bessel_iv_and_ive_match_mpmath_on_grid(mp):
    nu = np.array(NU_GRID)[:, None]
    x = np.array(X_GRID)[None, :]
    got = log_bessel_iv(nu, x)  # one broadcast call
    got_scaled = log_bessel_ive(nu, x)
    assert got.shape == (len(NU_GRID), len(X_GRID))
    with mp.workdps(50):
        for i, n in enumerate(NU_GRID):
            for j, xv in enumerate(X_GRID):
                ref = mp.log(mp.besseli(n, mp.mpf(xv), maxterms=10**7))
                assert got[i, j] == pytest.approx(float(ref), rel=1e-12, abs=1e-15), (n, xv)
                assert got_scaled[i, j] == pytest.approx(float(ref - xv), rel=1e-12, abs=1e-15)


def test_log_bessel_iv_where_ive_underflows(mp):
    # I_500(1) ~ 1e-1285 and I_2000(1000) ~ 1e-285 * e^-1000: scipy.special.ive gives 0 here
    for n, xv in [(500.0, 1.0), (2000.0, 1000.0), (5000.0, 1e-3)]:
        with mp.workdps(50):
            ref = float(mp.log(mp.besseli(n, mp.mpf(xv), maxterms=10**7)))
        assert log_bessel_iv(n, xv) == pytest.approx(ref, rel=1e-12)


def test_log_bessel_iv_limits_at_zero_and_infinity():
    assert log_bessel_iv(0.0, 0.0) == 0.0
    assert log_bessel_iv(3.0, 0.0) == -np.inf
    assert log_bessel_iv(3.0, np.inf) == np.inf
    assert log_bessel_ive(3.0, np.inf) == -np.inf
    assert isinstance(log_bessel_iv(1.0, 2.0), float)


def test_bessel_ratio_and_complement_match_mpmath_on_grid(mp):
    nus = [n for n in NU_GRID if n >= 0.5]
    nu = np.array(nus)[:, None]
    x = np.array(X_GRID)[None, :]
    ratio = bessel_ratio(nu, x)
    comp = bessel_ratio_complement(nu, x)
    with mp.workdps(80):  # 1 - ratio needs extra digits when the ratio is near 1
        for i, n in enumerate(nus):
            for j, xv in enumerate(X_GRID):
                xm = mp.mpf(xv)
                ref = mp.besseli(n, xm, maxterms=10**7) / mp.besseli(n - 1, xm, maxterms=10**7)
                assert ratio[i, j] == pytest.approx(float(ref), rel=1e-12), (n, xv)
                assert comp[i, j] == pytest.approx(float(1 - ref), rel=1e-12, abs=0), (n, xv)


# points on both sides of the switches between methods (series / scipy ive / uniform expansion
# at x^2 = 4 (nu + 1) and hypot(nu, x) = 50; continued fraction / expansion at x = nu + 50),
# and concentrations up to 1e8
BOUNDARY_POINTS = [
    (0.0, 2.0), (0.0, 2.01), (0.0, 49.9), (0.0, 50.1), (1.0, 51.0), (1.0, 51.1),
    (2.5, 3.74), (2.5, 3.75), (10.0, 48.0), (10.0, 60.1), (30.0, 39.9), (30.0, 40.1),
    (49.0, 14.2), (49.5, 7.0), (60.0, 15.7), (60.0, 110.5), (99.5, 70.0), (250.0, 300.1),
    (1.0, 1e4), (1.0, 1e8), (2.5, 1e5), (25.0, 1e7), (500.0, 1e8), (2500.0, 2549.9),
    (2500.0, 2550.1), (2500.0, 1e5),
]


def test_special_functions_near_method_boundaries_match_mpmath(mp):
    nu, x = (np.array(v) for v in zip(*BOUNDARY_POINTS))
    log_iv = log_bessel_iv(nu, x)
    ratio = bessel_ratio(np.maximum(nu, 0.5), x)
    comp = bessel_ratio_complement(np.maximum(nu, 0.5), x)
    with mp.workdps(60):
        for i, (n, xv) in enumerate(BOUNDARY_POINTS):
            xm = mp.mpf(xv)
            ref = mp.log(mp.besseli(n, xm, maxterms=10**7))
            assert log_iv[i] == pytest.approx(float(ref), rel=1e-12, abs=1e-15), (n, xv)
            n = max(n, 0.5)
            r = mp.besseli(n, xm, maxterms=10**7) / mp.besseli(n - 1, xm, maxterms=10**7)
            assert ratio[i] == pytest.approx(float(r), rel=1e-12), (n, xv)
            assert comp[i] == pytest.approx(float(1 - r), rel=1e-12, abs=0), (n, xv)


def test_bessel_ratio_small_argument_limit_and_endpoints():
    nu = np.array([1.0, 10.0, 2000.0])
    assert np.allclose(bessel_ratio(nu, 1e-12), 1e-12 / (2 * nu), rtol=1e-14, atol=0)
    assert np.all(bessel_ratio(nu, 0.0) == 0.0)
    assert np.all(bessel_ratio(nu, np.inf) == 1.0)
    assert np.all(bessel_ratio_complement(nu, 0.0) == 1.0)


def test_log_sphere_mgf_matches_mpmath_hyp0f1(mp):
    dims = [2, 3, 50, 1001, 5000]
    kappas = [0.0, 1e-8, 1.0, 30.0, 1e3, 1e6]
    got = log_sphere_mgf(np.array(dims)[:, None], np.array(kappas)[None, :])
    got_scaled = log_sphere_mgf(np.array(dims)[:, None], np.array(kappas)[None, :], scaled=True)
    with mp.workdps(50):
        for i, d in enumerate(dims):
            for j, k in enumerate(kappas):
                km = mp.mpf(k)
                ref = mp.log(mp.hyp0f1(mp.mpf(d) / 2, km**2 / 4, maxterms=10**7))
                assert got[i, j] == pytest.approx(float(ref), rel=1e-12, abs=0), (d, k)
                assert got_scaled[i, j] == pytest.approx(float(ref - km), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: log_bessel_iv(-1.0, 1.0), "nu"),
        (lambda: log_bessel_iv(1.0, -1.0), "x"),
        (lambda: log_bessel_iv(1.0, np.nan), "x"),
        (lambda: log_bessel_iv(np.nan, 1.0), "nu"),
        (lambda: log_bessel_ive([1.0, 2.0], [1.0, 2.0, 3.0]), "x"),
        (lambda: bessel_ratio(0.25, 1.0), "nu"),
        (lambda: bessel_ratio_complement(1.0, -2.0), "x"),
        (lambda: log_sphere_mgf(1, 1.0), "dim"),
        (lambda: log_sphere_mgf(3, -1.0), "kappa"),
    ],
)
def test_special_function_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


# ------------------------------------------------------------------------------------------
# the prior


def test_model_attributes_params_and_default_basis():
    model = Hypersphere(6)
    assert model.name == "hypersphere"
    assert model.state_space == "sphere"
    assert model.capabilities == frozenset({"sample", "exact_posterior"})
    assert model.n_dim == 6 and model.subspace_dim == 6
    assert model.radius == pytest.approx(np.sqrt(6))
    assert model.params() == {"n_dim": 6, "radius": model.radius, "subspace_dim": 6}
    assert np.array_equal(model.basis, np.eye(6))
    assert not model.basis.flags.writeable
    assert "Hypersphere(n_dim=6" in repr(model)
    sub = Hypersphere(6, radius=2.0, basis=random_basis(3, 6, seed=1))
    assert sub.subspace_dim == 3  # inferred from the basis
    assert Hypersphere(6, subspace_dim=4).basis.shape == (4, 6)


def test_log_prob_is_zero_on_support_and_minus_inf_off_it():
    b = random_basis(3, 5, seed=2)
    model = Hypersphere(5, radius=2.0, basis=b)
    x = model.sample(12, np.random.default_rng(3)).reshape(3, 4, 5)
    assert np.array_equal(model.log_prob(x), np.zeros((3, 4)))
    assert model.log_prob(x * (1 + 1e-6)).max() == -np.inf  # off the radius
    normal = np.linalg.svd(b, full_matrices=True)[2][3]  # a unit vector orthogonal to the rows
    assert abs(b @ normal).max() < 1e-12
    assert model.log_prob(x + 1e-6 * normal).max() == -np.inf  # off the subspace
    assert model.log_prob(x * (1 + 1e-10) + 1e-10 * normal).min() == 0.0  # within tolerance
    assert model.log_prob(np.full(5, np.nan)) == -np.inf


@pytest.mark.parametrize("basis_kind", ["axes", "random"])
def test_prior_samples_are_uniform_on_the_sphere_in_the_subspace(basis_kind):
    n_dim, d, n = 30, 20, 20000
    basis = None if basis_kind == "axes" else random_basis(d, n_dim, seed=4)
    model = Hypersphere(n_dim, subspace_dim=d, basis=basis)
    x = model.sample(n, np.random.default_rng(5))
    assert x.shape == (n, n_dim)
    w = x @ model.basis.T
    assert np.abs(np.linalg.norm(w, axis=1) - model.radius).max() < 1e-10 * model.radius
    assert np.abs(x - w @ model.basis).max() < 1e-10 * model.radius
    # uniform law on S^{d-1}: E[w] = 0 and E[w w^T] = (r^2 / d) I_d
    assert np.abs(z_scores(w, np.zeros(d))).max() < 5
    assert np.abs(z_scores(w**2, np.full(d, model.radius**2 / d))).max() < 5


# ------------------------------------------------------------------------------------------
# posterior: evidence, Tweedie, fluctuation-dissipation


def quadrature_moments(model, y, s):
    """log Z and E[x0] by 2D quadrature over the polar angles of w on S^2 (d = 3 only)."""
    b, r = model.basis, model.radius

    def point(theta, phi):
        w = np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
        return r * (w @ b)

    def weight(theta, phi, shift):
        diff = y - point(theta, phi)
        return np.exp(-(diff @ diff - shift) / (2 * s)) * np.sin(theta)

    # any constant works as a shift; this one keeps the integrand of order one
    grid = [(th, ph) for th in np.linspace(0, np.pi, 7) for ph in np.linspace(0, 2 * np.pi, 13)]
    shift = min(np.sum((y - point(th, ph)) ** 2) for th, ph in grid)
    opts = dict(epsabs=0, epsrel=1e-11)
    z, _ = integrate.dblquad(lambda ph, th: weight(th, ph, shift), 0, np.pi, 0, 2 * np.pi, **opts)
    mean = np.empty(model.n_dim)
    for i in range(model.n_dim):
        first, _ = integrate.dblquad(
            lambda ph, th: weight(th, ph, shift) * point(th, ph)[i], 0, np.pi, 0, 2 * np.pi, **opts
        )
        mean[i] = first / z
    return np.log(z / (4 * np.pi)) - shift / (2 * s), mean


CASES_D3 = {
    "full_N3": (lambda: Hypersphere(3), np.array([0.9, -1.2, 0.4])),
    "subspace_N4_d3": (
        lambda: Hypersphere(4, radius=1.5, basis=random_basis(3, 4, seed=6)),
        np.array([0.7, 1.1, -0.3, 0.8]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES_D3))
@pytest.mark.parametrize("s", [0.4, 3.0])
def test_log_partition_and_mean_match_quadrature_over_the_sphere(case, s):
    make, y = CASES_D3[case]
    model = make()
    post = model.exact_posterior(y, s)
    log_z, mean = quadrature_moments(model, y, s)
    assert post.log_partition() == pytest.approx(log_z, rel=1e-8)
    assert np.allclose(post.mean(), mean, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("case", sorted(CASES_D3))
@pytest.mark.parametrize("s", [0.4, 3.0])
def test_tweedie_gradient_of_log_partition_equals_mean_minus_y_over_s(case, s):
    make, y = CASES_D3[case]
    model = make()
    h = 1e-5
    grad = np.empty(model.n_dim)
    for i in range(model.n_dim):
        e = np.zeros(model.n_dim)
        e[i] = h
        up = model.exact_posterior(y + e, s).log_partition()
        down = model.exact_posterior(y - e, s).log_partition()
        grad[i] = (up - down) / (2 * h)
    post = model.exact_posterior(y, s)
    assert np.allclose(grad, (post.mean() - y) / s, rtol=0, atol=1e-6)


@pytest.mark.parametrize("subspace", [False, True])
def test_fluctuation_dissipation_jacobian_of_mean_equals_cov_over_s(subspace):
    n_dim, s = 5, 0.7
    basis = random_basis(3, n_dim, seed=7) if subspace else None
    model = Hypersphere(n_dim, basis=basis)
    y = np.array([1.3, -0.4, 0.9, 2.0, -1.1])
    h = 1e-5
    jac = np.empty((n_dim, n_dim))
    for j in range(n_dim):
        e = np.zeros(n_dim)
        e[j] = h
        up = model.exact_posterior(y + e, s).mean()
        down = model.exact_posterior(y - e, s).mean()
        jac[:, j] = (up - down) / (2 * h)
    post = model.exact_posterior(y, s)
    assert np.allclose(jac, post.cov() / s, rtol=0, atol=1e-6)
    assert np.allclose(post.cov(), post.cov().T)
    assert np.trace(post.cov()) == pytest.approx(post.cov_trace(), rel=1e-12)


def test_uniform_posterior_when_y_has_no_component_in_the_subspace():
    model = Hypersphere(5, radius=2.0, subspace_dim=3)
    y = np.array([0.0, 0.0, 0.0, 1.5, -0.5])  # orthogonal to the first three axes
    post = model.exact_posterior(y, 0.8)
    assert post.kappa == 0.0
    assert np.array_equal(post.mean(), np.zeros(5))
    assert post.log_partition() == pytest.approx(-(y @ y + 4.0) / (2 * 0.8), rel=1e-15)
    expected = np.zeros((5, 5))
    expected[:3, :3] = np.eye(3) * 4.0 / 3
    assert np.allclose(post.cov(), expected, rtol=1e-15, atol=0)
    assert post.cov_trace() == pytest.approx(4.0, rel=1e-15)


# ------------------------------------------------------------------------------------------
# exact posterior samples


SAMPLE_MODELS = {
    "full_N50": lambda: Hypersphere(50),
    "subspace_N50_d40": lambda: Hypersphere(50, basis=random_basis(40, 50, seed=8)),
    "circle_N50_d2": lambda: Hypersphere(50, subspace_dim=2),
}


def y_for(model, seed):
    """A state with |y| ~ sqrt(N): 0.8 sqrt(N) in a random direction."""
    v = np.random.default_rng(seed).standard_normal(model.n_dim)
    return 0.8 * np.sqrt(model.n_dim) * v / np.linalg.norm(v)


@pytest.mark.parametrize("case", sorted(SAMPLE_MODELS))
@pytest.mark.parametrize("s", [0.5, 2.0])  # below and above the transition at s = 1
def test_exact_samples_match_mean_and_cov_trace_within_5_standard_errors(case, s):
    model = SAMPLE_MODELS[case]()
    post = model.exact_posterior(y_for(model, seed=9), s)
    n = 20000
    x = post.sample(n, np.random.default_rng(10))
    assert x.shape == (n, model.n_dim)
    # on the sphere in the subspace
    w = x @ model.basis.T
    assert np.abs(np.linalg.norm(w, axis=1) - model.radius).max() < 1e-10 * model.radius
    assert np.abs(x - w @ model.basis).max() < 1e-10 * model.radius
    assert np.all(model.log_prob(x) == 0.0)
    # mean, per coordinate
    assert np.abs(z_scores(x, post.mean())).max() < 5
    # trace of the covariance: per-sample squared deviations, SE = std / sqrt(n)
    dev2 = np.sum((x - x.mean(axis=0)) ** 2, axis=1) * n / (n - 1)
    se = dev2.std(ddof=1) / np.sqrt(n)
    assert abs(dev2.mean() - post.cov_trace()) < 5 * se
    assert np.trace(post.cov()) == pytest.approx(post.cov_trace(), rel=1e-12)


@pytest.mark.parametrize("s", [0.5, 2.0])
def test_negative_control_samples_with_wrong_kappa_fail_the_mean_test(s):
    model = Hypersphere(50)
    y = y_for(model, seed=9)
    post = model.exact_posterior(y, s)
    wrong = model.exact_posterior(y, s / 1.5)  # same direction, kappa * 1.5
    assert wrong.kappa == pytest.approx(1.5 * post.kappa)
    x = wrong.sample(20000, np.random.default_rng(10))
    assert np.abs(z_scores(x, post.mean())).max() > 5


def vmf_cosine_cdf(dim, kappa):
    """CDF of t = mu.w under vMF(mu, kappa) on S^{dim-1}, from its density by quadrature.

    The density of t is proportional to exp(kappa t) (1 - t^2)^{(dim-3)/2}. In the angle
    theta = arccos t it is proportional to exp(kappa (cos theta - 1)) sin(theta)^{dim-2},
    which is smooth for every dim >= 2; a fine grid in theta, refined near 0 where the mass
    sits for large kappa, and the trapezoid rule give the CDF to about 1e-8.
    """
    width = min(np.pi, 40.0 * np.sqrt(dim / kappa))
    theta = np.unique(np.concatenate([
        np.linspace(0.0, width, 200001), np.linspace(width, np.pi, 20001)
    ]))
    log_f = kappa * (np.cos(theta) - 1.0)
    if dim > 2:
        with np.errstate(divide="ignore"):  # sin = 0 at the end points: log f = -inf there
            log_f = log_f + (dim - 2) * np.log(np.sin(theta))
    f = np.exp(log_f - log_f[np.isfinite(log_f)].max())
    mass_below_theta = integrate.cumulative_trapezoid(f, theta, initial=0.0)
    mass_below_theta /= mass_below_theta[-1]
    # P(T <= t) = P(theta >= arccos t)
    return lambda t: 1.0 - np.interp(np.arccos(np.clip(t, -1.0, 1.0)), theta, mass_below_theta)


def test_reference_cosine_cdf_matches_closed_form_on_s2():
    # on S^2, t = mu.w has CDF (exp(kappa (t - 1)) - exp(-2 kappa)) / (1 - exp(-2 kappa))
    kappa = 4.0
    t = np.linspace(-1.0, 1.0, 1001)
    exact = (np.exp(kappa * (t - 1.0)) - np.exp(-2 * kappa)) / (1.0 - np.exp(-2 * kappa))
    assert np.abs(vmf_cosine_cdf(3, kappa)(t) - exact).max() < 1e-8


@pytest.mark.parametrize("dim, kappa", [(2, 3.0), (3, 4.0), (50, 30.0), (50, 1e6)])
def test_sampled_cosine_follows_the_exact_vmf_marginal_ks(dim, kappa):
    model = Hypersphere(dim, radius=1.0)
    y = np.zeros(dim)
    y[0] = 1.0
    post = model.exact_posterior(y, 1.0 / kappa)  # kappa = r |y| / s
    assert post.kappa == pytest.approx(kappa)
    cdf = vmf_cosine_cdf(dim, kappa)
    t = post.sample(4000, np.random.default_rng(11))[:, 0]
    assert stats.kstest(t, cdf).pvalue > 1e-3
    # negative control: samples drawn with kappa * 1.5 are rejected
    wrong = model.exact_posterior(y, 1.0 / (1.5 * kappa)).sample(4000, np.random.default_rng(11))
    assert stats.kstest(wrong[:, 0], cdf).pvalue < 1e-6


# ------------------------------------------------------------------------------------------
# large N, stability


@pytest.mark.parametrize("s", [0.2, 0.5, 0.9])
def test_large_n_fixed_point_q_equals_sqrt_one_minus_s(s):
    """For s < 1 the fixed point of m(y) = y has q = |m| / sqrt(N) = sqrt(1 - s) (physics.md).

    Finite N: with y = sqrt(N (1 - s)) e1, q = sqrt(1 - s) + c(s) / N + O(1/N^2) where
    c(s) = 2 s (1 - s)^{3/2} / (2 - s)^2 (derived from d log I_nu / d nu = -asinh(nu / x)
    - nu / (2 h^2) + O(1/h^2) with h = sqrt(nu^2 + x^2), nu = N/2, x = kappa).
    """
    n_dim = 2000
    model = Hypersphere(n_dim)
    y = np.zeros(n_dim)
    y[0] = np.sqrt(n_dim * (1 - s))
    q = np.linalg.norm(model.exact_posterior(y, s).mean()) / np.sqrt(n_dim)
    q_star = np.sqrt(1 - s)
    assert abs(q - q_star) < 1.0 / n_dim
    c = 2 * s * (1 - s) ** 1.5 / (2 - s) ** 2
    assert abs(n_dim * (q - q_star) - c) < 1.0 / n_dim


def test_large_n_no_nontrivial_fixed_point_above_transition():
    n_dim, s = 2000, 1.5
    model = Hypersphere(n_dim)
    for q in [0.05, 0.3, 0.7, 1.0]:
        y = np.zeros(n_dim)
        y[0] = q * np.sqrt(n_dim)
        assert np.linalg.norm(model.exact_posterior(y, s).mean()) < q * np.sqrt(n_dim)


@pytest.mark.parametrize("s", [1e-6, 1e6])
@pytest.mark.parametrize("y_kind", ["generic", "tiny", "zero"])
def test_extreme_noise_levels_are_finite_and_silent_at_n_5000(s, y_kind):
    n_dim = 5000
    model = Hypersphere(n_dim)
    r = model.radius
    scale = {"generic": 1.0, "tiny": 1e-200, "zero": 0.0}[y_kind]
    y = scale * np.random.default_rng(12).standard_normal(n_dim)  # |y| ~ sqrt(N) when generic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            post = model.exact_posterior(y, s)
            mean = post.mean()
            log_z = post.log_partition()
            trace = post.cov_trace()
            x = post.sample(5, np.random.default_rng(13))
    assert np.all(np.isfinite(mean)) and np.isfinite(log_z) and np.isfinite(trace)
    assert 0.0 <= trace <= r**2
    assert np.all(np.isfinite(x))
    assert np.abs(np.linalg.norm(x, axis=1) - r).max() < 1e-10 * r
    y2 = float(y @ y)
    if y_kind == "generic" and s == 1e-6:
        # nearly a delta at r y / |y|: |m| -> r and tr Cov -> r^2 (d - 1) / kappa
        assert np.linalg.norm(mean) == pytest.approx(r, rel=1e-3)
        assert trace == pytest.approx(r**2 * (n_dim - 1) / post.kappa, rel=1e-3)
    if s == 1e6:  # nearly the prior: log Z -> -(|y|^2 + r^2) / (2 s), tr Cov -> r^2
        assert log_z == pytest.approx(-(y2 + r**2) / (2 * s), rel=1e-6)
        assert trace == pytest.approx(r**2, rel=1e-6)


# ------------------------------------------------------------------------------------------
# input validation: every ValueError names the parameter


N = 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_dim=1), "n_dim"),
        (dict(n_dim=2.5), "n_dim"),
        (dict(n_dim="4"), "n_dim"),
        (dict(n_dim=N, radius=0.0), "radius"),
        (dict(n_dim=N, radius=-1.0), "radius"),
        (dict(n_dim=N, radius=np.nan), "radius"),
        (dict(n_dim=N, radius=np.inf), "radius"),
        (dict(n_dim=N, subspace_dim=1), "subspace_dim"),
        (dict(n_dim=N, subspace_dim=N + 1), "subspace_dim"),
        (dict(n_dim=N, basis=np.eye(3, N + 1)), "basis"),
        (dict(n_dim=N, basis=np.ones(N)), "basis"),
        (dict(n_dim=N, basis=np.eye(1, N)), "basis"),
        (dict(n_dim=N, subspace_dim=3, basis=np.eye(2, N)), "basis"),
        (dict(n_dim=N, basis=1.001 * np.eye(2, N)), "basis"),
        (dict(n_dim=N, basis=np.array([[1.0, 0, 0, 0], [1.0, 1e-3, 0, 0]])), "basis"),
        (dict(n_dim=N, basis=np.full((2, N), np.nan)), "basis"),
    ],
)
def test_constructor_errors_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        Hypersphere(**kwargs)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda m: m.log_prob(np.zeros(N + 1)), "x0"),
        (lambda m: m.log_prob(np.zeros((3, N - 1))), "x0"),
        (lambda m: m.log_prob(1.0), "x0"),
        (lambda m: m.exact_posterior(np.zeros(N + 1), 1.0), "y"),
        (lambda m: m.exact_posterior(np.full(N, np.nan), 1.0), "y"),
        (lambda m: m.exact_posterior(np.ones(N), 0.0), "s"),
        (lambda m: m.exact_posterior(np.ones(N), -1.0), "s"),
        (lambda m: m.exact_posterior(np.ones(N), np.nan), "s"),
        (lambda m: m.exact_posterior(np.full(N, 1e300), 1e-300), "s"),  # kappa overflows
        (lambda m: m.sample(-1, 0), "n"),
        (lambda m: m.sample(3, "seed"), "rng"),
        (lambda m: m.exact_posterior(np.ones(N), 1.0).sample(2.5, 0), "n"),
        (lambda m: VonMisesFisherPosterior(object(), np.ones(N), 1.0), "model"),
    ],
)
def test_call_errors_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call(Hypersphere(N))
