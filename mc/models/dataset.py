"""Finite training sets (empirical priors) and the two-delta model.

The empirical prior of a score model trained to optimality on points ``y^mu`` is
``p0 = sum_mu w_mu delta(x0 - y^mu)``. Its posterior is a softmax over points
(``physics.md``, finite data set):

    P(x0 = y^mu | y) = w_mu exp(-|y - y^mu|^2 / (2 s)) / Z,

a modern-Hopfield / attention update. With ``n = exp(alpha N)`` i.i.d. points this is a
random-energy-model-like system whose condensation onto one point is memorisation (collapse).

Points drawn from a Gaussian mixture keep the component of each point as its class label
(:meth:`Dataset.from_mixture`, :meth:`Dataset.two_class_alpha`): such a data set shows, as t
decreases, both speciation (the posterior commits to a class) and collapse (it condenses onto
one point) (Biroli, Bonnaire, de Bortoli & Mezard 2024).
"""
from __future__ import annotations

import math
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

__all__ = ["Dataset", "TwoDeltas", "DiscretePosterior", "TwoDeltasPosterior", "first_copies"]

#: Rows processed at a time where a temporary of shape (rows, N) is needed.
_CHUNK_ROWS = 1 << 14
#: Largest data set (bytes of float64 points) that the generating constructors will build.
DEFAULT_MAX_BYTES = 8 * 2**30


def _as_labels(labels, n_points):
    """Read-only int64 copy of class labels: integers >= 0, one per point."""
    lab = np.asarray(labels)
    if lab.shape != (n_points,):
        raise ValueError(f"labels: expected shape ({n_points},), one per point, got {lab.shape}")
    if lab.dtype.kind not in "iu":
        raise ValueError(f"labels: expected integers, got dtype {lab.dtype}")
    if n_points and lab.min() < 0:
        raise ValueError(f"labels: must be >= 0, got {int(lab.min())}")
    out = np.array(lab, dtype=np.int64)
    out.flags.writeable = False
    return out


def _check_memory(n_points, n_dim, max_bytes):
    if 8.0 * n_points * n_dim > max_bytes:
        raise ValueError(
            f"n_points: {n_points} points of dimension {n_dim} need "
            f"{8.0 * n_points * n_dim / 2**30:.1f} GiB, above max_bytes={max_bytes / 2**30:.1f} GiB"
        )


def _n_points_from_alpha(alpha, n_dim, max_bytes):
    """``round(exp(alpha N))`` (at least 1) after checking that the points fit in ``max_bytes``."""
    log_n = alpha * n_dim
    if log_n > np.log(max_bytes / (8.0 * n_dim)):
        raise ValueError(
            f"alpha: exp({alpha} * {n_dim}) = {np.exp(min(log_n, 700.0)):.3g} points do not fit "
            f"in max_bytes={max_bytes / 2**30:.1f} GiB"
        )
    return max(1, int(round(np.exp(log_n))))


