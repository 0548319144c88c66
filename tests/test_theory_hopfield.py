"""The Hopfield posterior of ``replica.theory``: AGS replica-symmetric theory in a planted field.

References independent of the code under test: ``scipy.integrate.quad`` for the Gaussian
averages (in the AGS two-noise form ``beta (m + sqrt(alpha r) z1) + g + sqrt(g) z2`` integrated
over both noises where it matters, otherwise over the combined noise), a direct Brent search of
the Curie-Weiss (Mattis) equation, :func:`replica.theory.curie_weiss_magnetisation`, and the AGS
facts ``alpha_c(T = 0) = 0.138`` and retrieval being the global RS minimum only below
``alpha = 0.051``.
"""
import math

import numpy as np
import pytest
from scipy import integrate, optimize

from replica import theory as th
from replica.theory import hopfield as hf


def _e(f, mu, sigma):
    """``E f(mu + sigma z)`` by adaptive quadrature in ``z``."""
    if sigma == 0.0:
        return f(mu)

    def w(z):
        return f(mu + sigma * z) * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    return integrate.quad(w, -12.0, 12.0, epsabs=1e-13, epsrel=1e-12, limit=400, points=[-mu / sigma])[0]


def _tanh2(y):
    return math.tanh(y) ** 2


def _residuals(sol, beta, alpha, g):
    """Both RS equations in the AGS form, the two independent noises averaged separately."""
    if alpha == 0.0:
        mu, sig = beta * sol.m + g, math.sqrt(g)
        return abs(_e(math.tanh, mu, sig) - sol.m), abs(_e(_tanh2, mu, sig) - sol.q)
    assert sol.r == pytest.approx(sol.q / (1.0 - beta * (1.0 - sol.q)) ** 2, rel=1e-12)
    assert 1.0 - beta * (1.0 - sol.q) > 0.0
    noise = beta * math.sqrt(alpha * sol.r)
    if g == 0.0:  # the AGS equations themselves: m = E tanh(beta (m + sqrt(alpha r) z))
        return (abs(_e(lambda y: math.tanh(beta * y), sol.m, math.sqrt(alpha * sol.r)) - sol.m),
                abs(_e(lambda y: math.tanh(beta * y) ** 2, sol.m, math.sqrt(alpha * sol.r)) - sol.q))

    def outer(f):  # E_{z1} E_{z2} f(beta m + beta sqrt(alpha r) z1 + g + sqrt(g) z2)
        return _e(lambda y: _e(f, y, math.sqrt(g)), beta * sol.m + g, noise)

    return abs(outer(math.tanh) - sol.m), abs(outer(_tanh2) - sol.q)


# ------------------------------------------------------------------------------------------
# quadrature and fixed points
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu, sigma", [(0.3, 0.0), (0.3, 0.2), (-1.0, 0.99), (2.0, 1.0), (0.5, 3.0), (20.0, 4.5),
                                       (-3.0, 30.0)])
def test_gaussian_averages_match_adaptive_quadrature(mu, sigma):
    e_tanh, e_sech2 = hf._averages(mu, sigma)
    assert e_tanh == pytest.approx(_e(math.tanh, mu, sigma), abs=1e-13)
    assert e_sech2 == pytest.approx(_e(lambda y: 1.0 / math.cosh(y) ** 2 if abs(y) < 300 else 0.0, mu, sigma),
                                    abs=1e-13)
    ref = _e(lambda y: abs(y) + math.log1p(math.exp(-2.0 * abs(y))), mu, sigma)
    assert hf._e_log2cosh(mu, sigma) == pytest.approx(ref, abs=1e-12, rel=1e-12)


@pytest.mark.parametrize("beta, alpha, g", [(10.0, 0.05, 0.0), (10.0, 0.1, 0.01), (2.0, 0.3, 1.0), (0.5, 0.1, 0.3),
                                            (1.5, 0.0, 0.2), (4.0, 0.02, 0.0)])
def test_fixed_points_satisfy_the_rs_equations(beta, alpha, g):
    sols = th.hopfield_rs_solutions(beta, alpha, g)
    assert sols and all(a.m > b.m for a, b in zip(sols, sols[1:]))
    for sol in sols:
        assert max(_residuals(sol, beta, alpha, g)) < 1e-10
        assert sol.residual < 1e-12


def test_zero_field_retrieval_and_spin_glass_solutions_at_low_temperature():
    # AGS at T = 0.1, g = 0: retrieval +-m, and the spin glass m = 0 with q < 1.
    sols = th.hopfield_rs_solutions(10.0, 0.05, 0.0)
    assert [round(s.m, 12) for s in sols] == [round(sols[0].m, 12), 0.0, -round(sols[0].m, 12)]
    assert sols[0].m > 0.999 and sols[0].free_energy == pytest.approx(sols[2].free_energy, abs=1e-12)
    assert 0.9 < sols[1].q < sols[0].q


