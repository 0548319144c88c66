"""Adaptive non-reversible parallel tempering (``tempering="adaptive"``).

Every replica tunes its own Hamiltonian ladder during burn-in so that neighbour swaps reject
equally often (Syed, Bouchard-Cote, Deligiannidis & Doucet, J. R. Stat. Soc. B 84, 321 (2022)),
then samples with it fixed. Checked here:

* the ladder update itself: equal barrier increments, the rung-count rule, the round schedule;
* the Curie-Weiss ferromagnet beta J = 1.5, N = 128, all chains started at +1, where one
  temperature stays in one mode and a hand-made ladder needed 12 rungs: the tuned ladder gives
  the exact mean magnetisation within 5 standard errors, equal rejection rates and round trips;
* stationarity: the rung-0 state histogram of small spin posteriors against exact enumeration
  (chi-square on draws thinned by twice tau, as ``test_sampler_spins.py``), with a negative
  control at the wrong temperature; a two-class Gaussian mixture's class weight within 5 SE;
* the driver's promises: same seed same numbers, replica r independent of the number of
  replicas (also when replicas choose different numbers of rungs), checkpoint resume (during
  tuning and during production) to the same numbers, bad input named.
"""
import os
import signal

import numpy as np
import pytest
from scipy.special import expit

import mc
from mc import sampler
from mc.diagnostics import tau_int, tau_int_per_chain
from mc.kernels import tempering as kt
from mc.kernels.rng import seed_states
from mc.models import EnumeratedSpinPosterior, LatticeIsingPrior
from spin_enumeration import chi2_pvalue as _chi2_pvalue
from spin_enumeration import thinned as _thinned

P_MIN = 1e-4


# ------------------------------------------------------------------------------------------ helpers
def _series_mean_and_error(series):
    """Mean of (R, D) series and its standard error from the integrated autocorrelation time
    (the largest per-replica tau; the method of ``test_sampler_spins.py``)."""
    tau = max(1.0, float(np.max(tau_int_per_chain(series, warn=False))))
    return float(series.mean()), float(np.sqrt(series.var() * tau / series.size))


def _planted(prior, t=1.0, seed=2):
    state = mc.draw_quenched(prior, mc.VP(), t, seed=seed)
    return mc.Posterior(prior, mc.VP(), state.x_t, t)


def _sk_posterior(n=24):
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=1.2, seed=3)
    x_t = np.random.default_rng(1).standard_normal(n)
    return mc.Posterior(prior, mc.VP(), x_t, 1.0)


def _gmm_posterior(n=6):
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=n)
    state = mc.draw_quenched(model, mc.VP(), 1.0, seed=1)
    return mc.Posterior(model, mc.VP(), state.x_t, 1.0)


def _sphere_posterior():
    model = mc.Hypersphere(7)
    state = mc.draw_quenched(model, mc.VP(), 0.8, seed=2)
    return mc.Posterior(model, mc.VP(), state.x_t, 0.8)


def _points_posterior():
    model = mc.Dataset.gaussian(40, 8, seed=1)
    state = mc.draw_quenched(model, mc.VP(), 1.0, seed=3)
    return mc.Posterior(model, mc.VP(), state.x_t, 1.0)


def _lattice_posterior():
    """+-J Edwards-Anderson bonds: the tabulated kernel, with one acceptance table per replica."""
    return _planted(LatticeIsingPrior.edwards_anderson(4, 2, beta=1.5, bonds="bimodal", seed=8))


# ------------------------------------------------------------------------------- the ladder update
def test_equal_barrier_ladder_puts_rungs_at_equal_increments_of_the_barrier():
    # a barrier linear in beta between the rungs: the update is exact, increments equal
    betas = np.array([1.0, 0.8, 0.5, 0.3, 0.1])
    barrier = lambda b: np.interp(-b, -betas, [0.0, 0.3, 1.2, 1.5, 2.0])  # noqa: E731
    rejection = np.diff(barrier(betas))
    np.testing.assert_allclose(sampler.communication_barrier(rejection), barrier(betas))
    for n_rungs in (3, 5, 9):
        new = sampler.equal_barrier_ladder(betas, rejection, n_rungs)
        assert new[0] == 1.0 and new[-1] == 0.1 and np.all(np.diff(new) < 0)
        np.testing.assert_allclose(np.diff(barrier(new)), 2.0 / (n_rungs - 1), rtol=1e-12)
    # a pair that rejected nothing still gets a strictly decreasing ladder
    new = sampler.equal_barrier_ladder([1.0, 0.5, 0.2, 0.1], [0.0, 0.5, 0.0], 6)
    assert np.all(np.diff(new) < 0)


