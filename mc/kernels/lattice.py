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

Ergodicity. Sequential Metropolis sweeps without a field (the rule itself, also that of
``mc.kernels.spins``) are not ergodic on small lattices: a move that does not raise the energy
(``sigma_i f_i <= 0``) is accepted for sure, and a few configurations (stripes, checkerboards of
a ferromagnet) then flip back and forth every sweep, neither reached from the others nor
leaving. On the 3 x 3 torus these are 8 configurations, 0.16 % of the mass at beta = 0.45; on
the 4 x 4 torus 64 configurations (0.01 % at beta = 0.4) are never reached from all spins up.
Random sites, the heat bath or a random field have no such cycles on the 3 x 3 torus
(``tests/test_kernels_lattice.py``).

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
A site's neighbours are in increasing ``(j - i) mod N``, padding first, so the last slot holds
``i - 1`` whenever that is a neighbour.

Speed (single core; ``benchmarks/bench_lattice.py`` times the kernel against mcising and
PeaPods). An attempt draws one 64-bit number and reads its table entry at the flat index
``sigma_i (z + 1) + S_i + 2z + 1`` (``_flat_tables``: one multiply-add by constants, no ``exp``);
the decision is the sign bit of a difference (``_below_int``, ``_below_float``) applied to the
spin by ``xor``, never a comparison, which the compiler would turn into a branch mispredicted at
every other flip at high acceptance. All indices are unsigned (no wraparound tests).

* Sequential sweeps: in a chain ``i = 0, 1, ...`` each attempt needs the new value of the previous
  site, its neighbour. That value is kept in a register, and the two decisions for ``i - 1`` at
  ``+1`` and at ``-1`` are formed before it is known and packed in two bytes, so that the chain of
  dependent instructions from one attempt to the next is an ``and``, a shift and a ``xor``
  (rather than a store, a reload, a table read and a comparison).
* Random sites: ``run_lattice`` copies the table per call into rows (N, z) (``_site_rows``), so
  that a random site costs one cache line of it rather than z, and the site index
  ``int(u N)`` of ``mc.kernels.rng.randbelow_local`` takes one multiply.

These change the instructions, not the decisions: per attempt the same random numbers and the
same comparison as an implementation that reads ``A[k, s, S_i + z]`` and ``F`` and compares (the
tests compare the chains, number for number, with a straightforward one that calls ``exp``).

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

from .rng import load_state, next_u64_local, store_state
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
#: 2^-53: ``u = (x >> 11) 2^-53`` is ``mc.kernels.rng.uniform_local``'s double.
_TWO_M53 = 1.0 / 9007199254740992.0


