"""Yu & Huang's Franz-Parisi potential of the 1D two-Gaussian mixture and its N-dimensional version.

References used here, independent of the code under test: a brute-force Monte Carlo average of
``log Z(Q | x_ref, x_t)`` over joint draws written from the definition with scipy; finite
differences; ``E log p_t`` by scipy quadrature; the general Gaussian-mixture route of
``replica.franz_parisi`` (posterior objects, no reduced variables); mpmath for the noncentral
chi-square density.
"""
import math

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import mc
import replica
from replica import theory
from replica.potentials.yu_huang import YU_HUANG_MU, YU_HUANG_VARIANCE
from mc.special import log_bessel_iv
from replica.potentials.kernels import log_ncx2_pdf
from tests.conftest import within_standard_errors


def brute_force_yu_huang(Q, t, mu, variance, n, seed):
    """-E log Z(Q) over n joint (x_ref, x_t) draws, straight from Yu & Huang's definitions."""
    rng = np.random.default_rng(seed)
    a, D = math.exp(-t), 1.0 - math.exp(-2.0 * t)
    sigma = math.sqrt(variance)  # class standard deviation
    cls = rng.choice([-1.0, 1.0], n)
    x_ref = cls * mu + sigma * rng.standard_normal(n)
    x_t = a * x_ref + math.sqrt(D) * rng.standard_normal(n)

    def minus_h(x):  # -H = -(x_t - a x)^2 / (2D) + log p0(x), p0 normalised
        log_p0 = np.logaddexp(stats.norm.logpdf(x, mu, sigma), stats.norm.logpdf(x, -mu, sigma)) - math.log(2.0)
        return -((x_t - a * x) ** 2) / (2.0 * D) + log_p0

    means, errs = [], []
    for q in Q:
        r = math.sqrt(q)
        log_z = np.logaddexp(minus_h(x_ref + r), minus_h(x_ref - r)) - math.log(2.0 * r)
        means.append(-log_z.mean())
        errs.append(log_z.std(ddof=1) / math.sqrt(n))
    return np.array(means), np.array(errs)


@pytest.mark.parametrize("t", [0.1, 1.0])
def test_yu_huang_potential_matches_brute_force_average_over_joint_draws(t):
    Q = np.array([0.02, 0.5, 1.3, 2.5, 3.7, 6.0])
    mc_mean, mc_err = brute_force_yu_huang(Q, t, 1.0, 0.1, 200_000, seed=11)
    exact = replica.yu_huang_potential(Q, t)
    assert within_standard_errors(exact, mc_mean, mc_err).all(), (exact - mc_mean) / mc_err


def test_yu_huang_potential_brute_force_check_fails_for_wrong_variance_negative_control():
    Q = np.array([0.5, 1.3, 3.7])
    mc_mean, mc_err = brute_force_yu_huang(Q, 1.0, 1.0, 0.1, 200_000, seed=11)
    wrong = replica.yu_huang_potential(Q, 1.0, variance=0.12)
    assert not within_standard_errors(wrong, mc_mean, mc_err).all()


def test_likelihood_normalisation_shifts_by_half_log_two_pi_d():
    Q = np.array([0.3, 2.0])
    shift = replica.yu_huang_potential(Q, 0.7, likelihood_norm=True) - replica.yu_huang_potential(Q, 0.7)
    np.testing.assert_allclose(shift, 0.5 * math.log(2.0 * math.pi * (1.0 - math.exp(-1.4))), rtol=1e-13)


@pytest.mark.parametrize("t,mu,variance", [(0.05, 1.0, 0.1), (0.3, 1.0, 0.1), (1.5, 2.0, 0.5)])
def test_yu_huang_derivatives_match_finite_differences(t, mu, variance):
    Q = np.array([0.05, 0.8, 2.1, 4.0, 7.5])
    V, dV, d2V = replica.yu_huang_potential_derivatives(Q, t, mu=mu, variance=variance)
    np.testing.assert_allclose(V, replica.yu_huang_potential(Q, t, mu=mu, variance=variance), rtol=0, atol=1e-12)
    h = 1e-4 * Q
    vp = replica.yu_huang_potential(Q + h, t, mu=mu, variance=variance)
    vm = replica.yu_huang_potential(Q - h, t, mu=mu, variance=variance)
    # central differences: truncation h^2 |V'''| / 6 and rounding ~1e-13 / h (resp. / h^2)
    np.testing.assert_allclose(dV, (vp - vm) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d2V, (vp - 2 * V + vm) / h**2, rtol=1e-4, atol=1e-3)


