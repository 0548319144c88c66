"""A user's own data set, read from a file: the empirical prior of their training points.

``name = "dataset_file"`` in a spec's ``[model]``::

    [model]
    name = "dataset_file"
    path = "data/train.npy"        # .npy / .npz / .csv of numbers, one point per row
    labels = "data/labels.npy"     # optional: class labels, one per point
    heldout = "data/test.npy"      # optional: held-out points (grid.source = "heldout")
    scale = [-1.0, 1.0]            # optional: min-max map of all entries onto [lo, hi]
    centre = true                  # optional: subtract the mean point (after scaling)
    n_points = [100, 300, 1000]    # optional: random subsets of these sizes

Paths are relative to the spec file (:mod:`mc.data_files` reads them as data, never code). The
dimension N is the data's; ``n_points`` is the training-set size axis: each value makes its own
tasks, and every disorder sample draws its own subset, the first n of a random permutation of
the rows (so at one disorder sample the subsets are nested: the set of size 100 lies inside the
set of size 300). The held-out points go through the same preprocessing as the training
points, with the training points' statistics. Rows that repeat a point are one point of the
empirical prior ``(1/n) sum_mu delta(x0 - y^mu)`` with their multiplicity as weight, so that
"two replicas on the same point" means the same position (duplicates with different labels
are refused).

Beside the parameters, its models write the columns ``n_points``, ``n_points_file``,
``data_sha256``, ``scale_lo``, ``scale_hi`` and ``centred``, and carry the whole preprocessed
file as ``model.data_file`` (a :class:`DataFileSet`), from which a scan adds the data-derived
theory columns (``replica.scan.compute``: ``cov_top_eigenvalue``, ``collapse_s_information``,
``collapse_s_entropy``), the same for every disorder sample.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Annotated, ClassVar

import numpy as np
from pydantic import BeforeValidator, Field, field_validator

from .. import data_files
from . import registry as _reg
from .dataset import Dataset, first_copies

__all__ = ["load_data", "DataFileSet", "DataFileEntry"]


class DataFileSet:
    """A data file read, checked and preprocessed once per process (:func:`load_data`).

    Attributes: ``points`` (n, N) read-only float64, ``labels`` (n,) int64 or None, ``heldout``
    (m, N) or None (preprocessed with the training points' statistics), ``record`` (the
    preprocessing, :func:`mc.data_files.preprocess`), ``sha256`` of each file by spec key.
    """

    def __init__(self, points, labels, heldout, record, sha256):
        self.points, self.labels, self.heldout, self.record, self.sha256 = points, labels, heldout, record, sha256
        #: Per-process cache of values derived from the data (e.g. theory columns by n).
        self.derived = {}

    @property
    def n_points(self):
        return self.points.shape[0]

    @property
    def n_dim(self):
        return self.points.shape[1]

    @functools.cached_property
    def covariance_eigenvalues(self):
        """Eigenvalues ``lambda_k`` of the points' covariance (``ddof = 0``), ascending, clipped
        at 0 (the round-off of constant pixels)."""
        x = self.points - self.points.mean(axis=0)
        n, dim = x.shape
        gram = x @ x.T / n if n < dim else x.T @ x / n  # the same non-zero spectrum
        return np.clip(np.linalg.eigvalsh(gram), 0.0, None)

    @functools.cached_property
    def first_copy(self):
        """For every row, the index of the first row equal to it (itself when it is unique):
        duplicated points are one point of the empirical prior, with their multiplicity as
        weight."""
        return first_copies(self.points)

    @property
    def n_duplicates(self):
        """Rows that repeat an earlier row."""
        return int(np.count_nonzero(self.first_copy != np.arange(self.n_points)))

    def reference_subset(self, n_points, seed=0):
        """The first ``n_points`` rows of a fixed permutation (``default_rng(seed)``), in file order."""
        rng = np.random.default_rng(seed)
        return self.points[np.sort(rng.permutation(self.n_points)[:n_points])]


def _read_only(a):
    if a is not None:
        a.flags.writeable = False
    return a


#: Data sets kept per process (a scan's tasks share one), most recent last.
_LOADED = {}
_KEEP = 4


def load_data(path, npz_key=None, labels=None, heldout=None, scale=None, centre=False, max_bytes=None):
    """Read, check and preprocess a data file and its companions (absolute paths), once per
    process (the last :data:`_KEEP` are kept); raises :class:`mc.data_files.DataFileError`
    naming the spec key. ``scale`` is a ``(lo, hi)`` tuple or None; ``max_bytes`` caps the size
    of the float64 points (checked before reading). A file whose SHA-256 changes while it is
    read is refused."""
    args = (path, npz_key, labels, heldout, scale, centre)
    key = (*args, tuple(_stat(f) for f in (path, labels, heldout)))  # a file changed in place is read again
    data = _LOADED.pop(key, None)
    if data is None:
        data = _read(*args, max_bytes)
    _LOADED[key] = data
    while len(_LOADED) > _KEEP:
        _LOADED.pop(next(iter(_LOADED)))
    if max_bytes is not None and data.points.nbytes > max_bytes:
        raise data_files.DataFileError(
            f"model.path: {data.points.shape[0]} x {data.points.shape[1]} points need "
            f"{data.points.nbytes / 2**20:.3g} MiB as float64, above the memory cap model.max_gib = "
            f"{max_bytes / 2**30:g} GiB")
    return data


def _stat(path):
    """What identifies a file's current version for the cache: (inode, size, mtime in ns)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256(path, key):
    """The file's SHA-256, or a :class:`mc.data_files.DataFileError` naming ``key``."""
    try:
        return data_files.file_sha256(path)
    except FileNotFoundError:
        raise data_files.DataFileError(f"{key}: no such file {path!r}") from None
    except IsADirectoryError:
        raise data_files.DataFileError(f"{key}: {path!r} is a directory, not a data file") from None
    except OSError as exc:
        raise data_files.DataFileError(f"{key}: cannot read {path!r}: {exc.strerror or exc}") from None


