"""Convergence criteria of umbrella-sampling windows (``replica.umbrella``) against exact laws.

Probe case: the two-class Gaussian mixture ``+-mu`` (``|mu|^2 = N``, unit variances), N = 32, VP,
t = 1, planted ``x_t`` and the planted ``x0`` as reference. V(q) has two branches (one per class)
that cross near q = -0.2; the windows there hold both classes, separated by a barrier that
local moves do not cross. Before the windows had to converge, ``franz_parisi(...,
method="umbrella")`` at default settings returned a curve 44 standard errors off the exact one
without saying so. Oracle: given the class, ``q = x . x_ref / N`` is Gaussian (mean
``m_c . x_ref / N``, variance ``x_ref^T C_c x_ref / N^2``), so the exact route and the classes'
shares inside each window's restraint are closed forms independent of the sampler.

* At default settings the run either agrees with the exact potential within 5 standard errors
  on every covered bin, or raises ``ConvergenceError`` naming windows, all of which hold both
  classes (exact minority share inside the restraint above 1e-6) and among them the crossing.
* Negative control: a too short budget raises the error naming the windows and the budget; with
  ``allow_unconverged=True`` the curve comes back flagged (``converged = False``, per-window
  flags, a ``ConvergenceWarning``), also through ``franz_parisi`` and ``FranzParisi``.
* The remedy the error points to (tempered windows) converges on the crossing windows and
  agrees with the exact potential, normalised over the grid, within 5 standard errors.
"""
import re

import numpy as np
import pytest
from scipy.stats import norm

import mc
import replica
from replica import FranzParisi
from replica import umbrella as um

N_PROBE = 32
T_PROBE = 1.0
N_SE = 5.0


def _probe_case():
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=N_PROBE)
    state = mc.draw_quenched(model, mc.VP(), t=T_PROBE, seed=0, disorder=0)
    return mc.Posterior(model, mc.VP(), state.x_t, T_PROBE), state.x0


def _class_laws(post, ref):
    """Exact class weights and the mean and sd of q = x . ref / N within each class."""
    ex = post.exact
    n = post.n_dim
    means = np.array([ex.component_means[c] @ ref / n for c in range(2)])
    sds = np.array([np.sqrt(ex.component_eigenvalues[c] @ ref**2) / n for c in range(2)])  # isotropic
    return np.asarray(ex.weights), means, sds


def _minority_share(post, ref, centre, kappa):
    """Exact share of the less likely class in the window ``exp(-(kappa N / 2)(q - centre)^2)``."""
    w, m, sd = _class_laws(post, ref)
    log_w = np.log(w) + norm.logpdf(centre, m, np.sqrt(sd**2 + 1.0 / (kappa * post.n_dim)))
    return float(np.exp(log_w - np.logaddexp.reduce(log_w)).min())


def _named(message):
    return {int(k) for k in re.findall(r"window (\d+) \(q_k = ", message)}


@pytest.mark.slow
def test_default_umbrella_potential_of_the_probe_mixture_is_exact_or_names_the_unconverged_windows():
    post, x0 = _probe_case()
    w, m, _ = _class_laws(post, x0)
    assert min(w) < 1e-3 and m[0] < 0 < m[1]  # two branches, the reference's class dominant
    try:
        umb = replica.franz_parisi(post, method="umbrella", reference=x0, seed=0)
    except um.ConvergenceError as err:
        message, bad, every = str(err), err.windows, err.diagnostics
        assert isinstance(err, ValueError) and len(bad) > 0
        assert _named(message) == set(bad["window"].tolist())
        for row in bad.itertuples():
            assert f"window {row.window} (q_k = {row.centre:.4g}: tau = {row.tau:.3g} draws, R-hat = {row.rhat_q:.4g}" \
                in message
            assert not row.converged and (row.n_taus < 50 or row.rhat_q >= 1.01)
        assert "max_sweeps = 8000" in message and "tempering='hamiltonian'" in message
        # the named windows hold both classes; the one at the crossing of the branches is among them
        share = np.array([_minority_share(post, x0, c, k) for c, k in zip(every["centre"], every["kappa"])])
        assert np.all(share[bad["window"].to_numpy()] > 1e-6), share[bad["window"].to_numpy()]
        assert int(np.argmax(share)) in set(bad["window"].tolist())
        assert every.loc[~every["window"].isin(bad["window"]), "converged"].all()
        return
    exact = replica.franz_parisi(post, q_grid=umb["q"].to_numpy(), reference=x0, bin_average=True)
    covered = umb["covered"].to_numpy()
    z = ((umb["V"] - exact["V"]) / umb["stderr"]).to_numpy()[covered]
    assert covered.sum() >= 20 and np.abs(z).max() < N_SE, f"max |z| = {np.abs(z).max():.2f}"
    assert umb.attrs.get("converged") is True


