"""Finite data sets and two deltas: exact posterior weights against brute force, stability, files."""
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp, softmax

import mc
import replica


def brute_force_weights(points, prior, proc, x_t, t):
    """softmax_mu(log w_mu - |x_t - a y^mu|^2 / (2 D)) written from the definition."""
    a, D = proc.a(t), proc.D(t)
    d2 = np.array([np.sum((x_t - a * p) ** 2) for p in points])
    return softmax(np.log(prior) - d2 / (2 * D))


@pytest.mark.parametrize("proc", [mc.VE(1.3), mc.VP()], ids=["VE", "VP"])
@pytest.mark.parametrize("t", [0.01, 0.4, 5.0])
def test_dataset_weights_equal_brute_force_softmax(proc, t, rng):
    points = rng.standard_normal((40, 7))
    prior = rng.dirichlet(np.ones(40))
    model = mc.Dataset(points, prior)
    x_t = proc.sample_xt(points[3], t, rng)
    post = mc.Posterior(model, proc, x_t, t)
    np.testing.assert_allclose(post.weights, brute_force_weights(points, prior, proc, x_t, t), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(post.mean(), points.T @ post.weights, rtol=1e-12, atol=1e-14)
    w = post.weights
    m = post.mean()
    cov_ref = (points * w[:, None]).T @ points - np.outer(m, m)
    np.testing.assert_allclose(post.cov(), cov_ref, atol=1e-12)
    assert post.cov_trace() == pytest.approx(np.trace(cov_ref), abs=1e-12)
    # log Z = log sum_mu w_mu exp(-|x_t - a y|^2 / (2D)) directly
    a, D = proc.a(t), proc.D(t)
    d2 = np.array([np.sum((x_t - a * p) ** 2) for p in points])
    assert post.log_partition() == pytest.approx(logsumexp(np.log(prior) - d2 / (2 * D)), rel=1e-12)


@pytest.mark.slow
def test_dataset_weights_stay_finite_and_normalised_for_1e5_points_in_1000_dims_at_t_1e_4():
    model = mc.Dataset.gaussian(100_000, 1000, seed=3)
    state = mc.draw_quenched(model, mc.VP(), 1e-4, seed=5, source="point")
    post = mc.Posterior(model, mc.VP(), state.x_t, 1e-4)
    w = post.weights
    assert np.isfinite(w).all() and (w >= 0).all()
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert int(np.argmax(w)) == state.point_index and w.max() == pytest.approx(1.0, abs=1e-12)
    assert np.isfinite(post.log_partition())
    # the generating point's log weight: log Z = log(1/n) - |y - y_mu|^2 / (2 s) + O(e^{-huge})
    d = post.y - model.points[state.point_index]
    assert post.log_partition() == pytest.approx(-np.log(1e5) - 0.5 * d @ d / post.s, rel=1e-9)
    assert np.isfinite(post.cov_trace()) and post.cov_trace() >= 0
    # and at large t the weights spread over all points without underflow to one point
    far = mc.Posterior(model, mc.VP(), state.x_t * 0.0, 20.0)
    assert far.weights.max() < 1e-4 and far.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_dataset_exact_samples_hit_points_with_posterior_frequencies(rng):
    """Chi-square of posterior index counts against the exact weights; negative control with the prior."""
    points = rng.standard_normal((6, 3))
    model = mc.Dataset(points)
    post = mc.Posterior(model, mc.VE(), points[0] + 0.3, 0.8)
    idx = post.exact.sample_indices(50_000, rng)
    counts = np.bincount(idx, minlength=6)
    assert stats.chisquare(counts, 50_000 * post.weights).pvalue > 1e-3
    assert stats.chisquare(counts, 50_000 * np.full(6, 1 / 6)).pvalue < 1e-6
    samples = post.sample_exact(10, rng)
    assert all(any(np.array_equal(s, p) for p in points) for s in samples)


def test_two_deltas_1d_ve_mean_is_tanh_to_1e_12():
    model = mc.TwoDeltas(1.0)
    for sigma in [1.0, 0.3]:
        proc = mc.VE(sigma)
        for t in [1e-4, 0.05, 1.0, 30.0]:
            for x in [-3.0, -0.2, 0.0, 1e-9, 0.7, 5.0]:
                post = mc.Posterior(model, proc, np.array([x]), t)
                assert abs(post.mean()[0] - np.tanh(x / (sigma**2 * t))) <= 1e-12


def test_two_deltas_posterior_agrees_with_the_dataset_route(rng):
    v = rng.standard_normal(4)
    model = mc.TwoDeltas(v, weight=0.3)
    generic = mc.Dataset(np.stack([v, -v]), [0.3, 0.7])
    x_t = rng.standard_normal(4)
    for t in [0.05, 1.0]:
        p1, p2 = mc.Posterior(model, mc.VP(), x_t, t), mc.Posterior(generic, mc.VP(), x_t, t)
        np.testing.assert_allclose(p1.weights, p2.weights, rtol=1e-12)
        np.testing.assert_allclose(p1.mean(), p2.mean(), atol=1e-12)
        np.testing.assert_allclose(p1.cov(), p2.cov(), atol=1e-12)
        assert p1.log_partition() == pytest.approx(p2.log_partition(), rel=1e-12)


def test_two_deltas_susceptibility_keeps_precision_deep_in_the_ordered_phase():
    post = mc.Posterior(mc.TwoDeltas(1.0), mc.VE(), np.array([1.0]), 0.02)  # g = 50
    # 1 - tanh(50)^2 = 4 e^{-100} / (1 + e^{-100})^2, far below 1 - tanh^2 in float64 (0)
    assert post.cov()[0, 0] == pytest.approx(4 * np.exp(-100.0), rel=1e-12)


def test_dataset_log_prob_is_log_weight_on_points_and_minus_inf_elsewhere():
    pts = np.array([[0.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
    model = mc.Dataset(pts, [0.2, 0.5, 0.3])
    lp = model.log_prob(np.array([[0.0, 1.0], [2.0, 2.0], [1.0, 1.0]]))
    np.testing.assert_allclose(lp[:2], [np.log(0.5), np.log(0.5)])
    assert lp[2] == -np.inf


def test_from_alpha_has_round_exp_alpha_n_points():
    model = mc.Dataset.from_alpha(0.2, 20, seed=1)
    assert model.n_points == round(np.exp(0.2 * 20)) == 55
    assert model.params() == {"n_dim": 20, "n_points": 55, "alpha": 0.2, "variance": 1.0}
    np.testing.assert_array_equal(model.points, mc.Dataset.from_alpha(0.2, 20, seed=1).points)
    assert model.population.n_dim == 20


def test_from_file_reads_npy_and_npz_without_pickles(tmp_path, rng):
    pts = rng.standard_normal((5, 3))
    np.save(tmp_path / "p.npy", pts)
    np.testing.assert_array_equal(mc.Dataset.from_file(tmp_path / "p.npy").points, pts)
    w = np.full(5, 0.2)
    np.savez(tmp_path / "d.npz", points=pts, weights=w)
    loaded = mc.Dataset.from_file(tmp_path / "d.npz")
    np.testing.assert_allclose(loaded.prior_weights, w)
    np.savez(tmp_path / "x.npz", data=pts)
    assert mc.Dataset.from_file(tmp_path / "x.npz", key="data").n_points == 5
    with pytest.raises(ValueError, match="^key:"):
        mc.Dataset.from_file(tmp_path / "x.npz")
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = [1], {"a": 2}
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    with pytest.raises(ValueError, match="^path:.*not a plain numeric"):
        mc.Dataset.from_file(tmp_path / "obj.npy")
    with pytest.raises(ValueError, match="^path:.*no such file"):
        mc.Dataset.from_file(tmp_path / "missing.npy")


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: mc.Dataset(np.array([[0.0, np.nan]])), "points"),
        (lambda: mc.Dataset(np.array([[0.0, np.inf]])), "points"),
        (lambda: mc.Dataset(np.zeros(3)), "points"),
        (lambda: mc.Dataset(np.zeros((0, 3))), "points"),
        (lambda: mc.Dataset(np.zeros((2, 3)), [0.5, 0.6]), "weights"),
        (lambda: mc.Dataset(np.zeros((2, 3)), [1.5, -0.5]), "weights"),
        (lambda: mc.Dataset(np.zeros((2, 3)), [1.0]), "weights"),
        (lambda: mc.Dataset(np.zeros((2, 3)), [np.nan, 1.0]), "weights"),
        (lambda: mc.Dataset.gaussian(0, 3), "n_points"),
        (lambda: mc.Dataset.gaussian(10, 3, variance=-1.0), "variance"),
        (lambda: mc.Dataset.gaussian(10**9, 1000), "n_points"),
        (lambda: mc.Dataset.from_alpha(-0.1, 10), "alpha"),
        (lambda: mc.Dataset.from_alpha(1.0, 100), "alpha"),
        (lambda: mc.Dataset.from_alpha(0.1, 0), "n_dim"),
        (lambda: mc.TwoDeltas(0.0), "v"),
        (lambda: mc.TwoDeltas(np.ones((2, 2))), "v"),
        (lambda: mc.TwoDeltas(1.0, weight=1.0), "weight"),
        (lambda: mc.Dataset(np.zeros((2, 3))).log_prob(np.zeros(2)), "x0"),
        (lambda: mc.Dataset(np.zeros((2, 3))).sample(-1, 0), "n"),
        (lambda: mc.Dataset(np.zeros((2, 3))).sample(2, None), "rng"),
    ],
)
def test_bad_dataset_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()


def test_condensed_posterior_keeps_the_relative_precision_of_its_tiny_spread():
    """Two points: tr Cov = w (1 - w) |y1 - y2|^2 exactly; with 1 - w ~ e^{-100} a naive
    E|x|^2 - |E x|^2 would return 0 or noise."""
    pts = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, -1.0]])
    model = mc.Dataset(pts)
    # logit difference (y.(y1 - y2) - (|y1|^2 - |y2|^2)/2)/s = 4 (y_3 - 1) / s; choose it = 100
    s = 0.04
    y = np.array([0.0, 0.0, 2.0])
    ex = model.exact_posterior(y, s)
    w2 = ex.weights[1]
    assert w2 == pytest.approx(np.exp(-100.0) / (1 + np.exp(-100.0)), rel=1e-12)
    assert ex.cov_trace() == pytest.approx(w2 * (1 - w2) * 16.0, rel=1e-10)
    np.testing.assert_allclose(ex.mean(), pts[0] + w2 * (pts[1] - pts[0]), rtol=1e-15)


