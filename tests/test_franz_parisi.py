"""Exact Franz-Parisi potentials (replica.franz_parisi) and the fragmentation verdict (FranzParisi).

Independent references: histograms of exact posterior draws (Gaussian mixtures), brute-force loops
over spin states and data points with the posterior weights written here from the definitions,
per-reference and per-disorder recomputations, and a stand-in umbrella module for the dispatch.
"""
import math
import sys
import types

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import mc
import replica
from replica import FranzParisi, franz_parisi
from replica.order_parameters import CentredOverlap


def mixture_posterior(n=10, t=0.6, seed=2):
    model = mc.GaussianMixture.two_class(np.full(n, 0.6), variance=0.3)
    state = mc.draw_quenched(model, mc.VP(), t, seed=seed)
    return mc.Posterior(model, mc.VP(), state.x_t, t)


# -- exact routes against independent computations -------------------------------------------------------
@pytest.mark.parametrize("order_parameter", ["overlap", "distance"])
def test_mixture_potential_matches_histogram_of_exact_posterior_draws(order_parameter):
    post = mixture_posterior()
    n = post.n_dim
    rng = np.random.default_rng(5)
    ref = post.sample_exact(1, rng)[0]
    draws = post.sample_exact(400_000, rng)
    q = draws @ ref / n if order_parameter == "overlap" else ((draws - ref) ** 2).sum(axis=1) / n
    lo, hi = np.quantile(q, [0.001, 0.999])
    edges = np.linspace(lo, hi, 31)
    sub = 40
    fine = np.linspace(lo, hi, 30 * sub + 1)

    def bin_masses(reference):
        v = franz_parisi(post, q_grid=fine, order_parameter=order_parameter, reference=reference)["V"].to_numpy()
        dens = np.exp(-n * v)
        return np.array([integrate.simpson(dens[b * sub:(b + 1) * sub + 1], x=fine[b * sub:(b + 1) * sub + 1])
                         for b in range(30)])

    counts, _ = np.histogram(q, bins=edges)
    p_hat = counts / q.size
    p = bin_masses(ref)
    se = np.sqrt(p * (1 - p) / q.size)
    use = p * q.size >= 10
    z = (p_hat - p)[use] / se[use]
    assert use.sum() >= 20 and np.abs(z).max() < 5, z
    # negative control: the potential of another reference does not describe these draws
    wrong = bin_masses(post.sample_exact(1, rng)[0])
    z_wrong = (p_hat - wrong)[use] / np.sqrt(wrong * (1 - wrong) / q.size)[use]
    assert np.abs(z_wrong).max() > 5


def test_mixture_bin_average_is_the_bin_mass_from_gaussian_and_noncentral_chi2_cdfs():
    post = mixture_posterior()
    n, ex = post.n_dim, post.exact
    ref = post.sample_exact(1, np.random.default_rng(8))[0]
    grid = np.linspace(-0.8, 1.2, 21)
    edges = np.concatenate([[grid[0] - 0.05], (grid[1:] + grid[:-1]) / 2, [grid[-1] + 0.05]])
    mean = ex.component_means @ ref / n
    sd = np.sqrt(ex.component_eigenvalues[:, 0] * (ref @ ref)) / n  # isotropic components
    mass = sum(w * np.diff(stats.norm.cdf(edges, m, s)) for w, m, s in zip(ex.weights, mean, sd))
    got = franz_parisi(post, q_grid=grid, reference=ref, bin_average=True)["V"]
    np.testing.assert_allclose(got, -np.log(mass / 0.1) / n, rtol=1e-10)
    grid = np.linspace(0.3, 2.3, 21)
    edges = edges + 1.1
    v = ex.component_eigenvalues[:, 0]
    lam = ((ex.component_means - ref) ** 2).sum(axis=1) / v
    mass = sum(w * np.diff(stats.ncx2.cdf(n * edges / vk, n, lk)) for w, vk, lk in zip(ex.weights, v, lam))
    got = franz_parisi(post, q_grid=grid, reference=ref, bin_average=True, order_parameter="distance")["V"]
    np.testing.assert_allclose(got, -np.log(mass / 0.1) / n, rtol=1e-8)


def spin_posterior(n=10, t=0.4):
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=0.8, field=0.1, seed=3)
    state = mc.draw_quenched(prior, mc.VP(), t, seed=4)
    return prior, mc.Posterior(prior, mc.VP(), state.x_t, t)


