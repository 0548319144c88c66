"""Tests of the spin priors and their exact posteriors (mc.models.ising).

Reference values come from sums written out here (explicit states, itertools, scipy Gaussian
densities), never from the module's own state generator. Statistical tests use fixed seeds and
state their tolerance in standard errors or as a chi-square p-value, with negative controls.
"""
import itertools
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from mc.models.base import DataModel, ExactPosterior
from mc.models.ising import (
    MAX_ENUMERATION_DIM,
    CurieWeissPosterior,
    CurieWeissPrior,
    EnumeratedSpinPosterior,
    IsingPrior,
)
from mc.processes import VE, VP


# helpers written independently of the module ------------------------------------------------
def all_states(n):
    """The 2^n spin states, built with itertools (not the module's bit generator)."""
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def direct_log_weights(states, couplings, beta, field):
    """(beta / 2) s W s + b . s for each row."""
    return np.array([0.5 * beta * s @ couplings @ s + field @ s for s in states])


def state_codes(spins):
    """Integer code of each +-1 row: sum_i [s_i = +1] 2^i."""
    spins = np.asarray(spins)
    return ((spins > 0).astype(np.int64) << np.arange(spins.shape[1])).sum(axis=1)


def chi_square_pvalue(samples, posterior):
    """Pearson chi-square p-value of sampled states against the posterior's probabilities.

    States with an expected count below 5 are pooled into one bin.
    """
    n = samples.shape[0]
    n_dim = samples.shape[1]
    expected = np.zeros(1 << n_dim)
    expected[state_codes(posterior.states)] = posterior.probs * n
    observed = np.bincount(state_codes(samples), minlength=1 << n_dim).astype(float)
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


#: A valid symmetric 3 x 3 coupling matrix.
W3 = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, -0.2], [0.5, -0.2, 0.0]])


def random_symmetric(n, rng, scale=1.0):
    g = rng.standard_normal((n, n))
    return scale * (g + g.T) / 2


# enumeration ---------------------------------------------------------------------------------
def test_enumerated_posterior_probabilities_sum_to_one_over_distinct_states():
    prior = IsingPrior.sherrington_kirkpatrick(9, beta=1.3, field=0.2, seed=4)
    post = prior.exact_posterior(np.random.default_rng(0).standard_normal(9), 0.4)
    assert post.states.shape == (2**9, 9) and post.states.dtype == np.int8
    assert set(np.unique(post.states)) == {-1, 1}
    assert np.unique(state_codes(post.states)).size == 2**9
    assert post.probs.sum() == pytest.approx(1.0, abs=1e-13)
    assert np.allclose(np.exp(post.log_probs), post.probs, rtol=1e-13, atol=0)


def test_enumeration_matches_hand_written_sum_for_three_spins():
    rng = np.random.default_rng(11)
    W = random_symmetric(3, rng)
    beta, b = 0.7, np.array([0.3, -0.5, 0.1])
    y, s_eff = np.array([0.8, -1.4, 0.2]), 0.35
    states = np.array(
        [
            [-1, -1, -1], [-1, -1, 1], [-1, 1, -1], [-1, 1, 1],
            [1, -1, -1], [1, -1, 1], [1, 1, -1], [1, 1, 1],
        ],
        dtype=float,
    )
    prior_w = []
    post_w = []
    for s in states:
        energy = 0.5 * beta * sum(W[i, j] * s[i] * s[j] for i in range(3) for j in range(3))
        energy += sum(b[i] * s[i] for i in range(3))
        prior_w.append(np.exp(energy))
        post_w.append(np.exp(energy - sum((y[i] - s[i]) ** 2 for i in range(3)) / (2 * s_eff)))
    prior_w, post_w = np.array(prior_w), np.array(post_w)
    probs = post_w / post_w.sum()
    log_z = np.log(post_w.sum() / prior_w.sum())
    mean = probs @ states

    post = IsingPrior(W, beta=beta, field=b).exact_posterior(y, s_eff)
    order = np.argsort(state_codes(post.states))
    ref_order = np.argsort(state_codes(states))
    assert np.allclose(post.probs[order], probs[ref_order], rtol=1e-12, atol=0)
    assert post.log_partition() == pytest.approx(log_z, abs=1e-12)
    assert np.allclose(post.mean(), mean, atol=1e-12)
    cov = (states - mean).T @ ((states - mean) * probs[:, None])
    assert np.allclose(post.cov(), cov, atol=1e-12)
    assert post.cov_trace() == pytest.approx(np.trace(cov), abs=1e-12)


