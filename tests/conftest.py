import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def within_standard_errors(estimate, target, stderr, n_se=5.0):
    """True where |estimate - target| <= n_se * stderr (elementwise)."""
    return np.abs(np.asarray(estimate) - np.asarray(target)) <= n_se * np.asarray(stderr)
