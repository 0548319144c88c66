"""Replica exchange between umbrella windows (``umbrella_sampling(..., window_exchange=True)``).

* Swap rule: the Numba swap round (``mc.kernels.restraints.exchange_slots``) between frozen
  configurations, three windows, a Hamiltonian and a likelihood rung, visits the 120 assignments
  of configurations to slots with the probabilities of the product measure ``prod_s p0^tp_s
  exp(tl_s (phi_lik - R_k(s)))`` (within 5 standard errors over 40 independent replicas); a swap
  accepted always does not.
* Moves and swaps together: on a Gaussian posterior (one class) every window's q has the exact
  restrained law (Gaussian; mean within 5 standard errors, from its tau).
* Two-class Gaussian mixture, N = 32, VP, t = 1, whose windows near the crossing of the two
  branches hold both classes: with ladders on the windows that need them (``tempered_windows=
  "auto"``; likelihood ladders to the exactly drawn prior, and Hamiltonian ladders) V(q) agrees
  with the exact potential within 5 standard errors on every bin; swaps alone (no ladder) do not
  carry configurations between the classes, and the same comparison fails (negative control).
* Seed and key fix the output; bad options are named before any sampling.
"""
import numpy as np
import pytest

import mc
import replica
from mc.kernels import restraints as kr
from mc.kernels.rng import seed_states
from replica import umbrella as um

N_SE = 5.0


# ---------------------------------------------------------------------------------------------
# the swap rule on frozen configurations
def _slot_assignments(exchange, n_rep=40, n_rounds=3000, seed=0):
    """Frequencies (R, 120) of the assignments of 5 frozen configurations to 5 slots (windows 0, 1,
    2 on the posterior, window 1 at beta 0.4 of a Hamiltonian ladder, window 1 at l = 0.3 of a
    likelihood ladder) under alternating swap rounds, and their exact law."""
    n = 10
    centres = np.array([-0.2, 0.0, 0.25])
    kappas = np.array([3.0, 4.0, 3.0])
    slot_window = np.array([0, 1, 2, 1, 1])
    slot_theta = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [0.4, 0.4], [1.0, 0.3]])
    pair_a, pair_b, parity = np.array([0, 1, 1, 3]), np.array([1, 2, 3, 4]), np.array([0, 1, 0, 1])
    # the configurations' q, posterior energy H = -log p0 - phi_lik and log p0
    q = np.array([-0.25, 0.05, 0.3, -0.05, 0.1])
    h = np.array([0.3, -0.4, 0.1, 0.9, 0.5])
    lp = np.array([-1.0, -0.2, -0.7, 0.4, -1.5])
    perms = [tuple(p) for p in np.array(np.meshgrid(*[range(5)] * 5)).reshape(5, -1).T if len(set(p)) == 5]
    index = {p: i for i, p in enumerate(perms)}
    restraint = 0.5 * n * kappas[slot_window][:, None] * (q[None, :] - centres[slot_window][:, None]) ** 2
    phi = -h - lp
    u = -(slot_theta[:, :1] * lp[None, :] + slot_theta[:, 1:] * (phi[None, :] - restraint))  # u[s, c]
    log_w = -np.array([sum(u[s, c] for s, c in enumerate(p)) for p in perms])
    exact = np.exp(log_w - log_w.max())
    exact /= exact.sum()
    qc, hc, lpc = np.tile(q, (n_rep, 1)), np.tile(h, (n_rep, 1)), np.tile(lp, (n_rep, 1))
    chain_at = np.tile(np.arange(5), (n_rep, 1))
    slot_of = chain_at.copy()
    rng = seed_states([np.random.SeedSequence(seed, spawn_key=(r,)) for r in range(n_rep)])
    ex_att = np.zeros((n_rep, 4), dtype=np.int64)
    ex_acc = np.zeros((n_rep, 4), dtype=np.int64)
    counts = np.zeros((n_rep, len(perms)))
    for t in range(n_rounds):
        exchange(qc, hc, lpc, n, slot_window, slot_theta, kappas, centres, pair_a, pair_b, parity, t % 2,
                 chain_at, slot_of, rng, ex_att, ex_acc)
        for r in range(n_rep):
            counts[r, index[tuple(chain_at[r])]] += 1
    return counts / n_rounds, exact


