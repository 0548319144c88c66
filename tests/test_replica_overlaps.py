"""Overlaps, P(q), its moments, q_EA and the Binder cumulant: exact sums against brute force and
against exact samples (within 5 standard errors)."""
import itertools

import numpy as np
import pytest

import mc
import replica
from replica import (
    OverlapDistribution,
    average_distribution,
    binder_cumulant,
    exact_samples,
    overlap,
    overlap_distribution,
    overlap_moments,
    q_ea,
    replica_overlaps,
)

N_SE = 5.0


def dataset_posterior(t=0.4, n_points=12, n_dim=10, seed=1):
    model = mc.Dataset.gaussian(n_points, n_dim, seed=seed)
    state = mc.draw_quenched(model, mc.VP(), t, seed=seed)
    return model, state, mc.Posterior(model, mc.VP(), state.x_t, t)


def sk_posterior(n=8, t=0.7, seed=2):
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=0.8, seed=seed)
    state = mc.draw_quenched(prior, mc.VP(), t, seed=seed)
    return prior, state, mc.Posterior(prior, mc.VP(), state.x_t, t)


def assert_within_se(estimate, target, stderr, what):
    bad = np.abs(np.asarray(estimate) - np.asarray(target)) > N_SE * np.asarray(stderr)
    assert not np.any(bad), f"{what}: {np.asarray(estimate)[bad]} vs {np.asarray(target)[bad]} (se {np.asarray(stderr)[bad]})"


# overlaps of configurations -------------------------------------------------------------------
def test_overlap_is_dot_over_n_and_normalised_overlap_is_the_cosine(rng):
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    assert overlap(x, y) == pytest.approx(float(x @ y) / 7, rel=1e-14)
    assert overlap(x, y, normalised=True) == pytest.approx(float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)), rel=1e-14)
    spins = np.sign(rng.standard_normal((2, 9)))
    assert overlap(spins[0], spins[1]) == pytest.approx(overlap(spins[0], spins[1], normalised=True), rel=1e-14)


def test_replica_overlaps_are_all_pairs_a_below_b_at_each_draw(rng):
    x = rng.standard_normal((5, 3, 4))
    q = replica_overlaps(x)
    assert q.shape == (3, 10)
    expected = [[x[a, t] @ x[b, t] / 4 for a, b in itertools.combinations(range(5), 2)] for t in range(3)]
    np.testing.assert_allclose(q, expected, rtol=1e-13)
    np.testing.assert_allclose(overlap(x), q)
    qn = replica_overlaps(x, normalised=True)
    assert np.all(np.abs(qn) <= 1 + 1e-15)
    ref = rng.standard_normal(4)
    np.testing.assert_allclose(replica.reference_overlaps(x, ref), (x @ ref / 4).T, rtol=1e-13)


# exact P(q) against brute force ------------------------------------------------------------------
def test_exact_dataset_pq_is_the_double_sum_over_points_of_w_mu_w_nu():
    model, state, post = dataset_posterior()
    w, pts = post.weights, model.points
    dist = overlap_distribution(post)
    assert dist.method == "exact" and dist.edges is None
    assert dist.prob.sum() == pytest.approx(1.0, abs=1e-12)
    for mu, nu in [(0, 0), (2, 5), (11, 3)]:
        q = pts[mu] @ pts[nu] / model.n_dim
        brute = sum(w[a] * w[b] for a in range(12) for b in range(12)
                    if np.isclose(pts[a] @ pts[b] / model.n_dim, q, rtol=0, atol=1e-12))
        assert dist.prob[np.isclose(dist.q, q, rtol=0, atol=1e-12)].sum() == pytest.approx(brute, rel=1e-10)
    # moments of the atoms: <q> = |m|^2 / N and <q^2> = sum w w q^2
    m = post.mean()
    assert dist.moment(1) == pytest.approx(m @ m / model.n_dim, rel=1e-10)
    gram = pts @ pts.T / model.n_dim
    assert dist.moment(2) == pytest.approx(w @ gram**2 @ w, rel=1e-10)
    # replica-truth: sum_mu w_mu delta(q - y^mu . x0 / N)
    truth = overlap_distribution(post, reference=state.x0)
    assert truth.moment(1) == pytest.approx(w @ (pts @ state.x0) / model.n_dim, rel=1e-10)