def test_free_energy_orders_retrieval_and_spin_glass_as_ags():
    # AGS: at low temperature retrieval is the global RS minimum only below alpha ~ 0.051.
    for alpha, retrieval_wins in [(0.03, True), (0.1, False)]:
        sols = th.hopfield_rs_solutions(10.0, alpha, 0.0)
        retr = sols[0]
        sg = next(s for s in sols if s.m == 0.0)
        assert retr.m > 0.99
        assert (retr.free_energy < sg.free_energy) == retrieval_wins


def test_free_energy_is_stationary_at_the_fixed_point():
    beta, alpha, g = 2.0, 0.3, 1.0
    sol = th.hopfield_rs_solutions(beta, alpha, g)[0]

    def phi(m, q, r):
        p = 1.0 - q
        sig = math.sqrt(alpha * beta * beta * r + g)
        d = 1.0 - beta * p
        return (0.5 * beta * m * m + 0.5 * alpha * (math.log(d) - beta * q / d) + 0.5 * alpha * beta * beta * r * p
                - _e(lambda y: abs(y) + math.log1p(math.exp(-2.0 * abs(y))), beta * m + g, sig))

    assert phi(sol.m, sol.q, sol.r) == pytest.approx(sol.free_energy, abs=1e-11)
    h = 1e-5
    for k in range(3):
        x = [sol.m, sol.q, sol.r]
        xp, xm = list(x), list(x)
        xp[k] += h
        xm[k] -= h
        assert abs(phi(*xp) - phi(*xm)) / (2 * h) < 1e-7


# ------------------------------------------------------------------------------------------
# limits: Curie-Weiss at zero loading, AGS capacity at zero field
# ------------------------------------------------------------------------------------------
def test_zero_loading_zero_field_is_curie_weiss():
    cw = th.curie_weiss_magnetisation(np.zeros(1), 1.5)  # J = 1: W has the 1/N normalisation
    direct = optimize.brentq(lambda m: math.tanh(1.5 * m) - m, 0.1, 1.0, xtol=1e-15, rtol=1e-15)
    assert direct == pytest.approx(0.858559636, abs=1e-9)
    m0 = th.hopfield_rs_solutions(1.5, 0.0, 0.0)
    assert [s.m for s in m0][1] == 0.0 and len(m0) == 3
    assert m0[0].m == pytest.approx(direct, abs=1e-13)
    assert m0[0].m == pytest.approx(abs(cw.m_global), abs=1e-12)  # +-m degenerate
    assert m0[0].free_energy == pytest.approx(float(cw.free_energy[-1]), abs=1e-12)
    small = th.hopfield_rs_solutions(1.5, 1e-8, 0.0)[0]  # alpha -> 0: continuous
    assert small.m == pytest.approx(direct, abs=1e-6)


def test_zero_loading_in_a_field_is_the_mattis_mean_field():
    beta, g = 1.5, 0.2
    direct = optimize.brentq(lambda m: _e(math.tanh, beta * m + g, math.sqrt(g)) - m, 0.0, 1.0,
                             xtol=1e-14, rtol=1e-14)
    sols = th.hopfield_rs_solutions(beta, 0.0, g)
    assert sols[0].m == pytest.approx(direct, abs=1e-11)
    para = th.hopfield_rs_solutions(0.5, 0.0, 0.0)  # high temperature, no field: paramagnet only
    assert len(para) == 1 and (para[0].m, para[0].q, para[0].r) == (0.0, 0.0, 0.0)


def test_ags_capacity_at_low_temperature():
    # g = 0, beta = 10: the retrieval solution (m > 0.5) disappears at alpha_c ~ 0.138 (AGS, T = 0).
    def retrieves(alpha):
        return any(s.m > 0.5 for s in th.hopfield_rs_solutions(10.0, alpha, 0.0))

    lo, hi = 0.12, 0.16
    assert retrieves(lo) and not retrieves(hi)
    for _ in range(6):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if retrieves(mid) else (lo, mid)
    assert 0.13 <= lo <= hi <= 0.15


