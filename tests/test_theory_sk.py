"""The Sherrington-Kirkpatrick posterior of ``replica.theory``: RS overlap, replicon, AT line, times.

References independent of the code under test: ``scipy.integrate.quad`` (adaptive quadrature)
for the Gaussian averages and for the RS fixed point (solved with its own Brent search); the
closed forms of the forward processes in ``mc``; the asymptotes of the AT line derived in the
module docstring (cubic near ``T_c`` with prefactor 4/3, ``(8 / (9 pi)) (beta J)^4`` at low
temperature); a Brent search in ``log t`` for the crossing time.
"""
import math

import numpy as np
import pytest
from scipy import integrate, optimize

import mc
from replica import theory as th
from replica.theory import sherrington_kirkpatrick as sk


def _gauss_mean(f, sigma):
    """``E_z f(sigma z)`` for an even ``f`` by adaptive quadrature in ``y = sigma z``."""
    def g(y):
        return f(y) * math.exp(-0.5 * (y / sigma) ** 2) / (math.sqrt(2.0 * math.pi) * sigma)

    upper = min(60.0 * sigma, 80.0) if f is not _tanh2 else 60.0 * sigma
    return 2.0 * integrate.quad(g, 0.0, upper, epsabs=1e-15, epsrel=1e-13, limit=500)[0]


def _tanh2(y):
    return math.tanh(y) ** 2


def _sech4(y):
    return 1.0 / math.cosh(y) ** 4 if abs(y) < 300 else 0.0


def _quad_fixed_point(bj, h2):
    """RS overlap by quad inside Brent's method on ``q - E tanh^2(sqrt(bj^2 q + h2) z)``."""
    def gap(q):
        return q - _gauss_mean(_tanh2, math.sqrt(bj * bj * q + h2))

    lo = 1e-6 if h2 == 0.0 else 0.0
    return optimize.brentq(gap, lo, 1.0, xtol=1e-14, rtol=1e-13)


def _quad_replicon(bj, q, h2):
    return 1.0 - bj * bj * _gauss_mean(_sech4, math.sqrt(bj * bj * q + h2))


# ------------------------------------------------------------------------------------------
# quadrature and RS overlap
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [1e-3, 0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 100.0])
def test_gaussian_averages_match_adaptive_quadrature(sigma):
    e_tanh2, e_one_minus_sech4, e_sech4 = sk._moments(sigma)
    assert e_sech4 == pytest.approx(_gauss_mean(_sech4, sigma), abs=1e-12)
    assert e_one_minus_sech4 == pytest.approx(1.0 - e_sech4, abs=1e-15)
    if sigma < 50:
        assert e_tanh2 == pytest.approx(_gauss_mean(_tanh2, sigma), abs=1e-12, rel=1e-12)


@pytest.mark.parametrize("bj, h2", [(1.5, 0.3), (0.7, 0.5), (2.5, 2.0), (1.2, 0.0), (2.0, 0.0)])
def test_rs_overlap_matches_a_fixed_point_solved_with_adaptive_quadrature(bj, h2):
    q = th.sk_rs_overlap(bj, 1.0, h2)
    assert q == pytest.approx(_quad_fixed_point(bj, h2), abs=1e-8)
    # it is a fixed point of the map by the independent quadrature
    assert q - _gauss_mean(_tanh2, math.sqrt(bj * bj * q + h2)) == pytest.approx(0.0, abs=1e-10)


def test_zero_field_overlap_vanishes_above_tc_and_grows_linearly_below():
    for bj in (0.3, 0.9, 1.0):
        assert th.sk_rs_overlap(bj) == 0.0
        assert th.sk_replicon(bj) == pytest.approx(1.0 - bj * bj, abs=1e-14)
    # q = (beta J - 1) + O((beta J - 1)^2) near T_c, checked against quad
    for eps in (1e-3, 1e-2):
        q = th.sk_rs_overlap(1.0 + eps)
        assert q == pytest.approx(_quad_fixed_point(1.0 + eps, 0.0), rel=1e-6)
        assert abs(q / eps - 1.0) < 1.0 * eps


