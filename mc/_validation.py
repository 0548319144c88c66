"""Input checks shared by models, processes and posteriors.

Every check raises ``ValueError`` whose message starts with the name of the offending
parameter, so that a user scanning a log knows which field of a spec or call to fix.
"""
from __future__ import annotations

import numbers

import numpy as np


def as_float_array(value, name, *, ndim=None, shape=None, allow_nonfinite=False):
    """Convert ``value`` to a float64 array and check its shape and finiteness.

    ``shape`` may contain ``None`` for free axes.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected an array of numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, arr.shape)
        ):
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
    if not allow_nonfinite:
        check_finite(arr, name)
    return arr


def check_finite(arr, name, chunk=1 << 22):
    """Raise if ``arr`` holds NaN or infinity (checked in chunks to bound memory)."""
    flat = arr.reshape(-1)
    for start in range(0, flat.size, chunk):
        part = flat[start : start + chunk]
        if not np.isfinite(part).all():
            bad = start + int(np.flatnonzero(~np.isfinite(part))[0])
            index = np.unravel_index(bad, arr.shape) if arr.ndim else ()
            raise ValueError(
                f"{name}: contains a non-finite value ({flat[bad]}) at index {tuple(map(int, index))}"
            )


def as_scalar(value, name, *, positive=False, nonnegative=False, finite=True):
    """Convert to a Python float, rejecting arrays, NaN and (optionally) non-positive values."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise ValueError(f"{name}: expected a real number, got {value!r}")
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"{name}: expected a scalar, got shape {arr.shape}")
    out = float(arr)
    if finite and not np.isfinite(out):
        raise ValueError(f"{name}: must be finite, got {out}")
    if positive and not out > 0:
        raise ValueError(f"{name}: must be > 0, got {out}")
    if nonnegative and not out >= 0:
        raise ValueError(f"{name}: must be >= 0, got {out}")
    return out


def as_positive_int(value, name, *, minimum=1):
    """Convert to int, rejecting floats with a fractional part and values below ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        out = int(value)
    else:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if out < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {out}")
    return out


def probability_vector(weights, name, size, *, atol=1e-6):
    """Check non-negative weights of length ``size`` summing to one; return them renormalised.

    Weights whose sum differs from one by more than ``atol`` are an error, not silently
    renormalised: a user who passes counts instead of probabilities should be told.
    """
    w = as_float_array(weights, name, shape=(size,))
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"{name}: must be >= 0, got {w[i]} at index {i}")
    total = float(w.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name}: must sum to 1, got sum {total!r}")
    return w / total


def as_generator(rng, name="rng"):
    """Accept a ``numpy.random.Generator``, an int seed or a ``SeedSequence``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise ValueError(
        f"{name}: expected a numpy.random.Generator, an int seed or a SeedSequence, got {rng!r}"
    )


def sample_args(n, rng):
    """Checked arguments of every ``sample(n, rng)``: a count ``n >= 0`` and a Generator."""
    return as_positive_int(n, "n", minimum=0), as_generator(rng)