def test_too_short_budget_raises_naming_windows_and_the_opt_out_returns_a_flagged_curve():
    post, x0 = _probe_case()
    grid = np.linspace(-0.6, 0.2, 9)
    kwargs = dict(windows=np.linspace(-0.6, 0.2, 6), n_sweeps=50, max_sweeps=100, seed=1)
    with pytest.raises(um.ConvergenceError, match=r"window \d+ \(q_k = ") as info:
        um.umbrella_sampling(post, x0, grid, **kwargs)
    err = info.value
    message = str(err)
    assert isinstance(err, ValueError)
    assert "max_sweeps = 100" in message and "allow_unconverged=True" in message
    assert _named(message) == set(err.windows["window"].tolist()) and len(err.windows) > 0
    assert (err.windows["n_sweeps"] == 100).all() and (err.windows["n_extensions"] == 1).all()
    with pytest.warns(um.ConvergenceWarning, match=r"window \d+ \(q_k = "):
        res = um.umbrella_sampling(post, x0, grid, allow_unconverged=True, **kwargs)
    assert res.converged is False and res.info["converged"] is False
    flagged = set(res.info["unconverged_windows"])
    assert set(err.windows["window"].tolist()) <= flagged
    assert flagged == set(res.windows.loc[~res.windows["converged"], "window"].tolist())
    assert {"tau", "rhat_q", "n_sweeps", "n_taus", "long_enough", "mixed", "overlapping"} <= set(res.windows.columns)
    # the same through franz_parisi and FranzParisi: the overall flag and the per-window records
    options = dict(kwargs, allow_unconverged=True)
    options.pop("seed")
    with pytest.warns(um.ConvergenceWarning):
        df = replica.franz_parisi(post, grid, method="umbrella", reference=x0, seed=1, **options)
    assert df.attrs["converged"] is False
    record = df.attrs["umbrella"][0]
    assert record["converged"] is False and record["unconverged_windows"]
    assert len(record["windows"]["rhat_q"]) == 6 and not all(record["windows"]["converged"])
    with pytest.warns(um.ConvergenceWarning):
        fit = FranzParisi(method="umbrella", q_grid=grid, reference=x0, seed=1, umbrella_options=options).fit(post)
    assert fit.converged_ is False and fit.evidence_["converged"] is False
    # without the opt-out franz_parisi names the reference as well as the windows
    options.pop("allow_unconverged")
    with pytest.raises(um.ConvergenceError, match=r"reference 0 of 1 .*window \d+ \(q_k = "):
        replica.franz_parisi(post, grid, method="umbrella", reference=x0, seed=1, **options)


