"""Observables from exact weights against the same observables from exact samples (5 standard
errors), their limits (collapse, uniform weights, speciation) and fluctuation-dissipation."""
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import mc
import replica
from replica import (
    class_magnetisation,
    class_magnetisation_variance,
    cloning_probability,
    disorder_average,
    exact_samples,
    nearest_point_overlap,
    participation_ratio,
    score_divergence,
    susceptibility,
    weight_entropy,
)
from spin_enumeration import state_index as _state_index

N_SE = 5.0


def within(sampled, exact, what):
    """|sampled - exact| <= 5 standard errors of the sampled estimate (plus 1e-12 for rounding,
    where a sampled value has no spread at all)."""
    assert abs(sampled.value - float(exact)) <= N_SE * sampled.stderr + 1e-12, f"{what}: {sampled} vs {float(exact):.6g}"


@pytest.fixture(scope="module")
def data_case():
    model = mc.Dataset.gaussian(30, 10, seed=1)
    state = mc.draw_quenched(model, mc.VP(), 0.4, seed=2)
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.4)
    x = exact_samples(post, 8, 400, np.random.default_rng(3))
    return model, state, post, x


# data sets -----------------------------------------------------------------------------------
def test_dataset_participation_ratio_from_weights_equals_the_fraction_of_replica_pairs_on_one_point(data_case):
    model, state, post, x = data_case
    exact = participation_ratio(post)
    assert exact.method == "exact" and exact.stderr == 0
    assert exact.value == pytest.approx(post.weights @ post.weights, rel=1e-14)
    assert 0.05 < exact.value < 0.95  # a spread posterior: the check is not trivial
    sampled = participation_ratio(x, points=model.points)
    assert sampled.method == "samples" and sampled.n == x.shape[0] * x.shape[1]
    within(sampled, exact, "Y")
    # the same number is the cloning probability on training points, and Y of the weight vector
    assert cloning_probability(post).value == pytest.approx(exact.value, rel=1e-14)
    assert participation_ratio(post.weights).value == pytest.approx(exact.value, rel=1e-12)
    within(cloning_probability(x, points=model.points), exact, "phi on points")


def test_dataset_nearest_point_overlap_and_weight_entropy_from_weights_equal_those_from_samples(data_case):
    model, state, post, x = data_case
    for normalised in (False, True):
        exact = nearest_point_overlap(post, model.points, normalised=normalised)
        sampled = nearest_point_overlap(x, model.points, normalised=normalised)
        within(sampled, exact, f"nearest-point overlap (normalised={normalised})")
    assert nearest_point_overlap(post, model.points, normalised=True).value == pytest.approx(1.0, abs=1e-12)
    exact_s = weight_entropy(post)
    w = post.weights
    assert exact_s.value == pytest.approx(-(w @ np.log(w)), rel=1e-12)
    sampled_s = weight_entropy(x, points=model.points, log_weights=post.exact.log_weights)
    within(sampled_s, exact_s, "weight entropy")


def test_nearest_point_overlap_with_another_point_set_from_weights_equals_samples(data_case):
    """Nearest point in a set that does not contain the support (a noisy copy of the training set)."""
    model, state, post, x = data_case
    other = model.points + 0.7 * np.random.default_rng(4).standard_normal(model.points.shape)
    within(nearest_point_overlap(x, other), nearest_point_overlap(post, other), "nearest-point overlap, other set")


def test_participation_ratio_tends_to_one_as_t_goes_to_zero_from_a_training_point():
    model = mc.Dataset.gaussian(50, 10, seed=5)
    ys = []
    for t in [2.0, 0.5, 0.1, 0.01, 1e-3]:
        state = mc.draw_quenched(model, mc.VP(), t, seed=6, source="point", point=17)
        post = mc.Posterior(model, mc.VP(), state.x_t, t)
        ys.append(participation_ratio(post).value)
    assert ys[-1] > 1 - 1e-12 and ys[0] < 0.5
    post = mc.Posterior(model, mc.VP(), state.x_t, 1e-3)
    x = exact_samples(post, 4, 50, np.random.default_rng(7))
    sampled = participation_ratio(x, points=model.points)
    assert sampled.value == 1.0 and sampled.stderr == 0.0
    assert nearest_point_overlap(x, model.points, normalised=True).value == pytest.approx(1.0, abs=1e-14)
    assert int(np.argmax(post.weights)) == 17