def neighbour_table(indptr, indices, weights):
    """Fixed-degree neighbour table of CSR couplings whose nonzero entries share one magnitude.

    Parameters
    ----------
    indptr, indices, weights : CSR arrays of ``beta W`` (symmetric, no self-loops).

    Returns
    -------
    ``(nbrs, sgns, g)``: ``nbrs`` a tuple of z uint32 arrays (N,), ``nbrs[p][i]`` the p-th
    neighbour of site i (in increasing ``(j - i) mod N``, after the padding of a site with fewer
    than z neighbours: the site itself, sign 0); ``sgns`` a tuple of z int8 arrays of the bond
    signs (0 on padding), or None when every site has z neighbours and all nonzero weights are
    equal (a ferromagnet, or an antiferromagnet, on a periodic lattice); and the coupling ``g``:
    that common weight when ``sgns`` is None, the common magnitude otherwise. None when the
    magnitudes differ (e.g. Gaussian couplings). Explicitly stored zeros are treated as absent
    bonds.
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
    # padding first (offset 0), so that the last slot is always the largest offset
    slot = np.arange(rows.size) - np.concatenate([[0], np.cumsum(degree)[:-1]])[rows] + (z - degree)[rows]
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
    """``phi[r, c] = ((1/2) g sum_i sigma_i S_i + b . sigma, h . sigma)``.

    The pair sum is an integer (exact). Without fields (``b = h = 0``) the field terms are not
    summed: they are 0.0, as the sums of zeros would be.
    """
    n_rep, n_chain, n = spins.shape
    fields = not (_all_zero(b) and _all_zero(h))
    for r in range(n_rep):
        for c in range(n_chain):
            s = spins[r, c]
            pair = np.int64(0)
            pb = 0.0
            ph = 0.0
            if fields:
                for i in range(n):
                    site = np.uintp(i)
                    pair += np.int64(s[site]) * _neighbour_sum(s, nbrs, sgns, site)
                    pb += b[site] * s[site]
                    ph += h[site] * s[site]
            else:
                for i in range(n):
                    site = np.uintp(i)
                    pair += np.int64(s[site]) * _neighbour_sum(s, nbrs, sgns, site)
            phi[r, c, 0] = 0.5 * g * pair + pb
            phi[r, c, 1] = ph


@njit(cache=True)
def _all_zero(v):
    for i in range(v.size):
        if v[i] != 0.0:
            return False
    return True


@njit(cache=True, inline="always")
def _neighbour_sum(s, nbrs, sgns, i):
    """``S_i = sum_p sgns[p][i] s[nbrs[p][i]]`` (no signs when ``sgns`` is None)."""
    return _partial_sum(s, nbrs, sgns, i, len(nbrs))


@njit(cache=True, inline="always")
def _partial_sum(s, nbrs, sgns, i, stop):
    """The sum over the first ``stop`` neighbour slots of site ``i`` (int64)."""
    acc = np.int64(0)
    for p in range(stop):
        if sgns is None:
            acc += np.int64(s[nbrs[p][i]])
        else:
            acc += np.int64(sgns[p][i]) * np.int64(s[nbrs[p][i]])
    return acc


@njit(cache=True)
def _flat_tables(table, thresholds, z):
    """``table`` and ``thresholds`` (K, 2, 2z+1) as flat rows (K, 4z+3): entry ``(sigma, m)`` at
    ``sigma (z + 1) + m + 2z + 1`` (row ``sigma = -1`` in ``[0, 2z]``, ``+1`` in ``[2z + 2, 4z + 2]``),
    so an attempt finds it from the spin and the neighbour sum by a multiply-add with constants."""
    k_rungs = table.shape[0]
    af = np.zeros((k_rungs, 4 * z + 3))
    tf = np.zeros((k_rungs, 4 * z + 3), dtype=np.uint64)
    for k in range(k_rungs):
        for row in range(2):
            for m in range(2 * z + 1):
                at = (2 * row - 1) * (z + 1) + m + z + 1
                af[k, at] = table[k, row, m]
                tf[k, at] = thresholds[k, row, m]
    return af, tf


@njit(cache=True, inline="always")
def _below_int(x53, threshold):
    """All bits set (-1) if ``x53 < threshold``, else 0, without a comparison (``x53 < 2^53``,
    ``threshold <= 2^54``: the difference's sign bit is the answer). A comparison would let the
    compiler turn the decision into a branch, mispredicted at every other flip."""
    return np.int64(x53 - threshold) >> 63


@njit(cache=True, inline="always")
def _below_float(u, q):
    """All bits set if ``u < q``, else 0, from the sign bit of ``u - q`` (``u`` in [0, 1), ``q``
    in [0, inf], never NaN: ``u - q`` is exact in sign and never -0)."""
    return np.float64(u - q).view(np.int64) >> 63


@njit(cache=True, inline="always")
def _sweep_sequential(s, nbrs, sgns, af, tf, fk, hb, st):
    """One sequential sweep of one chain (see "Speed" in the module notes); returns (flips, state).

    The last neighbour slot of site ``i`` is ``i - 1`` when that is a neighbour (``neighbour_table``
    sorts them so); its new value is then still in a register, ``last``, and both candidate
    decisions (``last = +1`` and ``-1``) are formed before it is used: ``flip`` holds their
    masks ``0xFE`` in bytes 0 and 1 and is shifted by 0 or 8 bits (``last & 8``), so that one
    attempt waits for the previous one only through an ``and``, a shift and a ``xor``.
    """
    z = len(nbrs)
    nf = np.int64(0)
    last = np.int64(0)
    for step in range(s.size):
        i = np.uintp(step)
        si = np.int64(s[i])
        centre = si * (z + 1) + (2 * z + 1) + _partial_sum(s, nbrs, sgns, i, z - 1)
        j = nbrs[z - 1][i]
        sg = np.int64(1) if sgns is None else np.int64(sgns[z - 1][i])
        if np.uintp(j) + np.uintp(1) != i:
            last = np.int64(s[j])
        x, st = next_u64_local(st)
        x53 = x >> np.uint64(11)
        plus = np.uintp(centre + sg)
        minus = np.uintp(centre - sg)
        if fk is None:
            mp = _below_int(x53, tf[plus])
            mm = _below_int(x53, tf[minus])
        else:
            u = np.float64(x53) * _TWO_M53
            f = fk[i, np.uintp((si + 1) >> 1)]
            w = 1.0 - hb * u
            mp = _below_float(u, af[plus] * f * w)
            mm = _below_float(u, af[minus] * f * w)
        flip = ((mp & 0xFE) | (mm & 0xFE00)) >> (last & 8)  # low byte: 0xFE to flip, else 0
        last = si ^ flip  # low byte: the new spin
        s[i] = np.int8(last)
        nf += flip & 2
    return nf >> 1, st


@njit(cache=True, inline="always")
def _sweep_random(s, nbrs, rows, srows, af, tf, fk, hb, st):
    """N attempts at uniformly random sites of one chain; returns (flips, state).

    ``rows`` (N, z) holds the neighbours of each site next to each other (``srows`` their signs,
    or None), so that a random site costs one cache line of the table rather than z.
    """
    z = len(nbrs)
    n = s.size
    scale = n * _TWO_M53
    nf = np.int64(0)
    for _ in range(n):
        # randbelow_local(st, n) with one multiply: x 2^-53 n and x (n 2^-53) round the same product
        x, st = next_u64_local(st)
        i = np.uintp(np.int64(np.float64(x >> np.uint64(11)) * scale))
        si = np.int64(s[i])
        acc = np.int64(0)
        for p in range(z):
            if srows is None:
                acc += np.int64(s[rows[i, p]])
            else:
                acc += np.int64(srows[i, p]) * np.int64(s[rows[i, p]])
        at = np.uintp(si * (z + 1) + (2 * z + 1) + acc)
        x, st = next_u64_local(st)
        x53 = x >> np.uint64(11)
        if fk is None:
            flip = _below_int(x53, tf[at])
        else:
            u = np.float64(x53) * _TWO_M53
            flip = _below_float(u, af[at] * fk[i, np.uintp((si + 1) >> 1)] * (1.0 - hb * u))
        s[i] = np.int8(si ^ (flip & 0xFE))
        nf -= flip
    return nf, st


@njit(cache=True)
def _sweep(s, nbrs, sgns, rows, srows, af, tf, fk, hb, random_order, st):
    """One sweep of one chain; returns (flips, state)."""
    if random_order:
        return _sweep_random(s, nbrs, rows, srows, af, tf, fk, hb, st)
    return _sweep_sequential(s, nbrs, sgns, af, tf, fk, hb, st)


@njit(cache=True)
def _site_rows(nbrs, sgns, n):
    """The neighbour table as rows (N, z) (and the signs, or None): a site's entries adjacent."""
    z = len(nbrs)
    rows = np.empty((n, z), dtype=np.uint32)
    for i in range(n):
        for p in range(z):
            rows[i, p] = nbrs[p][i]
    if sgns is None:
        return rows, None
    srows = np.empty((n, z), dtype=np.int8)
    for i in range(n):
        for p in range(z):
            srows[i, p] = sgns[p][i]
    return rows, srows


@njit(cache=True)
def run_lattice(spins, nbrs, sgns, g, b, h, table, thresholds, ftab, theta, rung_of, chain_at, n_sweeps, heat_bath,
                random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """``n_sweeps`` sweeps of every chain with tabulated acceptances (see module notes).

    ``nbrs``, ``sgns``, ``g`` from ``neighbour_table``; ``table``, ``thresholds``, ``ftab`` from
    ``acceptance_tables`` for the same ``theta`` and ``heat_bath`` and ``z = len(nbrs)`` (checked:
    tables built for another z would misplace every entry). One 64-bit draw per attempt (two
    with random sites).
    """
    n = spins.shape[2]
    af, tf, rows, srows, hb = prepare_lattice(nbrs, sgns, table, thresholds, ftab, n, heat_bath, random_order)
    sweeps_lattice(spins, nbrs, sgns, g, b, h, af, tf, rows, srows, ftab, hb, theta, rung_of, chain_at, n_sweeps,
                   random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc)


@njit(cache=True)
def prepare_lattice(nbrs, sgns, table, thresholds, ftab, n, heat_bath, random_order):
    """The per-call set-up of :func:`run_lattice` (checks, flat tables, site rows), returned as
    ``(af, tf, rows, srows, hb)`` for :func:`sweeps_lattice`."""
    z = len(nbrs)
    if table.shape[2] != 2 * z + 1 or thresholds.shape[2] != 2 * z + 1:
        raise ValueError("run_lattice: acceptance tables built for another number of neighbours than len(nbrs)")
    if ftab is not None and (ftab.shape[1] != n or ftab.shape[0] != table.shape[0]):
        raise ValueError("run_lattice: field table of another shape than (rungs, N, 2)")
    af, tf = _flat_tables(table, thresholds, z)
    rows, srows = _site_rows(nbrs, sgns, n if random_order else 0)
    return af, tf, rows, srows, 1.0 if heat_bath else 0.0


@njit(cache=True)
def sweeps_lattice(spins, nbrs, sgns, g, b, h, af, tf, rows, srows, ftab, hb, theta, rung_of, chain_at, n_sweeps,
                   random_order, exchange_every, sweep0, rng, flips, sweeps_at, phi, ex_att, ex_acc):
    """The sweeps of :func:`run_lattice` with its set-up done (:func:`prepare_lattice`)."""
    n_rep, n_chain, n = spins.shape
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            for c in range(n_chain):
                k = rung_of[r, c]
                # two calls rather than "None if ftab is None else ftab[k]", whose type would be an
                # optional array, checked at every read
                if ftab is None:
                    nf, st = _sweep(spins[r, c], nbrs, sgns, rows, srows, af[k], tf[k], None, hb, random_order, st)
                else:
                    nf, st = _sweep(spins[r, c], nbrs, sgns, rows, srows, af[k], tf[k], ftab[k], hb, random_order,
                                    st)
                flips[r, k] += nf
                sweeps_at[r, k] += 1
            store_state(rng[r], st)
        done = sweep0 + sweep + 1
        if n_chain > 1 and done % exchange_every == 0:
            features_lattice(spins, nbrs, sgns, g, b, h, phi)
            exchange(phi, theta, chain_at, rung_of, rng, (done // exchange_every) % 2, ex_att, ex_acc)
