"""The scan driver: tasks over MPI ranks, one atomic set of files per task, resume, merge.

Layout of an output directory::

    OUT/spec.toml          the spec as run (text)
    OUT/scan.json          scan name, spec hash, package version, task count
    OUT/tasks/<task>.results.parquet     result rows (``replica.table``)
    OUT/tasks/<task>.histograms.parquet  overlap histograms (when asked)
    OUT/tasks/<task>.meta.json           manifest: written last, it marks the task complete
    OUT/tasks/<task>.error.json          a failed task's error (the scan goes on)
    OUT/merged/{results,histograms,potentials}.parquet   built by :func:`merge`

Every file is written under a temporary name, fsynced and renamed (``replica.table.write_table``),
so a reader sees either no file or a complete one. The manifest lists the size and SHA-256 of the
task's tables: a task counts as done only if its manifest parses, names the same spec hash, and
every listed file exists with that size and checksum. A truncated or corrupt file (a full disk,
a copy gone wrong) therefore makes the task run again on ``--resume`` instead of poisoning the
merged table.

Signals: the first SIGINT or SIGTERM (SLURM sends one before the time limit when the job asks
``--signal``) lets the running task finish and write its files, then stops; a second one abandons
the running task at once (its temporary files are removed; nothing already written is touched).
Either way the exit status says "interrupted" and ``--resume`` continues where it stopped.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from mc import __version__

from .. import table
from ..cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK
from .spec import SpecError
from .tasks import assign, make_tasks, task_cost

__all__ = [
    "ScanSummary",
    "prepare_output",
    "task_complete",
    "run_scan",
    "merge",
    "dry_run",
    "reduce_exit_code",
]

_MANIFEST_VERSION = 1


# ----------------------------------------------------------------------------- files
def _atomic_write_text(path, text):
    table.write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest_path(task_dir, name):
    return os.path.join(task_dir, f"{name}.meta.json")


def _error_path(task_dir, name):
    return os.path.join(task_dir, f"{name}.error.json")


def task_complete(task_dir, name, spec_hash):
    """Whether a task's files are complete and intact: manifest readable, same spec hash, every
    listed file present with the recorded size and SHA-256."""
    try:
        with open(_manifest_path(task_dir, name), encoding="utf-8") as fh:
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
            if os.path.getsize(path) != rec["bytes"] or _sha256(path) != rec["sha256"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- output dir
def _scan_record(spec, n_tasks):
    return {
        "name": spec.scan.name,
        "spec_hash": spec.hash,
        "version": __version__,
        "n_tasks": n_tasks,
        "seed": spec.scan.seed,
        "created": _now(),
    }


def prepare_output(spec, out, *, resume=False, force=False):
    """Create (or check, on resume) the output directory; returns the task directory.

    A directory that already holds a scan needs ``resume``; a spec whose hash differs from the
    recorded one is refused unless ``force`` (the record is then rewritten, and tasks finished
    under the old spec run again because their manifests name the old hash).
    """
    out = os.fspath(out)
    record_path = os.path.join(out, "scan.json")
    task_dir = os.path.join(out, "tasks")
    if os.path.exists(record_path):
        try:
            with open(record_path, encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, ValueError) as exc:
            raise SpecError(f"out: {record_path!r} is unreadable ({exc}); remove it or choose another --out") from None
        if not resume:
            raise SpecError(f"out: {out!r} already holds a scan; pass --resume to continue it, or choose another --out")
        if old.get("spec_hash") != spec.hash and not force:
            raise SpecError(
                f"spec: differs from the one {out!r} was started with (hash {str(old.get('spec_hash'))[:12]} vs "
                f"{spec.hash[:12]}); pass --force to rerun under the new spec, or choose another --out"
            )
    elif os.path.isfile(out):
        raise SpecError(f"out: {out!r} is a file, not a directory")
    os.makedirs(task_dir, exist_ok=True)
    n_tasks = len(make_tasks(spec))
    if not os.path.exists(record_path) or force:
        _atomic_write_text(os.path.join(out, "spec.toml"), spec.source_text)
        _atomic_write_text(record_path, json.dumps(_scan_record(spec, n_tasks), indent=2) + "\n")
    return task_dir


# ----------------------------------------------------------------------------- signals
class _StopRequest:
    """First SIGINT/SIGTERM: stop after the current task. Second: abandon it now."""

    def __init__(self):
        self.count = 0
        self._old = {}

    def _handler(self, signum, frame):
        self.count += 1
        if self.count >= 2:
            raise KeyboardInterrupt(f"signal {signum}: abandoning the running task")

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False

    @property
    def requested(self):
        return self.count > 0


# ----------------------------------------------------------------------------- running
@dataclass
class ScanSummary:
    """What one rank did: counts of tasks and the exit status."""

    n_tasks: int = 0
    assigned: int = 0
    done: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)
    interrupted: bool = False
    wall_time: float = 0.0

    @property
    def exit_code(self):
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if self.failed else EXIT_OK


def _write_task_files(task_dir, task, frames, meta):
    paths = table.write_task(task_dir, task.name, frames["results"], frames.get("histograms"),
                             potentials=frames.get("potentials"))
    meta["files"] = {os.path.basename(p): {"bytes": os.path.getsize(p), "sha256": _sha256(p)} for p in paths}
    _atomic_write_text(_manifest_path(task_dir, task.name), json.dumps(meta, indent=2, default=str) + "\n")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_error_path(task_dir, task.name))


def _format_eta(seconds):
    if not np.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run_scan(spec, out, *, resume=False, force=False, comm=None, progress=True, stream=None, compute=None):
    """Run (or resume) a scan; returns this rank's :class:`ScanSummary`.

    ``comm`` is an mpi4py communicator (``None``: serial). Every rank validates, computes the same
    static assignment and runs its own share; rank 0 prepares the directory first. ``compute``
    replaces :func:`replica.scan.compute.run_task` (tests use it to inject failures).
    """
    if compute is None:
        from .compute import run_task as compute
    stream = sys.stderr if stream is None else stream
    rank = 0 if comm is None else comm.Get_rank()
    size = 1 if comm is None else comm.Get_size()
    t_start = time.perf_counter()

    error = None
    if rank == 0:
        try:
            task_dir = prepare_output(spec, out, resume=resume, force=force)
        except SpecError as exc:
            error = str(exc)
    if comm is not None:
        error = comm.bcast(error, root=0)
    if error is not None:
        raise SpecError(error)
    task_dir = os.path.join(os.fspath(out), "tasks")

    tasks = make_tasks(spec)
    costs = [task_cost(spec, t) for t in tasks]
    mine = assign(costs, size)[rank]
    summary = ScanSummary(n_tasks=len(tasks), assigned=len(mine))
    spec_hash = spec.hash
    host = socket.gethostname()
    done_cost, total_cost = 0.0, sum(costs[i] for i in mine)

    def say(msg):
        if progress:
            print(f"[rank {rank}/{size}] {msg}", file=stream, flush=True)

    with _StopRequest() as stop:
        try:
            for index in mine:
                task, cost = tasks[index], costs[index]
                if stop.requested:
                    summary.interrupted = True
                    break
                if resume and task_complete(task_dir, task.name, spec_hash):
                    summary.skipped += 1
                    total_cost -= cost
                    continue
                started, t0 = _now(), time.perf_counter()
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        frames = compute(spec, task)
                    meta = {
                        "manifest_version": _MANIFEST_VERSION,
                        "task": task.name,
                        "key": list(task.key(spec)),
                        "n_dim": task.n_dim,
                        "t": task.t,
                        "t_index": task.t_index,
                        "disorder": task.disorder,
                        "spec_hash": spec_hash,
                        "version": __version__,
                        "seed": spec.scan.seed,
                        "host": host,
                        "rank": rank,
                        "n_ranks": size,
                        "started": started,
                        "finished": _now(),
                        "wall_time": time.perf_counter() - t0,
                        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
                    }
                    _write_task_files(task_dir, task, frames, meta)
                except KeyboardInterrupt:
                    summary.interrupted = True
                    say(f"{task.name} abandoned (signal): it has no manifest and reruns on --resume")
                    break
                except Exception as exc:  # a failing task is recorded and the scan goes on
                    summary.failed.append(task.name)
                    record = {
                        "task": task.name, "key": list(task.key(spec)), "spec_hash": spec_hash, "version": __version__,
                        "host": host, "rank": rank, "time": _now(), "error": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc(),
                    }
                    with contextlib.suppress(OSError):
                        _atomic_write_text(_error_path(task_dir, task.name), json.dumps(record, indent=2) + "\n")
                    say(f"{task.name} FAILED: {type(exc).__name__}: {exc}")
                    continue
                summary.done += 1
                done_cost += cost
                elapsed = time.perf_counter() - t_start
                eta = elapsed / done_cost * max(total_cost - done_cost, 0.0) if done_cost > 0 else float("nan")
                say(f"{summary.done + summary.skipped + len(summary.failed)}/{len(mine)} {task.name} "
                    f"(N={task.n_dim}, t={task.t:.4g}, disorder {task.disorder}) {meta['wall_time']:.2f} s, "
                    f"ETA {_format_eta(eta)}")
        except KeyboardInterrupt:  # a second signal between tasks: nothing is half written
            summary.interrupted = True
    summary.wall_time = time.perf_counter() - t_start
    return summary


def reduce_exit_code(summary, comm=None):
    """The scan's exit status, the same on every rank (interrupted > failed > ok)."""
    code = summary.exit_code
    if comm is not None:
        from mpi4py import MPI

        code = comm.allreduce(code, op=MPI.MAX)
    return code