def test_exact_spin_pq_by_walsh_hadamard_equals_the_double_sum_over_states():
    prior, state, post = sk_posterior()
    states, probs = post.enumerate()
    s = states.astype(float)
    q_all = s @ s.T / prior.n_dim
    dist = overlap_distribution(post)
    q_levels = 1 - 2 * np.arange(prior.n_dim + 1) / prior.n_dim
    for q in q_levels:
        brute = probs @ np.where(np.isclose(q_all, q), 1.0, 0.0) @ probs
        got = dist.prob[np.isclose(dist.q, q)].sum()
        assert got == pytest.approx(brute, rel=1e-9, abs=1e-15)
    # P(q) is symmetric under q -> -q only without fields; here it is not, but it sums to one
    assert dist.prob.sum() == pytest.approx(1.0, abs=1e-12)


# exact against samples ---------------------------------------------------------------------------
def test_dataset_pq_from_exact_weights_equals_pq_from_exact_samples_within_5_se():
    model, state, post = dataset_posterior()
    x = exact_samples(post, 8, 400, np.random.default_rng(3))
    edges = np.linspace(-1.5, 2.5, 11)
    for ref in [None, state.x0]:
        exact = overlap_distribution(post, edges, reference=ref)
        sampled = overlap_distribution(x, edges, reference=ref)
        assert sampled.method == "samples" and sampled.n == 8 * 400
        assert exact.prob.sum() == pytest.approx(1.0, abs=1e-12)  # the bins hold every atom
        assert_within_se(sampled.prob, exact.prob, sampled.stderr, f"P(q), reference={ref is not None}")


def test_dataset_pq_from_samples_fails_against_the_prior_weights_negative_control():
    """The same comparison against uniform weights (the prior, not the posterior) must fail."""
    model, state, post = dataset_posterior()
    x = exact_samples(post, 8, 400, np.random.default_rng(3))
    edges = np.linspace(-1.5, 2.5, 11)
    wrong = mc.Posterior(model, mc.VP(), state.x_t, 50.0)  # t -> infinity: weights ~ 1/n
    sampled = overlap_distribution(x, edges)
    prior_pq = overlap_distribution(wrong, edges)
    assert np.any(np.abs(sampled.prob - prior_pq.prob) > N_SE * sampled.stderr)


def test_spin_pq_from_enumeration_equals_pq_from_exact_samples_within_5_se():
    prior, state, post = sk_posterior()
    x = exact_samples(post, 6, 500, np.random.default_rng(4))
    edges = np.linspace(-1.125, 1.125, 10)  # one bin per q = 1 - 2d/8
    exact = overlap_distribution(post, edges)
    sampled = overlap_distribution(x, edges)
    assert_within_se(sampled.prob, exact.prob, sampled.stderr, "spin P(q)")
    exact_m = overlap_moments(post)
    sampled_m = overlap_moments(x)
    for k in (1, 2, 4):
        assert_within_se(sampled_m[k].value, exact_m[k].value, sampled_m[k].stderr, f"<q^{k}>")


def test_dataset_overlap_moments_from_weights_equal_those_from_samples_within_5_se():
    model, state, post = dataset_posterior()
    x = exact_samples(post, 8, 400, np.random.default_rng(5))
    for ref in [None, state.x0]:
        exact = overlap_moments(post, reference=ref)
        sampled = overlap_moments(x, reference=ref)
        for k in (1, 2, 4):
            assert exact[k].method == "exact" and sampled[k].method == "samples"
            assert_within_se(sampled[k].value, exact[k].value, sampled[k].stderr, f"<q^{k}> ref={ref is not None}")


