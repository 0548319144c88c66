"""Single-spin-flip sweeps for lattice Ising priors with bonds of one magnitude (Numba kernel).

For couplings ``beta W_ij = g e_ij`` with one coupling ``g`` and signs ``e_ij in {-1, 0, +1}``
(ferromagnet or antiferromagnet: ``g = beta J``, ``e = +1``; +-J Edwards-Anderson spin glass:
``g = beta |J|``, random signs), the neighbour sum ``S_i = sum_j e_ij sigma_j`` is an integer in
``[-z, z]`` (``z`` the largest degree, ``2 d`` on a hypercubic lattice), and flipping ``sigma_i``
at a rung with ``theta = (theta_prior, theta_lik)`` changes ``log pi`` by

    -2 sigma_i (theta_prior (g S_i + b_i) + theta_lik h_i)   (``mc.kernels.spins``, derived),

so the acceptance factorises into a coupling part that depends on the integer ``S_i`` and the
spin's value only, and a field part that depends on the site:

    exp(-2 sigma_i f_i) = A[k, s, S_i + z] * F[k, i, s],   s = (sigma_i + 1) / 2,
    A[k, s, m + z] = exp(-2 theta_prior g sigma m),   F[k, i, s] = exp(-2 sigma (theta_prior b_i + theta_lik h_i)).

Both are tabulated once per rung (``acceptance_tables``), so an attempt costs ``z`` int8 loads,
an integer sum and one or two table reads, and no ``exp``:

* Metropolis: flip iff ``u < A F`` (``u`` uniform in [0, 1); ``A F >= 1`` always flips), the rule
  ``min(1, exp(-2 sigma_i f_i))`` of ``mc.kernels.spins`` (Metropolis et al. 1953);
* heat bath: ``sigma_i = +1`` iff ``u (1 + E) < 1``, ``E = A[k, 1, S_i + z] F[k, i, 1] =
  exp(-2 f_i)``, i.e. with probability ``1 / (1 + exp(-2 f_i))``.

Without a field (``theta_prior b + theta_lik h = 0`` at every rung, e.g. ``x_t = 0``) ``F = 1``
is not stored and ``u < p`` becomes an integer comparison of the 53 random bits with
``ceil(2^53 p)``, which is the same decision.

Exactness. ``A F`` equals ``exp(-2 sigma_i f_i)`` up to rounding. The field exponents are clipped
to ``[-700, 700]`` so that ``A F`` is never ``inf * 0``; with coupling exponents bounded by
``2 max|theta_prior| |g| z <= MAX_COUPLING_EXPONENT`` (= 600, checked by ``acceptance_tables``) a
clipped factor only occurs where the exact acceptance (or heat-bath probability) is above 1 or
below ``e^-100``, far below the ``2^-53`` resolution of ``u``, so the decisions are those of the
unclipped rule. Beyond that bound, or when the field table would be too large
(``MAX_FIELD_TABLE_BYTES``), the sampler keeps the generic ``run_sparse``.

Neighbour tables (``neighbour_table``): a tuple of z int32 arrays ``nbrs[p][i]`` and, unless all
bonds are equal and every site has z neighbours, a tuple of int8 signs ``sgns[p][i]``. Open
boundaries (sites with fewer than z neighbours) are padded with sign 0 (pointing at the site
itself), which adds nothing to ``S_i``. Being types (tuple length, None or not), z, the presence
of signs and of a field select a compiled specialisation, with the neighbour loop unrolled.

Other arrays and flags as in ``mc.kernels.spins`` (``spins`` (R, C, N) int8, ``rung_of`` /
``chain_at`` (R, C), ``rng`` (R, 4) with the state held in local variables during a replica's
sweep, counters per rung, exchange by ``mc.kernels.tempering.exchange`` with the features
``phi = ((1/2) g sum_i sigma_i S_i + b . sigma, h . sigma)``). The chains are exact but not the
same numbers as ``run_sparse``'s (one uniform per attempt, also for downhill moves).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .rng import load_state, next_u64_local, randbelow_local, store_state, uniform_local
from .tempering import exchange

__all__ = [
    "MAX_COUPLING_EXPONENT",
    "MAX_FIELD_TABLE_BYTES",
    "neighbour_table",
    "acceptance_tables",
    "features_lattice",
    "run_lattice",
]

#: Largest coupling exponent ``2 max|theta_prior| g z`` the tables accept (see module notes).
MAX_COUPLING_EXPONENT = 600.0
#: Field exponents are clipped to +-this.
_FIELD_CLIP = 700.0
#: Largest field table ``F`` (bytes); above it the sampler keeps the generic sparse kernel.
MAX_FIELD_TABLE_BYTES = 1 << 26


def neighbour_table(indptr, indices, weights):
    """Fixed-degree neighbour table of CSR couplings whose nonzero entries share one magnitude.

    Parameters
    ----------
    indptr, indices, weights : CSR arrays of ``beta W`` (symmetric, no self-loops).

    Returns
    -------
    ``(nbrs, sgns, g)``: ``nbrs`` a tuple of z int32 arrays (N,), ``nbrs[p][i]`` the p-th
    neighbour of site i; ``sgns`` a tuple of z int8 arrays of the bond signs (0 on padding), or
    None when every site has z neighbours and all nonzero weights are equal (a ferromagnet, or an
    antiferromagnet, on a periodic lattice); and the coupling ``g``: that common weight when
    ``sgns`` is None, the common magnitude otherwise. None when the magnitudes differ (e.g.
    Gaussian couplings). Explicitly stored zeros are treated as absent bonds.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    n = indptr.size - 1
    if n >= np.iinfo(np.int32).max:
        raise ValueError(f"neighbour_table: N = {n} does not fit int32 indices")
    nonzero = weights != 0.0
    w = weights[nonzero]
    g = float(abs(w[0])) if w.size else 0.0
    if w.size and not np.all(np.abs(w) == g):
        return None
    rows = np.repeat(np.arange(n), np.diff(indptr))[nonzero]
    cols = indices[nonzero]
    degree = np.bincount(rows, minlength=n)
    z = max(int(degree.max()) if n else 0, 1)
    nbr = np.repeat(np.arange(n, dtype=np.int32)[None, :], z, axis=0)  # padding: the site itself
    sgn = np.zeros((z, n), dtype=np.int8)
    slot = np.arange(rows.size) - np.concatenate([[0], np.cumsum(degree)[:-1]])[rows]
    nbr[slot, rows] = cols
    sgn[slot, rows] = np.sign(w)
    nbrs = tuple(np.ascontiguousarray(row) for row in nbr)
    if np.all(degree == z) and (w.size == 0 or np.all(w == w[0])):
        return nbrs, None, float(w[0]) if w.size else 0.0
    return nbrs, tuple(np.ascontiguousarray(row) for row in sgn), g


