"""Data models p0(x0): the priors whose diffusion posteriors the package samples."""
from .base import DataModel, ExactPosterior
from .dataset import Dataset, DiscretePosterior, TwoDeltas, TwoDeltasPosterior
from .gaussian_mixture import GaussianMixture, GaussianMixturePosterior
from .hypersphere import Hypersphere, VonMisesFisherPosterior
from .ising import MAX_ENUMERATION_DIM, CurieWeissPosterior, CurieWeissPrior, EnumeratedSpinPosterior, IsingPrior
from .lattice import LatticeIsingPrior

__all__ = [
    "DataModel",
    "ExactPosterior",
    "Dataset",
    "DiscretePosterior",
    "TwoDeltas",
    "TwoDeltasPosterior",
    "GaussianMixture",
    "GaussianMixturePosterior",
    "Hypersphere",
    "VonMisesFisherPosterior",
    "IsingPrior",
    "CurieWeissPrior",
    "EnumeratedSpinPosterior",
    "CurieWeissPosterior",
    "LatticeIsingPrior",
    "MAX_ENUMERATION_DIM",
]