# data sets drawn from a Gaussian mixture, labelled by component --------------------------------
def test_from_mixture_points_are_the_mixture_draws_and_labels_follow_the_component_weights():
    mix = mc.GaussianMixture.two_class(0.4, variance=2.0, weight=0.3, n_dim=6)
    ds = mc.Dataset.from_mixture(mix, 4000, seed=4)
    # the same generator stream as the mixture's own sampler
    np.testing.assert_array_equal(ds.points, mix.sample(4000, np.random.default_rng(4)))
    assert ds.population is mix and ds.labels.dtype == np.int64 and ds.labels.shape == (4000,)
    assert ds.params() == {"n_dim": 6, "n_points": 4000, "n_components": 2, "mu_norm2": pytest.approx(0.96),
                           "variance": 2.0, "weight": 0.3}
    # label frequencies: binomial with p = 0.3 (5 standard errors); negative control p = 1/2
    frac = float(np.mean(ds.labels == 0))
    se = np.sqrt(0.3 * 0.7 / 4000)
    assert abs(frac - 0.3) <= 5 * se
    assert abs(frac - 0.5) > 5 * se


def test_two_class_labels_sit_on_the_side_of_the_class_axis_with_the_mixture_probability():
    """A point of class c (c = +1 for label 0, -1 for label 1) has y . mu ~ N(c |mu|^2, sigma^2 |mu|^2),
    so P(sign(y . mu) = c) = Phi(|mu| / sigma); with shuffled labels the fraction is 1/2 instead."""
    n_dim, mu, variance = 8, 0.3, 2.0
    ds = mc.Dataset.two_class_alpha(1.2, n_dim, mu=mu, variance=variance, seed=5)  # round(e^9.6) points
    n = ds.n_points
    assert n == round(np.exp(9.6))
    e = np.full(n_dim, 1.0) / np.sqrt(n_dim)
    proj = ds.points @ e  # ~ N(c |mu|, sigma^2) within class c
    spin = 1 - 2 * ds.labels
    p = stats.norm.cdf(mu * np.sqrt(n_dim) / np.sqrt(variance))
    se = np.sqrt(p * (1 - p) / n)
    assert abs(np.mean(np.sign(proj) == spin) - p) <= 5 * se
    shuffled = np.random.default_rng(0).permutation(spin)
    assert abs(np.mean(np.sign(proj) == shuffled) - p) > 5 * se  # negative control
    assert abs(np.mean(ds.labels == 0) - 0.5) <= 5 * np.sqrt(0.25 / n)
    for label, c in ((0, 1.0), (1, -1.0)):
        u = proj[ds.labels == label]
        assert abs(u.mean() - c * mu * np.sqrt(n_dim)) <= 5 * np.sqrt(variance / u.size)
        assert abs(u.var(ddof=1) - variance) <= 5 * variance * np.sqrt(2.0 / (u.size - 1))
        # transverse coordinates carry no class: mean 0, variance sigma^2
        t = ds.points[ds.labels == label] @ np.r_[1.0, -1.0, np.zeros(n_dim - 2)] / np.sqrt(2.0)
        assert abs(t.mean()) <= 5 * np.sqrt(variance / t.size)