def test_participation_ratio_is_about_one_over_n_at_large_t():
    """At t = 6 (VP) the logits differ by O(sqrt(N) e^{-t}): n Y - 1 = O(N e^{-2t}) ~ 1e-4."""
    n = 50
    model = mc.Dataset.gaussian(n, 10, seed=8)
    state = mc.draw_quenched(model, mc.VP(), 6.0, seed=9)
    post = mc.Posterior(model, mc.VP(), state.x_t, 6.0)
    exact = participation_ratio(post)
    assert 1.0 <= n * exact.value < 1.01
    x = exact_samples(post, 8, 500, np.random.default_rng(10))
    within(participation_ratio(x, points=model.points), 1.0 / n, "Y at large t")
    assert weight_entropy(post).value == pytest.approx(np.log(n), abs=0.01)


def test_spin_participation_ratio_from_enumeration_equals_identical_replica_pairs():
    prior = mc.IsingPrior.sherrington_kirkpatrick(8, beta=1.0, J0=1.0, seed=3)
    state = mc.draw_quenched(prior, mc.VP(), 0.5, seed=11)
    post = mc.Posterior(prior, mc.VP(), state.x_t, 0.5)
    exact = participation_ratio(post)
    states, probs = post.enumerate()
    assert exact.value == pytest.approx(probs @ probs, rel=1e-12)
    x = exact_samples(post, 8, 400, np.random.default_rng(12))
    within(participation_ratio(x), exact, "spin Y")
    within(weight_entropy(x, labels=_state_index(x), log_weights=post.exact.log_probs), weight_entropy(post), "spin entropy")


def test_weight_vector_input_is_checked_and_gives_sum_of_squares():
    assert participation_ratio([0.25, 0.75]).value == pytest.approx(0.625)
    assert weight_entropy([0.5, 0.5]).value == pytest.approx(np.log(2))
    assert weight_entropy([1.0, 0.0]).value == 0.0
    with pytest.raises(ValueError, match="^weights:.*sum to 1"):
        participation_ratio([1.0, 1.0])


# Gaussian mixture: speciation ----------------------------------------------------------------
def test_class_responsibilities_equal_the_mixture_posterior_of_the_class_from_densities():
    rng = np.random.default_rng(13)
    covs = []
    for _ in range(3):
        a = rng.standard_normal((4, 4))
        covs.append(a @ a.T + 0.5 * np.eye(4))
    model = mc.GaussianMixture(rng.standard_normal((3, 4)), covariances=np.array(covs), weights=[0.2, 0.3, 0.5])
    x = rng.standard_normal((2, 5, 4)) * 2
    dens = np.stack([np.log(model.weights[k]) + multivariate_normal(model.means[k], covs[k]).logpdf(x) for k in range(3)], -1)
    expected = np.exp(dens - logsumexp(dens, axis=-1, keepdims=True))
    np.testing.assert_allclose(replica.class_responsibilities(x, model), expected, rtol=1e-10)
    np.testing.assert_array_equal(replica.class_labels(x, model), expected.argmax(-1))


@pytest.fixture(scope="module")
def speciation_scan():
    """Two-class mixture, |mu|^2 = N = 200, unit variance, VP: t_S = (1/2) log(N + 1) ~ 2.65.
    48 planted disorder samples shared by all times; 6 replicas x 100 exact draws each."""
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=200)
    times = np.array([1.0, 2.0, 2.65, 3.3, 4.5])
    rng = np.random.default_rng(14)
    out = {key: np.empty((48, times.size)) for key in ("var_exact", "var_samples", "phi_exact", "phi_rb", "phi_hard", "m_exact", "m_samples")}
    mu = model.means[0]
    for d in range(48):
        state = mc.draw_quenched(model, mc.VP(), times, seed=15, disorder=d)
        assert state.planted and state.source == "prior"
        for j, t in enumerate(times):
            post = mc.Posterior(model, mc.VP(), state.x_t[j], t)
            x = exact_samples(post, 6, 100, rng)
            out["var_exact"][d, j] = class_magnetisation_variance(post, mu).value
            out["var_samples"][d, j] = class_magnetisation_variance(x, mu, warn=False).value
            out["phi_exact"][d, j] = cloning_probability(post).value
            out["phi_rb"][d, j] = cloning_probability(x, classes=model, warn=False).value
            out["phi_hard"][d, j] = cloning_probability(x, classes=model, hard=True, warn=False).value
            out["m_exact"][d, j] = class_magnetisation(post, mu).value
            out["m_samples"][d, j] = class_magnetisation(x, mu, warn=False).value
    return times, out


