"""Replica analysis of diffusion posteriors: from samples (exact or Monte Carlo) to physics.

The estimator layer (overlaps, P(q), Binder cumulants, participation ratios, Franz-Parisi
potentials, transition detection) and the drivers (scan runner, command line) live here; the
sampling layer is the ``mc`` package.

Estimators take an exact posterior (``mc.Posterior``), a weight vector, or samples of shape
``(replicas, draws, N)`` through the same argument and return a :class:`~replica.stats.Estimate`
(value ± standard error), so exact and sampled values can be compared directly. Modules:
``stats`` (errors), ``samples`` (the replica layout), ``states`` (which state a configuration is
in), ``overlaps`` (q, P(q), q_EA, Binder), ``observables`` (weights, classes, responses) and
``table`` (result rows and files; imported on demand, it needs pandas).

Names are imported on first use (PEP 562), so that ``import replica.cli`` stays light and the
``replica scan`` command can set its per-rank thread and cache defaults before numpy and numba
load:

>>> import numpy as np, mc, replica
>>> model = mc.Dataset.gaussian(20, 5, seed=0)
>>> post = mc.Posterior(model, mc.VP(), model.points[3], t=0.3)
>>> exact = replica.participation_ratio(post)
>>> sampled = replica.participation_ratio(replica.exact_samples(post, 4, 200, 1), points=model.points)
>>> bool(abs(exact.value - sampled.value) < 5 * sampled.stderr)
True
"""
import importlib

_EXPORTS = {
    "__version__": "mc",
    "FranzParisi": ".potentials.franz_parisi",
    "FranzParisiSamples": ".potentials.franz_parisi",
    "SecondaryMinimum": ".potentials.franz_parisi",
    "franz_parisi": ".potentials.franz_parisi",
    "franz_parisi_quenched": ".potentials.franz_parisi",
    "franz_parisi_samples": ".potentials.franz_parisi",
    "Spinodal": ".potentials.yu_huang",
    "yu_huang_disappearance_time": ".potentials.yu_huang",
    "yu_huang_extrema": ".potentials.yu_huang",
    "yu_huang_potential": ".potentials.yu_huang",
    "yu_huang_potential_derivatives": ".potentials.yu_huang",
    "yu_huang_potential_nd": ".potentials.yu_huang",
    "class_magnetisation": ".observables",
    "class_magnetisation_variance": ".observables",
    "cloning_probability": ".observables",
    "nearest_point_overlap": ".observables",
    "memorised_fraction": ".observables",
    "denoiser_nearest_distance": ".observables",
    "denoiser_origin_distance": ".observables",
    "participation_ratio": ".observables",
    "score_divergence": ".observables",
    "susceptibility": ".observables",
    "weight_entropy": ".observables",
    "OverlapDistribution": ".overlaps",
    "average_distribution": ".overlaps",
    "binder_cumulant": ".overlaps",
    "overlap": ".overlaps",
    "overlap_distribution": ".overlaps",
    "overlap_moments": ".overlaps",
    "q_ea": ".overlaps",
    "reference_overlaps": ".overlaps",
    "replica_overlaps": ".overlaps",
    "exact_samples": ".samples",
    "class_labels": ".states",
    "class_responsibilities": ".states",
    "nearest_point": ".states",
    "Estimate": ".stats",
    "blocking": ".stats",
    "bootstrap": ".stats",
    "correlated_mean": ".stats",
    "disorder_average": ".stats",
    "jackknife": ".stats",
    "tau_int": ".stats",
}

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
    "memorised_fraction",
    "denoiser_nearest_distance",
    "denoiser_origin_distance",
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


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        try:  # a submodule, e.g. replica.stats
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__) if module.startswith(".") else importlib.import_module(module),
                    name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