def tweedie_priors():
    n = 5
    sk = IsingPrior.sherrington_kirkpatrick(n, beta=0.9, J=1.0, J0=0.3, field=0.15, seed=21)
    hop = IsingPrior.hopfield(n_dim=n, n_patterns=2, beta=1.4, field=np.linspace(-0.2, 0.2, n), seed=5)
    return {"sk": sk, "hopfield": hop}


@pytest.mark.parametrize("model", ["sk", "hopfield"])
@pytest.mark.parametrize("process,t", [(VE(1.0), 0.4), (VP(), 0.3)])
def test_evidence_and_tweedie_match_gaussian_mixture_over_spin_states(model, process, t):
    prior = tweedie_priors()[model]
    n = prior.n_dim
    rng = np.random.default_rng(3)
    x0 = prior.sample(1, rng)[0]
    x_t = process.sample_xt(x0, t, rng)
    a, D, s_eff = process.coefficients(t)

    states = all_states(n)
    log_p0 = direct_log_weights(states, prior.couplings, prior.beta, prior.field)
    log_p0 -= logsumexp(log_p0)

    def direct_evidence(x):
        comps = [stats.multivariate_normal(mean=a * s, cov=D * np.eye(n)).logpdf(x) for s in states]
        return logsumexp(log_p0 + np.array(comps))

    def module_evidence(x):
        return prior.exact_posterior(x / a, s_eff).log_partition() - 0.5 * n * np.log(2 * np.pi * D)

    assert module_evidence(x_t) == pytest.approx(direct_evidence(x_t), rel=1e-11, abs=1e-11)

    m = prior.exact_posterior(x_t / a, s_eff).mean()
    score = (a * m - x_t) / D
    h = 1e-5
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        fd = (module_evidence(x_t + e) - module_evidence(x_t - e)) / (2 * h)
        assert fd == pytest.approx(score[i], abs=1e-6)


# Curie-Weiss: Hubbard-Stratonovich against enumeration ----------------------------------------
@pytest.mark.parametrize("n", [1, 2, 12])
@pytest.mark.parametrize(
    "beta,J,field_scale,y_scale,s_eff",
    [
        (0.5, 1.0, 0.2, 1.0, 0.5),  # paramagnet
        (1.0, 1.0, 0.0, 0.5, 2.0),  # critical coupling, no field
        (1.5, 1.0, 0.0, 0.3, 3.0),  # ordered phase, weak noise field
        (0.75, 2.0, 0.3, 1.0, 1.0),  # ordered phase (beta J = 1.5) with field
        (1.5, 1.0, 3.0, 5.0, 0.05),  # strong fields
        (1.0, 0.0, 0.5, 1.0, 0.7),  # J = 0: independent spins
        (0.0, 1.0, 0.5, 1.0, 0.7),  # beta = 0
    ],
)
def test_curie_weiss_hubbard_stratonovich_matches_enumeration(n, beta, J, field_scale, y_scale, s_eff):
    rng = np.random.default_rng(100 + n)
    b = field_scale * rng.standard_normal(n)
    y = y_scale * rng.standard_normal(n)
    prior = IsingPrior.curie_weiss(n, J=J, beta=beta, field=b)
    hs = prior.exact_posterior(y, s_eff)
    assert isinstance(hs, CurieWeissPosterior)
    en = EnumeratedSpinPosterior(prior, y, s_eff)
    assert hs.log_partition() == pytest.approx(en.log_partition(), abs=1e-10)
    assert np.allclose(hs.mean(), en.mean(), atol=1e-10, rtol=0)
    assert np.allclose(hs.cov(), en.cov(), atol=1e-10, rtol=0)
    assert hs.cov_trace() == pytest.approx(en.cov_trace(), abs=1e-10)
    assert prior.log_normaliser() == pytest.approx(IsingPrior.log_normaliser(prior), abs=1e-10)