def _always_swap(qc, hc, lp, n, slot_window, slot_theta, kappas, centres, pair_a, pair_b, parity_of, parity,
                 chain_at, slot_of, rng, ex_att, ex_acc):
    """A wrong swap round: every swap is accepted."""
    for r in range(chain_at.shape[0]):
        for p in range(pair_a.size):
            if parity_of[p] == parity:
                a, b = chain_at[r, pair_a[p]], chain_at[r, pair_b[p]]
                chain_at[r, pair_a[p]], chain_at[r, pair_b[p]] = b, a
                slot_of[r, a], slot_of[r, b] = pair_b[p], pair_a[p]


def _z_assignments(freq, exact):
    mean = freq.mean(axis=0)
    se = freq.std(axis=0, ddof=1) / np.sqrt(freq.shape[0])
    return (mean - exact) / np.maximum(se, 1e-4)


def test_swap_rounds_sample_the_product_measure_and_an_always_accepted_swap_does_not():
    freq, exact = _slot_assignments(kr.exchange_slots)
    assert exact.max() < 0.5 and (exact > 0.01).sum() >= 10  # a non-trivial law
    z = _z_assignments(freq, exact)
    assert np.abs(z).max() < N_SE, f"max |z| = {np.abs(z).max():.2f}"
    wrong, _ = _slot_assignments(_always_swap, n_rep=10, n_rounds=400)
    assert np.abs(_z_assignments(wrong, exact)).max() > 2 * N_SE


# ---------------------------------------------------------------------------------------------
# moves and swaps: restrained laws of a Gaussian posterior
def test_windows_of_a_gaussian_posterior_have_the_exact_restrained_law_of_q():
    n = 12
    model = mc.GaussianMixture(np.zeros((1, n)), variances=np.full((1, n), 1.5))
    post = mc.Posterior(model, mc.VP(), np.linspace(-1.0, 1.0, n), 1.0)
    ref = np.linspace(1.0, -0.5, n)
    windows = np.linspace(-0.6, 0.3, 8)
    kappa = 2.0
    res = um.umbrella_sampling(post, ref, np.linspace(-0.6, 0.3, 10), windows=windows, kappa=kappa,
                               window_exchange=True, n_sweeps=3000, seed=4)
    assert res.converged and not res.windows["tempered"].any()
    # exact: q = x . ref / N is Gaussian under the posterior N(m, v I); the restraint adds kappa N
    ex = post.exact
    m, v = ex.component_means[0] @ ref / n, ex.component_eigenvalues[0] @ ref**2 / n**2
    prec = 1.0 / v + kappa * n
    mean = (m / v + kappa * n * windows) / prec
    wins = res.windows
    se = np.sqrt(1.0 / prec) * np.sqrt(wins["tau"] / (wins["n_draws"] * res.info["n_replicas"]))
    z = (wins["q_mean"] - mean) / se
    assert np.abs(z).max() < N_SE, f"max |z| = {np.abs(z).max():.2f}"
    np.testing.assert_allclose(wins["q_std"], np.sqrt(1.0 / prec), rtol=0.05)
    rates = np.array(res.info["window_exchange_rates"])
    assert rates.shape == (7,) and np.all((rates > 0.1) & (rates < 0.95))
    assert sum(res.info["round_trips"]) > 0


# ---------------------------------------------------------------------------------------------
# two-class mixture against its exact potential
N_MIX = 32


def _mixture_case():
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=N_MIX)
    state = mc.draw_quenched(model, mc.VP(), t=1.0, seed=0, disorder=0)
    return mc.Posterior(model, mc.VP(), state.x_t, 1.0), state.x0


