"""Gaussian mixtures: exact posterior against exact samples, closed forms, linear algebra, bad input."""
import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

import mc
from conftest import within_standard_errors


def random_spd(rng, n, scale=1.0):
    a = rng.standard_normal((n, n))
    return scale * (a @ a.T / n + 0.2 * np.eye(n))


def full_mixture(rng, K=3, N=4):
    means = 2.0 * rng.standard_normal((K, N))
    covs = np.stack([random_spd(rng, N) for _ in range(K)])
    return mc.GaussianMixture(means, covariances=covs, weights=rng.dirichlet(np.ones(K)))


@pytest.mark.parametrize("t", [0.3, 2.0])
def test_posterior_moments_match_exact_samples_within_5_standard_errors(t, rng):
    """Mean per coordinate and covariance trace from 400000 exact draws (independent: samples
    use the component-wise construction, moments the mixture formulas)."""
    model = full_mixture(rng)
    x_t = mc.VP().sample_xt(model.sample(1, rng)[0], t, rng)
    post = mc.Posterior(model, mc.VP(), x_t, t)
    n = 400_000
    xs = post.sample_exact(n, rng)
    se = xs.std(0, ddof=1) / np.sqrt(n)
    assert within_standard_errors(xs.mean(0), post.mean(), se).all()
    sq = np.sum((xs - post.mean()) ** 2, axis=1)
    assert within_standard_errors(sq.mean(), post.cov_trace(), sq.std(ddof=1) / np.sqrt(n))
    # each covariance entry: the sample covariance has a standard error from the 4th moments
    d = xs - post.mean()
    prod = d[:, :, None] * d[:, None, :]
    se_cov = prod.std(0, ddof=1) / np.sqrt(n)
    assert within_standard_errors(prod.mean(0), post.cov(), se_cov).all()


def test_moment_test_fails_against_a_wrong_time_negative_control(rng):
    model = full_mixture(rng)
    x_t = mc.VP().sample_xt(model.sample(1, rng)[0], 0.3, rng)
    right = mc.Posterior(model, mc.VP(), x_t, 0.3)
    wrong = mc.Posterior(model, mc.VP(), x_t, 0.45)
    xs = wrong.sample_exact(100_000, rng)
    se = xs.std(0, ddof=1) / np.sqrt(xs.shape[0])
    assert not within_standard_errors(xs.mean(0), right.mean(), se).all()