def test_gaussian_mixture_first_two_overlap_moments_from_mean_and_covariance_match_samples():
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=30)
    state = mc.draw_quenched(model, mc.VP(), 1.8, seed=6)
    post = mc.Posterior(model, mc.VP(), state.x_t, 1.8)
    x = exact_samples(post, 8, 300, np.random.default_rng(6))
    for ref in [None, state.x0]:
        exact = overlap_moments(post, orders=(1, 2), reference=ref)
        sampled = overlap_moments(x, orders=(1, 2), reference=ref)
        for k in (1, 2):
            assert_within_se(sampled[k].value, exact[k].value, sampled[k].stderr, f"GMM <q^{k}>")
    with pytest.raises(ValueError, match="^orders:"):
        overlap_moments(post, orders=(4,))


def test_q_ea_from_exact_weights_equals_q_ea_from_samples_and_exceeds_mean_q():
    model, state, post = dataset_posterior()
    x = exact_samples(post, 8, 400, np.random.default_rng(7))
    exact = q_ea(post)
    sampled = q_ea(x, points=model.points)
    assert_within_se(sampled.value, exact.value, sampled.stderr, "q_EA data set")
    w = post.weights
    assert exact.value == pytest.approx((w**2 @ model.sq_norms) / model.n_dim / (w @ w), rel=1e-12)
    assert exact.value > overlap_moments(post, orders=(1,))[1].value  # several states: q_EA > <q>

    gmm = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=40)
    st = mc.draw_quenched(gmm, mc.VP(), 2.0, seed=8)
    gpost = mc.Posterior(gmm, mc.VP(), st.x_t, 2.0)
    xs = exact_samples(gpost, 8, 300, np.random.default_rng(8))
    assert_within_se(q_ea(xs, classes=gmm).value, q_ea(gpost).value, q_ea(xs, classes=gmm).stderr, "q_EA mixture")


# Binder cumulant ---------------------------------------------------------------------------------
def test_binder_cumulant_is_one_for_a_non_fluctuating_modulus_and_zero_for_a_gaussian():
    q2 = np.full(20, 0.49)
    assert binder_cumulant(q2, q2**2).value == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(9)
    q = rng.standard_normal((200, 400)) * 0.3  # Gaussian order parameter in 200 disorder samples
    g = binder_cumulant((q**2).mean(axis=1), (q**4).mean(axis=1))
    assert g.method == "jackknife" and g.n == 200
    assert abs(g.value) < N_SE * g.stderr


def test_binder_cumulant_jackknife_matches_a_bootstrap_of_the_same_disorder_samples():
    rng = np.random.default_rng(10)
    q2 = rng.uniform(0.2, 0.6, size=150)
    q4 = q2**2 * rng.uniform(1.0, 2.0, size=150)
    g = binder_cumulant(q2, q4)
    boot = replica.bootstrap((q2, q4), lambda a, b: 0.5 * (3 - b.mean() / a.mean() ** 2), n_boot=20_000, rng=1)
    assert abs(g.stderr / boot.stderr - 1) < 0.03  # 5 x 1/sqrt(2 B) + O(1/n), as in test_stats
    assert g.value == pytest.approx(0.5 * (3 - q4.mean() / q2.mean() ** 2), abs=0.1 * g.stderr)


def test_binder_cumulant_returns_the_documented_estimate():
    """Default: the jackknife bias-corrected value n g - (n - 1) mean g_(i), computed here by an
    explicit leave-one-out loop; bias_corrected=False: the plain formula; same error."""
    rng = np.random.default_rng(11)
    q2 = rng.uniform(0.2, 0.6, size=12)
    q4 = q2**2 * rng.uniform(1.0, 2.0, size=12)

    def plain(a, b):
        return 0.5 * (3 - b.mean() / a.mean() ** 2)

    loo = np.array([plain(np.delete(q2, i), np.delete(q4, i)) for i in range(12)])
    corrected = binder_cumulant(q2, q4)
    raw = binder_cumulant(q2, q4, bias_corrected=False)
    assert corrected.value == pytest.approx(12 * plain(q2, q4) - 11 * loo.mean(), rel=1e-12)
    assert raw.value == pytest.approx(plain(q2, q4), rel=1e-12)
    assert raw.stderr == corrected.stderr > 0


