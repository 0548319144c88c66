"""The xoshiro256** streams of the kernels: reference outputs, uniform and normal laws, seeding."""
import numpy as np

from mc.kernels.rng import next_u64, normal, seed_states, uniform, xoshiro_reference


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