def test_secondary_minimum_at_t1_is_located_and_detected_as_fragmented():
    row = replica.yu_huang_extrema(1.0).iloc[0]
    assert row.exists and row.q_barrier < row.q_secondary and row.barrier > 1.0
    _, dv, d2v = replica.yu_huang_potential_derivatives(np.array([row.q_barrier, row.q_secondary]), 1.0)
    assert np.abs(dv).max() < 1e-9 and d2v[0] < 0 < d2v[1]
    q = np.linspace(0.05, 8.0, 160)
    curve = pd.DataFrame({"q": q, "V": replica.yu_huang_potential(q, 1.0), "stderr": 0.0, "n_dim": 1})
    fp = replica.FranzParisi().fit(curve)
    assert fp.fragmented_
    sec = fp.secondary_minimum_
    spacing = q[1] - q[0]
    assert abs(sec.q.value - row.q_secondary) < spacing / 4
    assert abs(sec.barrier.value - row.barrier) < 1e-3
    assert abs(sec.q_barrier - row.q_barrier) < spacing / 4


def test_no_secondary_minimum_at_small_t_or_for_a_unimodal_prior_negative_controls():
    # Small t: both posterior components sit at y, the distance between them ~ 2 s mu / variance -> 0.
    # (Large t is no negative control for these parameters: the posterior tends to p0, which is
    # bimodal since mu^2 > variance, so the secondary minimum persists; a unimodal p0 has none at any t.)
    q = np.linspace(0.05, 8.0, 160)
    assert not replica.yu_huang_extrema(0.1).iloc[0].exists
    curve = pd.DataFrame({"q": q, "V": replica.yu_huang_potential(q, 0.1), "stderr": 0.0, "n_dim": 1})
    assert not replica.FranzParisi().fit(curve).fragmented_
    rows = replica.yu_huang_extrema([0.3, 1.0, 5.0], mu=1.0, variance=1.5)
    assert not rows.exists.any()
    assert replica.yu_huang_extrema(5.0).iloc[0].exists


def test_disappearance_time_is_where_the_secondary_minimum_stops_existing():
    sp = replica.yu_huang_disappearance_time()
    # before (below) the speciation time of these parameters, a different quantity
    assert 0.1 < sp.t < theory.speciation_time_potential(YU_HUANG_MU**2, YU_HUANG_VARIANCE)
    assert abs(sp.dV) < 1e-9 and abs(sp.d2V) < 1e-5
    below, above = replica.yu_huang_extrema([sp.t * (1 - 1e-3), sp.t * (1 + 1e-3)]).exists
    assert not below and above
    # independent of the derivative code: V on a fine Q grid is monotone just below t_d, not just above
    q = np.linspace(sp.q - 0.4, sp.q + 0.4, 4001)
    assert np.all(np.diff(replica.yu_huang_potential(q, sp.t * (1 - 1e-2))) > 0)
    assert np.any(np.diff(replica.yu_huang_potential(q, sp.t * (1 + 1e-2))) < 0)


def test_nd_potential_at_n1_is_yu_huang_plus_the_log_evidence():
    t, mu, variance = 1.0, 1.0, 0.1
    a, D = math.exp(-t), 1.0 - math.exp(-2.0 * t)
    G = D + a * a * variance

    def p_t(x):
        return 0.5 * (stats.norm.pdf(x, a * mu, math.sqrt(G)) + stats.norm.pdf(x, -a * mu, math.sqrt(G)))

    e_log_pt = integrate.quad(lambda x: p_t(x) * math.log(p_t(x)), -12, 12, epsabs=1e-13)[0]
    Q = np.array([0.3, 1.3, 3.6, 6.0])
    nd = replica.yu_huang_potential_nd(Q, t, 1, n_samples=100_000, seed=1)
    expected = replica.yu_huang_potential(Q, t) + 0.5 * math.log(2 * math.pi * D) + e_log_pt
    assert within_standard_errors(nd["V"], expected, nd["stderr"]).all()


