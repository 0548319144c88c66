"""The dense-coupling kernel: float32 couplings, chains in lockstep, recomputed local fields.

``mc.kernels.spins.run_dense`` sweeps the K rungs of a replica in lockstep and accepts float32
couplings ``K = float32(beta W)``, which define the model (``IsingPrior(couplings_dtype="float32")``).
Checked here:

* the float32 model: its energy uses the kernel's couplings, and the change from float64 is a
  float32 rounding;
* the float32 kernel is the float64 kernel on the same numbers, bit for bit (a float32 coupling
  converts exactly, all arithmetic is float64);
* at N = 12 (nonzero field h from a planted x_t, and a prior field b), the rung-0 magnetisation,
  its square, the energy and the replica overlap q from the kernel (3 rungs in lockstep, with
  exchanges, fields recomputed every 7 sweeps) agree with exact enumeration of the same model
  within 5 standard errors (errors from the integrated autocorrelation time), for both dtypes,
  Metropolis and heat bath, random and sequential sites; likewise through ``mc.sample``;
* negative control: the same comparison fails (beyond 10 standard errors) when the local fields
  carry a constant error of 0.3, what a wrong field update or an unchecked drift would leave,
  and passes again when the recomputation erases it;
* the recomputed fields stay within the stated bound ``(P + 1) N u sum_i |w_ij|`` of ``w @ sigma``
  (computed exactly with ``math.fsum``) after thousands of sweeps, equal a fresh computation
  right after each recomputation, and the schedule does not depend on how a run is cut into calls.
"""
import math
import warnings

import numpy as np
import pytest

import mc
from mc.diagnostics import tau_int_per_chain
from mc.kernels import spins as ks
from mc.kernels.rng import seed_states
from mc.models import EnumeratedSpinPosterior
from spin_enumeration import state_index as _state_index

U = 2.0**-53


def _sk(n, beta, dtype, field=0.1, seed=5):
    return mc.IsingPrior.sherrington_kirkpatrick(n, beta=beta, field=field, seed=seed, couplings_dtype=dtype)


def _posterior(prior, t=1.0, seed=2):
    """Posterior of x_t planted from x0 ~ prior (x0 uniform beyond enumeration)."""
    source = "prior" if prior.enumerable else mc.IsingPrior.curie_weiss(prior.n_dim, beta=0.0)
    state = mc.draw_quenched(prior, mc.VP(), t, seed=seed, source=source)
    return mc.Posterior(prior, mc.VP(), state.x_t, t)


def _random_spins(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, 1, -1).astype(np.int8)


class Chains:
    """``run_dense`` on R replicas of K rungs (Hamiltonian ladder from 1 to 0.5), arrays as the sampler builds them."""

    def __init__(self, w, b, h, n_rep=8, k=3, heat_bath=False, random_order=True, seed=3, refresh_every=7,
                 field_error=0.0):
        n = w.shape[0]
        self.w, self.b, self.h = w, b, h
        self.theta = np.stack([np.geomspace(1.0, 0.5, k)] * 2, axis=1)
        self.spins = _random_spins((n_rep, k, n), seed)
        self.lf = np.zeros(self.spins.shape)
        ks.local_fields_dense(self.spins, w, self.lf)
        self.lf += field_error
        self.rung_of = np.tile(np.arange(k), (n_rep, 1))
        self.chain_at = self.rung_of.copy()
        self.rng = seed_states([np.random.SeedSequence(seed, spawn_key=(r,)) for r in range(n_rep)])
        self.flips = np.zeros((n_rep, k), dtype=np.int64)
        self.sweeps = np.zeros((n_rep, k), dtype=np.int64)
        self.phi = np.zeros((n_rep, k, 2))
        self.ex_att = np.zeros((n_rep, 2 * k + 2), dtype=np.int64)
        self.ex_acc = np.zeros((n_rep, k - 1), dtype=np.int64)
        self.heat_bath, self.random_order, self.refresh_every = heat_bath, random_order, refresh_every
        self.done = 0

    def run(self, n_sweeps):
        ks.run_dense(self.spins, self.lf, self.w, self.b, self.h, self.theta, self.rung_of, self.chain_at, n_sweeps,
                     self.heat_bath, self.random_order, 1, self.done, self.rng, self.flips, self.sweeps, self.phi,
                     self.ex_att, self.ex_acc, self.refresh_every)
        self.done += n_sweeps

    def rung0(self):
        return self.spins[np.arange(self.spins.shape[0]), self.chain_at[:, 0]].astype(np.float64)


