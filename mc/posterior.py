"""The diffusion posterior P(x0 | x_t) as a Boltzmann measure.

For a data model p0, a forward process (a_t, D_t) and a quenched noisy state x_t
(``physics.md``):

    P(x0 | x_t) = exp(-H(x0)) / Z,   H(x0) = |x_t - a_t x0|^2 / (2 D_t) - log p0(x0).

Dropping x0-independent terms, ``H = -h . x0 + (a_t^2 / (2 D_t)) |x0|^2 - log p0(x0)`` with the
external field ``h = a_t x_t / D_t``. The posterior depends on (x_t, t) only through
``y = x_t / a_t`` and ``s = D_t / a_t^2``; exact quantities are delegated to the model's
``exact_posterior(y, s)``.

Normalisation: ``log_partition()`` returns ``log Z = log E_{p0}[exp(-|x_t - a_t x0|^2 / (2 D_t))]``
with p0 normalised; ``log_evidence()`` returns ``log p_t(x_t) = log Z - (N/2) log(2 pi D_t)``.
Tweedie's formula ``grad_{x_t} log p_t = (a_t m - x_t) / D_t`` (``score``) follows.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_scalar
from .models.base import DataModel
from .processes import ForwardProcess

__all__ = ["Posterior"]


def _read_only(arr):
    """A private, read-only copy of ``arr``: the posterior's cached quantities (the exact posterior,
    the sampler's fields) are derived from it, so changing it in place would silently invalidate them."""
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


class Posterior:
    """Boltzmann measure ``P(x0 | x_t)`` of a data model under a forward process.

    Parameters
    ----------
    model : DataModel
        Prior p0.
    process : ForwardProcess
        ``mc.VE(...)``, ``mc.VP()``, ...
    x_t : array, shape (N,)
        Quenched noisy state (finite). The posterior keeps a read-only copy (``x_t`` and the
        derived ``y`` and ``field`` cannot be assigned into: the exact posterior is built from
        them once), so changing the argument afterwards does not change the posterior.
    t : float
        Forward-process time (> 0).

    Examples
    --------
    >>> import numpy as np, mc
    >>> post = mc.Posterior(mc.TwoDeltas(1.0), mc.VE(), np.array([0.3]), t=0.5)
    >>> round(float(post.mean()[0]), 6) == round(float(np.tanh(0.3 / 0.5)), 6)
    True
    """

    def __init__(self, model, process, x_t, t):
        if not isinstance(model, DataModel):
            raise ValueError(f"model: expected a data model (mc.models.DataModel), got {type(model).__name__}")
        if not isinstance(process, ForwardProcess):
            raise ValueError(f"process: expected a forward process such as mc.VE() or mc.VP(), got {process!r}")
        self.model = model
        self.process = process
        self.t = as_scalar(t, "t", positive=True)
        #: Quenched noisy state (a read-only copy of the argument).
        self.x_t = _read_only(as_float_array(x_t, "x_t", shape=(model.n_dim,)))
        self.a, self.D, self.s = process.coefficients(self.t)
        #: Rescaled noisy state y = x_t / a_t (read-only).
        self.y = _read_only(self.x_t / self.a)
        #: External field h = a_t x_t / D_t (= y / s) (read-only).
        self.field = _read_only(self.a * self.x_t / self.D)
        self._exact = None

    @property
    def n_dim(self):
        return self.model.n_dim

    # energies ------------------------------------------------------------------
    def energy(self, x0):
        """``H(x0) = |x_t - a_t x0|^2 / (2 D_t) - log p0(x0)`` for a batch ``(..., N)``.

        ``log p0`` is the model's, i.e. known up to an additive constant for some models.
        """
        x0 = self.model._check_batch(x0)
        diff = self.x_t - self.a * x0
        return 0.5 * np.sum(diff * diff, axis=-1) / self.D - self.model.log_prob(x0)

    def log_weight(self, x0):
        """Unnormalised log posterior weight ``-H(x0)``."""
        return -self.energy(x0)

    # exact quantities ------------------------------------------------------------
    @property
    def is_exact(self):
        """Whether the model provides an exact posterior (mean, covariance, log Z, samples)."""
        return "exact_posterior" in self.model.capabilities

    @property
    def exact(self):
        """The model's exact posterior object (built once, on first use)."""
        if self._exact is None:
            if not self.is_exact:
                raise NotImplementedError(
                    f"{type(self.model).__name__} (N={self.n_dim}) has no exact posterior; "
                    "use the Monte Carlo sampler"
                )
            self._exact = self.model.exact_posterior(self.y, self.s)
        return self._exact

    def log_partition(self):
        """``log Z = log E_{p0}[exp(-|x_t - a_t x0|^2 / (2 D_t))]`` (p0 normalised); ``-log Z`` is the free energy."""
        return self.exact.log_partition()

    def log_evidence(self):
        """``log p_t(x_t) = log Z - (N/2) log(2 pi D_t)``: the marginal density of the noisy state."""
        return self.log_partition() - 0.5 * self.n_dim * np.log(2.0 * np.pi * self.D)

    def mean(self):
        """Posterior mean (magnetisation) ``m = E[x0 | x_t]``."""
        return self.exact.mean()

    def cov(self):
        """Posterior covariance ``Cov[x0 | x_t] = dm/dh`` (susceptibility); ``dm/dx_t = (a_t/D_t) Cov``."""
        return self.exact.cov()

    def cov_trace(self):
        """``tr Cov[x0 | x_t]``."""
        return self.exact.cov_trace()

    def sample_exact(self, n, rng):
        """``n`` independent exact posterior draws, shape ``(n, N)``."""
        return self.exact.sample(n, rng)

    @property
    def weights(self):
        """Posterior weights over the points of a Dataset or the components of a mixture."""
        return self.exact.weights

    def enumerate(self):
        """All microstates and their posterior probabilities, ``(states, probs)``.

        Available where the posterior is a sum over a finite list: spin priors with
        ``N <= MAX_ENUMERATION_DIM`` (all ``2^N`` states) and data sets (the training points).
        """
        return self.exact.enumerate()

    def score(self):
        """Tweedie: ``grad_{x_t} log p_t(x_t) = (a_t m - x_t) / D_t``."""
        return (self.a * self.mean() - self.x_t) / self.D

    def score_divergence(self):
        """``div score = -N / D_t + (a_t^2 / D_t^2) tr Cov`` (trace of the Hessian of log p_t)."""
        return -self.n_dim / self.D + (self.a / self.D) ** 2 * self.cov_trace()

    def __repr__(self):
        return f"Posterior({self.model!r}, {self.process!r}, t={self.t!r})"