def acceptance_tables(theta, g, z, b, h, heat_bath, max_field_bytes=MAX_FIELD_TABLE_BYTES):
    """Tables of ``run_lattice``: ``(table, thresholds, ftab)``, or None when they do not apply.

    ``table[k, s, m + z] = exp(-2 theta_prior g sigma m)`` with ``sigma = 2 s - 1``, shape
    (K, 2, 2z+1): Metropolis reads row ``s`` of the spin's value at ``m = S_i`` (the product
    ``sigma_i S_i`` is not formed), heat bath reads row 1. Without a field
    (``theta_prior b + theta_lik h = 0`` at every rung) ``ftab`` is None and the decisions are
    integer comparisons ``x >> 11 < thresholds[k, s, m + z]`` of the 53 random bits, with
    ``thresholds = ceil(2^53 p)`` for ``p = min(table, 2)`` (Metropolis) or ``1 / (1 + table)``
    (heat bath): since ``u = (x >> 11) 2^-53``, ``u < p`` holds exactly when the integer
    comparison does. With a field, ``ftab`` (K, N, 2) holds ``F`` and ``thresholds`` is unused.

    None when ``2 max|theta_prior| |g| z > MAX_COUPLING_EXPONENT`` or when ``ftab`` would exceed
    ``max_field_bytes``; the generic kernel ``mc.kernels.spins.run_sparse`` applies then.
    """
    theta = np.asarray(theta, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    k = theta.shape[0]
    if not 2.0 * float(np.max(np.abs(theta[:, 0]))) * abs(g) * z <= MAX_COUPLING_EXPONENT:
        return None
    sm = np.array([-1.0, 1.0])[:, None] * np.arange(-z, z + 1, dtype=np.float64)[None, :]  # sigma m
    table = np.ascontiguousarray(np.exp(-2.0 * g * theta[:, 0, None, None] * sm[None]))
    p = 1.0 / (1.0 + table) if heat_bath else np.minimum(table, 2.0)
    thresholds = np.ascontiguousarray(np.ceil(p * 2.0**53).astype(np.uint64))
    c = theta[:, :1] * b[None, :] + theta[:, 1:2] * h[None, :]  # (K, N) field part of f_i
    if not np.any(c):
        return table, thresholds, None
    if 16 * c.size > max_field_bytes:
        return None
    ftab = np.empty((k, c.shape[1], 2))
    ftab[:, :, 0] = np.exp(np.clip(2.0 * c, -_FIELD_CLIP, _FIELD_CLIP))  # sigma = -1
    ftab[:, :, 1] = np.exp(np.clip(-2.0 * c, -_FIELD_CLIP, _FIELD_CLIP))  # sigma = +1
    return table, thresholds, ftab


@njit(cache=True)
def features_lattice(spins, nbrs, sgns, g, b, h, phi):
    """``phi[r, c] = ((1/2) g sum_i sigma_i S_i + b . sigma, h . sigma)``."""
    n_rep, n_chain, n = spins.shape
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            pair = 0
            pb = 0.0
            ph = 0.0
            for i in range(n):
                pair += s[i] * _neighbour_sum(s, nbrs, sgns, i)
                pb += b[i] * s[i]
                ph += h[i] * s[i]
            phi[r, c, 0] = 0.5 * g * pair + pb
            phi[r, c, 1] = ph


@njit(cache=True, inline="always")
def _neighbour_sum(s, nbrs, sgns, i):
    """``S_i = sum_p sgns[p][i] s[nbrs[p][i]]`` (no signs when ``sgns`` is None)."""
    acc = 0
    for p in range(len(nbrs)):
        if sgns is None:
            acc += s[nbrs[p][i]]
        else:
            acc += sgns[p][i] * s[nbrs[p][i]]
    return acc


@njit(cache=True, inline="always")
def _flip_if(si, flip):
    """``-si`` if ``flip`` else ``si``, by arithmetic (a branch would be mispredicted half the time
    at high acceptance, and a select is often turned into one by the compiler)."""
    return np.int8(si ^ (np.int8(flip) * np.int8(-2)))


@njit(cache=True, inline="always")
def _sweep(s, nbrs, sgns, a, tk, fk, heat_bath, random_order, st):
    """One sweep of one chain; returns (flips, state). Flags are constants after inlining."""
    n = s.size
    z = len(nbrs)
    nf = 0
    for step in range(n):
        i = step
        if random_order:
            i, st = randbelow_local(st, n)
        si = s[i]
        row = 1 if heat_bath else (si + 1) >> 1
        m = _neighbour_sum(s, nbrs, sgns, i) + z
        if fk is None:
            x, st = next_u64_local(st)
            accept = (x >> np.uint64(11)) < tk[row, m]
        else:
            u, st = uniform_local(st)
            if heat_bath:
                accept = u * (1.0 + a[row, m] * fk[i, 1]) < 1.0
            else:
                accept = u < a[row, m] * fk[i, row]
        if heat_bath:
            new = np.int8(2 * np.int8(accept) - 1)
        else:
            new = _flip_if(si, accept)
        s[i] = new
        nf += new != si
    return nf, st


@njit(cache=True)
def run_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, theta, rung_of, chain_at, n_sweeps, heat_bath,
                random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """``n_sweeps`` sweeps of every chain with tabulated acceptances (see module notes).

    ``nbrs``, ``sgns``, ``g`` from ``neighbour_table``; ``table``, ``thresholds``, ``ftab`` from
    ``acceptance_tables`` (for the same ``theta`` and ``heat_bath``). The four combinations of
    ``heat_bath`` and ``random_order`` are separate copies of the sweep, so no flag is tested
    inside it. One 64-bit draw per attempt (two with random sites), and the new spin is computed
    without a branch on the decision (at high acceptance a branch is mispredicted half the time).
    """
    n_rep, n_chain, n = spins.shape
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                a = table[k]
                tk = thresholds[k]
                fk = None if ftab is None else ftab[k]
                s = spins[r, c]
                if heat_bath:
                    if random_order:
                        nf, st = _sweep(s, nbrs, sgns, a, tk, fk, True, True, st)
                    else:
                        nf, st = _sweep(s, nbrs, sgns, a, tk, fk, True, False, st)
                elif random_order:
                    nf, st = _sweep(s, nbrs, sgns, a, tk, fk, False, True, st)
                else:
                    nf, st = _sweep(s, nbrs, sgns, a, tk, fk, False, False, st)
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_lattice(spins, nbrs, sgns, g, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