def test_zero_field_rs_solution_is_unstable_below_tc():
    for bj in (1.01, 1.2, 1.5, 2.0, 3.0, 10.0):
        lam = th.sk_replicon(bj)
        assert lam < 0
        assert lam == pytest.approx(_quad_replicon(bj, _quad_fixed_point(bj, 0.0), 0.0), abs=1e-8)


def test_overlap_and_replicon_increase_with_the_field_and_depend_on_beta_j_only():
    h2 = np.array([0.0, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e8])
    q = [th.sk_rs_overlap(2.0, 1.0, x) for x in h2]
    lam = [th.sk_replicon(2.0, 1.0, x) for x in h2]
    assert np.all(np.diff(q) > 0) and np.all(np.diff(lam) > 0)
    assert q[-1] == pytest.approx(1.0, abs=1e-3) and lam[-1] == pytest.approx(1.0, abs=1e-3)
    assert th.sk_rs_overlap(0.5, 4.0, 0.7) == pytest.approx(th.sk_rs_overlap(2.0, 1.0, 0.7), rel=1e-14)
    assert th.sk_replicon(4.0, 0.5, 0.7) == pytest.approx(th.sk_replicon(2.0, 1.0, 0.7), rel=1e-12)


# ------------------------------------------------------------------------------------------
# de Almeida-Thouless line
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bj", [1.05, 1.5, 2.0, 3.0])
def test_replicon_vanishes_on_the_at_line_and_changes_sign_across_it(bj):
    h2 = th.sk_at_field_variance(bj)
    assert h2 > 0
    assert abs(th.sk_replicon(bj, 1.0, h2)) < 1e-12
    # by the independent quadrature, at the independently solved RS overlap
    assert abs(_quad_replicon(bj, _quad_fixed_point(bj, h2), h2)) < 1e-8
    assert th.sk_replicon(bj, 1.0, 0.99 * h2) < 0 < th.sk_replicon(bj, 1.0, 1.01 * h2)


def test_at_line_is_cubic_near_tc_with_the_derived_prefactor():
    eps = np.geomspace(1e-3, 5e-2, 8)
    h2 = np.array([th.sk_at_field_variance(1.0 + e) for e in eps])
    slope = np.polyfit(np.log(eps), np.log(h2), 1)[0]
    assert abs(slope - 3.0) < 0.1
    # derived: H^2_AT = (4/3) eps^3 (1 + O(eps)); the ratio tends to 1
    ratio = h2 / (4.0 / 3.0 * eps ** 3)
    assert abs(ratio[0] - 1.0) < 1e-3
    assert np.all(np.abs(ratio - 1.0) < 5.0 * eps)


def test_at_line_at_low_temperature_follows_the_derived_power_law():
    # derived: H^2_AT = (8 / (9 pi)) (beta J)^4 (1 - c), 0 < c < 9 pi / (8 (beta J)^2)
    for bj in (20.0, 40.0):
        c = 1.0 - th.sk_at_field_variance(bj) / (8.0 / (9.0 * math.pi) * bj ** 4)
        assert 0.0 < c < 9.0 * math.pi / (8.0 * bj * bj)


def test_paramagnetic_prior_has_no_at_line():
    for bj in (0.5, 0.8, 1.0):
        assert math.isnan(th.sk_at_field_variance(bj))
        assert math.isnan(th.sk_fragmentation_time(bj))
        for h2 in (0.0, 1e-4, 1.0):
            lam = th.sk_replicon(bj, 1.0, h2)
            assert lam > 0 or (bj == 1.0 and h2 == 0.0 and lam == 0.0)  # marginal at T_c, H = 0


