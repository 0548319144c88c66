"""Production sweeps and their measurements in one compiled loop (Numba kernels).

``mc.sample`` records, after every ``thin`` sweeps, the rung-0 configuration ``x_r`` of every
replica ``r`` (R replicas, N coordinates):

* ``energies[r, d] = const - (phi_prior + phi_lik)(x_r)``: the posterior energy ``H(x_r)`` from the
  features the kernels keep (``tempering.py``), ``const`` fixed once from ``posterior.energy``;
* ``overlaps[r, d] = x_r . x_{r'} / N`` with ``r' = next_replica[r]`` (R > 1);
* ``projections[r, d] = x_r . u / sqrt(N)`` (``u`` the unit field direction);
* ``order_proj[r, d, m] = x_r . directions[m]`` (the model's order directions; M may be 0);
* the running moments ``sum_x[r] += x_r``, ``sum_x2[r] += x_r^2``;
* optionally the draw itself, ``samples[r, d] = x_r`` (``samples`` with no room: not kept);
* every ``chain_stride``-th draw, the projections of every configuration (all rungs, in chain
  order) on the rows of ``probe``: ``chain_proj[r, c, d // chain_stride, p]`` (float32; not kept
  when ``chain_proj`` has no room), which tell whether configurations cross between modes.

Done in Python that is about a dozen NumPy calls per draw, each with its own call overhead and
temporary arrays, plus one kernel call per draw: tens of microseconds, as much as a sweep of a
small system. Here each ``draws_*`` function runs ``n_draws`` draws of ``thin`` sweeps of its
sweep kernel (the same kernel, called with the same arguments, so the chains and their random
numbers are those of the one-draw-at-a-time loop) and records each draw with :func:`record_draw`,
in one call. When the last sweep of a draw ended without an exchange round, the features are
recomputed first (as the Python loop does); after an exchange round they are current.

The recording arguments travel as one tuple, ``rec = (const, u, directions, next_replica,
energies, overlaps, projections, order_proj, sum_x, sum_x2, samples, probe, chain_proj,
chain_stride)`` (see :func:`record_draw`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .lattice import features_lattice, prepare_lattice, sweeps_lattice
from .spins import (features_curie_weiss, features_dense, features_sparse, run_curie_weiss, run_dense,
                    run_sparse)

__all__ = ["record_draw", "draws_lattice", "draws_curie_weiss", "draws_sparse", "draws_dense"]


@njit(cache=True)
def record_draw(chains, chain_at, phi, d, rec):
    """Record draw ``d`` from ``chains`` (R, C, N) (configurations in chain order; ``chain_at[r, 0]``
    is the one at rung 0) and their features ``phi`` (R, C, 2); ``rec`` as in the module notes."""
    (const, u, directions, next_replica, energies, overlaps, projections, order_proj, sum_x, sum_x2,
     samples, probe, chain_proj, chain_stride) = rec
    n_rep, n_chain, n = chains.shape
    sqrt_n = np.sqrt(n)
    keep = samples.shape[1] > 0
    for r in range(n_rep):
        c = chain_at[r, 0]
        x = chains[r, c]
        energies[r, d] = const - (phi[r, c, 0] + phi[r, c, 1])
        proj = 0.0
        for i in range(n):
            xi = np.float64(x[i])
            proj += xi * u[i]
            sum_x[r, i] += xi
            sum_x2[r, i] += xi * xi
        projections[r, d] = proj / sqrt_n
        for m in range(directions.shape[0]):
            acc = 0.0
            for i in range(n):
                acc += np.float64(x[i]) * directions[m, i]
            order_proj[r, d, m] = acc
        if n_rep > 1:
            other = chains[next_replica[r], chain_at[next_replica[r], 0]]
            acc = 0.0
            for i in range(n):
                acc += np.float64(x[i]) * np.float64(other[i])
            overlaps[r, d] = acc / n
        if keep:
            for i in range(n):
                samples[r, d, i] = x[i]
    if chain_proj.shape[2] > 0 and d % chain_stride == 0:
        j = d // chain_stride
        for r in range(n_rep):
            for c in range(n_chain):
                x = chains[r, c]
                for p in range(probe.shape[0]):
                    acc = 0.0
                    for i in range(n):
                        acc += np.float64(x[i]) * probe[p, i]
                    chain_proj[r, c, j, p] = np.float32(acc)


@njit(cache=True)
def draws_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, theta, rung_of, chain_at, thin, heat_bath,
                  random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc, n_draws, d0,
                  rec):
    """``n_draws`` draws of ``thin`` sweeps of ``lattice.run_lattice`` (its set-up done once), each
    recorded (module notes)."""
    n_chain, n = spins.shape[1], spins.shape[2]
    af, tf, rows, srows, hb = prepare_lattice(nbrs, sgns, table, thresholds, ftab, n, heat_bath, random_order)
    for j in range(n_draws):
        start = sweep0 + j * thin
        sweeps_lattice(spins, nbrs, sgns, g, b, h, af, tf, rows, srows, ftab, hb, theta, rung_of, chain_at, thin,
                       random_order, exchange_every, start, rng, flips, sweeps_at, phi, ex_att, ex_acc)
        if not (n_chain > 1 and (start + thin) % exchange_every == 0):
            features_lattice(spins, nbrs, sgns, g, b, h, phi)
        record_draw(spins, chain_at, phi, d0 + j, rec)


@njit(cache=True)
def draws_curie_weiss(spins, mag, jn, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order, exchange_every,
                      sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc, n_draws, d0, rec):
    """``n_draws`` draws of ``thin`` sweeps of ``spins.run_curie_weiss``, each recorded."""
    n_chain = spins.shape[1]
    for j in range(n_draws):
        start = sweep0 + j * thin
        run_curie_weiss(spins, mag, jn, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order,
                        exchange_every, start, rng, flips, sweeps_at, phi, ex_att, ex_acc)
        if not (n_chain > 1 and (start + thin) % exchange_every == 0):
            features_curie_weiss(spins, mag, jn, b, h, phi)
        record_draw(spins, chain_at, phi, d0 + j, rec)


@njit(cache=True)
def draws_sparse(spins, indptr, indices, weights, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order,
                 exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc, n_draws, d0, rec):
    """``n_draws`` draws of ``thin`` sweeps of ``spins.run_sparse``, each recorded."""
    n_chain = spins.shape[1]
    for j in range(n_draws):
        start = sweep0 + j * thin
        run_sparse(spins, indptr, indices, weights, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order,
                   exchange_every, start, rng, flips, sweeps_at, phi, ex_att, ex_acc)
        if not (n_chain > 1 and (start + thin) % exchange_every == 0):
            features_sparse(spins, indptr, indices, weights, b, h, phi)
        record_draw(spins, chain_at, phi, d0 + j, rec)


@njit(cache=True)
def draws_dense(spins, lf, w, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order, exchange_every, sweep0,
                rng, flips, sweeps_at, phi, ex_att, ex_acc, n_draws, d0, rec):
    """``n_draws`` draws of ``thin`` sweeps of ``spins.run_dense``, each recorded."""
    n_chain = spins.shape[1]
    for j in range(n_draws):
        start = sweep0 + j * thin
        run_dense(spins, lf, w, b, h, theta, rung_of, chain_at, thin, heat_bath, random_order, exchange_every, start,
                  rng, flips, sweeps_at, phi, ex_att, ex_acc)
        if not (n_chain > 1 and (start + thin) % exchange_every == 0):
            features_dense(spins, lf, b, h, phi)
        record_draw(spins, chain_at, phi, d0 + j, rec)
