"""Error bars of replica.stats against processes with known answers (AR(1), exact identities)."""
import math
import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

import mc.diagnostics
from replica import stats
from replica.stats import (
    Estimate,
    ShortChainWarning,
    blocking,
    blocking_levels,
    bootstrap,
    correlated_mean,
    disorder_average,
    jackknife,
    tau_int,
)

PHI = 0.9
N_AR = 250_000


def ar1(phi, n, seed):
    """Stationary AR(1) x_k = phi x_{k-1} + e_k with unit innovations: Var x = 1 / (1 - phi^2),
    tau = (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    x_before = rng.standard_normal() / math.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], e, zi=[phi * x_before])[0]


def ar1_block_mean_variance(phi, b):
    """Var of the mean of b consecutive AR(1) values, times b / Var x (derived:
    1 + 2 sum_{k<b} (1 - k/b) phi^k)."""
    return (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**b) / (b * (1 - phi) ** 2)


@pytest.fixture(scope="module")
def series():
    return ar1(PHI, N_AR, seed=7)


def test_tau_int_is_the_diagnostics_function_of_mc():
    assert stats.tau_int is mc.diagnostics.tau_int


def test_tau_int_of_ar1_with_phi_0p9_is_19_within_20_percent_for_250000_steps(series):
    tau = tau_int(series)
    assert abs(tau / 19.0 - 1) < 0.2, tau


def test_blocking_error_of_ar1_mean_matches_the_analytic_value(series):
    """Analytic: sqrt(sigma_x^2 (1 + phi) / (1 - phi) / n). Tolerance: the blocking estimate at the
    chosen level has relative standard deviation 1 / sqrt(2 (n_blocks - 1)) (Flyvbjerg & Petersen
    1989), times 5, plus its known finite-block bias for AR(1) at the chosen block size."""
    analytic = math.sqrt((1 / (1 - PHI**2)) * (1 + PHI) / (1 - PHI) / N_AR)
    est = blocking(series)
    levels = blocking_levels(series)
    assert levels.converged and est.method == "blocking"
    b = levels.block_size[levels.chosen]
    nb = levels.n_blocks[levels.chosen]
    bias = 1 - math.sqrt(ar1_block_mean_variance(PHI, b) / ((1 + PHI) / (1 - PHI)))
    tol = bias + 5 / math.sqrt(2 * (nb - 1))
    assert bias < 0.1 and tol < 0.2
    assert abs(est.stderr / analytic - 1) < tol, (est.stderr / analytic, tol, b)
    assert est.tau == pytest.approx(19.0, rel=2 * tol)
    # negative control: the naive error of independent draws is off by sqrt(tau) ~ 4.4
    naive = series.std(ddof=1) / math.sqrt(N_AR)
    assert abs(naive / analytic - 1) > tol


def test_correlated_mean_error_of_ar1_matches_the_analytic_value(series):
    """tau has relative sd about sqrt(2 (2M + 1) / n) with window M ~ 5 tau (Sokal 1997): ~4% here,
    so the error (sqrt tau) is within 5 x 2% = 10%."""
    analytic = math.sqrt((1 / (1 - PHI**2)) * (1 + PHI) / (1 - PHI) / N_AR)
    est = correlated_mean(series)
    assert abs(est.stderr / analytic - 1) < 0.10
    assert est.n == N_AR and est.value == pytest.approx(series.mean())


def test_blocking_and_tau_errors_of_independent_draws_are_the_naive_error(rng):
    x = rng.standard_normal(2**14)
    naive = x.std(ddof=1) / math.sqrt(x.size)
    # relative sd of the blocking error at level 0: 1/sqrt(2 n) < 1%; Jonsson's test may stop a level later
    assert blocking(x).stderr == pytest.approx(naive, rel=0.05)
    assert correlated_mean(x).stderr == pytest.approx(naive, rel=0.05)


def test_blocking_warns_when_the_series_is_too_short_for_its_correlation_time():
    x = ar1(0.999, 1000, seed=1)
    with pytest.warns(ShortChainWarning):
        blocking(x)


def test_blocking_of_several_chains_is_blocking_of_their_step_average(rng):
    chains = rng.standard_normal((4, 4096))
    assert blocking(chains).stderr == pytest.approx(blocking(chains.mean(axis=0)).stderr, rel=1e-12)
    assert blocking(chains).n == chains.size


def test_jackknife_of_a_ratio_matches_a_large_bootstrap():
    """Both estimate the delta-method error of mean(a) / mean(b). The bootstrap's Monte Carlo
    error with B = 20000 is 1 / sqrt(2 B) = 0.5% relative; the two differ by O(1/n) = 0.25% at
    n = 400. Tolerance 5 x 0.5% + 0.25% < 3%."""
    rng = np.random.default_rng(11)
    n = 400
    b = 1 + 0.3 * rng.standard_normal(n)
    a = 0.5 * b + 0.2 * rng.standard_normal(n)

    def ratio(u, v):
        return u.mean() / v.mean()

    jk = jackknife((a, b), ratio)
    bs = bootstrap((a, b), ratio, n_boot=20_000, rng=12)
    assert jk.method == "jackknife" and bs.method == "bootstrap" and jk.n == bs.n == n
    assert abs(jk.stderr / bs.stderr - 1) < 0.03
    # and both agree with the delta method written out
    r = a.mean() / b.mean()
    delta = math.sqrt(np.var(a - r * b, ddof=1) / n) / b.mean()
    assert abs(jk.stderr / delta - 1) < 0.01
    assert abs(jk.value - r) < 0.1 * jk.stderr  # bias correction is O(1/n), far below the error


def test_jackknife_bias_correction_turns_the_plug_in_variance_into_the_unbiased_one(rng):
    """An exact identity: the jackknife of var(ddof=0) is var(ddof=1) (Quenouille's correction)."""
    x = rng.standard_normal(37)
    est = jackknife(x, lambda v: v.var())
    assert est.value == pytest.approx(x.var(ddof=1), rel=1e-12)


def test_jackknife_of_the_mean_is_the_mean_with_sd_over_root_n(rng):
    x = rng.standard_normal(50)
    est = jackknife(x, np.mean)
    assert est.value == pytest.approx(x.mean(), rel=1e-12)
    assert est.stderr == pytest.approx(x.std(ddof=1) / math.sqrt(50), rel=1e-12)


def test_blocked_jackknife_leaves_out_contiguous_blocks(rng):
    x = rng.standard_normal(100)
    est = jackknife(x, np.mean, blocks=10)
    block_means = x.reshape(10, 10).mean(axis=1)
    assert est.n == 10
    assert est.stderr == pytest.approx(block_means.std(ddof=1) / math.sqrt(10), rel=1e-12)


def test_disorder_average_is_mean_with_sd_over_root_n():
    est = disorder_average([Estimate(1.0, 0.1), 2.0, Estimate(3.0, 0.0)])
    assert est.value == 2.0 and est.stderr == pytest.approx(1.0 / math.sqrt(3)) and est.n == 3
    single = disorder_average([4.0])
    assert single.value == 4.0 and math.isnan(single.stderr)


@pytest.mark.parametrize(
    "value, err, text",
    [
        (0.43214, 0.00123, "0.4321 ± 0.0012"),
        (12.3456, 0.25, "12.35 ± 0.25"),
        (-1.0, 0.5, "-1.00 ± 0.50"),
        (1234.5, 56.0, "1234 ± 56"),
        (1.234e-8, 5.6e-10, "(1.234 ± 0.056)e-08"),
        (0.5, 0.0, "0.5 ± 0"),
    ],
)
def test_estimate_prints_value_and_error_to_the_errors_second_digit(value, err, text):
    assert str(Estimate(value, err)) == text


def test_estimate_is_frozen_and_converts_to_float():
    est = Estimate(0.25, 0.01, n=10, tau=2.0, method="samples")
    assert float(est) == 0.25 and est.tau == 2.0 and est.n == 10
    with pytest.raises(AttributeError):
        est.value = 1.0


def test_short_series_of_correlated_mean_warn():
    x = ar1(0.99, 500, seed=3)
    with pytest.warns(ShortChainWarning):
        correlated_mean(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        correlated_mean(x, warn=False)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: correlated_mean([1.0]), "x"),
        (lambda: correlated_mean([1.0, np.nan, 2.0]), "x"),
        (lambda: blocking(np.ones((2, 2, 2))), "x"),
        (lambda: blocking_levels(np.arange(3.0)), "x"),
        (lambda: blocking_levels(np.arange(8.0), alpha=1.5), "alpha"),
        (lambda: jackknife(np.arange(5.0), "mean"), "func"),
        (lambda: jackknife(np.arange(1.0), np.mean), "samples"),
        (lambda: jackknife((np.arange(3.0), np.arange(4.0)), lambda a, b: a.mean()), "samples"),
        (lambda: jackknife(np.arange(5.0), lambda a: a), "func"),
        (lambda: jackknife(np.arange(5.0), np.mean, blocks=6), "blocks"),
        (lambda: bootstrap(np.arange(5.0), np.mean, rng=None), "rng"),
        (lambda: bootstrap(np.arange(5.0), np.mean, n_boot=1, rng=0), "n_boot"),
        (lambda: disorder_average([]), "values"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


def test_tau_int_rows_equals_tau_int_of_each_row():
    from mc.diagnostics import tau_int_rows

    rng = np.random.default_rng(3)
    x = lfilter([1.0], [1.0, -0.9], rng.standard_normal((12, 400)), axis=1)
    x[3] = 1.0  # constant: tau = 1
    x[4] = np.r_[np.zeros(200), np.ones(200)]  # one jump: the window never closes
    expected = np.array([tau_int(row, warn=False) for row in x])
    np.testing.assert_allclose(tau_int_rows(x), expected, rtol=1e-12)
