"""Registered observables: one object per quantity a scan task can compute.

An :class:`Observable` owns its description: its ``name`` (the ``observables.names`` entry and
the ``observable`` column), the state ``spaces`` where it is defined (and ``default_for``, the
spaces whose default list includes it), the extra inputs it ``needs`` from the model per state
space (tokens of ``ModelEntry.provides``: ``"points"``, the training points; ``"labels"``, their
class labels; ``"class_axis"``, the mean of a two-class mixture), and how it is computed:
``exact(posterior, inputs)`` from an exact posterior, ``samples(x, inputs)`` from samples
``(replicas, draws, N)``. Both return an :class:`~replica.stats.Estimate` or a dict of named
estimates (``q_self`` also gives ``q2`` and ``q4``); ``inputs`` is an :class:`Inputs` (the model,
the ``mc.Posterior`` with its a_t and D_t, the quenched state with its x0). The overlap histogram
is an observable whose values go to the ``histograms`` table (``table = "histograms"``); the
scan computes it with its binning.

Third-party packages add observables through the entry-point group
``diffusion_replicas.observables`` (an :class:`Observable` or a list of them); ``replica scan``
then accepts their names in ``observables.names`` exactly like the built-in ones.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mc.plugins import Registry

from ..observables import (
    class_magnetisation,
    class_magnetisation_variance,
    cloning_probability,
    denoiser_nearest_distance,
    denoiser_origin_distance,
    memorised_fraction,
    nearest_point_overlap,
    participation_ratio,
    score_divergence,
    spin_glass_susceptibility,
    susceptibility,
    weight_entropy,
)
from ..overlaps import MASS_TOL, MAX_SUPPORT, _support, overlap_moments
from ..stats import Estimate

__all__ = ["Observable", "Inputs", "register", "observables", "get", "defaults", "missing_inputs", "NEEDS",
           "ENTRY_POINT_GROUP", "Q4_MAX_POINTS"]

#: Entry-point group through which installed packages add observables.
ENTRY_POINT_GROUP = "diffusion_replicas.observables"
#: What each input token means (``Observable.needs``, ``ModelEntry.provides``).
NEEDS = {
    "points": "the training points of a data set",
    "labels": "class labels on the training points",
    "two_classes": "two classes, labelled 0 and 1, on the training points",
    "class_axis": "a class axis (the mean of a two-class mixture)",
    "patterns": "stored patterns (a Hopfield prior)",
}


@dataclass(frozen=True)
class Inputs:
    """What an observable may use besides its source: the model (``points``, ``labels``,
    ``means``), the ``mc.Posterior`` (``a``, ``D``, and ``exact`` where it has one), the quenched
    state (``x0``, ``x_t``), the state space, and whether to warn about short series."""

    model: object
    posterior: object
    state: object
    space: str
    warn: bool = False

    @property
    def rates(self):
        """``{"a_t": a_t, "D_t": D_t}`` of the posterior (for estimators from samples)."""
        return {"a_t": self.posterior.a, "D_t": self.posterior.D}


@dataclass(frozen=True)
class Observable:
    """One quantity of a scan (see the module docstring)."""

    name: str
    spaces: tuple
    doc: str
    exact: Callable | None = None
    samples: Callable | None = None
    default_for: tuple = ()
    needs: dict = field(default_factory=dict)
    table: str = "results"
    #: Whether it reads the clean x0 that made x_t (``inputs.state.x0``), which unplanted
    #: ``grid.source = "noise"`` disorder does not have.
    needs_origin: bool = False
    #: Whether its estimator from samples reads the exact posterior (``weight_entropy``: the exact
    #: log weights of the visited points). Clones of a score other than the exact one do not
    #: sample that posterior, so the scan leaves such an observable out of their rows.
    samples_read_posterior: bool = False
    #: Fewest replicas its estimator from samples needs (``sampler.n_replicas`` is checked
    #: against it when the spec is read).
    min_replicas: int = 1

    def needs_in(self, space):
        """Input tokens it needs from a model of this state space."""
        return frozenset(self.needs.get(space, ()))

    def compute(self, source, inputs):
        """Its estimates from one source, as a dict name -> Estimate."""
        func = self.samples if isinstance(source, np.ndarray) else self.exact
        if func is None:
            kind = "samples" if isinstance(source, np.ndarray) else "an exact posterior"
            raise ValueError(f"observable {self.name!r} cannot be computed from {kind}")
        out = func(source, inputs)
        return out if isinstance(out, dict) else {self.name: out}


def _entries(obj, origin):
    """The observables an entry point provides (an :class:`Observable` or a list of them)."""
    out = []
    for obs in obj if isinstance(obj, (list, tuple)) else [obj]:
        if not isinstance(obs, Observable):
            raise TypeError(f"{origin}: expected an Observable (or a list of them), got {type(obs).__name__}")
        unknown = [t for needs in obs.needs.values() for t in needs if t not in NEEDS]
        if unknown:
            raise ValueError(f"{origin}: observable {obs.name!r} needs unknown inputs {unknown}; known: "
                             f"{sorted(NEEDS)}")
        out.append(obs)
    return out


_REGISTRY = Registry(ENTRY_POINT_GROUP, "observable", _entries)


def register(obs):
    """Register a built-in :class:`Observable` (returns it)."""
    _REGISTRY.register(obs, __name__)
    return obs


def observables(reload=False):
    """All observables, name -> :class:`Observable`: built-in ones, then plug-ins (loaded once)."""
    return _REGISTRY.all(reload)


def get(name):
    """The observable of ``name``; ``KeyError`` naming the known ones otherwise."""
    return _REGISTRY.get(name)


def missing_inputs(obs, entry, provided=None):
    """Tokens that ``obs`` needs and the model ``entry`` does not provide, in its state space
    (``provided``: what it provides with given parameters, ``entry.provided(p)``; default
    ``entry.provides``)."""
    have = entry.provides if provided is None else provided
    return sorted(obs.needs_in(entry.space) - set(have))


def defaults(entry, provided=None, origin=True):
    """The default observables of a model: those whose ``default_for`` holds its state space and
    whose inputs it provides (``provided``, as in :func:`missing_inputs`), in registration order;
    without those that read the clean x0 when the disorder has none (``origin=False``)."""
    return tuple(name for name, obs in observables().items()
                 if entry.space in obs.default_for and not missing_inputs(obs, entry, provided)
                 and (origin or not obs.needs_origin))


# ------------------------------------------------------------------------- built-in observables
ALL_SPACES = ("points", "continuous", "sphere", "spins")

#: Largest data set (number of points) whose exact ``q4`` is summed pair by pair (cost up to
#: ``n^2 N`` per task); larger data sets report ``q`` and ``q2`` only (cost ``n N^2``). The limit
#: is on the data set, not on the posterior's support, so that at one (N, t) either every
#: disorder sample reports ``q4`` or none does (a support-based choice would average ``q4`` over
#: the more condensed samples only).
Q4_MAX_POINTS = MAX_SUPPORT


def _data_set_overlap_moments(post):
    """Exact moments of the replica overlap ``q_ab = x^a . x^b / N`` of a data-set posterior.

    With weights ``w_mu`` on points ``y^mu`` and independent replicas (derived from
    ``P(q) = sum_{mu, nu} w_mu w_nu delta(q - y^mu . y^nu / N)``):
    ``<q> = |m|^2 / N`` with ``m = sum_mu w_mu y^mu``; ``<q^2> = tr(M^2) / N^2`` with the second
    moment ``M = sum_mu w_mu y^mu y^mu^T``; ``<q^4> = w^T G^{o4} w`` with ``G = Y Y^T / N`` (the
    elementwise fourth power of the Gram matrix) over the points holding all but
    ``replica.overlaps.MASS_TOL`` of the weight, only for data sets of at most
    :data:`Q4_MAX_POINTS` points. No pair overlaps are sorted or merged (the exact P(q) route
    costs ``S^2 log S``), so a posterior spread over thousands of points costs ``O(S N^2)`` for
    ``<q>, <q^2>``.

    Returns ``{1: Estimate, 2: Estimate[, 4: Estimate]}``.
    """
    ex = post.exact
    points, probs = ex.enumerate()
    probs = np.asarray(probs, dtype=np.float64)
    idx = _support(probs, MASS_TOL, np.inf)
    w = probs[idx] / probs[idx].sum()
    pts = np.asarray(points[idx], dtype=np.float64)
    n_dim = pts.shape[1]
    m = w @ pts
    second = (pts * w[:, None]).T @ pts
    out = {1: float(m @ m) / n_dim, 2: float(np.sum(second * second)) / n_dim**2}
    if probs.size <= Q4_MAX_POINTS:
        # blocks of rows against the columns from the block on (G is symmetric): the diagonal
        # block once, the rest twice; blocks of about 8 MB
        q4 = 0.0
        rows = max(1, (1 << 20) // idx.size)
        for start in range(0, idx.size, rows):
            stop = min(start + rows, idx.size)
            gram = pts[start:stop] @ pts[start:].T / n_dim
            gram *= gram
            gram *= gram
            w_block = w[start:stop]
            q4 += float(w_block @ gram[:, : stop - start] @ w_block)
            q4 += 2.0 * float(w_block @ gram[:, stop - start :] @ w[stop:])
        out[4] = q4
    return {k: Estimate(v, 0.0, method="exact") for k, v in out.items()}


def _moments_rows(moments):
    out = {"q_self": moments[1], "q2": moments[2]}
    if 4 in moments:
        out["q4"] = moments[4]
    return out


def _q_self_exact(post, x):
    if x.space == "points":  # a data set: moments from the weights, no pair sort
        return _moments_rows(_data_set_overlap_moments(post))
    try:
        return _moments_rows(overlap_moments(post, (1, 2, 4), warn=x.warn))
    except ValueError:  # no exact fourth moment on this route
        return _moments_rows(overlap_moments(post, (1, 2), warn=x.warn))


def _sample_points(x):
    return {"points": x.model.points}


register(Observable(
    "q_self", ALL_SPACES, "mean replica overlap E[q_ab] = |m|^2 / N (plus q2, q4)",
    exact=_q_self_exact,
    samples=lambda s, x: _moments_rows(overlap_moments(s, (1, 2, 4), warn=x.warn)),
    default_for=ALL_SPACES,
    min_replicas=2,
))
register(Observable(
    "overlap_truth", ALL_SPACES, "overlap with the clean x0, E[x0 . x] / N",
    exact=lambda p, x: overlap_moments(p, (1,), reference=x.state.x0, warn=x.warn)[1],
    samples=lambda s, x: overlap_moments(s, (1,), reference=x.state.x0, warn=x.warn)[1],
    default_for=ALL_SPACES, needs_origin=True,
))
register(Observable(
    "pattern_overlap", ("spins",), "overlap with the stored pattern that made x_t (grid.source = 'pattern'), "
    "m = E[xi . s] / N: retrieval of a Hopfield memory",
    exact=lambda p, x: overlap_moments(p, (1,), reference=x.state.x0, warn=x.warn)[1],
    samples=lambda s, x: overlap_moments(s, (1,), reference=x.state.x0, warn=x.warn)[1],
    needs={"spins": ("patterns",)}, needs_origin=True,
))
register(Observable(
    "susceptibility", ALL_SPACES, "tr Cov[x0 | x_t] / N (response to h)",
    exact=lambda p, x: susceptibility(p, kind="trace", wrt="h", warn=x.warn),
    samples=lambda s, x: susceptibility(s, kind="trace", wrt="h", warn=x.warn),
    default_for=("continuous", "sphere", "spins"),
    min_replicas=2,
))
register(Observable(
    "spin_glass_susceptibility", ALL_SPACES,
    "connected chi_SG = sum_ij (<x_i x_j> - m_i m_j)^2 / N (diverges where replica symmetry breaks; needs 4 "
    "replicas)",
    exact=lambda p, x: spin_glass_susceptibility(p, warn=x.warn),
    samples=lambda s, x: spin_glass_susceptibility(s, warn=x.warn),
    min_replicas=4,
))
register(Observable(
    "score_divergence", ALL_SPACES, "div of the score, -N/D + (a/D)^2 tr Cov",
    exact=lambda p, x: score_divergence(p, warn=x.warn),
    samples=lambda s, x: score_divergence(s, warn=x.warn, **x.rates),
    min_replicas=2,
))
register(Observable(
    "participation_ratio", ("points",), "Y = sum_mu w_mu^2 over training points",
    exact=lambda p, x: participation_ratio(p, points=x.model.points, warn=x.warn),
    samples=lambda s, x: participation_ratio(s, points=x.model.points, warn=x.warn),
    default_for=("points",), needs={"points": ("points",)},
))
register(Observable(
    "weight_entropy", ("points",), "entropy of the posterior weights of the points",
    exact=lambda p, x: weight_entropy(p, warn=x.warn),
    # from samples the entropy needs the log weights of the visited points
    samples=lambda s, x: weight_entropy(s, points=x.model.points, log_weights=x.posterior.exact.log_weights,
                                        warn=x.warn),
    default_for=("points",), needs={"points": ("points",)}, samples_read_posterior=True,
))
register(Observable(
    "nearest_point_overlap", ("points",), "overlap of x with the nearest training point",
    exact=lambda p, x: nearest_point_overlap(p, x.model.points, warn=x.warn),
    samples=lambda s, x: nearest_point_overlap(s, x.model.points, warn=x.warn),
    needs={"points": ("points",)},
))
register(Observable(
    "overlap_histogram", ALL_SPACES, "P(q) table (exact atoms or binned samples)",
    default_for=("points", "spins"), table="histograms",
    min_replicas=2,
))
register(Observable(
    "class_magnetisation", ("continuous",), "m . mu / |mu|^2 of the two-class mixture",
    exact=lambda p, x: class_magnetisation(p, x.model.means[0], warn=x.warn),
    samples=lambda s, x: class_magnetisation(s, x.model.means[0], warn=x.warn),
    default_for=("continuous",), needs={"continuous": ("class_axis",)},
))


def _cloning_exact(post, x):
    if x.space == "points":  # sum_c (sum_{mu in c} w_mu)^2 over the labelled classes
        return cloning_probability(post, labels=x.model.labels, warn=x.warn)
    return cloning_probability(post)  # sum_c P(c | x_t)^2 over the mixture's classes


def _cloning_samples(s, x):
    if x.space == "points":
        return cloning_probability(s, labels=x.model.labels, points=x.model.points, warn=x.warn)
    return cloning_probability(s, classes=x.model, warn=x.warn)


register(Observable(
    "cloning_probability", ("continuous", "points"),
    "phi = sum_c P(c | x_t)^2: two replicas in the same class (speciation, crosses 3/4); needs class labels on a "
    "data set",
    exact=_cloning_exact, samples=_cloning_samples,
    default_for=("points",), needs={"points": ("points", "labels"), "continuous": ("class_axis",)},
))


def _class_variance(source, x):
    if x.space == "points":  # label spin of a labelled data set, 1 - E[c]^2
        extra = {"points": x.model.points} if isinstance(source, np.ndarray) else {}
        return class_magnetisation_variance(source, labels=x.model.labels, warn=x.warn, **extra)
    return class_magnetisation_variance(source, x.model.means[0], warn=x.warn)


register(Observable(
    "class_magnetisation_variance", ("continuous", "points"),
    "posterior variance of the class: of m . mu / |mu|^2 (mixture), of the label spin c = +-1, 1 - E[c]^2 "
    "(labelled data set)",
    exact=_class_variance, samples=_class_variance,
    default_for=("continuous", "points"), needs={"points": ("points", "two_classes"), "continuous": ("class_axis",)},
))
register(Observable(
    "susceptibility_class", ("continuous",),
    "(a_t / D_t) mu^T Cov mu / |mu|^2: response of m . mu / |mu| to x_t along the class axis (peaks near speciation)",
    exact=lambda p, x: susceptibility(p, kind="direction", direction=x.model.means[0], wrt="x_t", warn=x.warn),
    samples=lambda s, x: susceptibility(s, kind="direction", direction=x.model.means[0], wrt="x_t", warn=x.warn,
                                        **x.rates),
    default_for=("continuous",), needs={"continuous": ("class_axis",)},
))
register(Observable(
    "memorised_fraction", ("points",),
    "fraction of x closer to its nearest training point than 1/3 of the distance to the second-nearest "
    "(d1 < d2 / 3); exact: 1 - posterior mass on duplicated points",
    exact=lambda p, x: memorised_fraction(p, x.model.points, warn=x.warn),
    samples=lambda s, x: memorised_fraction(s, x.model.points, warn=x.warn),
    needs={"points": ("points",)},
))
register(Observable(
    "denoiser_nearest_distance", ("points",),
    "min_mu |m - y^mu| / sqrt(N): distance of the optimal denoiser m = E[x0 | x_t] to the nearest training point",
    exact=lambda p, x: denoiser_nearest_distance(p, x.model.points, warn=x.warn),
    samples=lambda s, x: denoiser_nearest_distance(s, x.model.points, warn=x.warn),
    needs={"points": ("points",)},
))
register(Observable(
    "denoiser_origin_distance", ("points",),
    "|m - x0| / sqrt(N): distance of the optimal denoiser m = E[x0 | x_t] to the clean x0 (generalisation error "
    "for a held-out x0)",
    exact=lambda p, x: denoiser_origin_distance(p, x.state.x0, warn=x.warn),
    samples=lambda s, x: denoiser_origin_distance(s, x.state.x0, warn=x.warn),
    needs={"points": ("points",)}, needs_origin=True,
))
