"""Uniform prior on a sphere inside a linear subspace, and its von Mises-Fisher posterior.

The prior p0 is the uniform measure on ``{r B^T w : w in S^{d-1}}``, the sphere of radius ``r``
in the ``d``-dimensional subspace of R^N spanned by the orthonormal rows of ``B`` (shape
``(d, N)``). With ``y = x_t / a_t`` and ``s = D_t / a_t^2`` the posterior weight of ``w`` is
``exp(-|y - r B^T w|^2 / (2 s)) = exp(-(|y|^2 + r^2) / (2 s)) exp(kappa mu.w)`` with
``u = B y``, ``mu = u / |u|`` and ``kappa = r |u| / s``: a von Mises-Fisher law on ``S^{d-1}``
(derived; ``physics.md``, hypersphere section; Mardia & Jupp 2000, Directional Statistics,
section 9.3).

Moments of the von Mises-Fisher law (``nu = d/2``, ``A = A_d(kappa) = I_nu / I_{nu-1}``):

* ``E[w] = A mu`` (Mardia & Jupp 2000, section 9.3; derived: ``d log M / d kappa``);
* ``Cov[w] = (A / kappa) I_d + (1 - A^2 - d A / kappa) mu mu^T`` (derived: with
  ``log M(kappa) = log E_unif[exp(kappa mu.w)]``, ``Var[mu.w] = A'(kappa)
  = 1 - A^2 - (d - 1) A / kappa`` from DLMF 10.29.2, and ``tr E[w w^T] = 1``). Its trace is
  ``1 - A^2``; at ``kappa = 0`` it is ``I_d / d``.

Mapped to R^N: ``E[x0] = r A B^T mu``, ``Cov[x0] = r^2 B^T Cov[w] B``.

The large-N equation of state: for ``y = q sqrt(N) e`` and ``r = sqrt(N)``, ``A -> 2 a / (1 +
sqrt(1 + 4 a^2))`` with ``a = q / s``, so the fixed point ``m(y) = y`` has
``q = sqrt(1 - s)`` for ``s < 1`` and only ``q = 0`` for ``s >= 1`` (``physics.md``).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_positive_int, as_scalar, sample_args
from ..special import bessel_ratio, bessel_ratio_complement, log_sphere_mgf
from .base import DataModel, ExactPosterior

__all__ = ["Hypersphere", "VonMisesFisherPosterior"]

#: Tolerance on ``|B B^T - I|`` for a user basis (entry-wise maximum).
BASIS_TOL = 1e-10
#: Relative tolerance (in units of the radius) of ``log_prob`` on the radius and on the
#: component orthogonal to the subspace.
SUPPORT_RTOL = 1e-8


def _norm(v):
    """Euclidean norm of a vector without overflow or underflow of the squares."""
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.sqrt(np.sum(np.square(v / scale))))


class Hypersphere(DataModel):
    """Uniform measure on the sphere of radius ``r`` in a ``d``-dimensional subspace of R^N.

    Parameters
    ----------
    n_dim : int, >= 2
        Dimension N of the ambient space.
    radius : float, > 0, optional
        Radius ``r``; default ``sqrt(n_dim)`` (so that ``|x0|^2 = N``).
    subspace_dim : int, 2 <= d <= n_dim, optional
        Dimension ``d`` of the subspace; default ``n_dim``, or the number of rows of ``basis``.
    basis : array (d, N), optional
        Orthonormal rows spanning the subspace (checked to ``1e-10``); default: the first ``d``
        coordinate axes.

    Notes
    -----
    With the default basis no ``(d, N)`` matrix is formed: projections are slices. The
    ``basis`` attribute builds (and caches) ``np.eye(d, N)`` on first access.

    >>> import numpy as np
    >>> model = Hypersphere(50)
    >>> x0 = model.sample(3, np.random.default_rng(0))
    >>> bool(np.allclose(np.linalg.norm(x0, axis=1), np.sqrt(50)))
    True
    """

    name = "hypersphere"
    state_space = "sphere"
    capabilities = frozenset({"sample", "exact_posterior"})

    def __init__(self, n_dim, radius=None, subspace_dim=None, basis=None):
        n = as_positive_int(n_dim, "n_dim", minimum=2)
        r = float(np.sqrt(n)) if radius is None else as_scalar(radius, "radius", positive=True)
        d = None
        if subspace_dim is not None:
            d = as_positive_int(subspace_dim, "subspace_dim", minimum=2)
            if d > n:
                raise ValueError(f"subspace_dim: must be <= n_dim ({n}), got {d}")
        b = None
        if basis is not None:
            b = as_float_array(basis, "basis", ndim=2)
            if d is None:
                if not 2 <= b.shape[0] <= n or b.shape[1] != n:
                    raise ValueError(
                        f"basis: expected shape (d, {n}) with 2 <= d <= {n}, got {b.shape}"
                    )
                d = b.shape[0]
            elif b.shape != (d, n):
                raise ValueError(f"basis: expected shape ({d}, {n}), got {b.shape}")
            dev = float(np.max(np.abs(b @ b.T - np.eye(d))))
            if not dev <= BASIS_TOL:
                raise ValueError(
                    f"basis: rows must be orthonormal (max |B B^T - I| = {dev:.3g} > {BASIS_TOL})"
                )
            b = b.copy()
            b.setflags(write=False)
        if d is None:
            d = n
        self._n_dim = n
        self.radius = r
        self.subspace_dim = d
        self._basis = b
        self._is_aligned = b is None  # default basis: projections are slices

    # attributes -------------------------------------------------------------------------------
    @property
    def n_dim(self) -> int:
        return self._n_dim

    @property
    def basis(self) -> np.ndarray:
        """Orthonormal rows ``(d, N)`` spanning the subspace (read-only)."""
        if self._basis is None:
            eye = np.eye(self.subspace_dim, self._n_dim)
            eye.setflags(write=False)
            self._basis = eye
        return self._basis

    def params(self) -> dict:
        return {"n_dim": self._n_dim, "radius": self.radius, "subspace_dim": self.subspace_dim}

    # linear maps between R^N and the subspace coordinates -------------------------------------
    def project(self, x):
        """Subspace coordinates ``B x`` of a batch ``(..., N)``, shape ``(..., d)``.

        With the default basis this is the slice ``x[..., :d]`` (a view, not a copy).
        """
        if self._is_aligned:
            return x[..., : self.subspace_dim]
        return x @ self._basis.T

    def embed(self, w):
        """Points ``B^T w`` of R^N for subspace coordinates ``w`` of shape ``(..., d)``."""
        if self._is_aligned:
            out = np.zeros(w.shape[:-1] + (self._n_dim,))
            out[..., : self.subspace_dim] = w
            return out
        return w @ self._basis

    def _orthogonal(self, x, u):
        """Component of ``x`` orthogonal to the subspace, given ``u = project(x)``."""
        if self._is_aligned:
            return x[..., self.subspace_dim :]
        return x - u @ self._basis

    # DataModel interface ----------------------------------------------------------------------
    def log_prob(self, x0):
        """0 on the sphere in the subspace, ``-inf`` elsewhere; shape ``x0.shape[:-1]``.

        A point counts as on the support when ``| |B x0| - r | <= 1e-8 r`` and
        ``|x0 - B^T B x0| <= 1e-8 r``. The density is with respect to the surface measure, so
        the constant (minus the log area of the sphere) is dropped.
        """
        x0 = self._check_batch(x0)
        with np.errstate(over="ignore", invalid="ignore"):
            u = self.project(x0)
            radial = np.linalg.norm(u, axis=-1)
            ortho = np.linalg.norm(self._orthogonal(x0, u), axis=-1)
            on = (np.abs(radial - self.radius) <= SUPPORT_RTOL * self.radius) & (
                ortho <= SUPPORT_RTOL * self.radius
            )
        return np.where(on, 0.0, -np.inf)

    def sample(self, n, rng):
        """``n`` uniform points: normalised standard Gaussians in the subspace, times ``r``."""
        n, gen = sample_args(n, rng)
        g = gen.standard_normal((n, self.subspace_dim))
        w = g / np.linalg.norm(g, axis=1, keepdims=True)
        return self.radius * self.embed(w)

    def exact_posterior(self, y, s):
        """Von Mises-Fisher posterior for the rescaled state ``y`` (length N) and variance ``s``."""
        return VonMisesFisherPosterior(self, y, s)


class VonMisesFisherPosterior(ExactPosterior):
    """Exact posterior of the :class:`Hypersphere` prior: a von Mises-Fisher law.

    ``x0 = r B^T w`` with ``w ~ vMF(mu, kappa)`` on ``S^{d-1}``, ``mu = B y / |B y|``,
    ``kappa = r |B y| / s`` (module docstring). When ``B y = 0`` the posterior is uniform
    (``kappa = 0``) and ``mu`` is set to the first basis vector.

    Attributes
    ----------
    kappa : float
        Concentration.
    mean_resultant_length : float
        ``A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa) = |E[w]|``.
    """

    def __init__(self, model, y, s):
        if not isinstance(model, Hypersphere):
            raise ValueError(f"model: expected a Hypersphere, got {type(model).__name__}")
        y = as_float_array(y, "y", shape=(model.n_dim,))
        s = as_scalar(s, "s", positive=True)
        super().__init__(y, s)
        self.model = model
        d = model.subspace_dim
        r = model.radius
        u = model.project(y)
        u_norm = _norm(u)
        with np.errstate(over="ignore"):
            kappa = r * u_norm / s
        if not np.isfinite(kappa):
            raise ValueError(
                f"s: too small for |B y| = {u_norm:.3g} (the concentration r |B y| / s overflows)"
            )
        self.kappa = float(kappa)
        if u_norm > 0:
            self._mu = u / u_norm
        else:
            self._mu = np.zeros(d)
            self._mu[0] = 1.0
        self._u_norm = u_norm
        self._ortho_norm = _norm(model._orthogonal(y, u))
        nu = 0.5 * d
        self._A = float(bessel_ratio(nu, self.kappa))
        self._one_minus_A = float(bessel_ratio_complement(nu, self.kappa))
        # A / kappa -> 1 / d as kappa -> 0 (A = kappa / d + O(kappa^3))
        self._A_over_kappa = self._A / self.kappa if self.kappa > 1e-150 else 1.0 / d

    # summaries ----------------------------------------------------------------------------------
    @property
    def mean_resultant_length(self) -> float:
        return self._A

    @property
    def mean_direction(self) -> np.ndarray:
        """Unit vector ``B^T mu`` of R^N (the direction of the mean and of the mode)."""
        return self.model.embed(self._mu)

    def mode(self) -> np.ndarray:
        """Most probable point ``r B^T mu``: the point of the sphere closest to ``y``.

        Not unique when ``B y = 0`` (uniform posterior); the first basis vector is used then.
        """
        return self.model.radius * self.mean_direction

    def _parallel_variance(self):
        """``Var[mu.w] = 1 - A^2 - (d - 1) A / kappa`` (derived, see module docstring).

        Written as ``g (2 - g) - (d - 1) A / kappa`` with ``g = 1 - A``. For large ``kappa`` the
        two terms cancel to ``(d - 1) / (2 kappa^2)``: the relative error of this (smallest)
        eigenvalue is about ``1e-16 kappa``; it is clipped at 0.
        """
        g = self._one_minus_A
        d = self.model.subspace_dim
        return max(g * (2.0 - g) - (d - 1) * self._A_over_kappa, 0.0)

    # ExactPosterior interface ---------------------------------------------------------------
    def log_partition(self) -> float:
        """``log E_w[exp(-|y - r B^T w|^2 / (2 s))]``, ``w`` uniform on ``S^{d-1}``.

        ``= -(|y|^2 + r^2) / (2 s) + log M_d(kappa)`` with ``log M_d(kappa) = log Gamma(d/2)
        + (1 - d/2) log(kappa / 2) + log I_{d/2-1}(kappa)`` (``M_d = 1`` at ``kappa = 0``).
        Evaluated as ``-((|B y| - r)^2 + |y_perp|^2) / (2 s) + (log M_d(kappa) - kappa)``
        (derived: ``|y|^2 = |B y|^2 + |y_perp|^2``), which avoids the cancellation of two
        terms of size ``kappa`` when ``s`` is small.
        """
        r = self.model.radius
        with np.errstate(over="ignore"):
            quad = ((self._u_norm - r) ** 2 + self._ortho_norm**2) / (2.0 * self.s)
        return float(-quad + log_sphere_mgf(self.model.subspace_dim, self.kappa, scaled=True))

    def mean(self) -> np.ndarray:
        """``E[x0 | y] = r A_d(kappa) B^T mu`` (0 at ``kappa = 0``)."""
        return (self.model.radius * self._A) * self.mean_direction

    def cov(self) -> np.ndarray:
        """``r^2 B^T [(A / kappa) I_d + (1 - A^2 - d A / kappa) mu mu^T] B`` (N x N)."""
        model = self.model
        d = model.subspace_dim
        r2 = model.radius**2
        perp = self._A_over_kappa
        par = self._parallel_variance()
        if model._is_aligned:
            out = np.zeros((model.n_dim, model.n_dim))
            out[np.arange(d), np.arange(d)] = r2 * perp
        else:
            out = (r2 * perp) * (model.basis.T @ model.basis)
        v = self.mean_direction
        out += (r2 * (par - perp)) * np.outer(v, v)
        return out

    def cov_trace(self) -> float:
        """``tr Cov[x0 | y] = r^2 (1 - A^2) = r^2 (1 - A)(1 + A)``."""
        g = self._one_minus_A
        return float(self.model.radius**2 * g * (2.0 - g))

    def sample(self, n, rng) -> np.ndarray:
        """``n`` exact draws: Wood's (1994) rejection sampler for ``t = mu.w``, then a uniform
        direction orthogonal to ``mu``; mapped to ``r B^T w``. Shape ``(n, N)``.

        ``scipy.stats.vonmises_fisher`` is exact too, but rotates its draws with a dense
        ``d x d`` orthogonal matrix from a QR decomposition (15 s at ``d = 2000``); this
        sampler costs ``O(n d)``.
        """
        n, gen = sample_args(n, rng)
        d = self.model.subspace_dim
        t, sin_t = _wood_cosines(d, self.kappa, n, gen)
        g = gen.standard_normal((n, d))
        g -= np.outer(g @ self._mu, self._mu)
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        w = t[:, None] * self._mu + sin_t[:, None] * g
        return self.model.radius * self.model.embed(w)


def _wood_cosines(dim, kappa, n, gen):
    """Draw ``t = mu.w`` for ``w ~ vMF(mu, kappa)`` on ``S^{dim-1}``; return ``(t, sqrt(1-t^2))``.

    Wood (1994), Commun. Stat. Simul. Comput. 23, 157: the density of ``t`` is proportional to
    ``exp(kappa t) (1 - t^2)^{(dim-3)/2}``. Propose ``W = (1 - (1 + b) Z) / (1 - (1 - b) Z)``
    with ``Z ~ Beta((dim-1)/2, (dim-1)/2)``; accept when
    ``kappa W + (dim - 1) log(1 - x0 W) - c >= log U``, where
    ``b = (dim - 1) / (2 kappa + sqrt(4 kappa^2 + (dim - 1)^2))``, ``x0 = (1 - b) / (1 + b)``
    and ``c = kappa x0 + (dim - 1) log(1 - x0^2)`` (the maximum of the log ratio, attained at
    ``W = x0``). At ``kappa = 0`` every proposal is accepted and ``W`` is the uniform marginal.

    To keep precision when ``t`` is close to 1 (large ``kappa``), ``1 - W = 2 b Z / D`` and
    ``sqrt(1 - W^2) = 2 sqrt(b Z (1 - Z)) / D`` with ``D = 1 - (1 - b) Z`` are used directly,
    and the acceptance test is written as
    ``kappa ((1 - x0) - (1 - W)) + (dim - 1) log((1 + b) / 2 + x0 (1 + b)^2 Z / (2 D))``
    (derived from ``1 - x0^2 = 4 b / (1 + b)^2``).
    """
    m1 = dim - 1.0
    b = m1 / (2.0 * kappa + np.hypot(2.0 * kappa, m1))
    x0 = (1.0 - b) / (1.0 + b)
    one_minus_x0 = 2.0 * b / (1.0 + b)
    t = np.empty(n)
    sin_t = np.empty(n)
    filled = 0
    while filled < n:
        k = n - filled
        z = gen.beta(0.5 * m1, 0.5 * m1, size=k)
        denom = 1.0 - (1.0 - b) * z
        one_minus_w = 2.0 * b * z / denom
        log_ratio = kappa * (one_minus_x0 - one_minus_w) + m1 * np.log(
            0.5 * (1.0 + b) + x0 * (1.0 + b) ** 2 * z / (2.0 * denom)
        )
        log_u = np.log1p(-gen.random(k))  # U in (0, 1]
        ok = log_ratio >= log_u
        m = int(ok.sum())
        t[filled : filled + m] = 1.0 - one_minus_w[ok]
        sin_t[filled : filled + m] = 2.0 * np.sqrt(b * z[ok] * (1.0 - z[ok])) / denom[ok]
        filled += m
    return t, sin_t


# ------------------------------------------------------------------ scan specs (mc.models.registry)
from . import registry as _reg  # noqa: E402  (after the classes it builds)


@_reg.register
class _HypersphereEntry(_reg.ModelEntry):
    name = "hypersphere"
    space = "sphere"
    doc = "uniform on the sphere of radius sqrt(N) (or the given radius)"
    columns = ("radius", "subspace_dim")

    class Parameters(_reg.Parameters):
        radius: _reg.LengthOrZero = 0.0  # 0: sqrt(N)

    def build(self, p, n_dim, *, seed, max_bytes):
        return Hypersphere(n_dim, radius=p.radius or None)

    def check(self, p, n_dims, max_gib):
        if min(n_dims) < 2:
            raise _reg.ModelSpecError("grid.n_dim: the hypersphere needs N >= 2")