@pytest.mark.parametrize("proc", [mc.VE(0.8), mc.VP()], ids=["VE", "VP"])
def test_covariance_is_the_finite_difference_response_of_the_mean(proc, rng):
    """Fluctuation-dissipation: d m / d x_t = (a_t / D_t) Cov, by central differences."""
    model = full_mixture(rng, K=2, N=3)
    t = 0.6
    x_t = proc.sample_xt(model.sample(1, rng)[0], t, rng)
    post = mc.Posterior(model, proc, x_t, t)
    h = 1e-5
    jac = np.empty((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        jac[:, j] = (mc.Posterior(model, proc, x_t + e, t).mean() - mc.Posterior(model, proc, x_t - e, t).mean()) / (2 * h)
    np.testing.assert_allclose(jac, post.a / post.D * post.cov(), atol=1e-7, rtol=1e-6)


def test_full_covariance_posterior_equals_gaussian_conditioning_per_component(rng):
    """Within a component, (x0, y) is jointly Gaussian: E[x0 | y] = mu + C (C + sI)^-1 (y - mu),
    Cov = C - C (C + sI)^-1 C; weights from N(y; mu, C + s I). Computed here with solves."""
    model = full_mixture(rng, K=2, N=5)
    y = rng.standard_normal(5)
    s = 0.7
    ex = model.exact_posterior(y, s)
    logw = []
    for k in range(2):
        C = model.component_covariance(k)
        G = C + s * np.eye(5)
        np.testing.assert_allclose(ex.component_means[k], model.means[k] + C @ np.linalg.solve(G, y - model.means[k]), atol=1e-12)
        V = C - C @ np.linalg.solve(G, C)
        u = model.eigenvectors[k]
        np.testing.assert_allclose((u * ex.component_eigenvalues[k]) @ u.T, V, atol=1e-12)
        logw.append(np.log(model.weights[k]) + stats.multivariate_normal(model.means[k], G).logpdf(y))
    logw = np.array(logw)
    np.testing.assert_allclose(ex.weights, np.exp(logw - np.logaddexp.reduce(logw)), rtol=1e-10)
    # log Z = log E_p0 exp(-|y - x0|^2 / 2s) = log q(y) + (N/2) log(2 pi s)
    assert ex.log_partition() == pytest.approx(np.logaddexp.reduce(logw) + 2.5 * np.log(2 * np.pi * s), rel=1e-12)


def test_two_class_weights_are_the_tanh_closed_form(rng):
    """Class weights (1 +- tanh(a mu.x_t / G)) / 2 with G = D + a^2 sigma^2 (physics notes)."""
    N, sigma2 = 50, 0.7
    mu = rng.standard_normal(N)
    model = mc.GaussianMixture.two_class(mu, variance=sigma2)
    proc = mc.VP()
    for t in [0.2, 1.0, 3.0]:
        x_t = proc.sample_xt(mu, t, rng)
        post = mc.Posterior(model, proc, x_t, t)
        G = post.D + post.a**2 * sigma2
        g = post.a * mu @ x_t / G
        # (1 +- tanh g) / 2 = expit(+-2g), which keeps the small weight's relative precision
        np.testing.assert_allclose(post.weights, [expit(2 * g), expit(-2 * g)], rtol=1e-9, atol=0)
        v = 1.0 / (1.0 / sigma2 + post.a**2 / post.D)
        np.testing.assert_allclose(post.exact.component_means[0], v * (mu / sigma2 + post.a * x_t / post.D), rtol=1e-11)


def test_isotropic_diagonal_and_full_representations_agree(rng):
    N = 4
    means = rng.standard_normal((2, N))
    var = np.array([0.5, 2.0])
    iso = mc.GaussianMixture(means, variances=var)
    diag = mc.GaussianMixture(means, variances=np.repeat(var[:, None], N, axis=1))
    full = mc.GaussianMixture(means, covariances=np.stack([v * np.eye(N) for v in var]))
    y = rng.standard_normal(N)
    posts = [m.exact_posterior(y, 0.9) for m in (iso, diag, full)]
    for p in posts[1:]:
        np.testing.assert_allclose(p.mean(), posts[0].mean(), atol=1e-12)
        np.testing.assert_allclose(p.cov(), posts[0].cov(), atol=1e-12)
        assert p.log_partition() == pytest.approx(posts[0].log_partition(), rel=1e-12)


def test_singular_covariance_reduces_to_two_deltas():
    v = np.array([1.0, -0.5])
    gm = mc.GaussianMixture(np.stack([v, -v]), variances=0.0)
    td = mc.TwoDeltas(v)
    x_t = np.array([0.4, 0.1])
    p1, p2 = mc.Posterior(gm, mc.VE(), x_t, 0.3), mc.Posterior(td, mc.VE(), x_t, 0.3)
    np.testing.assert_allclose(p1.mean(), p2.mean(), atol=1e-14)
    np.testing.assert_allclose(p1.cov(), p2.cov(), atol=1e-14)
    assert p1.log_partition() == pytest.approx(p2.log_partition(), rel=1e-13)
    assert "grad_log_prob" not in gm.capabilities
    with pytest.raises(ValueError, match="^x0:"):
        gm.log_prob(x_t)


def test_log_prob_and_its_gradient_against_scipy_and_finite_differences(rng):
    model = full_mixture(rng, K=3, N=3)
    x = rng.standard_normal((5, 3))
    ref = np.logaddexp.reduce(
        [np.log(model.weights[k]) + stats.multivariate_normal(model.means[k], model.component_covariance(k)).logpdf(x) for k in range(3)],
        axis=0,
    )
    np.testing.assert_allclose(model.log_prob(x), ref, rtol=1e-12)
    h = 1e-6
    fd = np.stack([(model.log_prob(x + h * e) - model.log_prob(x - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(model.grad_log_prob(x), fd, rtol=1e-6, atol=1e-7)


def test_prior_samples_have_the_mixture_moments(rng):
    model = full_mixture(rng, K=2, N=3)
    xs = model.sample(300_000, rng)
    mean = model.weights @ model.means
    se = xs.std(0, ddof=1) / np.sqrt(xs.shape[0])
    assert within_standard_errors(xs.mean(0), mean, se).all()


def test_stable_for_thousands_of_dimensions_and_tiny_or_huge_times(rng):
    N = 3000
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=N)
    for t in [1e-8, 1e-3, 5.0, 100.0]:
        state = mc.draw_quenched(model, mc.VP(), t, seed=1)
        post = mc.Posterior(model, mc.VP(), state.x_t, t)
        assert np.isfinite(post.log_partition()) and np.isfinite(post.mean()).all()
        assert post.weights.sum() == pytest.approx(1.0, abs=1e-14)
        assert 0 <= post.cov_trace() < 3 * N


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: mc.GaussianMixture(np.zeros((2, 3)), variances=-1.0), "variances"),
        (lambda: mc.GaussianMixture(np.zeros((2, 3)), variances=[1.0, -0.1]), "variances"),
        (lambda: mc.GaussianMixture(np.zeros((2, 3)), variances=np.ones((2, 4))), "variances"),
        (lambda: mc.GaussianMixture(np.zeros((2, 3))), "covariances, variances"),
        (lambda: mc.GaussianMixture(np.zeros((2, 3)), covariances=np.eye(3), variances=1.0), "covariances, variances"),
        (lambda: mc.GaussianMixture(np.zeros((1, 2)), covariances=[[1.0, 2.0], [2.0, 1.0]]), "covariances"),
        (lambda: mc.GaussianMixture(np.zeros((1, 2)), covariances=[[1.0, 0.5], [0.0, 1.0]]), "covariances"),
        (lambda: mc.GaussianMixture(np.zeros((1, 2)), covariances=np.eye(3)), "covariances"),
        (lambda: mc.GaussianMixture(np.zeros((1, 2)), covariances=[[np.nan, 0.0], [0.0, 1.0]]), "covariances"),
        (lambda: mc.GaussianMixture(np.zeros((2, 2)), variances=1.0, weights=[0.3, 0.3]), "weights"),
        (lambda: mc.GaussianMixture(np.zeros((2, 2)), variances=1.0, weights=[1.0]), "weights"),
        (lambda: mc.GaussianMixture([[np.nan, 0.0]], variances=1.0), "means"),
        (lambda: mc.GaussianMixture(np.zeros((2, 2, 2)), variances=1.0), "means"),
        (lambda: mc.GaussianMixture.two_class(np.ones(3), variance=-1.0), "variance"),
        (lambda: mc.GaussianMixture.two_class(np.ones(3), n_dim=4), "mu"),
        (lambda: mc.GaussianMixture.two_class(1.0, weight=0.0), "weight"),
        (lambda: mc.GaussianMixture(np.zeros((1, 2)), variances=1.0).log_prob(np.zeros(3)), "x0"),
    ],
)
def test_bad_mixture_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()
