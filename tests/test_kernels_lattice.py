"""The tabulated lattice kernel: neighbour tables, acceptance tables, and the same law as run_sparse.

Its samples are checked against exact enumeration in ``test_sampler_spins.py``; here the
building blocks are compared with the CSR couplings they come from, and on lattices too large
to enumerate its flip rates and energies are compared with those of the generic ``run_sparse``
(independent code, same target) within 5 standard errors over independent replicas.
"""
import numpy as np
import pytest

import mc
from mc.kernels import lattice as kl
from mc.kernels import spins as ks
from mc.kernels.rng import seed_states
from mc.models import LatticeIsingPrior


def _csr(prior):
    mat = prior.sparse_couplings
    return mat.indptr.astype(np.int64), mat.indices.astype(np.int64), mat.data * prior.beta


def _random_spins(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, 1, -1).astype(np.int8)


@pytest.mark.parametrize("prior,signed,g", [
    (LatticeIsingPrior.ferromagnet(5, 2, J=1.5, beta=0.4), False, 0.6),
    (LatticeIsingPrior.ferromagnet(4, 3, J=-1.0, beta=0.5), False, -0.5),  # antiferromagnet
    (LatticeIsingPrior.edwards_anderson(5, 2, beta=0.7, bonds="bimodal", seed=1), True, 0.7),
    (LatticeIsingPrior.ferromagnet(4, 2, beta=0.3, periodic=False), True, 0.3),  # padded
    (LatticeIsingPrior.edwards_anderson(3, 3, beta=0.7, bonds="bimodal", periodic=False, seed=2), True, 0.7),
])
def test_neighbour_table_reproduces_the_csr_local_fields(prior, signed, g):
    nbrs, sgns, g_out = kl.neighbour_table(*_csr(prior))
    assert (sgns is not None) == signed
    assert g_out == pytest.approx(g, rel=1e-15)
    assert len(nbrs) == 2 * prior.lattice_dim
    s = _random_spins((20, prior.n_dim), 3).astype(np.float64)
    local = np.asarray((prior.sparse_couplings @ s.T).T) * prior.beta
    sums = np.zeros_like(s)
    for p in range(len(nbrs)):
        sign = 1 if sgns is None else sgns[p]
        sums += sign * s[:, nbrs[p]]
    np.testing.assert_allclose(g_out * sums, local, rtol=1e-14, atol=1e-14)


def test_neighbour_table_refuses_couplings_of_different_magnitudes():
    prior = LatticeIsingPrior.edwards_anderson(4, 2, bonds="gaussian", seed=1)
    assert kl.neighbour_table(*_csr(prior)) is None


def test_features_equal_those_of_the_neighbour_lists():
    prior = LatticeIsingPrior.edwards_anderson(4, 3, beta=0.6, bonds="bimodal", field=0.2, periodic=False, seed=4)
    indptr, indices, weights = _csr(prior)
    nbrs, sgns, g = kl.neighbour_table(indptr, indices, weights)
    spins = _random_spins((3, 2, prior.n_dim), 5)
    b = np.full(prior.n_dim, 0.2)
    h = np.random.default_rng(6).standard_normal(prior.n_dim)
    got, ref = np.zeros((3, 2, 2)), np.zeros((3, 2, 2))
    kl.features_lattice(spins, nbrs, sgns, g, b, h, got)
    ks.features_sparse(spins, indptr, indices, weights, b, h, ref)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("heat_bath", [False, True])
def test_integer_thresholds_make_the_same_decision_as_the_uniform(heat_bath):
    theta = np.array([[1.0, 1.0], [0.37, 0.37]])
    table, thresholds, ftab = kl.acceptance_tables(theta, 0.44, 4, np.zeros(9), np.zeros(9), heat_bath)
    assert ftab is None
    p = table / (1.0 + table) if heat_bath else np.minimum(table, 2.0)  # flip probabilities
    top = np.uint64(2**53)  # the 53 random bits take the values 0 .. 2^53 - 1
    sure = p >= 1.0
    assert np.all(thresholds[sure] >= top)  # p >= 1: every value accepted
    thr = thresholds[~sure]
    assert thr.size and np.all((thr > 0) & (thr <= top))
    scale = 2.0**-53  # below 2^53 the integers and their products with 2^-53 are exact doubles
    # bits = threshold - 1 is the largest value with u = bits 2^-53 < p; bits = threshold fails
    assert np.all((thr - np.uint64(1)).astype(np.float64) * scale < p[~sure])
    assert np.all(thr.astype(np.float64) * scale >= p[~sure])


def test_tables_are_refused_out_of_their_exact_range():
    theta = np.ones((1, 2))
    z = 6
    g_max = kl.MAX_COUPLING_EXPONENT / (2 * z)
    assert kl.acceptance_tables(theta, 0.99 * g_max, z, np.zeros(4), np.zeros(4), False) is not None
    assert kl.acceptance_tables(theta, 1.01 * g_max, z, np.zeros(4), np.zeros(4), False) is None
    assert kl.acceptance_tables(theta, 1.0, z, np.zeros(4), np.ones(4), False, max_field_bytes=63) is None
    # huge fields are clipped, never inf * 0
    table, _, ftab = kl.acceptance_tables(theta, 1.0, z, np.zeros(4), np.array([1e6, -1e6, 0, 1]), True)
    assert np.all(np.isfinite(ftab)) and np.all(ftab > 0)
    with np.errstate(over="ignore"):
        assert not np.any(np.isnan(table[:, :, :, None] * ftab[:, None, None, :, 0]))