def test_dispersed_starts_cover_the_other_class_and_are_reproducible():
    post, x0 = _probe_case()
    mu = post.model.means[0]
    starts = um.dispersed_starts(post, x0, 4, seed=3)
    assert starts.shape == (4, N_PROBE)
    np.testing.assert_array_equal(starts[0], x0)
    np.testing.assert_array_equal(starts[2], post.y)
    assert np.sign(starts[1] @ mu) != np.sign(x0 @ mu)  # the farthest prior draw: the other class
    np.testing.assert_array_equal(starts, um.dispersed_starts(post, x0, 4, seed=3))
    assert not np.array_equal(starts[1], um.dispersed_starts(post, x0, 4, seed=4)[1])
    assert um.dispersed_starts(post, x0, 2, seed=3).shape == (2, N_PROBE)


@pytest.mark.slow
def test_tempered_windows_converge_across_the_barrier_and_match_the_exact_potential():
    post, x0 = _probe_case()
    grid = np.linspace(-1.0, 0.6, 17)
    windows = np.linspace(-1.1, 0.7, 16)
    # the window where the classes' branches cross switches class every ~90 draws (state indicator):
    # the default budget (8000 sweeps) is too short for 50 of those times
    res = um.umbrella_sampling(post, x0, grid, windows=windows, normalise="grid", tempering="hamiltonian", seed=2,
                               max_sweeps=32000)
    assert res.converged and res.info["unconverged_windows"] == []
    wins = res.windows
    assert (wins["rhat_q"] < 1.01).all() and (wins["n_taus"] >= 50).all() and (wins["n_sweeps"] <= 32000).all()
    assert (wins["rhat_state"] < 1.01).all()
    # exact V normalised over the same bins (bin averages of the closed-form density)
    exact = replica.franz_parisi(post, q_grid=grid, reference=x0, bin_average=True)["V"].to_numpy()
    width = np.diff(um._bin_edges(grid))
    mass = np.exp(-N_PROBE * exact) * width
    exact_grid = -np.log(mass / mass.sum() / width) / N_PROBE
    z = (res.potential["V"].to_numpy() - exact_grid) / res.potential["stderr"].to_numpy()
    assert res.potential["covered"].all()
    assert np.abs(z).max() < N_SE, f"max |z| = {np.abs(z).max():.2f} at q = {grid[np.argmax(np.abs(z))]}"


class _Series(um._Window):
    """A window whose recorded series are given (q and one order projection, (R, draws))."""

    def __init__(self, q, order):
        super().__init__(None, None, None, None, None, None)
        self._q, self._order = q, order

    def series(self):
        return {"q": self._q, "projection": self._q.copy(), "order_0": self._order}


def test_replicas_stuck_on_either_side_of_a_state_indicator_are_not_mixed():
    """A window where q mixes (the same law in both states) but each replica keeps the state it
    started in along the class axis: q's R-hat passes, the state indicator's does not. Replicas
    that all keep one state (nothing to compare) or that switch states quickly pass; a slow switch
    sets tau."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((4, 4000))
    side = np.array([1.0, 1.0, -1.0, -1.0])[:, None]
    drift = 0.1 * rng.standard_normal((4, 4000))
    stuck = _Series(q, side * (1.0 + drift)).diagnose()[0]
    assert stuck["rhat_q"] < um.RHAT_MAX and stuck["rhat_state"] > 1.5 and not stuck["mixed"]
    one_state = _Series(q, 1.0 + drift).diagnose()[0]  # a projection drifting inside one state
    assert one_state["mixed"] and one_state["tau_state"] == 0.0
    assert one_state["tau"] == max(1.0, one_state["tau_q"], one_state["tau_median"])
    # a telegraph process switching with probability p per draw: rho(k) = (1 - 2p)^k, so the
    # indicator's tau = 1 / p - 1 = 99 (estimated from ~40 switches per chain)
    p = 0.01
    flips = rng.random((4, 4000)) < p
    telegraph = np.where(np.cumsum(flips, axis=1) % 2 == 0, 1.0, -1.0) * side
    slow = _Series(q, telegraph).diagnose()[0]
    assert 50 < slow["tau_state"] < 200 and slow["tau"] == slow["tau_state"]
    assert not slow["long_enough"]  # 4000 draws < 50 tau
