"""Reading a scan directory: which tasks are done, failed or stale, and their tables.

The one reader of the layout that ``replica scan`` writes (:mod:`replica.scan.runner`):
``scan.json``, ``tasks/<task>.<table>.<parquet|csv>`` with a checksummed manifest
``tasks/<task>.meta.json`` per complete task and ``tasks/<task>.error.json`` per failed one, and
``merged/<table>.<parquet|csv>`` from ``replica merge``. ``replica merge`` and ``replica report``
both read through it, so they agree on which tasks are complete.
"""
from __future__ import annotations

import json
import os

import pandas as pd

from mc.data_files import file_sha256

from ..table import HISTOGRAM_COLUMNS, POTENTIAL_COLUMNS, RESULT_COLUMNS

__all__ = ["TABLES", "ScanStatus", "scan_status", "load_scan", "table_files", "task_complete", "task_table_files",
           "manifest_path", "error_path", "sha256"]

#: The tables of a scan directory.
TABLES = ("results", "histograms", "potentials")
_EMPTY_COLUMNS = {"results": RESULT_COLUMNS, "histograms": HISTOGRAM_COLUMNS, "potentials": POTENTIAL_COLUMNS}
_TABLE_SUFFIXES = tuple(f".{t}.{ext}" for t in TABLES for ext in ("parquet", "csv"))

# ----------------------------------------------------------------------------- one task
def sha256(path):
    """SHA-256 of a file, hex (``mc.data_files.file_sha256``)."""
    return file_sha256(path)


def manifest_path(task_dir, name):
    """``tasks/<task>.meta.json``: the checksummed manifest of a complete task."""
    return os.path.join(task_dir, f"{name}.meta.json")


def error_path(task_dir, name):
    """``tasks/<task>.error.json``: the error record of a failed task."""
    return os.path.join(task_dir, f"{name}.error.json")


def task_complete(task_dir, name, spec_hash):
    """Whether a task's files are complete and intact: manifest readable, same spec hash, every
    listed file present with the recorded size and SHA-256."""
    try:
        with open(manifest_path(task_dir, name), encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or meta.get("spec_hash") != spec_hash or not isinstance(meta.get("files"), dict):
        return False
    if not meta["files"]:
        return False
    for base, rec in meta["files"].items():
        path = os.path.join(task_dir, base)
        try:
            if os.path.getsize(path) != rec["bytes"] or sha256(path) != rec["sha256"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True



# ----------------------------------------------------------------------------- the directory
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


def task_table_files(task_dir, task):
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


def table_files(path, status):
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
        for kind, file in task_table_files(task_dir, task).items():
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
    files, source, note = table_files(path, status)
    frames = {t: _concat([_read_frame(f) for f in files[t]], t) for t in tables}
    for frame in frames.values():
        frame.attrs.update(source=source, note=note)
    return frames
