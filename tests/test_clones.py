"""Clones of the generative process (mc.clones) against exact posteriors.

With the exact score, R independent reverse trajectories from one x_t are exact posterior draws;
their statistics must equal the exact ones (``mc.Posterior``: weights over the points, mean,
covariance) within 5 standard errors, at a step count whose half-step check shows the
discretisation bias below the error. The same test fails for a coarse step count and for a wrong
score (negative controls). Fixed seeds throughout.
"""
import numpy as np
import pytest

import mc
from mc.clones import DiscretisationWarning, clone_replicas
from mc.scores import EmpiricalScore, GaussianScore

Z = 5.0


def _dataset_case():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((6, 8))
    ds = mc.Dataset(Y)
    t = 0.8
    state = mc.draw_quenched(ds, mc.VP(), t, seed=3, disorder=0, source="prior")
    return Y, ds, t, state.x_t, mc.Posterior(ds, mc.VP(), state.x_t, t)


def _nearest(samples, Y):
    flat = samples.reshape(-1, Y.shape[1])
    d = ((flat[:, None, :] - Y[None]) ** 2).sum(-1)
    return d.argmin(1).reshape(samples.shape[:2]), np.sqrt(d.min(1))


def _jackknife(values):
    """Mean and jackknife error of per-replica statistics ``values`` (R,)."""
    n = values.size
    loo = (values.sum() - values) / (n - 1)
    return values.mean(), np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())


def _dataset_z_scores(samples, Y, post):
    """z-scores of the clones' point frequencies, Y = sum w^2 and mean against the exact posterior."""
    idx, _ = _nearest(samples, Y)
    R, M = idx.shape
    w = post.weights
    n = idx.size
    freq = np.bincount(idx.ravel(), minlength=len(w)) / n
    z_freq = (freq - w) / np.sqrt(w * (1 - w) / n)
    # Y: probability that two clones of different replicas sit at the same point (U-statistic over
    # replica pairs at equal draw index), error by the jackknife over replicas
    same = (idx[:, None, :] == idx[None, :, :]).mean(-1)
    per_rep = (same.sum(1) - 1.0) / (R - 1)
    y_hat, y_err = _jackknife(per_rep)
    z_y = (y_hat - (w**2).sum()) / y_err
    flat = samples.reshape(-1, Y.shape[1])
    z_mean = (flat.mean(0) - post.mean()) / (flat.std(0, ddof=1) / np.sqrt(n))
    return z_freq, z_y, z_mean


@pytest.fixture(scope="module")
def dataset_case():
    return _dataset_case()