def brute_force_spin_masses(prior, post, qfun):
    """Posterior mass of each value of q, looping over the 2^N states (weights from the definition)."""
    n = prior.n_dim
    h = post.y / post.s
    logs, values = [], []
    for k in range(1 << n):
        s = np.array([1.0 if (k >> i) & 1 else -1.0 for i in range(n)])
        logs.append(0.5 * prior.beta * s @ prior.couplings @ s + prior.field @ s + h @ s)
        values.append(qfun(s))
    logs = np.array(logs)
    w = np.exp(logs - logs.max())
    return np.array(values), w / w.sum()


@pytest.mark.parametrize("kind", ["overlap", "distance", "centred"])
def test_spin_potential_matches_brute_force_loop_over_states(kind):
    prior, post = spin_posterior()
    n = prior.n_dim
    ref = np.where(np.random.default_rng(1).random(n) < 0.5, -1.0, 1.0)
    centre = np.linspace(-0.3, 0.3, n)
    qfun = {"overlap": lambda s: s @ ref / n, "distance": lambda s: ((s - ref) ** 2).sum() / n,
            "centred": lambda s: (s - centre) @ (ref - centre) / n}[kind]
    op = {"overlap": "overlap", "distance": "distance", "centred": CentredOverlap(centre)}[kind]
    values, w = brute_force_spin_masses(prior, post, qfun)
    if kind == "centred":
        grid = np.linspace(values.min(), values.max(), 15)
    else:
        grid = np.linspace(-1, 1, n + 1) if kind == "overlap" else np.linspace(0, 4, n + 1)
    fp = franz_parisi(post, order_parameter=op, reference=ref, q_grid=None if kind != "centred" else grid)
    np.testing.assert_allclose(fp["q"], grid, atol=1e-12)
    edges = np.concatenate([[grid[0] - (grid[1] - grid[0]) / 2], (grid[1:] + grid[:-1]) / 2,
                            [grid[-1] + (grid[-1] - grid[-2]) / 2]])
    mass = np.zeros(grid.size)
    for v, wi in zip(values, w):
        mass[min(np.searchsorted(edges, v, side="right") - 1, grid.size - 1)] += wi
    with np.errstate(divide="ignore"):
        expected = -np.log(mass) / n  # spins: the mass of each bin, not a density
    covered = mass > 0
    np.testing.assert_allclose(fp["V"][covered], expected[covered], rtol=1e-10, atol=1e-12)
    assert (fp["covered"] == covered).all() and fp["V"][~covered].isna().all()
    assert (fp["stderr"][covered] == 0).all()


def test_dataset_potential_matches_brute_force_loop_over_points():
    model = mc.Dataset.gaussian(300, 8, seed=0)
    state = mc.draw_quenched(model, mc.VP(), 0.3, seed=1)
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.3)
    y, s, n = post.y, post.s, model.n_dim
    logits = np.array([-((y - p) ** 2).sum() / (2 * s) for p in model.points])
    w = np.exp(logits - logits.max())
    w /= w.sum()
    ref = model.points[7]
    grid = np.linspace(-1.5, 1.5, 31)
    width = grid[1] - grid[0]
    mass = np.zeros(grid.size)
    for p, wi in zip(model.points, w):
        q = p @ ref / n
        b = int(math.floor((q - grid[0] + width / 2) / width))
        if 0 <= b < grid.size:
            mass[b] += wi
    fp = franz_parisi(post, q_grid=grid, reference=ref)
    covered = mass > 0
    np.testing.assert_allclose(fp["V"][covered], -np.log(mass[covered] / width) / n, rtol=1e-9)
    assert (fp["covered"] == covered).all() and fp["V"][~covered].isna().all()
    assert list(fp["n_references"]) == list(covered.astype(int))


def test_two_deltas_potential_is_the_closed_form():
    v = np.array([1.0, -0.5, 0.8, 0.2])
    model = mc.TwoDeltas(v)
    state = mc.draw_quenched(model, mc.VP(), 0.7, seed=2)
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.7)
    n, q0 = 4, float(v @ v) / 4
    grid = np.linspace(-1.0, 1.0, 41)
    width = grid[1] - grid[0]
    g = float(v @ post.y) / post.s  # P(+v | y) = (1 + tanh g) / 2 (physics.md)
    fp = franz_parisi(post, q_grid=grid, reference=v)
    plus, minus = np.argmin(np.abs(grid - q0)), np.argmin(np.abs(grid + q0))
    assert fp["V"][plus] == pytest.approx(-math.log((1 + math.tanh(g)) / 2 / width) / n, rel=1e-12)
    assert fp["V"][minus] == pytest.approx(-math.log((1 - math.tanh(g)) / 2 / width) / n, rel=1e-12)
    assert fp["covered"].sum() == 2


