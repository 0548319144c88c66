"""Lattice Ising and Edwards-Anderson priors: bonds, sparse couplings and log p0."""
import numpy as np
import pytest

import mc
from mc.models import LatticeIsingPrior
from mc.models.lattice import lattice_bonds


def test_periodic_square_lattice_has_two_bonds_per_site_and_four_neighbours():
    bonds = lattice_bonds(5, 2)
    assert bonds.shape == (50, 2)
    prior = mc.IsingPrior.lattice(5, 2)
    degree = np.diff(prior.sparse_couplings.indptr)
    assert np.all(degree == 4)
    assert prior.sparse_couplings.diagonal().sum() == 0


def test_open_cube_counts_its_bonds():
    # 3 axes x (3 - 1) bonds per line x 9 lines per axis
    assert lattice_bonds(3, 3, periodic=False).shape == (54, 2)


def test_log_prob_equals_the_bond_sum():
    prior = mc.IsingPrior.edwards_anderson(4, 2, beta=0.7, field=0.1, seed=3)
    s = np.where(np.random.default_rng(0).random((5, 16)) < 0.5, -1.0, 1.0)
    bond_sum = np.sum(prior.bond_couplings * s[:, prior.bonds[:, 0]] * s[:, prior.bonds[:, 1]], axis=1)
    np.testing.assert_allclose(prior.log_prob(s), 0.7 * bond_sum + 0.1 * s.sum(axis=1))
    np.testing.assert_allclose(prior.log_prob(s), 0.5 * 0.7 * np.einsum("ri,ij,rj->r", s, prior.couplings, s) + 0.1 * s.sum(1))


def test_bad_lattice_input_names_the_field():
    with pytest.raises(ValueError, match="side"):
        lattice_bonds(2, 2)
    with pytest.raises(ValueError, match="bonds"):
        LatticeIsingPrior.edwards_anderson(4, 2, bonds="uniform", seed=1)
    with pytest.raises(ValueError, match="bond_couplings"):
        LatticeIsingPrior(4, 2, np.ones(3))
    with pytest.raises(ValueError, match="couplings"):
        _ = mc.IsingPrior.lattice(70, 2).couplings  # N = 4900: no dense matrix


def test_a_posterior_at_zero_observation_is_the_prior():
    """``x_t = 0`` gives the field ``h = a_t x_t / D_t = 0`` exactly at every t, so the posterior of a
    lattice prior is the prior itself (the benchmarks compare Ising codes this way), and the
    lattice kernel runs without a field table (integer decisions)."""
    from mc.kernels import lattice as kl

    prior = mc.IsingPrior.lattice(6, 2, beta=1.0 / 2.27)
    s = np.where(np.random.default_rng(1).random((8, prior.n_dim)) < 0.5, -1.0, 1.0)
    for process in (mc.VP(), mc.VE()):
        for t in (0.05, 1.0, 7.0):
            post = mc.Posterior(prior, process, np.zeros(prior.n_dim), t)
            assert np.all(post.field == 0.0)
            shift = post.energy(s) + prior.log_prob(s)
            np.testing.assert_allclose(shift, shift[0], rtol=0, atol=1e-9 * max(1.0, abs(shift[0])))
    mat = prior.sparse_couplings
    nbrs, sgns, g = kl.neighbour_table(mat.indptr, mat.indices, mat.data * prior.beta)
    assert sgns is None and g == pytest.approx(1.0 / 2.27, rel=1e-15)
    tables = kl.acceptance_tables(np.ones((1, 2)), g, len(nbrs), prior.field, post.field, heat_bath=False)
    assert tables[2] is None
