"""Continuous and sphere kernels against exact posteriors.

* Two-class Gaussian mixture, N = 50, VP: after speciation (t = 0.5, one class carries all the
  weight) MALA, HMC and RWM started at y = x_t / a_t; before speciation (t = 3, the two classes
  14 apart in x0 with weights 0.73 / 0.27) MALA and HMC inside a Hamiltonian tempering ladder.
  Checked: every coordinate of the mean, the trace of the covariance and the class weight
  (Rao-Blackwellised: P(c | x_t) = E[P(c | x0) | x_t], since x_t is independent of c given x0),
  within 5 standard errors from the integrated autocorrelation time.
* A user prior passed as a Numba function (flat prior: the posterior is N(y, s I)).
* Hypersphere: draws stay on the sphere to 1e-10 and the mean along the field equals the von
  Mises-Fisher mean r A_d(kappa).
* Data sets: the point histogram equals the exact softmax weights (chi-square).

Negative controls: a chain on the posterior at another time fails the same checks (MALA against
the mixture, the sphere, the data set).
"""
import numpy as np
import pytest
from numba import njit
from scipy import stats
from scipy.special import expit

import mc
from mc.diagnostics import tau_int

N = 50


def _mean_and_error(series):
    """Mean over (R, D) draws of a scalar and its standard error from tau (ACF over replicas)."""
    tau = max(1.0, tau_int(series, warn=False))
    return float(series.mean()), float(np.sqrt(series.var() * tau / series.size))


def _gmm_posterior(t, seed=4):
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=N)
    state = mc.draw_quenched(model, mc.VP(), t, seed=seed)
    return mc.Posterior(model, mc.VP(), state.x_t, t)


def _check_against_exact(post, res):
    x = res.samples
    model = post.model
    # mean, coordinate by coordinate
    exact_mean = post.mean()
    for i in range(N):
        m, e = _mean_and_error(x[:, :, i])
        assert abs(m - exact_mean[i]) <= 5 * e, f"mean[{i}] {m:.4f} +- {e:.4f} vs {exact_mean[i]:.4f}"
    # trace of the covariance: E|x - m_exact|^2 has the exact mean tr Cov
    sq = np.sum((x - exact_mean) ** 2, axis=2)
    m, e = _mean_and_error(sq)
    assert abs(m - post.cov_trace()) <= 5 * e, f"tr Cov {m:.3f} +- {e:.3f} vs {post.cov_trace():.3f}"
    # class weight, Rao-Blackwellised: P(+ | x0) = expit(2 mu . x0 / sigma^2) for +-mu, equal weights.
    # Only where both classes carry weight: after speciation P(+ | x0) is 0 or 1 to machine
    # precision in every draw and the check could not fail.
    if post.weights.min() > 1e-6:
        p_plus = expit(2.0 * x @ model.means[0])
        m, e = _mean_and_error(p_plus)
        assert abs(m - post.weights[0]) <= 5 * e, f"class weight {m:.4f} +- {e:.4f} vs {post.weights[0]:.4f}"


@pytest.mark.parametrize("method", ["mala", "hmc", "rwm"])
def test_single_class_posterior_after_speciation(method):
    post = _gmm_posterior(0.5)
    assert post.weights.max() > 1 - 1e-9
    # random-walk Metropolis decorrelates ~20x slower in N = 50: give it a chain 50 tau long
    sweeps, thin = (200_000, 20) if method == "rwm" else (20_000, 5)
    res = mc.sample(post, n_replicas=4, n_sweeps=sweeps, thin=thin, method=method, init="observation", seed=3)
    target = mc.sampler.TARGET_ACCEPTANCE[method]
    assert abs(res.acceptance.mean() - target) < 0.15
    _check_against_exact(post, res)


def test_a_chain_at_another_time_fails_the_same_checks():
    """Negative control: MALA on the posterior of the same x_t at t = 0.6 instead of 0.5."""
    post = _gmm_posterior(0.5)
    wrong = mc.Posterior(post.model, mc.VP(), post.x_t, 0.6)
    res = mc.sample(wrong, n_replicas=4, n_sweeps=20_000, thin=5, method="mala", init="observation", seed=3)
    with pytest.raises(AssertionError):
        _check_against_exact(post, res)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mala", "hmc"])