# ----------------------------------------------------------------------------- merge
_SORT = ["n_dim", "t", "disorder", "observable", "method"]


def _scan_hash(out):
    try:
        with open(os.path.join(out, "scan.json"), encoding="utf-8") as fh:
            return json.load(fh)["spec_hash"]
    except (OSError, ValueError, KeyError):
        raise SpecError(f"directory: {out!r} is not a scan directory (no readable scan.json)") from None


def merge(out):
    """Build ``OUT/merged/<table>.parquet`` (CSV without pyarrow) from the complete tasks.

    Only tasks whose manifest verifies (:func:`task_complete`) are read, so a half-written or
    corrupt task never reaches the merged table. Rows are sorted by (N, t, disorder, observable,
    method, q) so the merged tables do not depend on the number of ranks. Returns a dict
    ``{"tasks": n_complete, "missing": n_missing, "failed": n_failed, "paths": [...]}``.
    """
    out = os.fspath(out)
    if not os.path.isdir(out):
        raise SpecError(f"directory: {out!r} does not exist")
    spec_hash = _scan_hash(out)
    task_dir = os.path.join(out, "tasks")
    names = sorted(
        f[: -len(".meta.json")] for f in (os.listdir(task_dir) if os.path.isdir(task_dir) else [])
        if f.endswith(".meta.json") and not f.startswith(".")
    )
    complete = [n for n in names if task_complete(task_dir, n, spec_hash)]
    failed = sorted(
        f[: -len(".error.json")] for f in (os.listdir(task_dir) if os.path.isdir(task_dir) else [])
        if f.endswith(".error.json") and not f.startswith(".")
    )
    frames = {name: [] for name in ("results", "histograms", "potentials")}
    for name in complete:
        with open(_manifest_path(task_dir, name), encoding="utf-8") as fh:
            files = json.load(fh)["files"]
        for base in files:
            kind = base[len(name) + 1:].split(".")[0]
            path = os.path.join(task_dir, base)
            frames[kind].append(table.pd.read_parquet(path) if base.endswith(".parquet") else table.pd.read_csv(path))
    merged_dir = os.path.join(out, "merged")
    os.makedirs(merged_dir, exist_ok=True)
    fmt = "parquet" if table.parquet_available() else "csv"
    paths = []
    for kind, parts in frames.items():
        if not parts:
            continue
        df = table.pd.concat(parts, ignore_index=True, sort=False)
        keys = [k for k in _SORT + ["q"] if k in df.columns]
        df = df.sort_values(keys, kind="mergesort").reset_index(drop=True)
        paths.append(table.write_table(df, os.path.join(merged_dir, f"{kind}.{fmt}")))
    try:
        with open(os.path.join(out, "scan.json"), encoding="utf-8") as fh:
            n_tasks = int(json.load(fh).get("n_tasks", len(complete)))
    except (OSError, ValueError):
        n_tasks = len(complete)
    return {"tasks": len(complete), "missing": max(n_tasks - len(complete), 0), "failed": len(failed),
            "paths": paths}


# ----------------------------------------------------------------------------- dry run
def dry_run(spec, n_ranks=1, stream=None):
    """Print the task count, the estimated cost and the validated configuration."""
    stream = sys.stdout if stream is None else stream
    tasks = make_tasks(spec)
    costs = [task_cost(spec, t) for t in tasks]
    shares = assign(costs, n_ranks)
    per_rank = [sum(costs[i] for i in s) for s in shares]
    print(f"scan {spec.scan.name!r}: {len(tasks)} tasks = {len(spec.grid.n_dim)} N x {len(spec.grid.t)} t x "
          f"{spec.grid.disorder} disorder samples; spec hash {spec.hash[:12]}", file=stream)
    for n in spec.grid.n_dim:
        c = sum(cost for t, cost in zip(tasks, costs) if t.n_dim == n)
        print(f"  N = {n}: estimated {c:.3g} core-seconds", file=stream)
    print(f"estimated total {sum(costs):.3g} core-seconds; on {n_ranks} rank(s) about {max(per_rank):.3g} s "
          f"(rough: order of magnitude only)", file=stream)
    print("validated configuration:", file=stream)
    print(spec.describe(), file=stream)
    return len(tasks)
