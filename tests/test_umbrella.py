"""Franz-Parisi potentials by umbrella sampling and MBAR (``replica.umbrella``) against exact laws.

* MBAR step alone (``mbar_bins``): windows of a 1D double well sampled exactly (inverse CDF on a
  fine grid), 10 seeds; the bin log-probabilities agree with the exact ones and their errors are
  calibrated (mean z^2 near 1); a tilted well fails (negative control).
* Restrained energies: for spins the restrained posterior's energy is the original energy plus
  the restraint up to a constant (SK with fields; overlap, centred overlap, squared distance;
  Curie-Weiss); for continuous models the restrained Numba prior is ``log p0 - R`` with gradient
  ``grad log p0 - grad R`` (diagonal and full mixtures, a user prior).
* Two-class Gaussian mixture, N = 50, VP, t = 2 (class weights 0.94 / 0.06, V with two minima):
  the overlap potential by tempered umbrella windows, converged by the windows' criteria, within
  4 standard errors of the oracle on every bin (given the class, q = x . x_ref / N is Gaussian
  with mean m_c . x_ref / N and variance x_ref^T C_c x_ref / N^2, computed here from the exact
  posterior), chi-square of the deviations with MBAR's covariance of the bins within the 0.1% -
  99.9% quantiles of chi2(k)/k; the same run at t = 1.5 fails (negative control). Same
  for the squared distance (given the class, N Q / c is noncentral chi-square), normalised over
  the grid.
* Hopfield prior, N = 16: V on the 17 overlap values against enumeration of the 2^16 states
  (tempered windows), the same chi-square check; the posterior of a prior at the wrong temperature fails.
* Coverage and bad input raise ValueErrors naming the argument before any sampling; seed and key
  fix the output, extensions of short windows included; the reference is drawn exactly or by a
  chain and the diagnostics say which. (Convergence criteria: ``test_umbrella_convergence.py``.)
"""
import warnings

import numpy as np
import pytest
from numba import njit
from scipy.stats import chi2, ncx2, norm

import mc
from replica import umbrella as um
from replica.order_parameters import CentredOverlap, OrderParameter, Overlap, SquaredDistance

N_SE = 4.0


def _z(estimate, exact, stderr):
    return (np.asarray(estimate) - np.asarray(exact)) / np.asarray(stderr)


def _chi2_per_dof(deviation, covariance, cut=1e-4):
    """``(d^T C^+ d / k, k)`` over the ``k`` eigen-directions of the bins' covariance ``C`` above
    ``cut`` times its largest eigenvalue, and the 0.1% and 99.9% quantiles of ``chi2(k) / k``.

    The bins' errors are correlated through the window free energies (a whole branch of V moves
    with the weight of its class), so ``mean z_b^2`` is not ``chi2(B) / B``; the Mahalanobis form
    is, on the directions the normalisation leaves free (with the grid holding nearly all the
    mass, ``sum_b p_b ~ 1`` fixes one direction to within rounding: it is dropped)."""
    w, v = np.linalg.eigh(covariance)
    keep = w > cut * w.max()
    k = int(keep.sum())
    stat = float(np.sum((v[:, keep].T @ deviation) ** 2 / w[keep])) / k
    return stat, k, tuple(chi2.ppf([0.001, 0.999], k) / k)