# -- references, errors and the quenched average ------------------------------------------------------------
def test_errors_over_references_and_documented_reference_stream():
    post = mixture_posterior()
    grid = np.linspace(-1.0, 1.5, 26)
    assert (franz_parisi(post, q_grid=grid, reference=post.y)["stderr"] == 0).all()
    assert franz_parisi(post, q_grid=grid, n_references=1, seed=7)["stderr"].isna().all()
    fp = franz_parisi(post, q_grid=grid, n_references=5, seed=7, key=(3,))
    refs = post.sample_exact(5, np.random.default_rng(mc.seed_sequence(7, 3)))
    each = np.array([franz_parisi(post, q_grid=grid, reference=r)["V"] for r in refs])
    np.testing.assert_allclose(fp["V"], each.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fp["stderr"], each.std(axis=0, ddof=1) / math.sqrt(5), rtol=1e-10)
    assert (fp["n_references"] == 5).all()


def test_quenched_average_is_the_mean_of_log_p_over_disorder():
    model = mc.GaussianMixture.two_class(np.full(8, 0.7), variance=0.2)
    grid = np.linspace(-1.2, 1.2, 25)
    got = replica.franz_parisi_quenched(model, mc.VP(), 0.5, n_disorder=5, seed=3, n_references=4, q_grid=grid)
    per = []
    for d in range(5):
        state = mc.draw_quenched(model, mc.VP(), 0.5, seed=3, disorder=d)
        post = mc.Posterior(model, mc.VP(), state.x_t, 0.5)
        per.append(franz_parisi(post, q_grid=grid, seed=3, key=(d, 2), n_references=4)["V"].to_numpy())
    per = np.array(per)
    np.testing.assert_allclose(got["V"], per.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(got["stderr"], per.std(axis=0, ddof=1) / math.sqrt(5), rtol=1e-10)
    annealed = -np.log(np.exp(-8 * per).mean(axis=0)) / 8  # the log of the average P
    assert np.all(got["V"] >= annealed - 1e-12) and np.any(got["V"] > annealed + 1e-3)


# -- physics: data sets, Hopfield, noise ----------------------------------------------------------------------
def test_dataset_single_minimum_at_large_t_near_the_typical_overlap():
    model = mc.Dataset.gaussian(4000, 20, seed=0)
    state = mc.draw_quenched(model, mc.VP(), 2.0, seed=1)
    post = mc.Posterior(model, mc.VP(), state.x_t, 2.0)
    fp = FranzParisi(seed=3, n_references=16).fit(post)
    assert not fp.fragmented_ and len(fp.minima_) == 1
    typical = float(post.mean() @ post.mean()) / 20  # E q(x, x') over two posterior draws
    width = fp.potential_["q"].diff().iloc[1]
    assert abs(fp.minima_["q"].iloc[0] - typical) < 2 * width


def test_dataset_condensed_on_its_training_point_at_small_t_has_its_minimum_at_the_self_overlap():
    model = mc.Dataset.gaussian(4000, 20, seed=0)
    state = mc.draw_quenched(model, mc.VP(), 0.05, seed=1, source="point")
    post = mc.Posterior(model, mc.VP(), state.x_t, 0.05)
    fp = FranzParisi(seed=3, n_references=16).fit(post)
    self_overlap = model.sq_norms[state.point_index] / 20  # "q = 1" of a point with |y|^2 = N
    width = fp.potential_["q"].diff().iloc[1]
    glob = fp.minima_[fp.minima_["kind"] == "global"].iloc[0]
    assert abs(glob["q"] - self_overlap) <= width / 2
    others = fp.potential_[np.abs(fp.potential_["q"] - self_overlap) > width / 2]["NV"].dropna()
    assert glob["NV"] < others.min() - 10  # it dominates by many units of N V


def hopfield_posterior(beta, t, n=12):
    prior = mc.IsingPrior.hopfield(n_dim=n, n_patterns=1, beta=beta, seed=4)
    state = mc.draw_quenched(prior, mc.VP(), t, seed=5)
    return mc.Posterior(prior, mc.VP(), state.x_t, t)


def test_hopfield_prior_at_low_temperature_is_fragmented():
    fp = FranzParisi(seed=3, n_references=64).fit(hopfield_posterior(2.0, 3.0))
    assert fp.fragmented_
    sec = fp.secondary_minimum_
    glob = fp.minima_[fp.minima_["kind"] == "global"].iloc[0]
    assert sec.q.value * glob["q"] < 0  # the mirror state of the pattern
    assert abs(sec.q.value + glob["q"]) < 5 * math.hypot(sec.q.stderr, 0.05)
    assert sec.barrier.value > 4 * sec.barrier.stderr and sec.barrier.stderr > 0
    assert fp.barrier_ is sec.barrier and sec.depth.value >= -5 * sec.depth.stderr


@pytest.mark.parametrize("beta,t", [(0.5, 3.0), (2.0, 0.05)])
def test_hopfield_at_high_temperature_or_small_t_is_not_fragmented_negative_control(beta, t):
    fp = FranzParisi(seed=3, n_references=64).fit(hopfield_posterior(beta, t))
    assert not fp.fragmented_ and fp.secondary_minimum_ is None and fp.barrier_ is None


def test_grid_noise_on_an_exact_curve_makes_no_secondary_minimum():
    q = np.linspace(-1, 1, 201)
    flat = np.clip(np.abs(q) - 0.5, 0.0, None) ** 2  # a flat bottom, as exact curves have at large t
    v = flat + 1e-12 * np.random.default_rng(0).standard_normal(q.size)  # rounding-level noise
    curve = pd.DataFrame({"q": q, "V": v, "stderr": 0.0, "n_dim": 50})
    assert len(FranzParisi(min_barrier=0.0).fit(curve).minima_) > 2  # the dips exist ...
    fp = FranzParisi().fit(curve)
    assert not fp.fragmented_  # ... but are far below min_barrier in units of N V
    assert "below min_barrier" in fp.evidence_["candidates"][0]["reason"]


def test_mixture_fit_reports_extensive_potential_and_minima_columns():
    fp = FranzParisi(order_parameter="distance", seed=1, n_references=8).fit(mixture_posterior(t=2.0))
    assert {"q", "V", "stderr", "n_references", "covered", "NV", "NV_stderr"} <= set(fp.potential_.columns)
    np.testing.assert_allclose(fp.potential_["NV"], 10 * fp.potential_["V"])
    assert {"q", "V", "stderr", "NV", "kind", "barrier", "barrier_stderr", "significant"} <= set(fp.minima_.columns)
    assert fp.evidence_["error_method"].startswith("jackknife") and "criterion" in fp.evidence_


def test_fit_on_a_list_of_posteriors_is_the_quenched_average():
    model = mc.GaussianMixture.two_class(np.full(8, 0.7), variance=0.2)
    grid = np.linspace(-1.2, 1.2, 25)
    posts = []
    for d in range(4):
        state = mc.draw_quenched(model, mc.VP(), 0.5, seed=3, disorder=d)
        posts.append(mc.Posterior(model, mc.VP(), state.x_t, 0.5))
    fp = FranzParisi(q_grid=grid, seed=3, n_references=4).fit(posts)
    direct = replica.franz_parisi_quenched(model, mc.VP(), 0.5, n_disorder=4, seed=3, n_references=4, q_grid=grid)
    np.testing.assert_allclose(fp.potential_["V"], direct["V"], rtol=1e-12)
    assert fp.evidence_["n_units"] == 4


# -- umbrella dispatch -------------------------------------------------------------------------------------
def test_umbrella_method_calls_umbrella_potential_per_reference_and_averages(monkeypatch):
    calls = []

    def fake_umbrella_potential(posterior, reference, q_grid, *, order_parameter, seed, key, **options):
        calls.append((key, options, order_parameter.name))
        frame = franz_parisi(posterior, q_grid=q_grid, reference=reference, order_parameter=order_parameter)
        v = frame["V"].to_numpy().copy()
        v[0] = np.nan  # an uncovered bin
        return pd.DataFrame({"q": frame["q"], "V": v, "stderr": 0.01})

    fake = types.ModuleType("replica.umbrella")
    fake.umbrella_potential = fake_umbrella_potential
    monkeypatch.setitem(sys.modules, "replica.umbrella", fake)
    post = mixture_posterior()
    grid = np.linspace(-1.0, 1.5, 26)
    got = franz_parisi(post, q_grid=grid, method="umbrella", n_references=3, seed=4, key=(1,), n_sweeps=10)
    exact = franz_parisi(post, q_grid=grid, n_references=3, seed=4, key=(1,))
    assert [c[0] for c in calls] == [(1, 0), (1, 1), (1, 2)] and all(c[1] == {"n_sweeps": 10} for c in calls)
    np.testing.assert_allclose(got["V"][1:], exact["V"][1:], rtol=1e-12)
    assert not got["covered"][0] and got["covered"][1:].all()
    one = franz_parisi(post, q_grid=grid, method="umbrella", reference=post.y, seed=4)
    np.testing.assert_allclose(one["stderr"][1:], 0.01)
    # with the default grid (the first reference's), later references may leave its end bins
    # uncovered: they are asked for walls instead of an error
    calls.clear()
    franz_parisi(post, method="umbrella", n_references=3, seed=4, n_sweeps=10)
    assert "allow_uncovered" not in calls[0][1]
    assert all(c[1] == {"n_sweeps": 10, "allow_uncovered": True} for c in calls[1:])


@pytest.mark.slow
def test_umbrella_route_agrees_with_the_exact_bin_averaged_potential_of_the_same_reference():
    post = mixture_posterior()
    ref = post.sample_exact(1, np.random.default_rng(4))[0]
    # the windows near q = 0 hold both classes (barrier between them): tempered, so that they converge
    umbrella = franz_parisi(post, method="umbrella", reference=ref, seed=2, n_sweeps=1500, tempering="hamiltonian")
    exact = franz_parisi(post, q_grid=umbrella["q"].to_numpy(), reference=ref, bin_average=True)
    assert umbrella.attrs["converged"] is True and umbrella.attrs["umbrella"][0]["converged"] is True
    assert all(umbrella.attrs["umbrella"][0]["windows"]["converged"])
    covered = umbrella["covered"].to_numpy()
    assert covered.sum() >= 20 and (umbrella["stderr"][covered] > 0).all()
    z = (umbrella["V"] - exact["V"])[covered] / umbrella["stderr"][covered]
    assert np.abs(z).max() < 5, z


# -- bad input ----------------------------------------------------------------------------------------------
def test_bad_input_raises_value_errors_naming_the_argument():
    post = mixture_posterior()
    grid = np.linspace(-1, 1, 11)
    cases = [
        (dict(reference=np.ones(3)), "reference"),
        (dict(reference=np.full(10, np.nan)), "reference"),
        (dict(q_grid=[], reference=post.y), "q_grid"),
        (dict(q_grid=[0.5], reference=post.y), "q_grid"),
        (dict(q_grid=[0.0, 0.5, 0.5], reference=post.y), "q_grid"),
        (dict(q_grid=[0.5, 0.2, 0.9], reference=post.y), "q_grid"),
        (dict(method="magic", reference=post.y), "method"),
        (dict(order_parameter="nonsense", reference=post.y), "order_parameter"),
        (dict(n_references=0, seed=1), "n_references"),
        (dict(q_grid=grid), "seed"),
        (dict(q_grid=grid, reference=post.y, n_sweeps=10), "umbrella_options"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            franz_parisi(post, **kwargs)
    big = mc.IsingPrior.sherrington_kirkpatrick(24, beta=0.5, seed=1)
    big_post = mc.Posterior(big, mc.VP(), np.zeros(24), 1.0)
    with pytest.raises(ValueError, match="method"):
        franz_parisi(big_post, reference=np.ones(24))
    aniso = mc.GaussianMixture(np.zeros((1, 3)), variances=[[1.0, 2.0, 3.0]])
    aniso_post = mc.Posterior(aniso, mc.VP(), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="order_parameter"):
        franz_parisi(aniso_post, order_parameter="distance", reference=np.zeros(3))
    model = mc.GaussianMixture.two_class(np.ones(4), variance=0.2)
    with pytest.raises(ValueError, match="reference"):
        replica.franz_parisi_quenched(model, mc.VP(), 1.0, n_disorder=2, seed=0, reference="truth")
    with pytest.raises(ValueError, match="n_disorder"):
        replica.franz_parisi_quenched(model, mc.VP(), 1.0, n_disorder=0, seed=0)
    with pytest.raises(ValueError, match="X"):
        FranzParisi().fit("posterior")
    with pytest.raises(ValueError, match="X"):
        FranzParisi().fit(pd.DataFrame({"q": [0.0, 1.0], "V": [0.0, 1.0]}))
    with pytest.raises(ValueError, match="n_se"):
        FranzParisi(n_se=-1).fit(pd.DataFrame({"q": [0.0, 1.0], "V": [0.0, 1.0], "stderr": 0.0, "n_dim": 1}))
