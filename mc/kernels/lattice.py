"""Single-spin-flip sweeps for lattice Ising priors with bonds of one magnitude (Numba kernel).

For couplings ``beta W_ij = g e_ij`` with one coupling ``g`` and signs ``e_ij in {-1, 0, +1}``
(ferromagnet or antiferromagnet: ``g = beta J``, ``e = +1``; +-J Edwards-Anderson spin glass:
``g = beta |J|``, random signs), the neighbour sum ``S_i = sum_j e_ij sigma_j`` is an integer in
``[-z, z]`` (``z`` the largest degree, ``2 d`` on a hypercubic lattice), and flipping ``sigma_i``
at a rung with ``theta = (theta_prior, theta_lik)`` changes ``log pi`` by

    -2 sigma_i (theta_prior (g S_i + b_i) + theta_lik h_i)   (``mc.kernels.spins``, derived),

so the ratio ``Q = pi(flipped) / pi`` factorises into a coupling part that depends on the integer
``S_i`` and the spin's value only, and a field part that depends on the site:

    Q = exp(-2 sigma_i f_i) = A[k, s, S_i + z] * F[k, i, s],   s = (sigma_i + 1) / 2,
    A[k, s, m + z] = exp(-2 theta_prior g sigma m),   F[k, i, s] = exp(-2 sigma (theta_prior b_i + theta_lik h_i)).

Both are tabulated once per rung (``acceptance_tables``), so an attempt costs ``z`` int8 loads,
an integer sum and one or two table reads, and no ``exp``. Both rules flip ``sigma_i`` or keep
it, with ``u`` uniform in [0, 1):

* Metropolis: flip iff ``u < Q``, i.e. with probability ``min(1, Q)`` (Metropolis et al. 1953),
  the rule of ``mc.kernels.spins``;
* heat bath: flip iff ``u < Q (1 - u)``, i.e. ``u < Q / (1 + Q) = 1 / (1 + exp(2 sigma_i f_i))``:
  the new spin is +1 with probability ``1 / (1 + exp(-2 f_i))`` whatever the old one (Glauber).
  The product form stays exact when ``Q`` overflows to ``inf`` (flip).

Without a field (``theta_prior b + theta_lik h = 0`` at every rung, e.g. ``x_t = 0``) ``F = 1``
is not stored and ``u < p`` (``p = min(Q, 2)`` or ``Q / (1 + Q)``) becomes an integer comparison
of the 53 random bits with ``ceil(2^53 p)``, which is the same decision, so the two rules differ
only in the table.

Exactness. ``A F`` equals ``exp(-2 sigma_i f_i)`` up to rounding. The field exponents are clipped
to ``[-700, 700]`` so that ``A F`` is never ``inf * 0``; with coupling exponents bounded by
``2 max|theta_prior| |g| z <= MAX_COUPLING_EXPONENT`` (= 600, checked by ``acceptance_tables``) a
clipped factor only occurs where the exact flip probability is above 1 - 2^-53 or below
``e^-100``, beyond the ``2^-53`` resolution of ``u``, so the decisions are those of the
unclipped rule. Beyond that bound, or when the field table would be too large
(``MAX_FIELD_TABLE_BYTES``), the sampler keeps the generic ``run_sparse``.

Neighbour tables (``neighbour_table``): a tuple of z uint32 arrays ``nbrs[p][i]`` and, unless all
bonds are equal and every site has z neighbours, a tuple of int8 signs ``sgns[p][i]``. Open
boundaries (sites with fewer than z neighbours) are padded with sign 0 (pointing at the site
itself), which adds nothing to ``S_i``. Being types (tuple length, None or not), z, the presence
of signs and of a field select a compiled specialisation, with the neighbour loop unrolled.

Speed. In a sequential sweep each attempt waits for the previous one (its spin is a neighbour),
so the kernel shortens that chain of dependent instructions: unsigned indices (no wraparound
tests), the most recently updated neighbour added last, a table read instead of ``sigma_i S_i``,
and the new spin computed from the comparison without a branch (at high acceptance a branch
would be mispredicted half the time).

Other arrays and flags as in ``mc.kernels.spins`` (``spins`` (R, C, N) int8, ``rung_of`` /
``chain_at`` (R, C), ``rng`` (R, 4) with the state held in local variables during a replica's
sweep, counters per rung, exchange by ``mc.kernels.tempering.exchange`` with the features
``phi = ((1/2) g sum_i sigma_i S_i + b . sigma, h . sigma)``). The chains are exact but not the
same numbers as ``run_sparse``'s (one uniform per attempt, also for downhill moves, and the heat
bath decides on a flip rather than on the new value).
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
    ``(nbrs, sgns, g)``: ``nbrs`` a tuple of z uint32 arrays (N,), ``nbrs[p][i]`` the p-th
    neighbour of site i (in increasing ``(j - i) mod N``); ``sgns`` a tuple of z int8 arrays of the bond signs (0 on padding), or
    None when every site has z neighbours and all nonzero weights are equal (a ferromagnet, or an
    antiferromagnet, on a periodic lattice); and the coupling ``g``: that common weight when
    ``sgns`` is None, the common magnitude otherwise. None when the magnitudes differ (e.g.
    Gaussian couplings). Explicitly stored zeros are treated as absent bonds.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    n = indptr.size - 1
    if n > np.iinfo(np.uint32).max:
        raise ValueError(f"neighbour_table: N = {n} does not fit uint32 indices")
    nonzero = weights != 0.0
    w = weights[nonzero]
    g = float(abs(w[0])) if w.size else 0.0
    if w.size and not np.all(np.abs(w) == g):
        return None
    rows = np.repeat(np.arange(n), np.diff(indptr))[nonzero]
    cols = indices[nonzero]
    # per site, neighbours in increasing (j - i) mod N: in a sequential sweep the last one is the
    # most recently updated (j = i - 1 on a lattice), and it enters the sum last
    order = np.lexsort(((cols - rows) % max(n, 1), rows))
    rows, cols, w = rows[order], cols[order], w[order]
    degree = np.bincount(rows, minlength=n)
    z = max(int(degree.max()) if n else 0, 1)
    nbr = np.repeat(np.arange(n, dtype=np.uint32)[None, :], z, axis=0)  # padding: the site itself
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
    (K, 2, 2z+1), read at the spin's row ``s`` and ``m = S_i`` (the product ``sigma_i S_i`` is not
    formed). Without a field (``theta_prior b + theta_lik h = 0`` at every rung) ``ftab`` is None
    and the decisions are integer comparisons ``x >> 11 < thresholds[k, s, m + z]`` of the 53
    random bits, with ``thresholds = ceil(2^53 p)`` for the flip probability ``p = min(table, 2)``
    (Metropolis) or ``table / (1 + table)`` (heat bath): since ``u = (x >> 11) 2^-53``,
    ``u < p`` holds exactly when the integer comparison does. With a field, ``ftab`` (K, N, 2)
    holds ``F`` and ``thresholds`` is unused.

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
    p = table / (1.0 + table) if heat_bath else np.minimum(table, 2.0)  # flip probabilities
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
def _attempt(s, nbrs, sgns, a, tk, fk, hb, random_order, st, step):
    """One attempt on one chain: ``(flipped, state)`` (see module notes for the decision)."""
    n = s.size
    i = step
    if random_order:
        i, st = randbelow_local(st, n)
    si = s[i]
    row = (si + 1) >> 1
    m = np.uintp(_neighbour_sum(s, nbrs, sgns, i) + len(nbrs))  # in [0, 2z]: no wraparound test
    if fk is None:
        x, st = next_u64_local(st)
        flip = (x >> np.uint64(11)) < tk[row, m]
    else:
        u, st = uniform_local(st)
        flip = u < a[row, m] * fk[i, row] * (1.0 - hb * u)
    # -si if flip else si, by arithmetic: a branch would be mispredicted half the time at high
    # acceptance, and the compiler tends to turn a select into one
    s[i] = np.int8(si ^ (np.int8(flip) * np.int8(-2)))
    return flip, st


@njit(cache=True)
def _sweep(s, nbrs, sgns, a, tk, fk, hb, random_order, st):
    """One sweep of one chain; returns (flips, state)."""
    nf = 0
    for step in range(s.size):
        f, st = _attempt(s, nbrs, sgns, a, tk, fk, hb, random_order, st, step)
        nf += f
    return nf, st


@njit(cache=True)
def run_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, theta, rung_of, chain_at, n_sweeps, heat_bath,
                random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """``n_sweeps`` sweeps of every chain with tabulated acceptances (see module notes).

    ``nbrs``, ``sgns``, ``g`` from ``neighbour_table``; ``table``, ``thresholds``, ``ftab`` from
    ``acceptance_tables`` for the same ``theta`` and ``heat_bath``. One 64-bit draw per attempt
    (two with random sites).
    """
    n_rep, n_chain, n = spins.shape
    hb = 1.0 if heat_bath else 0.0
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                # two calls rather than "None if ftab is None else ftab[k]", whose type would be an
                # optional array, checked at every read
                if ftab is None:
                    nf, st = _sweep(spins[r, c], nbrs, sgns, table[k], thresholds[k], None, hb, random_order, st)
                else:
                    nf, st = _sweep(spins[r, c], nbrs, sgns, table[k], thresholds[k], ftab[k], hb, random_order, st)
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_lattice(spins, nbrs, sgns, g, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