def paired_z(a, b):
    """Mean of a - b over disorder samples in units of its standard error (per column)."""
    d = a - b
    return d.mean(axis=0) / (d.std(axis=0, ddof=1) / np.sqrt(d.shape[0]))


def test_disorder_averaged_class_magnetisation_variance_rises_through_the_speciation_region(speciation_scan):
    times, out = speciation_scan
    avg = [disorder_average(out["var_exact"][:, j]) for j in range(times.size)]
    assert avg[0].value < 0.01 and avg[-1].value > 0.95  # committed at t = 1, undecided at t = 4.5
    # each step from t = 2 on (through t_S) raises it by more than 5 standard errors of the paired difference
    steps = paired_z(out["var_exact"][:, 2:], out["var_exact"][:, 1:-1])
    assert np.all(steps > N_SE), steps


def test_class_magnetisation_variance_and_cloning_probability_from_samples_equal_the_exact_ones(speciation_scan):
    times, out = speciation_scan
    for sampled, exact in [("var_samples", "var_exact"), ("phi_rb", "phi_exact"), ("phi_hard", "phi_exact"),
                           ("m_samples", "m_exact")]:
        z = paired_z(out[sampled], out[exact])
        assert np.all(np.abs(z) < N_SE), (sampled, z)
    phi = out["phi_exact"].mean(axis=0)
    assert phi[0] > 0.99 and abs(phi[-1] - 0.5) < 0.05  # cloning probability from 1 to 1/2


# responses -----------------------------------------------------------------------------------
def fd_mean(model, process, x_t, t, u, eps):
    """Central finite difference of the exact posterior mean along u: (m(x + eps u) - m(x - eps u)) / (2 eps)."""
    plus = mc.Posterior(model, process, x_t + eps * u, t).mean()
    minus = mc.Posterior(model, process, x_t - eps * u, t).mean()
    return (plus - minus) / (2 * eps)


FDT_CASES = {
    "two-class mixture N=200 at t_S": (lambda: mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=200), 2.65),
    "data set": (lambda: mc.Dataset.gaussian(30, 10, seed=2), 1.0),
    "SK spins N=8": (lambda: mc.IsingPrior.sherrington_kirkpatrick(8, beta=0.8, seed=2), 0.7),
}


@pytest.mark.parametrize("case", list(FDT_CASES))
def test_fluctuation_dissipation_replica_covariance_equals_d_over_a_times_the_response_of_the_mean(case):
    """Cov = (D_t / a_t) dm/dx_t (physics.md). Left: replica estimator of the covariance from exact
    samples (trace / N and along a direction). Right: central differences of the exact mean with
    eps = 1e-4 sqrt(D_t) (truncation O(eps^2), rounding O(1e-16 / eps): both below 1e-9 relative),
    so the check's error is the sampled side's. Negative control: without the factor D_t / a_t."""
    make, t = FDT_CASES[case]
    model = make()
    proc = mc.VP()
    state = mc.draw_quenched(model, proc, t, seed=5)
    post = mc.Posterior(model, proc, state.x_t, t)
    x = exact_samples(post, 8, 500, np.random.default_rng(16))
    n = model.n_dim
    eps = 1e-4 * np.sqrt(post.D)
    response_trace = sum(fd_mean(model, proc, state.x_t, t, e, eps) @ e for e in np.eye(n)) / n
    chi = susceptibility(x, wrt="h")
    within(chi, post.D / post.a * response_trace, "trace")
    assert abs(chi.value - response_trace) > N_SE * chi.stderr  # negative control
    assert susceptibility(post).value == pytest.approx(response_trace, rel=1e-8)  # exact, wrt x_t
    u = model.means[0] / np.linalg.norm(model.means[0]) if case.startswith("two") else np.ones(n) / np.sqrt(n)
    response_u = fd_mean(model, proc, state.x_t, t, u, eps) @ u
    chi_u = susceptibility(x, wrt="h", kind="direction", direction=u)
    within(chi_u, post.D / post.a * response_u, "direction")
    assert abs(chi_u.value - response_u) > N_SE * chi_u.stderr
    within(susceptibility(x, kind="direction", direction=u, a_t=post.a, D_t=post.D), response_u, "direction wrt x_t")


