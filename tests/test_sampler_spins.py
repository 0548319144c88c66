"""Spin kernels against exact enumeration of the diffused Ising posterior (N = 8..16).

Each case samples P(sigma | x_t) for a planted x_t with 4 replicas, thins the draws by twice the
largest integrated autocorrelation time, and compares with the enumerated law:

* chi-square of the state histogram, states grouped into bins of about equal exact probability
  (p-value above 1e-4);
* the magnetisation sum_i sigma_i / N, the replica overlap q = sigma^a . sigma^b / N and q^2,
  within 5 standard errors (errors from tau).

Negative control: a chain run at the wrong prior temperature fails the same chi-square test.

Lattice priors whose bonds share one magnitude (ferromagnet, +-J Edwards-Anderson) run on the
tabulated kernel ``mc.kernels.lattice``; they are checked here with periodic and open boundaries,
a prior field, and at zero field (``x_t = 0``, where the decisions are integer comparisons).
"""
import numpy as np
import pytest

import mc
from mc import sampler
from mc.diagnostics import tau_int_per_chain
from mc.models import EnumeratedSpinPosterior, LatticeIsingPrior
from spin_enumeration import chi2_pvalue as _chi2_pvalue
from spin_enumeration import thinned as _thinned

P_MIN = 1e-4


def _prior(kind, n, beta):
    if kind == "cw":
        return mc.IsingPrior.curie_weiss(n, beta=beta, field=0.05)
    if kind == "sk":
        return mc.IsingPrior.sherrington_kirkpatrick(n, beta=beta, seed=5)
    if kind == "hopfield":
        return mc.IsingPrior.hopfield(n_dim=n, n_patterns=2, beta=beta, seed=6)
    if kind == "lattice":
        return LatticeIsingPrior.ferromagnet(4, 2, beta=beta)
    if kind == "lattice_field":
        return LatticeIsingPrior.ferromagnet(4, 2, beta=beta, field=0.15)
    if kind == "ea3d":
        return LatticeIsingPrior.edwards_anderson(2, 3, beta=beta, periodic=False, seed=7)
    if kind == "ea_pm":
        return LatticeIsingPrior.edwards_anderson(4, 2, beta=beta, bonds="bimodal", seed=8)
    if kind == "ea_pm_open":
        return LatticeIsingPrior.edwards_anderson(4, 2, beta=beta, bonds="bimodal", periodic=False, seed=9)
    raise AssertionError(kind)


def _posterior(prior, t=1.0, seed=2):
    """Posterior of a planted x_t; ``seed=None``: x_t = 0 (no random field)."""
    if seed is None:
        return mc.Posterior(prior, mc.VP(), np.zeros(prior.n_dim), t)
    state = mc.draw_quenched(prior, mc.VP(), t, seed=seed)
    return mc.Posterior(prior, mc.VP(), state.x_t, t)


def _series_mean_and_error(series):
    """Mean of (R, D) series and its standard error from the integrated autocorrelation time."""
    tau = max(1.0, float(np.max(tau_int_per_chain(series, warn=False))))
    return float(series.mean()), float(np.sqrt(series.var() * tau / series.size))


def _exact_moments(post):
    states, probs = EnumeratedSpinPosterior(post.model, post.y, post.s).enumerate()
    s = states.astype(np.float64)
    n = s.shape[1]
    m = probs @ s
    second = (s * probs[:, None]).T @ s
    return {
        "magnetisation": float(m.sum() / n),
        "overlap": float(m @ m / n),
        "overlap2": float(np.sum(second**2) / n**2),
    }, probs


CASES = [
    ("cw", 12, 0.9, "metropolis", "sequential", None),
    ("cw", 14, 1.2, "heat_bath", "random", None),
    ("sk", 12, 1.0, "heat_bath", "random", None),
    ("sk", 14, 1.5, "metropolis", "sequential", None),
    ("hopfield", 16, 1.2, "metropolis", "random", None),
    ("lattice", 16, 0.4, "heat_bath", "sequential", None),
    ("lattice", 16, 0.4, "heat_bath", "random", None),
    ("lattice", 16, 0.4, "metropolis", "sequential", None),
    ("lattice", 16, 0.4, "metropolis", "random", None),
    ("lattice_field", 16, 0.5, "metropolis", "sequential", None),
    ("ea_pm", 16, 0.8, "metropolis", "random", None),
    ("ea_pm", 16, 0.8, "heat_bath", "sequential", None),
    ("ea_pm_open", 16, 0.8, "metropolis", "sequential", None),
    ("ea3d", 8, 1.0, "metropolis", "random", None),
    ("sk", 12, 2.0, "heat_bath", "random", "hamiltonian"),
    ("hopfield", 12, 1.5, "metropolis", "random", "likelihood"),
    ("ea_pm", 16, 1.5, "metropolis", "sequential", "hamiltonian"),
]
#: Lattice cases again at zero field (x_t = 0): the integer-threshold decisions.
ZERO_FIELD_CASES = [
    ("lattice", 16, 0.4, "metropolis", "sequential"),
    ("lattice", 16, 0.4, "heat_bath", "random"),
    ("ea_pm", 16, 0.8, "metropolis", "random"),
    ("ea_pm_open", 16, 0.8, "heat_bath", "sequential"),
]


