"""The tidy result table: rows from estimates, one file per task written atomically, readers.

Result table (``design.md``): one row per (task, observable, estimator) with the columns
:data:`RESULT_COLUMNS` (``scan, model, process, n_dim, t, disorder, observable, value, stderr,
n_samples, tau_int, method, seed, version, planted, source``) followed by the model's parameters
(``model.params()``) and the process's parameters (prefixed ``process_``) as their own columns.
``planted`` and ``source`` record how the quenched disorder was drawn (``mc.QuenchedState``).

Overlap histograms are a table of their own (:data:`HISTOGRAM_COLUMNS`) with one row per bin
(or atom) and a ``q`` column; Franz-Parisi potentials another (:data:`POTENTIAL_COLUMNS`), one row
per grid point with ``q``, ``V`` and ``stderr``.

Files: ``<directory>/<task>.results.parquet``, ``<task>.histograms.parquet`` and
``<task>.potentials.parquet`` (``.csv`` when pyarrow is not installed). A file is written under a temporary name in the same directory,
flushed and fsynced, then renamed over the target (``os.replace``), so a reader or a resumed scan
sees either no file or a complete one. This is the only module of the estimator layer that
touches files.
"""
from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mc import __version__
from mc._fileio import write_atomic as _write_atomic
from mc._validation import as_positive_int, as_scalar
from mc.models.base import DataModel
from mc.processes import ForwardProcess

from .overlaps import OverlapDistribution
from .stats import Estimate

__all__ = [
    "RESULT_COLUMNS",
    "HISTOGRAM_COLUMNS",
    "TaskInfo",
    "parameter_columns",
    "result_rows",
    "result_frame",
    "histogram_frame",
    "POTENTIAL_COLUMNS",
    "potential_frame",
    "read_potentials",
    "task_path",
    "write_table",
    "write_atomic",
    "temporary_files",
    "write_task",
    "task_done",
    "read_results",
    "read_histograms",
    "parquet_available",
]

#: Columns every result row has, in this order (parameters follow).
RESULT_COLUMNS = (
    "scan", "model", "process", "n_dim", "t", "disorder", "observable", "value", "stderr", "n_samples",
    "tau_int", "method", "seed", "version", "planted", "source",
)
_TASK_COLUMNS = ("scan", "model", "process", "n_dim", "t", "disorder", "seed", "version", "planted", "source")
#: Columns of the overlap-histogram table, in this order (parameters follow).
HISTOGRAM_COLUMNS = _TASK_COLUMNS + (
    "observable", "kind", "normalised", "q", "q_lo", "q_hi", "prob", "stderr", "n_samples", "tau_int", "method",
)
#: Columns of the Franz-Parisi potential table, in this order (parameters follow).
POTENTIAL_COLUMNS = _TASK_COLUMNS + ("observable", "order_parameter", "q", "V", "stderr", "n_references", "method")
_TABLES = ("results", "histograms", "potentials")
_TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def parquet_available():
    """Whether pyarrow is installed (parquet files); otherwise tables are written as CSV."""
    return importlib.util.find_spec("pyarrow") is not None


def parameter_columns(model, process):
    """Model parameters (``model.params()`` without ``n_dim``, which has its own column) and the
    process's dataclass fields as ``process_<name>``: the parameter columns of a result row."""
    params = {k: v for k, v in model.params().items() if k != "n_dim"}
    if dataclasses.is_dataclass(process):
        for f in dataclasses.fields(process):
            params[f"process_{f.name}"] = getattr(process, f.name)
    return params


