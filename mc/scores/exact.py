"""Scores with closed forms: the memorising, the linear (generalising) and the smoothed model.

For training points ``y_mu`` with weights ``w_mu`` (mean ``m``, covariance ``C = U diag(lambda) U^T``,
``ddof = 0``, both weighted), and a forward process with ``x_t = a x0 + sqrt(D) z``:

* :class:`EmpiricalScore`, the exact score of the empirical law ``sum_mu w_mu delta(x0 - y_mu)``:
  the perfectly memorising model. Its denoiser is the posterior mean over the points,

      E[x0 | x] = sum_mu r_mu y_mu,   r_mu = softmax_mu(log w_mu + (a x . y_mu - a^2 |y_mu|^2 / 2) / D),

  the Tweedie score of ``mc.Posterior`` on a :class:`~mc.Dataset` (here by matrix products over a
  batch of paths).
* :class:`GaussianScore`, the exact score of ``N(m, C)``: the Wiener filter, a perfectly linear
  model that generalises (samples the Gaussian of the data's first two moments),

      E[x0 | x] = m + a C (a^2 C + D I)^{-1} (x - a m).

* :class:`SmoothedScore`, the exact score of a kernel density of the points with bandwidth
  ``h >= 0``, the shrunk smoothed bootstrap (Silverman 1986, sec. 6.4.1; Jones 1991): points
  shrunk to the mean and smeared by a kernel of the data's own covariance,

      p0 = sum_mu w_mu N(m + l (y_mu - m), k C),   l = 1 / sqrt(1 + h^2),   k = h^2 / (1 + h^2),

  which keeps the mean and covariance of the points for every h. At ``h = 0`` it is the empirical
  law, and as ``h -> infinity`` it tends to ``N(m, C)``: it interpolates between memorising and
  generalising. In the eigenbasis of C every component has the diagonal covariance ``k lambda``,
  so with ``v = a^2 k lambda + D`` (per eigen-direction), rotated centred coordinates
  ``u = U^T (x - a m)`` and shrunk points ``c_mu = l U^T (y_mu - m)``:

      r_mu = softmax_mu(log w_mu + sum_i (a u_i c_mu,i - a^2 c_mu,i^2 / 2) / v_i),
      E[x0 | x] = m + U [cbar + (a k lambda / v) (u - a cbar)],   cbar = sum_mu r_mu c_mu.

The weights are the model's prior weights (a data file with repeated rows merges them into
weights). Batches are cut so that the logits take at most :data:`MAX_LOGITS` floats.
"""
from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field

from . import registry as _registry
from .._validation import as_float_array, as_scalar, probability_vector
from .base import ScoreModel

__all__ = ["EmpiricalScore", "GaussianScore", "SmoothedScore", "moments"]

#: Largest logits table (paths x points) computed at once: 2^22 floats, 32 MiB.
MAX_LOGITS = 1 << 22


def _points_and_log_weights(points, weights):
    pts = np.ascontiguousarray(as_float_array(points, "points", ndim=2), dtype=np.float64)
    if pts.shape[0] < 1 or pts.shape[1] < 1:
        raise ValueError(f"points: expected at least one point of dimension >= 1, got shape {pts.shape}")
    n = pts.shape[0]
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = probability_vector(weights, "weights", n)
    with np.errstate(divide="ignore"):
        return pts, w, np.log(w)


def moments(points, weights=None):
    """Weighted mean ``m`` (N,) and covariance ``C`` (N, N) (``ddof = 0``) of the points."""
    pts, w, _ = _points_and_log_weights(points, weights)
    m = w @ pts
    d = pts - m
    return m, (d * w[:, None]).T @ d


#: Logits below the row maximum by more than this are raised to it before ``exp``: their weights,
#: below 1e-260, and their products with the points stay normal floats (denormal ones made small-t
#: calls twice as slow); they change the average by less than 1e-250 relative.
_LOGIT_FLOOR = -600.0


def _softmax_average(logits, values):
    """``softmax(logits, axis=1) @ values``, stabilised by the row maxima."""
    logits -= logits.max(axis=1, keepdims=True)
    np.maximum(logits, _LOGIT_FLOOR, out=logits)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits @ values