# ------------------------------------------------------------------------------------------
# in diffusion time
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_retrieval_overlap_decreases_with_time_and_tends_to_one(alpha):
    t = np.array([1e-4, 1e-2, 0.1, 0.2, 0.4, 0.7, 1.0, 2.0, 4.0])
    m = th.hopfield_retrieval_overlap(t, 10.0, alpha)
    assert m.shape == t.shape and np.all(np.diff(m) <= 1e-14)
    assert m[0] > 1.0 - 1e-12
    assert th.hopfield_retrieval_overlap(1e-3, 10.0, alpha) > 1.0 - 1e-12
    late = th.hopfield_rs_solutions(10.0, alpha, 1.0 / math.expm1(8.0))[0].m
    assert m[-1] == pytest.approx(late, abs=1e-12)
    if alpha == 0.05:  # below capacity: tends to the AGS retrieval overlap
        assert m[-1] == pytest.approx(th.hopfield_rs_solutions(10.0, alpha, 0.0)[0].m, abs=1e-4)
    else:  # above capacity: the retrieval branch ends at a spinodal
        assert m[-1] < 0.1 and m[2] > 0.9


def test_retrieval_overlap_processes_and_shapes():
    # VE with sigma: g = 1 / (sigma^2 t); VP: g = 1 / expm1(2 t).
    m_ve = th.hopfield_retrieval_overlap(0.5, 1.0, 0.1, "ve", sigma=2.0)
    assert isinstance(m_ve, float)
    assert m_ve == pytest.approx(th.hopfield_rs_solutions(1.0, 0.1, 1.0 / (4.0 * 0.5))[0].m, abs=1e-13)
    m_vp = th.hopfield_retrieval_overlap([0.3], 1.0, 0.1)
    assert m_vp.shape == (1,)
    assert m_vp[0] == pytest.approx(th.hopfield_rs_solutions(1.0, 0.1, 1.0 / math.expm1(0.6))[0].m, abs=1e-13)