def test_clones_of_the_exact_empirical_score_are_exact_posterior_draws(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    res = clone_replicas(EmpiricalScore(Y, mc.VP()), x_t, t, n_replicas=32, n_draws=64, seed=11, n_steps=200,
                         scheme="euler")
    assert res.samples.shape == (32, 64, 8)
    assert res.converged and res.step_bias_ratio <= 0.5  # the discretisation bias is below the error
    idx, dist = _nearest(res.samples, Y)
    assert dist.max() < 1e-8  # denoised at t_stop: every clone is a training point
    z_freq, z_y, z_mean = _dataset_z_scores(res.samples, Y, post)
    assert np.abs(z_freq).max() < Z, z_freq
    assert abs(z_y) < Z, z_y
    assert np.abs(z_mean).max() < Z, z_mean
    assert res.path_steps == 32 * 64 * 200 and res.score_calls > 0 and 0 < res.score_share <= 1


def test_heun_clones_agree_with_the_exact_posterior(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    res = clone_replicas(EmpiricalScore(Y, mc.VP()), x_t, t, n_replicas=16, n_draws=64, seed=12, n_steps=60,
                         scheme="heun")
    assert res.converged
    z_freq, z_y, z_mean = _dataset_z_scores(res.samples, Y, post)
    assert max(np.abs(z_freq).max(), abs(z_y), np.abs(z_mean).max()) < Z


def test_coarse_steps_fail_the_same_test_and_the_check_says_so(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    with pytest.warns(DiscretisationWarning, match="use more steps"):
        res = clone_replicas(EmpiricalScore(Y, mc.VP()), x_t, t, n_replicas=32, n_draws=64, seed=11, n_steps=4,
                             scheme="euler")
    assert not res.converged and res.step_bias_ratio > 0.5
    z_freq, z_y, z_mean = _dataset_z_scores(res.samples, Y, post)
    assert max(np.abs(z_freq).max(), abs(z_y), np.abs(z_mean).max()) > Z


def test_a_wrong_score_fails_the_same_test(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    wrong = EmpiricalScore(Y + 0.3 * np.random.default_rng(5).standard_normal(Y.shape), mc.VP())
    res = clone_replicas(wrong, x_t, t, n_replicas=32, n_draws=64, seed=11, n_steps=200, scheme="euler",
                         check_steps=False)
    z_freq, z_y, z_mean = _dataset_z_scores(res.samples, Y, post)
    assert max(np.abs(z_freq).max(), abs(z_y), np.abs(z_mean).max()) > Z


@pytest.mark.parametrize("proc", [mc.VP(), mc.VE(1.0)], ids=lambda p: p.name)
def test_gaussian_clones_have_the_exact_gaussian_posteriors_mean_and_covariance(proc):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 3))
    C = A @ A.T + 0.2 * np.eye(3)
    m = np.array([0.5, -1.0, 0.2])
    model = mc.GaussianMixture(m[None], covariances=C[None])
    t = 0.6
    x_t = proc.sample_xt(model.sample(1, rng), t, rng)[0]
    post = mc.Posterior(model, proc, x_t, t)
    res = clone_replicas(GaussianScore(m, C, proc), x_t, t, n_replicas=32, n_draws=128, seed=2, n_steps=100,
                         t_stop=1e-4, scheme="heun")
    assert res.converged
    x = res.samples.reshape(-1, 3)
    n = x.shape[0]
    S = post.cov()
    z_mean = (x.mean(0) - post.mean()) / np.sqrt(np.diag(S) / n)
    cov = np.cov(x.T)
    se_cov = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / n)  # Gaussian: Var(s_ij) = (S_ii S_jj + S_ij^2) / n
    z_cov = (cov - S) / se_cov
    assert np.abs(z_mean).max() < Z, z_mean
    assert np.abs(z_cov).max() < Z, z_cov
    # negative control: the prior's covariance is not the posterior's
    assert np.abs((cov - C) / se_cov).max() > Z


def test_clones_depend_only_on_seed_key_replica_and_draw(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    sc = EmpiricalScore(Y, mc.VP())
    kw = dict(seed=5, key=(1, 2), n_steps=20, scheme="heun", check_steps=False)
    big = clone_replicas(sc, x_t, t, n_replicas=3, n_draws=5, batch_size=1024, **kw).samples
    small = clone_replicas(sc, x_t, t, n_replicas=2, n_draws=3, batch_size=2, **kw).samples
    np.testing.assert_allclose(small, big[:2, :3], rtol=1e-12, atol=1e-12)
    other_key = clone_replicas(sc, x_t, t, n_replicas=2, n_draws=3, **{**kw, "key": (1, 3)}).samples
    assert not np.allclose(other_key, small)
    # and the check adds a coarse run without changing the fine clones
    checked = clone_replicas(sc, x_t, t, n_replicas=2, n_draws=3, **{**kw, "check_steps": True}).samples
    np.testing.assert_array_equal(checked, clone_replicas(sc, x_t, t, n_replicas=2, n_draws=3, **kw).samples)


def test_bad_arguments_are_refused_naming_them(dataset_case):
    Y, ds, t, x_t, post = dataset_case
    sc = EmpiricalScore(Y, mc.VP())
    kw = dict(n_replicas=2, seed=0)
    with pytest.raises(ValueError, match="^t_stop: must be < t"):
        clone_replicas(sc, x_t, t, t_stop=t, **kw)
    with pytest.raises(ValueError, match="^n_steps: must be even"):
        clone_replicas(sc, x_t, t, n_steps=7, **kw)
    with pytest.raises(ValueError, match="^scheme: "):
        clone_replicas(sc, x_t, t, scheme="rk4", **kw)
    with pytest.raises(ValueError, match="^x_t: "):
        clone_replicas(sc, x_t[:3], t, **kw)
    with pytest.raises(ValueError, match="^t: must be > 0"):
        clone_replicas(sc, x_t, -1.0, **kw)
    with pytest.raises(ValueError, match="^score_model: "):
        clone_replicas(ds, x_t, t, **kw)
    with pytest.raises(ValueError, match="^n_replicas: "):
        clone_replicas(sc, x_t, t, n_replicas=0, seed=0)
