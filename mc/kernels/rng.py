"""Counter-free pseudo-random numbers inside Numba kernels: xoshiro256** on a uint64 state array.

Each replica owns a state row ``state[r]`` of four uint64 words, seeded from a
``numpy.random.SeedSequence`` keyed by the task and the replica index (``design.md``: seeding),
so a chain depends on its seed only, never on how many replicas, threads or MPI ranks there are.
Numba's global ``np.random`` state is never used.

Generator: xoshiro256** 1.0 (Blackman & Vigna 2021, "Scrambled linear pseudorandom number
generators", ACM TOMS 47, 36; reference C code at prng.di.unimi.it). Doubles in [0, 1) take the
top 53 bits. Normals by Marsaglia's polar method (Marsaglia & Bray 1964); the second normal of
each pair is discarded so that the state is the only memory.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["seed_states", "next_u64", "uniform", "normal", "randbelow", "xoshiro_reference"]



@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_u64(state):
    """Next 64-bit output of xoshiro256** and advance ``state`` (uint64 array of length 4)."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@njit(cache=True)
def uniform(state):
    """Uniform double in [0, 1) from the top 53 bits."""
    return np.float64(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def normal(state):
    """Standard normal by the polar method (one of the pair; the other is discarded)."""
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        r2 = u * u + v * v
        if 0.0 < r2 < 1.0:
            return u * np.sqrt(-2.0 * np.log(r2) / r2)


@njit(cache=True)
def randbelow(state, n):
    """Uniform integer in ``[0, n)`` (multiply-shift on 53 bits; bias below 2^-40 for n < 2^13)."""
    return np.int64(uniform(state) * n)


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
