"""Forward processes: coefficients against their definitions, batch draws, bad times."""
import numpy as np
import pytest

import mc
from mc.processes import check_time


@pytest.mark.parametrize("t", [1e-9, 0.3, 2.0, 50.0])
def test_ve_coefficients_are_brownian(t):
    proc = mc.VE(sigma=1.7)
    assert proc.a(t) == 1.0
    assert proc.D(t) == pytest.approx(1.7**2 * t, rel=1e-15)
    assert proc.s(t) == pytest.approx(1.7**2 * t, rel=1e-15)


@pytest.mark.parametrize("t", [1e-12, 1e-6, 0.3, 2.0, 50.0])
def test_vp_coefficients_are_ornstein_uhlenbeck_with_full_precision_at_small_t(t):
    proc = mc.VP()
    assert proc.a(t) == pytest.approx(np.exp(-t), rel=1e-15)
    # reference by series for tiny t, where 1 - exp(-2t) computed naively loses digits
    D_ref = 2 * t - 2 * t**2 + 4 * t**3 / 3 if t < 1e-3 else 1 - np.exp(-2 * t)
    assert proc.D(t) == pytest.approx(D_ref, rel=1e-12)
    assert proc.s(t) == pytest.approx(proc.D(t) / proc.a(t) ** 2, rel=1e-13)
    assert proc.a(t) ** 2 + proc.D(t) == pytest.approx(1.0, rel=1e-15)


def test_vp_linear_equals_vp_at_its_ou_time():
    lin, vp = mc.VPLinear(0.1, 20.0), mc.VP()
    for t in [0.01, 0.3, 0.9]:
        tau = lin.ou_time(t)
        assert tau == pytest.approx(0.5 * (0.1 * t + 0.5 * 19.9 * t**2), rel=1e-14)
        assert lin.a(t) == pytest.approx(vp.a(tau), rel=1e-14)
        assert lin.D(t) == pytest.approx(vp.D(tau), rel=1e-14)


def test_ddpm_time_inverts_alpha_bar():
    ab = np.array([0.9999, 0.5, 1e-4])
    t = mc.ddpm_time(ab)
    np.testing.assert_allclose(mc.VP().a(t) ** 2, ab, rtol=1e-13)
    with pytest.raises(ValueError, match="alpha_bar"):
        mc.ddpm_time([0.5, 1.0])


def test_vectorised_times_match_scalar_calls():
    t = np.array([0.1, 1.0, 3.0])
    for proc in [mc.VE(2.0), mc.VP(), mc.VPLinear()]:
        np.testing.assert_array_equal(proc.s(t), [proc.s(float(x)) for x in t])


@pytest.mark.parametrize("proc", [mc.VE(0.5), mc.VP()], ids=["VE", "VP"])
def test_sample_xt_has_mean_a_x0_and_variance_D(proc, rng):
    """Batch of 200000 draws: mean a_t x0 and variance D_t per coordinate within 5 standard errors."""
    t = 0.7
    x0 = np.array([1.0, -2.0, 0.5])
    batch = np.broadcast_to(x0, (200_000, 3))
    xt = proc.sample_xt(batch, t, rng)
    a, D = proc.a(t), proc.D(t)
    n = xt.shape[0]
    se_mean = np.sqrt(D / n)
    assert np.all(np.abs(xt.mean(0) - a * x0) < 5 * se_mean)
    se_var = D * np.sqrt(2.0 / (n - 1))  # Gaussian sample variance
    assert np.all(np.abs(xt.var(0, ddof=1) - D) < 5 * se_var)


def test_sample_xt_broadcasts_one_time_per_batch_row(rng):
    proc = mc.VP()
    x0 = np.zeros((2, 4))
    t = np.array([1e-8, 30.0])
    xt = proc.sample_xt(x0 + 1.0, t, rng)
    assert xt.shape == (2, 4)
    # t ~ 0: x_t ~ x0 (noise std 1.4e-4); t = 30: a_t ~ 1e-13, x_t ~ N(0, 1)
    assert np.all(np.abs(xt[0] - 1.0) < 1e-3)


def test_sample_xt_is_reproducible_from_a_seed():
    proc = mc.VE()
    x0 = np.ones((3, 5))
    np.testing.assert_array_equal(proc.sample_xt(x0, 1.0, 7), proc.sample_xt(x0, 1.0, 7))
    assert not np.array_equal(proc.sample_xt(x0, 1.0, 7), proc.sample_xt(x0, 1.0, 8))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, [0.5, -0.1]])
def test_bad_times_are_rejected_naming_t(bad):
    with pytest.raises(ValueError, match="^t:"):
        check_time(bad)
    with pytest.raises(ValueError, match="^t:"):
        mc.VP().D(bad)
    with pytest.raises(ValueError, match="^t:"):
        mc.VE().sample_xt(np.zeros((np.size(bad), 2)), bad, 0)


def test_sample_xt_rejects_mismatched_time_shape_and_bad_inputs():
    with pytest.raises(ValueError, match="^t:"):
        mc.VP().sample_xt(np.zeros((3, 2)), np.ones(2), 0)
    with pytest.raises(ValueError, match="^x0:"):
        mc.VP().sample_xt(np.array([np.nan, 1.0]), 1.0, 0)
    with pytest.raises(ValueError, match="^x0:"):
        mc.VP().sample_xt(1.0, 1.0, 0)
    with pytest.raises(ValueError, match="^rng:"):
        mc.VP().sample_xt(np.zeros(2), 1.0, "seed")


def test_vp_time_so_large_that_s_overflows_is_an_error():
    with pytest.raises(ValueError, match="^t:.*overflows"):
        mc.VP().s(400.0)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: mc.VE(sigma=0.0), "sigma"),
        (lambda: mc.VE(sigma=-1.0), "sigma"),
        (lambda: mc.VE(sigma=np.nan), "sigma"),
        (lambda: mc.VPLinear(beta_min=-0.1), "beta_min"),
        (lambda: mc.VPLinear(beta_min=5.0, beta_max=1.0), "beta_max"),
    ],
)
def test_bad_process_parameters_are_rejected(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()