# ---------------------------------------------------------------------------------------------
# MBAR on exactly sampled windows
def _double_well_windows(seed, tilt=0.0, n=20, n_samples=300):
    """Windows of exp(-n V(q) - (kappa n / 2)(q - q_k)^2), V = (q^2 - 1/4)^2 + 0.05 q, sampled
    exactly on a fine grid; the exact bin log-masses of the unbiased law with ``tilt`` added."""
    fine = np.linspace(-1.5, 1.5, 3001)
    mid, dq = 0.5 * (fine[1:] + fine[:-1]), fine[1] - fine[0]
    pot = (mid**2 - 0.25) ** 2 + 0.05 * mid
    centres = np.linspace(-1.2, 1.2, 16)
    kappa = 1.0 / (n * (centres[1] - centres[0]) ** 2)
    rng = np.random.default_rng(seed)
    qs = []
    for c in centres:
        lw = -n * pot - 0.5 * kappa * n * (mid - c) ** 2
        p = np.exp(lw - lw.max())
        p /= p.sum()
        qs.append(fine[rng.choice(p.size, size=n_samples, p=p)] + dq * rng.random(n_samples))
    edges = np.linspace(-0.9, 0.9, 19)
    lw0 = -n * (pot + tilt * mid)
    p0 = np.exp(lw0 - lw0.max())
    p0 /= p0.sum()
    which = np.digitize(mid, edges) - 1
    exact = np.log(np.bincount(which[(which >= 0) & (which < 18)], weights=p0[(which >= 0) & (which < 18)]))
    return qs, centres, np.full(centres.size, kappa), n, edges, exact


def test_mbar_bins_recover_exact_double_well_with_calibrated_errors():
    zs = []
    for seed in range(10):
        qs, centres, kappas, n, edges, exact = _double_well_windows(seed)
        out = um.mbar_bins(qs, centres, kappas, n, edges)
        assert np.all(out["counts"] > 0)
        zs.append(_z(out["log_p"], exact, out["log_p_stderr"]))
    zs = np.array(zs)
    assert np.all(np.abs(zs) < N_SE), f"max |z| = {np.abs(zs).max():.2f}"
    # 180 z values: their mean square is ~1 when the errors are honest
    assert 0.6 < np.mean(zs**2) < 1.5, f"mean z^2 = {np.mean(zs**2):.3f}"


def test_mbar_bins_reject_a_tilted_double_well():
    qs, centres, kappas, n, edges, exact_tilted = _double_well_windows(0, tilt=0.1)
    out = um.mbar_bins(qs, centres, kappas, n, edges)
    z = _z(out["log_p"], exact_tilted, out["log_p_stderr"])
    assert np.abs(z).max() > 2 * N_SE


# ---------------------------------------------------------------------------------------------
# restrained energies
def _spin_posterior(prior, t=1.0, seed=0):
    n = prior.n_dim
    rng = np.random.default_rng(seed)
    x0 = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    proc = mc.VP()
    a, d, _ = proc.coefficients(t)
    return mc.Posterior(prior, proc, a * x0 + np.sqrt(d) * rng.standard_normal(n), t)


@pytest.mark.parametrize(
    "prior",
    [
        mc.IsingPrior.sherrington_kirkpatrick(12, beta=1.3, seed=4, field=np.linspace(-0.3, 0.4, 12)),
        mc.IsingPrior.curie_weiss(12, J=1.2, beta=0.8, field=0.1),
    ],
    ids=["sk", "curie_weiss"],
)
@pytest.mark.parametrize("op", ["overlap", "centred", "distance"])
def test_restrained_spin_energy_is_original_plus_restraint(prior, op):
    post = _spin_posterior(prior)
    rng = np.random.default_rng(1)
    ref = np.where(rng.random(12) < 0.5, -1.0, 1.0)
    order = {"overlap": Overlap(), "centred": CentredOverlap(0.3 * np.ones(12)), "distance": SquaredDistance()}[op]
    rp = um.restrained_posterior(post, ref, 0.37, 2.5, order)
    assert rp.sampler_kwargs == {}
    x = np.where(rng.random((200, 12)) < 0.5, -1.0, 1.0)
    diff = rp.posterior.energy(x) - post.energy(x) - rp.restraint.energy(x)
    assert np.ptp(diff) < 1e-10
    direct = 0.5 * 2.5 * 12 * (order.value(x, ref) - 0.37) ** 2
    np.testing.assert_allclose(rp.restraint.energy(x), direct, rtol=1e-12)
    # the restrained model's law is exp(-H - R) / Z over all 2^12 states
    states, probs_r = rp.posterior.enumerate()
    s = states.astype(float)
    log_w = -post.energy(s) - rp.restraint.energy(s)
    np.testing.assert_allclose(probs_r, np.exp(log_w - log_w.max()) / np.exp(log_w - log_w.max()).sum(), rtol=1e-9)