def _read(path, npz_key, labels, heldout, scale, centre, max_bytes):
    sha = {"model.path": _sha256(path, "model.path")}
    raw = data_files.read_array(path, "model.path", npz_key=npz_key, max_bytes=max_bytes)
    if _sha256(path, "model.path") != sha["model.path"]:
        raise data_files.DataFileError(f"model.path: {path!r} changed while it was read")
    if raw.shape[0] < 2:
        raise data_files.DataFileError(f"model.path: needs at least 2 points (rows), got shape {raw.shape}")
    points, record = data_files.preprocess(raw, scale=scale, centre=centre)
    lab = None
    if labels is not None:
        sha["model.labels"] = _sha256(labels, "model.labels")
        lab = data_files.read_array(labels, "model.labels", ndim=1, integer=True)
        if lab.shape[0] != points.shape[0]:
            raise data_files.DataFileError(f"model.labels: {lab.shape[0]} labels for the {points.shape[0]} points of "
                                           f"model.path; expected one label per point")
    held = None
    if heldout is not None:
        sha["model.heldout"] = _sha256(heldout, "model.heldout")
        held = data_files.read_array(heldout, "model.heldout", npz_key=npz_key, max_bytes=max_bytes)
        if held.shape[1] != points.shape[1]:
            raise data_files.DataFileError(f"model.heldout: held-out points of dimension {held.shape[1]}, but the "
                                           f"points of model.path have dimension {points.shape[1]}")
        held, _ = data_files.preprocess(held, scale=scale, centre=centre, reference=record)
    return DataFileSet(_read_only(np.ascontiguousarray(points)), _read_only(lab),
                       _read_only(None if held is None else np.ascontiguousarray(held)), record, sha)


