"""Finite training sets (empirical priors) and the two-delta model.

The empirical prior of a score model trained to optimality on points ``y^mu`` is
``p0 = sum_mu w_mu delta(x0 - y^mu)``. Its posterior is a softmax over points
(``physics.md``, finite data set):

    P(x0 = y^mu | y) = w_mu exp(-|y - y^mu|^2 / (2 s)) / Z,

a modern-Hopfield / attention update. With ``n = exp(alpha N)`` i.i.d. points this is a
random-energy-model-like system whose condensation onto one point is memorisation (collapse).
"""
from __future__ import annotations

import os

import numpy as np
from scipy.special import expit, logsumexp

from .._validation import (
    as_float_array,
    as_generator,
    as_positive_int,
    as_scalar,
    probability_vector,
    sample_args,
)
from .base import DataModel, ExactPosterior

__all__ = ["Dataset", "TwoDeltas", "DiscretePosterior", "TwoDeltasPosterior"]

#: Rows processed at a time where a temporary of shape (rows, N) is needed.
_CHUNK_ROWS = 1 << 14
#: Largest data set (bytes of float64 points) that the generating constructors will build.
DEFAULT_MAX_BYTES = 8 * 2**30


def _row_sq_norms(points):
    out = np.empty(points.shape[0])
    for start in range(0, points.shape[0], _CHUNK_ROWS):
        block = points[start : start + _CHUNK_ROWS]
        out[start : start + _CHUNK_ROWS] = np.einsum("ij,ij->i", block, block)
    return out