def test_nd_potential_matches_the_general_gaussian_mixture_route_with_planted_references():
    n, t, mu, variance = 6, 0.8, 1.0, 0.1
    Q = np.array([0.1, 0.25, 1.0, 2.5, 4.0])
    reduced = replica.yu_huang_potential_nd(Q, t, n, mu=mu, variance=variance, n_samples=40_000, seed=5)
    model = mc.GaussianMixture.two_class(np.full(n, mu), variance=variance)
    general = replica.franz_parisi_quenched(model, mc.VP(), t, n_disorder=600, seed=9, reference="planted",
                                            q_grid=Q, order_parameter="distance")
    se = np.hypot(reduced["stderr"], general["stderr"])
    assert within_standard_errors(reduced["V"], general["V"], se).all(), (reduced["V"] - general["V"]) / se


def test_barrier_is_extensive_n_times_barrier_grows_linearly_with_n():
    # Large deviations: V_N(Q) -> V_inf(Q) + O(log N / N), so b_N = N B / N converges and its
    # increments shrink; the numbers are printed in the report of the issue.
    q = np.linspace(0.05, 8.0, 200)
    per_n = []
    for n in (16, 64, 256):
        frame, units = replica.yu_huang_potential_nd(q, 1.0, n, n_samples=2000, seed=3, return_units=True)
        samples = replica.FranzParisiSamples(q, units, n, exact=False, method="exact", order_parameter="distance")
        fp = replica.FranzParisi().fit(samples)
        assert fp.fragmented_
        per_n.append((fp.barrier_.value / n, fp.barrier_.stderr / n))
    b = np.array([v for v, _ in per_n])
    err = np.array([e for _, e in per_n])
    assert np.all(np.diff(b) > 5 * np.hypot(err[1:], err[:-1]))  # b_N increases ...
    assert b[2] - b[1] < 0.6 * (b[1] - b[0])                      # ... towards a limit
    assert 2.5 < b[-1] < 4.0


# -- kernels ---------------------------------------------------------------------------------------
def test_log_ncx2_pdf_matches_mpmath_far_in_the_tails():
    mpmath.mp.dps = 40

    def ref(x, k, lam):
        x, k, lam = mpmath.mpf(x), mpmath.mpf(k), mpmath.mpf(lam)
        if lam == 0:
            return mpmath.log(x ** (k / 2 - 1) * mpmath.e ** (-x / 2) / (2 ** (k / 2) * mpmath.gamma(k / 2)))
        nu = k / 2 - 1
        bessel = mpmath.besseli(nu, mpmath.sqrt(lam * x))
        return mpmath.log(0.5) - (x + lam) / 2 + nu / 2 * mpmath.log(x / lam) + mpmath.log(bessel)

    for k in (1, 2, 3, 20, 101, 1000, 4000):
        for lam in (0.0, 1e-8, 0.3, 50.0, 1e4):
            x = np.array([1e-10, 1e-3, 3.0, 700.0, 2e4])
            got = log_ncx2_pdf(x, k, lam)
            want = np.array([float(ref(v, k, lam)) for v in x])
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


def test_log_ncx2_pdf_matches_scipy_where_scipy_is_finite_and_log_iv_matches_mpmath():
    x = np.linspace(0.1, 60, 50)
    for k, lam in ((1, 2.0), (5, 10.0), (30, 0.5)):
        np.testing.assert_allclose(log_ncx2_pdf(x, k, lam), stats.ncx2.logpdf(x, k, lam), rtol=1e-9, atol=1e-9)
    for nu in (-0.5, 0.0, 3.5, 500.0):
        for z in (1e-200, 1e-3, 30.0, 1e5):
            want = float(mpmath.log(mpmath.besseli(nu, z)))
            assert log_bessel_iv(nu, z) == pytest.approx(want, rel=1e-11, abs=1e-11)


# -- bad input ----------------------------------------------------------------------------------------
def test_yu_huang_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="Q"):
        replica.yu_huang_potential([0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="t"):
        replica.yu_huang_potential(1.0, -1.0)
    with pytest.raises(ValueError, match="variance"):
        replica.yu_huang_potential(1.0, 1.0, variance=0.0)
    with pytest.raises(ValueError, match="t_range"):
        replica.yu_huang_disappearance_time(t_range=(1.0, 0.5))
    with pytest.raises(ValueError, match="n_dim"):
        replica.yu_huang_potential_nd([1.0], 1.0, 0)
