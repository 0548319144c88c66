"""The Numba log-priors of the continuous kernels equal the models' own log p0 and gradient."""
import numpy as np
import pytest

import mc
from mc.kernels import priors
from mc.sampler import _builtin_prior


def _mixtures():
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, 4))
    full = mc.GaussianMixture(rng.standard_normal((3, 4)),
                              covariances=np.stack([np.eye(4) + 0.3 * np.outer(v, v) for v in vecs]),
                              weights=[0.2, 0.3, 0.5])
    diag = mc.GaussianMixture(rng.standard_normal((2, 6)), variances=rng.uniform(0.5, 2.0, (2, 6)), weights=[0.4, 0.6])
    return [mc.GaussianMixture.two_class(1.0, 0.7, n_dim=5), diag, full]


@pytest.mark.parametrize("model", _mixtures(), ids=["two_class", "diagonal", "full"])
def test_builtin_mixture_prior_equals_model_log_prob_and_gradient(model):
    f, params = _builtin_prior(model)
    rng = np.random.default_rng(1)
    for x in 3.0 * rng.standard_normal((20, model.n_dim)):
        g = np.empty_like(x)
        assert f(x, params, g) == pytest.approx(float(model.log_prob(x)), abs=1e-12)
        np.testing.assert_allclose(g, model.grad_log_prob(x), atol=1e-12)


def test_flat_prior_is_zero_with_zero_gradient():
    g = np.ones(3)
    assert priors.flat(np.arange(3.0), (np.zeros(1),), g) == 0.0
    assert np.all(g == 0.0)


def test_far_from_every_component_the_log_sum_exp_stays_finite():
    model = mc.GaussianMixture.two_class(1.0, 0.01, n_dim=3)
    f, params = _builtin_prior(model)
    x = np.full(3, 40.0)
    g = np.empty(3)
    assert np.isfinite(f(x, params, g)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, (1.0 - x) / 0.01)