def test_rung_count_is_twice_the_barrier_plus_one_between_4_and_64():
    rule = sampler.adaptive_rung_count
    assert [rule(0.0), rule(1.4), rule(1.5), rule(3.25), rule(10.0), rule(40.0)] == [4, 4, 4, 8, 21, 64]


def test_tuning_rounds_double_and_leave_a_quarter_of_the_burn_in():
    assert sampler.tuning_schedule(100) == [4, 12, 28, 75]
    assert sampler.tuning_schedule(5000) == [4, 12, 28, 60, 124, 252, 508, 1020, 3750]
    ends = sampler.tuning_schedule(1000, exchange_every=3)
    assert all(end % 3 == 0 for end in ends) and ends[-1] <= 750 and ends[:2] == [12, 36]
    assert sampler.tuning_schedule(5) == []


def test_exchange_rounds_alternate_even_and_odd_pairs_and_count_round_trips_by_following_labels():
    """The exchange kernel alone, 2 replicas x 5 rungs, random features: round ``i`` attempts
    exactly the pairs ``k = i mod 2, i mod 2 + 2, ...`` (deterministic even-odd), and the
    round-trip count equals one made here from the history of the rung labels: a configuration
    at rung 0, later at the top rung, later at rung 0 again."""
    n_rep, k = 2, 5
    gen = np.random.default_rng(3)
    theta = np.repeat(np.geomspace(1.0, 0.1, k)[:, None], 2, axis=1)
    chain_at = np.tile(np.arange(k), (n_rep, 1))
    rung_of = chain_at.copy()
    states = seed_states([np.random.SeedSequence(7, spawn_key=(r,)) for r in range(n_rep)])
    attempts = np.zeros((n_rep, kt.round_trip_columns(k)), dtype=np.int64)
    accepts = np.zeros((n_rep, k - 1), dtype=np.int64)
    kt.reset_round_trips(chain_at, attempts)
    last = np.full((n_rep, k), -1)  # per chain: -1 not yet at rung 0, 0 at rung 0 since the top, 1 at the top
    last[:, 0] = 0  # chain 0 starts at rung 0
    trips = np.zeros(n_rep, dtype=np.int64)
    for i in range(400):
        before = attempts[:, : k - 1].copy()
        phi = gen.normal(scale=3.0, size=(n_rep, k, 2))
        kt.exchange(phi, theta, chain_at, rung_of, states, i % 2, attempts, accepts)
        tried = np.tile(np.arange(k - 1) % 2 == i % 2, (n_rep, 1))
        np.testing.assert_array_equal(attempts[:, : k - 1] - before, tried)
        np.testing.assert_array_equal(rung_of[np.arange(n_rep)[:, None], chain_at], np.tile(np.arange(k), (n_rep, 1)))
        for r in range(n_rep):
            top, bottom = chain_at[r, k - 1], chain_at[r, 0]
            if last[r, top] == 0:
                last[r, top] = 1
            if last[r, bottom] == 1:
                trips[r] += 1
            last[r, bottom] = 0
    assert np.all(trips > 5)
    np.testing.assert_array_equal(attempts[:, 2 * k - 1], trips)
    assert kt.round_trips_counted(attempts, k)