@dataclass(frozen=True)
class TaskInfo:
    """What identifies one task: the columns shared by all its rows.

    Attributes
    ----------
    scan : str
        Scan name or id.
    model, process : str
        Short names (``model.name``, ``process.name``).
    n_dim : int
    t : float
        Forward-process time.
    disorder : int
        Disorder index.
    seed : int
        Root seed of the scan.
    planted : bool
        Whether x0 was drawn from the prior (Nishimori identity holds).
    source : str
        Where x0 came from (``QuenchedState.source``: ``"prior"``, ``"point"``, ``"population"``,
        or the name of another law).
    params : dict
        Model and process parameters, one column each (scalars only).
    version : str
        Package version that produced the numbers.
    """

    scan: str
    model: str
    process: str
    n_dim: int
    t: float
    disorder: int
    seed: int
    planted: bool
    source: str
    params: dict = field(default_factory=dict)
    version: str = __version__

    def __post_init__(self):
        object.__setattr__(self, "scan", str(self.scan))
        object.__setattr__(self, "n_dim", as_positive_int(self.n_dim, "n_dim"))
        object.__setattr__(self, "t", as_scalar(self.t, "t", positive=True))
        object.__setattr__(self, "disorder", as_positive_int(self.disorder, "disorder", minimum=0))
        object.__setattr__(self, "seed", as_positive_int(self.seed, "seed", minimum=0))
        if not isinstance(self.planted, (bool, np.bool_)):
            raise ValueError(f"planted: expected a bool, got {self.planted!r}")
        object.__setattr__(self, "planted", bool(self.planted))
        params = dict(self.params)
        for key, value in params.items():
            if key in RESULT_COLUMNS or key in HISTOGRAM_COLUMNS:
                raise ValueError(f"params: key {key!r} collides with a column of the result table")
            if not isinstance(value, (bool, int, float, str, np.integer, np.floating, np.bool_)):
                raise ValueError(f"params: {key!r} must be a scalar, got {type(value).__name__}")
        object.__setattr__(self, "params", params)

    @classmethod
    def from_state(cls, model, process, state, *, scan, seed, t=None):
        """Task info from the objects of a run: the model, the process and the ``QuenchedState``.

        ``t`` is required when the state holds several times. Model parameters come from
        ``model.params()`` (without ``n_dim``), process parameters from its dataclass fields as
        ``process_<name>``.
        """
        if not isinstance(model, DataModel):
            raise ValueError(f"model: expected a data model, got {type(model).__name__}")
        if not isinstance(process, ForwardProcess):
            raise ValueError(f"process: expected a forward process, got {process!r}")
        if t is None:
            if np.ndim(state.t) != 0:
                raise ValueError("t: the state holds several times; say which one these rows are for")
            t = state.t
        return cls(
            scan=scan, model=model.name, process=process.name, n_dim=model.n_dim, t=t, disorder=state.disorder,
            seed=seed, planted=state.planted, source=state.source, params=parameter_columns(model, process),
        )

    def columns(self):
        """The task's columns as a dict (standard columns, then parameters)."""
        out = {name: getattr(self, name) for name in _TASK_COLUMNS}
        out.update(self.params)
        return out


def _estimates_of(observable, value):
    if isinstance(value, Estimate):
        return [value]
    items = list(value) if isinstance(value, (list, tuple)) else None
    if not items or not all(isinstance(v, Estimate) for v in items):
        raise ValueError(f"estimates: {observable!r} must map to an Estimate or a list of Estimates")
    return items


def result_rows(info, estimates):
    """Rows of the result table for one task.

    ``estimates`` maps an observable name to an :class:`~replica.stats.Estimate` or a list of
    them (e.g. the exact value and the sampled one); each gives one row, its ``method`` telling
    the estimator apart.
    """
    if not isinstance(info, TaskInfo):
        raise ValueError(f"info: expected a TaskInfo, got {type(info).__name__}")
    if not hasattr(estimates, "items"):
        raise ValueError("estimates: expected a mapping from observable names to Estimates")
    task = info.columns()
    rows = []
    for observable, value in estimates.items():
        if not isinstance(observable, str) or not observable:
            raise ValueError(f"estimates: observable names must be non-empty strings, got {observable!r}")
        for est in _estimates_of(observable, value):
            row = {name: task[name] for name in _TASK_COLUMNS}
            row.update(
                observable=observable, value=est.value, stderr=est.stderr, n_samples=est.n, tau_int=est.tau,
                method=est.method,
            )
            row.update(info.params)
            rows.append(row)
    return rows


def result_frame(info, estimates):
    """:func:`result_rows` as a DataFrame with the standard columns first."""
    rows = result_rows(info, estimates)
    order = list(RESULT_COLUMNS) + list(info.params)
    return pd.DataFrame(rows, columns=order)


def _curve_frames(info, columns, blocks):
    """One frame of per-point tables (histograms, potentials): each block ``(n, values)`` becomes
    ``n`` rows carrying the task's columns, then ``values`` (scalars or arrays of length ``n``),
    then the parameters."""
    task = info.columns()
    order = list(columns) + list(info.params)
    frames = []
    for n, values in blocks:
        cols = {k: [task[k]] * n for k in _TASK_COLUMNS}
        cols.update(values)
        cols.update(info.params)
        frames.append(pd.DataFrame(cols, columns=order))
    if not frames:
        return pd.DataFrame(columns=order)
    return pd.concat(frames, ignore_index=True)


