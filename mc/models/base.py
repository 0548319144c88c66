"""Common interface of data models (priors p0) and of their exact posteriors.

A data model is a probability measure p0 on its state space (R^N, a finite set of points,
a sphere, or the hypercube {-1, +1}^N). It provides

* ``n_dim``: the dimension N;
* ``log_prob(x0)``: log p0 up to an additive constant, for a batch ``(..., N)``;
* ``sample(n, rng)``: ``n`` independent draws, shape ``(n, N)``;
* ``capabilities``: what it can do exactly (a frozenset of the strings below);
* ``exact_posterior(y, s)``: the exact posterior for a rescaled noisy state ``y = x_t / a_t``
  with effective noise variance ``s = D_t / a_t**2``, i.e. the measure
  ``P(x0 | y) = p0(x0) exp(-|y - x0|^2 / (2 s)) / Z`` (``physics.md``). Models that have no
  tractable posterior raise ``NotImplementedError``.

Capabilities
------------
``"sample"``           draw from p0 exactly.
``"exact_posterior"``  closed-form or quadrature posterior (mean, covariance, log Z, samples).
``"enumerate"``        finite state space small enough to list (spin priors with N <= 20).
``"grad_log_prob"``    ``grad_log_prob(x0)`` is available (continuous models, for MALA / HMC).

Hooks for the Monte Carlo engine
--------------------------------
``may_be_multimodal``  whether the prior can hold several separated modes, so that local moves
                       may fail to cross between the modes of a posterior (the sampler then
                       tempers by default and extends likelihood ladders into the prior's own
                       temperature);
``order_directions()`` unit vectors whose projections tell the modes apart (class axes,
                       magnetisation, patterns): the sampler records them and checks that the
                       replicas agree on them (R-hat), since the energy alone does not see a
                       replica stuck in a mirror-image mode.

Hooks for the generic code
--------------------------
The generic modules (``mc.dynamics``, ``mc.sampler``, ``replica``) never ask which concrete class
a model is; they call these hooks, whose defaults say "not available":

``mixture_parameters()``   p0 as a mixture of diagonal Gaussians (exact Numba scores of
                           ``mc.dynamics``); default: ``ValueError``.
``numba_log_prior()``      built-in Numba ``log p0`` and gradient (MALA / HMC / RWM); default ``None``.
``gaussian_components()``  p0 as a mixture of Gaussians in their eigenbases (class
                           responsibilities of ``replica.states``); default ``None``.
``spin_kernel()``          (spin priors) the Numba single-spin kernel family and its arrays.

and on exact posteriors (``ExactPosterior``):

``franz_parisi_route``     which exact Franz-Parisi route applies (``"spins"``, ``"points"``,
                           ``"mixture"``), or ``None``;
``pure_states()``          weights and self-overlaps of the decomposition into states
                           (Edwards-Anderson overlap); default: ``NotImplementedError``.
"""
from __future__ import annotations

import abc

import numpy as np

from .._validation import as_float_array

__all__ = ["DataModel", "ExactPosterior"]


class DataModel(abc.ABC):
    """Abstract data model (prior) p0 on an N-dimensional state space."""

    #: Kind of state space: "continuous", "points" (finite set), "sphere" or "spins".
    state_space = "continuous"
    #: What the model can do exactly.
    capabilities: frozenset = frozenset()
    #: Short name used in result tables and scan specs.
    name = "model"

    @property
    @abc.abstractmethod
    def n_dim(self) -> int:
        """Dimension N of a microstate."""

    @abc.abstractmethod
    def log_prob(self, x0):
        """log p0(x0) up to an additive constant; ``x0`` has shape ``(..., N)``."""

    @abc.abstractmethod
    def sample(self, n, rng):
        """``n`` independent draws from p0, shape ``(n, N)``."""

    def exact_posterior(self, y, s):
        """Exact posterior ``p0(x0) exp(-|y - x0|^2 / (2 s)) / Z`` (see module docstring)."""
        raise NotImplementedError(f"{type(self).__name__} has no exact posterior")

    def params(self) -> dict:
        """Scalar parameters recorded as columns of the result table."""
        return {"n_dim": self.n_dim}

    @property
    def may_be_multimodal(self) -> bool:
        """Whether the prior may hold several separated modes (see the module docstring).

        ``False`` by default: a model that can be multimodal says so."""
        return False

    def order_directions(self):
        """Orthonormal rows ``(k, N)`` whose projections tell the prior's modes apart, or ``None``."""
        return None

    # hooks for the generic code (see the module docstring) ----------------------
    def mixture_parameters(self):
        """``(means (K, N), variances (K, N), log_weights (K,))`` of p0 written as a mixture of
        diagonal Gaussians, ``p0 = sum_k exp(log_weights_k) N(means_k, diag(variances_k))``
        (deltas have zero variances), for the exact Numba scores of ``mc.dynamics``.

        The default raises ``ValueError`` naming the class: the model has no such form."""
        raise ValueError(
            f"model: no exact Numba score for {type(self).__name__}; use TwoDeltas, Dataset or a "
            "diagonal GaussianMixture"
        )

    def numba_log_prior(self):
        """``(f, params)``: a Numba ``@njit f(x, params, grad_out) -> log p0(x)`` (normalised),
        writing ``grad log p0(x)`` into ``grad_out``, and its parameter tuple (the signature of
        ``mc.kernels.priors``), for the continuous methods MALA / HMC / RWM of ``mc.sampler``.

        ``None`` (the default) when the model has no built-in Numba prior."""
        return None

    def gaussian_components(self):
        """``(weights (K,), means (K, N), eigenvalues (K, N), eigenvectors)`` of p0 written as a
        mixture of Gaussians ``p0 = sum_k weights_k N(means_k, U_k diag(eigenvalues_k) U_k^T)``,
        with ``U_k = eigenvectors[k]`` (shape (K, N, N)) or ``eigenvectors = None`` when every
        covariance is diagonal (``U_k = I``). Used for the class responsibilities ``P(c | x0)``
        of ``replica.states``.

        ``None`` (the default) when p0 is not a mixture of Gaussians."""
        return None

    # helpers for subclasses -------------------------------------------------
    def _check_batch(self, x0, name="x0"):
        x0 = as_float_array(x0, name, allow_nonfinite=True)
        if x0.ndim == 0 or x0.shape[-1] != self.n_dim:
            raise ValueError(
                f"{name}: expected shape (..., {self.n_dim}) for {type(self).__name__}, got {x0.shape}"
            )
        return x0

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({inner})"


