"""Which state a configuration is in: nearest training point, mixture class, identical configuration.

These labels turn samples into the discrete quantities that exact weights give directly:
participation ratio and cloning probability (two replicas in the same state), the
Edwards-Anderson overlap (overlap of two replicas in the same state), weight entropies.

* Data sets: the state of ``x`` is its nearest training point (Euclidean), which is the point
  itself for exact posterior draws.
* Gaussian mixtures: the Rao-Blackwellised class responsibility ``P(c | x0)`` under the prior
  mixture. Since ``x_t`` is independent of ``c`` given ``x0``,
  ``E[P(c | x0) | x_t] = P(c | x_t)`` (derived: tower property), so averages of responsibilities
  over exact samples are unbiased for the class weights, with less variance than hard labels;
  the hard label is ``argmax_c P(c | x0)``.
* Spins: identical configurations.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from mc._validation import as_float_array

from .samples import CHUNK_ELEMENTS

__all__ = ["nearest_point", "class_responsibilities", "class_labels", "configuration_labels", "state_labels"]


def _as_points(points, n_dim, name="points"):
    pts = as_float_array(points, name, ndim=2)
    if pts.shape[1] != n_dim:
        raise ValueError(f"{name}: expected shape (n_points, {n_dim}), got {pts.shape}")
    if pts.shape[0] < 1:
        raise ValueError(f"{name}: empty")
    return pts


def nearest_point(x, points):
    """Index of the nearest point (Euclidean) for each configuration.

    ``x`` has shape ``(..., N)``, ``points`` ``(n_points, N)``; returns integers of shape
    ``x.shape[:-1]``. Computed as ``argmax_mu (x . y^mu - |y^mu|^2 / 2)`` in chunks of bounded
    memory (one matrix product per chunk, no ``(n, N)`` temporaries). Ties go to the lowest index.
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x: expected shape (..., N), got a scalar")
    pts = _as_points(points, x.shape[-1])
    half_sq = 0.5 * np.einsum("ij,ij->i", pts, pts)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape[0], dtype=np.int64)
    rows = max(1, CHUNK_ELEMENTS // max(pts.shape[0], x.shape[-1]))
    for start in range(0, flat.shape[0], rows):
        block = flat[start : start + rows]
        out[start : start + rows] = np.argmax(block @ pts.T - half_sq, axis=1)
    return out.reshape(x.shape[:-1])


def _check_mixture(model):
    """``(weights, means, eigenvalues, eigenvectors)`` of the prior mixture, from the model's hook
    ``gaussian_components()`` (``None`` for a model that is not a mixture of Gaussians)."""
    hook = getattr(model, "gaussian_components", None)
    components = hook() if callable(hook) else None
    if components is None:
        raise ValueError(f"classes: expected a GaussianMixture (the prior), got {type(model).__name__}")
    weights, means, eigenvalues, eigenvectors = components
    if (eigenvalues <= 0).any():
        raise ValueError("classes: a component has a singular covariance; P(c | x0) is not defined by densities")
    return weights, means, eigenvalues, eigenvectors


def class_responsibilities(x, model):
    """``P(c | x0)`` under the prior mixture for each configuration: shape ``x.shape[:-1] + (K,)``.

    ``P(c | x0) = pi_c N(x0; mu_c, C_c) / sum_k pi_k N(x0; mu_k, C_k)``, evaluated in each
    component's eigenbasis and normalised by log-sum-exp (finite for any distance).
    """
    weights, means, eigenvalues, eigenvectors = _check_mixture(model)
    n_dim = means.shape[1]
    x = as_float_array(x, "x")
    if x.ndim == 0 or x.shape[-1] != n_dim:
        raise ValueError(f"x: expected shape (..., {n_dim}), got {x.shape}")
    flat = x.reshape(-1, n_dim)
    K = means.shape[0]
    logits = np.empty((flat.shape[0], K))
    rows = max(1, CHUNK_ELEMENTS // n_dim)
    for k in range(K):
        lam = eigenvalues[k]
        const = np.log(weights[k]) - 0.5 * np.sum(np.log(lam))
        for start in range(0, flat.shape[0], rows):
            d = flat[start : start + rows] - means[k]
            if eigenvectors is not None:
                d = d @ eigenvectors[k]
            logits[start : start + rows, k] = const - 0.5 * np.einsum("ij,ij->i", d * (1.0 / lam), d)
    with np.errstate(under="ignore"):
        resp = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return resp.reshape(x.shape[:-1] + (K,))


def class_labels(x, model):
    """Hard class label ``argmax_c P(c | x0)`` of each configuration (shape ``x.shape[:-1]``)."""
    return np.argmax(class_responsibilities(x, model), axis=-1)


def configuration_labels(x):
    """Integer label per configuration, equal for identical configurations (exact equality)."""
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x: expected shape (..., N), got a scalar")
    flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    _, inverse = np.unique(flat, axis=0, return_inverse=True)
    return inverse.reshape(x.shape[:-1])


def state_labels(samples, *, points=None, classes=None, labels=None):
    """Labels of shape ``(replicas, draws)`` from exactly one of the three ways to name a state.

    ``points``: nearest training point; ``classes``: hard mixture class (a ``GaussianMixture``);
    ``labels``: given integers of shape ``(replicas, draws)``. With none of them, identical
    configurations share a label (spins).
    """
    given = [name for name, v in (("points", points), ("classes", classes), ("labels", labels)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"{', '.join(given)}: give at most one way to name states")
    shape = samples.shape[:-1]
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != shape or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"labels: expected integers of shape {shape}, got {lab.dtype} {lab.shape}")
        return lab
    if points is not None:
        return nearest_point(samples, points)
    if classes is not None:
        return class_labels(samples, classes)
    return configuration_labels(samples)
