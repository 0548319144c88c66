"""Nishimori identity on planted disorder, with exact samplers: the replica-replica and the
replica-truth overlap laws agree after the disorder average (physics.md), and a posterior built
with the wrong prior breaks the agreement (negative control).

Each comparison uses paired differences over disorder samples (the same x_t and samples feed both
sides), with the standard error of their mean; agreement means every |z| < 5, failure some |z| > 5.
"""
import numpy as np
import pytest

import mc
from replica import exact_samples, overlap_distribution, overlap_moments, participation_ratio

N_SE = 5.0
N_DISORDER = 100
REPLICAS, DRAWS = 4, 50


def paired_z(a, b):
    """Mean of a - b over disorder (axis 0) in units of its standard error; 0 where both sides are
    identically zero, inf where they differ without spread."""
    d = np.asarray(a) - np.asarray(b)
    mean = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, mean / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.inf))


def nishimori_statistics(law, prior, t, edges, normalised, seed):
    """Per disorder sample: (moments 1, 2 and binned P(q)) of replica-replica and replica-truth overlaps.

    x_t is planted for ``law`` (x0 drawn from it); the posterior uses ``prior``."""
    rng = np.random.default_rng(seed)
    rr, rt = [], []
    for d in range(N_DISORDER):
        state = mc.draw_quenched(law, mc.VP(), t, seed=seed, disorder=d)
        assert state.planted
        post = mc.Posterior(prior, mc.VP(), state.x_t, t)
        x = exact_samples(post, REPLICAS, DRAWS, rng)
        sides = []
        for ref in (None, state.x0):
            m = overlap_moments(x, orders=(1, 2), reference=ref, normalised=normalised, warn=False)
            p = overlap_distribution(x, edges, reference=ref, normalised=normalised, warn=False).prob
            sides.append(np.concatenate([[m[1].value, m[2].value], p]))
        rr.append(sides[0])
        rt.append(sides[1])
    return paired_z(rr, rt)


# two-class Gaussian mixture: normalised overlap x.y / (|x||y|) (continuous model) --------------
MIX_N = 50
MIX_T = 0.5 * np.log(MIX_N + 1)  # at speciation: both classes present in P(q)
MIX_EDGES = np.linspace(-1, 1, 21)


def mixture(mu=1.0, variance=1.0):
    return mc.GaussianMixture.two_class(mu, variance=variance, n_dim=MIX_N)


def test_nishimori_planted_mixture_replica_replica_and_replica_truth_overlaps_agree():
    z = nishimori_statistics(mixture(), mixture(), MIX_T, MIX_EDGES, normalised=True, seed=21)
    assert np.all(np.abs(z) < N_SE), z


@pytest.mark.parametrize("wrong", [{"variance": 0.25}, {"mu": 1.3}], ids=["wrong variance", "wrong mean"])
def test_nishimori_fails_when_the_posterior_uses_a_different_prior_than_the_law_of_x_t(wrong):
    z = nishimori_statistics(mixture(), mixture(**wrong), MIX_T, MIX_EDGES, normalised=True, seed=21)
    assert np.max(np.abs(z)) > N_SE, z


# finite data set: plain overlap x.y / N ------------------------------------------------------------
DATA_T = 0.5
DATA_EDGES = np.linspace(-3, 5, 17)


@pytest.fixture(scope="module")
def training_set():
    return mc.Dataset.gaussian(20, 10, seed=3)


def test_nishimori_planted_data_set_participation_ratio_is_the_weight_of_the_generating_point(training_set):
    """E[Y] = E[w_{mu0}] with mu0 the training point that generated x_t (exact weights)."""
    ys, w0 = [], []
    for d in range(N_DISORDER):
        state = mc.draw_quenched(training_set, mc.VP(), DATA_T, seed=22, disorder=d)
        post = mc.Posterior(training_set, mc.VP(), state.x_t, DATA_T)
        ys.append(participation_ratio(post).value)
        w0.append(post.weights[state.point_index])
    assert 0.2 < np.mean(ys) < 0.8  # neither condensed nor spread: the identity is not trivial here
    assert abs(paired_z(ys, w0)) < N_SE


def test_nishimori_planted_data_set_replica_replica_and_replica_truth_overlaps_agree(training_set):
    z = nishimori_statistics(training_set, training_set, DATA_T, DATA_EDGES, normalised=False, seed=22)
    assert np.all(np.abs(z) < N_SE), z


def test_nishimori_fails_for_a_data_set_prior_with_the_wrong_variance(training_set):
    wrong = mc.Dataset(1.5 * training_set.points)  # the points' variance times 2.25
    z = nishimori_statistics(training_set, wrong, DATA_T, DATA_EDGES, normalised=False, seed=22)
    assert np.max(np.abs(z)) > N_SE, z