# ------------------------------------------------------------------------------------------
# diffusion time
# ------------------------------------------------------------------------------------------
def test_field_variance_matches_the_forward_processes_of_mc_and_decreases_in_time():
    t = np.array([1e-4, 0.05, 0.5, 1.0, 3.0])
    vp, ve = mc.VP(), mc.VE(0.7)
    np.testing.assert_allclose(th.sk_field_variance(t, 2.0), 2.0 * vp.a(t) ** 2 / vp.D(t) ** 2, rtol=1e-13)
    np.testing.assert_allclose(th.sk_field_variance(t, 2.0, "ve", sigma=0.7), 2.0 * ve.a(t) ** 2 / ve.D(t) ** 2,
                               rtol=1e-13)
    np.testing.assert_allclose(th.sk_field_variance(t, 1.0), 1.0 / (4.0 * np.sinh(t) ** 2), rtol=1e-12)
    assert np.all(np.diff(th.sk_field_variance(t, 1.0)) < 0)
    assert np.all(np.diff(th.sk_field_variance(t, 1.0, "ve")) < 0)
    assert isinstance(th.sk_field_variance(0.5, 1.0), float)


@pytest.mark.parametrize("process, sigma", [("vp", 1.0), ("ve", 1.0), ("ve", 0.6)])
@pytest.mark.parametrize("bj", [1.5, 2.0, 3.0])
def test_fragmentation_time_is_where_the_field_crosses_the_at_line(bj, process, sigma):
    v = 1.3
    h2_at = th.sk_at_field_variance(bj)
    t_f = th.sk_fragmentation_time(bj, 1.0, v, process, sigma=sigma)
    assert th.sk_field_variance(t_f, v, process, sigma=sigma) == pytest.approx(h2_at, rel=1e-10)
    # an independent Brent search in log t
    log_t = optimize.brentq(lambda u: th.sk_field_variance(math.exp(u), v, process, sigma=sigma) - h2_at,
                            -20.0, 10.0, xtol=1e-14, rtol=1e-14)
    assert t_f == pytest.approx(math.exp(log_t), rel=1e-10)
    # replica-symmetric before t_F, fragmented after
    dt = 1e-3 * t_f
    for t, sign in ((t_f - dt, 1.0), (t_f + dt, -1.0)):
        h2 = th.sk_field_variance(t, v, process, sigma=sigma)
        assert sign * th.sk_replicon(bj, 1.0, h2) > 0


def test_fragmentation_time_of_vp_and_ve_agree_through_s_and_the_rescaled_variance():
    # H^2 = (v / a_t^2) / s^2 for both processes: VP at variance v reaches the AT line at s_F;
    # VE(sigma) with the rescaled variance v e^{2 t_F} reaches it at t = s_F / sigma^2.
    bj, v, sigma = 2.0, 0.8, 1.7
    t_vp = th.sk_fragmentation_time(bj, 1.0, v, "vp")
    s_f = th.s_from_time(t_vp, "vp")
    t_ve = th.sk_fragmentation_time(bj, 1.0, v * math.exp(2.0 * t_vp), "ve", sigma=sigma)
    assert t_ve == pytest.approx(th.time_from_s(s_f, "ve", sigma=sigma), rel=1e-12)


def test_fragmentation_time_grows_with_the_data_variance_and_falls_with_beta_j():
    vs = [0.25, 0.5, 1.0, 2.0, 4.0]
    for process in ("vp", "ve"):
        t = [th.sk_fragmentation_time(2.0, 1.0, v, process) for v in vs]
        assert np.all(np.diff(t) > 0)
    t = [th.sk_fragmentation_time(bj) for bj in (1.05, 1.5, 2.0, 3.0)]
    assert np.all(np.diff(t) < 0)
    assert th.sk_fragmentation_time(1.0, 2.0) == pytest.approx(th.sk_fragmentation_time(2.0), rel=1e-14)


def test_rs_overlap_at_time_is_the_rs_overlap_at_the_field_of_that_time():
    t = np.array([0.05, 0.2, 0.5, 1.0, 2.0, 30.0])
    q = th.sk_rs_overlap_at_time(t, 2.0, v=1.5)
    h2 = th.sk_field_variance(t, 1.5)
    np.testing.assert_allclose(q, [th.sk_rs_overlap(2.0, 1.0, x) for x in h2], rtol=1e-14)
    assert np.all(np.diff(q) < 0)
    assert q[-1] == pytest.approx(th.sk_rs_overlap(2.0), rel=1e-10)  # VP: the field dies out
    assert isinstance(th.sk_rs_overlap_at_time(0.3, 2.0), float)
    q_ve = th.sk_rs_overlap_at_time(0.4, 2.0, process="ve", sigma=0.5)
    assert q_ve == pytest.approx(th.sk_rs_overlap(2.0, 1.0, 1.0 / (0.5 ** 4 * 0.4 ** 2)), rel=1e-14)