def _exact_grid_potential(post, ref, grid):
    exact = replica.franz_parisi(post, q_grid=grid, reference=ref, bin_average=True)["V"].to_numpy()
    width = np.diff(um._bin_edges(grid))
    mass = np.exp(-N_MIX * exact) * width
    return -np.log(mass / mass.sum() / width) / N_MIX


GRID = np.linspace(-1.0, 0.6, 17)
WINDOWS = np.linspace(-1.1, 0.7, 16)


@pytest.mark.parametrize("tempering", ["likelihood", "hamiltonian"])
def test_exchanging_windows_with_ladders_where_needed_match_the_exact_mixture_potential(tempering):
    post, x0 = _mixture_case()
    res = um.umbrella_sampling(post, x0, GRID, windows=WINDOWS, normalise="grid", window_exchange=True,
                               tempering=tempering, n_temperatures=8, seed=2)
    info, wins = res.info, res.windows
    assert res.converged and info["window_exchange"] and info["unconverged_windows"] == []
    # a likelihood ladder ends at the prior, which the mixture draws exactly
    assert info["exact_prior_top"] == (tempering == "likelihood")
    assert np.asarray(info["ladder_theta"]).shape == (8, 2) and info["ladder_theta"][0] == [1.0, 1.0]
    # the ladders sit on the windows around the crossing of the branches (q about -0.2), not at the ends
    tempered = info["tempered_windows"]
    assert 0 < len(tempered) < len(WINDOWS) - 2 and wins.loc[tempered, "tempered"].all()
    assert {7, 8} <= set(tempered) and not {0, len(WINDOWS) - 1} & set(tempered)
    assert np.isfinite(wins.loc[tempered, "exchange_rate"]).all()
    assert np.isnan(wins["exchange_next"].iloc[-1]) and (wins["exchange_next"].iloc[:-1] > 0.05).all()
    assert len(info["window_exchange_rates"]) == len(WINDOWS) - 1 and len(info["round_trips"]) == 4
    assert info["phases"][0]["phase"] == "pilot"
    exact = _exact_grid_potential(post, x0, GRID)
    z = (res.potential["V"].to_numpy() - exact) / res.potential["stderr"].to_numpy()
    assert res.potential["covered"].all()
    assert np.abs(z).max() < N_SE, f"max |z| = {np.abs(z).max():.2f} at q = {GRID[np.argmax(np.abs(z))]}"


def test_swaps_alone_do_not_cross_between_classes_and_the_exact_comparison_fails():
    post, x0 = _mixture_case()
    kwargs = dict(windows=WINDOWS, normalise="grid", window_exchange=True, n_sweeps=1000, max_sweeps=1000, seed=2)
    with pytest.warns(um.ConvergenceWarning, match="replicas stay in different states.*tempered_windows='all'"):
        res = um.umbrella_sampling(post, x0, GRID, allow_unconverged=True, **kwargs)
    assert not res.converged and res.info["tempered_windows"] == []
    exact = _exact_grid_potential(post, x0, GRID)
    z = (res.potential["V"].to_numpy() - exact) / res.potential["stderr"].to_numpy()
    assert np.nanmax(np.abs(z)) > N_SE


# ---------------------------------------------------------------------------------------------
# reproducibility and bad input
@pytest.mark.filterwarnings("ignore::replica.umbrella.ConvergenceWarning")  # short runs on purpose
def test_same_seed_gives_identical_output_and_keys_differ():
    post, x0 = _mixture_case()
    kwargs = dict(windows=np.linspace(-0.6, 0.2, 6), n_sweeps=200, max_sweeps=400, window_exchange=True,
                  tempering="likelihood", tempered_windows=[2, 3], n_temperatures=4, seed=3,
                  allow_unconverged=True)
    grid = np.linspace(-0.6, 0.2, 9)
    a = um.umbrella_sampling(post, x0, grid, **kwargs)
    b = um.umbrella_sampling(post, x0, grid, **kwargs)
    c = um.umbrella_sampling(post, x0, grid, key=(1,), **kwargs)
    assert a.info["tempered_windows"] == [2, 3] and a.windows["tempered"].sum() == 2 and a.info["exact_prior_top"]
    np.testing.assert_array_equal(a.potential[["q", "V", "stderr"]], b.potential[["q", "V", "stderr"]])
    np.testing.assert_array_equal(a.windows[["q_mean", "tau", "rhat_q", "exchange_next"]],
                                  b.windows[["q_mean", "tau", "rhat_q", "exchange_next"]])
    assert a.info["round_trips"] == b.info["round_trips"]
    assert not np.array_equal(a.windows["q_mean"], c.windows["q_mean"])


