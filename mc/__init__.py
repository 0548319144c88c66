"""Sampling the posterior P(x0 | x_t) of diffusion models as a Boltzmann measure.

Layers (imports point downward only): forward processes and data models, the posterior, Numba
kernels, the sampler driver; score models (``mc.scores``) and their clones (``mc.clones``). See the package README for the physics and the conventions.
"""
from .models import Dataset, DataModel, GaussianMixture, Hypersphere, IsingPrior, TwoDeltas
from .posterior import Posterior
from .processes import VE, VP, VPLinear, ddpm_time
from .disorder import QuenchedState, draw_quenched, seed_sequence
from .sampler import Ladder, SampleResult, sample
from .distributed import DistributedResult, sample_distributed
from .clones import CloneResult, clone_replicas

__version__ = "0.1.0"

__all__ = [
    "VE",
    "VP",
    "VPLinear",
    "ddpm_time",
    "DataModel",
    "Dataset",
    "TwoDeltas",
    "GaussianMixture",
    "Hypersphere",
    "IsingPrior",
    "Posterior",
    "QuenchedState",
    "draw_quenched",
    "seed_sequence",
    "sample",
    "SampleResult",
    "sample_distributed",
    "DistributedResult",
    "Ladder",
    "clone_replicas",
    "CloneResult",
    "__version__",
]
