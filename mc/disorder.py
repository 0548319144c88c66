"""Quenched disorder: reproducible draws of the noisy state x_t.

A disorder sample is the pair (x0, z) of a clean state and a standard normal noise vector; the
quenched state at any time is ``x_t = a_t x0 + sqrt(D_t) z``. Both are drawn from streams keyed
by ``(root_seed, *key, disorder)`` through ``numpy.random.SeedSequence`` (``design.md``:
seeding), so that

* the same seed and key give the same x_t on any machine and any number of MPI ranks;
* the same disorder index gives the same (x0, z) at every t: curves against t are coupled
  (common random numbers), which removes the disorder noise from their shape.

Planted vs unplanted (``physics.md``): x_t is *planted* when x0 is drawn from the prior p0
itself (then the Nishimori identity holds); it is *unplanted* when x0 comes from another law,
e.g. the population a data set was drawn from, or a fixed chosen training point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_positive_int, as_scalar
from .models.base import DataModel
from .processes import ForwardProcess, check_time

__all__ = ["QuenchedState", "draw_quenched", "seed_sequence"]

#: Stream tags appended to the key: one stream for x0, one for the noise z.
_STREAM_X0, _STREAM_NOISE = 0, 1


def seed_sequence(root_seed, *key):
    """``SeedSequence(entropy=root_seed, spawn_key=key)`` after checking the integers.

    ``key`` is a tuple of non-negative integers identifying a task, e.g.
    ``(scan, model, n_dim, t_index, disorder, replica)`` (``design.md``).
    """
    root = as_positive_int(root_seed, "seed", minimum=0)
    parts = tuple(as_positive_int(k, "key", minimum=0) for k in key)
    return np.random.SeedSequence(entropy=root, spawn_key=parts)


@dataclass(frozen=True)
class QuenchedState:
    """A quenched noisy state and how it was made.

    ``x_t`` has shape (N,) for a scalar ``t`` and (T, N) for T times (same x0 and noise).
    """

    x_t: np.ndarray
    x0: np.ndarray
    noise: np.ndarray
    t: float | np.ndarray
    disorder: int
    planted: bool
    source: str
    point_index: int | None = None


def draw_quenched(model, process, t, *, seed, disorder=0, key=(), source="prior", point=None, noise_variance=1.0,
                  x0=None):
    """Draw the quenched noisy state of one disorder sample.

    Parameters
    ----------
    model : DataModel
        The prior of the posterior that will be studied.
    process : ForwardProcess
    t : float or array of floats
        Time(s) > 0. For several times the same (x0, z) is used.
    seed : int
        Root seed of the scan.
    disorder : int
        Disorder index (>= 0).
    key : tuple of int
        Further task identifiers placed before the disorder index (e.g. scan, model, N).
    source : {"prior", "point", "population", "heldout", "pattern", "noise"} or DataModel
        ``"prior"``: x0 ~ p0 (planted). ``"point"``: x0 is a training point of a Dataset:
        drawn from the prior weights when ``point`` is None (planted, and the index is
        recorded), or the given index (unplanted: the disorder is conditioned on that point).
        ``"population"``: x0 from ``model.population``, the law a generated Dataset came from
        (unplanted). ``"heldout"``: x0 a uniformly drawn point of ``model.heldout`` (a Dataset of
        held-out points, e.g. a data file's test set; unplanted: generalisation), its index
        recorded in ``point_index``. ``"pattern"``: x0 a uniformly drawn stored pattern of a
        Hopfield prior (``model.patterns``), its index in ``point_index``; not a draw of p0, so
        not planted (the generative process regenerating a stored pattern). A DataModel: x0
        from that law (unplanted). ``"noise"``:
        no x0 at all, ``x_t = sqrt(noise_variance) z`` with the same ``z ~ N(0, I)`` at every t
        (unplanted disorder independent of the prior, e.g. a random field ``h = a_t x_t / D_t``
        of variance ``a_t^2 v / D_t^2`` on a spin prior); ``x0`` is then all NaN.
    point : int, optional
        Training-point index for ``source="point"``.
    noise_variance : float > 0
        Variance ``v`` of ``x_t`` for ``source="noise"``.
    x0 : array (N,), optional
        With ``source="prior"``: the planted x0 itself, drawn from the prior elsewhere (by Monte
        Carlo where the prior cannot be drawn exactly); the noise comes from the usual stream.
    """
    if not isinstance(model, DataModel):
        raise ValueError(f"model: expected a data model, got {type(model).__name__}")
    if not isinstance(process, ForwardProcess):
        raise ValueError(f"process: expected a forward process, got {process!r}")
    times = check_time(t)
    disorder = as_positive_int(disorder, "disorder", minimum=0)
    key = tuple(key)
    rng_x0 = np.random.default_rng(seed_sequence(seed, *key, disorder, _STREAM_X0))
    rng_z = np.random.default_rng(seed_sequence(seed, *key, disorder, _STREAM_NOISE))

    point_index = None
    given = None
    if x0 is not None:
        if not (isinstance(source, str) and source == "prior"):
            raise ValueError("x0: only used with source='prior' (a planted x0 drawn elsewhere)")
        given = np.array(x0, dtype=np.float64)
        if given.shape != (model.n_dim,) or not np.isfinite(given).all():
            raise ValueError(f"x0: expected a finite vector of shape ({model.n_dim},), got shape {given.shape}")
    if isinstance(source, str) and source == "noise":
        v = as_scalar(noise_variance, "noise_variance", positive=True)
        if point is not None:
            raise ValueError("point: only used with source='point'")
        z = rng_z.standard_normal(model.n_dim)
        x_t = np.sqrt(v) * np.broadcast_to(z, np.shape(times) + (model.n_dim,))
        return QuenchedState(
            x_t=np.array(x_t), x0=np.full(model.n_dim, np.nan), noise=z,
            t=float(times) if times.ndim == 0 else times, disorder=disorder, planted=False, source="noise",
        )
    if isinstance(source, DataModel):
        law, planted, label = source, False, source.name
    elif given is not None:
        law, planted, label = None, True, "prior"
    elif source == "prior" and hasattr(model, "sample_indices"):
        # A draw from a data set's prior is a training point: record which one.
        law, planted, label = None, True, "prior"
        point_index = int(model.sample_indices(1, rng_x0)[0])
    elif source == "prior":
        law, planted, label = model, True, "prior"
    elif source == "population":
        law = getattr(model, "population", None)
        if law is None:
            raise ValueError(
                f"source: 'population' needs a model that knows the law it was drawn from; "
                f"{type(model).__name__} does not (pass that law as a DataModel instead)"
            )
        planted, label = False, "population"
    elif source == "heldout":
        held = getattr(model, "heldout", None)
        if held is None:
            raise ValueError(f"source: 'heldout' needs a data set with held-out points (model.heldout), "
                             f"{type(model).__name__} has none")
        if held.n_dim != model.n_dim:
            raise ValueError(f"source: held-out points of dimension {held.n_dim} for a model of dimension "
                             f"{model.n_dim}")
        law, planted, label = None, False, "heldout"
        point_index = int(held.sample_indices(1, rng_x0)[0])
    elif source == "pattern":
        patterns = getattr(model, "patterns", None)
        if patterns is None:
            raise ValueError(f"source: 'pattern' needs a model with stored patterns (a Hopfield prior), got "
                             f"{type(model).__name__}")
        law, planted, label = None, False, "pattern"
        point_index = int(rng_x0.integers(patterns.shape[0]))
    elif source == "point":
        if not hasattr(model, "sample_indices"):
            raise ValueError(f"source: 'point' needs a Dataset model, got {type(model).__name__}")
        law, label = None, "point"
        if point is None:
            point_index = int(model.sample_indices(1, rng_x0)[0])
            planted = True
        else:
            point_index = as_positive_int(point, "point", minimum=0)
            if point_index >= model.n_points:
                raise ValueError(f"point: index {point_index} out of range for {model.n_points} points")
            planted = False
    else:
        raise ValueError(
            f"source: expected 'prior', 'point', 'population', 'heldout', 'pattern', 'noise' or a DataModel, got "
            f"{source!r}"
        )
    if point is not None and source != "point":
        raise ValueError("point: only used with source='point'")

    if given is not None:
        x0 = given
    elif law is None:
        points = {"heldout": lambda: model.heldout.points, "pattern": lambda: model.patterns}.get(
            label, lambda: model.points)()
        x0 = np.array(points[point_index], dtype=np.float64)
    else:
        if law.n_dim != model.n_dim:
            raise ValueError(f"source: law of dimension {law.n_dim} for a model of dimension {model.n_dim}")
        x0 = np.asarray(law.sample(1, rng_x0)[0], dtype=np.float64)
    z = rng_z.standard_normal(model.n_dim)
    a = np.asarray(process.a(times))[..., None]
    D = np.asarray(process.D(times))[..., None]
    x_t = a * x0 + np.sqrt(D) * z
    t_out = float(times) if times.ndim == 0 else times
    return QuenchedState(
        x_t=x_t if times.ndim else x_t.reshape(model.n_dim),
        x0=x0,
        noise=z,
        t=t_out,
        disorder=disorder,
        planted=planted,
        source=label,
        point_index=point_index,
    )