def test_two_class_alpha_size_parameters_population_and_read_only_labels():
    ds = mc.Dataset.two_class_alpha(0.2, 20, mu=0.5, variance=1.5, seed=1)
    assert ds.n_points == round(np.exp(0.2 * 20)) == 55
    assert ds.params() == {"n_dim": 20, "n_points": 55, "alpha": 0.2, "mu": 0.5, "mu_norm2": 5.0, "variance": 1.5}
    np.testing.assert_array_equal(ds.population.means, np.stack([np.full(20, 0.5), np.full(20, -0.5)]))
    assert set(ds.labels.tolist()) == {0, 1}
    with pytest.raises(ValueError):
        ds.labels[0] = 1 - ds.labels[0]
    again = mc.Dataset.two_class_alpha(0.2, 20, mu=0.5, variance=1.5, seed=1)
    np.testing.assert_array_equal(again.points, ds.points)
    np.testing.assert_array_equal(again.labels, ds.labels)
    assert not np.array_equal(mc.Dataset.two_class_alpha(0.2, 20, mu=0.5, variance=1.5, seed=2).points, ds.points)
    # unplanted disorder from the population: a fresh draw of the mixture, not a training point
    state = mc.draw_quenched(ds, mc.VP(), 1.0, seed=0, source="population")
    assert not state.planted and state.source == "population"
    assert not any(np.array_equal(state.x0, p) for p in ds.points)
    assert mc.Dataset(np.zeros((2, 3))).labels is None


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: mc.Dataset.two_class_alpha(0.0, 8), "alpha"),
        (lambda: mc.Dataset.two_class_alpha(-0.1, 8), "alpha"),
        (lambda: mc.Dataset.two_class_alpha(2.0, 40, max_bytes=2**20), "alpha"),
        (lambda: mc.Dataset.two_class_alpha(0.2, 0), "n_dim"),
        (lambda: mc.Dataset.two_class_alpha(0.2, 8, mu=0.0), "mu"),
        (lambda: mc.Dataset.two_class_alpha(0.2, 8, mu=[1.0] * 8), "mu"),
        (lambda: mc.Dataset.two_class_alpha(0.2, 8, variance=0.0), "variance"),
        (lambda: mc.Dataset.two_class_alpha(0.2, 8, seed="x"), "seed"),
        (lambda: mc.Dataset.from_mixture(mc.Dataset.gaussian(3, 2), 5), "mixture"),
        (lambda: mc.Dataset.from_mixture(mc.GaussianMixture.two_class(1.0, n_dim=3), 0), "n_points"),
        (lambda: mc.Dataset.from_mixture(mc.GaussianMixture.two_class(1.0, n_dim=100), 10**6, max_bytes=2**20),
         "n_points"),
        (lambda: mc.Dataset(np.zeros((3, 2)), labels=[0, 1]), "labels"),
        (lambda: mc.Dataset(np.zeros((3, 2)), labels=[0.0, 1.0, 1.0]), "labels"),
        (lambda: mc.Dataset(np.zeros((3, 2)), labels=[0, -1, 1]), "labels"),
    ],
)
def test_bad_labelled_dataset_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()


