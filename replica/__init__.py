"""Replica analysis of diffusion posteriors: from samples (exact or Monte Carlo) to physics.

The estimator layer (overlaps, P(q), Binder cumulants, participation ratios, Franz-Parisi
potentials, transition detection) and the drivers (scan runner, command line) live here; the
sampling layer is the ``mc`` package.

Estimators take an exact posterior (``mc.Posterior``), a weight vector, or samples of shape
``(replicas, draws, N)`` through the same argument and return a :class:`~replica.stats.Estimate`
(value ± standard error), so exact and sampled values can be compared directly. Modules:
``stats`` (errors), ``samples`` (the replica layout), ``states`` (which state a configuration is
in), ``overlaps`` (q, P(q), q_EA, Binder), ``observables`` (weights, classes, responses) and
``table`` (result rows and files; imported on demand, it needs pandas):

>>> import numpy as np, mc, replica
>>> model = mc.Dataset.gaussian(20, 5, seed=0)
>>> post = mc.Posterior(model, mc.VP(), model.points[3], t=0.3)
>>> exact = replica.participation_ratio(post)
>>> sampled = replica.participation_ratio(replica.exact_samples(post, 4, 200, 1), points=model.points)
>>> bool(abs(exact.value - sampled.value) < 5 * sampled.stderr)
True
"""
from mc import __version__

from . import stats
from .franz_parisi import (
    FranzParisi,
    FranzParisiSamples,
    SecondaryMinimum,
    franz_parisi,
    franz_parisi_quenched,
    franz_parisi_samples,
)
from .franz_parisi_1d import (
    Spinodal,
    yu_huang_disappearance_time,
    yu_huang_extrema,
    yu_huang_potential,
    yu_huang_potential_derivatives,
    yu_huang_potential_nd,
)
from .observables import (
    class_magnetisation,
    class_magnetisation_variance,
    cloning_probability,
    nearest_point_overlap,
    participation_ratio,
    score_divergence,
    susceptibility,
    weight_entropy,
)
from .overlaps import (
    OverlapDistribution,
    average_distribution,
    binder_cumulant,
    overlap,
    overlap_distribution,
    overlap_moments,
    q_ea,
    reference_overlaps,
    replica_overlaps,
)
from .samples import exact_samples
from .states import class_labels, class_responsibilities, nearest_point
from .stats import Estimate, blocking, bootstrap, correlated_mean, disorder_average, jackknife, tau_int

__all__ = [
    "__version__",
    "stats",
    "Estimate",
    "tau_int",
    "correlated_mean",
    "blocking",
    "jackknife",
    "bootstrap",
    "disorder_average",
    "exact_samples",
    "overlap",
    "replica_overlaps",
    "reference_overlaps",
    "OverlapDistribution",
    "overlap_distribution",
    "average_distribution",
    "overlap_moments",
    "q_ea",
    "binder_cumulant",
    "nearest_point",
    "class_responsibilities",
    "class_labels",
    "participation_ratio",
    "weight_entropy",
    "cloning_probability",
    "nearest_point_overlap",
    "class_magnetisation",
    "class_magnetisation_variance",
    "susceptibility",
    "score_divergence",
    "franz_parisi",
    "franz_parisi_samples",
    "franz_parisi_quenched",
    "FranzParisi",
    "FranzParisiSamples",
    "SecondaryMinimum",
    "yu_huang_potential",
    "yu_huang_potential_derivatives",
    "yu_huang_extrema",
    "yu_huang_disappearance_time",
    "yu_huang_potential_nd",
    "Spinodal",
]