@njit(cache=True)
def _isotropic_prior(x, params, grad_out):
    (inv_var,) = params
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * x[i]
        grad_out[i] = -inv_var[0] * x[i]
    return -0.5 * inv_var[0] * acc


@pytest.mark.parametrize("op", ["overlap", "distance"])
@pytest.mark.parametrize("covariance", ["diagonal", "full", "user"])
def test_restrained_continuous_prior_is_log_prior_minus_restraint(op, covariance):
    n = 6
    rng = np.random.default_rng(2)
    if covariance == "full":
        a = rng.standard_normal((n, n))
        model = mc.GaussianMixture(rng.standard_normal((2, n)), covariances=a @ a.T / n + np.eye(n), weights=[0.3, 0.7])
    else:
        model = mc.GaussianMixture.two_class(0.8, 1.7, n_dim=n)
    post = mc.Posterior(model, mc.VP(), rng.standard_normal(n), 0.7)
    ref = rng.standard_normal(n)
    extra = {}
    if covariance == "user":
        extra = {"log_prior_grad": _isotropic_prior, "prior_params": (np.array([0.5]),)}
    rp = um.restrained_posterior(post, ref, 0.9, 3.0, op, **extra)
    f, params = rp.sampler_kwargs["log_prior_grad"], rp.sampler_kwargs["prior_params"]
    for x in rng.standard_normal((5, n)) * 1.5:
        g = np.zeros(n)
        value = f(x, params, g)
        if covariance == "user":
            log_p0, grad_p0 = -0.25 * x @ x, -0.5 * x
        else:
            log_p0, grad_p0 = model.log_prob(x), model.grad_log_prob(x)
        assert value == pytest.approx(log_p0 - rp.restraint.energy(x), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(g, grad_p0 - rp.restraint.gradient(x), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Gaussian mixture against its closed form
N_GM = 50
T_GM = 2.0


def _mixture_posterior(t):
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=N_GM)
    state = mc.draw_quenched(model, mc.VP(), T_GM, seed=3)
    return mc.Posterior(model, mc.VP(), state.x_t, t)


def _mixture_oracle(post, ref, edges, order):
    """Exact -(1/N) log(bin mass / width) from the class weights, means and covariances."""
    ex = post.exact
    mass = np.zeros(len(edges) - 1)
    for c in range(post.model.n_components):
        if order == "overlap":
            mean = ex.component_means[c] @ ref / N_GM
            sd = np.sqrt(ex.component_eigenvalues[c] @ ref**2) / N_GM  # isotropic: U_c = I
            mass += ex.weights[c] * np.diff(norm.cdf(edges, mean, sd))
        else:
            var = ex.component_eigenvalues[c][0]  # isotropic posterior covariance var * I
            nc = np.sum((ex.component_means[c] - ref) ** 2) / var
            mass += ex.weights[c] * np.diff(ncx2.cdf(N_GM * edges / var, N_GM, nc))
    return mass


@pytest.mark.slow
def test_umbrella_reproduces_exact_mixture_overlap_potential_and_rejects_wrong_time():
    post = _mixture_posterior(T_GM)
    assert 0.9 < post.weights.max() < 0.99  # two visible classes
    ref = post.sample_exact(1, np.random.default_rng(11))[0]
    grid = np.linspace(-1.5, 1.5, 31)
    edges = um._bin_edges(grid)
    exact = -np.log(_mixture_oracle(post, ref, edges, "overlap") / np.diff(edges)) / N_GM
    # The windows near q = 0 hold both classes, which only the ladder connects: with the default
    # 8 rungs and 600 to 2400 sweeps they do not converge (ConvergenceError); 16 rungs and up to
    # 20000 sweeps for those windows do (their tau is ~100 draws).
    kwargs = dict(windows=np.linspace(-1.8, 1.8, 30), n_sweeps=600, tempering="hamiltonian", n_temperatures=16,
                  seed=5)
    res = um.umbrella_sampling(post, ref, grid, max_sweeps=20000, **kwargs)
    df = res.potential
    assert res.info["reference_source"] == "given" and res.converged
    assert df["covered"].all()
    np.testing.assert_allclose(np.sqrt(np.diag(res.covariance)), df["stderr"], rtol=1e-8)
    # the exact V has two minima (one per class) with a barrier between them
    inner = np.flatnonzero((exact[1:-1] < exact[:-2]) & (exact[1:-1] < exact[2:]))
    assert inner.size == 2
    z = _z(df["V"], exact, df["stderr"])
    assert np.all(np.abs(z) < N_SE), f"max |z| = {np.abs(z).max():.2f} at q = {grid[np.argmax(np.abs(z))]}"
    # calibration: chi-square of the deviations with MBAR's covariance of the bins, within the
    # 0.1% - 99.9% quantiles of chi2(k) / k (k = 30 of the 31 bins; see _chi2_per_dof)
    stat, k, (lo, hi) = _chi2_per_dof(df["V"].to_numpy() - exact, res.covariance)
    assert k >= 25 and lo < stat < hi, f"chi2 / dof = {stat:.3f} outside ({lo:.3f}, {hi:.3f}), {k} dof"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", um.ConvergenceWarning)  # a wrong posterior, briefly sampled
        wrong = um.umbrella_potential(_mixture_posterior(1.5), ref, grid, max_sweeps=600, allow_unconverged=True,
                                      **kwargs)
    assert np.abs(_z(wrong["V"], exact, wrong["stderr"])).max() > N_SE


@pytest.mark.slow
def test_umbrella_reproduces_exact_mixture_distance_potential_normalised_over_the_grid():
    post = _mixture_posterior(T_GM)
    ref = post.sample_exact(1, np.random.default_rng(11))[0]
    grid = np.linspace(0.9, 2.7, 19)
    edges = um._bin_edges(grid)
    mass = _mixture_oracle(post, ref, edges, "distance")
    exact = -np.log(mass / mass.sum() / np.diff(edges)) / N_GM
    # windows in the reference's class: started at x_ref (the other class has weight < 1e-3 there)
    kwargs = dict(order_parameter="distance", windows=np.linspace(0.7, 2.9, 16), normalise="grid",
                  init="reference", n_sweeps=600, seed=5)
    df = um.umbrella_potential(post, ref, grid, **kwargs)
    assert np.sum(df["P"] * np.diff(edges)) == pytest.approx(1.0, rel=1e-9)
    z = _z(df["V"], exact, df["stderr"])
    assert np.all(np.abs(z) < N_SE), f"max |z| = {np.abs(z).max():.2f}"
    assert 0.2 < np.mean(z**2) < 4.0, f"chi2 / bins = {np.mean(z**2):.3f}"
    wrong = um.umbrella_potential(_mixture_posterior(1.5), ref, grid, **kwargs)
    assert np.abs(_z(wrong["V"], exact, wrong["stderr"])).max() > N_SE


# ---------------------------------------------------------------------------------------------
# spins against enumeration
def _hopfield_posterior(beta):
    prior = mc.IsingPrior.hopfield(n_dim=16, n_patterns=2, beta=beta, seed=2)
    planted = mc.IsingPrior.hopfield(n_dim=16, n_patterns=2, beta=1.5, seed=2)
    x0 = planted.sample(1, np.random.default_rng(5))[0]
    proc = mc.VP()
    a, d, _ = proc.coefficients(1.5)
    x_t = a * x0 + np.sqrt(d) * np.random.default_rng(6).standard_normal(16)
    return mc.Posterior(prior, proc, x_t, 1.5)


@pytest.mark.slow
def test_umbrella_reproduces_enumerated_spin_potential_and_rejects_wrong_temperature():
    post = _hopfield_posterior(1.5)
    ref = post.sample_exact(1, np.random.default_rng(7))[0]
    states, probs = post.enumerate()
    k = np.rint((states.astype(float) @ ref + 16) / 2).astype(int)  # q = -1 + 2 k / N
    exact = -np.log(np.bincount(k, weights=probs, minlength=17)) / 16
    # the window at q = 0 holds states near +-pattern, which local moves connect slowly: tempered
    res = um.umbrella_sampling(post, ref, n_sweeps=1000, tempering="hamiltonian", seed=1)
    df = res.potential
    np.testing.assert_allclose(df["q"], -1 + 2 * np.arange(17) / 16, atol=1e-12)  # default grid
    assert not res.info["density"] and res.info["trimmed"] == [] and res.converged
    z = _z(df["V"], exact, df["stderr"])
    assert np.all(np.abs(z) < N_SE), f"max |z| = {np.abs(z).max():.2f}"
    stat, k, (lo, hi) = _chi2_per_dof(df["V"].to_numpy() - exact, res.covariance)  # k = 16 of the 17 bins
    assert k >= 14 and lo < stat < hi, f"chi2 / dof = {stat:.3f} outside ({lo:.3f}, {hi:.3f}), {k} dof"
    wrong = um.umbrella_potential(_hopfield_posterior(1.0), ref, n_sweeps=1000, tempering="hamiltonian", seed=1)
    assert np.abs(_z(wrong["V"], exact, wrong["stderr"])).max() > N_SE


# ---------------------------------------------------------------------------------------------
# coverage, bad input, reproducibility, reference
@pytest.fixture
def small_spins():
    prior = mc.IsingPrior.sherrington_kirkpatrick(16, beta=1.0, seed=3)
    post = _spin_posterior(prior, t=1.0, seed=4)
    return post, post.sample_exact(1, np.random.default_rng(0))[0]


@pytest.mark.filterwarnings("ignore::replica.umbrella.ConvergenceWarning")  # short runs on purpose
def test_bins_no_window_sampled_are_named_or_returned_as_nan(small_spins):
    post, ref = small_spins
    grid = -1 + 2 * np.arange(17) / 16
    kwargs = dict(windows=[0.75, 0.875, 1.0], kappa=30.0, n_sweeps=100, n_replicas=2, seed=1, allow_unconverged=True)
    with pytest.raises(ValueError, match=r"q_grid: no window sampled the bins at q = \[-1\.0"):
        um.umbrella_potential(post, ref, grid, **kwargs)
    df = um.umbrella_potential(post, ref, grid, allow_uncovered=True, **kwargs)
    assert not df["covered"].iloc[0] and np.isnan(df["V"].iloc[0]) and np.isnan(df["stderr"].iloc[0])
    assert df["covered"].iloc[-1] and np.isfinite(df.loc[df["covered"], ["V", "stderr"]].to_numpy()).all()


def test_bad_input_is_named_before_any_sampling(small_spins, monkeypatch):
    post, ref = small_spins

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started before the input was checked")

    monkeypatch.setattr(mc, "sample", no_sampling)
    grid = np.linspace(-1, 1, 17)
    cases = [
        (dict(kappa=0.0), "kappa"),
        (dict(kappa=-2.0), "kappa"),
        (dict(reference=ref[:-1]), "reference"),
        (dict(reference=np.where(np.arange(16) == 3, np.nan, ref)), "reference"),
        (dict(q_grid=grid[::-1]), "q_grid"),
        (dict(q_grid=np.array([0.0, 0.5, 0.5, 1.0])), "q_grid"),
        (dict(windows=[5.0, 6.0], kappa=4.0), "windows.*cover no part of q_grid"),
        (dict(windows=[0.0, 5.0], kappa=4.0), "windows.*outside q_grid"),
        (dict(order_parameter=OrderParameter()), "order_parameter"),
        (dict(order_parameter="magnetisation"), "order_parameter"),
        (dict(normalise="bins"), "normalise"),
        (dict(n_sweeps=0), "n_sweeps"),
        (dict(n_sweeps=100, max_sweeps=50), "max_sweeps"),
        (dict(max_sweeps=0), "max_sweeps"),
        (dict(allow_unconverged="yes"), "allow_unconverged"),
        (dict(init="everywhere"), "init"),
    ]
    for extra, name in cases:
        kwargs = {"reference": ref, "q_grid": grid, **extra}
        with pytest.raises(ValueError, match=name):
            um.umbrella_potential(post, **kwargs)
    with pytest.raises(ValueError, match="posterior"):
        um.umbrella_potential(ref, ref)
    # N = 24 has no exact sampler: a bad window set is named before the reference chain runs
    big = _spin_posterior(mc.IsingPrior.sherrington_kirkpatrick(24, beta=0.8, seed=5), seed=6)
    with pytest.raises(ValueError, match="windows"):
        um.umbrella_potential(big, None, np.linspace(-1, 1, 25), windows=[5.0, 6.0], kappa=4.0)
    model = mc.Dataset.gaussian(16, 5, seed=0)
    with pytest.raises(ValueError, match="posterior"):
        um.umbrella_potential(mc.Posterior(model, mc.VP(), model.points[0], 1.0), model.points[1])


@pytest.mark.filterwarnings("ignore::replica.umbrella.ConvergenceWarning")  # short runs on purpose
def test_same_seed_gives_identical_output_and_keys_differ(small_spins):
    post, ref = small_spins
    # short windows, extended (continued chains) up to max_sweeps: extensions are seeded too
    kwargs = dict(n_sweeps=60, max_sweeps=240, n_replicas=2, seed=3, allow_unconverged=True)
    a = um.umbrella_sampling(post, ref, **kwargs)
    b = um.umbrella_sampling(post, ref, **kwargs)
    c = um.umbrella_sampling(post, ref, key=(1,), **kwargs)
    assert a.windows["n_extensions"].max() > 0
    np.testing.assert_array_equal(a.potential[["q", "V", "stderr"]], b.potential[["q", "V", "stderr"]])
    np.testing.assert_array_equal(a.windows[["q_mean", "tau", "rhat_q", "n_sweeps"]],
                                  b.windows[["q_mean", "tau", "rhat_q", "n_sweeps"]])
    assert not np.array_equal(a.windows["q_mean"], c.windows["q_mean"])


@pytest.mark.filterwarnings("ignore::replica.umbrella.ConvergenceWarning")  # short runs on purpose
def test_reference_is_drawn_exactly_or_by_a_chain_and_diagnostics_say_which(small_spins):
    post, _ = small_spins
    df = um.umbrella_potential(post, n_sweeps=60, n_replicas=2, seed=3, allow_unconverged=True)
    attrs = df.attrs
    assert attrs["umbrella"]["reference_source"] == "exact"
    ref = np.array(attrs["reference"])
    exact_ref, source = um.draw_reference(post, seed=3)
    assert source == "exact"
    np.testing.assert_array_equal(ref, exact_ref)
    windows = attrs["windows"]
    assert {"centre", "kappa", "acceptance", "tau", "n_samples", "f", "rhat_q", "n_sweeps", "converged"} <= set(windows)
    assert attrs["umbrella"]["converged"] == all(windows["converged"])
    assert len(windows["centre"]) == attrs["umbrella"]["n_windows"] and windows["f"][0] == 0.0
    # N = 24 spins have no exact sampler: the reference comes from an independent chain
    prior = mc.IsingPrior.sherrington_kirkpatrick(24, beta=0.8, seed=5)
    big = _spin_posterior(prior, seed=6)
    res = um.umbrella_sampling(big, n_sweeps=40, n_replicas=2, seed=3, allow_unconverged=True)
    assert res.info["reference_source"] == "chain"
    assert set(np.unique(res.reference)) <= {-1.0, 1.0}
    assert np.all(np.diff(res.potential["q"]) > 0) and np.isfinite(res.potential["V"]).all()