def test_curie_weiss_hubbard_stratonovich_matches_enumeration_at_twenty_spins():
    rng = np.random.default_rng(7)
    n = MAX_ENUMERATION_DIM
    prior = IsingPrior.curie_weiss(n, J=1.0, beta=1.5, field=0.1 * rng.standard_normal(n))
    y, s_eff = 0.5 * rng.standard_normal(n), 1.5
    hs = prior.exact_posterior(y, s_eff)
    en = EnumeratedSpinPosterior(prior, y, s_eff)
    assert hs.log_partition() == pytest.approx(en.log_partition(), abs=1e-10)
    assert np.allclose(hs.mean(), en.mean(), atol=1e-10, rtol=0)
    assert np.allclose(hs.cov(), en.cov(), atol=1e-10, rtol=0)


def test_curie_weiss_with_zero_coupling_is_independent_spins_in_closed_form():
    rng = np.random.default_rng(8)
    n = 50
    b, y, s_eff = rng.standard_normal(n), rng.standard_normal(n), 0.3
    post = IsingPrior.curie_weiss(n, J=0.0, beta=1.0, field=b).exact_posterior(y, s_eff)
    c = b + y / s_eff
    log_z = np.sum(
        np.logaddexp(b - (y - 1) ** 2 / (2 * s_eff), -b - (y + 1) ** 2 / (2 * s_eff))
        - np.logaddexp(b, -b)
    )
    assert post.log_partition() == pytest.approx(log_z, rel=1e-13)
    assert np.allclose(post.mean(), np.tanh(c), atol=1e-14)
    assert np.allclose(post.cov(), np.diag(1 - np.tanh(c) ** 2), atol=1e-14)


# Curie-Weiss at large N: Tweedie and fluctuation-dissipation ----------------------------------
@pytest.fixture(scope="module")
def large_curie_weiss():
    n = 2000
    prior = IsingPrior.curie_weiss(n, J=1.0, beta=1.2, field=0.02)
    rng = np.random.default_rng(12)
    s_eff = 0.8
    x0 = prior.sample(1, rng)[0]
    y = x0 + np.sqrt(s_eff) * rng.standard_normal(n)
    return prior, y, s_eff


def test_curie_weiss_large_n_log_partition_gradient_is_tweedie(large_curie_weiss):
    prior, y, s_eff = large_curie_weiss
    post = prior.exact_posterior(y, s_eff)
    expected = (post.mean() - y) / s_eff
    h = 1e-4
    for i in [0, 17, 1999]:
        e = np.zeros(y.size)
        e[i] = h
        fd = (
            prior.exact_posterior(y + e, s_eff).log_partition()
            - prior.exact_posterior(y - e, s_eff).log_partition()
        ) / (2 * h)
        assert fd == pytest.approx(expected[i], abs=1e-5)


def test_curie_weiss_large_n_covariance_is_response_of_mean(large_curie_weiss):
    prior, y, s_eff = large_curie_weiss
    post = prior.exact_posterior(y, s_eff)
    cov = post.cov()
    assert np.allclose(np.diag(cov), 1 - post.mean() ** 2, atol=1e-12)
    assert post.cov_trace() == pytest.approx(np.trace(cov), rel=1e-12)
    h = 1e-4
    ones = np.ones(y.size)
    fd = (prior.exact_posterior(y + h * ones, s_eff).mean() - prior.exact_posterior(y - h * ones, s_eff).mean()) / (
        2 * h
    )
    assert np.allclose(fd, cov.sum(axis=1) / s_eff, atol=1e-5, rtol=0)
    # a single column: d m / d y_j = cov[:, j] / s_eff
    e = np.zeros(y.size)
    e[5] = h
    fd = (prior.exact_posterior(y + e, s_eff).mean() - prior.exact_posterior(y - e, s_eff).mean()) / (2 * h)
    assert np.allclose(fd, cov[:, 5] / s_eff, atol=1e-5, rtol=0)


