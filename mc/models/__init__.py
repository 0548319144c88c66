"""Data models p0(x0): the priors whose diffusion posteriors the package samples."""
from .base import DataModel, ExactPosterior
from .dataset import Dataset, DiscretePosterior, TwoDeltas, TwoDeltasPosterior
from .gaussian_mixture import GaussianMixture, GaussianMixturePosterior

__all__ = [
    "DataModel",
    "ExactPosterior",
    "Dataset",
    "DiscretePosterior",
    "TwoDeltas",
    "TwoDeltasPosterior",
    "GaussianMixture",
    "GaussianMixturePosterior",
]