# ---------------------------------------------------------------------------- physics: two modes
@pytest.mark.slow
def test_adaptive_ladder_finds_both_curie_weiss_modes_with_equal_rejection_rates():
    """Curie-Weiss, beta J = 1.5, N = 128, t = 2.5 (``test_sampler_spins.py``): posterior modes
    M ~ +-0.85 N with comparable weights; exact mean magnetisation from the Hubbard-Stratonovich
    integral. All chains start at sigma = +1; a single temperature stays in the + mode and a
    hand-chosen Hamiltonian ladder needs 12 rungs down to beta = 0.3. With no ladder given, the
    tuned one recovers the exact mean within 5 standard errors, unflagged.

    Equal rejection rates: the last tuning round (2730 exchange rounds, ~1365 attempts per pair)
    measures each rate to about sqrt(0.25 / 1365) = 0.014, i.e. 3 % of r ~ 0.45, so the pairs of
    the new ladder differ by a few % (5 SE: 15 %) from that noise, and production adds 0.005 (10^4
    attempts per pair). max / min <= 1.5 allows each rate 5 SE of tuning noise on either side;
    the hand-chosen ladder spreads them over a factor of 20.
    """
    n = 128
    post = _planted(mc.IsingPrior.curie_weiss(n, beta=1.5), t=2.5, seed=0)
    exact = float(post.mean().mean())
    assert 0.1 < exact < 0.6  # both modes carry weight
    res = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=5, seed=1, init=np.ones((4, n)), tempering="adaptive")
    mean, err = _series_mean_and_error(res.samples.mean(axis=2))
    assert abs(mean - exact) <= 5 * err, f"{mean:.4f} +- {err:.4f} vs exact {exact:.4f}"
    assert res.mixed and res.ladder.kind == "adaptive"
    # the ladders: from the posterior to the default lowest beta, rung count by the barrier rule
    np.testing.assert_array_equal(res.betas[:, 0], 1.0)
    np.testing.assert_allclose(res.betas[np.arange(4), res.n_rungs - 1], 0.05)
    np.testing.assert_array_equal(res.n_rungs, [sampler.adaptive_rung_count(b[-1]) for b in
                                                np.transpose(res.tuning["barrier"])])
    np.testing.assert_allclose(res.barrier, np.nansum(res.rejection_rate, axis=1))
    rej = res.rejection_rate
    assert np.all(np.nanmax(rej, axis=1) <= 1.5 * np.nanmin(rej, axis=1)), np.round(rej, 3)
    assert np.all(res.round_trips >= 1)
    np.testing.assert_allclose(res.round_trip_rate, res.round_trips / 20_000)


# ------------------------------------------------------------------------- physics: stationarity
def _spin_case(kind):
    if kind == "sk":
        return _planted(mc.IsingPrior.sherrington_kirkpatrick(10, beta=2.0, seed=5)), "heat_bath", "random"
    if kind == "cw":
        return _planted(mc.IsingPrior.curie_weiss(10, beta=1.5, field=0.05)), "metropolis", "sequential"
    return _lattice_posterior(), "metropolis", "sequential"


@pytest.mark.parametrize("kind", ["sk", "cw", "ea_pm"])
def test_rung_zero_of_an_adaptive_run_matches_enumeration(kind):
    post, method, order = _spin_case(kind)
    states, probs = EnumeratedSpinPosterior(post.model, post.y, post.s).enumerate()
    res = mc.sample(post, n_replicas=4, n_sweeps=30_000, burn_in=2_000, thin=2, method=method, order=order,
                    seed=11, tempering="adaptive")
    p, min_expected = _chi2_pvalue(_thinned(res)[0], probs)
    assert min_expected >= 5, "too few thinned draws for the chi-square approximation"
    assert p > P_MIN, f"state histogram differs from enumeration (p = {p:.2e})"
    exact_m = float(probs @ states.mean(axis=1))
    mean, err = _series_mean_and_error(res.samples.mean(axis=2))
    assert abs(mean - exact_m) <= 5 * err, f"{mean:.4f} +- {err:.4f} vs {exact_m:.4f}"
    assert np.all(res.round_trips > 0)


def test_an_adaptive_run_at_the_wrong_temperature_fails_the_same_test():
    post, method, order = _spin_case("sk")
    _, probs = EnumeratedSpinPosterior(post.model, post.y, post.s).enumerate()
    wrong = mc.Posterior(mc.IsingPrior.sherrington_kirkpatrick(10, beta=2.6, seed=5), mc.VP(), post.x_t, post.t)
    res = mc.sample(wrong, n_replicas=4, n_sweeps=30_000, burn_in=2_000, thin=2, method=method, order=order,
                    seed=11, tempering="adaptive")
    p, _ = _chi2_pvalue(_thinned(res)[0], probs)
    assert p < P_MIN