# class observables of a labelled data set ------------------------------------------------------
@pytest.fixture(scope="module")
def labelled_case():
    """148 points from the two-class mixture (mu = 0.6 per coordinate, N = 10) and planted x_t."""
    return mc.Dataset.two_class_alpha(0.5, 10, mu=0.6, seed=2)


def brute_force_class_probabilities(ds, proc, x_t, t):
    """P(c | x_t) = sum of the softmax weights of the points of class c, by a loop over points."""
    w = brute_force_weights(ds.points, np.full(ds.n_points, 1.0 / ds.n_points), proc, x_t, t)
    out = [0.0, 0.0]
    for mu in range(ds.n_points):
        out[int(ds.labels[mu])] += w[mu]
    return np.array(out)


def test_class_cloning_probability_and_label_variance_equal_a_loop_over_points(labelled_case):
    ds, proc = labelled_case, mc.VP()
    phis = []
    for t in (0.3, 0.6, 1.5):
        state = mc.draw_quenched(ds, proc, t, seed=3, disorder=2, source="point")
        post = mc.Posterior(ds, proc, state.x_t, t)
        p = brute_force_class_probabilities(ds, proc, state.x_t, t)
        phi = replica.cloning_probability(post, labels=ds.labels)
        assert phi.method == "exact" and phi.stderr == 0
        assert phi.value == pytest.approx(p[0] ** 2 + p[1] ** 2, rel=1e-12)
        var = replica.class_magnetisation_variance(post, labels=ds.labels)
        assert var.value == pytest.approx(1.0 - (p[0] - p[1]) ** 2, rel=1e-9, abs=1e-15)
        # the same from the weight vector; classes are coarser than points, so phi >= Y
        assert replica.cloning_probability(post.weights, labels=ds.labels).value == pytest.approx(phi.value, rel=1e-12)
        assert phi.value > replica.participation_ratio(post).value
        # negative control: one class per point gives back Y, not phi
        own = replica.cloning_probability(post, labels=np.arange(ds.n_points))
        assert own.value == pytest.approx(replica.participation_ratio(post).value, rel=1e-12)
        phis.append(phi.value)
    assert max(phis) > 0.95 and 0.6 < phis[1] < 0.8 and min(phis) < 0.55  # committed, mixed, spread