def test_bad_exchange_options_are_named_before_any_sampling(monkeypatch):
    post, x0 = _mixture_case()

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started before the input was checked")

    monkeypatch.setattr(um, "_run_window_exchange", no_sampling)
    monkeypatch.setattr(mc, "sample", no_sampling)
    grid, windows = np.linspace(-0.6, 0.2, 9), np.linspace(-0.6, 0.2, 6)
    cases = [
        (dict(window_exchange="yes"), "window_exchange"),
        (dict(window_exchange=True, tempering="adaptive"), "tempering"),
        (dict(window_exchange=True, n_temperatures=4), "tempering"),
        (dict(window_exchange=True, tempered_windows=[1]), "tempered_windows"),
        (dict(window_exchange=True, tempering="hamiltonian", tempered_windows=[0, 6]), "tempered_windows"),
        (dict(window_exchange=True, tempering="hamiltonian", tempered_windows="some"), "tempered_windows"),
        (dict(tempered_windows="all"), "tempered_windows"),
        (dict(window_exchange=True, method="heat_bath"), "method"),
    ]
    for extra, name in cases:
        with pytest.raises(ValueError, match=name):
            um.umbrella_sampling(post, x0, grid, windows=windows, **extra)
    spins = mc.Posterior(mc.IsingPrior.curie_weiss(8, beta=0.5), mc.VP(), np.zeros(8), 1.0)
    with pytest.raises(ValueError, match="window_exchange: .*continuous"):
        um.umbrella_sampling(spins, np.ones(8), window_exchange=True)


def test_each_window_gives_mbar_a_bounded_number_of_samples(monkeypatch):
    """MBAR keeps windows x samples matrices; a long run is thinned beyond tau to at most
    MBAR_SAMPLES_PER_WINDOW samples a window (100 windows of 16,000 draws took over 20 GB before),
    and the potential still agrees with the exact one."""
    n = 12
    model = mc.GaussianMixture(np.zeros((1, n)), variances=np.full((1, n), 1.5))
    post = mc.Posterior(model, mc.VP(), np.linspace(-1.0, 1.0, n), 1.0)
    ref = np.linspace(1.0, -0.5, n)
    grid = np.linspace(-0.5, 0.2, 8)
    monkeypatch.setattr(um, "MBAR_SAMPLES_PER_WINDOW", 300)
    res = um.umbrella_sampling(post, ref, grid, windows=np.linspace(-0.6, 0.3, 8), kappa=2.0, window_exchange=True,
                               n_sweeps=3000, seed=4, normalise="grid")
    wins = res.windows
    assert (wins["n_samples"] <= 300).all() and (wins["stride"] > np.ceil(wins["tau"])).any()
    # exact: q = x . ref / N is Gaussian under the posterior
    ex = post.exact
    m, v = ex.component_means[0] @ ref / n, ex.component_eigenvalues[0] @ ref**2 / n**2
    edges = um._bin_edges(grid)
    from scipy.stats import norm

    mass = np.diff(norm.cdf(edges, loc=m, scale=np.sqrt(v)))
    exact = -np.log(mass / mass.sum() / np.diff(edges)) / n
    z = (res.potential["V"].to_numpy() - exact) / res.potential["stderr"].to_numpy()  # both normalised on the grid
    assert np.abs(z).max() < N_SE, np.abs(z).max()
