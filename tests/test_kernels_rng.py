"""The xoshiro256** streams of the kernels: reference outputs, uniform and normal laws, seeding, and
the local-state interface of the hot loops (same numbers; cached second polar normal)."""
import numpy as np
from numba import njit

from mc.kernels.rng import (
    load_state,
    next_u64,
    normal,
    normal_local,
    randbelow,
    randbelow_local,
    seed_states,
    store_state,
    uniform,
    uniform_local,
    xoshiro_reference,
)


def test_xoshiro_matches_the_published_reference_outputs():
    # state (1, 2, 3, 4): the first outputs of the reference C implementation of xoshiro256**
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    published = [11520, 0, 1509978240, 1215971899390074240]
    assert [int(next_u64(state)) for _ in range(4)] == published


def test_numba_generator_equals_pure_python_implementation_on_seeded_states():
    states = seed_states([np.random.SeedSequence(7, spawn_key=(k,)) for k in range(3)])
    for row in states:
        ref = xoshiro_reference(row.copy(), 1000)
        got = [int(next_u64(row)) for _ in range(1000)]
        assert got == ref


def test_uniform_and_normal_moments_within_five_standard_errors():
    state = seed_states([np.random.SeedSequence(11)])[0]
    n = 200_000
    u = np.array([uniform(state) for _ in range(n)])
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) <= 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) <= 5 * np.sqrt(1 / 180 / n)  # Var of (u - 1/2)^2 is 1/180
    z = np.array([normal(state) for _ in range(n)])
    assert abs(z.mean()) <= 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) <= 5 * np.sqrt(2.0 / n)
    assert abs(np.mean(z**4) - 3.0) <= 5 * np.sqrt(96.0 / n)  # Var z^4 = 105 - 9


def test_seed_states_depend_only_on_their_seed_sequence():
    a = seed_states([np.random.SeedSequence(3, spawn_key=(0, r)) for r in range(4)])
    b = seed_states([np.random.SeedSequence(3, spawn_key=(0, r)) for r in range(2)])
    np.testing.assert_array_equal(a[:2], b)
    assert len({tuple(row) for row in a}) == 4


@njit
def _local_draws(row, n_uniform, n_below, below):
    """Draws through the local-state interface (inside Numba, as the kernels use it)."""
    out = np.empty(n_uniform + n_below)
    st = load_state(row)
    for k in range(n_uniform):
        out[k], st = uniform_local(st)
    for k in range(n_below):
        i, st = randbelow_local(st, below)
        out[n_uniform + k] = i
    store_state(row, st)
    return out


@njit
def _local_normals(row, n):
    out = np.empty(n)
    empty = np.empty(n, dtype=np.bool_)
    st = load_state(row)
    spare = np.nan
    for k in range(n):
        out[k], st, spare = normal_local(st, spare)
        empty[k] = np.isnan(spare)
    return out, empty


def test_local_state_interface_draws_the_same_numbers_as_the_state_array():
    row = seed_states([np.random.SeedSequence(5)])[0]
    local_row = row.copy()
    via_array = [uniform(row) for _ in range(100)] + [randbelow(row, 37) for _ in range(100)]
    local = _local_draws(local_row, 100, 100, 37)
    assert local.tolist() == via_array
    np.testing.assert_array_equal(local_row, row)  # the state written back is the advanced one


def test_cached_polar_normals_use_both_values_of_each_pair():
    row = seed_states([np.random.SeedSequence(13)])[0]
    n = 200_000
    z, empty = _local_normals(row.copy(), n)
    np.testing.assert_array_equal(empty, np.arange(n) % 2 == 1)  # a spare after every first value
    # the first value of each pair is what the discarding normal() returns from the same state
    discard = np.array([normal(row) for _ in range(n // 2)])
    np.testing.assert_array_equal(z[::2], discard)
    assert abs(z.mean()) <= 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) <= 5 * np.sqrt(2.0 / n)
    assert abs(np.mean(z**4) - 3.0) <= 5 * np.sqrt(96.0 / n)
    # the two values of a pair are independent: their correlation and that of their squares vanish
    a, b = z[::2], z[1::2]
    m = n // 2
    assert abs(np.mean(a * b)) <= 5 / np.sqrt(m)
    assert abs(np.mean((a * a - 1) * (b * b - 1))) <= 5 * np.sqrt(4.0 / m)  # Var = 2 * 2
