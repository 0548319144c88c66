"""Memorisation observables of data sets: the fraction of memorised configurations (d1 < d2 / 3)
and the distances of the optimal denoiser E[x0 | x_t] to the training points and to the clean x0,
against brute-force loops, exact against sampled (5 standard errors), and their registration."""
import math

import numpy as np
import pytest

import mc
import replica.observables as obs_mod
from replica.observables import denoiser_nearest_distance, denoiser_origin_distance, memorised_fraction
from replica.samples import exact_samples
from replica.scan import observables as registry
from replica.stats import replica_mean

N_SE = 5.0
NEW = ("memorised_fraction", "denoiser_nearest_distance", "denoiser_origin_distance")


def within(sampled, exact, what):
    assert abs(sampled.value - float(exact)) <= N_SE * sampled.stderr, f"{what}: {sampled} vs {float(exact):.6g}"


def points_with_duplicates(seed, n=12, n_dim=5):
    """``n`` Gaussian points in ``n_dim`` dimensions; point 3 is repeated as point n - 1 and point 7
    as point n - 2 (exact copies)."""
    pts = np.random.default_rng(seed).normal(size=(n, n_dim))
    pts[n - 1] = pts[3]
    pts[n - 2] = pts[7]
    return pts


# brute force ---------------------------------------------------------------------------------
def brute_distances(x, points):
    """Sorted distances from x to every point, by explicit loops and np.linalg.norm."""
    return sorted(float(np.linalg.norm(x - y)) for y in points)


def brute_memorised(x, points, ratio=1.0 / 3.0):
    d = brute_distances(x, points)
    return d[0] < ratio * d[1]


def brute_exact_fraction(weights, points):
    """sum_mu w_mu 1[0 < d2(y^mu) / 3], d2 the distance to the nearest other point (loops)."""
    total = 0.0
    for mu in range(len(points)):
        d2 = min(float(np.linalg.norm(points[mu] - points[nu])) for nu in range(len(points)) if nu != mu)
        if 0.0 < d2 / 3.0:
            total += weights[mu]
    return total


def brute_mean(weights, points):
    m = np.zeros(points.shape[1])
    for mu in range(len(points)):
        m += weights[mu] * points[mu]
    return m