def histogram_frame(info, distributions):
    """The overlap-histogram table of one task: one row per bin (or atom) of each distribution.

    ``distributions`` maps a name (e.g. ``"P(q)"``, ``"P(q, x0)"``) to an
    :class:`~replica.overlaps.OverlapDistribution`. Columns: the task's, then ``observable``,
    ``kind``, ``normalised``, ``q`` (bin centre or atom), ``q_lo``, ``q_hi`` (bin edges; equal to
    ``q`` for atoms), ``prob``, ``stderr``, ``n_samples``, ``tau_int``, ``method``.
    """
    if not isinstance(info, TaskInfo):
        raise ValueError(f"info: expected a TaskInfo, got {type(info).__name__}")
    if not hasattr(distributions, "items"):
        raise ValueError("distributions: expected a mapping from names to OverlapDistributions")
    blocks = []
    for name, dist in distributions.items():
        if not isinstance(dist, OverlapDistribution):
            raise ValueError(f"distributions: {name!r} is not an OverlapDistribution")
        lo = dist.q if dist.edges is None else dist.edges[:-1]
        hi = dist.q if dist.edges is None else dist.edges[1:]
        blocks.append((dist.q.size, dict(
            observable=name, kind=dist.kind, normalised=dist.normalised, q=dist.q, q_lo=lo, q_hi=hi, prob=dist.prob,
            stderr=dist.stderr, n_samples=dist.n, tau_int=dist.tau, method=dist.method,
        )))
    return _curve_frames(info, HISTOGRAM_COLUMNS, blocks)


def potential_frame(info, potentials, *, order_parameter, method):
    """The Franz-Parisi table of one task: one row per grid point of each potential.

    ``potentials`` maps a name (e.g. ``"V(q)"``) to a DataFrame with columns ``q``, ``V``,
    ``stderr`` (and optionally ``n_references``), as returned by ``replica.franz_parisi``.
    ``order_parameter`` is its name (``"overlap"``, ``"distance"``, ...), ``method`` the route
    (``"exact"``, ``"umbrella"``).
    """
    if not isinstance(info, TaskInfo):
        raise ValueError(f"info: expected a TaskInfo, got {type(info).__name__}")
    if not hasattr(potentials, "items"):
        raise ValueError("potentials: expected a mapping from names to DataFrames with columns q, V, stderr")
    blocks = []
    for name, frame in potentials.items():
        if not isinstance(frame, pd.DataFrame) or not {"q", "V", "stderr"} <= set(frame.columns):
            raise ValueError(f"potentials: {name!r} must be a DataFrame with columns q, V, stderr")
        n = len(frame)
        n_ref = frame["n_references"].to_numpy() if "n_references" in frame.columns else np.full(n, 1)
        blocks.append((n, dict(
            observable=name, order_parameter=str(order_parameter), q=frame["q"].to_numpy(float),
            V=frame["V"].to_numpy(float), stderr=frame["stderr"].to_numpy(float), n_references=n_ref,
            method=str(method),
        )))
    return _curve_frames(info, POTENTIAL_COLUMNS, blocks)


# files ----------------------------------------------------------------------------------------
def _check_task(task):
    if not isinstance(task, str) or not _TASK_NAME.match(task):
        raise ValueError(
            f"task: expected a file-name-safe name (letters, digits, '_', '-', '.', '=', '+'), got {task!r}"
        )
    return task


def _check_table(table):
    if table not in _TABLES:
        raise ValueError(f"table: expected one of {_TABLES}, got {table!r}")
    return table


def task_path(directory, task, table="results", fmt=None):
    """Path of one task's table: ``<directory>/<task>.<table>.parquet`` (or ``.csv``)."""
    _check_task(task)
    _check_table(table)
    if fmt is None:
        fmt = "parquet" if parquet_available() else "csv"
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt: expected 'parquet' or 'csv', got {fmt!r}")
    return os.path.join(os.fspath(directory), f"{task}.{table}.{fmt}")