def test_curie_weiss_large_n_matches_independent_fine_quadrature(large_curie_weiss):
    # naive integrand on a wider, twice finer grid, no pruning: log Z and the mean
    prior, y, s_eff = large_curie_weiss
    n, bj = y.size, prior.beta * prior.J
    w = 1 / np.sqrt(bj * n)
    u = np.arange(-1.5, 1.5 + w / 16, w / 8)

    def log_f(c):
        out = np.empty(u.size)
        for k, uk in enumerate(u):
            a = bj * uk + c
            out[k] = -0.5 * bj * n * uk**2 + np.sum(np.logaddexp(a, -a))
        return out

    c = prior.field + y / s_eff
    lf_post, lf_prior = log_f(c), log_f(prior.field)
    log_z = logsumexp(lf_post) - logsumexp(lf_prior) - (y @ y + n) / (2 * s_eff)
    p = np.exp(lf_post - logsumexp(lf_post))
    mean = sum(pk * np.tanh(bj * uk + c) for pk, uk in zip(p, u))
    post = prior.exact_posterior(y, s_eff)
    assert post.log_partition() == pytest.approx(log_z, rel=1e-12)
    assert np.allclose(post.mean(), mean, atol=1e-11, rtol=0)


def test_curie_weiss_large_n_has_no_floating_point_warnings():
    n = 10_000
    prior = IsingPrior.curie_weiss(n, J=1.0, beta=1.5, field=0.05)
    rng = np.random.default_rng(1)
    x0 = np.sign(rng.standard_normal(n))
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for s_eff in [1e-6, 1e-2, 1.0, 1e2, 1e6]:
            post = prior.exact_posterior(x0 + np.sqrt(s_eff) * rng.standard_normal(n), s_eff)
            vals = [post.log_partition(), post.cov_trace(), *post.mean(), *post.sample(2, 0).ravel()]
            assert np.isfinite(vals).all()
            assert 0 <= post.cov_trace() <= n
        assert prior.sample(2, 0).shape == (2, n)
        assert np.isfinite(prior.log_normaliser())


# samplers ---------------------------------------------------------------------------------------
def test_curie_weiss_sampler_moments_agree_with_exact_mean():
    n, n_samples = 200, 20_000
    rng = np.random.default_rng(2)
    prior = IsingPrior.curie_weiss(n, J=1.0, beta=1.3, field=0.01)
    post = prior.exact_posterior(0.3 * rng.standard_normal(n), 4.0)
    samples = post.sample(n_samples, np.random.default_rng(99))
    assert set(np.unique(samples)) <= {-1.0, 1.0}
    m = post.mean()
    mag = samples.mean(axis=1)
    se_mag = mag.std(ddof=1) / np.sqrt(n_samples)
    assert abs(mag.mean() - m.mean()) < 5 * se_mag
    se_site = np.sqrt((1 - m**2) / n_samples)
    assert np.all(np.abs(samples.mean(axis=0) - m) < 5 * se_site)


def test_curie_weiss_sampler_state_histogram_matches_enumeration_and_rejects_wrong_beta():
    n = 12
    rng = np.random.default_rng(5)
    b, y, s_eff = 0.1 * rng.standard_normal(n), 0.4 * rng.standard_normal(n), 2.0
    prior = IsingPrior.curie_weiss(n, J=1.0, beta=1.5, field=b)
    exact = EnumeratedSpinPosterior(prior, y, s_eff)
    samples = prior.exact_posterior(y, s_eff).sample(100_000, np.random.default_rng(6))
    assert chi_square_pvalue(samples, exact) > 1e-3
    # 3% too cold: a sensitive negative control
    wrong = IsingPrior.curie_weiss(n, J=1.0, beta=1.45, field=b).exact_posterior(y, s_eff)
    assert chi_square_pvalue(wrong.sample(100_000, np.random.default_rng(6)), exact) < 1e-6