class ExactPosterior(abc.ABC):
    """Exact posterior ``P(x0 | y) proportional to p0(x0) exp(-|y - x0|^2 / (2 s))``.

    ``log_partition`` is ``log Z = log E_{p0}[exp(-|y - x0|^2 / (2 s))]`` with p0 normalised,
    so that ``log p_t(x_t) = log Z - (N / 2) log(2 pi D_t)`` (the evidence). It generates the
    moments: ``d log Z / dy = (mean - y) / s`` (Tweedie).
    """

    def __init__(self, y, s):
        self.y = y
        self.s = float(s)

    @property
    def n_dim(self):
        return self.y.shape[0]

    @abc.abstractmethod
    def log_partition(self) -> float:
        """log Z (see class docstring)."""

    @abc.abstractmethod
    def mean(self) -> np.ndarray:
        """Posterior mean E[x0 | y] (the magnetisation)."""

    @abc.abstractmethod
    def cov(self) -> np.ndarray:
        """Posterior covariance Cov[x0 | y] (N x N; the susceptibility d mean / d h)."""

    def cov_trace(self) -> float:
        """Trace of the posterior covariance (cheaper than ``cov`` for most models)."""
        return float(np.trace(self.cov()))

    @abc.abstractmethod
    def sample(self, n, rng) -> np.ndarray:
        """``n`` independent exact posterior draws, shape ``(n, N)``."""

    @property
    def weights(self):
        """Posterior weights over points / components, where the posterior is a mixture."""
        raise AttributeError(f"{type(self).__name__} is not a mixture: it has no weights")

    def enumerate(self):
        """All microstates and their posterior probabilities ``(states, probs)``, where the
        posterior is a sum over a finite list (overridden by those posteriors)."""
        raise NotImplementedError(f"{type(self).__name__} has no finite list of microstates to enumerate")

    # hooks for the generic analyses (see the module docstring) ----------------

    #: Exact route of ``replica.potentials.franz_parisi`` for this posterior: ``"spins"``
    #: (enumerated spin states: mass of each value of q), ``"points"`` (a finite set of points
    #: with weights: a binned density) or ``"mixture"`` (Gaussian components: closed-form
    #: densities); ``None`` when there is no exact route.
    franz_parisi_route = None

    def pure_states(self):
        """``(weights (S,), self_overlaps (S,))`` of the decomposition of the posterior into
        states ``alpha``: ``weights_alpha`` their posterior weights (summing to one) and
        ``self_overlaps_alpha = q_alpha`` the overlap ``x . x' / N`` of two independent
        configurations of state ``alpha`` (e.g. ``|m_c|^2 / N`` for a Gaussian component with
        mean ``m_c``, ``|y^mu|^2 / N`` for a point ``y^mu``), as the Edwards-Anderson overlap
        ``sum_alpha w_alpha^2 q_alpha / sum_alpha w_alpha^2`` needs.

        Raises ``NotImplementedError`` by default: no decomposition into states is known."""
        raise NotImplementedError(f"{type(self).__name__} has no decomposition into states")