@pytest.mark.slow
def test_adaptive_ladder_gives_the_class_weight_of_a_two_class_mixture():
    """Two-class Gaussian mixture, N = 50, VP, t = 3 (``test_sampler_continuous.py``): classes 14
    apart in x0 with weights 0.73 / 0.27, where a 16-rung Hamiltonian ladder is used today. The
    Rao-Blackwellised class weight E[P(+ | x0)] = E[expit(2 mu . x0)] equals the exact one within
    5 standard errors."""
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=50)
    post = _planted(model, t=3.0, seed=4)
    assert 0.2 < post.weights[0] < 0.8
    res = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=5, method="mala", seed=1, tempering="adaptive")
    p_plus = expit(2.0 * res.samples @ model.means[0])
    tau = max(1.0, tau_int(p_plus, warn=False))
    mean, err = float(p_plus.mean()), float(np.sqrt(p_plus.var() * tau / p_plus.size))
    assert abs(mean - post.weights[0]) <= 5 * err, f"{mean:.4f} +- {err:.4f} vs {post.weights[0]:.4f}"
    assert res.mixed and np.all(res.round_trips > 0)


# --------------------------------------------------------------------------------- the driver
@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning", "ignore::mc.diagnostics.MixingWarning")
@pytest.mark.parametrize("make,extra", [
    (_sk_posterior, {}),
    (_sk_posterior, {"n_temperatures": 5, "lowest_beta": 0.2, "method": "metropolis"}),
    (_lattice_posterior, {}),
    (_gmm_posterior, {"method": "hmc"}),
    (_sphere_posterior, {}),
    (_points_posterior, {}),
])
def test_same_seed_same_numbers_and_replicas_independent_of_their_number(make, extra):
    post = make()
    kwargs = dict(n_sweeps=300, seed=9, key=(2, 5), tempering="adaptive", **extra)
    a = mc.sample(post, n_replicas=4, **kwargs)
    b = mc.sample(post, n_replicas=4, **kwargs)
    for name in ("samples", "energies", "betas", "rejection_rate", "round_trips", "step_size"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_allclose(a.energies, post.energy(a.samples), rtol=1e-9, atol=1e-9)
    # replica r is the same chain, with the same ladder, whether 1 or 4 replicas run
    one = mc.sample(post, n_replicas=1, **kwargs)
    np.testing.assert_array_equal(one.samples, a.samples[:1])
    np.testing.assert_array_equal(one.betas[0, : one.n_rungs[0]], a.betas[0, : a.n_rungs[0]])
    assert one.round_trips[0] == a.round_trips[0]
    assert [t[0] for t in one.tuning["barrier"]] == [t[0] for t in a.tuning["barrier"]]
    assert not np.array_equal(a.samples[0], a.samples[1])
    other = mc.sample(post, n_replicas=1, **{**kwargs, "seed": 10})
    assert not np.array_equal(other.samples, one.samples)
    if "n_temperatures" in extra:
        assert np.all(a.n_rungs == extra["n_temperatures"])


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning", "ignore::mc.diagnostics.MixingWarning")
def test_replicas_that_choose_different_rung_counts_keep_their_own_chains():
    """Replicas whose barriers round to different rung counts: the arrays are padded to the
    widest ladder, the padding is reported as NaN, and a replica alone gives the same chain."""
    post = _sk_posterior()
    kwargs = dict(n_sweeps=300, seed=9, key=(2, 5), tempering="adaptive")
    res = mc.sample(post, n_replicas=4, **kwargs)
    counts = res.n_rungs
    assert len(set(counts.tolist())) > 1, counts  # the case this test is about
    k = res.betas.shape[1]
    assert k == counts.max() and res.acceptance.shape == (4, k) and res.exchange_rate.shape == (4, k - 1)
    for r in range(4):
        assert np.all(np.isfinite(res.betas[r, : counts[r]])) and np.all(np.isnan(res.betas[r, counts[r]:]))
        assert np.all(np.isnan(res.exchange_rate[r, counts[r] - 1:]))
        assert np.all(np.isfinite(res.acceptance[r, : counts[r]]))
    small = int(np.argmin(counts))
    alone = mc.sample(post, n_replicas=small + 1, **kwargs)
    np.testing.assert_array_equal(alone.samples[small], res.samples[small])
    assert "adaptive ladders" in res.summary()


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning", "ignore::mc.diagnostics.MixingWarning")
@pytest.mark.parametrize("make,stop_at", [(_sk_posterior, 3), (_sk_posterior, 60), (_gmm_posterior, 5),
                                          (_lattice_posterior, 6)])
def test_interrupted_adaptive_run_resumes_to_the_same_numbers(make, stop_at, tmp_path, monkeypatch):
    """Interrupted while the ladders are being tuned (call 3, 5 or 6: after a few rounds, with
    the rung counts already changed) or in production (call 60), resumed from the checkpoint."""
    post = make()
    kwargs = dict(n_replicas=3, n_sweeps=400, burn_in=100, thin=2, seed=4, tempering="adaptive")
    full = mc.sample(post, **kwargs)
    path = tmp_path / "chain.npz"
    family = {"spins": sampler._SpinFamily, "continuous": sampler._ContinuousFamily}[post.model.state_space]
    original = family.run
    calls = {"n": 0}

    def flaky(self, *args):
        calls["n"] += 1
        out = original(self, *args)
        if calls["n"] == stop_at:  # as if Ctrl-C were pressed here
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(family, "run", flaky)
    with pytest.raises(KeyboardInterrupt):
        mc.sample(post, checkpoint=path, **kwargs)
    monkeypatch.setattr(family, "run", original)
    assert path.exists()
    resumed = mc.sample(post, checkpoint=path, resume=True, **kwargs)
    for name in ("samples", "energies", "betas", "exchange_rate", "step_size", "round_trips", "mode_changes"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name), err_msg=name)
    assert resumed.tuning == full.tuning
    # a checkpoint of an adaptive run is not continued by another ladder
    with pytest.raises(ValueError, match="checkpoint"):
        mc.sample(post, checkpoint=path, resume=True, **{**kwargs, "n_temperatures": 8})


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning", "ignore::mc.diagnostics.MixingWarning")
def test_fixed_ladders_report_round_trips_and_barriers_too():
    res = mc.sample(_sk_posterior(), n_replicas=2, n_sweeps=2000, seed=1, tempering="hamiltonian", n_temperatures=4)
    assert res.tuning is None and res.betas.shape == (2, 4)
    np.testing.assert_array_equal(res.betas[1], res.ladder.values)
    np.testing.assert_allclose(res.rejection_rate, 1.0 - res.exchange_rate)
    assert np.all(res.round_trips > 0) and np.all(res.barrier > 0)
    none = mc.sample(_sk_posterior(), n_replicas=2, n_sweeps=50, seed=1, tempering=None)
    assert none.betas is None and np.all(none.round_trips == 0) and np.all(np.isnan(none.barrier))
    assert none.rejection_rate.shape == (2, 0)


