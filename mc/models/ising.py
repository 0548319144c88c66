"""Spin priors (diffused Ising models) on the hypercube {-1, +1}^N.

The prior is a Boltzmann measure on spins ``sigma in {-1, +1}^N``

    log p0(sigma) = (beta / 2) sigma^T W sigma + b . sigma   (+ constant),

with symmetric couplings ``W``, inverse temperature ``beta >= 0`` and field ``b``
(``physics.md``, spin priors). Since ``sigma_i^2 = 1``, the diagonal of ``W`` only adds the
constant ``(beta / 2) tr W``: ``log_prob`` keeps it (it evaluates the quadratic form as given),
and every normalised quantity (posteriors, samples, ``log Z``) is independent of it.

Diffusion posterior (derived). For a rescaled noisy state ``y = x_t / a_t`` with effective noise
variance ``s_eff = D_t / a_t^2``, ``|y - sigma|^2 = |y|^2 - 2 y . sigma + N`` because
``|sigma|^2 = N``, so

    P(sigma | y) proportional to exp[(beta / 2) sigma^T W sigma + (b + h) . sigma],  h = y / s_eff:

the same Ising model in the extra random field ``h`` (quenched disorder). Following
``base.ExactPosterior``, ``log Z = log E_{p0}[exp(-|y - sigma|^2 / (2 s_eff))]`` with ``p0``
normalised, so that the evidence is ``log p_t(x_t) = log Z - (N / 2) log(2 pi D_t)`` and
``d log Z / dy = (mean - y) / s_eff`` (Tweedie).

Exact routes
------------
* Any spin model with ``N <= MAX_ENUMERATION_DIM`` (= 20): enumeration of the ``2^N`` states
  (:class:`EnumeratedSpinPosterior`), in chunks of bounded memory.
* Curie-Weiss with ``J >= 0`` at any ``N``: a one-dimensional Hubbard-Stratonovich integral
  evaluated by the trapezoid rule (:class:`CurieWeissPosterior`), which also enumerates its
  ``2^N`` states (``enumerate``) for ``N <= MAX_ENUMERATION_DIM``.

Conventions: spins drawn by ``sample`` are returned as float64 arrays of ``+-1`` (int8 products
overflow for ``N > 127``); enumerated ``states`` are int8, state ``k`` having
``sigma_i = +1`` where bit ``i`` of ``k`` is set and ``-1`` otherwise.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._validation import as_float_array, as_generator, as_positive_int, as_scalar, sample_args
from .base import DataModel, ExactPosterior

__all__ = [
    "MAX_ENUMERATION_DIM",
    "IsingPrior",
    "CurieWeissPrior",
    "EnumeratedSpinPosterior",
    "CurieWeissPosterior",
    "SpinKernel",
]

#: Largest N for which the 2^N states are enumerated.
MAX_ENUMERATION_DIM = 20
#: Relative tolerance of the symmetry check of the couplings.
_SYMMETRY_RTOL = 1e-12
#: Number of float64 elements of a temporary of shape (rows, N) (16 MiB).
_CHUNK_ELEMENTS = 1 << 21
#: Half-width of the Hubbard-Stratonovich grid beyond [-1, 1], in units of w = 1 / sqrt(beta J N).
_HS_TAIL_WIDTHS = 12.0
#: Grid points per width w (spacing w / 4).
_HS_POINTS_PER_WIDTH = 4
#: Grid points whose weight is below exp(-_HS_PRUNE) times the largest are dropped after log Z.
_HS_PRUNE = 100.0
_LOG2 = float(np.log(2.0))


def _logsumexp(a):
    """``log sum exp(a)`` of a finite 1-D array (underflow of negligible terms is intended).

    Not ``scipy.special.logsumexp``: that one signals the intended underflow when the caller
    runs under ``np.errstate(all="raise")``.
    """
    top = float(np.max(a))
    with np.errstate(under="ignore"):
        return top + float(np.log(np.sum(np.exp(a - top))))


def _rows_per_chunk(width):
    return max(1, _CHUNK_ELEMENTS // max(1, int(width)))


def _chunks(n_rows, width):
    step = _rows_per_chunk(width)
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _readonly(arr):
    arr.setflags(write=False)
    return arr


def _sech2(a):
    """``1 - tanh(a)^2`` computed as ``4 e / (1 + e)^2``, ``e = exp(-2 |a|)`` (no cancellation)."""
    with np.errstate(under="ignore"):
        e = np.exp(-2.0 * np.abs(a))
        return 4.0 * e / (1.0 + e) ** 2


def _log2cosh_shift(v, c):
    """``log(2 cosh(v + c)) - |c|``, accurate even when ``|c| >> |v|`` (derived).

    ``|v + c| - |c| = v (v + 2 c) / (|v + c| + |c|)`` avoids the cancellation of two large numbers,
    and ``log(2 cosh a) = |a| + log1p(exp(-2 |a|))`` cannot overflow.
    """
    a = v + c
    abs_a = np.abs(a)
    den = abs_a + np.abs(c)
    positive = den > 0
    diff = np.where(positive, v * (v + 2.0 * c) / np.where(positive, den, 1.0), 0.0)
    with np.errstate(under="ignore"):
        return diff + np.log1p(np.exp(-2.0 * abs_a))


def _enumerate_states(n_dim):
    """All ``2^N`` spin states as an int8 array; state ``k`` has ``+1`` where bit ``i`` of ``k`` is set."""
    n_states = 1 << n_dim
    states = np.empty((n_states, n_dim), dtype=np.int8)
    shifts = np.arange(n_dim, dtype=np.int64)
    for sl in _chunks(n_states, 8 * n_dim):
        idx = np.arange(sl.start, sl.stop, dtype=np.int64)
        bits = ((idx[:, None] >> shifts) & 1).astype(np.int8)
        states[sl] = 2 * bits - 1
    return states


def _inverse_cdf_draw(cdf, n, gen):
    """Indices drawn from a discrete law given its (unnormalised, non-decreasing) CDF."""
    u = gen.random(n) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


def _top_eigenvalue(w):
    """Largest eigenvalue of a symmetric matrix or sparse matrix ``w``: 0 when the Gershgorin
    bound ``max_i sum_j |W_ij|`` is already <= 0, else by Lanczos (``scipy.sparse.linalg.eigsh``)
    for N > 64 and ``eigvalsh`` below."""
    n = w.shape[0]
    if hasattr(w, "tocsr"):
        bound = float(abs(w).sum(axis=1).max()) if w.nnz else 0.0
    else:
        bound = float(np.abs(w).sum(axis=1).max())
    if bound <= 0:
        return 0.0
    if n <= 64:
        dense = w.toarray() if hasattr(w, "tocsr") else np.asarray(w)
        return float(np.linalg.eigvalsh(dense)[-1])
    from scipy.sparse.linalg import eigsh

    return float(eigsh(w, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0])


def _float32_couplings(w, beta):
    """Couplings of the float32 model: ``K = float32(beta W)`` and the stored ``W = K / beta``
    (float64; for ``beta = 0``, where ``K = 0``, the float32 rounding of ``W``)."""
    with np.errstate(over="ignore"):
        k = (w * beta).astype(np.float32) if beta > 0 else np.zeros(w.shape, dtype=np.float32)
    if not np.all(np.isfinite(k)):
        raise ValueError("couplings: beta W overflows float32; use couplings_dtype='float64'")
    if beta > 0:
        w = k.astype(np.float64)
        w /= beta
    else:
        w = w.astype(np.float32).astype(np.float64)
    return w, _readonly(np.ascontiguousarray(k))


@dataclass(frozen=True, eq=False)
class SpinKernel:
    """Which Numba single-spin kernel family samples a spin prior, and the arrays it needs
    (returned by :meth:`IsingPrior.spin_kernel`; ``beta`` is folded into the couplings).

    Attributes
    ----------
    kind : {"dense", "mean_field", "sparse"}
        ``"dense"``: ``mc.kernels.spins.run_dense`` with ``couplings``; ``"mean_field"``:
        ``run_curie_weiss`` (mean field, O(1) per attempt) with ``coupling``; ``"sparse"``:
        ``run_sparse`` (neighbour lists; the sampler may switch to the tabulated lattice kernel).
    couplings : float64 or float32 array (N, N), C-contiguous
        ``beta W`` (kind ``"dense"``); float32 for a prior built with ``couplings_dtype="float32"``
        (the kernel then reads half the bytes; see :class:`IsingPrior`).
    coupling : float
        ``beta J / N``, the mean-field coupling of ``(beta J / (2 N)) M^2`` (kind ``"mean_field"``).
    indptr, indices : int64 arrays; data : float64 array
        ``beta W`` in CSR form, symmetric, no diagonal (kind ``"sparse"``).
    """

    kind: str
    couplings: np.ndarray | None = None
    coupling: float | None = None
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None
    data: np.ndarray | None = None


class IsingPrior(DataModel):
    """Ising prior ``log p0(sigma) = (beta / 2) sigma^T W sigma + b . sigma`` on {-1, +1}^N.

    Parameters
    ----------
    couplings : array, shape (N, N)
        Symmetric (to relative tolerance 1e-12; the stored matrix is symmetrised), finite
        couplings ``W``. The diagonal only shifts ``log p0`` by ``(beta / 2) tr W``.
    beta : float, >= 0
        Inverse temperature of the prior.
    field : float or array of shape (N,)
        External field ``b``.
    couplings_dtype : {"float64", "float32"}
        ``"float32"``: the model's couplings are rounded so that ``beta W`` is a matrix of
        float32 numbers, ``K = float32(beta W)`` (and ``W = K / beta`` is stored; for
        ``beta = 0`` the float32 rounding of ``W``). This defines a (slightly different) model,
        not an approximation of one: the energy, exact enumeration and the Monte Carlo kernel all
        use these couplings (up to one float64 rounding of ``K / beta``, relative ``2^-53``, the
        precision of any float64 evaluation of the energy), so Monte Carlo samples exactly its
        posterior. The dense kernel then reads 4 bytes per coupling instead of 8 (memory-bound at
        large N; ``benchmarks/bench_dense.py``). The change from the float64 couplings is a
        relative ``2^-24`` (6e-8) per coupling. Default ``"float64"``: ``W`` as given.

    Attributes
    ----------
    couplings : ndarray (N, N), float64, read-only
    beta : float
    field : ndarray (N,), read-only
    couplings_dtype : str
    capabilities : frozenset
        ``{"sample", "exact_posterior", "enumerate"}`` for ``N <= MAX_ENUMERATION_DIM``, else
        empty (use the Monte Carlo engine).

    Notes
    -----
    ``log_prob`` returns ``-inf`` for any configuration with an entry other than ``+-1``
    (including NaN): outside the hypercube the prior has no mass.

    Examples
    --------
    >>> prior = IsingPrior.sherrington_kirkpatrick(8, beta=0.5, seed=1)
    >>> post = prior.exact_posterior(np.zeros(8), 1.0)
    >>> bool(abs(post.probs.sum() - 1.0) < 1e-12)
    True
    """

    state_space = "spins"
    name = "ising"
    couplings_dtype = "float64"

    def __init__(self, couplings, beta=1.0, field=0.0, couplings_dtype="float64"):
        w = as_float_array(couplings, "couplings", ndim=2)
        if w.shape[0] != w.shape[1]:
            raise ValueError(f"couplings: expected a square (N, N) matrix, got shape {w.shape}")
        if w.shape[0] < 1:
            raise ValueError("couplings: empty matrix (N must be >= 1)")
        n = w.shape[0]
        scale = float(np.abs(w).max())
        asym = 0.0
        for sl in _chunks(n, n):
            asym = max(asym, float(np.abs(w[sl] - w[:, sl].T).max()))
        if asym > _SYMMETRY_RTOL * scale:
            raise ValueError(
                f"couplings: must be symmetric (max |W - W^T| = {asym:.3g} exceeds "
                f"{_SYMMETRY_RTOL:g} x max |W| = {scale:.3g})"
            )
        if couplings_dtype not in ("float64", "float32"):
            raise ValueError(f"couplings_dtype: expected 'float64' or 'float32', got {couplings_dtype!r}")
        w = np.array(w, dtype=np.float64, copy=True)
        if asym > 0:
            w = 0.5 * (w + w.T)
        self._init_common(n, beta, field)
        self._kernel_couplings = None
        if couplings_dtype == "float32":
            self.couplings_dtype = "float32"
            w, self._kernel_couplings = _float32_couplings(w, self._beta)
        self._couplings = _readonly(w)

    def _init_common(self, n, beta, field):
        self._n = int(n)
        self._beta = as_scalar(beta, "beta", nonnegative=True)
        b = as_float_array(field, "field")
        if b.ndim == 0:
            b = np.full(self._n, float(b))
        elif b.shape != (self._n,):
            raise ValueError(f"field: expected a scalar or shape ({self._n},), got shape {b.shape}")
        else:
            b = np.array(b, dtype=np.float64, copy=True)
        self.field = _readonly(b)
        self._extra_params = {}
        self._enum = None
        self._prior_cdf = None

    # constructors -------------------------------------------------------------
    @classmethod
    def curie_weiss(cls, n_dim, J=1.0, beta=1.0, field=0.0):
        """Curie-Weiss model ``log p0 = (beta J / (2 N)) (sum_i sigma_i)^2 + b . sigma``.

        Returns a :class:`CurieWeissPrior` (no dense N x N matrix is stored).
        """
        return CurieWeissPrior(n_dim, J=J, beta=beta, field=field)

    @classmethod
    def sherrington_kirkpatrick(cls, n_dim, beta=1.0, J=1.0, J0=0.0, field=0.0, *, seed, couplings_dtype="float64"):
        """Sherrington-Kirkpatrick couplings ``W_ij = J0 / N + J g_ij / sqrt(N)``.

        ``g`` is a symmetric matrix of independent standard normals (``i < j``), zero diagonal
        (Sherrington & Kirkpatrick 1975). ``seed`` (int, SeedSequence or Generator) is required
        so that the disorder is reproducible; an int seed is recorded as ``disorder_seed``.
        ``couplings_dtype="float32"``: ``beta W`` rounded to float32 (see :class:`IsingPrior`).
        """
        n = as_positive_int(n_dim, "n_dim")
        J = as_scalar(J, "J", nonnegative=True)
        J0 = as_scalar(J0, "J0")
        gen = as_generator(seed, "seed")
        g = np.triu(gen.standard_normal((n, n)), 1)
        w = g + g.T
        del g
        w *= J / np.sqrt(n)
        w += J0 / n
        np.fill_diagonal(w, 0.0)
        out = cls(w, beta=beta, field=field, couplings_dtype=couplings_dtype)
        del w
        out.name = "sk"
        out._extra_params = {"J": J, "J0": J0}
        if isinstance(seed, numbers.Integral):
            out._extra_params["disorder_seed"] = int(seed)
        return out

    @classmethod
    def hopfield(cls, patterns=None, *, n_dim=None, n_patterns=None, beta=1.0, field=0.0, seed=None,
                 couplings_dtype="float64"):
        """Hopfield model ``W = (1 / N) sum_mu xi^mu xi^mu^T`` with zero diagonal (Hopfield 1982).

        Give either ``patterns`` (shape (P, N), entries +-1) or ``n_dim``, ``n_patterns`` and
        ``seed`` for P i.i.d. uniform random patterns. The patterns are kept as ``patterns``
        (float64, read-only). ``couplings_dtype="float32"``: ``beta W`` rounded to float32 (see
        :class:`IsingPrior`).
        """
        if patterns is None:
            if n_dim is None or n_patterns is None:
                raise ValueError("patterns: give either patterns or both n_dim and n_patterns")
            n = as_positive_int(n_dim, "n_dim")
            n_pat = as_positive_int(n_patterns, "n_patterns")
            if seed is None:
                raise ValueError("seed: required to draw random patterns (int, SeedSequence or Generator)")
            gen = as_generator(seed, "seed")
            xi = 2.0 * gen.integers(0, 2, size=(n_pat, n)).astype(np.float64) - 1.0
        else:
            xi = as_float_array(patterns, "patterns", ndim=2)
            if xi.shape[0] < 1 or xi.shape[1] < 1:
                raise ValueError(f"patterns: expected shape (P, N) with P, N >= 1, got {xi.shape}")
            bad = ~((xi == 1.0) | (xi == -1.0))
            if bad.any():
                mu, i = np.argwhere(bad)[0]
                raise ValueError(f"patterns: entries must be +1 or -1, got {xi[mu, i]} at ({mu}, {i})")
            if n_dim is not None and as_positive_int(n_dim, "n_dim") != xi.shape[1]:
                raise ValueError(f"n_dim: {n_dim} does not match the patterns' dimension {xi.shape[1]}")
            if n_patterns is not None and as_positive_int(n_patterns, "n_patterns") != xi.shape[0]:
                raise ValueError(f"n_patterns: {n_patterns} does not match the {xi.shape[0]} patterns given")
            if seed is not None:
                raise ValueError("seed: only used to draw random patterns; omit it with explicit patterns")
            xi = np.array(xi, dtype=np.float64, copy=True)
        n_pat, n = xi.shape
        w = xi.T @ xi / n
        np.fill_diagonal(w, 0.0)
        out = cls(w, beta=beta, field=field, couplings_dtype=couplings_dtype)
        out.name = "hopfield"
        out.patterns = _readonly(xi)
        out._extra_params = {"n_patterns": n_pat, "loading": n_pat / n}
        if patterns is None and isinstance(seed, numbers.Integral):
            out._extra_params["disorder_seed"] = int(seed)
        return out

    @classmethod
    def lattice(cls, side, lattice_dim=2, J=1.0, beta=1.0, field=0.0, periodic=True):
        """Nearest-neighbour ferromagnet on a ``side^lattice_dim`` lattice (sparse couplings; see
        :class:`~mc.models.lattice.LatticeIsingPrior`)."""
        from .lattice import LatticeIsingPrior

        return LatticeIsingPrior.ferromagnet(side, lattice_dim, J=J, beta=beta, field=field, periodic=periodic)

    @classmethod
    def edwards_anderson(cls, side, lattice_dim=2, J=1.0, beta=1.0, field=0.0, periodic=True, bonds="gaussian", *,
                         seed):
        """Edwards-Anderson spin glass on a ``side^lattice_dim`` lattice (Gaussian or +-J bonds; sparse)."""
        from .lattice import LatticeIsingPrior

        return LatticeIsingPrior.edwards_anderson(side, lattice_dim, J=J, beta=beta, field=field, periodic=periodic,
                                                  bonds=bonds, seed=seed)

    # DataModel interface --------------------------------------------------------
    @property
    def n_dim(self):
        return self._n

    @property
    def beta(self):
        """Inverse temperature of the prior (read-only: cached enumerations depend on it)."""
        return self._beta

    @property
    def couplings(self):
        """Couplings W (N x N, float64, read-only)."""
        return self._couplings

    @property
    def enumerable(self):
        """Whether the 2^N states can be listed (``N <= MAX_ENUMERATION_DIM``)."""
        return self._n <= MAX_ENUMERATION_DIM

    @property
    def capabilities(self):
        if self.enumerable:
            return frozenset({"sample", "exact_posterior", "enumerate"})
        return frozenset()

    def params(self):
        out = {"n_dim": self.n_dim, "beta": self.beta}
        b = self.field
        if np.all(b == b[0]):
            out["field"] = float(b[0])
        else:
            out["field_mean"] = float(b.mean())
        out.update(self._extra_params)
        if self.couplings_dtype != "float64":
            out["couplings_dtype"] = self.couplings_dtype
        return out

    def _coupling_operator(self):
        """``W`` as a matrix or sparse matrix (for its top eigenvalue)."""
        return self.couplings

    @property
    def may_be_multimodal(self):
        """Whether ``beta lambda_max(W) > 1``: the paramagnetic solution of the mean-field
        equations ``m = tanh(beta W m + b)`` is then unstable (derived: linearise at ``m = 0``),
        so the prior may split into several states (ferromagnetic, retrieval or spin-glass).
        Conservative: for SK (``lambda_max = 2 J``) it says so from ``beta J > 1/2`` on, below the
        true transition at ``beta J = 1``. Cached per instance."""
        if getattr(self, "_multimodal", None) is None:
            self._multimodal = bool(self.beta * _top_eigenvalue(self._coupling_operator()) > 1.0)
        return self._multimodal

    def order_directions(self):
        """The patterns (Hopfield, orthonormalised), the uniform magnetisation ``1 / sqrt(N)``
        for ferromagnetic couplings (all ``W_ij >= 0``), else ``None`` (spin glasses have no
        fixed direction; their replicas are compared through overlaps)."""
        patterns = getattr(self, "patterns", None)
        if patterns is not None:
            q, r = np.linalg.qr(np.asarray(patterns, dtype=np.float64).T)
            keep = np.abs(np.diag(r)) > 1e-10 * np.sqrt(self._n)
            return np.ascontiguousarray(q[:, keep].T)
        if self._ferromagnetic():
            return np.full((1, self._n), 1.0 / np.sqrt(self._n))
        return None

    def _ferromagnetic(self):
        w = self._coupling_operator()
        data = w.data if hasattr(w, "tocsr") else w
        return bool(np.all(data >= 0))

    def spin_kernel(self):
        """:class:`SpinKernel` of kind ``"dense"`` with ``couplings = beta W`` (float64, C order;
        with ``couplings_dtype="float32"`` the float32 matrix ``K`` that defines the model, shared,
        read-only): the Numba kernel family of the Monte Carlo engine for this prior. Subclasses
        with more structure return the mean-field or sparse kinds."""
        k = getattr(self, "_kernel_couplings", None)
        if k is not None:
            return SpinKernel("dense", couplings=k)
        return SpinKernel("dense", couplings=np.ascontiguousarray(self.couplings * self.beta, dtype=np.float64))

    def _pair_energy(self, spins):
        """``(beta / 2) sigma^T W sigma`` for float spins of shape (rows, N)."""
        return 0.5 * self.beta * np.einsum("ij,ij->i", spins @ self._couplings, spins)

    def log_prob(self, x0):
        """``(beta / 2) x0^T W x0 + b . x0`` for a batch ``(..., N)``; ``-inf`` off the hypercube.

        The normalising constant is not included (see :meth:`log_normaliser`).
        """
        x = self._check_batch(x0)
        flat = x.reshape(-1, self._n)
        valid = np.all((flat == 1.0) | (flat == -1.0), axis=1)
        out = np.full(flat.shape[0], -np.inf)
        rows = np.flatnonzero(valid)
        for sl in _chunks(rows.size, self._n):
            block = flat[rows[sl]]
            out[rows[sl]] = self._pair_energy(block) + block @ self.field
        return out.reshape(x.shape[:-1])

    def log_normaliser(self):
        """``log sum_sigma exp(log_prob(sigma))`` (exact; enumeration, N <= 20)."""
        return self._enumeration()["log_norm"]

    def sample(self, n, rng):
        """``n`` exact draws (float64 +-1, shape (n, N)) by inverse CDF over the 2^N states.

        Raises ``NotImplementedError`` for ``N > MAX_ENUMERATION_DIM``: draw from the prior with
        the Monte Carlo engine (``mc.sampler``) instead.
        """
        n, gen = sample_args(n, rng)
        self._require_enumerable("sample")
        enum = self._enumeration()
        if self._prior_cdf is None:
            with np.errstate(under="ignore"):
                self._prior_cdf = np.cumsum(np.exp(enum["log_weights"] - enum["log_norm"]))
        idx = _inverse_cdf_draw(self._prior_cdf, n, gen)
        return enum["states"][idx].astype(np.float64)

    def exact_posterior(self, y, s):
        """Exact posterior for ``y = x_t / a_t`` and ``s_eff = D_t / a_t^2`` (enumeration, N <= 20).

        Raises ``NotImplementedError`` for ``N > MAX_ENUMERATION_DIM``.
        """
        y, s_eff = self._check_observation(y, s)
        self._require_enumerable("exact_posterior")
        return EnumeratedSpinPosterior(self, y, s_eff)

    # helpers ------------------------------------------------------------------------
    def _check_observation(self, y, s_eff):
        y = as_float_array(y, "y", shape=(self._n,))
        s_eff = as_scalar(s_eff, "s_eff", positive=True)
        return y, s_eff

    def _require_enumerable(self, what):
        if not self.enumerable:
            raise NotImplementedError(
                f"{type(self).__name__}.{what}: N = {self._n} exceeds MAX_ENUMERATION_DIM = "
                f"{MAX_ENUMERATION_DIM}; no exact route for this spin model, use the Monte Carlo "
                f"engine (mc.sampler)"
            )

    def _enumeration(self):
        """States, unnormalised log weights ``log_prob(sigma)`` and their log-sum-exp (cached)."""
        self._require_enumerable("enumeration")
        if self._enum is None:
            states = _enumerate_states(self._n)
            log_w = np.empty(states.shape[0])
            for sl in _chunks(states.shape[0], self._n):
                block = states[sl].astype(np.float64)
                log_w[sl] = self._pair_energy(block) + block @ self.field
            self._enum = {
                "states": _readonly(states),
                "log_weights": _readonly(log_w),
                "log_norm": float(_logsumexp(log_w)),
            }
        return self._enum


class CurieWeissPrior(IsingPrior):
    """Curie-Weiss prior ``log p0 = (beta J / (2 N)) M^2 + b . sigma``, ``M = sum_i sigma_i``.

    Parameters
    ----------
    n_dim : int >= 1
    J : float
        Coupling (``J >= 0`` ferromagnetic; ``J < 0`` is allowed but only enumeration is exact).
    beta : float >= 0
    field : float or array of shape (N,)

    Notes
    -----
    No dense matrix is stored. ``couplings`` builds (on first access, O(N^2) memory) the matrix
    ``J / N`` off the diagonal and 0 on it; with it ``IsingPrior.log_prob`` would be
    ``log_prob - beta J / 2``, since ``M^2 = sum_{i != j} sigma_i sigma_j + N``.

    Capabilities: ``"exact_posterior"`` and ``"sample"`` at every N when ``J >= 0``
    (Hubbard-Stratonovich, :class:`CurieWeissPosterior`; the prior is the posterior at ``h = 0``),
    ``"enumerate"`` for ``N <= MAX_ENUMERATION_DIM``.
    """

    name = "curie_weiss"

    def __init__(self, n_dim, J=1.0, beta=1.0, field=0.0):
        n = as_positive_int(n_dim, "n_dim")
        self._J = as_scalar(J, "J")
        self._dense = None
        self._hs = None
        self._init_common(n, beta, field)

    @property
    def J(self):
        """Curie-Weiss coupling (read-only)."""
        return self._J

    @property
    def couplings(self):
        if self._dense is None:
            w = np.full((self._n, self._n), self.J / self._n)
            np.fill_diagonal(w, 0.0)
            self._dense = _readonly(w)
        return self._dense

    @property
    def may_be_multimodal(self):
        """``beta J > 1``: the ferromagnetic phase of the Curie-Weiss prior (two states)."""
        return bool(self.beta * self.J > 1.0)

    def _ferromagnetic(self):
        return self.J >= 0

    def spin_kernel(self):
        """:class:`SpinKernel` of kind ``"mean_field"`` with ``coupling = beta J / N``: the
        mean-field kernel, which tracks ``M = sum_i sigma_i`` (no N x N matrix)."""
        return SpinKernel("mean_field", coupling=self.beta * self.J / self._n)

    @property
    def capabilities(self):
        caps = set()
        if self.J >= 0 or self.enumerable:
            caps |= {"sample", "exact_posterior"}
        if self.enumerable:
            caps.add("enumerate")
        return frozenset(caps)

    def params(self):
        out = super().params()
        out["J"] = self.J
        return out

    def _pair_energy(self, spins):
        m = spins.sum(axis=-1)
        return 0.5 * self.beta * self.J / self._n * m * m

    def log_normaliser(self):
        """``log sum_sigma exp(log_prob(sigma))``; Hubbard-Stratonovich for ``J >= 0`` (any N)."""
        if self.J < 0:
            return super().log_normaliser()
        hs = self._hs_prior()
        bj = self.beta * self.J
        out = hs["log_norm"]
        if bj > 0:
            # sum_sigma = sqrt(bJN / (2 pi)) int du (...); the grid sum carries du.
            out += 0.5 * np.log(bj * self._n / (2.0 * np.pi)) + np.log(hs["u"][1] - hs["u"][0])
        return float(out)

    def sample(self, n, rng):
        """``n`` exact draws (float64 +-1): Hubbard-Stratonovich mixture for ``J >= 0`` (any N)."""
        if self.J < 0:
            return super().sample(n, rng)
        n, gen = sample_args(n, rng)
        hs = self._hs_prior()
        return _hs_mixture_sample(self.beta * self.J * hs["u_kept"], hs["p_kept"], self.field, n, gen)

    def exact_posterior(self, y, s):
        """:class:`CurieWeissPosterior` for ``J >= 0`` (any N); enumeration for ``J < 0``, N <= 20."""
        y, s_eff = self._check_observation(y, s)
        if self.J >= 0:
            return CurieWeissPosterior(self, y, s_eff)
        if not self.enumerable:
            raise NotImplementedError(
                f"CurieWeissPrior.exact_posterior: J = {self.J} < 0 has no real Hubbard-Stratonovich "
                f"representation and N = {self._n} exceeds MAX_ENUMERATION_DIM = {MAX_ENUMERATION_DIM}; "
                f"use the Monte Carlo engine (mc.sampler)"
            )
        return EnumeratedSpinPosterior(self, y, s_eff)

    def _hs_prior(self):
        """Grid, log weights of ``u`` at zero noise field, and their log-sum-exp (cached).

        Sites with equal fields are grouped, so a uniform field costs O(grid) only.
        """
        if self._hs is None:
            bj = self.beta * self.J
            u, log_w = _hs_grid(bj, self._n)
            vals, counts = np.unique(self.field, return_counts=True)
            lw = _hs_log_weights(bj, self._n, u, log_w, vals, counts.astype(np.float64))
            # u-independent part: log 2 cosh(v + b_i) = |b_i| + shift
            const = float(np.abs(vals) @ counts)
            lse = _logsumexp(lw)
            keep, p = _hs_prune(lw)
            self._hs = {
                "u": u,
                "log_w": log_w,
                "log_norm": lse + const,
                "u_kept": u[keep],
                "p_kept": p,
            }
        return self._hs


# Hubbard-Stratonovich machinery -----------------------------------------------------------
def _hs_grid(bj, n):
    """Uniform grid on [-1 - 12 w, 1 + 12 w], w = 1 / sqrt(bJ N), spacing <= w / 4, trapezoid log weights.

    For ``bJ = 0`` the integral is not needed: one point ``u = 0`` with weight 1.
    """
    if bj == 0:
        return np.zeros(1), np.zeros(1)
    w = 1.0 / np.sqrt(bj * n)
    half = 1.0 + _HS_TAIL_WIDTHS * w
    n_points = int(np.ceil(2.0 * half * _HS_POINTS_PER_WIDTH / w)) + 1
    u = np.linspace(-half, half, n_points)
    log_w = np.zeros(n_points)
    log_w[[0, -1]] = -_LOG2
    return u, log_w


def _hs_site_sums(bj, u, c, counts=None):
    """``sum_i counts_i [log 2 cosh(bJ u_k + c_i) - |c_i|]`` for each ``u_k``, chunked."""
    out = np.empty(u.size)
    for sl in _chunks(u.size, c.size):
        shift = _log2cosh_shift(bj * u[sl, None], c)
        out[sl] = shift.sum(axis=1) if counts is None else shift @ counts
    return out


def _hs_log_weights(bj, n, u, log_w, c, counts=None):
    """``log_w_k - bJ N u_k^2 / 2 + g(u_k)``, ``g(u) = sum_i counts_i [log 2 cosh(bJ u + c_i) - |c_i|]``.

    Points that provably carry less than ``exp(-_HS_PRUNE - 10)`` of the largest weight are not
    evaluated and get ``-inf`` (derived): ``g`` is convex (a sum of log cosh), so on a cell between
    two points of a coarse sub-grid it lies below its chord, and the concave quadratic
    ``-bJ N u^2 / 2 + chord(u)`` has a closed-form maximum on the cell, an upper bound of the log
    weight there (the trapezoid log weights are <= 0). Only the points of cells whose bound comes
    within the threshold of the largest coarse value are then evaluated.
    """
    out = log_w - 0.5 * bj * n * u * u
    stride = _HS_POINTS_PER_WIDTH * 2
    if bj == 0 or u.size <= 8 * stride:
        return out + _hs_site_sums(bj, u, c, counts)
    coarse = np.unique(np.append(np.arange(0, u.size, stride), u.size - 1))
    g_coarse = _hs_site_sums(bj, u[coarse], c, counts)
    u1, u2 = u[coarse[:-1]], u[coarse[1:]]
    g1, g2 = g_coarse[:-1], g_coarse[1:]
    slope = (g2 - g1) / (u2 - u1)
    u_star = np.clip(slope / (bj * n), u1, u2)
    bound = -0.5 * bj * n * u_star * u_star + g1 + slope * (u_star - u1)
    best = float(np.max(out[coarse] + g_coarse))
    live = np.flatnonzero(bound > best - _HS_PRUNE - 10.0)
    need = np.zeros(u.size, dtype=bool)
    for j in live:
        need[coarse[j] : coarse[j + 1] + 1] = True
    need[coarse] = False
    idx = np.flatnonzero(need)
    g = np.full(u.size, -np.inf)
    g[coarse] = g_coarse
    g[idx] = _hs_site_sums(bj, u[idx], c, counts)
    return out + g


def _hs_prune(log_weights):
    """Indices of grid points within exp(-_HS_PRUNE) of the largest weight and their normalised weights."""
    top = float(log_weights.max())
    keep = np.flatnonzero(log_weights - top > -_HS_PRUNE)
    with np.errstate(under="ignore"):
        p = np.exp(log_weights[keep] - top)
    return keep, p / p.sum()


def _hs_mixture_sample(v, p, c, n, gen):
    """Draw ``k`` with probability ``p_k``, then independent spins with P(+1) = (1 + tanh(v_k + c_i)) / 2."""
    n_dim = c.size
    k = _inverse_cdf_draw(np.cumsum(p), n, gen)
    out = np.empty((n, n_dim))
    for sl in _chunks(n, n_dim):
        a = v[k[sl], None] + c
        p_up = expit(2.0 * a)
        out[sl] = np.where(gen.random(a.shape) < p_up, 1.0, -1.0)
    return out


class _SpinPosterior(ExactPosterior):
    """What the spin posteriors share: the prior, the random field ``h = y / s_eff`` and log Z."""

    def __init__(self, prior, y, s_eff):
        super().__init__(y, s_eff)
        self.prior = prior
        self.h = _readonly(y / s_eff)

    @property
    def s_eff(self):
        """Effective noise variance (same as ``s``)."""
        return self.s

    def log_partition(self):
        """``log Z = log E_{p0}[exp(-|y - sigma|^2 / (2 s_eff))]`` (p0 normalised)."""
        return self._log_z


class EnumeratedSpinPosterior(_SpinPosterior):
    """Exact posterior of a spin prior with ``N <= MAX_ENUMERATION_DIM`` by enumeration.

    ``P(sigma | y) = p0(sigma) exp(-|y - sigma|^2 / (2 s_eff)) / Z`` over the ``2^N`` states; the
    log weights ``log_prob(sigma) - |y - sigma|^2 / (2 s_eff)`` are formed with the exact squared
    distances (no cancellation at small ``s_eff``) in chunks of bounded memory and normalised by
    log-sum-exp. ``N = 20`` takes about a second and < 200 MB.

    Parameters
    ----------
    prior : IsingPrior
    y : array, shape (N,)
        Rescaled noisy state ``x_t / a_t``.
    s_eff : float > 0
        Effective noise variance ``D_t / a_t^2``.

    Attributes
    ----------
    states : int8 array (2^N, N)
    log_probs, probs : arrays (2^N,)
        Normalised posterior log probabilities and probabilities of ``states``.
    h : array (N,)
        Random field ``y / s_eff``.
    """

    #: Exact Franz-Parisi route: the posterior mass of the enumerated states in each bin of q.
    franz_parisi_route = "spins"

    def __init__(self, prior, y, s_eff):
        if not isinstance(prior, IsingPrior):
            raise ValueError(f"prior: expected an IsingPrior, got {type(prior).__name__}")
        y, s_eff = prior._check_observation(y, s_eff)
        prior._require_enumerable("exact_posterior")
        super().__init__(prior, y, s_eff)
        enum = prior._enumeration()
        states = enum["states"]
        log_w = np.empty(states.shape[0])
        for sl in _chunks(states.shape[0], self.n_dim):
            d = states[sl] - y
            log_w[sl] = enum["log_weights"][sl] - np.einsum("ij,ij->i", d, d) / (2.0 * s_eff)
        lse = _logsumexp(log_w)
        self._log_z = lse - enum["log_norm"]
        log_w -= lse
        self.log_probs = _readonly(log_w)
        with np.errstate(under="ignore"):
            self.probs = _readonly(np.exp(log_w))
        self._cdf = None
        self._site = None

    @property
    def states(self):
        """All 2^N states (int8, read-only), in the order of ``probs``."""
        return self.prior._enumeration()["states"]

    @property
    def energies(self):
        """Posterior Hamiltonian ``H(sigma) = -(beta / 2) sigma^T W sigma - (b + h) . sigma`` per state."""
        enum = self.prior._enumeration()
        out = np.empty(self.probs.size)
        for sl in _chunks(out.size, self.n_dim):
            out[sl] = -(enum["log_weights"][sl] + enum["states"][sl] @ self.h)
        return out

    def enumerate(self):
        """The ``2^N`` states (int8) and their posterior probabilities."""
        return self.states, self.probs

    def _site_probs(self):
        """``P(sigma_i = +1)`` and ``P(sigma_i = -1)`` summed separately (accurate near +-1)."""
        if self._site is None:
            p_up = np.zeros(self.n_dim)
            p_down = np.zeros(self.n_dim)
            states = self.states
            for sl in _chunks(states.shape[0], self.n_dim):
                block = states[sl]
                p_up += self.probs[sl] @ (block > 0).astype(np.float64)
                p_down += self.probs[sl] @ (block < 0).astype(np.float64)
            self._site = (p_up, p_down)
        return self._site

    def mean(self):
        """Posterior magnetisation ``m_i = P(sigma_i = +1) - P(sigma_i = -1)``."""
        p_up, p_down = self._site_probs()
        return p_up - p_down

    def cov(self):
        """``sum_sigma P(sigma) (sigma - m)(sigma - m)^T``; diagonal ``4 P(+1) P(-1) = 1 - m_i^2``."""
        m = self.mean()
        out = np.zeros((self.n_dim, self.n_dim))
        states = self.states
        for sl in _chunks(states.shape[0], self.n_dim):
            d = states[sl] - m
            out += (d * self.probs[sl, None]).T @ d
        p_up, p_down = self._site_probs()
        np.fill_diagonal(out, 4.0 * p_up * p_down)
        return out

    def cov_trace(self):
        p_up, p_down = self._site_probs()
        return float(np.sum(4.0 * p_up * p_down))

    def sample(self, n, rng):
        """``n`` exact draws (float64 +-1, shape (n, N)) by inverse CDF over the states."""
        n, gen = sample_args(n, rng)
        if self._cdf is None:
            self._cdf = np.cumsum(self.probs)
        return self.states[_inverse_cdf_draw(self._cdf, n, gen)].astype(np.float64)


class CurieWeissPosterior(_SpinPosterior):
    """Exact Curie-Weiss posterior at any N by a Hubbard-Stratonovich integral (``J >= 0``).

    Derivation (Gaussian identity, derived): with ``M = sum_i sigma_i``, ``c = b + h``,
    ``h = y / s_eff``,

        exp(beta J M^2 / (2 N)) = sqrt(beta J N / (2 pi)) int du exp(-beta J N u^2 / 2 + beta J u M),

        sum_sigma exp(beta J M^2 / (2 N) + c . sigma) = sqrt(beta J N / (2 pi)) int du exp(f(u)),
        f(u) = -beta J N u^2 / 2 + sum_i log(2 cosh(beta J u + c_i)).

    The pair ``(u, sigma)`` has joint weight ``exp(-beta J N u^2 / 2 + beta J u M + c . sigma)``:
    ``u`` has marginal weight ``exp(f(u))`` and, given ``u``, the spins are independent with
    ``E[sigma_i | u] = tanh(beta J u + c_i)``. Hence ``m_i = E_u[tanh(beta J u + c_i)]`` and
    ``Cov = diag(E_u[sech^2(beta J u + c_i)]) + Cov_u[tanh(beta J u + c)]`` (law of total
    covariance; its diagonal equals ``1 - m_i^2``).

    Quadrature. Stationary points of f satisfy ``u = (1 / N) sum_i tanh(beta J u + c_i)``, so lie in
    ``|u| < 1``; for ``u > 1``, ``f'(u) <= beta J N (1 - u)``, so the weight beyond
    ``1 + 12 w`` (``w = 1 / sqrt(beta J N)``) is below ``exp(-72)`` of the peak (same for
    ``u < -1``), and since ``f'' >= -beta J N`` every peak is at least ``w`` wide. The integrand
    ``exp(-beta J N u^2 / 2) prod_i 2 cosh(beta J u + c_i)`` is entire, and on the line
    ``Im u = d`` its modulus is bounded by ``exp(beta J N d^2 / 2)`` times its value at
    ``Re u``; the trapezoid rule with spacing ``h`` then has relative error at most about
    ``2 exp(beta J N d^2 / 2 - 2 pi d / h)``, i.e. ``2 exp(-2 pi^2 / (h^2 beta J N))`` at the
    best ``d``. With ``h <= w / 4`` this is ``2 exp(-32 pi^2)``, far below double precision:
    the rule is exponentially accurate (e.g. Trefethen & Weideman, SIAM Rev. 56, 385 (2014)).
    The grid is uniform on ``[-1 - 12 w, 1 + 12 w]`` with spacing ``<= w / 4``, summed in log
    space; the prior normaliser is the same sum with ``h = 0`` on the same grid.

    ``log Z`` is assembled without cancellation: per site,
    ``log 2 cosh(beta J u + c_i) - (y_i^2 + 1) / (2 s_eff) = [log 2 cosh(beta J u + c_i) - |c_i|]
    + max(b_i - (y_i - 1)^2 / (2 s_eff), -b_i - (y_i + 1)^2 / (2 s_eff))``; the first bracket is
    O(beta J |u|) and the second does not depend on ``u``.

    ``J = 0`` (or ``beta = 0``): independent spins, handled exactly without quadrature.

    Memory is O(N) plus temporaries of 2^21 elements, except ``cov`` (N x N). Grid points whose
    weight is below ``exp(-100)`` of the largest are dropped after ``log Z`` is formed.

    For ``N <= MAX_ENUMERATION_DIM``, :meth:`enumerate` also lists the ``2^N`` states with their
    exact probabilities (no quadrature), which the exact Franz-Parisi route uses.

    Attributes
    ----------
    u_grid, u_weights : arrays
        Retained grid points of ``u`` and their normalised weights (the law of the auxiliary field;
        ``u`` concentrates on the magnetisation per spin at large N).
    h : array (N,)
        Random field ``y / s_eff``.
    """

    def __init__(self, prior, y, s_eff):
        if not isinstance(prior, CurieWeissPrior):
            raise ValueError(f"prior: expected a CurieWeissPrior, got {type(prior).__name__}")
        if prior.J < 0:
            raise ValueError(
                f"J: the Hubbard-Stratonovich route needs J >= 0, got {prior.J} (an antiferromagnetic "
                f"coupling has no real Gaussian representation); use EnumeratedSpinPosterior (N <= "
                f"{MAX_ENUMERATION_DIM})"
            )
        y, s_eff = prior._check_observation(y, s_eff)
        super().__init__(prior, y, s_eff)
        n = prior.n_dim
        b = prior.field
        bj = prior.beta * prior.J
        self._bj = bj
        hs = prior._hs_prior()
        u = hs["u"]
        self._c = b + self.h
        lw = _hs_log_weights(bj, n, u, hs["log_w"], self._c)
        up = b - (y - 1.0) ** 2 / (2.0 * s_eff)
        down = -b - (y + 1.0) ** 2 / (2.0 * s_eff)
        const = float(np.sum(np.maximum(up, down)))
        self._log_z = _logsumexp(lw) + const - hs["log_norm"]
        keep, p = _hs_prune(lw)
        self.u_grid = _readonly(u[keep])
        self.u_weights = _readonly(p)
        self._moments = None
        self._enum_probs = None

    @property
    def franz_parisi_route(self):
        """``"spins"`` for ``N <= MAX_ENUMERATION_DIM`` (the states can be enumerated, see
        :meth:`enumerate`), else ``None`` (no exact Franz-Parisi route)."""
        return "spins" if self.prior.enumerable else None

    def enumerate(self):
        """The ``2^N`` states (int8, same order as :class:`EnumeratedSpinPosterior`) and their
        posterior probabilities, for ``N <= MAX_ENUMERATION_DIM``.

        ``P(sigma) = exp(-H(sigma)) / sum_sigma' exp(-H(sigma'))`` with the posterior Hamiltonian
        ``H(sigma) = -(beta J / (2 N)) (sum_i sigma_i)^2 - b . sigma - h . sigma``, ``h = y / s_eff``,
        normalised by log-sum-exp (exact, no quadrature). Beyond ``MAX_ENUMERATION_DIM`` it raises
        ``NotImplementedError``: mean, covariance, ``log Z`` and samples remain available from the
        Hubbard-Stratonovich route.
        """
        prior = self.prior
        if not prior.enumerable:
            raise NotImplementedError(
                f"CurieWeissPosterior.enumerate: N = {self.n_dim} exceeds MAX_ENUMERATION_DIM = "
                f"{MAX_ENUMERATION_DIM}, so the 2^N states cannot be listed; the Hubbard-Stratonovich "
                f"route still gives mean, cov, log_partition and exact samples"
            )
        enum = prior._enumeration()
        states = enum["states"]
        if self._enum_probs is None:
            log_w = np.empty(states.shape[0])
            for sl in _chunks(states.shape[0], self.n_dim):
                log_w[sl] = enum["log_weights"][sl] + states[sl] @ self.h  # -H(sigma)
            log_w -= _logsumexp(log_w)
            with np.errstate(under="ignore"):
                self._enum_probs = _readonly(np.exp(log_w))
        return states, self._enum_probs

    def _first_moments(self):
        """``m_i = E_u tanh(a_i)`` and ``E_u sech^2(a_i)``, ``a_i = beta J u + c_i`` (cached)."""
        if self._moments is None:
            m = np.zeros(self.n_dim)
            e_sech2 = np.zeros(self.n_dim)
            v = self._bj * self.u_grid
            for sl in _chunks(v.size, self.n_dim):
                a = v[sl, None] + self._c
                m += self.u_weights[sl] @ np.tanh(a)
                e_sech2 += self.u_weights[sl] @ _sech2(a)
            self._moments = (m, e_sech2)
        return self._moments

    def mean(self):
        """Posterior magnetisation ``m_i = E_u[tanh(beta J u + b_i + h_i)]``."""
        return self._first_moments()[0].copy()

    def cov(self):
        """``diag(E_u sech^2) + Cov_u(tanh)`` (N x N; O(N^2) memory)."""
        m, e_sech2 = self._first_moments()
        out = np.zeros((self.n_dim, self.n_dim))
        v = self._bj * self.u_grid
        if self._bj > 0:
            for sl in _chunks(v.size, self.n_dim):
                d = np.tanh(v[sl, None] + self._c) - m
                out += (d * self.u_weights[sl, None]).T @ d
        out[np.diag_indices(self.n_dim)] += e_sech2
        return out

    def cov_trace(self):
        """``sum_i (1 - m_i^2)`` computed as ``sum_i E_u sech^2 + E_u |tanh - m|^2`` (O(N) memory)."""
        m, e_sech2 = self._first_moments()
        total = float(e_sech2.sum())
        if self._bj > 0:
            v = self._bj * self.u_grid
            for sl in _chunks(v.size, self.n_dim):
                d = np.tanh(v[sl, None] + self._c) - m
                total += float(self.u_weights[sl] @ np.einsum("ij,ij->i", d, d))
        return total

    def sample(self, n, rng):
        """``n`` draws (float64 +-1): ``u`` from its discretised weight, then independent spins.

        ``P(sigma_i = +1 | u) = (1 + tanh(beta J u + c_i)) / 2``. Exact up to the quadrature error
        (each state's probability is itself a trapezoid sum of the same kind).
        """
        n, gen = sample_args(n, rng)
        return _hs_mixture_sample(self._bj * self.u_grid, self.u_weights, self._c, n, gen)


# ------------------------------------------------------------------ scan specs (mc.models.registry)
import math  # noqa: E402

from typing import Literal  # noqa: E402

from pydantic import model_validator  # noqa: E402

from . import registry as _reg  # noqa: E402  (after the classes it builds)

#: Float64 arrays over the Curie-Weiss Hubbard-Stratonovich grid of about 8 sqrt(beta J N) + 100
#: points (:func:`_hs_grid`), for the memory estimate of a task.
_HS_GRID_ARRAYS = 4.0
_SPIN_COLUMNS = ("beta", "field", "field_mean", "J")


class _SpinEntry(_reg.ModelEntry):
    """Spin priors: exact by enumeration of the 2^N states up to MAX_ENUMERATION_DIM."""

    space = "spins"
    prior_draw_max_n = MAX_ENUMERATION_DIM
    prior_draw_limit = (f"exact draws enumerate the 2^N spin states, up to mc.models.ising.MAX_ENUMERATION_DIM "
                        f"= {MAX_ENUMERATION_DIM}")

    def exact_max_n(self, p):
        return MAX_ENUMERATION_DIM

    def exact_cost(self, p, n_dim):
        return 2.0**n_dim * n_dim if n_dim <= MAX_ENUMERATION_DIM else math.inf


class _DenseSpinEntry(_SpinEntry):
    """Dense N x N couplings: a site update costs about 1 + N / 64 local ones. ``couplings_dtype =
    "float32"`` defines the model by float32 couplings (``IsingPrior``): the kernel reads half the
    bytes, and the model keeps its float64 ``W`` beside the float32 ``beta W`` (12 bytes per pair
    instead of 16)."""

    random = True

    def memory(self, p, n_dim):
        per_pair = 12.0 if p.couplings_dtype == "float32" else 16.0
        return [("grid.n_dim", f"the dense N x N couplings ({p.couplings_dtype})", per_pair * n_dim * n_dim)]

    def site_cost(self, p, n_dim):
        return 1.0 + n_dim / 64.0


@_reg.register
class _CurieWeissEntry(_SpinEntry):
    name = "curie_weiss"
    doc = "Curie-Weiss spins, log p0 = (beta J / 2N)(sum s)^2 + field sum s"
    columns = _SPIN_COLUMNS
    prior_draw_max_n = None  # the Hubbard-Stratonovich route draws exactly at any N

    class Parameters(_reg.Parameters):
        J: _reg.NonNegativeFloat = 1.0
        beta: _reg.NonNegativeFloat = 1.0
        field: _reg.Float = 0.0

    def build(self, p, n_dim, *, seed, max_bytes):
        return IsingPrior.curie_weiss(n_dim, J=p.J, beta=p.beta, field=p.field)

    def exact_max_n(self, p):
        return None

    def exact_cost(self, p, n_dim):
        return n_dim**1.5 * 100.0

    def memory(self, p, n_dim):
        points = 8.0 * math.sqrt(p.beta * p.J * n_dim) + 100.0
        key = "model.beta" if p.beta >= p.J else "model.J"
        return [(key, f"the Hubbard-Stratonovich grid of {points:.3g} points (8 sqrt(beta J N))",
                 8.0 * _HS_GRID_ARRAYS * points)]


@_reg.register
class _SherringtonKirkpatrickEntry(_DenseSpinEntry):
    name = "sherrington_kirkpatrick"
    doc = "SK spin glass, W_ij = J0 / N + J g_ij / sqrt(N)"
    columns = (*_SPIN_COLUMNS, "J0", "disorder_seed", "couplings_dtype")

    class Parameters(_reg.Parameters):
        beta: _reg.NonNegativeFloat = 1.0
        J: _reg.NonNegativeFloat = 1.0
        J0: _reg.Float = 0.0
        field: _reg.Float = 0.0
        couplings_dtype: Literal["float64", "float32"] = "float64"

    def build(self, p, n_dim, *, seed, max_bytes):
        return IsingPrior.sherrington_kirkpatrick(n_dim, beta=p.beta, J=p.J, J0=p.J0, field=p.field, seed=seed,
                                                  couplings_dtype=p.couplings_dtype)


@_reg.register
class _HopfieldEntry(_DenseSpinEntry):
    name = "hopfield"
    doc = ("Hopfield network with random +-1 patterns: n_patterns of them, or loading alpha = P / N "
           "(P = max(1, round(alpha N)) at each N of the grid)")
    columns = ("beta", "field", "field_mean", "n_patterns", "loading", "disorder_seed", "couplings_dtype")
    provides = frozenset({"patterns"})

    class Parameters(_reg.Parameters):
        n_patterns: _reg.PositiveInt | None = None
        loading: _reg.PositiveFloat | None = None
        beta: _reg.NonNegativeFloat = 1.0
        field: _reg.Float = 0.0
        couplings_dtype: Literal["float64", "float32"] = "float64"

        @model_validator(mode="after")
        def _one_size(self):
            if (self.n_patterns is None) == (self.loading is None):
                raise ValueError("give exactly one of n_patterns and loading")
            return self

    @staticmethod
    def patterns_at(p, n_dim):
        """The number of patterns at dimension N: ``n_patterns``, or ``max(1, round(loading N))``."""
        return p.n_patterns if p.n_patterns is not None else max(1, int(round(p.loading * n_dim)))

    def build(self, p, n_dim, *, seed, max_bytes):
        return IsingPrior.hopfield(n_dim=n_dim, n_patterns=self.patterns_at(p, n_dim), beta=p.beta, field=p.field,
                                   seed=seed, couplings_dtype=p.couplings_dtype)

    def memory(self, p, n_dim):
        n_pat = self.patterns_at(p, n_dim)
        key = "model.n_patterns" if p.n_patterns is not None else "model.loading"
        return [*super().memory(p, n_dim), (key, f"{n_pat} patterns", 16.0 * n_pat * n_dim)]
