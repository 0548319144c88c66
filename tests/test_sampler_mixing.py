"""No wrong answer with a small error bar: trapped replicas are either right or flagged.

Posteriors with several modes (a two-class Gaussian mixture, a Curie-Weiss ferromagnet) trap
local Monte Carlo moves. The cases below are those of a probe of the package at default
settings (planted x_t, VP, 4 replicas unless stated), each compared with the exact posterior
(``z = (MC - exact) / stderr``): every run must either agree within 5 standard errors or say
that it did not mix (a :class:`mc.diagnostics.MixingWarning`, recorded in ``SampleResult.flags``).
Before the fix these runs were off by 14 to 1077 standard errors with no warning.
"""
import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

import mc
import replica
from mc.diagnostics import RHAT_MAX, MixingWarning, mode_changes
from replica.observables import class_magnetisation
from replica.stats import correlated_mean, replica_mean

Z_MAX = 5.0


def _posterior(kind, n_dim, t, seed):
    if kind == "mixture":
        model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=n_dim)
    else:
        model = mc.IsingPrior.curie_weiss(n_dim, J=1.0, beta=1.5)
    state = mc.draw_quenched(model, mc.VP(), t=t, seed=seed, disorder=0)
    return mc.Posterior(model, mc.VP(), state.x_t, t=t)


def _observable(name, post, source):
    model = post.model
    if name == "class_magnetisation":
        return class_magnetisation(source, model.means[0])
    if name == "magnetisation":  # x . 1 / |1|^2 = x . 1 / N
        return class_magnetisation(source, np.ones(post.n_dim))
    return replica.overlap_moments(source, (1,))[1]