# ------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: th.sk_rs_overlap(0.0), "beta"),
    (lambda: th.sk_rs_overlap(-1.0), "beta"),
    (lambda: th.sk_replicon(1.0, J=0.0), "J"),
    (lambda: th.sk_rs_overlap(1.0, 1.0, -0.1), "field_variance"),
    (lambda: th.sk_at_field_variance(float("nan")), "beta"),
    (lambda: th.sk_field_variance(0.0, 1.0), "t"),
    (lambda: th.sk_field_variance([0.5, -1.0], 1.0), "t"),
    (lambda: th.sk_field_variance(0.5, 0.0), "v"),
    (lambda: th.sk_field_variance(0.5, 1.0, "ddpm"), "process"),
    (lambda: th.sk_field_variance(0.5, 1.0, "ve", sigma=0.0), "sigma"),
    (lambda: th.sk_fragmentation_time(2.0, v=-1.0), "v"),
    (lambda: th.sk_fragmentation_time(2.0, J=-1.0), "J"),
    (lambda: th.sk_rs_overlap_at_time(0.0, 2.0), "t"),
    (lambda: th.sk_rs_overlap_at_time(0.5, 2.0, v=0.0), "v"),
])
def test_invalid_inputs_are_rejected_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


def test_the_ve_standard_deviation_is_keyword_only():
    with pytest.raises(TypeError):
        th.sk_fragmentation_time(2.0, 1.0, 1.0, "ve", 0.5)
    with pytest.raises(TypeError):
        th.sk_field_variance(0.5, 1.0, "ve", 0.5)


# ------------------------------------------------------------------------------------------
# RS spin-glass susceptibility
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bj,h2", [(0.5, 0.3), (1.5, 6.0), (1.5, 1.0), (2.0, 3.0)])
def test_rs_spin_glass_susceptibility_is_e_sech4_over_the_replicon_by_quadrature(bj, h2):
    q = _quad_fixed_point(bj, h2)
    e_s4 = _gauss_mean(_sech4, math.sqrt(bj * bj * q + h2))
    lam = _quad_replicon(bj, q, h2)
    assert lam > 0
    assert th.sk_rs_spin_glass_susceptibility(bj, 1.0, h2) == pytest.approx(e_s4 / lam, rel=1e-9)


def test_rs_spin_glass_susceptibility_limits():
    # zero-field paramagnet: the high-temperature series 1 / (1 - (beta J)^2)
    for bj in (0.1, 0.5, 0.9):
        assert th.sk_rs_spin_glass_susceptibility(bj) == pytest.approx(1.0 / (1.0 - bj * bj), rel=1e-12)
    # vanishing couplings: independent spins in the field, chi = E (1 - m^2)^2 = E sech^4(H z)
    assert th.sk_rs_spin_glass_susceptibility(1e-6, 1.0, 2.0) == pytest.approx(
        _gauss_mean(_sech4, math.sqrt(2.0)), rel=1e-9)
    # below T_c at zero field RS is unstable: no RS value
    assert math.isnan(th.sk_rs_spin_glass_susceptibility(1.5))


@pytest.mark.parametrize("bj", [1.5, 2.0])
def test_rs_spin_glass_susceptibility_diverges_at_the_fragmentation_time(bj):
    t_f = th.sk_fragmentation_time(bj)
    t = t_f * np.array([0.5, 0.9, 0.99, 0.999])
    chi = th.sk_rs_spin_glass_susceptibility_at_time(t, bj)
    assert np.all(np.diff(chi) > 0) and chi[-1] > 100 * chi[0]
    # 1 / chi vanishes linearly in t - t_F (the replicon does): the last two steps shrink 10x
    inv = 1.0 / chi
    assert inv[-2] / inv[-1] == pytest.approx(10.0, rel=0.05)
    assert np.isnan(th.sk_rs_spin_glass_susceptibility_at_time(1.01 * t_f, bj))
