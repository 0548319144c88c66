"""Replica estimators on Monte Carlo samples from the engine, against exact answers.

* P(q) of an enumerable SK posterior (N = 12): exact (enumeration) vs MC, bin by bin.
* Nishimori identity on planted Curie-Weiss disorder (N = 32, beyond enumeration; planted x_t
  from exact prior draws): the disorder-averaged replica-replica and replica-truth overlaps agree;
  a posterior built with the wrong prior temperature fails (negative control).
* Fluctuation-dissipation with MC on both sides: the susceptibility from replica covariances equals
  (D_t / a_t) times a central finite difference of the replica-mean magnetisation in x_t, the two
  runs at x_t +- eps u sharing their random numbers (common random numbers).
"""
import numpy as np
import pytest

import mc
import replica


def test_overlap_distribution_of_enumerable_spin_posterior_matches_monte_carlo():
    prior = mc.IsingPrior.sherrington_kirkpatrick(12, beta=1.2, seed=4)
    state = mc.draw_quenched(prior, mc.VP(), 1.2, seed=8)
    post = mc.Posterior(prior, mc.VP(), state.x_t, 1.2)
    edges = np.linspace(-1 - 1 / 12, 1 + 1 / 12, 14)  # one bin per atom q = (12 - 2 d) / 12
    exact = replica.overlap_distribution(post).binned(edges)
    res = mc.sample(post, n_replicas=6, n_sweeps=20_000, thin=4, seed=3)
    sampled = replica.overlap_distribution(res.samples, bins=edges)
    z = (sampled.prob - exact.prob) / sampled.stderr
    assert np.all(np.abs(z) <= 5), np.round(z, 2)
    # the moments through the same function names
    ex_m = replica.overlap_moments(post, orders=(1, 2, 4))
    mc_m = replica.overlap_moments(res.samples, orders=(1, 2, 4))
    for k in (1, 2, 4):
        assert abs(mc_m[k].value - ex_m[k].value) <= 5 * mc_m[k].stderr


def _nishimori_differences(beta_true, beta_used, n_disorder=40, n=32, t=1.0):
    """Per disorder sample: <q_ab> - <q(x, x0)> from MC on planted Curie-Weiss disorder."""
    truth = mc.IsingPrior.curie_weiss(n, beta=beta_true)
    used = mc.IsingPrior.curie_weiss(n, beta=beta_used)
    diffs = []
    for d in range(n_disorder):
        state = mc.draw_quenched(truth, mc.VP(), t, seed=21, disorder=d)
        assert state.planted
        post = mc.Posterior(used, mc.VP(), state.x_t, t)
        res = mc.sample(post, n_replicas=4, n_sweeps=2_000, thin=2, seed=21, key=(d,))
        q_rr = replica.overlap_moments(res.samples, orders=(1,), warn=False)[1].value
        q_rt = replica.overlap_moments(res.samples, orders=(1,), reference=state.x0, warn=False)[1].value
        diffs.append(q_rr - q_rt)
    diffs = np.array(diffs)
    return diffs.mean(), diffs.std(ddof=1) / np.sqrt(diffs.size)


@pytest.mark.slow
# The errors asserted on are over the 40 disorder samples, not within chains; the negative control
# (a ferromagnetic prior) decorrelates its magnetisation slowly and says so.
@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_nishimori_identity_holds_for_monte_carlo_on_planted_disorder_and_fails_for_a_wrong_prior():
    mean, err = _nishimori_differences(beta_true=0.5, beta_used=0.5)
    assert abs(mean) <= 5 * err, f"{mean:.4f} +- {err:.4f}"
    # a ferromagnetic prior (beta J = 1.5) for paramagnetic data: the replicas agree with each
    # other far more than with the truth
    wrong_mean, wrong_err = _nishimori_differences(beta_true=0.5, beta_used=1.5)
    assert abs(wrong_mean) > 5 * wrong_err, f"{wrong_mean:.4f} +- {wrong_err:.4f}"


@pytest.mark.parametrize("make", ["cw", "gmm"])
def test_fluctuation_dissipation_with_monte_carlo_on_both_sides(make):
    if make == "cw":
        n = 40
        model = mc.IsingPrior.curie_weiss(n, beta=0.8)
        kwargs = dict(method="heat_bath", order="sequential")
        eps = 0.05  # heat bath with shared numbers couples the two chains tightly
    else:
        n = 10
        model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=n)
        kwargs = dict(method="mala", step_size=0.3, adapt=False)
        eps = 0.2  # exact central difference is 0.8% above the derivative here, far below the error
    t = 1.0
    state = mc.draw_quenched(model, mc.VP(), t, seed=5)
    u = np.ones(n) / np.sqrt(n)
    runs = {}
    for sign in (+1, -1):
        post = mc.Posterior(model, mc.VP(), state.x_t + sign * eps * u, t)
        runs[sign] = mc.sample(post, n_replicas=8, n_sweeps=20_000, thin=4, seed=2, init="observation", **kwargs)
    post = mc.Posterior(model, mc.VP(), state.x_t, t)
    centre = mc.sample(post, n_replicas=8, n_sweeps=20_000, thin=4, seed=7, init="observation", **kwargs)
    chi = replica.susceptibility(centre.samples, kind="direction", direction=u, a_t=post.a, D_t=post.D)
    # finite difference per replica (replicas are independent; the +- runs share their numbers)
    proj_plus = runs[+1].samples @ u
    proj_minus = runs[-1].samples @ u
    fd = (proj_plus.mean(axis=1) - proj_minus.mean(axis=1)) / (2 * eps)
    fd_mean, fd_err = fd.mean(), fd.std(ddof=1) / np.sqrt(fd.size)
    total_err = np.hypot(chi.stderr, fd_err)
    assert abs(fd_mean - chi.value) <= 5 * total_err, f"FD {fd_mean:.4f} +- {fd_err:.4f} vs chi {chi}"
    # and both agree with the exact response where the model has one
    if make == "gmm":
        exact = replica.susceptibility(post, kind="direction", direction=u)
        assert abs(chi.value - exact.value) <= 5 * chi.stderr
    # negative control: dropping the factor a_t / D_t breaks the identity
    assert abs(fd_mean - chi.value * post.D / post.a) > 5 * total_err