def test_enumerated_sampler_state_histogram_matches_sk_posterior_and_rejects_wrong_beta():
    n = 8
    prior = IsingPrior.sherrington_kirkpatrick(n, beta=1.0, field=0.1, seed=13)
    rng = np.random.default_rng(14)
    y, s_eff = rng.standard_normal(n), 1.0
    post = prior.exact_posterior(y, s_eff)
    assert isinstance(post, EnumeratedSpinPosterior)
    samples = post.sample(50_000, np.random.default_rng(15))
    assert chi_square_pvalue(samples, post) > 1e-3
    hot = IsingPrior(prior.couplings, beta=0.95, field=prior.field).exact_posterior(y, s_eff)
    assert chi_square_pvalue(hot.sample(50_000, np.random.default_rng(15)), post) < 1e-6


def test_prior_samplers_match_prior_probabilities():
    # generic enumeration and the Curie-Weiss Hubbard-Stratonovich mixture, against the
    # posterior at vanishing noise field (y = 0, huge s_eff), which is the prior
    n = 7
    for prior in [
        IsingPrior.hopfield(n_dim=n, n_patterns=2, beta=2.0, seed=3),
        IsingPrior.curie_weiss(n, J=1.0, beta=1.4, field=0.05),
    ]:
        as_post = EnumeratedSpinPosterior(prior, np.zeros(n), 1e12)
        log_w = direct_log_weights(all_states(n), prior.couplings, prior.beta, prior.field)
        ref = np.exp(log_w - logsumexp(log_w))
        mapped = np.zeros(1 << n)
        mapped[state_codes(all_states(n))] = ref
        assert np.allclose(as_post.probs, mapped[state_codes(as_post.states)], atol=1e-10)
        assert chi_square_pvalue(prior.sample(40_000, np.random.default_rng(4)), as_post) > 1e-3


# log_prob and constructors ------------------------------------------------------------------------
def test_log_prob_is_quadratic_form_and_minus_inf_off_the_hypercube():
    rng = np.random.default_rng(0)
    W, b = random_symmetric(4, rng), rng.standard_normal(4)
    prior = IsingPrior(W, beta=0.6, field=b)
    states = all_states(4)
    assert np.allclose(prior.log_prob(states), direct_log_weights(states, W, 0.6, b), atol=1e-13)
    batch = states.reshape(2, 8, 4)
    assert prior.log_prob(batch).shape == (2, 8)
    bad = np.array([[1.0, 0.0, 1.0, -1.0], [1.0, np.nan, 1.0, 1.0], [0.5, 1, 1, 1]])
    assert np.all(prior.log_prob(bad) == -np.inf)
    with pytest.raises(ValueError, match="x0"):
        prior.log_prob(np.ones(3))


def test_curie_weiss_log_prob_uses_magnetisation_and_dense_couplings_differ_by_constant():
    n = 6
    prior = IsingPrior.curie_weiss(n, J=0.8, beta=1.5, field=0.2)
    assert isinstance(prior, CurieWeissPrior) and prior.name == "curie_weiss"
    states = all_states(n)
    direct = 1.5 * 0.8 / (2 * n) * states.sum(axis=1) ** 2 + 0.2 * states.sum(axis=1)
    assert np.allclose(prior.log_prob(states), direct, atol=1e-13)
    W = prior.couplings
    assert np.allclose(W, (np.ones((n, n)) - np.eye(n)) * 0.8 / n)
    dense = IsingPrior(W, beta=1.5, field=0.2)
    assert np.allclose(prior.log_prob(states) - dense.log_prob(states), 1.5 * 0.8 / 2, atol=1e-13)
    assert prior.params() == {"n_dim": n, "beta": 1.5, "field": 0.2, "J": 0.8}


def test_curie_weiss_large_n_stores_no_dense_matrix():
    prior = IsingPrior.curie_weiss(100_000, J=1.0, beta=0.5)
    assert prior._dense is None
    x = np.ones((2, 100_000))
    x[1, :30_000] = -1
    assert np.allclose(prior.log_prob(x), [0.25 * 1e5, 0.25 * 0.4**2 * 1e5])
    assert prior.capabilities == {"sample", "exact_posterior"}
    assert prior._dense is None