@pytest.mark.parametrize("kwargs, name", [
    ({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"), ({"loading": -0.1}, "loading"), ({"g": -1e-3}, "g"),
    ({"g": math.inf}, "g"),
])
def test_rs_solutions_validate_inputs(kwargs, name):
    args = {"beta": 2.0, "loading": 0.1, "g": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}:"):
        th.hopfield_rs_solutions(**args)


@pytest.mark.parametrize("args, kwargs, name", [
    ((0.0, 2.0, 0.1), {}, "t"), (([0.1, -1.0], 2.0, 0.1), {}, "t"), ((0.1, 0.0, 0.1), {}, "beta"),
    ((0.1, 2.0, -0.1), {}, "loading"), ((0.1, 2.0, 0.1, "xx"), {}, "process"),
    ((0.1, 2.0, 0.1, "ve"), {"sigma": 0.0}, "sigma"),
])
def test_retrieval_overlap_validates_inputs(args, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        th.hopfield_retrieval_overlap(*args, **kwargs)


def _mattis_m(beta, g):
    """Largest root of the zero-loading equation m = E tanh(beta m + g + sqrt(g) z), by quadrature
    and a direct Brent search (independent of the module)."""
    def f(m):
        return _e(lambda x: math.tanh(x), beta * m + g, math.sqrt(g)) - m

    grid = np.linspace(-1.0, 1.0, 401)
    vals = [f(m) for m in grid]
    roots = [optimize.brentq(f, a, b, xtol=1e-13) for a, b, fa, fb in zip(grid[:-1], grid[1:], vals[:-1], vals[1:])
             if fa * fb < 0]
    return max(roots)


def test_retrieval_time_at_zero_loading_is_where_the_mattis_overlap_crosses_one_half():
    beta = 0.8  # paramagnetic prior: m(t) falls smoothly to 0 as the field fades

    def gap(t):
        g = math.exp(-2 * t) / (1 - math.exp(-2 * t))  # VP: g = a_t^2 / D_t
        return _mattis_m(beta, g) - 0.5

    t_ref = optimize.brentq(gap, 0.05, 5.0, xtol=1e-10)
    assert th.hopfield_retrieval_time(beta, 0.0) == pytest.approx(t_ref, rel=1e-6)
    # another level moves it (negative control of the bookkeeping)
    assert abs(th.hopfield_retrieval_time(beta, 0.0, level=0.6) - t_ref) > 0.01


@pytest.mark.parametrize("alpha", [0.08, 0.15])
def test_retrieval_time_brackets_the_level_or_the_spinodal(alpha):
    t_r = th.hopfield_retrieval_time(2.0, alpha)
    before = th.hopfield_retrieval_overlap(t_r * (1 - 1e-6), 2.0, alpha)
    after = th.hopfield_retrieval_overlap(t_r * (1 + 1e-6), 2.0, alpha)
    assert before >= 0.5 > after
    if alpha == 0.08:  # above the capacity of the prior at beta = 2: the branch ends at a spinodal above 1/2
        assert before > 0.75 and after < 0.35


def test_retrieval_time_is_infinite_below_capacity_and_validates_its_level():
    assert th.hopfield_retrieval_time(2.0, 0.03) == math.inf  # the prior alone retrieves (m = 0.94)
    with pytest.raises(ValueError, match="^level: "):
        th.hopfield_retrieval_time(2.0, 0.1, level=1.5)


# ------------------------------------------------------------------------------------------
# replicon and fragmentation time
# ------------------------------------------------------------------------------------------
def _sech4(y):
    return 1.0 / math.cosh(y) ** 4 if abs(y) < 300 else 0.0


@pytest.mark.parametrize("mu, sigma", [(0.3, 0.2), (-1.0, 0.99), (2.0, 1.0), (0.5, 3.0), (20.0, 4.5), (-3.0, 30.0)])
def test_sech4_average_matches_adaptive_quadrature(mu, sigma):
    # in y = mu + sigma z, where the integrand's peak (width 1, at y = 0) is resolved at any sigma
    def w(y):
        return _sech4(y) * math.exp(-0.5 * ((y - mu) / sigma) ** 2) / (math.sqrt(2.0 * math.pi) * sigma)

    expected = integrate.quad(w, -40.0, 40.0, epsabs=1e-15, epsrel=1e-12, limit=400, points=[0.0])[0]
    assert hf._e_sech4(mu, sigma) == pytest.approx(expected, abs=1e-13)


@pytest.mark.parametrize("alpha", [0.05, 0.15, 0.4])
def test_paramagnet_replicon_vanishes_at_the_ags_spin_glass_temperature(alpha):
    para = hf.HopfieldRSSolution(0.0, 0.0, 0.0, 0.0, 0.0)
    for beta in (0.3, 0.6):
        if beta * (1 + math.sqrt(alpha)) < 1:
            assert th.hopfield_replicon(beta, alpha, 0.0, para) == pytest.approx(
                1.0 - alpha * beta**2 / (1.0 - beta) ** 2, rel=1e-12)
    beta_g = 1.0 / (1.0 + math.sqrt(alpha))  # T_g = 1 + sqrt(alpha)
    assert abs(th.hopfield_replicon(beta_g, alpha, 0.0, para)) < 1e-12
    assert th.hopfield_replicon(0.99 * beta_g, alpha, 0.0, para) > 0 > th.hopfield_replicon(1.01 * beta_g, alpha,
                                                                                              0.0, para)


def test_replicon_at_a_fixed_point_matches_quadrature_over_both_noises():
    beta, alpha, t = 2.0, 0.15, 0.7
    g = 1.0 / math.expm1(2 * t)
    sol = hf._largest_solution(beta, alpha, g)
    noise = beta * math.sqrt(alpha * sol.r)
    e4 = _e(lambda y: _e(_sech4, y, math.sqrt(g)), beta * sol.m + g, noise)  # z1 and z2 averaged apart
    expected = 1.0 - alpha * beta**2 * e4 / (1.0 - beta * (1.0 - sol.q)) ** 2
    assert th.hopfield_replicon(beta, alpha, g, sol) == pytest.approx(expected, abs=1e-10)
    assert th.hopfield_replicon_at_time(t, beta, alpha) == pytest.approx(expected, abs=1e-10)


def test_fragmentation_time_where_the_replicon_changes_sign():
    # smooth branch (alpha = 0.15): the replicon changes sign at t_F, just after t_R = 0.658
    t_f = th.hopfield_fragmentation_time(2.0, 0.15)
    assert 0.66 < t_f < 0.70
    assert th.hopfield_replicon_at_time(0.999 * t_f, 2.0, 0.15) > 0 > th.hopfield_replicon_at_time(1.001 * t_f, 2.0,
                                                                                                    0.15)
    # above capacity (alpha = 0.08): the retrieval branch stays RS-stable up to its spinodal, the
    # branch it falls to is unstable, so t_F is the spinodal t_R
    assert th.hopfield_fragmentation_time(2.0, 0.08) == pytest.approx(th.hopfield_retrieval_time(2.0, 0.08), rel=1e-6)
    assert th.hopfield_replicon_at_time(0.95, 2.0, 0.08) > 0.5 and th.hopfield_replicon_at_time(1.0, 2.0, 0.08) < 0
    # below capacity the retrieval state stays replica-symmetric at every t; no patterns: Curie-Weiss
    assert th.hopfield_fragmentation_time(2.0, 0.03) == math.inf
    assert th.hopfield_fragmentation_time(2.0, 0.0) == math.inf