def _check_against_enumeration(kind, n, beta, method, order, tempering, seed):
    prior = _prior(kind, n, beta)
    post = _posterior(prior, seed=seed)
    exact, probs = _exact_moments(post)
    extra = {} if tempering is None else {"tempering": tempering, "n_temperatures": 4}
    res = mc.sample(post, n_replicas=4, n_sweeps=30_000, burn_in=2_000, thin=2, method=method, order=order,
                    seed=11, **extra)
    assert res.acceptance[:, 0].min() > 0.02
    thinned, _ = _thinned(res)
    p, min_expected = _chi2_pvalue(thinned, probs)
    assert min_expected >= 5, "too few thinned draws for the chi-square approximation"
    assert p > P_MIN, f"state histogram differs from enumeration (p = {p:.2e})"
    series = {
        "magnetisation": res.samples.mean(axis=2),
        "overlap": res.overlaps,
        "overlap2": res.overlaps**2,
    }
    for name, ser in series.items():
        mean, err = _series_mean_and_error(ser)
        assert abs(mean - exact[name]) <= 5 * err, f"{name}: {mean:.5f} +- {err:.5f} vs exact {exact[name]:.5f}"
    if tempering is not None:
        assert np.all((res.exchange_rate > 0) & (res.exchange_rate <= 1))


@pytest.mark.parametrize("kind,n,beta,method,order,tempering", CASES)
def test_spin_sampler_matches_enumeration(kind, n, beta, method, order, tempering):
    _check_against_enumeration(kind, n, beta, method, order, tempering, seed=2)


@pytest.mark.parametrize("kind,n,beta,method,order", ZERO_FIELD_CASES)
def test_lattice_kernel_at_zero_field_matches_enumeration(kind, n, beta, method, order):
    _check_against_enumeration(kind, n, beta, method, order, None, seed=None)


@pytest.mark.parametrize("kind,expected", [
    ("lattice", "tabulated"), ("lattice_field", "tabulated"), ("ea_pm", "tabulated"), ("ea_pm_open", "tabulated"),
    ("ea3d", "sparse"),  # Gaussian bonds: magnitudes differ
])
def test_sampler_picks_the_tabulated_kernel_for_bonds_of_one_magnitude(kind, expected):
    post = _posterior(_prior(kind, None, 0.5))
    fam = sampler._SpinFamily(post, sampler.Ladder.make(), 1, "metropolis", "random", np.ones((1, 1, post.n_dim)))
    assert fam.kind == expected
    # far beyond the table's exponent range the generic kernel is kept (still exact)
    cold = _posterior(_prior(kind, None, 1000.0))
    fam = sampler._SpinFamily(cold, sampler.Ladder.make(), 1, "metropolis", "random", np.ones((1, 1, cold.n_dim)))
    assert fam.kind == "sparse"


@pytest.mark.parametrize("kind,n,beta,method", [
    ("sk", 12, 1.0, "heat_bath"),
    ("cw", 12, 0.9, "metropolis"),
    ("lattice", 16, 0.4, "metropolis"),
    ("ea_pm", 16, 0.8, "heat_bath"),
])
def test_wrong_temperature_fails_the_same_test(kind, n, beta, method):
    right = _posterior(_prior(kind, n, beta))
    _, probs = _exact_moments(right)
    wrong_prior = _prior(kind, n, 1.3 * beta)
    wrong = mc.Posterior(wrong_prior, mc.VP(), right.x_t, right.t)
    res = mc.sample(wrong, n_replicas=4, n_sweeps=30_000, burn_in=2_000, thin=2, method=method, seed=11)
    p, _ = _chi2_pvalue(_thinned(res)[0], probs)
    assert p < P_MIN


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_energies_are_the_posterior_hamiltonian_for_every_coupling_storage():
    priors = [_prior("cw", 10, 1.0), _prior("sk", 10, 1.0), _prior("ea3d", 8, 1.0)]
    priors += [_prior(kind, 16, 0.5) for kind in ("lattice", "lattice_field", "ea_pm", "ea_pm_open")]
    priors.append(LatticeIsingPrior.ferromagnet(4, 2, J=-1.0, beta=0.5))  # antiferromagnet: g < 0, no signs
    for prior in priors:
        for seed in (2, None):
            post = _posterior(prior, seed=seed)
            for extra in ({}, {"tempering": "hamiltonian", "n_temperatures": 3}):
                res = mc.sample(post, n_replicas=2, n_sweeps=50, seed=1, **extra)
                np.testing.assert_allclose(res.energies, post.energy(res.samples), rtol=1e-10, atol=1e-9)


@pytest.mark.slow
def test_parallel_tempering_finds_both_modes_where_one_temperature_stays_in_one():
    """Curie-Weiss, beta J = 1.5, N = 128: posterior modes M ~ +-0.85 N with comparable weights.

    Exact mean magnetisation from the Hubbard-Stratonovich integral. All chains start at
    sigma = +1. One temperature stays in the + mode (and R-hat cannot see it: all replicas agree);
    a Hamiltonian ladder down to beta = 0.3 recovers the exact mean within 5 standard errors.
    """
    n = 128
    prior = mc.IsingPrior.curie_weiss(n, beta=1.5)
    post = _posterior(prior, t=2.5, seed=0)
    exact = float(post.mean().mean())
    assert 0.1 < exact < 0.6  # both modes carry weight
    init = np.ones((4, n))
    single = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=5, seed=1, init=init, tempering=None)
    mean, err = _series_mean_and_error(single.samples.mean(axis=2))
    assert abs(mean - exact) > 10 * err and mean > 0.8
    pt = mc.sample(post, n_replicas=4, n_sweeps=20_000, thin=5, seed=1, init=init, tempering="hamiltonian",
                   n_temperatures=12, lowest_beta=0.3)
    mean, err = _series_mean_and_error(pt.samples.mean(axis=2))
    assert abs(mean - exact) <= 5 * err, f"{mean:.4f} +- {err:.4f} vs exact {exact:.4f}"
    assert pt.exchange_rate.mean(axis=0).min() > 0.1