def test_sherrington_kirkpatrick_couplings_are_reproducible_symmetric_with_right_scale():
    n = 400
    a = IsingPrior.sherrington_kirkpatrick(n, J=1.5, J0=2.0, seed=7)
    b = IsingPrior.sherrington_kirkpatrick(n, J=1.5, J0=2.0, seed=np.random.default_rng(7))
    assert np.array_equal(a.couplings, b.couplings)
    W = a.couplings
    assert np.array_equal(W, W.T) and np.all(np.diag(W) == 0)
    off = W[np.triu_indices(n, 1)]
    k = off.size
    assert abs(off.mean() - 2.0 / n) < 5 * 1.5 / np.sqrt(n) / np.sqrt(k)
    # variance J^2 / N; SE of a sample variance of normals is var * sqrt(2 / k)
    assert abs(off.var() - 1.5**2 / n) < 5 * 1.5**2 / n * np.sqrt(2 / k)
    assert a.name == "sk" and a.params()["J0"] == 2.0 and a.params()["disorder_seed"] == 7
    assert a.capabilities == frozenset()


def test_hopfield_couplings_are_pattern_outer_products_without_diagonal():
    xi = np.array([[1, -1, 1, 1, -1], [1, 1, -1, 1, 1]], dtype=float)
    prior = IsingPrior.hopfield(xi, beta=2.0)
    expected = sum(np.outer(p, p) for p in xi) / 5
    np.fill_diagonal(expected, 0)
    assert np.allclose(prior.couplings, expected)
    assert np.array_equal(prior.patterns, xi)
    assert prior.name == "hopfield" and prior.params()["n_patterns"] == 2
    r1 = IsingPrior.hopfield(n_dim=30, n_patterns=3, seed=9)
    r2 = IsingPrior.hopfield(n_dim=30, n_patterns=3, seed=9)
    assert np.array_equal(r1.patterns, r2.patterns) and r1.patterns.shape == (3, 30)
    assert set(np.unique(r1.patterns)) == {-1.0, 1.0}


def test_couplings_within_symmetry_tolerance_are_accepted_and_symmetrised():
    W = W3 + np.triu(np.full((3, 3), 1e-14), 1)
    prior = IsingPrior(W)
    assert np.array_equal(prior.couplings, prior.couplings.T)
    assert np.allclose(prior.couplings, W3, atol=1e-13)
    assert not prior.couplings.flags.writeable


def test_model_interface_and_capabilities():
    small = IsingPrior.sherrington_kirkpatrick(MAX_ENUMERATION_DIM, seed=0)
    assert isinstance(small, DataModel) and small.state_space == "spins"
    assert {"exact_posterior", "enumerate"} <= small.capabilities
    assert small.params()["n_dim"] == MAX_ENUMERATION_DIM and small.params()["beta"] == 1.0
    post = small.exact_posterior(np.zeros(small.n_dim), 1.0)
    assert isinstance(post, ExactPosterior) and post.s == post.s_eff == 1.0
    assert IsingPrior(np.zeros((2, 2))).field.shape == (2,)


def test_generic_model_beyond_enumeration_limit_has_no_exact_route():
    prior = IsingPrior.sherrington_kirkpatrick(MAX_ENUMERATION_DIM + 1, seed=0)
    assert prior.capabilities == frozenset()
    with pytest.raises(NotImplementedError, match="MAX_ENUMERATION_DIM"):
        prior.exact_posterior(np.zeros(prior.n_dim), 1.0)
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        prior.sample(3, 0)
    with pytest.raises(NotImplementedError):
        EnumeratedSpinPosterior(prior, np.zeros(prior.n_dim), 1.0)


def test_antiferromagnetic_curie_weiss_enumerates_small_n_only():
    small = IsingPrior.curie_weiss(6, J=-1.0, beta=1.0)
    post = small.exact_posterior(np.zeros(6), 1.0)
    assert isinstance(post, EnumeratedSpinPosterior)
    assert {"exact_posterior", "enumerate"} <= small.capabilities
    with pytest.raises(ValueError, match="J"):
        CurieWeissPosterior(small, np.zeros(6), 1.0)
    big = IsingPrior.curie_weiss(30, J=-1.0, beta=1.0)
    assert big.capabilities == frozenset()
    with pytest.raises(NotImplementedError, match="J"):
        big.exact_posterior(np.zeros(30), 1.0)