# disorder averages of P(q) ------------------------------------------------------------------------
def test_average_distribution_is_the_mean_mass_per_bin_with_sd_over_root_n():
    edges = np.linspace(-1, 1, 5)
    dists = [
        OverlapDistribution(q=0.5 * (edges[1:] + edges[:-1]), prob=p, stderr=np.zeros(4), edges=edges, method="exact")
        for p in ([0.1, 0.2, 0.3, 0.4], [0.3, 0.2, 0.1, 0.4], [0.2, 0.2, 0.2, 0.4])
    ]
    avg = average_distribution(dists)
    np.testing.assert_allclose(avg.prob, [0.2, 0.2, 0.2, 0.4])
    np.testing.assert_allclose(avg.stderr, [0.1 / np.sqrt(3), 0, 0.1 / np.sqrt(3), 0], atol=1e-15)
    assert avg.n == 3 and avg.method == "disorder_mean"
    other = OverlapDistribution(q=np.zeros(2), prob=np.zeros(2), stderr=np.zeros(2), edges=np.linspace(-1, 1, 3))
    with pytest.raises(ValueError, match="^distributions:"):
        average_distribution(dists + [other])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda p, x: overlap(np.ones(3), np.ones(4)), "y"),
        (lambda p, x: replica_overlaps(np.ones((1, 3, 4))), "samples"),
        (lambda p, x: replica_overlaps(np.ones((3, 4))), "samples"),
        (lambda p, x: overlap_distribution(x), "bins"),
        (lambda p, x: overlap_distribution(x, 10), "bins"),
        (lambda p, x: overlap_distribution(x, [0.0, 0.0, 1.0]), "bins"),
        (lambda p, x: overlap_distribution(p, max_support=3), "source"),
        (lambda p, x: overlap_distribution(np.ones((2, 2)), [0.0, 1.0]), "source"),
        (lambda p, x: overlap_distribution(
            mc.Posterior(mc.GaussianMixture.two_class(1.0, n_dim=3), mc.VP(), np.ones(3), 1.0)), "source"),
        (lambda p, x: overlap_moments(x, orders=(0,)), "orders"),
        (lambda p, x: binder_cumulant([0.1, 0.2], [0.1]), "q4"),
        (lambda p, x: binder_cumulant([0.0, 0.0], [0.0, 0.0]), "q2"),
        (lambda p, x: q_ea(x, points=np.ones((2, 10)), labels=np.zeros((4, 5), int)), "points, labels"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    model, state, post = dataset_posterior()
    x = exact_samples(post, 4, 5, 0)
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(post, x)


def test_exact_moments_of_a_data_set_spread_over_too_many_points_fall_back_to_mean_and_covariance():
    """More points carry weight than an exact pair distribution allows: <q> and <q^2> still come
    exactly from the mean and covariance; checked against a brute-force double sum in chunks."""
    model = mc.Dataset.gaussian(5000, 3, seed=2)
    post = mc.Posterior(model, mc.VP(), np.zeros(3), t=3.0)
    w, y = post.weights, model.points
    with pytest.raises(ValueError, match="max_support"):
        replica.overlap_distribution(post)
    got = replica.overlap_moments(post, orders=(1, 2))
    q1 = q2 = 0.0
    for start in range(0, 5000, 500):
        g = y[start:start + 500] @ y.T / 3
        q1 += float(w[start:start + 500] @ g @ w)
        q2 += float(w[start:start + 500] @ (g * g) @ w)
    assert got[1].value == pytest.approx(q1, rel=1e-10) and got[2].value == pytest.approx(q2, rel=1e-10)
    with pytest.raises(ValueError):
        replica.overlap_moments(post, orders=(4,))
