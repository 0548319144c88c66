"""Quenched disorder: reproducible, coupled across t, planted / unplanted recorded."""
import numpy as np
import pytest

import mc


def test_same_seed_and_key_give_the_same_state_and_different_disorder_differs():
    model = mc.GaussianMixture.two_class(1.0, n_dim=8)
    a = mc.draw_quenched(model, mc.VP(), 0.5, seed=11, disorder=3, key=(0, 2))
    b = mc.draw_quenched(model, mc.VP(), 0.5, seed=11, disorder=3, key=(0, 2))
    np.testing.assert_array_equal(a.x_t, b.x_t)
    for other in [
        mc.draw_quenched(model, mc.VP(), 0.5, seed=11, disorder=4, key=(0, 2)),
        mc.draw_quenched(model, mc.VP(), 0.5, seed=12, disorder=3, key=(0, 2)),
        mc.draw_quenched(model, mc.VP(), 0.5, seed=11, disorder=3, key=(1, 2)),
    ]:
        assert not np.array_equal(a.x_t, other.x_t)


def test_streams_follow_the_seed_sequence_convention():
    """x0 and noise come from SeedSequence(root, spawn_key=(*key, disorder, stream))."""
    model = mc.GaussianMixture.two_class(1.0, n_dim=4)
    st = mc.draw_quenched(model, mc.VE(), 2.0, seed=5, disorder=1, key=(7,))
    z = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(7, 1, 1))).standard_normal(4)
    np.testing.assert_array_equal(st.noise, z)
    np.testing.assert_allclose(st.x_t, st.x0 + np.sqrt(2.0) * z, rtol=1e-15)


def test_several_times_share_x0_and_noise():
    model = mc.Dataset.gaussian(20, 5, seed=0)
    times = np.array([0.1, 1.0, 3.0])
    st = mc.draw_quenched(model, mc.VP(), times, seed=2)
    assert st.x_t.shape == (3, 5)
    for i, t in enumerate(times):
        single = mc.draw_quenched(model, mc.VP(), t, seed=2)
        np.testing.assert_allclose(st.x_t[i], single.x_t, rtol=1e-15)
        np.testing.assert_allclose(st.x_t[i], np.exp(-t) * st.x0 + np.sqrt(1 - np.exp(-2 * t)) * st.noise, rtol=1e-14)


def test_planted_and_unplanted_sources_are_recorded():
    model = mc.Dataset.gaussian(30, 4, seed=1)
    prior = mc.draw_quenched(model, mc.VP(), 1.0, seed=0)
    assert prior.planted and prior.source == "prior" and prior.point_index is not None
    np.testing.assert_array_equal(prior.x0, model.points[prior.point_index])
    point = mc.draw_quenched(model, mc.VP(), 1.0, seed=0, source="point")
    assert point.planted and point.point_index == prior.point_index
    fixed = mc.draw_quenched(model, mc.VP(), 1.0, seed=0, source="point", point=7)
    assert not fixed.planted and fixed.point_index == 7
    np.testing.assert_array_equal(fixed.x0, model.points[7])
    pop = mc.draw_quenched(model, mc.VP(), 1.0, seed=0, source="population")
    assert not pop.planted and pop.source == "population" and pop.point_index is None
    assert not any(np.array_equal(pop.x0, p) for p in model.points)
    other = mc.draw_quenched(model, mc.VP(), 1.0, seed=0, source=mc.GaussianMixture.two_class(1.0, n_dim=4))
    assert not other.planted and other.source == "gaussian_mixture"


def test_planted_two_class_disorder_is_a_draw_from_the_prior():
    """x0 over many disorder samples has the prior's mean and variance (within 5 standard errors)."""
    model = mc.GaussianMixture.two_class(2.0, variance=0.5, n_dim=1)
    x0 = np.array([mc.draw_quenched(model, mc.VP(), 1.0, seed=3, disorder=d).x0[0] for d in range(4000)])
    assert abs(x0.mean()) < 5 * np.sqrt(4.5 / 4000)
    assert abs(np.mean(x0**2) - 4.5) < 5 * np.std(x0**2) / np.sqrt(4000)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"t": -1.0}, "t"),
        ({"seed": -3}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"disorder": -1}, "disorder"),
        ({"key": (1, -2)}, "key"),
        ({"source": "posterior"}, "source"),
        ({"source": "population"}, "source"),
        ({"source": "point"}, "source"),
        ({"point": 3}, "point"),
        ({"model": "gm"}, "model"),
        ({"process": None}, "process"),
        ({"source": mc.GaussianMixture.two_class(1.0, n_dim=5)}, "source"),
    ],
)
def test_bad_disorder_requests_raise_value_error_naming_the_field(kwargs, name):
    args = {"model": mc.GaussianMixture.two_class(1.0, n_dim=4), "process": mc.VP(), "t": 1.0, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        mc.draw_quenched(args.pop("model"), args.pop("process"), args.pop("t"), **args)


def test_point_index_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="^point:"):
        mc.draw_quenched(mc.Dataset.gaussian(5, 2), mc.VP(), 1.0, seed=0, source="point", point=5)