# input validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: IsingPrior(W3 + np.triu(np.full((3, 3), 1e-6), 1)), "couplings"),
        (lambda: IsingPrior(np.zeros((3, 2))), "couplings"),
        (lambda: IsingPrior(np.zeros(3)), "couplings"),
        (lambda: IsingPrior(np.where(np.eye(3) > 0, np.nan, W3)), "couplings"),
        (lambda: IsingPrior(np.where(np.eye(3) > 0, np.inf, W3)), "couplings"),
        (lambda: IsingPrior(np.zeros((0, 0))), "couplings"),
        (lambda: IsingPrior(W3, beta=-0.1), "beta"),
        (lambda: IsingPrior(W3, beta=np.nan), "beta"),
        (lambda: IsingPrior(W3, field=np.ones(4)), "field"),
        (lambda: IsingPrior(W3, field=[0.0, np.nan, 0.0]), "field"),
        (lambda: IsingPrior.hopfield(np.array([[1.0, 0.0, -1.0]])), "patterns"),
        (lambda: IsingPrior.hopfield(np.array([1.0, -1.0, 1.0])), "patterns"),
        (lambda: IsingPrior.hopfield(), "patterns"),
        (lambda: IsingPrior.hopfield(n_dim=5, n_patterns=2), "seed"),
        (lambda: IsingPrior.hopfield(n_dim=0, n_patterns=2, seed=1), "n_dim"),
        (lambda: IsingPrior.hopfield(n_dim=5, n_patterns=0, seed=1), "n_patterns"),
        (lambda: IsingPrior.hopfield(np.ones((2, 3)), n_dim=4), "n_dim"),
        (lambda: IsingPrior.hopfield(np.ones((2, 3)), seed=1), "seed"),
        (lambda: IsingPrior.curie_weiss(0), "n_dim"),
        (lambda: IsingPrior.curie_weiss(2.5), "n_dim"),
        (lambda: IsingPrior.curie_weiss(5, J=np.inf), "J"),
        (lambda: IsingPrior.curie_weiss(5, beta=-1.0), "beta"),
        (lambda: IsingPrior.curie_weiss(5, field=np.ones(3)), "field"),
        (lambda: IsingPrior.sherrington_kirkpatrick(0, seed=1), "n_dim"),
        (lambda: IsingPrior.sherrington_kirkpatrick(5, J=-1.0, seed=1), "J"),
        (lambda: IsingPrior.sherrington_kirkpatrick(5, seed="abc"), "seed"),
    ],
)
def test_bad_model_parameters_raise_value_error_naming_the_parameter(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()


@pytest.mark.parametrize(
    "prior",
    [IsingPrior(W3, beta=0.5), IsingPrior.curie_weiss(3), IsingPrior.curie_weiss(30)],
    ids=["enumerated", "curie_weiss_small", "curie_weiss_large"],
)
@pytest.mark.parametrize(
    "y,s_eff,name",
    [
        ("wrong_length", 1.0, "y"),
        ("matrix", 1.0, "y"),
        ("nan", 1.0, "y"),
        ("ok", 0.0, "s_eff"),
        ("ok", -1.0, "s_eff"),
        ("ok", np.inf, "s_eff"),
        ("ok", np.ones(2), "s_eff"),
    ],
)
def test_bad_posterior_arguments_raise_value_error_naming_the_parameter(prior, y, s_eff, name):
    n = prior.n_dim
    y = {
        "ok": np.zeros(n),
        "wrong_length": np.zeros(n + 1),
        "matrix": np.zeros((1, n)),
        "nan": np.full(n, np.nan),
    }[y]
    with pytest.raises(ValueError, match=f"^{name}:"):
        prior.exact_posterior(y, s_eff)


def test_bad_sample_arguments_raise_value_error():
    prior = IsingPrior.curie_weiss(4)
    with pytest.raises(ValueError, match="^n:"):
        prior.sample(-1, 0)
    with pytest.raises(ValueError, match="^rng:"):
        prior.sample(2, "seed")
    post = IsingPrior(W3).exact_posterior(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="^n:"):
        post.sample(1.5, 0)
    assert post.sample(0, 0).shape == (0, 3)


# Curie-Weiss enumeration ----------------------------------------------------------------------------
def test_curie_weiss_posterior_enumeration_agrees_with_closed_form_and_dense_enumeration():
    n, J, beta, s_eff = 10, 1.4, 0.8, 0.7
    rng = np.random.default_rng(21)
    field = 0.3 * rng.standard_normal(n)
    y = rng.standard_normal(n)
    prior = IsingPrior.curie_weiss(n, J=J, beta=beta, field=field)
    assert "enumerate" in prior.capabilities
    post = prior.exact_posterior(y, s_eff)
    assert isinstance(post, CurieWeissPosterior)
    states, probs = post.enumerate()
    assert states.dtype == np.int8 and states.shape == (2**n, n) and probs.shape == (2**n,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-13)
    np.testing.assert_array_equal(state_codes(states), np.arange(2**n))  # EnumeratedSpinPosterior order
    # direct sum over itertools states: -H = (beta J / 2N) M^2 + (b + h) . s, h = y / s_eff
    ref = all_states(n)
    log_w = 0.5 * beta * J / n * ref.sum(axis=1) ** 2 + ref @ (field + y / s_eff)
    direct = np.empty(2**n)
    direct[state_codes(ref)] = np.exp(log_w - logsumexp(log_w))
    np.testing.assert_allclose(probs, direct, rtol=1e-12, atol=0)
    # closed-form (Hubbard-Stratonovich) route: mean and variance of the magnetisation M
    s = states.astype(np.float64)
    np.testing.assert_allclose(probs @ s, post.mean(), rtol=0, atol=1e-12)
    M = s.sum(axis=1)
    var_m = float(probs @ (M - probs @ M) ** 2)
    assert var_m == pytest.approx(float(np.ones(n) @ post.cov() @ np.ones(n)), rel=1e-11)
    # dense couplings W = (J / N)(1 - I) (curie_weiss's convention) or J / N everywhere: the
    # constant diagonal only shifts the energy, so both enumerate the same law
    p_m = np.bincount((M.astype(int) + n) // 2, weights=probs, minlength=n + 1)
    for diagonal in (0.0, J / n):
        w = np.full((n, n), J / n)
        np.fill_diagonal(w, diagonal)
        dense = EnumeratedSpinPosterior(IsingPrior(w, beta=beta, field=field), y, s_eff)
        d_states, d_probs = dense.enumerate()
        np.testing.assert_array_equal(d_states, states)
        np.testing.assert_allclose(probs, d_probs, rtol=1e-11, atol=0)
        d_m = np.bincount((d_states.sum(axis=1).astype(int) + n) // 2, weights=d_probs, minlength=n + 1)
        np.testing.assert_allclose(p_m, d_m, rtol=1e-11, atol=1e-15)
    # negative control: a different temperature moves the magnetisation distribution
    wrong = EnumeratedSpinPosterior(IsingPrior(prior.couplings, beta=1.2 * beta, field=field), y, s_eff)
    w_states, w_probs = wrong.enumerate()
    w_m = np.bincount((w_states.sum(axis=1).astype(int) + n) // 2, weights=w_probs, minlength=n + 1)
    assert np.abs(w_m - p_m).max() > 1e-3


def test_curie_weiss_enumeration_through_posterior_and_beyond_the_limit():
    from mc.posterior import Posterior

    states, probs = Posterior(IsingPrior.curie_weiss(14), VE(), np.zeros(14), 1.0).exact.enumerate()
    assert states.shape == (2**14, 14) and probs.sum() == pytest.approx(1.0, abs=1e-12)
    # zero field, zero noise field: P(sigma) depends on M only and is symmetric under sigma -> -sigma
    np.testing.assert_allclose(probs, probs[::-1], rtol=1e-12)
    n = MAX_ENUMERATION_DIM + 1
    big = IsingPrior.curie_weiss(n, J=1.0, beta=0.5)
    assert "enumerate" not in big.capabilities
    post = big.exact_posterior(np.zeros(n), 1.0)
    with pytest.raises(NotImplementedError, match="MAX_ENUMERATION_DIM"):
        post.enumerate()
    assert np.all(np.abs(post.mean()) < 1e-12)  # the closed-form route still works