def _exact(post):
    """Exact posterior means of the observables, and the energy of every state."""
    ex = EnumeratedSpinPosterior(post.model, post.y, post.s)
    states, probs = ex.enumerate()
    s = states.astype(np.float64)
    n = s.shape[1]
    energy = ex.energies
    m = probs @ s
    mag = s.sum(axis=1) / n
    return {"magnetisation": float(probs @ mag), "magnetisation2": float(probs @ mag**2),
            "energy": float(probs @ energy) / n, "overlap": float(m @ m / n)}, energy


def _observables(draws, energy):
    """Series (R, D) of each observable from rung-0 draws (R, D, N); q pairs replica r with r + 1."""
    n = draws.shape[-1]
    mag = draws.sum(axis=2) / n
    return {"magnetisation": mag, "magnetisation2": mag**2, "energy": energy[_state_index(draws)] / n,
            "overlap": np.einsum("rdi,rdi->rd", draws, np.roll(draws, -1, axis=0)) / n}


def _z_scores(series, exact):
    out = {}
    for name, ser in series.items():
        tau = max(1.0, float(np.max(tau_int_per_chain(ser, warn=False))))
        err = float(np.sqrt(ser.var() * tau / ser.size))
        out[name] = (float(ser.mean()) - exact[name]) / err
    return out


def _kernel_z(post, dtype, n_draws=6000, burn_in=300, **kw):
    prior = post.model
    w = prior.spin_kernel().couplings
    assert w.dtype == np.dtype(dtype)
    chains = Chains(w, np.ascontiguousarray(prior.field), np.ascontiguousarray(post.field), **kw)
    chains.run(burn_in)
    draws = np.empty((chains.spins.shape[0], n_draws, post.n_dim))
    for d in range(n_draws):
        chains.run(2)
        draws[:, d] = chains.rung0()
    exact, energy = _exact(post)
    assert chains.flips[:, 0].sum() > 0.02 * chains.sweeps[:, 0].sum() * post.n_dim
    assert np.all(chains.ex_acc > 0)
    return _z_scores(_observables(draws, energy), exact)


# ---------------------------------------------------------------------------------------------
def test_float32_model_uses_the_kernel_couplings():
    p64, p32 = _sk(12, 1.3, "float64"), _sk(12, 1.3, "float32")
    k = p32.spin_kernel().couplings
    assert k.dtype == np.float32 and k.flags.c_contiguous and not k.flags.writeable
    assert p64.spin_kernel().couplings.dtype == np.float64
    np.testing.assert_array_equal(k, (p64.couplings * 1.3).astype(np.float32))
    # the stored couplings are K / beta: beta W reproduces K to one float64 rounding
    k64 = k.astype(np.float64)
    assert np.all(np.abs(p32.couplings * p32.beta - k64) <= 2 * U * np.abs(k64))
    rel = np.abs(p32.couplings - p64.couplings) / np.maximum(np.abs(p64.couplings), 1e-300)
    assert 0 < rel.max() <= 2.0**-24 * (1 + 1e-12)
    states = _random_spins((50, 12), 1).astype(np.float64)
    direct = 0.5 * np.einsum("ri,ij,rj->r", states, k64, states) + states @ p32.field
    np.testing.assert_allclose(p32.log_prob(states), direct, rtol=1e-14, atol=1e-13)
    assert p32.params()["couplings_dtype"] == "float32" and "couplings_dtype" not in p64.params()
    # beta = 0: no coupling term in either model; the stored W is its float32 rounding
    p0 = _sk(6, 0.0, "float32")
    assert np.all(p0.spin_kernel().couplings == 0)
    np.testing.assert_array_equal(p0.couplings, _sk(6, 0.0, "float64").couplings.astype(np.float32))
    hop = mc.IsingPrior.hopfield(n_dim=10, n_patterns=2, beta=0.7, seed=1, couplings_dtype="float32")
    assert hop.spin_kernel().couplings.dtype == np.float32
    with pytest.raises(ValueError, match="^couplings_dtype:"):
        mc.IsingPrior(np.zeros((3, 3)), couplings_dtype="float16")


@pytest.mark.parametrize("heat_bath,random_order", [(False, True), (True, False)])
def test_float32_kernel_is_the_float64_kernel_on_the_same_numbers(heat_bath, random_order):
    post = _posterior(_sk(60, 1.5, "float32"))
    w32 = post.model.spin_kernel().couplings
    b, h = np.ascontiguousarray(post.model.field), np.ascontiguousarray(post.field)
    a = Chains(w32, b, h, n_rep=2, k=3, heat_bath=heat_bath, random_order=random_order, refresh_every=13)
    c = Chains(w32.astype(np.float64), b, h, n_rep=2, k=3, heat_bath=heat_bath, random_order=random_order,
               refresh_every=13)
    a.run(200)
    c.run(200)
    assert a.flips.sum() > 1000
    for name in ("spins", "lf", "flips", "chain_at", "ex_acc", "rng"):
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name), err_msg=name)