def first_copies(points):
    """For each row of ``points`` (n, N), the index of the first row exactly equal to it (its
    own index when no earlier row equals it).

    Rows are sorted by a random projection ``h = points @ r`` (``r`` standard normal, fixed
    seed): equal rows have projections equal up to the rounding of a dot product, bounded by
    ``4 N eps sum_k |x_k r_k| <= 4 N eps |x| |r|``, so only neighbours in that order whose
    projections differ by less than the bound are compared, row by row, exactly. Cost
    ``O(n N + n log n)``: 0.1 s at n = 1e5, N = 784, where ``np.unique(points, axis=0)`` took
    5.5 s and a lexicographic sort of the rows 14 s.
    """
    pts = np.asarray(points, dtype=np.float64)
    n, dim = pts.shape
    out = np.arange(n)
    if n < 2:
        return out
    r = np.random.default_rng(0).standard_normal(dim)
    h = pts @ r
    # sum_k |x_k r_k| <= |x| |r| (Cauchy-Schwarz): row norms need no (n, N) temporary
    bound = 4.0 * dim * np.finfo(np.float64).eps * np.sqrt(_row_sq_norms(pts)) * float(np.linalg.norm(r))
    order = np.argsort(h, kind="stable")
    close = np.flatnonzero(np.diff(h[order]) <= np.maximum(bound[order[1:]], bound[order[:-1]]))
    if close.size == 0:
        return out
    # runs of consecutive close pairs: compare their rows exactly
    starts = close[np.r_[True, np.diff(close) > 1]]
    ends = close[np.r_[np.diff(close) > 1, True]] + 1
    for a, b in zip(starts, ends):
        run = np.sort(order[a : b + 1])  # file order, so the first copy is the earliest row
        _, first, inverse = np.unique(pts[run], axis=0, return_index=True, return_inverse=True)
        out[run] = run[first[inverse.ravel()]]
    return out


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
    labels : array of int, shape (n_points,), optional
        Class label (>= 0) of each point, e.g. the mixture component it was drawn from. Kept as
        a read-only ``int64`` array in ``labels`` (``None`` when not given).

    Notes
    -----
    The posterior (``exact_posterior``) is exact for any ``n_points`` that fits in memory; it
    costs one matrix-vector product with the points per noisy state.
    """

    state_space = "points"
    capabilities = frozenset({"sample", "exact_posterior"})
    name = "dataset"

    def __init__(self, points, weights=None, labels=None):
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
        self.labels = None if labels is None else _as_labels(labels, n)
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
        _check_memory(n_points, n_dim, max_bytes)
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
        n_points = _n_points_from_alpha(alpha, n_dim, max_bytes)
        out = cls.gaussian(n_points, n_dim, variance=variance, seed=seed, max_bytes=max_bytes)
        out._params = {"alpha": alpha, "variance": variance}
        return out

    @classmethod
    def from_mixture(cls, mixture, n_points, seed=0, max_bytes=DEFAULT_MAX_BYTES):
        """``n_points`` i.i.d. points from a Gaussian mixture, labelled by their component.

        Each point is drawn as ``k ~ pi``, ``y = mu_k + C_k^{1/2} z`` with ``z`` standard normal;
        ``labels[i]`` is the component ``k`` of point ``i``. The draws consume the generator in
        the same order as ``mixture.sample(n_points, default_rng(seed))``, so the points are
        those very samples. ``population`` is ``mixture`` (``source = "population"`` draws
        unplanted x_t from it) and ``params()`` records the mixture's parameters.

        Parameters
        ----------
        mixture : mc.GaussianMixture
            The population law.
        n_points : int
            Number of training points (>= 1).
        seed : int, SeedSequence or Generator
        max_bytes : float
            Largest size of the float64 points; more is a ``ValueError`` before any drawing.
        """
        from .gaussian_mixture import GaussianMixture

        if not isinstance(mixture, GaussianMixture):
            raise ValueError(f"mixture: expected a GaussianMixture, got {type(mixture).__name__}")
        n_points = as_positive_int(n_points, "n_points")
        _check_memory(n_points, mixture.n_dim, max_bytes)
        rng = as_generator(seed, "seed")
        # the same sequence of draws as GaussianMixture.sample: components, then the noise
        comp = rng.choice(mixture.n_components, size=n_points, p=mixture.weights)
        pts = rng.standard_normal((n_points, mixture.n_dim))
        for k in range(mixture.n_components):
            sel = comp == k
            pts[sel] = mixture.means[k] + mixture._from_eigenbasis(k, pts[sel] * np.sqrt(mixture.eigenvalues[k]))
        out = cls(pts, labels=comp)
        out._params = {k: v for k, v in mixture.params().items() if k != "n_dim"}
        out.population = mixture
        return out

    @classmethod
    def two_class_alpha(cls, alpha, n_dim, mu=1.0, variance=1.0, seed=0, max_bytes=DEFAULT_MAX_BYTES):
        """``n = round(exp(alpha N))`` points from the symmetric two-class mixture ``+-mu``.

        The population is ``(1/2) N(mu 1, variance I) + (1/2) N(-mu 1, variance I)``
        (``mc.GaussianMixture.two_class``) with ``mu`` per coordinate, so ``|mu|^2 = N mu^2``;
        ``labels`` is 0 for points drawn around ``+mu`` and 1 around ``-mu``. This is the data
        set of Biroli, Bonnaire, de Bortoli & Mezard (2024): as t decreases under VP the
        posterior first commits to a class (speciation, near ``(1/2) log Lambda`` with
        ``Lambda = N mu^2 + variance`` the top eigenvalue of the population covariance) and then
        condenses onto one point (collapse, near
        ``t_C = (1/2) log(1 + variance / (exp(2 alpha) - 1))`` at large N).

        ``params()``: ``alpha``, ``mu``, ``mu_norm2`` (``N mu^2``), ``variance`` and ``n_points``.

        >>> ds = Dataset.two_class_alpha(0.2, 10, mu=1.0, seed=1)
        >>> ds.n_points, sorted(set(ds.labels.tolist()))
        (7, [0, 1])
        """
        from .gaussian_mixture import GaussianMixture

        alpha = as_scalar(alpha, "alpha", positive=True)
        n_dim = as_positive_int(n_dim, "n_dim")
        mu = as_scalar(mu, "mu", positive=True)
        variance = as_scalar(variance, "variance", positive=True)
        n_points = _n_points_from_alpha(alpha, n_dim, max_bytes)
        mixture = GaussianMixture.two_class(mu, variance=variance, n_dim=n_dim)
        out = cls.from_mixture(mixture, n_points, seed=seed, max_bytes=max_bytes)
        out._params = {"alpha": alpha, "mu": mu, "mu_norm2": n_dim * mu * mu, "variance": variance}
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

    def mixture_parameters(self):
        """``(points (n, N), zeros (n, N), log w_mu (n,))``: the data set as a mixture of deltas
        (Gaussians of zero variance) at the points with the prior weights (see
        :meth:`DataModel.mixture_parameters`)."""
        pts = np.ascontiguousarray(self.points, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.prior_weights)
        return pts, np.zeros_like(pts), log_w


class DiscretePosterior(ExactPosterior):
    """Posterior over the points of a :class:`Dataset`: ``w_mu(y) = softmax_mu(log w_mu - |y - y^mu|^2 / (2 s))``.

    The logits are computed as ``log w_mu + (y . y^mu - |y^mu|^2 / 2) / s`` (one matrix-vector
    product, no (n, N) temporary) and normalised by log-sum-exp, so the weights stay finite and
    normalised for t -> 0 and millions of points.
    """

    #: Exact Franz-Parisi route: the posterior mass of the points in each bin of q.
    franz_parisi_route = "points"

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

    def pure_states(self):
        """``(weights, |y^mu|^2 / N)``: the states are the training points, with their posterior
        weights and self-overlaps ``q_mu = |y^mu|^2 / N`` (see :meth:`ExactPosterior.pure_states`)."""
        return self.weights, self.dataset.sq_norms / self.n_dim

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


# ------------------------------------------------------------------ scan specs (mc.models.registry)
from . import registry as _reg  # noqa: E402  (after the classes it builds)


def _points_fit(n_points, n_dim, max_gib):
    return 8.0 * n_points * n_dim <= max_gib * 2**30


@_reg.register
class _TwoDeltasEntry(_reg.ModelEntry):
    name = "two_deltas"
    space = "points"
    doc = "two deltas at +-v (1, ..., 1) (|v|^2 = N v^2), weight w on +v"
    provides = frozenset({"points"})
    columns = ("v_norm", "weight")

    class Parameters(_reg.Parameters):
        v: _reg.Length = 1.0
        weight: _reg.Probability = 0.5

    def build(self, p, n_dim, *, seed, max_bytes):
        return TwoDeltas(np.full(n_dim, p.v), weight=p.weight)

    def n_points(self, p, n_dim):
        return 2.0


@_reg.register
class _DatasetGaussianEntry(_reg.ModelEntry):
    name = "dataset_gaussian"
    space = "points"
    doc = "n_points i.i.d. N(0, variance I) training points (empirical prior)"
    random = True
    population = True
    provides = frozenset({"points"})
    columns = ("n_points", "variance")

    class Parameters(_reg.Parameters):
        n_points: _reg.PositiveInt
        variance: _reg.Variance = 1.0

    def build(self, p, n_dim, *, seed, max_bytes):
        return Dataset.gaussian(p.n_points, n_dim, variance=p.variance, seed=seed, max_bytes=max_bytes)

    def n_points(self, p, n_dim):
        return float(p.n_points)

    def check(self, p, n_dims, max_gib):
        for n in n_dims:
            if not _points_fit(p.n_points, n, max_gib):
                raise _reg.ModelSpecError(f"model.n_points: too many points for model.max_gib = {max_gib} GiB at N = {n}")


class _AlphaEntry(_reg.ModelEntry):
    """Data sets of n = round(exp(alpha N)) points (the REM scaling of the collapse)."""

    def n_points(self, p, n_dim):
        return math.exp(min(p.alpha * n_dim, 700.0))

    def check(self, p, n_dims, max_gib):
        for n in n_dims:
            if p.alpha * n + math.log(8.0 * n) > math.log(max_gib * 2**30):
                raise _reg.ModelSpecError(
                    f"model.alpha: exp({p.alpha} * {n}) points of dimension {n} need more than model.max_gib = "
                    f"{max_gib} GiB (grid.n_dim = {n})"
                )


@_reg.register
class _DatasetAlphaEntry(_AlphaEntry):
    name = "dataset_alpha"
    space = "points"
    doc = "n = round(exp(alpha N)) i.i.d. Gaussian training points (REM scaling)"
    random = True
    population = True
    provides = frozenset({"points"})
    columns = ("n_points", "alpha", "variance")

    class Parameters(_reg.Parameters):
        alpha: _reg.PositiveFloat
        variance: _reg.Variance = 1.0

    def build(self, p, n_dim, *, seed, max_bytes):
        return Dataset.from_alpha(p.alpha, n_dim, variance=p.variance, seed=seed, max_bytes=max_bytes)


@_reg.register
class _DatasetTwoClassEntry(_AlphaEntry):
    name = "dataset_two_class"
    space = "points"
    doc = ("n = round(exp(alpha N)) training points from (1/2) N(mu 1, variance I) + (1/2) N(-mu 1, variance I), "
           "|mu|^2 = N mu^2, labelled by class (speciation and collapse in one system)")
    random = True
    population = True
    provides = frozenset({"points", "labels", "two_classes"})
    columns = ("n_points", "alpha", "mu", "mu_norm2", "variance")

    class Parameters(_reg.Parameters):
        alpha: _reg.PositiveFloat
        mu: _reg.Length = 1.0
        variance: _reg.Variance = 1.0

    def build(self, p, n_dim, *, seed, max_bytes):
        return Dataset.two_class_alpha(p.alpha, n_dim, mu=p.mu, variance=p.variance, seed=seed, max_bytes=max_bytes)
