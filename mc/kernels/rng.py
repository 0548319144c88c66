"""Counter-free pseudo-random numbers inside Numba kernels: xoshiro256** on a uint64 state array.

Each replica owns a state row ``state[r]`` of four uint64 words, seeded from a
``numpy.random.SeedSequence`` keyed by the task and the replica index (``design.md``: seeding),
so a chain depends on its seed only, never on how many replicas, threads or MPI ranks there are.
Numba's global ``np.random`` state is never used.

Generator: xoshiro256** 1.0 (Blackman & Vigna 2021, "Scrambled linear pseudorandom number
generators", ACM TOMS 47, 36; reference C code at prng.di.unimi.it). Doubles in [0, 1) take the
top 53 bits. Normals by Marsaglia's polar method (Marsaglia & Bray 1964).

Two interfaces draw the same numbers:

* on a state array: ``next_u64(state)``, ``uniform(state)``, ``randbelow(state, n)``,
  ``normal(state)`` (the second normal of each polar pair is discarded, so the state array is
  the only memory);
* on a state held in local variables, for hot loops: ``st = load_state(rng[r])`` (a tuple of four
  uint64), then ``u, st = uniform_local(st)``, ``i, st = randbelow_local(st, n)``, ...,
  and ``store_state(rng[r], st)`` when the replica's turn ends. Kept in registers, the state is
  neither reloaded nor stored at every draw (with a state array the compiler must assume that
  writes to the chain's arrays may alias it). ``normal_local(st, spare)`` keeps the second
  normal of each pair in ``spare`` (NaN when empty) and returns it at the next call; the
  samplers store ``spare`` per replica next to the state (``normal_spares``), so a replica's
  numbers still depend only on its own seed.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "seed_states",
    "normal_spares",
    "next_u64",
    "uniform",
    "normal",
    "randbelow",
    "load_state",
    "store_state",
    "next_u64_local",
    "uniform_local",
    "randbelow_local",
    "normal_local",
    "normal_rows",
    "xoshiro_reference",
]


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def load_state(row):
    """The four state words of ``row`` (uint64 array of length 4) as a tuple."""
    return (row[0], row[1], row[2], row[3])


@njit(cache=True, inline="always")
def store_state(row, st):
    """Write the state tuple ``st`` back into ``row``."""
    row[0] = st[0]
    row[1] = st[1]
    row[2] = st[2]
    row[3] = st[3]


@njit(cache=True, inline="always")
def next_u64_local(st):
    """Next 64-bit output of xoshiro256** and the advanced state tuple: ``(x, st)``."""
    s0, s1, s2, s3 = st
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, (s0, s1, s2, s3)


@njit(cache=True, inline="always")
def uniform_local(st):
    """Uniform double in [0, 1) from the top 53 bits: ``(u, st)``."""
    x, st = next_u64_local(st)
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0), st


@njit(cache=True, inline="always")
def randbelow_local(st, n):
    """Uniform integer in ``[0, n)``: ``(i, st)`` (multiply-shift on 53 bits, as ``randbelow``)."""
    u, st = uniform_local(st)
    return np.int64(u * n), st


@njit(cache=True, inline="always")
def normal_local(st, spare):
    """Standard normal by the polar method, both values of a pair used: ``(z, st, spare)``.

    ``spare`` is the cached second value of the last pair, NaN when there is none. If it holds a
    value, that value is returned and the cache emptied (no draw); otherwise a point ``(u, v)``
    uniform in the unit disc is drawn by rejection and ``u f`` is returned and ``v f`` cached,
    ``f = sqrt(-2 log r2 / r2)``, ``r2 = u^2 + v^2`` (two independent standard normals).
    """
    if not np.isnan(spare):
        return spare, st, np.nan
    while True:
        a, st = uniform_local(st)
        b, st = uniform_local(st)
        u = 2.0 * a - 1.0
        v = 2.0 * b - 1.0
        r2 = u * u + v * v
        if 0.0 < r2 < 1.0:
            f = np.sqrt(-2.0 * np.log(r2) / r2)
            return u * f, st, v * f


@njit(cache=True)
def next_u64(state):
    """Next 64-bit output of xoshiro256** and advance ``state`` (uint64 array of length 4)."""
    x, st = next_u64_local(load_state(state))
    store_state(state, st)
    return x


@njit(cache=True)
def uniform(state):
    """Uniform double in [0, 1) from the top 53 bits."""
    u, st = uniform_local(load_state(state))
    store_state(state, st)
    return u


@njit(cache=True)
def normal(state):
    """Standard normal by the polar method (one of the pair; the other is discarded)."""
    z, st, _ = normal_local(load_state(state), np.nan)
    store_state(state, st)
    return z


@njit(cache=True)
def randbelow(state, n):
    """Uniform integer in ``[0, n)`` (multiply-shift on 53 bits; bias below 2^-40 for n < 2^13)."""
    i, st = randbelow_local(load_state(state), n)
    store_state(state, st)
    return i


@njit(cache=True)
def normal_rows(state, spare, out):
    """Fill row ``i`` of ``out`` (shape (n, N)) with standard normals from state row ``i``.

    ``spare`` (shape (n,)) is each row's cache of the second polar normal (:func:`normal_spares`),
    so the numbers of row ``i`` depend on its own state only, never on how many rows are filled
    together (a batch of paths of any size draws the same noise per path).
    """
    for i in range(out.shape[0]):
        st = load_state(state[i])
        sp = spare[i]
        for j in range(out.shape[1]):
            z, st, sp = normal_local(st, sp)
            out[i, j] = z
        store_state(state[i], st)
        spare[i] = sp


def seed_states(seed_sequences):
    """One xoshiro state row per SeedSequence, shape ``(len(seed_sequences), 4)``, uint64.

    The all-zero state (a fixed point of the generator) cannot come out of a SeedSequence in
    practice; it is rejected anyway.
    """
    rows = [np.asarray(ss.generate_state(4, dtype=np.uint64), dtype=np.uint64) for ss in seed_sequences]
    states = np.stack(rows) if rows else np.empty((0, 4), dtype=np.uint64)
    if states.size and not np.all(states.any(axis=1)):
        raise ValueError("seed: produced an all-zero xoshiro state; use another seed")
    return np.ascontiguousarray(states)


def normal_spares(n_replicas):
    """Empty per-replica caches of the second polar normal: shape ``(n_replicas,)``, all NaN."""
    return np.full(int(n_replicas), np.nan)


def xoshiro_reference(state, n):
    """Pure-Python xoshiro256** (for tests): ``n`` outputs from a copy of ``state``."""
    mask = (1 << 64) - 1
    s = [int(v) for v in state]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & mask

    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & mask, 7) * 9) & mask)
        t = (s[1] << 17) & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out