def test_top_eigenvalue_susceptibility_and_score_divergence_from_samples_equal_the_exact_ones():
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=200)
    state = mc.draw_quenched(model, mc.VP(), 2.65, seed=5)
    post = mc.Posterior(model, mc.VP(), state.x_t, 2.65)
    x = exact_samples(post, 8, 500, np.random.default_rng(17))
    exact_top = susceptibility(post, kind="top")
    assert exact_top.value == pytest.approx(post.a / post.D * np.linalg.eigvalsh(post.cov())[-1], rel=1e-12)
    within(susceptibility(x, kind="top", a_t=post.a, D_t=post.D), exact_top, "top eigenvalue")
    exact_div = score_divergence(post)
    assert exact_div.value == pytest.approx(post.score_divergence(), rel=1e-12)
    within(score_divergence(x, a_t=post.a, D_t=post.D), exact_div, "score divergence")


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda p, x: susceptibility(x), "a_t, D_t"),
        (lambda p, x: susceptibility(p, a_t=1.0, D_t=1.0), "a_t, D_t"),
        (lambda p, x: susceptibility(p, kind="max"), "kind"),
        (lambda p, x: susceptibility(p, wrt="y"), "wrt"),
        (lambda p, x: susceptibility(p, kind="direction"), "direction"),
        (lambda p, x: susceptibility(x, a_t=-1.0, D_t=1.0), "a_t"),
        (lambda p, x: class_magnetisation(p, np.zeros(10)), "mu"),
        (lambda p, x: class_magnetisation(x, np.ones(3)), "mu"),
        (lambda p, x: weight_entropy(x, points=p.model.points), "log_weights"),
        (lambda p, x: cloning_probability(x), "classes, points, labels"),
        (lambda p, x: cloning_probability(x, classes=p.model), "classes"),
        (lambda p, x: participation_ratio(x[:1]), "samples"),
        (lambda p, x: participation_ratio(x[:, :1]), "samples"),
        (lambda p, x: participation_ratio(x[0]), "source"),
        (lambda p, x: participation_ratio(mc.Posterior(mc.GaussianMixture.two_class(1.0, n_dim=2), mc.VP(), np.ones(2), 1.0)), "source"),
        (lambda p, x: replica.exact_samples(mc.Posterior(mc.IsingPrior.curie_weiss(30, J=-1.0), mc.VP(), np.ones(30), 1.0), 2, 2, 0), "posterior"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name, data_case):
    model, state, post, x = data_case
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(post, x[:, :5])


@pytest.mark.parametrize("kind", ["full-covariance mixture", "data set", "spins"])
def test_exact_directional_susceptibility_is_the_quadratic_form_of_the_covariance(kind):
    rng = np.random.default_rng(18)
    if kind == "full-covariance mixture":
        a = rng.standard_normal((3, 5, 5))
        model = mc.GaussianMixture(rng.standard_normal((3, 5)), covariances=a @ a.transpose(0, 2, 1) + 0.1 * np.eye(5))
    elif kind == "data set":
        model = mc.Dataset.gaussian(12, 5, seed=3)
    else:
        model = mc.IsingPrior.sherrington_kirkpatrick(5, beta=0.7, seed=3)
    post = mc.Posterior(model, mc.VP(), rng.standard_normal(5), 0.6)
    u = rng.standard_normal(5)
    cov = post.cov()
    quad = u @ cov @ u
    assert susceptibility(post, wrt="h", kind="direction", direction=u).value == pytest.approx(quad / (u @ u), rel=1e-10)
    assert class_magnetisation_variance(post, u).value == pytest.approx(quad / (u @ u) ** 2, rel=1e-10)
    assert class_magnetisation(post, u).value == pytest.approx(post.mean() @ u / (u @ u), rel=1e-12)
    assert susceptibility(post, wrt="h").value == pytest.approx(np.trace(cov) / 5, rel=1e-10)
    assert susceptibility(post, wrt="h", kind="top").value == pytest.approx(np.linalg.eigvalsh(cov)[-1], rel=1e-10)