def write_table(frame, path):
    """Write a DataFrame atomically: temporary file in the same directory, flush, fsync, rename.

    The format follows the suffix (``.parquet`` or ``.csv``). On any error the temporary file is
    removed and an existing file at ``path`` is left untouched.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    path = os.fspath(path)
    if path.endswith(".parquet"):
        fmt = "parquet"
        if not parquet_available():
            raise ValueError(f"path: {path!r} is a parquet file but pyarrow is not installed; use .csv")
    elif path.endswith(".csv"):
        fmt = "csv"
    else:
        raise ValueError(f"path: expected a .parquet or .csv file name, got {path!r}")
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise ValueError(f"path: directory {directory!r} does not exist")
    def write(handle):
        if fmt == "parquet":
            frame.to_parquet(handle, index=False)
        else:
            handle.write(frame.to_csv(index=False).encode("utf-8"))

    return write_atomic(path, write)


#: Names of the temporary files :func:`write_atomic` writes under: ``.<file name>.<random>.tmp``
#: (``tempfile.mkstemp`` with this prefix and suffix). A process killed by SIGKILL leaves them behind.
_TEMPORARY_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")


def temporary_files(directory):
    """Paths of the temporary files of :func:`write_atomic` in ``directory`` (not its subdirectories).

    Only names of the package's own pattern (``.<file name>.<random>.tmp``) are listed. A writer
    that is still running owns some of them: remove them only while no writer can be running
    (the scan runner does so under its directory lock).

    Parameters
    ----------
    directory : str or path
        The directory to list; a missing directory has none.

    Returns
    -------
    list of str
    """
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(directory, n) for n in names
                  if _TEMPORARY_NAME.match(n) and os.path.isfile(os.path.join(directory, n)))


def write_atomic(path, write):
    """Create ``path`` atomically: ``write(handle)`` fills a temporary file (binary) in the same
    directory, which is flushed, fsynced and renamed over ``path``; the directory is fsynced. On
    any error (or interrupt) the temporary file is removed and an existing ``path`` is untouched.

    The file gets the mode of a newly created file, ``0o666 & ~umask`` (``mc._fileio``), not the
    0600 of ``tempfile.mkstemp``, so that results are readable by a group when the umask allows.
    The temporary name is ``.<file name>.<random>.tmp`` (:func:`temporary_files`).
    """
    return _write_atomic(path, write, sync_directory=True)


def write_task(directory, task, results, histograms=None, fmt=None, potentials=None):
    """Write one task's result table (and optionally its histogram and potential tables); return
    the paths, the results file first.

    The other tables are written first, so that a task whose results file exists is complete
    (``task_done`` is the resume test; the scan runner adds a checksummed manifest on top).
    """
    os.makedirs(os.fspath(directory), exist_ok=True)
    paths = []
    if histograms is not None:
        paths.append(write_table(histograms, task_path(directory, task, "histograms", fmt)))
    if potentials is not None:
        paths.append(write_table(potentials, task_path(directory, task, "potentials", fmt)))
    paths.insert(0, write_table(results, task_path(directory, task, "results", fmt)))
    return paths


def task_done(directory, task):
    """Whether the task's results file exists (in either format): skip it on resume."""
    return any(os.path.exists(task_path(directory, task, "results", f)) for f in ("parquet", "csv"))


def _read_table(directory, table):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"directory: {directory!r} does not exist")
    files = sorted(
        glob.glob(os.path.join(glob.escape(directory), f"*.{table}.parquet"))
        + glob.glob(os.path.join(glob.escape(directory), f"*.{table}.csv"))
    )
    frames = []
    for path in files:
        if os.path.basename(path).startswith("."):
            continue  # an unfinished temporary file
        if path.endswith(".parquet"):
            if not parquet_available():
                raise ValueError(f"directory: {path!r} is a parquet file but pyarrow is not installed")
            frames.append(pd.read_parquet(path))
        else:
            frames.append(pd.read_csv(path))
    columns = {"results": RESULT_COLUMNS, "histograms": HISTOGRAM_COLUMNS, "potentials": POTENTIAL_COLUMNS}[table]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True, sort=False)


def read_results(directory):
    """All task result files of a directory as one DataFrame (parquet, or CSV without pyarrow)."""
    return _read_table(directory, "results")


def read_histograms(directory):
    """All task histogram files of a directory as one DataFrame, with its ``q`` column."""
    return _read_table(directory, "histograms")


def read_potentials(directory):
    """All task Franz-Parisi files of a directory as one DataFrame, with its ``q`` column."""
    return _read_table(directory, "potentials")
