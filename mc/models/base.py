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
