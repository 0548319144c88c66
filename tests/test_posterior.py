"""The Posterior wrapper: energies, fields, the score and its divergence, bad input."""
import numpy as np
import pytest

import mc


def two_class(N=3):
    return mc.GaussianMixture.two_class(np.linspace(0.5, 1.5, N), variance=0.5)


def test_energy_is_the_likelihood_term_minus_log_prior(rng):
    model = two_class()
    x_t = rng.standard_normal(3)
    post = mc.Posterior(model, mc.VP(), x_t, 0.4)
    x0 = rng.standard_normal((6, 3))
    a, D = np.exp(-0.4), 1 - np.exp(-0.8)
    ref = np.sum((x_t - a * x0) ** 2, axis=1) / (2 * D) - model.log_prob(x0)
    np.testing.assert_allclose(post.energy(x0), ref, rtol=1e-13)
    np.testing.assert_allclose(post.log_weight(x0), -ref, rtol=1e-13)
    np.testing.assert_allclose(post.field, a * x_t / D, rtol=1e-14)
    np.testing.assert_allclose(post.y, x_t / a, rtol=1e-14)


def test_energy_differences_give_the_exact_posterior_density_ratios(rng):
    """exp(-(H(x) - H(x'))) equals the ratio of the exact posterior mixture densities."""
    from scipy import stats

    model = two_class()
    post = mc.Posterior(model, mc.VE(), rng.standard_normal(3), 0.9)
    ex = post.exact

    def density(x):
        return sum(
            w * stats.multivariate_normal(m, np.diag(lam)).pdf(x)
            for w, m, lam in zip(ex.weights, ex.component_means, ex.component_eigenvalues)
        )

    x, xp = rng.standard_normal(3), rng.standard_normal(3)
    assert np.exp(post.energy(xp) - post.energy(x)) == pytest.approx(density(x) / density(xp), rel=1e-10)


@pytest.mark.parametrize("proc", [mc.VE(), mc.VP()], ids=["VE", "VP"])
def test_score_divergence_is_the_trace_of_the_hessian_of_log_evidence(proc, rng):
    model = two_class()
    t = 0.5
    x_t = rng.standard_normal(3)
    post = mc.Posterior(model, proc, x_t, t)
    h = 1e-4
    lap = 0.0
    for e in np.eye(3):
        lap += (
            mc.Posterior(model, proc, x_t + h * e, t).log_evidence()
            - 2 * post.log_evidence()
            + mc.Posterior(model, proc, x_t - h * e, t).log_evidence()
        ) / h**2
    assert post.score_divergence() == pytest.approx(lap, rel=1e-5)


def test_models_without_an_exact_posterior_say_so():
    class Prior(mc.DataModel):
        n_dim = 2

        def log_prob(self, x0):
            return -0.25 * np.sum(np.asarray(x0) ** 4, axis=-1)

        def sample(self, n, rng):
            raise NotImplementedError

    post = mc.Posterior(Prior(), mc.VP(), np.zeros(2), 1.0)
    assert not post.is_exact
    assert np.isfinite(post.energy(np.ones(2)))
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        post.mean()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"x_t": np.zeros(4)}, "x_t"),
        ({"x_t": np.array([0.0, np.nan, 1.0])}, "x_t"),
        ({"x_t": np.zeros((1, 3))}, "x_t"),
        ({"t": 0.0}, "t"),
        ({"t": -2.0}, "t"),
        ({"t": np.nan}, "t"),
        ({"t": np.array([1.0, 2.0])}, "t"),
        ({"model": "two_class"}, "model"),
        ({"process": "VP"}, "process"),
    ],
)
def test_bad_posterior_input_raises_value_error_naming_it(kwargs, name):
    args = {"model": two_class(), "process": mc.VP(), "x_t": np.zeros(3), "t": 1.0, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        mc.Posterior(**args)


def test_energy_rejects_microstates_of_the_wrong_dimension():
    post = mc.Posterior(two_class(), mc.VP(), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="^x0:"):
        post.energy(np.zeros(2))


def test_enumerate_lists_states_with_their_probabilities():
    from mc.models import IsingPrior

    prior = IsingPrior.sherrington_kirkpatrick(6, beta=0.7, seed=4)
    post = mc.Posterior(prior, mc.VP(), np.linspace(-1, 1, 6), 0.8)
    states, probs = post.enumerate()
    assert states.shape == (64, 6) and probs.shape == (64,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(states.T @ probs, post.mean(), atol=1e-14)
    # the ratio of two probabilities is exp(-(H(s1) - H(s2))) with the Posterior's own energy
    i, j = 3, 40
    assert probs[i] / probs[j] == pytest.approx(np.exp(post.energy(states[j] * 1.0) - post.energy(states[i] * 1.0)), rel=1e-10)
    data = mc.Dataset(np.eye(3))
    pts, w = mc.Posterior(data, mc.VE(), np.ones(3), 1.0).enumerate()
    np.testing.assert_array_equal(pts, np.eye(3))
    np.testing.assert_allclose(w, 1 / 3)
    with pytest.raises(NotImplementedError):
        mc.Posterior(two_class(), mc.VE(), np.ones(3), 1.0).enumerate()


def test_noisy_state_and_derived_arrays_are_read_only_copies():
    x_t = np.array([0.3, -1.2, 0.8])
    post = mc.Posterior(two_class(), mc.VP(), x_t, 0.7)
    mean = post.mean().copy()
    for name in ("x_t", "y", "field"):
        arr = getattr(post, name)
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 5.0
        with pytest.raises(ValueError):
            arr += 1.0
    # the caller's array is copied: it stays writable and changing it leaves the posterior alone
    assert x_t.flags.writeable
    x_t[:] = 10.0
    np.testing.assert_array_equal(post.x_t, [0.3, -1.2, 0.8])
    np.testing.assert_array_equal(post.mean(), mean)
