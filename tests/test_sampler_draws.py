"""Production draws recorded in compiled code (``mc.kernels.draws``) against the draws themselves.

``mc.sample`` runs its production draws in compiled calls that also measure them (energy,
overlap between replicas, projection on the field, order projections, running moments). With
``store="samples"`` every recorded series is recomputed here from the stored draws with NumPy
and the model's own energy (an independent computation), for every sweep kernel (tabulated
lattice, neighbour lists, mean field, dense couplings, continuous MALA) with and without a ladder
and with exchange rounds that do not fall on every draw. The numbers do not depend on how many
draws go into one call.
"""
import warnings

import numpy as np
import pytest

import mc
from mc import sampler


def _lattice():
    return mc.Posterior(mc.IsingPrior.lattice(6, 2, beta=0.35), mc.VP(), np.linspace(-1, 1, 36), 1.2)


def _edwards_anderson():
    prior = mc.IsingPrior.edwards_anderson(4, 2, beta=0.8, seed=3)
    return mc.Posterior(prior, mc.VP(), np.linspace(1, -1, 16), 0.9)


def _curie_weiss():
    return mc.Posterior(mc.IsingPrior.curie_weiss(20, beta=1.4), mc.VP(), 0.2 * np.cos(np.arange(20)), 1.0)


def _sk():
    return mc.Posterior(mc.IsingPrior.sherrington_kirkpatrick(14, beta=1.2, seed=5), mc.VP(),
                        np.sin(np.arange(14.0)), 0.8)


def _mixture():
    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=10)
    return mc.Posterior(model, mc.VP(), np.linspace(-0.5, 1.0, 10), 1.0)


CASES = {"lattice": (_lattice, "tabulated"), "edwards_anderson": (_edwards_anderson, "sparse"),
         "curie_weiss": (_curie_weiss, "mean_field"), "sk": (_sk, "dense"), "mixture": (_mixture, None)}


def _run(post, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short runs: mixing and length warnings are not the point
        return mc.sample(post, n_replicas=3, n_sweeps=120, burn_in=20, seed=7, store="samples", progress=False,
                         **kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("extra", [{"tempering": None}, {"tempering": "hamiltonian", "n_temperatures": 3,
                                                         "exchange_every": 3, "thin": 2}])
def test_recorded_series_equal_those_of_the_stored_draws(name, extra, monkeypatch):
    make, kind = CASES[name]
    post = make()
    families = []
    original = sampler._Family.run

    def spy(self, *args):
        families.append(self)
        return original(self, *args)

    monkeypatch.setattr(sampler._Family, "run", spy)
    res = _run(post, **extra)
    if kind is not None:
        assert families[0].kind == kind  # the sweep kernel this case is meant to exercise
    x = res.samples
    n = post.n_dim
    # the energy the kernels' features give is the model's posterior energy of the draw
    energy = post.energy(x.reshape(-1, n)).reshape(x.shape[:2])
    np.testing.assert_allclose(res.energies, energy, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(res.overlaps, np.einsum("rdi,rdi->rd", x, x[[1, 2, 0]]) / n, rtol=0, atol=1e-12)
    y = np.asarray(post.y, dtype=float)
    u = y / np.linalg.norm(y)
    np.testing.assert_allclose(res.projections, x @ u / np.sqrt(n), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.mean, x.mean(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.second_moment, (x * x).mean(axis=1), rtol=1e-12, atol=1e-12)
    directions = post.model.order_directions()
    if directions is not None:
        np.testing.assert_allclose(res.order_projections, x @ np.asarray(directions).T, rtol=1e-12, atol=1e-9)
    # a wrong record is seen: the next replica's draw shifted by one step
    assert not np.allclose(res.overlaps[:, 1:], np.einsum("rdi,rdi->rd", x[:, 1:], x[[1, 2, 0], :-1]) / n)


@pytest.mark.parametrize("name", ["lattice", "sk", "mixture"])
def test_draws_do_not_depend_on_how_many_go_into_one_call(name, monkeypatch):
    post = CASES[name][0]()
    extra = dict(tempering="hamiltonian", n_temperatures=3, exchange_every=2)
    default = _run(post, **extra)  # the calls grow to many draws each
    monkeypatch.setattr(sampler, "_DRAWS_CALL_SECONDS", 0.0)  # one draw per call
    single = _run(post, **extra)
    for field in ("samples", "energies", "overlaps", "projections", "mean", "exchange_rate"):
        np.testing.assert_array_equal(getattr(default, field), getattr(single, field), err_msg=field)