def _run_both(prior, h, heat_bath, random_order, n_rep=8, n_sweeps=400, burn_in=200):
    """Flip rate and energy per spin of every replica, tabulated and generic kernel."""
    n = prior.n_dim
    b = np.ascontiguousarray(prior.field, dtype=np.float64)
    theta = np.ones((1, 2))
    indptr, indices, weights = _csr(prior)
    nbrs, sgns, g = kl.neighbour_table(indptr, indices, weights)
    table, thresholds, ftab = kl.acceptance_tables(theta, g, len(nbrs), b, h, heat_bath)
    out = {}
    for name in ("lattice", "sparse"):
        spins = _random_spins((n_rep, 1, n), 7)
        zero = np.zeros((n_rep, 1), dtype=np.int64)
        rng = seed_states([np.random.SeedSequence(8, spawn_key=(name == "lattice", r)) for r in range(n_rep)])
        flips, sweeps, phi = zero.copy(), zero.copy(), np.zeros((n_rep, 1, 2))
        common = (theta, zero.copy(), zero.copy(), None, heat_bath, random_order, 1, 0, rng, flips, sweeps, phi,
                  np.zeros((n_rep, 0), dtype=np.int64), np.zeros((n_rep, 0), dtype=np.int64))

        def run(k):
            args = list(common)
            args[3] = k
            if name == "lattice":
                kl.run_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, *args)
            else:
                ks.run_sparse(spins, indptr, indices, weights, b, h, *args)

        run(burn_in)
        flips[...] = 0
        energies = []
        for _ in range(n_sweeps // 10):
            run(10)
            ks.features_sparse(spins, indptr, indices, weights, b, h, phi)
            energies.append(-(phi[:, 0, 0] + phi[:, 0, 1]) / n)
        out[name] = {"flip_rate": flips[:, 0] / (n_sweeps * n), "energy": np.mean(energies, axis=0)}
    return out


@pytest.mark.parametrize("kind,field,heat_bath,random_order", [
    ("ferro", False, False, False),
    ("ferro", True, True, True),
    ("pm", True, False, True),
    ("pm", False, True, False),
])
def test_flip_rate_and_energy_agree_with_the_generic_kernel(kind, field, heat_bath, random_order):
    """16 x 16 lattice near the ferromagnet's critical point or a +-J glass at beta = 0.8."""
    if kind == "ferro":
        prior = LatticeIsingPrior.ferromagnet(16, 2, beta=0.42, field=0.05 if field else 0.0)
    else:
        prior = LatticeIsingPrior.edwards_anderson(16, 2, beta=0.8, bonds="bimodal", seed=3)
    h = 0.3 * np.random.default_rng(1).standard_normal(prior.n_dim) if field else np.zeros(prior.n_dim)
    out = _run_both(prior, h, heat_bath, random_order)
    for key in ("flip_rate", "energy"):
        a, b = out["lattice"][key], out["sparse"][key]
        err = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(a.mean() - b.mean()) <= 5 * err, f"{key}: {a.mean():.5f} vs {b.mean():.5f} +- {err:.5f}"


@pytest.mark.parametrize("heat_bath,random_order,field", [(False, False, False), (True, True, True)])
def test_replicas_swept_together_give_the_numbers_of_one_replica_at_a_time(heat_bath, random_order, field):
    prior = LatticeIsingPrior.edwards_anderson(5, 2, beta=0.8, bonds="bimodal", seed=6)
    n, k, n_rep = prior.n_dim, 3, 3  # 3 rungs with exchanges
    theta = np.stack([np.geomspace(1.0, 0.3, k)] * 2, axis=1)
    b = np.zeros(n)
    h = np.random.default_rng(2).standard_normal(n) if field else np.zeros(n)
    nbrs, sgns, g = kl.neighbour_table(*_csr(prior))
    table, thresholds, ftab = kl.acceptance_tables(theta, g, len(nbrs), b, h, heat_bath)
    spins0 = _random_spins((n_rep, k, n), 1)
    rng0 = seed_states([np.random.SeedSequence(3, spawn_key=(r,)) for r in range(n_rep)])

    def run(rows):
        m = len(rows)
        arrays = [spins0[rows].copy(), np.tile(np.arange(k), (m, 1)), np.tile(np.arange(k), (m, 1)),
                  rng0[rows].copy(), np.zeros((m, k), dtype=np.int64), np.zeros((m, k), dtype=np.int64),
                  np.zeros((m, k, 2)), np.zeros((m, k - 1), dtype=np.int64), np.zeros((m, k - 1), dtype=np.int64)]
        spins, rung_of, chain_at, rng, flips, sweeps, phi, ex_att, ex_acc = arrays
        kl.run_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, theta, rung_of, chain_at, 50, heat_bath,
                       random_order, 1, 0, rng, flips, sweeps, phi, ex_att, ex_acc)
        return arrays

    together = run([0, 1, 2])
    for r in range(n_rep):
        alone = run([r])
        for got, ref in zip(together, alone):
            np.testing.assert_array_equal(got[r], ref[0])


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_sampler_runs_the_tabulated_kernel_deterministically_and_per_replica():
    prior = LatticeIsingPrior.edwards_anderson(6, 2, beta=0.9, bonds="bimodal", seed=2)
    x_t = np.random.default_rng(3).standard_normal(prior.n_dim)
    post = mc.Posterior(prior, mc.VP(), x_t, 1.0)
    kw = dict(n_sweeps=200, seed=5, method="metropolis", order="sequential", tempering="hamiltonian",
              n_temperatures=3)
    a = mc.sample(post, n_replicas=3, **kw)
    b = mc.sample(post, n_replicas=3, **kw)
    two = mc.sample(post, n_replicas=2, **kw)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(two.samples, a.samples[:2])
    assert not np.array_equal(a.samples[0], a.samples[1])
