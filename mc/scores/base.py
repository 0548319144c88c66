"""The interface of a score model: the score of the noisy marginals, or the denoiser.

A diffusion model is, for the package, its score ``s(x, t) = grad log p_t(x)`` on a batch of
states at one time. Tweedie's formula ties the score to the denoiser, the posterior mean of the
clean state (``physics.md``, Tweedie):

    E[x0 | x_t = x] = (x + D_t s(x, t)) / a_t,        s(x, t) = (a_t E[x0 | x] - x) / D_t,

so a model may define either one (:meth:`ScoreModel.denoise` or :meth:`ScoreModel.score`) and
gets the other. Arrays in, arrays out: ``x`` has shape (n, N) (a batch of paths), ``t`` is one
time > 0, and the result has the shape of ``x``, float64. A learned network with another output
(the noise ``eps``: ``s = -eps / sqrt(D_t)``) is wrapped to one of these two
(``mc.scores.torch_adapter``).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_scalar
from ..processes import ForwardProcess

__all__ = ["ScoreModel", "coefficients"]


def coefficients(process, t):
    """``(a_t, D_t)`` of the forward process at one time ``t > 0``."""
    t = as_scalar(t, "t", positive=True)
    return float(process.a(t)), float(process.D(t))


class ScoreModel:
    """A model of the score of the noisy marginals of one forward process.

    Subclasses set :attr:`name` and override :meth:`denoise` or :meth:`score` (at least one);
    the base class checks the batch and converts between them by Tweedie's formula.

    Parameters
    ----------
    n_dim : int
        Dimension N of the states.
    process : ForwardProcess
        The forward process whose marginals the model's score describes (a trained network was
        trained on one).
    """

    #: Name in specs (``[score] name``) and in the ``score`` column of result tables.
    name = "score"

    def __init__(self, n_dim, process):
        if not isinstance(process, ForwardProcess):
            raise ValueError(f"process: expected a forward process such as mc.VP(), got {process!r}")
        self.n_dim = int(n_dim)
        self.process = process

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls._denoise is ScoreModel._denoise and cls._score is ScoreModel._score:
            raise TypeError(f"{cls.__name__}: a score model defines _denoise(x, a, D, t) or _score(x, a, D, t)")

    # public, checked ----------------------------------------------------------------------
    def _batch(self, x):
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.n_dim:
            raise ValueError(f"x: expected shape (n, {self.n_dim}), got {x.shape}")
        return np.ascontiguousarray(x, dtype=np.float64)

    def denoise(self, x, t):
        """The denoiser ``E[x0 | x_t = x]`` for a batch ``x`` of shape (n, N) at time ``t > 0``."""
        a, D = coefficients(self.process, t)
        return np.asarray(self._denoise(self._batch(x), a, D, float(t)), dtype=np.float64)

    def score(self, x, t):
        """The score ``grad log p_t(x)`` for a batch ``x`` of shape (n, N) at time ``t > 0``."""
        a, D = coefficients(self.process, t)
        return np.asarray(self._score(self._batch(x), a, D, float(t)), dtype=np.float64)

    # what subclasses define (x already checked; a, D the process coefficients at t) ---------
    def _denoise(self, x, a, D, t):
        return (x + D * self._score(x, a, D, t)) / a

    def _score(self, x, a, D, t):
        return (a * self._denoise(x, a, D, t) - x) / D

    def __repr__(self):
        return f"<score {self.name!r} N={self.n_dim} {getattr(self.process, 'name', self.process)!r}>"