@pytest.mark.parametrize("kwargs,field", [
    ({"temperatures": [1.0, 0.5, 0.2]}, "temperatures"),
    ({"n_temperatures": 1}, "n_temperatures"),
    ({"lowest_beta": 1.5}, "lowest_beta"),
    ({"lowest_beta": -0.1}, "lowest_beta"),
    ({"burn_in": 5}, "burn_in"),
    ({"burn_in": 20, "exchange_every": 4}, "burn_in"),
    ({"tempering": "adaptve"}, "tempering"),
])
def test_bad_input_names_the_offending_argument(kwargs, field):
    args = {"n_replicas": 2, "n_sweeps": 100, "tempering": "adaptive", **kwargs}
    with pytest.raises(ValueError, match=f"^{field}"):
        mc.sample(_sk_posterior(), **args)


def test_bad_ladder_update_input_names_the_argument():
    with pytest.raises(ValueError, match="^betas"):
        sampler.equal_barrier_ladder([1.0, 1.0, 0.5], [0.1, 0.1], 3)
    with pytest.raises(ValueError, match="^rejection"):
        sampler.equal_barrier_ladder([1.0, 0.5], [0.1, 0.1], 3)
    with pytest.raises(ValueError, match="^rejection"):
        sampler.communication_barrier([0.5, 1.5])
    with pytest.raises(ValueError, match="^n_rungs"):
        sampler.equal_barrier_ladder([1.0, 0.5], [0.1], 1)
