"""Tweedie's formula for every tractable model and both processes.

The exact posterior gives the score (a_t m - x_t) / D_t and log p_t(x_t). Both are checked
against an evidence computed independently of the package, directly as the density of the
noisy state (a mixture of Gaussians, or a closed form), and its central finite difference.
"""
import itertools
import zlib

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import mc

PROCESSES = [mc.VE(0.9), mc.VP()]
PROCESS_IDS = ["VE", "VP"]


def mixture_log_density(x, log_w, centres, covs):
    """log sum_k w_k N(x; centre_k, cov_k) with scipy."""
    terms = [lw + stats.multivariate_normal(c, cv, allow_singular=False).logpdf(x) for lw, c, cv in zip(log_w, centres, covs)]
    return logsumexp(terms)


def evidence_dataset(model, proc, x_t, t):
    a, D = proc.a(t), proc.D(t)
    N = model.n_dim
    return mixture_log_density(x_t, np.log(model.prior_weights), a * model.points, [D * np.eye(N)] * model.n_points)


def evidence_mixture(model, proc, x_t, t):
    a, D = proc.a(t), proc.D(t)
    N = model.n_dim
    covs = [a**2 * model.component_covariance(k) + D * np.eye(N) for k in range(model.n_components)]
    return mixture_log_density(x_t, np.log(model.weights), a * model.means, covs)


def spin_states(n):
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def evidence_spins(model, proc, x_t, t):
    """p_t = sum_s p0(s) N(x_t; a s, D I) with p0 enumerated here from (beta/2) s W s + b.s."""
    a, D = proc.a(t), proc.D(t)
    N = model.n_dim
    S = spin_states(N)
    W = np.asarray(model.couplings)
    logp0 = 0.5 * model.beta * np.einsum("si,ij,sj->s", S, W, S) + S @ np.asarray(model.field)
    logp0 -= logsumexp(logp0)
    return mixture_log_density(x_t, logp0, a * S, [D * np.eye(N)] * len(S))


def evidence_sphere3(model, proc, x_t, t):
    """Uniform measure on the sphere of radius r in R^3: E_u exp(kappa u.e) = sinh(kappa) / kappa."""
    a, D = proc.a(t), proc.D(t)
    r = model.radius
    kappa = a * r * np.linalg.norm(x_t) / D
    log_m = kappa + np.log1p(-np.exp(-2 * kappa)) - np.log(2 * kappa)
    return -1.5 * np.log(2 * np.pi * D) - (x_t @ x_t + a**2 * r**2) / (2 * D) + log_m


def make_models():
    rng = np.random.default_rng(5)
    out = [
        ("two_deltas", mc.TwoDeltas(rng.standard_normal(3), weight=0.4), evidence_dataset),
        ("dataset", mc.Dataset(rng.standard_normal((7, 3)), rng.dirichlet(np.ones(7))), evidence_dataset),
        ("mixture_isotropic", mc.GaussianMixture.two_class(rng.standard_normal(3), variance=0.6), evidence_mixture),
    ]
    a = rng.standard_normal((3, 3))
    covs = np.stack([a @ a.T / 3 + 0.1 * np.eye(3), np.diag([0.2, 1.0, 2.0]), 0.5 * np.eye(3)])
    out.append(("mixture_full", mc.GaussianMixture(rng.standard_normal((3, 3)), covariances=covs, weights=[0.2, 0.5, 0.3]), evidence_mixture))
    from mc.models import IsingPrior

    out.append(("sk", IsingPrior.sherrington_kirkpatrick(4, beta=0.8, field=0.1, seed=2), evidence_spins))
    out.append(("hopfield", IsingPrior.hopfield(n_dim=4, n_patterns=2, beta=1.3, seed=3), evidence_spins))
    out.append(("curie_weiss", IsingPrior.curie_weiss(4, J=1.0, beta=1.4, field=0.05), evidence_spins))
    out.append(("hypersphere", mc.Hypersphere(3, radius=1.5), evidence_sphere3))
    return out


MODELS = make_models()


@pytest.mark.parametrize("proc", PROCESSES, ids=PROCESS_IDS)
@pytest.mark.parametrize("name, model, evidence", MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("t", [0.15, 1.2])
def test_score_is_the_gradient_of_an_independent_log_evidence(name, model, evidence, proc, t):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x_t = proc.sample_xt(model.sample(1, rng)[0], t, rng) if "sample" in model.capabilities else rng.standard_normal(model.n_dim)
    post = mc.Posterior(model, proc, x_t, t)
    assert post.log_evidence() == pytest.approx(evidence(model, proc, x_t, t), rel=1e-9, abs=1e-9)
    h = 1e-5
    fd = np.array(
        [(evidence(model, proc, x_t + h * e, t) - evidence(model, proc, x_t - h * e, t)) / (2 * h) for e in np.eye(model.n_dim)]
    )
    np.testing.assert_allclose(post.score(), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, model, evidence", MODELS[:1], ids=["two_deltas"])
def test_tweedie_check_fails_for_a_wrong_time_negative_control(name, model, evidence):
    proc = mc.VE(0.9)
    x_t = np.array([0.3, -0.2, 0.5])
    post = mc.Posterior(model, proc, x_t, 0.15)
    fd = np.array([(evidence(model, proc, x_t + 1e-5 * e, 0.2) - evidence(model, proc, x_t - 1e-5 * e, 0.2)) / 2e-5 for e in np.eye(3)])
    assert not np.allclose(post.score(), fd, rtol=1e-6, atol=1e-6)
