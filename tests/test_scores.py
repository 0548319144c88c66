"""Closed-form score models (mc.scores) against mc.Posterior's independent exact posteriors.

References: the Tweedie score of ``mc.Posterior`` on a Dataset (empirical law), on a one-component
GaussianMixture with a full covariance (Wiener filter) and on a GaussianMixture whose components
are the shrunk points with the covariance k C (the smoothed law at finite bandwidth).
"""
import math

import numpy as np
import pytest

import mc
from mc.scores import EmpiricalScore, GaussianScore, ScoreModel, SmoothedScore, moments
from mc.scores import registry

PROCESSES = [mc.VP(), mc.VE(1.5), mc.VPLinear()]


def _data(seed=0, n=7, N=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, N)) * [1.0, 0.5, 2.0, 0.2][:N], rng.dirichlet(np.ones(n)), rng


def _states(rng, N, n=5):
    return 1.5 * rng.standard_normal((n, N))


def _posterior_scores(model, proc, x, t):
    return np.array([mc.Posterior(model, proc, xi, t).score() for xi in x])


def _posterior_means(model, proc, x, t):
    return np.array([mc.Posterior(model, proc, xi, t).mean() for xi in x])


@pytest.mark.parametrize("proc", PROCESSES, ids=lambda p: p.name)
@pytest.mark.parametrize("t", [0.01, 0.3, 2.0])
def test_empirical_score_is_the_dataset_posteriors_tweedie_score(proc, t):
    Y, w, rng = _data()
    x = _states(rng, Y.shape[1])
    sc = EmpiricalScore(Y, proc, weights=w)
    ref = mc.Dataset(Y, w)
    D = proc.D(t)
    np.testing.assert_allclose(sc.score(x, t), _posterior_scores(ref, proc, x, t), rtol=1e-9, atol=1e-9 / D)
    np.testing.assert_allclose(sc.denoise(x, t), _posterior_means(ref, proc, x, t), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("proc", PROCESSES, ids=lambda p: p.name)
@pytest.mark.parametrize("t", [0.05, 1.0])
def test_gaussian_score_is_the_full_covariance_gaussian_posteriors(proc, t):
    Y, w, rng = _data(1)
    m, C = moments(Y, w)
    np.testing.assert_allclose(m, np.average(Y, axis=0, weights=w))
    np.testing.assert_allclose(C, np.cov(Y.T, aweights=w, bias=True), atol=1e-12)
    x = _states(rng, Y.shape[1])
    sc = GaussianScore.from_points(Y, proc, weights=w)
    ref = mc.GaussianMixture(m[None, :], covariances=C[None])
    np.testing.assert_allclose(sc.score(x, t), _posterior_scores(ref, proc, x, t), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(sc.denoise(x, t), _posterior_means(ref, proc, x, t), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("h", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("t", [0.05, 0.7])
def test_smoothed_score_is_the_score_of_its_kernel_mixture(h, t):
    Y, w, rng = _data(2)
    proc = mc.VP()
    m, C = moments(Y, w)
    lam = 1.0 / math.sqrt(1.0 + h * h)
    ref = mc.GaussianMixture(m + lam * (Y - m), covariances=np.repeat(((h * h) / (1 + h * h) * C)[None], len(Y), 0),
                             weights=w)
    x = _states(rng, Y.shape[1])
    sc = SmoothedScore(Y, proc, h, weights=w)
    np.testing.assert_allclose(sc.score(x, t), _posterior_scores(ref, proc, x, t), rtol=1e-8, atol=1e-9)


def test_smoothed_score_keeps_the_data_moments_and_spans_empirical_to_gaussian():
    Y, w, rng = _data(3)
    proc = mc.VP()
    x = _states(rng, Y.shape[1], 9)
    for t in (0.02, 0.5):
        emp = EmpiricalScore(Y, proc, weights=w).score(x, t)
        gauss = GaussianScore.from_points(Y, proc, weights=w).score(x, t)
        np.testing.assert_allclose(SmoothedScore(Y, proc, 0.0, weights=w).score(x, t), emp, rtol=1e-9,
                                   atol=1e-9 / proc.D(t))
        np.testing.assert_allclose(SmoothedScore(Y, proc, math.inf, weights=w).score(x, t), gauss, rtol=1e-9,
                                   atol=1e-10)
        np.testing.assert_allclose(SmoothedScore(Y, proc, 1e6, weights=w).score(x, t), gauss, rtol=1e-6, atol=1e-8)
        # a bandwidth in between is neither (the interpolation is not trivial)
        mid = SmoothedScore(Y, proc, 1.0, weights=w).score(x, t)
        assert np.abs(mid - emp).max() > 1e-2 and np.abs(mid - gauss).max() > 1e-2
    # mixture of shrunk points with kernel k C: mean m and covariance l^2 C + k C = C for every h
    m, C = moments(Y, w)
    for h in (0.5, 3.0):
        s = SmoothedScore(Y, proc, h, weights=w)
        centres = m + s.shrink * (Y - m)
        mean = w @ centres
        cov = (centres - mean).T @ ((centres - mean) * w[:, None]) + s.kernel * C
        np.testing.assert_allclose(mean, m, atol=1e-12)
        np.testing.assert_allclose(cov, C, atol=1e-12)


def test_large_batches_are_cut_into_chunks_with_the_same_result(monkeypatch):
    from mc.scores import exact

    Y, w, rng = _data(4, n=50)
    x = _states(rng, Y.shape[1], 40)
    for sc in (EmpiricalScore(Y, mc.VP(), weights=w), SmoothedScore(Y, mc.VP(), 0.7, weights=w)):
        whole = sc.denoise(x, 0.2)
        monkeypatch.setattr(exact, "MAX_LOGITS", 120)  # 2 rows of 50 points per chunk
        np.testing.assert_allclose(sc.denoise(x, 0.2), whole, rtol=1e-13, atol=1e-14)
        monkeypatch.undo()


def test_bad_input_is_refused_naming_the_argument():
    Y, w, _ = _data()
    sc = EmpiricalScore(Y, mc.VP())
    with pytest.raises(ValueError, match="^x: expected shape"):
        sc.score(np.zeros((2, 3)), 0.1)
    with pytest.raises(ValueError, match="^x: "):
        sc.score(np.full((2, 4), np.nan), 0.1)
    with pytest.raises(ValueError, match="^t: must be > 0"):
        sc.score(np.zeros((2, 4)), 0.0)
    with pytest.raises(ValueError, match="^bandwidth: "):
        SmoothedScore(Y, mc.VP(), -1.0)
    with pytest.raises(ValueError, match="^bandwidth: "):
        SmoothedScore(Y, mc.VP(), float("nan"))
    with pytest.raises(ValueError, match="^weights: "):
        EmpiricalScore(Y, mc.VP(), weights=np.ones(3))
    with pytest.raises(ValueError, match="^covariance: must be positive semi-definite"):
        GaussianScore(np.zeros(2), -np.eye(2), mc.VP())
    with pytest.raises(ValueError, match="^covariance: must be symmetric"):
        GaussianScore(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), mc.VP())
    with pytest.raises(ValueError, match="^process: "):
        EmpiricalScore(Y, "VP")
    with pytest.raises(TypeError, match="defines _denoise"):
        type("Nothing", (ScoreModel,), {})


def test_a_score_model_may_define_either_the_score_or_the_denoiser():
    Y, w, rng = _data(5)
    proc = mc.VE(1.0)
    ref = EmpiricalScore(Y, proc, weights=w)

    class ByScore(ScoreModel):
        def _score(self, x, a, D, t):
            return ref.score(x, t)

    x, t = _states(rng, Y.shape[1]), 0.4
    by = ByScore(Y.shape[1], proc)
    np.testing.assert_allclose(by.denoise(x, t), ref.denoise(x, t), rtol=1e-12, atol=1e-12)


def test_registry_builds_the_closed_forms_from_a_tasks_training_set():
    Y, w, rng = _data(6)
    ds = mc.Dataset(Y, w)
    known = registry.scores()
    assert {"empirical", "gaussian", "smoothed"} <= set(known)
    x, t = _states(rng, Y.shape[1]), 0.3
    p = registry.parse(known["smoothed"], {"bandwidth": 0.5})
    np.testing.assert_allclose(known["smoothed"].build(p, ds, mc.VP()).score(x, t),
                               SmoothedScore(Y, mc.VP(), 0.5, weights=w).score(x, t), rtol=1e-12)
    e = known["empirical"].build(registry.parse(known["empirical"], {}), ds, mc.VP())
    np.testing.assert_allclose(e.score(x, t), _posterior_scores(ds, mc.VP(), x, t), rtol=1e-9, atol=1e-9)
    with pytest.raises(registry.ScoreSpecError, match=r"^score\.bandwidth: must be >= 0"):
        registry.parse(known["smoothed"], {"bandwidth": -1.0})
    with pytest.raises(registry.ScoreSpecError, match=r"^score\.bandwidth: required for score 'smoothed'"):
        registry.parse(known["smoothed"], {})
    with pytest.raises(registry.ScoreSpecError, match=r"^score\.width: unknown key"):
        registry.parse(known["empirical"], {"width": 1})
    with pytest.raises(KeyError, match="unknown score 'unet'"):
        registry.get("unet")
    with pytest.raises(ValueError, match="^score: needs a model with training points"):
        known["gaussian"].build(None, mc.Hypersphere(3), mc.VP())
    assert registry.expand_file("w_n{n_points}.safetensors", 300) == "w_n300.safetensors"
    with pytest.raises(registry.ScoreSpecError, match="n_points axis"):
        registry.expand_file("w_n{n_points}.safetensors", None)
