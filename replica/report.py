"""Reports of a scan directory: disorder averages, located transitions, figures.

``report(DIR)`` (the command ``replica report DIR``) reads the tables of a scan written by
``replica scan`` (layout in :mod:`replica.scan.runner`), prints the task counts, the disorder
averages of every observable and the transitions the data locate, and writes figures to
``DIR/plots/`` when matplotlib (the optional extra ``plot``) is installed. The pieces are public
so that a notebook can use them on the same tables:

* :func:`load_scan`: the result, histogram and potential tables (merged or per task);
* :func:`disorder_summary`: mean over disorder samples with its standard error, per
  (model, process, parameters, N, t, observable, method);
* :func:`locate_transitions`: speciation and collapse times from the disorder-averaged curves,
  by criteria named in the ``method`` column;
* :func:`make_plots`: the figures (P(q) tables, which exact atoms of large data sets make
  large, are read piece by piece for them).

Conventions: the error of a disorder average is the standard error of the mean over the
independent disorder samples, ``sd / sqrt(n)`` (``ddof = 1``; ``replica.stats.disorder_average``),
which already contains each sample's own statistical noise. With a single disorder sample the
within-task error is reported instead (column ``stderr_kind``). Non-linear functions of disorder
averages use the jackknife (the Binder cumulant ``binder_disorder``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import sys

import numpy as np
import pandas as pd

from .cli import EXIT_BAD_INPUT, EXIT_OK
from .overlaps import binder_cumulant
from .stats import disorder_average, format_value_error
from .table import HISTOGRAM_COLUMNS, POTENTIAL_COLUMNS, RESULT_COLUMNS

__all__ = [
    "EXIT_OK",
    "EXIT_BAD_INPUT",
    "PLOT_INSTALL",
    "TABLES",
    "ScanStatus",
    "scan_status",
    "load_scan",
    "disorder_summary",
    "locate_transitions",
    "format_summary",
    "make_plots",
    "report",
    "main",
]

#: How to install the optional plotting dependency.
PLOT_INSTALL = "pip install -e '.[plot]'"
#: The tables of a scan directory.
TABLES = ("results", "histograms", "potentials")
_EMPTY_COLUMNS = {"results": RESULT_COLUMNS, "histograms": HISTOGRAM_COLUMNS, "potentials": POTENTIAL_COLUMNS}
_TABLE_SUFFIXES = tuple(f".{t}.{ext}" for t in TABLES for ext in ("parquet", "csv"))

#: Speciation by a peak in t: these observables, and any whose name starts with "susceptibility_".
PEAK_OBSERVABLES = ("class_magnetisation_variance", "susceptibility")
#: Level crossed by the disorder-averaged class-magnetisation variance (speciation) and by the
#: participation ratio (collapse).
SPECIATION_LEVEL = 0.5
COLLAPSE_LEVEL = 0.5
#: A peak counts only if it stands this many combined standard errors above both ends of the grid.
PEAK_PROMINENCE = 2.0

_SUMMARY_VALUES = ("value", "stderr", "n_disorder", "stderr_kind")
_BASE_KEYS = ("model", "process", "n_dim", "t", "observable", "method")
_LABEL_KEYS = ("planted", "source")
_TRANSITION_COLUMNS = (
    "transition", "n_dim", "t_estimate", "stderr", "method", "model", "process", "observable", "estimator",
    "n_disorder", "n_boot", "stderr_method",
)


# ----------------------------------------------------------------------------- reading
class ScanStatus:
    """What a scan directory holds (see :func:`scan_status`).

    Attributes
    ----------
    directory : str
    name : str
        Scan name (``scan.json``; else the directory's base name).
    n_tasks : int or None
        Task count of the spec (``scan.json``), None when unknown.
    done : list of str
        Complete tasks: manifest present and, when ``scan.json`` names a spec hash, verified
        (same hash, every listed file with its recorded size and SHA-256), as ``replica merge``
        requires.
    failed : list of str
        Tasks with an error record (``<task>.error.json``) and no complete result.
    stale : list of str
        Tasks with a manifest that does not verify (another spec, or a damaged file): run again
        by ``replica scan --resume``.
    errors : dict
        Task name -> one line from its error record.
    """

    def __init__(self, directory, name, n_tasks, done, failed, stale, errors, spec_hash):
        self.directory = directory
        self.name = name
        self.n_tasks = n_tasks
        self.done = done
        self.failed = failed
        self.stale = stale
        self.errors = errors
        self.spec_hash = spec_hash

    @property
    def missing(self):
        """Tasks neither done nor failed (None when the task count is unknown)."""
        if self.n_tasks is None:
            return None
        return max(self.n_tasks - len(self.done) - len(self.failed), 0)

    def describe(self):
        """One line: ``tasks: D of T done, F failed, M missing``."""
        total = "?" if self.n_tasks is None else str(self.n_tasks)
        missing = "?" if self.missing is None else str(self.missing)
        line = f"tasks: {len(self.done)} of {total} done, {len(self.failed)} failed, {missing} missing"
        if self.stale:
            line += f" ({len(self.stale)} with a manifest that does not verify: rerun by --resume)"
        return line


def _check_directory(directory):
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"directory: expected a path, got {type(directory).__name__}")
    path = os.fspath(directory)
    if not os.path.exists(path):
        raise ValueError(f"directory: {path!r} does not exist")
    if not os.path.isdir(path):
        raise ValueError(f"directory: {path!r} is not a directory")
    if not any(os.path.exists(os.path.join(path, p)) for p in ("scan.json", "tasks", "merged")):
        raise ValueError(f"directory: {path!r} is not a scan directory (no scan.json, tasks/ or merged/)")
    return path


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _listdir(path):
    return sorted(f for f in os.listdir(path) if not f.startswith(".")) if os.path.isdir(path) else []


def _stem(filename, suffix):
    return filename[: -len(suffix)] if filename.endswith(suffix) else None


def _error_line(record):
    if record is None:
        return "unreadable error record"
    parts = [str(record[k]) for k in ("error", "message") if record.get(k)]
    return (": ".join(parts) or "no message")[:200]


def scan_status(directory):
    """Task counts of a scan directory: done, failed, stale, missing against ``scan.json``.

    Raises ``ValueError`` naming ``directory`` when it does not exist or holds no scan.
    """
    from .scan.runner import task_complete  # the same test as ``replica merge``

    path = _check_directory(directory)
    record = _read_json(os.path.join(path, "scan.json")) or {}
    name = str(record.get("name") or os.path.basename(os.path.abspath(path)))
    try:
        n_tasks = int(record["n_tasks"])
    except (KeyError, TypeError, ValueError):
        n_tasks = None
    spec_hash = record.get("spec_hash")
    task_dir = os.path.join(path, "tasks")
    files = _listdir(task_dir)
    with_manifest = [s for s in (_stem(f, ".meta.json") for f in files) if s]
    done, stale = [], []
    for task in with_manifest:
        ok = task_complete(task_dir, task, spec_hash) if spec_hash else _read_json(
            os.path.join(task_dir, f"{task}.meta.json")) is not None
        (done if ok else stale).append(task)
    done_set = set(done)
    failed = [s for s in (_stem(f, ".error.json") for f in files) if s and s not in done_set]
    errors = {t: _error_line(_read_json(os.path.join(task_dir, f"{t}.error.json"))) for t in failed}
    return ScanStatus(path, name, n_tasks, done, failed, stale, errors, spec_hash)


def _read_frame(path):
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def _concat(parts, table):
    if not parts:
        return pd.DataFrame(columns=list(_EMPTY_COLUMNS[table]))
    return pd.concat(parts, ignore_index=True, sort=False)


def _merged_paths(path):
    merged = os.path.join(path, "merged")
    out = {}
    for table in TABLES:
        for ext in ("parquet", "csv"):
            p = os.path.join(merged, f"{table}.{ext}")
            if os.path.exists(p):
                out[table] = p
                break
    return out


def _task_files(task_dir, task):
    """The table files of one complete task: those its manifest lists, else those named after it."""
    meta = _read_json(os.path.join(task_dir, f"{task}.meta.json")) or {}
    listed = meta.get("files")
    names = list(listed) if isinstance(listed, dict) and listed else [
        f for f in _listdir(task_dir) if f.startswith(task + ".") and f.endswith(_TABLE_SUFFIXES)
    ]
    out = {}
    for base in names:
        kind = base[len(task) + 1:].split(".")[0]
        if kind in TABLES:
            out[kind] = os.path.join(task_dir, base)
    return out


def _table_files(path, status):
    """``({table: [files]}, source, note)``: the merged files when they are current, else the
    files of the complete tasks (see :func:`load_scan`)."""
    merged = _merged_paths(path)
    task_dir = os.path.join(path, "tasks")
    task_times = [os.stat(os.path.join(task_dir, f)).st_mtime_ns for f in _listdir(task_dir)]
    if "results" in merged:
        merged_time = min(os.stat(p).st_mtime_ns for p in merged.values())
        if not task_times or merged_time >= max(task_times):
            files = {t: [merged[t]] if t in merged else [] for t in TABLES}
            return files, "merged", f"merged tables ({os.path.join(path, 'merged')})"
        note = (f"per-task files ({task_dir}); merged/ is older than the task files: "
                f"run `replica merge {path}` to refresh it")
    else:
        note = f"per-task files ({task_dir}); no merged tables yet"
    files = {t: [] for t in TABLES}
    for task in status.done:
        for kind, file in _task_files(task_dir, task).items():
            files[kind].append(file)
    return files, "tasks", note


def load_scan(directory, status=None, tables=TABLES):
    """The tables of a scan directory as ``{"results", "histograms", "potentials"}`` DataFrames.

    The merged tables (``merged/<table>.parquet`` or ``.csv``, from ``replica merge``) are read when
    ``merged/results.*`` exists and every merged file is at least as new as every file in
    ``tasks/``; otherwise the files of the complete tasks (:func:`scan_status`) are read and
    concatenated. Each frame's ``attrs["source"]`` says which (``"merged"`` or ``"tasks"``) and
    ``attrs["note"]`` why. Tables that a scan did not write are empty frames with their columns.
    ``tables`` selects which to read: exact P(q) atoms of large data sets make the histogram
    table much larger than the others (:func:`report` reads it piecewise instead).
    """
    path = _check_directory(directory)
    tables = tuple(tables)
    for table in tables:
        if table not in TABLES:
            raise ValueError(f"tables: expected names from {TABLES}, got {table!r}")
    status = scan_status(path) if status is None else status
    files, source, note = _table_files(path, status)
    frames = {t: _concat([_read_frame(f) for f in files[t]], t) for t in tables}
    for frame in frames.values():
        frame.attrs.update(source=source, note=note)
    return frames


_HISTOGRAM_KEYS = ["observable", "method", "n_dim", "t"]
_HISTOGRAM_READ = _HISTOGRAM_KEYS + ["disorder", "q", "q_lo", "q_hi", "prob"]


def _batches(files, columns, rows=1_000_000):
    """DataFrames of at most ``rows`` rows with ``columns`` from parquet or CSV files, one at a time."""
    for path in files:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
                yield batch.to_pandas()
        else:
            yield from pd.read_csv(path, usecols=columns, chunksize=rows)


def _histogram_densities(batches, n_bins=40):
    """Disorder-averaged densities of P(q) tables read piece by piece (two passes over
    ``batches()``, a callable returning an iterable of DataFrames).

    Per (observable, method, N, t): binned distributions keep their bins; exact atoms are binned
    into ``n_bins`` equal bins spanning their range (pooled over disorder samples). Each disorder
    sample's masses are summed per bin, then ``density = mean_d(mass) / width`` and
    ``err = sd_d(mass) / sqrt(n) / width`` (0 for one sample). Columns: the keys, ``atomic``,
    ``q`` (bin centre), ``density``, ``err``, ``n_disorder``.
    """
    ranges = {}
    for frame in batches():
        atoms = frame[frame["q_lo"] == frame["q_hi"]]
        if atoms.empty:
            continue
        for key, g in atoms.groupby(_HISTOGRAM_KEYS, sort=False):
            lo, hi = float(g["q"].min()), float(g["q"].max())
            old = ranges.get(key)
            ranges[key] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    atom_mass, binned = {}, []
    for frame in batches():
        is_atom = (frame["q_lo"] == frame["q_hi"]).to_numpy()
        if (~is_atom).any():
            binned.append(frame[~is_atom].groupby(_HISTOGRAM_KEYS + ["q_lo", "q_hi", "disorder"], sort=False)["prob"]
                          .sum().reset_index())
        if not is_atom.any():
            continue
        for key, g in frame[is_atom].groupby(_HISTOGRAM_KEYS, sort=False):
            lo, hi = ranges[key]
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            idx = np.clip(((g["q"].to_numpy(float) - lo) / (hi - lo) * n_bins).astype(int), 0, n_bins - 1)
            prob = g["prob"].to_numpy(float)
            per = atom_mass.setdefault(key, {})
            for d in np.unique(g["disorder"].to_numpy()):
                sel = g["disorder"].to_numpy() == d
                per[d] = per.get(d, 0.0) + np.bincount(idx[sel], weights=prob[sel], minlength=n_bins)
    rows = []
    for key, per in atom_mass.items():
        lo, hi = ranges[key]
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
        mass = np.array(list(per.values()))
        n = mass.shape[0]
        err = mass.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(n_bins)
        width = np.diff(edges)
        rows.append(pd.DataFrame({**dict(zip(_HISTOGRAM_KEYS, key)), "atomic": True,
                                  "q": 0.5 * (edges[1:] + edges[:-1]), "density": mass.mean(axis=0) / width,
                                  "err": err / width, "n_disorder": n}))
    if binned:
        b = pd.concat(binned, ignore_index=True)
        b = b.groupby(_HISTOGRAM_KEYS + ["q_lo", "q_hi", "disorder"], sort=False)["prob"].sum().reset_index()
        n = b.groupby(_HISTOGRAM_KEYS)["disorder"].nunique().rename("n_disorder").reset_index()
        g = b.groupby(_HISTOGRAM_KEYS + ["q_lo", "q_hi"], sort=True)["prob"].agg(["sum", "std"]).reset_index()
        g = g.merge(n, on=_HISTOGRAM_KEYS)
        width = (g["q_hi"] - g["q_lo"]).to_numpy(float)
        count = g["n_disorder"].to_numpy(float)
        sd = np.nan_to_num(g["std"].to_numpy(float))  # bins absent from a sample count as 0 there
        err = np.where(count > 1, sd / np.sqrt(count), 0.0)
        rows.append(pd.DataFrame({**{k: g[k] for k in _HISTOGRAM_KEYS}, "atomic": False,
                                  "q": 0.5 * (g["q_lo"] + g["q_hi"]).to_numpy(float),
                                  "density": g["sum"].to_numpy(float) / count / width, "err": err / width,
                                  "n_disorder": g["n_disorder"].to_numpy()}))
    columns = _HISTOGRAM_KEYS + ["atomic", "q", "density", "err", "n_disorder"]
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.concat(rows, ignore_index=True)[columns].sort_values(_HISTOGRAM_KEYS + ["q"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- disorder averages
def _parameter_columns(results):
    """Parameter columns that label a curve: every column beyond the standard ones except those
    that only follow the disorder sample (e.g. ``disorder_seed``: different for each disorder
    sample and constant within one), which would otherwise split a disorder average apart."""
    extra = [c for c in results.columns if c not in RESULT_COLUMNS]
    if not extra or results.empty:
        return extra
    base = list(_BASE_KEYS)
    keep = []
    by_base = results.groupby(base, dropna=False)
    by_disorder = results.groupby(base + ["disorder"], dropna=False)
    for col in extra:
        varies = bool((by_base[col].nunique(dropna=False) > 1).any())
        follows_disorder = varies and bool((by_disorder[col].nunique(dropna=False) <= 1).all())
        if not follows_disorder:
            keep.append(col)
    return keep


def _key_columns(results):
    params = _parameter_columns(results)
    labels = [c for c in _LABEL_KEYS if c in results.columns]
    return ["model", "process", *params, *labels, "n_dim", "t", "observable", "method"], params


def disorder_summary(results):
    """Disorder averages of a result table.

    Parameters
    ----------
    results : DataFrame
        The long result table (``replica.table.RESULT_COLUMNS`` and parameter columns).

    Returns
    -------
    DataFrame
        One row per (model, process, parameters, planted, source, n_dim, t, observable, method)
        with

        * ``value``: the mean over disorder samples, ``[O] = (1/n) sum_d O_d``;
        * ``stderr``: its standard error ``sd_d(O_d) / sqrt(n)`` (``ddof = 1``) for ``n >= 2``
          (``stderr_kind = "disorder"``); for one disorder sample the within-task error of that
          sample (``stderr_kind = "within-task"``);
        * ``n_disorder``: the number of disorder samples with a finite value (non-finite values,
          e.g. an R-hat that could not be formed, are left out; with none, ``value`` and
          ``stderr`` are nan and ``stderr_kind = "none"``).

        Parameter columns that only follow the disorder index (such as the ``disorder_seed`` of
        a spin glass drawn per disorder sample) are averaged over, not kept as labels. Where the
        table has the thermal moments ``q2 = <q^2>`` and ``q4 = <q^4>`` of the same disorder
        samples, a row ``binder_disorder`` adds the Binder cumulant of the disorder averages,
        ``g = (1/2) (3 - [<q^4>] / [<q^2>]^2)``, with its jackknife error over disorder
        (``replica.overlaps.binder_cumulant``; Binder 1981; ``stderr_kind = "jackknife"``).
    """
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"results: expected a DataFrame, got {type(results).__name__}")
    needed = set(_BASE_KEYS) | {"disorder", "value", "stderr"}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"results: missing columns {missing}")
    keys, _ = _key_columns(results)
    columns = keys + list(_SUMMARY_VALUES)
    if results.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in results.groupby(keys, dropna=False, sort=True):
        if group["disorder"].duplicated().any():
            raise ValueError(
                f"results: several rows for the same disorder sample at {dict(zip(keys, key))}; "
                "the table mixes scans or tasks"
            )
        values = group["value"].to_numpy(dtype=float)
        finite = np.isfinite(values)
        row = dict(zip(keys, key))
        if finite.sum() >= 2:
            est = disorder_average(values[finite])
            row.update(value=est.value, stderr=est.stderr, n_disorder=est.n, stderr_kind="disorder")
        elif finite.sum() == 1:
            i = int(np.flatnonzero(finite)[0])
            row.update(value=float(values[i]), stderr=float(group["stderr"].to_numpy(dtype=float)[i]), n_disorder=1,
                       stderr_kind="within-task")
        else:
            row.update(value=math.nan, stderr=math.nan, n_disorder=0, stderr_kind="none")
        rows.append(row)
    rows.extend(_binder_rows(results, keys))
    out = pd.DataFrame(rows, columns=columns)
    out["n_disorder"] = out["n_disorder"].astype(int)
    return out.sort_values(keys, kind="mergesort", na_position="first").reset_index(drop=True)


def _binder_rows(results, keys):
    moments = results[results["observable"].isin(["q2", "q4"])]
    if moments.empty:
        return []
    curve_keys = [k for k in keys if k != "observable"]
    rows = []
    for key, group in moments.groupby(curve_keys, dropna=False, sort=True):
        wide = group.pivot_table(index="disorder", columns="observable", values="value", aggfunc="first")
        if not {"q2", "q4"} <= set(wide.columns):
            continue
        wide = wide[np.isfinite(wide["q2"]) & np.isfinite(wide["q4"])]
        if len(wide) < 2 or wide["q2"].mean() <= 0:
            continue
        est = binder_cumulant(wide["q2"].to_numpy(), wide["q4"].to_numpy())
        row = dict(zip(curve_keys, key))
        row.update(observable="binder_disorder", value=est.value, stderr=est.stderr, n_disorder=len(wide),
                   stderr_kind="jackknife")
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- transitions
def _parabolic_peak(t, v, err):
    """Peak of each row of ``v`` (shape (B, T)) on the grid ``t``: the vertex of the parabola
    through the grid maximum and its two neighbours; nan where the maximum is at an end of the
    grid or does not stand ``PEAK_PROMINENCE`` combined errors above both ends.

    Vertex of the parabola through ``(t0, v0), (t1, v1), (t2, v2)`` (Newton form, any spacing;
    derived): ``t* = (t0 + t1) / 2 - f01 / (2 a)`` with ``f01 = (v1 - v0) / (t1 - t0)``,
    ``f12 = (v2 - v1) / (t2 - t1)``, ``a = (f12 - f01) / (t2 - t0)`` (``a < 0`` at a maximum).
    """
    n = t.size
    out = np.full(v.shape[0], np.nan)
    if n < 3:
        return out
    rows = np.arange(v.shape[0])
    k = np.argmax(v, axis=1)
    inner = (k > 0) & (k < n - 1)
    kk = np.clip(k, 1, n - 2)
    v0, v1, v2 = v[rows, kk - 1], v[rows, kk], v[rows, kk + 1]
    t0, t1, t2 = t[kk - 1], t[kk], t[kk + 1]
    f01 = (v1 - v0) / (t1 - t0)
    f12 = (v2 - v1) / (t2 - t1)
    a = (f12 - f01) / (t2 - t0)
    ends = np.maximum(v[:, 0], v[:, -1])
    end_err = np.where(v[:, 0] >= v[:, -1], err[0], err[-1])
    prominent = v1 - ends > PEAK_PROMINENCE * np.hypot(err[kk], end_err)
    ok = inner & prominent & (a < 0)
    safe_a = np.where(ok, a, -1.0)
    out[ok] = (0.5 * (t0 + t1) - f01 / (2.0 * safe_a))[ok]
    return out


def _last_crossing(t, v, level):
    """Where each row of ``v`` crosses ``level``, by linear interpolation between the two grid
    points that bracket it; with several crossings the one at the largest t (the first met by
    the generative process, which runs from large to small t); nan when the row never crosses.

    ``t* = t_i + (level - v_i) (t_{i+1} - t_i) / (v_{i+1} - v_i)`` for the bracketing pair
    (``v_i >= level > v_{i+1}`` or ``v_i < level <= v_{i+1}``).
    """
    out = np.full(v.shape[0], np.nan)
    if t.size < 2:
        return out
    above = v >= level
    change = above[:, :-1] != above[:, 1:]
    has = change.any(axis=1)
    idx = change.shape[1] - 1 - np.argmax(change[:, ::-1], axis=1)
    rows = np.arange(v.shape[0])
    vi, vj = v[rows, idx], v[rows, idx + 1]
    ti, tj = t[idx], t[idx + 1]
    denom = np.where(has, vj - vi, 1.0)
    out[has] = (ti + (level - vi) * (tj - ti) / denom)[has]
    return out


def _bootstrap(locate, t, value, err, n_boot, seed, samples=None):
    """Point estimate of ``locate(t, curves)`` on the disorder-averaged curve, and its bootstrap
    standard error; returns ``(estimate, stderr, replicas that located it, how)``.

    * ``samples`` (disorder samples x t, each row a complete curve), at least 2 rows: bootstrap
      over disorder samples (Efron 1979): resample the rows with replacement, average, locate;
      the standard deviation of the replicas is multiplied by ``sqrt(n / (n - 1))`` so that for a
      linear functional it equals ``sd / sqrt(n)`` of ``replica.stats.disorder_average``. Keeps
      the correlation that common random numbers (the same x0 and noise at every t of a disorder
      sample) put between the points of a curve.
    * otherwise a parametric bootstrap: replicas ``value + err * z`` with independent standard
      normal ``z`` at each t. Independent noise ignores that correlation: for a peak it errs on
      the large side (a common shift of the curve does not move a peak), for a crossing on the
      small side, by up to about ``sqrt 2`` (a common shift moves a crossing fully).

    The error is nan when fewer than half of the ``n_boot`` replicas (fixed ``seed``) locate a
    transition.
    """
    estimate = float(locate(t, value[None, :])[0])
    if not np.isfinite(estimate):
        return estimate, math.nan, 0, ""
    rng = np.random.default_rng(seed)
    if samples is not None and samples.shape[0] >= 2:
        n = samples.shape[0]
        reps = locate(t, samples[rng.integers(0, n, size=(n_boot, n))].mean(axis=1))
        how, scale = "bootstrap over disorder samples", math.sqrt(n / (n - 1.0))
    elif not np.any(err > 0):
        return estimate, 0.0, n_boot, "exact curve"
    else:
        reps = locate(t, value[None, :] + err[None, :] * rng.standard_normal((n_boot, t.size)))
        how, scale = "parametric bootstrap", 1.0
    good = reps[np.isfinite(reps)]
    if good.size < max(2, n_boot // 2):
        return estimate, math.nan, int(good.size), how
    return estimate, scale * float(good.std(ddof=1)), int(good.size), how


def _norm_key(key):
    """A group key usable in a dict (missing values, nan, compare equal to each other)."""
    key = key if isinstance(key, tuple) else (key,)
    return tuple("<na>" if (not isinstance(v, str) and pd.isna(v)) else v for v in key)


def _disorder_curves(results, curve_keys):
    """``{curve key: (t, samples)}``: per curve, the values of the disorder samples that have a
    finite value at every t of the curve (rows) against t (columns, sorted)."""
    if results is None:
        return {}
    keys, _ = _key_columns(results)
    if [k for k in keys if k != "t"] != list(curve_keys):
        raise ValueError("results: not the table this summary was built from (its curve labels differ)")
    out = {}
    for key, group in results.groupby(curve_keys, dropna=False, sort=False):
        wide = group.pivot_table(index="disorder", columns="t", values="value", aggfunc="first", dropna=False)
        wide = wide.sort_index(axis=1)
        arr = wide.to_numpy(dtype=float)
        out[_norm_key(key)] = (wide.columns.to_numpy(dtype=float), arr[np.isfinite(arr).all(axis=1)])
    return out


def _is_peak_observable(name, peak_observables):
    return name in peak_observables or name.startswith("susceptibility_")


def locate_transitions(summary, results=None, *, peak_observables=PEAK_OBSERVABLES, n_boot=1000, seed=0):
    """Speciation and collapse times located on the disorder-averaged curves of a summary.

    Each curve is one (model, process, parameters, N, observable, method) of
    :func:`disorder_summary`, sorted in t. Criteria (named in the ``method`` column):

    * speciation, ``"parabolic peak of <observable>"``, for the observables in
      ``peak_observables`` and any named ``susceptibility_*``: the grid maximum of the curve,
      refined by the vertex of the parabola through it and its two neighbours; only when the
      maximum is inside the grid and stands more than ``PEAK_PROMINENCE`` (2) combined standard
      errors ``sqrt(err_peak^2 + err_end^2)`` above both ends (a guard against noise on a
      plateau; conservative for curves coupled by common random numbers, whose differences are
      less noisy than the errors of their points). (In the planted case a disorder-averaged posterior variance, such as
      ``class_magnetisation_variance`` or the trace ``susceptibility`` tr Cov / N, cannot decrease
      with t: for the VP and VE processes x_t' with t' > t is x_t plus independent noise, so
      conditioning on x_t' is conditioning on less (derived). Those curves peak only at the
      large-t end, and the criterion stays silent; a response such as ``(a_t / D_t) u^T Cov u``
      does peak.)
    * speciation, ``"class_magnetisation_variance crosses 1/2"``: the t at which the disorder
      average of ``Var[x . mu / |mu|^2 | x_t]`` crosses ``SPECIATION_LEVEL`` = 1/2, by linear
      interpolation; for the symmetric two-class mixture this is where the posterior weight of
      the less likely class reaches about ``(1 - 1/sqrt 2) / 2 = 0.15`` (``4 p (1 - p) = 1/2``,
      neglecting the within-class spread ``~ 1 / N``; derived).
    * collapse, ``"participation_ratio crosses 1/2"``: the t at which the disorder-averaged
      participation ratio ``Y = sum_mu w_mu^2`` crosses ``COLLAPSE_LEVEL`` = 1/2 (two replicas
      on the same training point with probability 1/2), by linear interpolation.

    A crossing met several times is reported at the largest t (the first met in generation).
    Standard errors: with ``results`` (the table the summary was built from), a bootstrap over
    disorder samples, which keeps the correlation between the points of a curve; without it (or
    with one disorder sample) a parametric bootstrap of the curve within its errors, independent
    at each t (``n_boot`` replicas, fixed ``seed``; details in ``_bootstrap``). Either carries the
    statistical error of the curve, not the discretisation error of the t grid. Finite-N
    estimates only: no extrapolation in N (``physics.md``: report them separately).

    Returns
    -------
    DataFrame
        Columns ``transition, n_dim, t_estimate, stderr, method, model, process, observable,
        estimator`` (the ``method`` of the result rows: ``exact``, ``samples``, a Monte Carlo
        method), ``n_disorder`` (smallest number of disorder samples along the curve),
        ``n_boot`` (bootstrap replicas that located the transition) and ``stderr_method``
        (``"bootstrap over disorder samples"``, ``"parametric bootstrap"``, ``"exact curve"``);
        parameter columns follow.
        Empty (with these columns) when no criterion applies.
    """
    if not isinstance(summary, pd.DataFrame):
        raise ValueError(f"summary: expected a DataFrame from disorder_summary, got {type(summary).__name__}")
    missing = sorted({"t", "observable", "value", "stderr", "n_dim", "method"} - set(summary.columns))
    if missing:
        raise ValueError(f"summary: missing columns {missing}")
    n_boot = int(n_boot)
    if n_boot < 2:
        raise ValueError(f"n_boot: expected at least 2 bootstrap replicas, got {n_boot}")
    peak_observables = tuple(peak_observables)
    curve_keys = [c for c in summary.columns if c not in ("t", *_SUMMARY_VALUES)]
    params = [c for c in curve_keys if c not in (*_BASE_KEYS, *_LABEL_KEYS)]
    per_disorder = _disorder_curves(results, curve_keys)
    rows = []
    if not summary.empty:
        for key, curve in summary.groupby(curve_keys, dropna=False, sort=True):
            labels = dict(zip(curve_keys, key))
            obs = labels["observable"]
            criteria = []
            if _is_peak_observable(obs, peak_observables):
                criteria.append(("speciation", f"parabolic peak of {obs}", _parabolic_peak))
            if obs == "class_magnetisation_variance":
                criteria.append(("speciation", f"{obs} crosses 1/2",
                                 lambda t, v: _last_crossing(t, v, SPECIATION_LEVEL)))
            if obs == "participation_ratio":
                criteria.append(("collapse", f"{obs} crosses 1/2", lambda t, v: _last_crossing(t, v, COLLAPSE_LEVEL)))
            if not criteria:
                continue
            curve = curve[np.isfinite(curve["value"].to_numpy(dtype=float))].sort_values("t")
            t = curve["t"].to_numpy(dtype=float)
            value = curve["value"].to_numpy(dtype=float)
            err = np.nan_to_num(curve["stderr"].to_numpy(dtype=float), nan=0.0)
            samples = None
            if _norm_key(key) in per_disorder:
                t_samples, rows_of_samples = per_disorder[_norm_key(key)]
                if np.array_equal(t_samples, t):
                    samples = rows_of_samples
            for transition, method, func in criteria:
                if method.startswith("parabolic"):
                    def locate(tt, vv, _f=func, _e=err):
                        return _f(tt, vv, _e)
                else:
                    locate = func
                estimate, stderr, n_ok, how = _bootstrap(locate, t, value, err, n_boot, seed, samples)
                if not np.isfinite(estimate):
                    continue
                row = {
                    "transition": transition, "n_dim": int(labels["n_dim"]), "t_estimate": estimate, "stderr": stderr,
                    "method": method, "model": labels["model"], "process": labels["process"], "observable": obs,
                    "estimator": labels["method"], "n_disorder": int(curve["n_disorder"].min())
                    if "n_disorder" in curve else 0, "n_boot": n_ok, "stderr_method": how,
                }
                row.update({p: labels[p] for p in params})
                rows.append(row)
    return pd.DataFrame(rows, columns=list(_TRANSITION_COLUMNS) + params)


# ----------------------------------------------------------------------------- printing
def _cell(value, err):
    """``value ± err``; an error below ``1e-10 |value|`` (round-off between exact values) shown as
    exact, one below ``1e-5 |value|`` in scientific notation."""
    if not np.isfinite(value):
        return "nan"
    if np.isfinite(err) and err > 1e-10 * abs(value):
        if err < 1e-5 * abs(value):  # more digits than a table can show
            return f"{value:.7g} ± {err:.1e}"
        return format_value_error(value, err)
    if np.isfinite(err):
        return f"{value:.6g}"
    return f"{value:.4g} ± ?"


def _varying(frame, columns):
    return [c for c in columns if c in frame.columns and frame[c].nunique(dropna=False) > 1]


def _follows_n(frame, column):
    """Whether a column takes one value per N (e.g. ``mu_norm2 = N``): no label of its own."""
    return bool((frame.groupby("n_dim")[column].nunique(dropna=False) <= 1).all())


def format_summary(summary):
    """The summary as printable tables: ``[(title, DataFrame of strings), ...]``.

    One table per (model, process, method, planted, source) and combination of scanned
    parameter values; rows (N, t), one column per observable holding ``value ± err``, and
    ``n_dis`` the number of disorder samples (where it is 1 the errors are within-task errors).
    Parameters that take one value, or one value per N (such as ``mu_norm2 = N``), go in the
    title instead of splitting the table.
    """
    if summary.empty:
        return []
    labels = [c for c in summary.columns if c not in ("n_dim", "t", "observable", *_SUMMARY_VALUES)]
    keys, with_n = [], []
    for c in labels:
        if c in _BASE_KEYS or c in _LABEL_KEYS or summary[c].nunique(dropna=False) <= 1 or not _follows_n(summary, c):
            keys.append(c)
        else:
            with_n.append(c)
    out = []
    for key, part in summary.groupby(keys, dropna=False, sort=True):
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        title = ", ".join(f"{k} = {v}" for k, v in values.items() if not (isinstance(v, float) and math.isnan(v)))
        for c in with_n:
            pairs = part.groupby("n_dim")[c].first()
            title += f", {c} = " + " / ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in pairs) + " (by N)"
        cells = part.assign(cell=[_cell(v, e) for v, e in zip(part["value"], part["stderr"])])
        wide = cells.pivot_table(index=["n_dim", "t"], columns="observable", values="cell", aggfunc="first")
        n_dis = part.groupby(["n_dim", "t"])["n_disorder"].max()
        wide.insert(0, "n_dis", n_dis.reindex(wide.index).astype(int))
        wide.columns.name = None
        out.append((title, wide.fillna("")))
    return out


def _print_transitions(transitions, stream):
    if transitions.empty:
        print("transitions: none located (criteria: a prominent interior peak of class_magnetisation_variance, "
              "susceptibility or susceptibility_*; class_magnetisation_variance or participation_ratio "
              "crossing 1/2)", file=stream)
        return
    print("transitions (finite-N estimates on the disorder-averaged curves; errors by bootstrap):", file=stream)
    show = transitions.copy()
    show["t"] = [_cell(v, e) for v, e in zip(show["t_estimate"], show["stderr"])]
    cols = ["transition", "n_dim", "t", "method", "estimator", "stderr_method"] + _varying(show, ["model", "process"])
    print(show[cols].to_string(index=False), file=stream)


# ----------------------------------------------------------------------------- plots
def _matplotlib_available():
    return importlib.util.find_spec("matplotlib") is not None


def _figure(n_panels=1, width=6.4, height=4.4):
    """A figure drawn by the non-interactive Agg canvas (no pyplot state, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(n_panels, 3)
    rows = int(math.ceil(n_panels / cols))
    fig = Figure(figsize=(width * cols / (1 + 0.25 * (cols - 1)), height * rows / (1 + 0.25 * (rows - 1))),
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _save(fig, plot_dir, name, written):
    path = os.path.join(plot_dir, re.sub(r"[^A-Za-z0-9_.=+-]+", "_", name).strip("_") + ".png")
    fig.savefig(path, dpi=100)
    written.append(path)


def _log_t(t):
    t = np.asarray(t, dtype=float)
    return t.size > 2 and t.min() > 0 and t.max() / t.min() > 50


def _pick(values, k=6):
    values = np.sort(np.unique(values))
    if values.size <= k:
        return values
    return values[np.unique(np.round(np.linspace(0, values.size - 1, k)).astype(int))]


def _plot_observables(summary, transitions, plot_dir, written):
    curve_keys = [c for c in summary.columns if c not in ("t", "observable", *_SUMMARY_VALUES)]
    for obs, part in summary.groupby("observable", sort=True):
        part = part[np.isfinite(part["value"].to_numpy(dtype=float))]
        if part.empty:
            continue
        fig, (ax,) = _figure()
        label_keys = [k for k in _varying(part, curve_keys)
                      if k != "n_dim" and (k in _BASE_KEYS or not _follows_n(part, k))]
        colours = {}
        for key, curve in part.groupby(curve_keys, dropna=False, sort=True):
            labels = dict(zip(curve_keys, key))
            curve = curve.sort_values("t")
            text = f"N = {labels['n_dim']}" + "".join(f", {k} = {labels[k]}" for k in label_keys)
            err = np.nan_to_num(curve["stderr"].to_numpy(dtype=float), nan=0.0)
            line = ax.errorbar(curve["t"], curve["value"], yerr=err, marker="o", ms=3, capsize=2, label=text)
            colours[(labels["n_dim"], labels.get("method"))] = line[0].get_color()
        if not transitions.empty:
            mine = transitions[transitions["observable"] == obs]
            for _, tr in mine.iterrows():
                colour = colours.get((tr["n_dim"], tr["estimator"]), "k")
                ax.axvline(tr["t_estimate"], color=colour, ls="--", lw=1)
                if np.isfinite(tr["stderr"]) and tr["stderr"] > 0:
                    ax.axvspan(tr["t_estimate"] - tr["stderr"], tr["t_estimate"] + tr["stderr"], color=colour,
                               alpha=0.12, lw=0)
        if _log_t(part["t"]):
            ax.set_xscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel(obs)
        ax.set_title(f"{obs} (disorder average; dashed: located transitions)", fontsize=9)
        ax.legend(fontsize=7)
        _save(fig, plot_dir, f"observable_{obs}", written)


def _t_colours(times):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {t: cmap(i / max(len(times) - 1, 1)) for i, t in enumerate(times)}


def _plot_histograms(densities, plot_dir, written):
    for (obs, method), part in densities.groupby(["observable", "method"], sort=True):
        dims = sorted(part["n_dim"].unique())
        fig, axes = _figure(len(dims))
        times = _pick(part["t"].to_numpy(float))
        colours = _t_colours(list(times))
        for ax, n in zip(axes, dims):
            cell = part[part["n_dim"] == n]
            for t in times:
                rows = cell[np.isclose(cell["t"].to_numpy(float), t)].sort_values("q")
                if rows.empty:
                    continue
                q, density, err = (rows[c].to_numpy(float) for c in ("q", "density", "err"))
                ax.plot(q, density, color=colours[t], drawstyle="steps-mid", lw=1.2, label=f"t = {t:.3g}")
                if np.any(err > 0):
                    ax.fill_between(q, density - err, density + err, color=colours[t], alpha=0.2, step="mid", lw=0)
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_xlabel("q")
            ax.set_ylabel(f"{obs} density")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{obs} ({method}), disorder average", fontsize=10)
        _save(fig, plot_dir, f"histogram_{obs}_{method}", written)


def _plot_potentials(potentials, plot_dir, written):
    for (obs, order, method), part in potentials.groupby(["observable", "order_parameter", "method"], sort=True):
        dims = sorted(part["n_dim"].unique())
        fig, axes = _figure(len(dims))
        times = _pick(part["t"].to_numpy(float))
        colours = _t_colours(list(times))
        for ax, n in zip(axes, dims):
            cell = part[part["n_dim"] == n]
            for t in times:
                rows = cell[np.isclose(cell["t"].to_numpy(float), t)]
                if rows.empty:
                    continue
                g = rows.groupby("q", sort=True).agg(V=("V", "mean"), sd=("V", "std"), n=("V", "count"),
                                                     within=("stderr", "mean")).reset_index()
                err = np.where(g["n"] > 1, np.nan_to_num(g["sd"].to_numpy(float)) / np.sqrt(g["n"]),
                               np.nan_to_num(g["within"].to_numpy(float)))
                ax.plot(g["q"], g["V"], color=colours[t], lw=1.2, label=f"t = {t:.3g}")
                ax.fill_between(g["q"], g["V"] - err, g["V"] + err, color=colours[t], alpha=0.2, lw=0)
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_xlabel(f"q ({order})")
            ax.set_ylabel("V(q)")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{obs}, {order}, {method}: disorder average", fontsize=10)
        _save(fig, plot_dir, f"potential_{obs}_{order}_{method}", written)


def _plot_transitions(transitions, plot_dir, written):
    fig, (ax,) = _figure()
    for (kind, method, est), part in transitions.groupby(["transition", "method", "estimator"], sort=True):
        part = part.sort_values("n_dim")
        ax.errorbar(part["n_dim"], part["t_estimate"], yerr=np.nan_to_num(part["stderr"].to_numpy(float)),
                    marker="o", capsize=3, label=f"{kind}: {method} ({est})")
    dims = transitions["n_dim"].to_numpy(float)
    if dims.size and dims.max() / dims.min() > 4:
        ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("t")
    ax.set_title("located transitions (finite-N estimates)", fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, plot_dir, "transitions", written)


def make_plots(tables, summary, transitions, plot_dir, *, histogram_densities=None):
    """Write the report's figures (PNG, Agg canvas) to ``plot_dir``; return their paths.

    * ``observable_<name>.png``: each observable against t, one curve per N (and per estimator
      or parameter value when several), disorder averages with their error bars; located
      transitions of that observable as dashed vertical lines with a band of one standard error;
    * ``histogram_<name>_<method>.png``: P(q) panels, one per N, curves for up to six t
      (exact atoms are binned for display; disorder averages with their errors as bands), from
      ``tables["histograms"]`` or, when given, the ``histogram_densities`` that :func:`report`
      forms piece by piece from the files;
    * ``potential_<name>_<order parameter>_<method>.png``: Franz-Parisi V(q) panels, one per N;
    * ``transitions.png``: located transition times against N.

    Needs matplotlib (``pip install -e '.[plot]'``).
    """
    os.makedirs(plot_dir, exist_ok=True)
    written = []
    if not summary.empty:
        _plot_observables(summary, transitions, plot_dir, written)
    if histogram_densities is None and "histograms" in tables and not tables["histograms"].empty:
        frame = tables["histograms"][_HISTOGRAM_READ]
        histogram_densities = _histogram_densities(lambda: [frame])
    if histogram_densities is not None and not histogram_densities.empty:
        _plot_histograms(histogram_densities, plot_dir, written)
    if "potentials" in tables and not tables["potentials"].empty:
        _plot_potentials(tables["potentials"], plot_dir, written)
    if not transitions.empty:
        _plot_transitions(transitions, plot_dir, written)
    return written


# ----------------------------------------------------------------------------- report
def report(directory, *, plots=True, plot_dir=None, stream=None, line_width=120):
    """Print the report of a scan directory and write its figures; return an exit code.

    Prints the scan name, the task counts (done, failed from ``tasks/*.error.json``, missing
    against the task count of ``scan.json``), which tables were read (merged or per task), the
    disorder averages (:func:`disorder_summary`, :func:`format_summary`), the located
    transitions (:func:`locate_transitions`) and the paths of the figures written to
    ``plot_dir`` (default ``DIR/plots``; :func:`make_plots`). Without matplotlib one line says
    that the plots were skipped and how to install them. Everything goes to ``stream`` (default
    standard output; error messages to standard error unless ``stream`` is given).

    Returns 0 (``EXIT_OK``), or 2 (``EXIT_BAD_INPUT``) with a message naming ``directory`` when it
    does not exist, holds no scan, or holds no results yet.
    """
    errors = sys.stderr if stream is None else stream
    stream = sys.stdout if stream is None else stream
    try:
        status = scan_status(directory)
        tables = load_scan(status.directory, status, tables=("results", "potentials"))
    except ValueError as exc:
        print(f"replica report: error: {exc}", file=errors)
        return EXIT_BAD_INPUT
    path = status.directory
    print(f"scan: {status.name} ({path})", file=stream)
    print(status.describe(), file=stream)
    for task, line in list(status.errors.items())[:10]:
        print(f"  failed {task}: {line}", file=stream)
    if len(status.errors) > 10:
        print(f"  ... and {len(status.errors) - 10} more (see {os.path.join(path, 'tasks')}/*.error.json)",
              file=stream)
    results = tables["results"]
    print(f"tables: {results.attrs.get('note', '')}", file=stream)
    if results.empty:
        print(f"replica report: error: directory: {path!r} holds no results yet", file=errors)
        return EXIT_BAD_INPUT
    summary = disorder_summary(results)
    transitions = locate_transitions(summary, results)
    print(f"results: {len(results)} rows; N = {sorted(int(n) for n in results['n_dim'].unique())}; "
          f"{results['t'].nunique()} times in [{results['t'].min():.4g}, {results['t'].max():.4g}]; "
          f"up to {int(summary['n_disorder'].max())} disorder samples", file=stream)
    print("disorder averages: value ± standard error over disorder samples "
          "(where n_dis = 1: the within-task error)", file=stream)
    for title, table in format_summary(summary):
        print(f"\n[{title}]", file=stream)
        print(table.to_string(line_width=line_width), file=stream)
    print(file=stream)
    _print_transitions(transitions, stream)
    if not plots:
        return EXIT_OK
    if not _matplotlib_available():
        print(f"plots: skipped (matplotlib is not installed; install the 'plot' extra: {PLOT_INSTALL})", file=stream)
        return EXIT_OK
    target = os.path.join(path, "plots") if plot_dir is None else os.fspath(plot_dir)
    files = _table_files(path, status)[0]["histograms"]
    densities = _histogram_densities(lambda: _batches(files, _HISTOGRAM_READ))
    written = make_plots(tables, summary, transitions, target, histogram_densities=densities)
    print(f"plots: {len(written)} files in {target}", file=stream)
    for p in written:
        print(f"  {p}", file=stream)
    return EXIT_OK


def main(argv=None):
    """``python -m replica.report DIR [--no-plots] [--plot-dir D]`` (same as ``replica report``)."""
    parser = argparse.ArgumentParser(prog="python -m replica.report", description=report.__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="the scan's output directory")
    parser.add_argument("--no-plots", action="store_true", help="print the tables only")
    parser.add_argument("--plot-dir", help="where to write the figures (default DIR/plots)")
    args = parser.parse_args(argv)
    return report(args.directory, plots=not args.no_plots, plot_dir=args.plot_dir)


if __name__ == "__main__":
    sys.exit(main())
