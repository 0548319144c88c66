"""Score models of diffusion models: closed forms, learned networks, and plug-ins.

* :class:`ScoreModel`: the interface, a batch of states and a time in, the score (or the
  denoiser, by Tweedie's formula) out (``mc.scores.base``).
* Closed forms of a training set (``mc.scores.exact``): :class:`EmpiricalScore` (memorises),
  :class:`GaussianScore` (the Wiener filter of the data's mean and covariance, generalises) and
  :class:`SmoothedScore` (a kernel density of the points between the two).
* Learned networks: ``mc.scores.torch_adapter.TorchScore`` wraps a ``torch.nn.Module`` (extra
  ``torch``), and ``mc.scores.network`` is the small denoiser network that ``jobs/`` trains.
* The registry (``mc.scores.registry``): the names a scan spec's ``[score]`` section may use,
  extended by installed packages through the entry-point group ``diffusion_replicas.scores``.

Replicas of the posterior a score model implies come from ``mc.clones``.
"""
from .base import ScoreModel, coefficients
from .exact import EmpiricalScore, GaussianScore, SmoothedScore, moments
from .registry import ScoreEntry, ScoreSpecError, get, register, scores

__all__ = ["ScoreModel", "coefficients", "EmpiricalScore", "GaussianScore", "SmoothedScore", "moments",
           "ScoreEntry", "ScoreSpecError", "get", "register", "scores"]