def _one_or_list(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value


def _scale(value):
    if value is not None and not value[0] < value[1]:
        raise ValueError(f"expected [lo, hi] with lo < hi, got {value}")
    return value


def _sizes(value):
    if value is not None:
        if len(set(value)) != len(value):
            raise ValueError(f"repeated values {sorted({v for v in value if value.count(v) > 1})}")
        value = sorted(value)
    return value


class DataFileEntry(_reg.ModelEntry):
    name = "dataset_file"
    space = "points"
    doc = ("a user's training points read from a .npy/.npz/.csv file (empirical prior), with optional labels, "
           "held-out points, preprocessing and random subsets of n_points")
    random = True
    provides = frozenset({"points"})
    files = ("path", "labels", "heldout")
    axis = "n_points"
    columns: ClassVar[dict] = {
        "n_points": _reg.PARAMETER_COLUMNS["n_points"],
        "n_points_file": "number of points (rows) in a data file, before subsets",
        "data_sha256": "SHA-256 of the data file",
        "scale_lo": "lower end of the min-max scaling of a data file's entries (nan: not scaled)",
        "scale_hi": "upper end of the min-max scaling of a data file's entries (nan: not scaled)",
        "centred": "whether the mean point of a data file was subtracted",
    }

    class Parameters(_reg.Parameters):
        path: Annotated[str, Field(min_length=1)]
        npz_key: str | None = None
        labels: Annotated[str, Field(min_length=1)] | None = None
        heldout: Annotated[str, Field(min_length=1)] | None = None
        scale: Annotated[list[_reg.Float], Field(min_length=2, max_length=2)] | None = None
        centre: bool = False
        n_points: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None,
                            BeforeValidator(_one_or_list)] = None

        @field_validator("scale")
        @classmethod
        def _check_scale(cls, value):
            return _scale(value)

        @field_validator("n_points")
        @classmethod
        def _check_sizes(cls, value):
            return _sizes(value)

    def provided(self, p):
        """Points always; ``"labels"`` and ``"heldout"`` when their files are given, and
        ``"two_classes"`` when the labels are 0 and 1 only."""
        out = self.provides | {k for k in ("labels", "heldout") if getattr(p, k) is not None}
        if p.labels is not None and set(np.unique(self._data(p).labels).tolist()) <= {0, 1}:
            out |= {"two_classes"}
        return out

    def _data(self, p, max_bytes=None):
        return load_data(p.path, p.npz_key, p.labels, p.heldout, None if p.scale is None else tuple(p.scale),
                         p.centre, max_bytes)

    def _load(self, p, max_gib):
        try:
            return self._data(p, max_gib * 2.0**30)
        except data_files.DataFileError as exc:
            raise _reg.ModelSpecError(str(exc)) from None

    def data_dimension(self, p):
        return self._data(p).n_dim

    def describe_files(self, p, max_gib):
        data = self._load(p, max_gib)
        if p.n_points is not None and p.n_points[-1] > data.n_points:
            raise _reg.ModelSpecError(f"model.n_points: {p.n_points[-1]} is more than the {data.n_points} points of "
                                      f"model.path")
        if data.labels is not None and data.n_duplicates:
            clash = np.flatnonzero(data.labels != data.labels[data.first_copy])
            if clash.size:
                i = int(clash[0])
                j = int(data.first_copy[i])
                raise _reg.ModelSpecError(f"model.labels: rows {j} and {i} of model.path are the same point with "
                                          f"different labels ({data.labels[j]} and {data.labels[i]})")
        out = {"model.path": {"sha256": data.sha256["model.path"], "shape": list(data.points.shape),
                              "duplicated_rows": data.n_duplicates},
               "preprocessing": {"scale": p.scale, "centre": p.centre}}
        if data.labels is not None:
            out["model.labels"] = {"sha256": data.sha256["model.labels"], "shape": list(data.labels.shape),
                                   "classes": int(np.unique(data.labels).size)}
        if data.heldout is not None:
            out["model.heldout"] = {"sha256": data.sha256["model.heldout"], "shape": list(data.heldout.shape)}
        return out

    def build(self, p, n_dim, *, seed, max_bytes):
        data = self._data(p, max_bytes)
        if n_dim != data.n_dim:
            raise ValueError(f"n_dim: the data of model.path have dimension {data.n_dim}, got {n_dim}")
        if p.n_points is None:
            idx = np.arange(data.n_points)
        else:
            if len(p.n_points) != 1:
                raise ValueError(f"n_points: one training-set size per model, got {p.n_points}")
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.permutation(data.n_points)[: p.n_points[0]])
        weights = None
        if data.n_duplicates:  # one point per distinct row, weighted by its multiplicity
            _, pos, counts = np.unique(data.first_copy[idx], return_index=True, return_counts=True)
            order = np.argsort(pos)
            weights = counts[order] / idx.size
            rows = idx[pos[order]]
        else:
            rows = idx
        labels = None if data.labels is None else data.labels[rows]
        ds = Dataset(data.points[rows], weights=weights, labels=labels)
        ds.heldout = None if data.heldout is None else Dataset(data.heldout)
        scale = p.scale or (math.nan, math.nan)
        ds._params = {"n_points": int(idx.size), "n_points_file": data.n_points, "data_sha256": data.sha256["model.path"],
                      "scale_lo": float(scale[0]), "scale_hi": float(scale[1]), "centred": bool(p.centre)}
        ds.data_file = data
        return ds

    def n_points(self, p, n_dim):
        if p.n_points is not None:
            return float(max(p.n_points))
        return float(self._data(p).n_points)

    def memory(self, p, n_dim):
        data = self._data(p)
        held = 0 if data.heldout is None else data.heldout.shape[0]
        sizes = 8.0 * n_dim * (data.n_points + held)  # the file's points, held once per process
        subset = 8.0 * n_dim * self.n_points(p, n_dim)
        return [("model.path", f"the file's {data.n_points + held} points and a subset", sizes + subset)]


_reg.register(DataFileEntry)

