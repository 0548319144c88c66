"""Sample arrays in the replica layout, and how estimators tell exact sources from samples.

Layout: samples have shape ``(replicas, draws, N)``, the Monte Carlo engine's ``.samples``:
``R`` independent replicas of the same posterior (same quenched ``x_t``), each observed at ``T``
draws (consecutive draws of one replica may be correlated; draw ``k`` of different replicas are
independent). Pair quantities (overlaps ``q_ab``) use the ``R (R - 1) / 2`` pairs ``a < b`` at the
same draw; errors come from the integrated autocorrelation time of the per-draw series.

Every estimator in ``replica`` accepts, through the same argument,

* an exact posterior (``mc.Posterior`` or a model's ``ExactPosterior``): the exact value;
* a weight vector (where the estimator is a function of weights only);
* samples ``(R, T, N)``: an estimate with a standard error.
"""
from __future__ import annotations

import numpy as np

from mc._validation import as_float_array, as_generator, as_positive_int
from mc.models.base import ExactPosterior
from mc.posterior import Posterior

__all__ = ["exact_samples", "as_samples", "is_exact", "exact_of", "source_kind", "pair_indices", "pairs_within",
           "pair_dots"]

#: Temporaries of estimators hold at most about this many float64 elements (128 MiB).
CHUNK_ELEMENTS = 1 << 24


def exact_samples(posterior, n_replicas, n_draws, rng):
    """Independent exact posterior draws in the replica layout ``(n_replicas, n_draws, N)``.

    ``posterior`` is an ``mc.Posterior`` (or an ``ExactPosterior``) with an exact sampler.
    """
    ex = exact_of(posterior, "posterior")
    r = as_positive_int(n_replicas, "n_replicas")
    t = as_positive_int(n_draws, "n_draws")
    gen = as_generator(rng)
    draws = np.asarray(ex.sample(r * t, gen), dtype=np.float64)
    return draws.reshape(r, t, -1)


def is_exact(source):
    """Whether ``source`` is an exact posterior (``mc.Posterior`` or ``ExactPosterior``)."""
    return isinstance(source, (Posterior, ExactPosterior))


def exact_of(source, name="source"):
    """The ``ExactPosterior`` behind ``source`` (raising ``ValueError`` if it has none)."""
    if isinstance(source, Posterior):
        try:
            return source.exact
        except NotImplementedError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if isinstance(source, ExactPosterior):
        return source
    raise ValueError(f"{name}: expected an exact posterior (mc.Posterior), got {type(source).__name__}")


def as_samples(x, name="samples", *, min_replicas=1, min_draws=1):
    """``x`` as a finite float64 array of shape ``(replicas, draws, N)`` with the minimum counts."""
    arr = as_float_array(x, name)
    if arr.ndim != 3:
        hint = (
            "; exact draws of shape (n, N) can be arranged with replica.exact_samples or "
            ".reshape(replicas, draws, N)"
            if arr.ndim == 2
            else ""
        )
        raise ValueError(f"{name}: expected shape (replicas, draws, N), got {arr.shape}{hint}")
    r, t, n = arr.shape
    if n < 1:
        raise ValueError(f"{name}: N must be >= 1, got shape {arr.shape}")
    if r < min_replicas:
        raise ValueError(f"{name}: need at least {min_replicas} replicas for this estimator, got {r}")
    if t < min_draws:
        raise ValueError(f"{name}: need at least {min_draws} draws per replica for an error bar, got {t}")
    return arr


def source_kind(source, name="source"):
    """``"exact"``, ``"weights"`` (1-D array) or ``"samples"`` (3-D array)."""
    if is_exact(source):
        return "exact"
    ndim = np.ndim(source)
    if ndim == 1:
        return "weights"
    if ndim == 3:
        return "samples"
    raise ValueError(
        f"{name}: expected an exact posterior (mc.Posterior), a weight vector or samples of shape "
        f"(replicas, draws, N), got {type(source).__name__} with shape {np.shape(source)}"
    )


def pair_indices(n_replicas):
    """Indices ``(a, b)`` of the ``R (R - 1) / 2`` replica pairs ``a < b``."""
    return np.triu_indices(n_replicas, 1)


def pairs_within(n_replicas, keep):
    """Boolean mask over the pairs of :func:`pair_indices` whose two replicas are both in ``keep``."""
    ia, ib = pair_indices(n_replicas)
    inside = np.zeros(n_replicas, dtype=bool)
    inside[keep] = True
    return inside[ia] & inside[ib]


def pair_dots(x):
    """``x_a . x_b`` at every draw for the pairs of :func:`pair_indices`: shape ``(T, R (R - 1) / 2)``
    for ``x`` of shape ``(R, T, N)`` (or ``(R, T)``, a scalar per replica)."""
    ia, ib = pair_indices(x.shape[0])
    if x.ndim == 2:
        return (x[ia] * x[ib]).T
    out = np.empty((x.shape[1], ia.size))
    for sl in draw_chunks(x, extra=x.shape[0]):
        block = np.ascontiguousarray(x[:, sl].transpose(1, 0, 2))  # (chunk, R, N)
        out[sl] = np.matmul(block, block.transpose(0, 2, 1))[:, ia, ib]
    return out


def draw_chunks(samples, extra=1):
    """Slices of the draw axis such that a chunk times ``extra`` stays below ``CHUNK_ELEMENTS``."""
    r, t, n = samples.shape
    step = max(1, CHUNK_ELEMENTS // max(1, r * max(n, extra)))
    for start in range(0, t, step):
        yield slice(start, min(start + step, t))