@pytest.mark.parametrize("dtype,heat_bath,random_order", [
    ("float32", False, True),
    ("float32", True, False),
    ("float64", True, True),
    ("float64", False, False),
])
def test_kernel_in_lockstep_matches_enumeration(dtype, heat_bath, random_order):
    post = _posterior(_sk(12, 1.3, dtype))
    z = _kernel_z(post, dtype, heat_bath=heat_bath, random_order=random_order)
    assert all(abs(v) <= 5 for v in z.values()), z


def test_wrong_local_fields_fail_the_same_comparison():
    post = _posterior(_sk(12, 1.3, "float32"))
    z = _kernel_z(post, "float32", heat_bath=True, refresh_every=0, field_error=0.3)
    assert max(abs(v) for v in z.values()) > 10, z
    # the recomputation erases the error within the burn-in
    z = _kernel_z(post, "float32", heat_bath=True, refresh_every=100, field_error=0.3)
    assert all(abs(v) <= 5 for v in z.values()), z


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_sampler_with_float32_couplings_matches_enumeration():
    post = _posterior(_sk(12, 1.3, "float32"))
    exact, energy = _exact(post)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mc.sample(post, n_replicas=4, n_sweeps=20_000, burn_in=1_000, thin=2, method="heat_bath", seed=11,
                        tempering="hamiltonian", n_temperatures=3)
    np.testing.assert_allclose(res.energies, post.energy(res.samples), rtol=1e-10, atol=1e-9)
    z = _z_scores(_observables(res.samples.astype(np.float64), energy), exact)
    assert all(abs(v) <= 5 for v in z.values()), z


def _exact_fields(w, spins):
    """``w @ s`` for each chain, correctly rounded (math.fsum of the exact terms +-w_ij)."""
    w64 = w.astype(np.float64)
    out = np.empty(spins.shape)
    for idx in np.ndindex(spins.shape[:2]):
        s = spins[idx].astype(np.float64)
        for j in range(w.shape[0]):
            out[idx + (j,)] = math.fsum(w64[j] * s)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_recomputed_local_fields_stay_within_the_bound(dtype):
    n, period = 300, 400
    post = _posterior(_sk(n, 1.0, dtype))
    w = post.model.spin_kernel().couplings
    b, h = np.ascontiguousarray(post.model.field), np.ascontiguousarray(post.field)
    row_sums = np.abs(w.astype(np.float64)).sum(axis=1)
    chains = Chains(w, b, h, n_rep=1, k=2, heat_bath=True, refresh_every=period)
    chains.run(2 * period)  # ends on a recomputation: a fresh computation, bit for bit
    fresh = np.zeros_like(chains.lf)
    ks.local_fields_dense(chains.spins, w, fresh)
    np.testing.assert_array_equal(chains.lf, fresh)
    assert np.all(np.abs(fresh - _exact_fields(w, chains.spins)) <= (n - 1) * U * row_sums)
    before = chains.flips.copy()
    chains.run(period - 1)  # the most flips since the last recomputation
    assert np.all(chains.flips - before > 20 * n)  # many updates of every field since then
    err = np.abs(chains.lf - _exact_fields(w, chains.spins))
    bound = (period + 1) * n * U * row_sums
    assert np.all(err <= bound), (err.max(), bound.min())
    if dtype == "float64":
        assert err.max() > 0  # rounding errors did accumulate
    # (float32 couplings of one row share few enough binary orders of magnitude that their
    # float64 sums are usually exact: the bound is then far from reached)


def test_recomputation_schedule_does_not_depend_on_how_a_run_is_cut():
    post = _posterior(_sk(40, 1.2, "float32"))
    w = post.model.spin_kernel().couplings
    b, h = np.ascontiguousarray(post.model.field), np.ascontiguousarray(post.field)
    one = Chains(w, b, h, n_rep=2, k=3, refresh_every=10)
    cut = Chains(w, b, h, n_rep=2, k=3, refresh_every=10)
    one.run(95)
    for n_sweeps in (3, 17, 40, 35):
        cut.run(n_sweeps)
    for name in ("spins", "lf", "flips", "chain_at", "rng"):
        np.testing.assert_array_equal(getattr(one, name), getattr(cut, name), err_msg=name)