def _run(post, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mc.sample(post, **kwargs)
    mixing = [w for w in caught if issubclass(w.category, MixingWarning)]
    return res, mixing


CASES = [
    # (kind, N, t, observable, sampler settings)
    ("mixture", 32, 1.75, "class_magnetisation", dict(method="hmc", n_sweeps=4000)),
    ("mixture", 32, 4.0, "q_self", dict(method="mala", n_sweeps=4000)),
    ("mixture", 32, 4.0, "q_self", dict(method="hmc", n_sweeps=4000)),
    ("cw", 128, 1.5, "q_self", dict(method="heat_bath", n_sweeps=2000)),
    ("cw", 128, 3.0, "q_self", dict(method="heat_bath", n_sweeps=2000)),
    ("cw", 128, 3.0, "q_self", dict(method="metropolis", n_sweeps=2000)),
    ("mixture", 32, 1.75, "class_magnetisation", dict(method="mala", n_sweeps=4000, tempering="likelihood")),
    ("cw", 128, 3.0, "magnetisation", dict(method="heat_bath", n_replicas=8, n_sweeps=20_000, thin=10,
                                           tempering="likelihood", n_temperatures=8)),
    ("cw", 128, 3.0, "magnetisation", dict(method="heat_bath", n_replicas=8, n_sweeps=20_000, thin=10,
                                           tempering="likelihood", n_temperatures=16)),
]
#: Planted disorder samples per case (the long 8-replica runs: one).
SEEDS = {8: (0,)}


@pytest.mark.slow
@pytest.mark.parametrize("kind, n_dim, t, observable, settings", CASES,
                         ids=[f"{c[0]}-N{c[1]}-t{c[2]}-{c[3]}-{c[4]['method']}-{c[4].get('tempering', 'default')}"
                              f"-{c[4].get('n_temperatures', '')}" for c in CASES])
def test_multimodal_posteriors_are_right_or_flagged_at_default_settings(kind, n_dim, t, observable, settings):
    kwargs = {"n_replicas": 4, "seed": 0, **settings}
    for disorder_seed in SEEDS.get(kwargs["n_replicas"], (0, 1, 2)):
        post = _posterior(kind, n_dim, t, disorder_seed)
        res, mixing = _run(post, **kwargs)
        exact = _observable(observable, post, post)
        est = _observable(observable, post, res.samples)
        z = (est.value - exact.value) / est.stderr
        flagged = bool(mixing) and bool(res.flags) and not res.mixed
        assert abs(z) <= Z_MAX or flagged, (
            f"seed {disorder_seed}: {observable} {est} vs exact {exact.value:.4f} (z = {z:.1f}) with no "
            f"MixingWarning; R-hat {res.rhat}"
        )
        assert bool(mixing) == bool(res.flags)  # every warning is recorded, nothing recorded silently


def test_python_example_is_right_by_default():
    """The two-class posterior at N = 32, t = 1 (class weights near 0.999 / 0.001): with its
    defaults ``mc.sample`` tempers (the prior has two modes) and starts replicas apart, and the
    class magnetisation agrees with the exact one within 5 standard errors, unflagged."""
    for disorder_seed in (0, 3):
        post = _posterior("mixture", 32, 1.0, disorder_seed)
        res, mixing = _run(post, n_replicas=4, n_sweeps=4000, method="mala", seed=0)
        assert res.ladder.kind == "hamiltonian" and res.init == "auto"
        exact = class_magnetisation(post, post.model.means[0])
        est = class_magnetisation(res.samples, post.model.means[0])
        assert abs(est.value - exact.value) <= Z_MAX * est.stderr, f"{est} vs {exact.value}"
        assert not mixing and res.mixed


def test_trapped_run_is_flagged_and_its_error_bar_sees_the_replicas():
    """Negative control: init from the prior, no tempering. Replicas land in both classes and never
    cross; the run says so, and the error bar spans the spread between replicas (the old
    within-replica error, from the replica-averaged series, was 100 times smaller)."""
    post = _posterior("mixture", 32, 1.0, 0)
    res, mixing = _run(post, n_replicas=4, n_sweeps=2000, method="mala", seed=0, tempering=None, init="prior")
    assert mixing and not res.mixed
    assert res.rhat["order_0"] > 1.1 and "tempering='hamiltonian'" in res.flags[0]
    classes = np.sign(res.samples @ post.model.means[0]).mean(axis=1)
    assert np.ptp(classes) > 1.5  # replicas in both classes: the situation the test is about
    est = class_magnetisation(res.samples, post.model.means[0])
    m = res.samples @ post.model.means[0] / (post.model.means[0] @ post.model.means[0])
    spread = m.mean(axis=1).std(ddof=1) / np.sqrt(res.n_replicas)
    assert est.stderr >= 0.9 * spread
    old = correlated_mean(m.mean(axis=0), warn=False)
    assert old.stderr < 0.05 * spread


def test_likelihood_ladder_continues_into_the_prior_temperature_for_a_multimodal_prior():
    ladder = mc.Ladder.make("likelihood", 8, extend_prior=True)
    theta = ladder.theta
    assert theta.shape == (8, 2) and ladder.extends_prior
    np.testing.assert_allclose(theta[:5, 0], 1.0)
    np.testing.assert_allclose(theta[:5, 1], [1.0, 0.5625, 0.25, 0.0625, 0.0])
    np.testing.assert_allclose(theta[5:, 1], 0.0)
    np.testing.assert_allclose(theta[5:, 0], np.geomspace(1.0, 0.05, 4)[1:])
    # built by mc.sample only where the prior may have several modes
    post = _posterior("mixture", 8, 1.0, 0)
    res, _ = _run(post, n_replicas=2, n_sweeps=40, tempering="likelihood", n_temperatures=6)
    assert res.ladder.extends_prior
    uni = mc.Posterior(mc.GaussianMixture([np.zeros(8)], variances=1.0), mc.VP(), post.x_t, 1.0)
    res, _ = _run(uni, n_replicas=2, n_sweeps=40, tempering="likelihood", n_temperatures=6)
    assert not res.ladder.extends_prior


def test_a_ladder_that_ends_at_a_multimodal_prior_is_flagged_and_its_configurations_stay_put():
    """Explicit likelihood rungs down to the prior of a two-class mixture: exchanges look fine,
    rung 0 mixes the fixed set of modes each replica holds, and only the configurations followed
    across rungs (``mode_changes``) and the ladder check see that no configuration changes class."""
    post = _posterior("mixture", 32, 1.75, 0)
    res, mixing = _run(post, n_replicas=4, n_sweeps=2000, method="mala", seed=0, tempering="likelihood",
                       temperatures=[1.0, 0.5, 0.25, 0.1, 0.0])
    assert mixing and any("ends at a prior" in f for f in res.flags)
    assert any("does not connect the modes" in f for f in res.flags)
    assert res.mode_changes.sum() == 0
    assert res.exchange_rate.mean() > 0.3
    # the same ladder continued into the prior's temperature (built from n_temperatures) crosses
    res, mixing = _run(post, n_replicas=4, n_sweeps=2000, method="mala", seed=0, tempering="likelihood",
                       n_temperatures=8)
    assert res.ladder.extends_prior and res.mode_changes.sum() > 0
    assert not any("does not connect" in f for f in res.flags)


def test_models_declare_their_modes_and_order_directions():
    assert mc.IsingPrior.curie_weiss(64, beta=1.5).may_be_multimodal
    assert not mc.IsingPrior.curie_weiss(64, beta=0.5).may_be_multimodal
    # SK: lambda_max(W) -> 2 J, so beta J > 1/2 is flagged (conservative), beta J = 0.3 is not
    assert mc.IsingPrior.sherrington_kirkpatrick(200, beta=0.7, seed=1).may_be_multimodal
    assert not mc.IsingPrior.sherrington_kirkpatrick(200, beta=0.3, seed=1).may_be_multimodal
    assert mc.IsingPrior.lattice(8, beta=0.5).may_be_multimodal
    assert not mc.IsingPrior.lattice(8, beta=0.2).may_be_multimodal
    assert mc.GaussianMixture.two_class(1.0, n_dim=4).may_be_multimodal
    assert not mc.Hypersphere(8).may_be_multimodal
    mix = mc.GaussianMixture(np.eye(3, 5) * 2.0, variances=1.0)
    e = mix.order_directions()
    np.testing.assert_allclose(e @ e.T, np.eye(2), atol=1e-12)  # 3 means span a plane about their mean
    hop = mc.IsingPrior.hopfield(n_dim=40, n_patterns=3, beta=2.0, seed=1)
    e = hop.order_directions()
    np.testing.assert_allclose(e @ e.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(mc.IsingPrior.curie_weiss(9).order_directions(), np.full((1, 9), 1 / 3))
    assert mc.IsingPrior.sherrington_kirkpatrick(10, seed=1).order_directions() is None


def test_replica_errors_are_calibrated_for_mixing_chains_and_the_replica_averaged_tau_is_not():
    """Four independent AR(1) chains (coefficient 0.9, tau = 19, 2000 steps) with mean 0: over
    400 data sets the mean of z^2 = (mean / stderr)^2 is 1 within 5 of its standard errors
    (sqrt(2 / 400)) when the error is calibrated; the error of the replica-averaged series alone
    (the estimator before this fix) fails the same band (its tau is biased low on these lengths)."""
    rng = np.random.default_rng(0)
    r, t, phi = 4, 2000, 0.9
    z_new, z_old = [], []
    for _ in range(400):
        x = lfilter([1.0], [1.0, -phi], rng.standard_normal((r, t)), axis=1) * np.sqrt(1 - phi**2)
        new = replica_mean(lambda keep: x[keep].mean(axis=0), r, warn=False)
        old = correlated_mean(x.mean(axis=0), warn=False)
        z_new.append(new.value / new.stderr)
        z_old.append(old.value / old.stderr)
    band = Z_MAX * np.sqrt(2.0 / 400)
    assert abs(np.mean(np.square(z_new)) - 1.0) < band
    assert abs(np.mean(np.square(z_old)) - 1.0) > band


def test_mode_changes_count_crossings_of_a_gap_and_not_fluctuations_within_a_mode():
    rng = np.random.default_rng(1)
    frozen = np.array([[1.0], [-1.0], [1.0]]) + 0.1 * rng.standard_normal((3, 500))
    changes, both = mode_changes(frozen)
    assert both and changes.sum() == 0
    hopping = frozen.copy()
    hopping[0, 250:] -= 2.0  # one configuration crosses once
    changes, both = mode_changes(hopping)
    assert both and changes.tolist() == [1, 0, 0]
    one_mode = 0.1 * rng.standard_normal((3, 500))  # the middle of one mode is crossed all the time
    changes, _ = mode_changes(one_mode)
    assert changes.min() > 50


def test_rhat_limit_is_the_current_recommendation():
    assert RHAT_MAX == 1.01  # Vehtari et al. 2021