def test_two_class_posterior_before_speciation_with_tempering(method):
    post = _gmm_posterior(3.0)
    assert 0.2 < post.weights[0] < 0.8
    res = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=5, method=method, seed=1, tempering="hamiltonian",
                    n_temperatures=16, lowest_beta=0.03)
    assert res.exchange_rate.min() > 0.2
    _check_against_exact(post, res)


@njit(cache=True)
def _flat_prior(x, params, grad_out):
    for i in range(x.size):
        grad_out[i] = 0.0
    return 0.0


@pytest.mark.parametrize("method", ["mala", "hmc"])
def test_user_numba_prior_gives_the_gaussian_likelihood_posterior(method):
    """A Gaussian mixture with one very wide component stands in as the model; the flat prior
    passed by the user replaces it, so the posterior is N(y, s I) exactly."""
    model = mc.GaussianMixture(np.zeros((1, 5)), variances=1e6)
    x_t = np.array([0.3, -1.0, 2.0, 0.0, 0.5])
    post = mc.Posterior(model, mc.VE(), x_t, t=0.7)
    res = mc.sample(post, n_replicas=4, n_sweeps=10_000, method=method, seed=2, log_prior_grad=_flat_prior,
                    init="observation")
    for i in range(5):
        m, e = _mean_and_error(res.samples[:, :, i])
        assert abs(m - x_t[i]) <= 5 * e
        v, ev = _mean_and_error((res.samples[:, :, i] - x_t[i]) ** 2)
        assert abs(v - 0.7) <= 5 * ev


@pytest.mark.parametrize("subspace_dim", [None, 10])
def test_sphere_sampler_stays_on_sphere_and_matches_von_mises_fisher_mean(subspace_dim):
    model = mc.Hypersphere(30, subspace_dim=subspace_dim)
    state = mc.draw_quenched(model, mc.VP(), 0.8, seed=3)
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.8)
    res = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=2, seed=5)
    radius = np.linalg.norm(res.samples, axis=-1)
    assert np.max(np.abs(radius - model.radius)) <= 1e-10 * model.radius
    if subspace_dim is not None:
        assert np.all(res.samples[:, :, subspace_dim:] == 0.0)
    direction = post.exact.mean_direction
    along = res.samples @ direction
    m, e = _mean_and_error(along)
    exact = model.radius * post.exact.mean_resultant_length
    assert abs(m - exact) <= 5 * e, f"{m:.4f} +- {e:.4f} vs {exact:.4f}"
    np.testing.assert_allclose(res.energies, post.energy(res.samples), rtol=1e-9, atol=1e-9)
    # negative control: the chain of the same x_t at t = 1.0 misses this mean
    wrong = mc.sample(mc.Posterior(model, mc.VP(), state.x_t, 1.0), n_replicas=4, n_sweeps=20_000, thin=2, seed=5)
    m, e = _mean_and_error(wrong.samples @ direction)
    assert abs(m - exact) > 5 * e, f"{m:.4f} +- {e:.4f} vs {exact:.4f}"


def _chi2_pvalue(res, w):
    """Chi-square p-value of the visited points (thinned by 2 tau) against the weights ``w``."""
    step = int(np.ceil(2 * np.nanmax(res.tau_int["energy"])))
    idx = res.indices[:, ::step].ravel()
    keep = w * idx.size >= 5
    observed = np.bincount(idx, minlength=w.size)
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(w[keep], w[~keep].sum()) * idx.size
    if exp[-1] < 5:
        obs, exp = obs[:-1], exp[:-1] * (idx.size / exp[:-1].sum())
    chi2 = np.sum((obs - exp) ** 2 / exp)
    return stats.chi2.sf(chi2, obs.size - 1)


def test_data_set_sampler_matches_softmax_weights():
    model = mc.Dataset.gaussian(40, 8, seed=1)
    state = mc.draw_quenched(model, mc.VP(), 1.0, seed=3)
    post = mc.Posterior(model, mc.VP(), state.x_t, 1.0)
    res = mc.sample(post, n_replicas=4, n_sweeps=40_000, thin=4, seed=1)
    assert _chi2_pvalue(res, post.weights) > 1e-4
    np.testing.assert_array_equal(res.samples, model.points[res.indices])
    # negative control: the chain of the same x_t at t = 1.3 fails against these weights
    wrong = mc.sample(mc.Posterior(model, mc.VP(), state.x_t, 1.3), n_replicas=4, n_sweeps=40_000, thin=4, seed=1)
    assert _chi2_pvalue(wrong, post.weights) < 1e-4