def test_label_variance_keeps_precision_when_one_class_weight_underflows():
    pts = np.array([[1.0, 0.0], [-1.0, 0.0]])
    ds = mc.Dataset(pts, labels=[0, 1])
    ex = ds.exact_posterior(np.array([1.0, 0.0]), 0.02)  # logit difference 2 / 0.02 = 100
    w1 = np.exp(-100.0) / (1.0 + np.exp(-100.0))
    var = replica.class_magnetisation_variance(ex, labels=ds.labels)
    assert var.value == pytest.approx(4 * w1 * (1 - w1), rel=1e-12)  # 1 - (w0 - w1)^2 would round to 0


def test_class_observables_from_exact_draws_equal_the_exact_ones_within_5_standard_errors(labelled_case):
    ds, proc, t = labelled_case, mc.VP(), 0.6
    state = mc.draw_quenched(ds, proc, t, seed=3, disorder=2, source="point")
    post = mc.Posterior(ds, proc, state.x_t, t)
    x = replica.exact_samples(post, 8, 400, np.random.default_rng(7))
    for fn in (replica.cloning_probability, replica.class_magnetisation_variance):
        exact = fn(post, labels=ds.labels)
        sampled = fn(x, points=ds.points, labels=ds.labels, warn=False)
        assert sampled.method == "samples" and sampled.n == 8 * 400 and sampled.stderr > 0
        assert abs(sampled.value - exact.value) <= 5 * sampled.stderr, (fn.__name__, sampled, exact)
        # the sample labels may also be given directly, shape (replicas, draws)
        direct = fn(x, labels=ds.labels[replica.nearest_point(x, ds.points)], warn=False)
        assert direct.value == sampled.value
    # negative control: the point-level cloning probability Y is far from the class one
    sampled = replica.cloning_probability(x, points=ds.points, labels=ds.labels, warn=False)
    assert abs(sampled.value - replica.participation_ratio(post).value) > 5 * sampled.stderr


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda post, ds: replica.class_magnetisation_variance(post), "mu, labels"),
        (lambda post, ds: replica.class_magnetisation_variance(post, np.ones(10), labels=ds.labels), "mu, labels"),
        (lambda post, ds: replica.class_magnetisation_variance(post, labels=np.arange(ds.n_points) % 3), "labels"),
        (lambda post, ds: replica.cloning_probability(post, labels=ds.labels[:-1]), "labels"),
        (lambda post, ds: replica.cloning_probability(post, labels=ds.labels * 1.0), "labels"),
        (lambda post, ds: replica.cloning_probability(post, labels=-ds.labels), "labels"),
    ],
)
def test_bad_class_labels_raise_value_error_naming_them(labelled_case, call, name):
    ds = labelled_case
    post = mc.Posterior(ds, mc.VP(), ds.points[0], 0.6)
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(post, ds)


def test_first_copies_matches_a_brute_force_search():
    """``first_copies`` (random projection, then exact comparisons) against a double loop, on
    small data sets with many exact repeats at several scales, and on a large one."""
    from mc.models.dataset import first_copies

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, d = int(rng.integers(2, 40)), int(rng.integers(1, 6))
        x = rng.integers(0, 3, size=(n, d)).astype(float) * rng.choice([1.0, 0.1, 1e5])
        brute = [min(j for j in range(n) if np.array_equal(x[i], x[j])) for i in range(n)]
        assert first_copies(x).tolist() == brute
    x = rng.standard_normal((5000, 30))
    x[[5, 4999]] = x[77]
    x[100] = np.nextafter(x[101], np.inf)  # differs in the last bit only: not a copy
    first = first_copies(x)
    assert first[5] == 5 and first[77] == 5 and first[4999] == 5 and first[100] == 100
    assert np.count_nonzero(first != np.arange(5000)) == 2
