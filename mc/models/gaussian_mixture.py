"""Gaussian mixtures ``p0 = sum_k pi_k N(mu_k, C_k)`` and their exact posteriors.

Each covariance is held in its eigenbasis, ``C_k = U_k diag(lambda_k) U_k^T`` (``U_k`` is the
identity for isotropic or diagonal covariances and is never formed then). With
``r_k = U_k^T (y - mu_k)`` the posterior for a rescaled noisy state ``y`` with noise variance
``s`` is a mixture of Gaussians (``physics.md``, derived by completing the square):

* component weights ``P(k | y) = softmax_k[log pi_k - (1/2) sum_i log(1 + lambda_ki / s)
  - (1/2) sum_i r_ki^2 / (lambda_ki + s)]``; the log-sum-exp of the same logits is
  ``log Z = log E_{p0} exp(-|y - x0|^2 / (2 s))``;
* within component k: mean ``mu_k + U_k (lambda_k / (lambda_k + s) * r_k)`` and covariance
  ``U_k diag(lambda_k s / (lambda_k + s)) U_k^T``.

Singular covariances (``lambda = 0``, e.g. deltas) are allowed: every formula above stays finite.
For the symmetric two-class mixture ``+-mu`` with variance ``sigma^2`` the weights reduce to
``(1 +- tanh(mu . y / (s + sigma^2))) / 2``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .._validation import as_float_array, as_generator, as_positive_int, as_scalar, probability_vector, sample_args
from .base import DataModel, ExactPosterior

__all__ = ["GaussianMixture", "GaussianMixturePosterior"]

#: Relative tolerance for symmetry and positive semi-definiteness of covariances.
_PSD_RTOL = 1e-10


class GaussianMixture(DataModel):
    """Mixture of K Gaussians in R^N.

    Parameters
    ----------
    means : array, shape (K, N)
        Component means (a 1-D array is one component).
    covariances : array, shape (K, N, N) or (N, N), optional
        Full covariances (one per component, or one shared). Must be symmetric PSD.
    variances : float, array of shape (K,) or (K, N), optional
        Isotropic (scalar shared, or one per component) or diagonal variances, >= 0.
        Give exactly one of ``covariances`` and ``variances``.
    weights : array, shape (K,), optional
        Mixture weights summing to one (uniform by default).
    """

    state_space = "continuous"
    name = "gaussian_mixture"

    def __init__(self, means, covariances=None, variances=None, weights=None):
        mu = as_float_array(means, "means")
        if mu.ndim == 1:
            mu = mu[None, :]
        if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
            raise ValueError(f"means: expected shape (K, N), got {np.shape(means)}")
        self.means = mu
        K, N = mu.shape
        if (covariances is None) == (variances is None):
            raise ValueError("covariances, variances: give exactly one of them")
        if variances is not None:
            var = as_float_array(variances, "variances")
            if var.ndim == 0:
                var = np.full((K, N), float(var))
            elif var.ndim == 1 and var.shape == (K,):
                var = np.repeat(var[:, None], N, axis=1)
            elif var.shape != (K, N):
                raise ValueError(
                    f"variances: expected a scalar, shape ({K},) or ({K}, {N}), got {var.shape}"
                )
            if (var < 0).any():
                k, i = np.argwhere(var < 0)[0]
                raise ValueError(f"variances: must be >= 0, got {var[k, i]} (component {k}, axis {i})")
            self.eigenvalues = np.array(var, dtype=np.float64)
            self.eigenvectors = None
        else:
            cov = as_float_array(covariances, "covariances")
            if cov.ndim == 2:
                cov = np.broadcast_to(cov, (K,) + cov.shape)
            if cov.shape != (K, N, N):
                raise ValueError(f"covariances: expected shape ({K}, {N}, {N}) or ({N}, {N}), got {cov.shape}")
            lam = np.empty((K, N))
            vecs = np.empty((K, N, N))
            for k in range(K):
                c = cov[k]
                scale = max(float(np.abs(c).max()), np.finfo(float).tiny)
                if not np.allclose(c, c.T, rtol=0.0, atol=_PSD_RTOL * scale):
                    raise ValueError(f"covariances: component {k} is not symmetric")
                w, v = np.linalg.eigh(0.5 * (c + c.T))
                if w.min() < -_PSD_RTOL * scale * N:
                    raise ValueError(
                        f"covariances: component {k} is not positive semi-definite "
                        f"(smallest eigenvalue {w.min():.3g})"
                    )
                lam[k] = np.clip(w, 0.0, None)
                vecs[k] = v
            self.eigenvalues = lam
            self.eigenvectors = vecs
        self.weights = np.full(K, 1.0 / K) if weights is None else probability_vector(weights, "weights", K)
        self._params = {}
        singular = bool((self.eigenvalues == 0).any())
        caps = {"sample", "exact_posterior"}
        if not singular:
            caps.add("grad_log_prob")
        self.capabilities = frozenset(caps)

    @classmethod
    def two_class(cls, mu, variance=1.0, weight=0.5, n_dim=None):
        """Symmetric two-class mixture ``w N(mu, variance I) + (1 - w) N(-mu, variance I)``.

        ``mu`` is a vector, or a scalar repeated over ``n_dim`` coordinates.
        """
        mu = as_float_array(mu, "mu")
        if mu.ndim == 0:
            n = 1 if n_dim is None else as_positive_int(n_dim, "n_dim")
            mu = np.full(n, float(mu))
        elif mu.ndim != 1 or (n_dim is not None and mu.shape[0] != n_dim):
            raise ValueError(f"mu: expected a scalar or a vector of length n_dim, got shape {mu.shape}")
        variance = as_scalar(variance, "variance", nonnegative=True)
        weight = as_scalar(weight, "weight")
        if not 0 < weight < 1:
            raise ValueError(f"weight: must lie in (0, 1), got {weight}")
        out = cls(np.stack([mu, -mu]), variances=variance, weights=[weight, 1.0 - weight])
        out._params = {"mu_norm2": float(mu @ mu), "variance": variance, "weight": weight}
        return out

    # DataModel interface ------------------------------------------------------
    @property
    def n_dim(self):
        return self.means.shape[1]

    @property
    def n_components(self):
        return self.means.shape[0]

    def params(self):
        return {"n_dim": self.n_dim, "n_components": self.n_components, **self._params}

    @property
    def may_be_multimodal(self):
        """A mixture of more than one component may have a mode per component."""
        return self.n_components > 1

    def order_directions(self):
        """Orthonormal basis of the span of the component means about their weighted mean
        (the class axes; ``mu / |mu|`` for the two-class mixture), or ``None`` for one component
        or coincident means."""
        centred = self.means - self.weights @ self.means
        if self.n_components < 2 or not np.any(centred):
            return None
        u, sv, _ = np.linalg.svd(centred.T, full_matrices=False)
        keep = sv > 1e-10 * sv[0]
        return np.ascontiguousarray(u[:, keep].T)

    # hooks for the generic code (mc.models.base) --------------------------------
    def mixture_parameters(self):
        """``(means (K, N), variances (K, N), log pi (K,))`` with ``variances_k = diag(C_k)``.

        Only isotropic or diagonal covariances qualify: stored eigenvectors must be
        permutation matrices (up to signs), for which ``diag(U diag(lambda) U^T)`` is a permutation
        of ``lambda``; a full covariance raises ``ValueError``."""
        lam = np.asarray(self.eigenvalues, dtype=np.float64)
        if self.eigenvectors is not None:
            var = np.empty_like(lam)
            for k, u in enumerate(self.eigenvectors):
                if not np.allclose(np.abs(u) @ np.ones(u.shape[1]), 1.0) or not np.allclose(np.abs(u).max(axis=1), 1.0):
                    raise ValueError(
                        "model: the trajectory kernels need isotropic or diagonal covariances; "
                        f"component {k} has a full covariance"
                    )
                var[k] = (np.abs(u) * lam[k]).sum(axis=1)  # diag(U diag(lam) U^T) for a permutation U
            lam = var
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        return np.ascontiguousarray(self.means, dtype=np.float64), np.ascontiguousarray(lam), log_w

    def numba_log_prior(self):
        """``(f, params)`` of ``mc.kernels.priors``: ``gaussian_mixture_diagonal`` with
        ``(means, 1 / lambda, log_coef, scratch)`` when no eigenvectors are stored, else
        ``gaussian_mixture_full`` with ``(means, eigenvectors, 1 / lambda, log_coef, scratch,
        scratch (K, N))``, where ``log_coef_k = log pi_k - (1/2) sum_i log(2 pi lambda_ki)``
        (the normalised log density ``log sum_k pi_k N(x; mu_k, C_k)``).

        Raises ``ValueError`` for a singular covariance (no density)."""
        from ..kernels import priors as kpr

        if "grad_log_prob" not in self.capabilities:
            raise ValueError("method: MALA / HMC / RWM need a mixture with non-singular covariances (a density)")
        lam = self.eigenvalues
        log_coef = np.log(self.weights) - 0.5 * np.sum(np.log(2.0 * np.pi * lam), axis=1)
        scratch = np.empty(self.n_components)
        if self.eigenvectors is None:
            return kpr.gaussian_mixture_diagonal, (np.ascontiguousarray(self.means), 1.0 / lam, log_coef, scratch)
        return kpr.gaussian_mixture_full, (
            np.ascontiguousarray(self.means),
            np.ascontiguousarray(self.eigenvectors),
            1.0 / lam,
            log_coef,
            scratch,
            np.empty(self.means.shape),
        )

    def gaussian_components(self):
        """``(weights pi, means, eigenvalues lambda, eigenvectors U or None)``: the mixture
        ``sum_k pi_k N(mu_k, U_k diag(lambda_k) U_k^T)`` as stored (see
        :meth:`DataModel.gaussian_components`)."""
        return self.weights, self.means, self.eigenvalues, self.eigenvectors

    def _to_eigenbasis(self, k, v):
        """``U_k^T v`` for ``v`` of shape (..., N)."""
        if self.eigenvectors is None:
            return v
        return v @ self.eigenvectors[k]

    def _from_eigenbasis(self, k, v):
        """``U_k v`` for ``v`` of shape (..., N)."""
        if self.eigenvectors is None:
            return v
        return v @ self.eigenvectors[k].T

    def component_covariance(self, k):
        """Dense covariance C_k."""
        lam = self.eigenvalues[k]
        if self.eigenvectors is None:
            return np.diag(lam)
        u = self.eigenvectors[k]
        return (u * lam) @ u.T

    def _component_log_densities(self, x0):
        if "grad_log_prob" not in self.capabilities:
            raise ValueError("x0: log_prob is undefined for a mixture with singular covariance (no density)")
        out = []
        for k in range(self.n_components):
            lam = self.eigenvalues[k]
            r = self._to_eigenbasis(k, x0 - self.means[k])
            out.append(
                np.log(self.weights[k])
                - 0.5 * np.sum(np.log(2 * np.pi * lam))
                - 0.5 * np.sum(r * r / lam, axis=-1)
            )
        return np.stack(out, axis=-1)

    def log_prob(self, x0):
        """Normalised log density ``log sum_k pi_k N(x0; mu_k, C_k)``."""
        x0 = self._check_batch(x0)
        return logsumexp(self._component_log_densities(x0), axis=-1)

    def grad_log_prob(self, x0):
        """``sum_k P(k | x0) C_k^{-1} (mu_k - x0)``."""
        x0 = self._check_batch(x0)
        logs = self._component_log_densities(x0)
        resp = np.exp(logs - logsumexp(logs, axis=-1, keepdims=True))
        out = np.zeros_like(x0)
        for k in range(self.n_components):
            r = self._to_eigenbasis(k, self.means[k] - x0) / self.eigenvalues[k]
            out += resp[..., k : k + 1] * self._from_eigenbasis(k, r)
        return out

    def sample(self, n, rng):
        n, gen = sample_args(n, rng)
        comp = gen.choice(self.n_components, size=n, p=self.weights)
        z = gen.standard_normal((n, self.n_dim))
        out = np.empty((n, self.n_dim))
        for k in range(self.n_components):
            sel = comp == k
            out[sel] = self.means[k] + self._from_eigenbasis(k, z[sel] * np.sqrt(self.eigenvalues[k]))
        return out

    def exact_posterior(self, y, s):
        return GaussianMixturePosterior(self, y, s)


class GaussianMixturePosterior(ExactPosterior):
    """Exact posterior of a :class:`GaussianMixture` (formulas in the module docstring)."""

    #: Exact Franz-Parisi route: closed-form densities of q within each Gaussian component.
    franz_parisi_route = "mixture"

    def __init__(self, model, y, s):
        super().__init__(y, s)
        self.model = model
        K, N = model.means.shape
        s = self.s
        logits = np.empty(K)
        self.component_means = np.empty((K, N))
        #: Posterior variances of each component in its eigenbasis, lambda s / (lambda + s).
        self.component_eigenvalues = np.empty((K, N))
        for k in range(K):
            lam = model.eigenvalues[k]
            r = model._to_eigenbasis(k, y - model.means[k])
            logits[k] = (
                np.log(model.weights[k]) - 0.5 * np.sum(np.log1p(lam / s)) - 0.5 * np.sum(r * r / (lam + s))
            )
            self.component_means[k] = model.means[k] + model._from_eigenbasis(k, lam / (lam + s) * r)
            self.component_eigenvalues[k] = lam * s / (lam + s)
        self.logits = logits
        self._log_z = float(logsumexp(logits))
        with np.errstate(under="ignore"):
            w = np.exp(logits - logits.max())
        self._weights = w / w.sum()

    @property
    def weights(self):
        """Posterior component (class) weights P(k | y)."""
        return self._weights

    def pure_states(self):
        """``(P(k | y), |m_k|^2 / N)``: the states are the posterior components, with their
        weights and self-overlaps ``q_k = |m_k|^2 / N`` (``m_k`` the posterior mean within
        component ``k``; see :meth:`ExactPosterior.pure_states`)."""
        return self.weights, np.einsum("ki,ki->k", self.component_means, self.component_means) / self.n_dim

    def log_partition(self):
        return self._log_z

    def mean(self):
        return self._weights @ self.component_means

    def cov(self):
        """``sum_k P(k|y) [V_k + (m_k - m)(m_k - m)^T]``."""
        m = self.mean()
        N = self.n_dim
        out = np.zeros((N, N))
        for k in range(self.model.n_components):
            w = self._weights[k]
            if w == 0.0:
                continue
            lam = self.component_eigenvalues[k]
            if self.model.eigenvectors is None:
                out[np.diag_indices(N)] += w * lam
            else:
                u = self.model.eigenvectors[k]
                out += w * ((u * lam) @ u.T)
            d = self.component_means[k] - m
            out += w * np.outer(d, d)
        return out

    def cov_trace(self):
        m = self.mean()
        d = self.component_means - m
        return float(self._weights @ (self.component_eigenvalues.sum(axis=1) + np.einsum("ki,ki->k", d, d)))

    def sample_components(self, n, rng):
        """Component (class) labels of ``n`` posterior draws."""
        n, gen = sample_args(n, rng)
        return gen.choice(self.model.n_components, size=n, p=self._weights)

    def sample(self, n, rng):
        gen = as_generator(rng)
        comp = self.sample_components(n, gen)
        z = gen.standard_normal((comp.size, self.n_dim))
        out = np.empty_like(z)
        for k in range(self.model.n_components):
            sel = comp == k
            if sel.any():
                std = np.sqrt(self.component_eigenvalues[k])
                out[sel] = self.component_means[k] + self.model._from_eigenbasis(k, z[sel] * std)
        return out


# ------------------------------------------------------------------ scan specs (mc.models.registry)
from . import registry as _reg  # noqa: E402  (after the classes it builds)


@_reg.register
class _TwoClassMixtureEntry(_reg.ModelEntry):
    name = "two_class_mixture"
    space = "continuous"
    doc = "w N(mu 1, variance I) + (1 - w) N(-mu 1, variance I), |mu|^2 = N mu^2"
    provides = frozenset({"class_axis"})
    columns = ("n_components", "mu_norm2", "variance", "weight")

    class Parameters(_reg.Parameters):
        mu: _reg.Length = 1.0
        variance: _reg.VarianceOrZero = 1.0
        weight: _reg.Probability = 0.5

    def build(self, p, n_dim, *, seed, max_bytes):
        return GaussianMixture.two_class(p.mu, variance=p.variance, weight=p.weight, n_dim=n_dim)