def noisy_training_samples(points, r, t, seed):
    """Training points plus noise of scale 0 (exact copies, including duplicated points), small and
    large: some draws are memorised, some are not."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(points), size=(r, t))
    scale = rng.choice([0.0, 0.02, 0.3, 1.5], size=(r, t))
    return points[idx] + scale[..., None] * rng.normal(size=(r, t, points.shape[1]))


# memorised fraction --------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [None, 7])
def test_memorised_fraction_from_samples_equals_brute_force_loops(monkeypatch, chunk):
    if chunk is not None:  # several chunks of draws and points
        monkeypatch.setattr(obs_mod, "CHUNK_ELEMENTS", chunk)
    points = points_with_duplicates(0)
    x = noisy_training_samples(points, 4, 30, seed=1)
    hits = np.zeros(x.shape[:2])
    for a in range(x.shape[0]):
        for k in range(x.shape[1]):
            d = brute_distances(x[a, k], points)
            assert d[1] == 0.0 or abs(d[0] / d[1] - 1.0 / 3.0) > 1e-6  # no draw on the boundary
            hits[a, k] = d[0] < d[1] / 3.0
    assert 0.2 < hits.mean() < 0.8  # both kinds of draws
    # an exact copy of a duplicated point is not memorised (d1 = d2 = 0)
    copies = np.array([[points[3], points[0]]])
    assert memorised_fraction(np.repeat(copies, 2, axis=1), points, warn=False).value == 0.5
    est = memorised_fraction(x, points, warn=False)
    assert est.method == "samples" and est.n == x.shape[0] * x.shape[1]
    assert abs(est.value - hits.mean()) <= 1e-12
    ref = replica_mean(lambda keep: hits[keep].mean(axis=0), x.shape[0], warn=False)
    assert est.stderr == pytest.approx(ref.stderr, rel=1e-12) and est.stderr > 0
    # another ratio, against the same loops
    for ratio in (0.1, 1.0):
        want = np.mean([brute_memorised(v, points, ratio) for v in x.reshape(-1, x.shape[2])])
        assert abs(memorised_fraction(x, points, ratio=ratio, warn=False).value - want) <= 1e-12


def test_exact_memorised_fraction_is_the_mass_on_points_without_a_duplicate():
    points = points_with_duplicates(2) + 100.0  # far from the origin: |y|^2 expansion would round
    model = mc.Dataset(points)
    x_t = 0.2 * np.random.default_rng(3).normal(size=points.shape[1]) + np.exp(-1.5) * points.mean(axis=0)
    post = mc.Posterior(model, mc.VP(), x_t, 1.5)
    w = post.exact.weights
    dup = np.array([mu in (3, 7, 10, 11) for mu in range(len(points))])
    assert 0.05 < w[dup].sum() < 0.95  # the duplicates carry part of the mass, not all
    want = brute_exact_fraction(w, points)
    assert want == pytest.approx(w[~dup].sum(), abs=1e-15)
    for source in (post, post.exact, w):
        est = memorised_fraction(source, points)
        assert est.method == "exact" and est.stderr == 0.0
        assert abs(est.value - want) <= 1e-12
    # without duplicates every exact draw is a training point: memorised with probability one
    assert memorised_fraction(mc.Posterior(mc.Dataset(points[:10]), mc.VP(), x_t, 1.5), points[:10]).value == 1.0


def test_exact_memorised_fraction_agrees_with_exact_samples():
    points = points_with_duplicates(4, n=12, n_dim=5)
    model = mc.Dataset(points)
    post = mc.Posterior(model, mc.VP(), 0.3 * points[3] + 0.3 * points[0], 0.5)
    exact = memorised_fraction(post, points)
    assert 0.1 < exact.value < 0.9
    x = exact_samples(post, 8, 400, np.random.default_rng(5))
    sampled = memorised_fraction(x, points, warn=False)
    assert sampled.stderr > 0
    within(sampled, exact, "memorised fraction")


def test_memorised_fraction_negative_control_swapped_distances_or_inverted_ratio():
    """Points 0 and 10 e_1 (and a far one): x = 1 e_1 has d1 = 1, d2 = 9 (memorised, 1 < 3);
    x = 4 e_1 has d1 = 4, d2 = 6 (not, 4 > 2). Swapping d1 and d2 would give 0 for both, the
    inverted ratio (d1 < 3 d2) 1 for both; only the criterion d1 < d2 / 3 gives one of two."""
    n_dim = 5
    e1 = np.eye(n_dim)[0]
    points = np.stack([0.0 * e1, 10.0 * e1, 50.0 * np.eye(n_dim)[1]])
    near, mid = 1.0 * e1, 4.0 * e1
    assert brute_memorised(near, points) and not brute_memorised(mid, points)
    x = np.stack([np.stack([near, mid])] * 2)  # (2 replicas, 2 draws, N)
    assert memorised_fraction(x, points, warn=False).value == 0.5
    assert memorised_fraction(np.stack([np.stack([near, near])] * 2), points, warn=False).value == 1.0
    assert memorised_fraction(np.stack([np.stack([mid, mid])] * 2), points, warn=False).value == 0.0
    # a looser ratio (d1 < d2) counts the midway configuration too
    assert memorised_fraction(x, points, ratio=1.0, warn=False).value == 1.0
    with pytest.raises(ValueError, match="ratio"):
        memorised_fraction(x, points, ratio=3.0)


# denoiser distances --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def held_out_case():
    model = mc.Dataset.gaussian(12, 5, seed=6)
    state = mc.draw_quenched(model, mc.VP(), 0.6, seed=7, source="population")  # x0 held out
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.6)
    x = exact_samples(post, 8, 1000, np.random.default_rng(8))
    return model, state, post, x


def test_denoiser_distances_exact_equal_brute_force(held_out_case):
    model, state, post, _ = held_out_case
    w = post.exact.weights
    assert w.max() < 0.9  # the posterior mean is not a training point
    m = brute_mean(w, model.points)
    n_dim = model.points.shape[1]
    nearest = min(float(np.linalg.norm(m - y)) for y in model.points) / math.sqrt(n_dim)
    origin = float(np.linalg.norm(m - state.x0)) / math.sqrt(n_dim)
    assert not any(np.array_equal(state.x0, y) for y in model.points)
    for source in (post, post.exact):
        est = denoiser_nearest_distance(source, model.points)
        assert est.method == "exact" and est.stderr == 0.0
        assert est.value == pytest.approx(nearest, rel=1e-12)
        assert denoiser_origin_distance(source, state.x0).value == pytest.approx(origin, rel=1e-12)
    assert denoiser_nearest_distance(w, model.points).value == pytest.approx(nearest, rel=1e-12)
    assert abs(nearest - origin) > 0.05  # the two distances measure different things


def test_denoiser_distances_from_samples_agree_with_exact_with_a_replica_jackknife(held_out_case):
    model, state, post, x = held_out_case
    r, t, n_dim = x.shape
    sums = x.sum(axis=1)
    for name, func, arg in (("nearest", denoiser_nearest_distance, model.points),
                            ("origin", denoiser_origin_distance, state.x0)):
        exact = func(post, arg)
        sampled = func(x, arg, warn=False)
        assert sampled.method == "samples" and sampled.n == r * t
        m_hat = x.reshape(-1, n_dim).mean(axis=0)
        if name == "nearest":
            f = lambda m: min(float(np.linalg.norm(m - y)) for y in model.points) / math.sqrt(n_dim)  # noqa: E731
        else:
            f = lambda m: float(np.linalg.norm(m - state.x0)) / math.sqrt(n_dim)  # noqa: E731
        assert sampled.value == pytest.approx(f(m_hat), rel=1e-12)  # the plug-in value
        thetas = np.array([f((sums.sum(axis=0) - sums[a]) / ((r - 1) * t)) for a in range(r)])
        jk = math.sqrt((r - 1) / r * np.sum((thetas - thetas.mean()) ** 2))
        assert jk > 0 and sampled.stderr >= jk * (1 - 1e-12)
        assert sampled.stderr < 5 * jk  # independent draws: the jackknife is the right size
        within(sampled, exact, name)


def test_denoiser_origin_distance_vanishes_on_a_collapsed_posterior():
    """Planted on a training point at small t: m -> x0 = y^mu, both distances -> 0 (a wrong x0 or
    a distance to the farthest point would not)."""
    model = mc.Dataset.gaussian(12, 5, seed=9)
    state = mc.draw_quenched(model, mc.VP(), 0.001, seed=10, source="point")
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.001)
    assert post.exact.weights.max() > 1 - 1e-12
    assert denoiser_origin_distance(post, state.x0).value < 1e-9
    assert denoiser_nearest_distance(post, model.points).value < 1e-9
    assert denoiser_origin_distance(post, model.points[(state.point_index + 1) % 12]).value > 0.3


# registration --------------------------------------------------------------------------------
def test_registered_for_data_sets_but_not_default(held_out_case):
    from mc.models.registry import models

    known = registry.observables()
    for name in NEW:
        obs = known[name]
        assert obs.spaces == ("points",) and obs.default_for == () and obs.needs == {"points": ("points",)}
        assert obs.doc and obs.exact is not None and obs.samples is not None
    points_models = {n: e for n, e in models().items() if e.space == "points"}
    assert {"dataset_gaussian", "dataset_two_class", "two_deltas"} <= set(points_models)
    for entry in points_models.values():
        assert not set(NEW) & set(registry.defaults(entry))
    assert registry.defaults(points_models["dataset_gaussian"]) == (
        "q_self", "overlap_truth", "participation_ratio", "weight_entropy", "overlap_histogram")
    assert registry.defaults(points_models["dataset_two_class"]) == (
        "q_self", "overlap_truth", "participation_ratio", "weight_entropy", "overlap_histogram",
        "cloning_probability", "class_magnetisation_variance")
    # the registered functions read the model's points and the state's x0
    model, state, post, x = held_out_case
    inputs = registry.Inputs(model=model, posterior=post, state=state, space="points")
    for name, direct in (("memorised_fraction", memorised_fraction(post, model.points)),
                         ("denoiser_nearest_distance", denoiser_nearest_distance(post, model.points)),
                         ("denoiser_origin_distance", denoiser_origin_distance(post, state.x0))):
        assert known[name].compute(post, inputs)[name] == direct
        from_samples = known[name].compute(x, inputs)[name]
        assert from_samples.method == "samples"