class Dataset(DataModel):
    """Finite training set ``{y^mu}`` with prior weights ``w_mu`` (uniform by default).

    Parameters
    ----------
    points : array, shape (n_points, N)
        Training points; float64 arrays are used without a copy.
    weights : array, shape (n_points,), optional
        Non-negative prior weights summing to one.

    Notes
    -----
    The posterior (``exact_posterior``) is exact for any ``n_points`` that fits in memory; it
    costs one matrix-vector product with the points per noisy state.
    """

    state_space = "points"
    capabilities = frozenset({"sample", "exact_posterior"})
    name = "dataset"

    def __init__(self, points, weights=None):
        pts = as_float_array(points, "points", ndim=2)
        if pts.shape[0] < 1 or pts.shape[1] < 1:
            raise ValueError(f"points: expected at least one point of dimension >= 1, got shape {pts.shape}")
        self.points = np.ascontiguousarray(pts)
        n = self.points.shape[0]
        if weights is None:
            self.weights = None
            self._log_weights = np.full(n, -np.log(n))
        else:
            w = probability_vector(weights, "weights", n)
            self.weights = w
            with np.errstate(divide="ignore"):
                self._log_weights = np.log(w)
        self.sq_norms = _row_sq_norms(self.points)
        self._params = {}
        #: Law the points were drawn from, when known (used for unplanted disorder).
        self.population = None

    # constructors -----------------------------------------------------------
    @classmethod
    def from_file(cls, path, key="points", weights_key="weights"):
        """Load points from a ``.npy`` file, or points (and optional weights) from a ``.npz``.

        Files are read with ``allow_pickle=False``: they are data, never code.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"path: no such file {path!r}")
        try:
            loaded = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"path: {path!r} is not a plain numeric .npy/.npz file ({exc})") from None
        if isinstance(loaded, np.ndarray):
            return cls(loaded)
        with loaded:
            if key not in loaded.files:
                raise ValueError(f"key: {key!r} not in {path!r} (it holds {sorted(loaded.files)})")
            weights = loaded[weights_key] if weights_key in loaded.files else None
            return cls(loaded[key], weights)

    @classmethod
    def gaussian(cls, n_points, n_dim, variance=1.0, seed=0, max_bytes=DEFAULT_MAX_BYTES):
        """``n_points`` i.i.d. points from ``N(0, variance I_N)``; ``population`` keeps that law."""
        n_points = as_positive_int(n_points, "n_points")
        n_dim = as_positive_int(n_dim, "n_dim")
        variance = as_scalar(variance, "variance", positive=True)
        if 8.0 * n_points * n_dim > max_bytes:
            raise ValueError(
                f"n_points: {n_points} points of dimension {n_dim} need "
                f"{8.0 * n_points * n_dim / 2**30:.1f} GiB, above max_bytes={max_bytes / 2**30:.1f} GiB"
            )
        rng = as_generator(seed, "seed")
        pts = rng.standard_normal((n_points, n_dim))
        pts *= np.sqrt(variance)
        out = cls(pts)
        out._params = {"variance": variance}
        from .gaussian_mixture import GaussianMixture

        out.population = GaussianMixture(np.zeros((1, n_dim)), variances=variance)
        return out

    @classmethod
    def from_alpha(cls, alpha, n_dim, variance=1.0, seed=0, max_bytes=DEFAULT_MAX_BYTES):
        """Gaussian data set with ``n = round(exp(alpha N))`` points (the REM scaling)."""
        alpha = as_scalar(alpha, "alpha", positive=True)
        n_dim = as_positive_int(n_dim, "n_dim")
        log_n = alpha * n_dim
        if log_n > np.log(max_bytes / (8.0 * n_dim)):
            raise ValueError(
                f"alpha: exp({alpha} * {n_dim}) = {np.exp(min(log_n, 700.0)):.3g} points do not fit "
                f"in max_bytes={max_bytes / 2**30:.1f} GiB"
            )
        n_points = max(1, int(round(np.exp(log_n))))
        out = cls.gaussian(n_points, n_dim, variance=variance, seed=seed, max_bytes=max_bytes)
        out._params = {"alpha": alpha, "variance": variance}
        return out

    # DataModel interface ------------------------------------------------------
    @property
    def n_dim(self):
        return self.points.shape[1]

    @property
    def n_points(self):
        return self.points.shape[0]

    @property
    def prior_weights(self):
        """Prior weights w_mu as an array (uniform 1/n when none were given)."""
        return np.exp(self._log_weights)

    def params(self):
        return {"n_dim": self.n_dim, "n_points": self.n_points, **self._params}

    def log_prob(self, x0, atol=1e-12):
        """``log w_mu`` where ``x0`` equals a training point (to ``atol`` per coordinate), else -inf."""
        x0 = self._check_batch(x0)
        flat = x0.reshape(-1, self.n_dim)
        out = np.full(flat.shape[0], -np.inf)
        for i, x in enumerate(flat):
            for start in range(0, self.n_points, _CHUNK_ROWS):
                block = self.points[start : start + _CHUNK_ROWS]
                hit = np.flatnonzero(np.all(np.abs(block - x) <= atol, axis=1))
                if hit.size:
                    out[i] = logsumexp(self._log_weights[start + hit])
                    break
        return out.reshape(x0.shape[:-1])

    def sample_indices(self, n, rng):
        """Indices of ``n`` points drawn from the prior weights."""
        n, gen = sample_args(n, rng)
        if self.weights is None:
            return gen.integers(0, self.n_points, size=n)
        return gen.choice(self.n_points, size=n, p=self.weights)

    def sample(self, n, rng):
        return self.points[self.sample_indices(n, rng)]

    def exact_posterior(self, y, s):
        return DiscretePosterior(self, y, s)


class DiscretePosterior(ExactPosterior):
    """Posterior over the points of a :class:`Dataset`: ``w_mu(y) = softmax_mu(log w_mu - |y - y^mu|^2 / (2 s))``.

    The logits are computed as ``log w_mu + (y . y^mu - |y^mu|^2 / 2) / s`` (one matrix-vector
    product, no (n, N) temporary) and normalised by log-sum-exp, so the weights stay finite and
    normalised for t -> 0 and millions of points.
    """

    def __init__(self, dataset, y, s):
        super().__init__(y, s)
        self.dataset = dataset
        pts = dataset.points
        logits = dataset._log_weights + (pts @ y - 0.5 * dataset.sq_norms) / self.s
        self.logits = logits
        top = int(np.argmax(logits))
        shifted = logits - logits[top]
        with np.errstate(under="ignore"):
            w = np.exp(shifted)
        total = w.sum()
        self._weights = w / total
        # log Z = log sum_mu w_mu exp(-|y - y^mu|^2 / (2 s)); the leading term is computed from
        # the exact distance to the most probable point to avoid cancellation.
        d_top = y - pts[top]
        self._log_z = float(
            dataset._log_weights[top] - 0.5 * float(d_top @ d_top) / self.s + np.log(total)
        )
        self.map_index = top
        self._off_top = None

    @property
    def weights(self):
        """Posterior weights over the training points (sum to one)."""
        return self._weights

    @property
    def log_weights(self):
        """Normalised log posterior weights (finite even where ``weights`` underflow to 0)."""
        return self.logits - logsumexp(self.logits)

    def log_partition(self):
        return self._log_z

    def _off_top_sum(self):
        # sum over mu != map_index of w_mu y^mu, computed once and shared by mean and cov_trace
        if self._off_top is None:
            others = self._weights.copy()
            others[self.map_index] = 0.0
            self._off_top = self.dataset.points.T @ others
        return self._off_top

    def mean(self):
        c = self.dataset.points[self.map_index]
        return self._off_top_sum() + self._weights[self.map_index] * c

    def cov(self):
        """Covariance ``sum_mu w_mu (y^mu - m)(y^mu - m)^T`` over points with non-zero weight."""
        m = self.mean()
        n_dim = self.n_dim
        out = np.zeros((n_dim, n_dim))
        support = np.flatnonzero(self._weights > 0)
        for start in range(0, support.size, _CHUNK_ROWS):
            idx = support[start : start + _CHUNK_ROWS]
            d = self.dataset.points[idx] - m
            out += (d * self._weights[idx, None]).T @ d
        return out

    def cov_trace(self):
        """``sum_mu w_mu |y^mu - m|^2``, computed about the most probable point c as
        ``sum_mu w_mu |y^mu - c|^2 - |m - c|^2`` (two matrix-vector products, no copies; the
        term of c itself is exactly zero, so a condensed posterior keeps its tiny trace)."""
        pts = self.dataset.points
        c = pts[self.map_index]
        d2 = self.dataset.sq_norms - 2.0 * (pts @ c) + float(c @ c)
        d2[self.map_index] = 0.0
        np.maximum(d2, 0.0, out=d2)
        w = self._weights
        shift = self._off_top_sum() - (1.0 - w[self.map_index]) * c  # m - c without cancellation
        return max(float(w @ d2) - float(shift @ shift), 0.0)

    def enumerate(self):
        """The training points and their posterior weights."""
        return self.dataset.points, self.weights

    def sample_indices(self, n, rng):
        """Indices of training points drawn from the posterior weights."""
        n, gen = sample_args(n, rng)
        return gen.choice(self.dataset.n_points, size=n, p=self._weights)

    def sample(self, n, rng):
        return self.dataset.points[self.sample_indices(n, rng)]


class TwoDeltas(Dataset):
    """Two deltas ``p0 = w delta(x0 - v) + (1 - w) delta(x0 + v)``.

    Posterior: ``P(+v | y) = (1 + tanh(g + b)) / 2`` with ``g = v . y / s`` and
    ``b = (1/2) log(w / (1 - w))``; mean ``v tanh(g + b)`` (``physics.md``). In 1D VE with
    ``v = 1``: ``E[x0 | x] = tanh(x / (sigma^2 t))``.
    """

    name = "two_deltas"

    def __init__(self, v, weight=0.5):
        v = as_float_array(v, "v")
        if v.ndim == 0:
            v = v.reshape(1)
        if v.ndim != 1:
            raise ValueError(f"v: expected a scalar or a vector, got shape {v.shape}")
        if not np.any(v != 0):
            raise ValueError("v: must be non-zero (the two deltas would coincide)")
        weight = as_scalar(weight, "weight")
        if not 0 < weight < 1:
            raise ValueError(f"weight: must lie in (0, 1), got {weight}")
        super().__init__(np.stack([v, -v]), np.array([weight, 1.0 - weight]))
        self.v = v
        self.weight = weight

    def params(self):
        return {"n_dim": self.n_dim, "v_norm": float(np.linalg.norm(self.v)), "weight": self.weight}

    def exact_posterior(self, y, s):
        return TwoDeltasPosterior(self, y, s)


class TwoDeltasPosterior(DiscretePosterior):
    """Closed-form posterior of :class:`TwoDeltas` (``physics.md``: two deltas)."""

    def __init__(self, model, y, s):
        super().__init__(model, y, s)
        v = model.v
        self.field_projection = float(v @ y) / self.s  # g
        self.bias = 0.5 * (np.log(model.weight) - np.log1p(-model.weight))  # b
        x = self.field_projection + self.bias
        self.magnetisation = float(np.tanh(x))
        self._weights = np.array([expit(2.0 * x), expit(-2.0 * x)])
        g = self.field_projection
        self._log_z = float(
            -0.5 * (float(y @ y) + float(v @ v)) / self.s
            + np.logaddexp(np.log(model.weight) + g, np.log1p(-model.weight) - g)
        )

    def mean(self):
        return self.dataset.v * self.magnetisation

    @property
    def _one_minus_m2(self):
        # 1 - tanh^2 = 4 w_+ w_-, accurate also where tanh is within 1e-16 of +-1.
        return 4.0 * self._weights[0] * self._weights[1]

    def cov(self):
        v = self.dataset.v
        return self._one_minus_m2 * np.outer(v, v)

    def cov_trace(self):
        v = self.dataset.v
        return float(self._one_minus_m2 * (v @ v))