def _row_chunks(n_rows, n_points):
    step = max(1, MAX_LOGITS // max(n_points, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


class EmpiricalScore(ScoreModel):
    """Exact score of the empirical law of training points (module docstring): memorises.

    Parameters
    ----------
    points : array (n, N); weights : array (n,), optional (uniform by default)
    process : ForwardProcess
    """

    name = "empirical"

    def __init__(self, points, process, weights=None):
        pts, w, log_w = _points_and_log_weights(points, weights)
        super().__init__(pts.shape[1], process)
        self.points, self.weights, self._log_w = pts, w, log_w
        self._sq = np.einsum("ij,ij->i", pts, pts)

    def _denoise(self, x, a, D, t):
        out = np.empty_like(x)
        for rows in _row_chunks(x.shape[0], self.points.shape[0]):
            logits = (x[rows] @ self.points.T) * (a / D)
            logits += self._log_w - (0.5 * a * a / D) * self._sq
            out[rows] = _softmax_average(logits, self.points)
        return out


class GaussianScore(ScoreModel):
    """Exact score of the Gaussian ``N(mean, covariance)``: the Wiener filter (module docstring).

    Parameters
    ----------
    mean : array (N,); covariance : array (N, N), symmetric positive semi-definite
    process : ForwardProcess

    :meth:`from_points` takes the mean and covariance of training points.
    """

    name = "gaussian"

    def __init__(self, mean, covariance, process):
        m = as_float_array(mean, "mean", ndim=1)
        C = as_float_array(covariance, "covariance", shape=(m.size, m.size))
        if not np.allclose(C, C.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(C).max()))):
            raise ValueError("covariance: must be symmetric")
        lam, U = np.linalg.eigh(0.5 * (C + C.T))
        if lam.min() < -1e-10 * max(1.0, lam.max()):
            raise ValueError(f"covariance: must be positive semi-definite, smallest eigenvalue {lam.min():.3g}")
        super().__init__(m.size, process)
        self.mean, self.eigenvalues, self.eigenvectors = m.copy(), np.clip(lam, 0.0, None), U

    @classmethod
    def from_points(cls, points, process, weights=None):
        m, C = moments(points, weights)
        return cls(m, C, process)

    def _denoise(self, x, a, D, t):
        U, lam = self.eigenvectors, self.eigenvalues
        u = (x - a * self.mean) @ U
        u *= a * lam / (a * a * lam + D)
        return self.mean + u @ U.T


class SmoothedScore(ScoreModel):
    """Exact score of the shrunk kernel density of training points, bandwidth ``h`` (module
    docstring): the empirical score at ``h = 0``, the Gaussian one as ``h -> infinity``.

    Parameters
    ----------
    points : array (n, N); weights : array (n,), optional
    bandwidth : float >= 0 (``math.inf`` allowed)
        Kernel width in units of the data's own covariance.
    process : ForwardProcess
    """

    name = "smoothed"

    def __init__(self, points, process, bandwidth, weights=None):
        pts, w, log_w = _points_and_log_weights(points, weights)
        h = as_scalar(bandwidth, "bandwidth", nonnegative=True, finite=False)
        if math.isnan(h):
            raise ValueError("bandwidth: must be a number >= 0, got nan")
        super().__init__(pts.shape[1], process)
        self.bandwidth = h
        self.shrink = 0.0 if math.isinf(h) else 1.0 / math.sqrt(1.0 + h * h)
        self.kernel = 1.0 if math.isinf(h) else h * h / (1.0 + h * h)
        m, C = moments(pts, w)
        lam, U = np.linalg.eigh(C)
        self.mean, self.eigenvalues, self.eigenvectors = m, np.clip(lam, 0.0, None), U
        self._centres = np.ascontiguousarray(self.shrink * ((pts - m) @ U))
        self._log_w = log_w

    def _denoise(self, x, a, D, t):
        lam, U, c = self.eigenvalues, self.eigenvectors, self._centres
        v = a * a * self.kernel * lam + D
        gain = a * self.kernel * lam / v
        u = (x - a * self.mean) @ U
        if self.shrink == 0.0:  # h = infinity: every centre at the mean, the Wiener filter
            cbar = np.zeros_like(u)
        else:
            scaled = c * (a / v)
            quad = (0.5 * a * a) * ((c * c) @ (1.0 / v))
            cbar = np.empty_like(u)
            for rows in _row_chunks(u.shape[0], c.shape[0]):
                logits = u[rows] @ scaled.T
                logits += self._log_w - quad
                cbar[rows] = _softmax_average(logits, c)
        return self.mean + (cbar + gain * (u - a * cbar)) @ U.T


# registry entries ------------------------------------------------------------------------------
def _training_set(model):
    points = getattr(model, "points", None)
    if points is None:
        raise ValueError(f"score: needs a model with training points (a data set), got {type(model).__name__}")
    return points, getattr(model, "prior_weights", None)


@_registry.register
class _EmpiricalEntry(_registry.ScoreEntry):
    name = EmpiricalScore.name
    exact_posterior = True
    doc = ("exact score of the training points' empirical law (memorises): E[x0|x] = softmax-weighted mean of "
           "the points")

    def build(self, p, model, process):
        points, weights = _training_set(model)
        return EmpiricalScore(points, process, weights=weights)


@_registry.register
class _GaussianEntry(_registry.ScoreEntry):
    name = GaussianScore.name
    doc = ("exact score of N(m, C) of the training points (linear, generalises): "
           "E[x0|x] = m + a C (a^2 C + D)^-1 (x - a m)")

    def build(self, p, model, process):
        points, weights = _training_set(model)
        return GaussianScore.from_points(points, process, weights=weights)


@_registry.register
class _SmoothedEntry(_registry.ScoreEntry):
    name = SmoothedScore.name
    doc = ("exact score of the shrunk kernel density sum_mu w_mu N(m + l (y_mu - m), k C), l = (1 + h^2)^-1/2, "
           "k = 1 - l^2: empirical at h = 0, Gaussian at h = inf")

    class Parameters(_registry.Parameters):
        bandwidth: Annotated[float, Field(ge=0)]

    def build(self, p, model, process):
        points, weights = _training_set(model)
        return SmoothedScore(points, process, p.bandwidth, weights=weights)
