"""The scan driver: tasks over MPI ranks, one atomic set of files per task, resume, merge.

Layout of an output directory::

    OUT/spec.toml          the spec as run (text)
    OUT/scan.json          scan name, spec hash, package version, task count
    OUT/scan.lock          held (POSIX lock) by the scan running on the directory, if any
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
import errno
import functools
import inspect
import json
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: scans run without a directory lock
    fcntl = None

import numpy as np

from mc import __version__

from .. import table
from ..exit_codes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK
from .directory import TABLES, error_path, manifest_path, scan_status, sha256, task_complete, task_table_files
from .progress import Progress
from .spec import SpecError
from .tasks import assign, make_tasks, task_cost

__all__ = [
    "ScanSummary",
    "prepare_output",
    "task_complete",
    "run_scan",
    "merge",
    "remove_stale_temporaries",
    "dry_run",
    "reduce_exit_code",
]

_MANIFEST_VERSION = 1


# ----------------------------------------------------------------------------- files
def _atomic_write_text(path, text):
    table.write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


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


# ----------------------------------------------------------------------------- directory lock
#: The lock file of a scan directory (holds the host, pid and start time of the holder).
LOCK_NAME = "scan.lock"
#: errno values of file systems without working locks (NFS without lockd, Lustre without
#: ``-o flock``): the scan then runs unlocked, with a warning.
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
#: Lock files this process holds, by real path: a POSIX lock never excludes the process that holds
#: it (and closing any descriptor of the file would drop it), so a second taker in the same
#: process is refused here.
_HELD_LOCKS = {}


class _ScanLock:
    """An exclusive POSIX record lock (``fcntl.lockf``) on ``OUT/scan.lock``.

    POSIX locks reach every client of a shared file system that forwards them: NFS (v3 with the
    ``lockd`` / NLM service, v4 natively), Lustre mounted with ``-o flock`` (with ``localflock``
    they exclude processes of one node only), GPFS / Spectrum Scale, BeeGFS with global locks, and
    of course local disks. Where the file system refuses locks (``ENOLCK``, ``ENOSYS``,
    ``EOPNOTSUPP``) the scan runs unlocked and a warning says so. The lock goes with the process:
    a scan killed by SIGKILL, or on a node that crashed (NFS: once the server notices), does not
    leave a stale lock behind, and the file itself is never removed.
    """

    def __init__(self, path, fd):
        self.path, self.fd = path, fd

    @classmethod
    def take(cls, out):
        """Take the lock of the scan directory ``out`` (created if missing) without waiting.

        Returns
        -------
        _ScanLock
            The held lock (``fd is None`` when the file system has no locks).

        Raises
        ------
        SpecError
            Naming ``out``, when another scan holds the lock (with its host and pid when it
            wrote them) or the lock file cannot be created.
        """
        out = os.fspath(out)
        path = os.path.join(out, LOCK_NAME)
        try:
            os.makedirs(out, exist_ok=True)
            key = os.path.realpath(path)
            if key in _HELD_LOCKS:
                raise SpecError(f"out: {out!r} is in use by another scan in this process (pid {os.getpid()})")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except FileExistsError:
            raise SpecError(f"out: {out!r} is a file, not a directory") from None
        except OSError as exc:
            raise SpecError(f"out: cannot create the lock file {path!r}: {exc.strerror or exc}") from None
        if fcntl is None:  # pragma: no cover - not POSIX
            os.close(fd)
            return cls(path, None)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise SpecError(
                    f"out: {out!r} is in use by another scan{holder}; wait for it to finish "
                    "(or stop it), or choose another --out"
                ) from None
            if exc.errno in _NO_LOCKS:
                warnings.warn(f"out: the file system of {out!r} does not support file locks ({exc.strerror}); "
                              "a second scan started on this directory would not be detected", RuntimeWarning,
                              stacklevel=2)
                return cls(path, None)
            raise SpecError(f"out: cannot lock {path!r}: {exc.strerror or exc}") from None
        _HELD_LOCKS[key] = fd
        record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": _now()}) + "\n"
        with contextlib.suppress(OSError):  # the record only helps the message of a refused scan
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode("utf-8"), 0)
            os.fsync(fd)
        return cls(path, fd)

    @classmethod
    def try_take(cls, out):
        """Take the lock if it is free; ``None`` when another scan holds it (or it cannot be taken)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lock = cls.take(out)
        except SpecError:
            return None
        if lock.fd is None:
            return None
        return lock

    def release(self):
        """Release the lock (closing the descriptor releases it); the lock file stays."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        _HELD_LOCKS.pop(os.path.realpath(self.path), None)
        os.close(self.fd)
        self.fd = None


def _lock_holder(fd):
    """`` (host H, pid P, since T)`` from the holder's record in the lock file, or ``""``."""
    try:
        rec = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f" (host {rec['host']}, pid {int(rec['pid'])}, since {rec['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def remove_stale_temporaries(out):
    """Remove the temporary files that writers killed by SIGKILL left in a scan directory.

    Only names of :func:`replica.table.write_atomic`'s pattern (``.<name>.<random>.tmp``) in
    ``OUT``, ``OUT/tasks`` and ``OUT/merged`` are removed. Call it only while holding the scan
    directory's lock: a running writer's temporary files have the same names. A file that cannot
    be removed (permissions) is left in place: readers skip names starting with a dot. Returns the
    paths removed.
    """
    out = os.fspath(out)
    removed = []
    for directory in (out, os.path.join(out, "tasks"), os.path.join(out, "merged")):
        for path in table.temporary_files(directory):
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def _remove_stale_temporaries_if_idle(out):
    """Remove stale temporary files of ``out`` if no scan holds its lock (taken and released here)."""
    lock = _ScanLock.try_take(out)
    if lock is None:
        return []
    try:
        return remove_stale_temporaries(out)
    finally:
        lock.release()


def _holding_scan_lock(run):
    """Run ``run`` (:func:`run_scan`) while rank 0 holds the scan directory's lock.

    Rank 0 takes the lock (:class:`_ScanLock`) before the directory is prepared, and on
    ``resume`` removes stale temporary files (:func:`remove_stale_temporaries`); the verdict is
    broadcast, so a refused scan raises the same :class:`SpecError` on every rank. After a normal
    return the ranks meet at a barrier, so the lock is released only when every rank has
    finished writing.
    """
    signature = inspect.signature(run)

    @functools.wraps(run)
    def locked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        options = bound.arguments
        out, comm = os.fspath(options["out"]), options.get("comm")
        rank = 0 if comm is None else comm.Get_rank()
        lock, error = None, None
        if rank == 0:
            try:
                lock = _ScanLock.take(out)
                if options.get("resume") and lock.fd is not None:
                    removed = remove_stale_temporaries(out)
                    if removed and options.get("progress", True):
                        print(f"[rank 0] removed {len(removed)} temporary file(s) left by an interrupted run",
                              file=options.get("stream") or sys.stderr, flush=True)
            except SpecError as exc:
                error = str(exc)
        if comm is not None:
            error = comm.bcast(error, root=0)
        if error is not None:
            if lock is not None:
                lock.release()
            raise SpecError(error)
        finished = False
        try:
            result = run(*args, **kwargs)
            finished = True
            return result
        finally:
            if finished and comm is not None:
                comm.Barrier()
            if lock is not None:
                lock.release()

    return locked


# ----------------------------------------------------------------------------- signals
class _StopRequest:
    """First SIGINT/SIGTERM: stop after the current task. Second: abandon it now. Later ones are
    only counted, so that the stop itself (and its bookkeeping) is never interrupted twice."""

    def __init__(self):
        self.count = 0
        self._old = {}

    def _handler(self, signum, frame):
        self.count += 1
        if self.count == 2:
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
    #: Set when a task's files could not be written for lack of space (``ENOSPC``, ``EDQUOT``):
    #: the message names the directory; the rank stopped there (``interrupted`` is set too).
    no_space: str | None = None

    @property
    def exit_code(self):
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if self.failed else EXIT_OK


def _write_task_files(task_dir, task, frames, meta):
    paths = table.write_task(task_dir, task.name, frames["results"], frames.get("histograms"),
                             potentials=frames.get("potentials"))
    meta["files"] = {os.path.basename(p): {"bytes": os.path.getsize(p), "sha256": sha256(p)} for p in paths}
    _atomic_write_text(manifest_path(task_dir, task.name), json.dumps(meta, indent=2, default=str) + "\n")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(error_path(task_dir, task.name))


#: errno values of a full disk or an exhausted quota: the scan stops instead of failing every task.
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


@_holding_scan_lock
def run_scan(spec, out, *, resume=False, force=False, comm=None, progress=True, stream=None, compute=None):
    """Run (or resume) a scan; returns this rank's :class:`ScanSummary`.

    ``comm`` is an mpi4py communicator (``None``: serial). Every rank validates, computes the same
    static assignment and runs its own share; rank 0 prepares the directory first. ``compute``
    replaces :func:`replica.scan.compute.run_task` (tests use it to inject failures).

    ``progress``: ``False`` nothing, ``True`` one progress bar on a terminal or a line every
    10 % otherwise (rank 0), ``"verbose"`` a line per task from every rank
    (:class:`replica.scan.progress.Progress`). A failed task is recorded (``.error.json``) and
    the scan goes on, except when its files could not be written for lack of space (``ENOSPC``
    or ``EDQUOT``): the rank then starts no more tasks, keeps what it wrote and returns with
    ``interrupted`` and ``no_space`` set (exit status 3: free space and resume).

    Rank 0 holds the lock ``OUT/scan.lock`` for the whole run (:class:`_ScanLock`), so a second
    scan on the same directory stops with a :class:`SpecError` naming the directory and the
    holder's host and pid instead of computing the same tasks again; on ``resume`` the
    temporary files of a killed run are removed under that lock.

    With ``sampler.ranks_per_task = m > 1`` the ranks form groups of ``m`` consecutive ranks
    (``comm.Split``; ``m`` must divide the number of ranks, else a :class:`SpecError` naming the
    key), the tasks are dealt to the groups, and each group runs its tasks together on its
    sub-communicator (``compute(spec, task, comm=group)``); the group's first rank writes the
    files, reports progress and counts the tasks in its summary (the others count none), and
    decides, for the whole group, to skip a finished task, to stop, or that a task failed.
    """
    if compute is None:
        from .compute import run_task as compute
    stream = sys.stderr if stream is None else stream
    rank = 0 if comm is None else comm.Get_rank()
    size = 1 if comm is None else comm.Get_size()
    t_start = time.perf_counter()
    per_task = spec.sampler.ranks_per_task
    if size % per_task:
        raise SpecError(f"sampler.ranks_per_task: {per_task} does not divide the {size} rank(s) of this run; launch a "
                        f"multiple of {per_task} ranks (e.g. mpiexec -n {per_task * max(1, size // per_task)})")

    error = None
    if rank == 0:
        try:
            task_dir = prepare_output(spec, out, resume=resume, force=force)
        except SpecError as exc:
            error = str(exc)
        except OSError as exc:  # e.g. a full disk while writing spec.toml / scan.json
            error = f"out: cannot prepare {os.fspath(out)!r}: {exc.strerror or exc}"
    if comm is not None:
        error = comm.bcast(error, root=0)
    if error is not None:
        raise SpecError(error)
    task_dir = os.path.join(os.fspath(out), "tasks")

    tasks = make_tasks(spec)
    costs = [task_cost(spec, t) for t in tasks]
    group = _TaskGroup(comm, per_task)
    mine = assign(costs, group.count)[group.index]
    summary = ScanSummary(n_tasks=len(tasks), assigned=len(mine) if group.leader else 0)
    spec_hash = spec.hash
    host = socket.gethostname()
    report = Progress(progress if group.leader else False, name=spec.scan.name, costs=[costs[i] for i in mine],
                      rank=group.index, size=group.count, stream=stream)

    with _StopRequest() as stop, contextlib.closing(report):
        try:
            for index in mine:
                task, cost = tasks[index], costs[index]
                if group.agree(stop.requested):
                    summary.interrupted = True
                    break
                if resume and group.agree(task_complete(task_dir, task.name, spec_hash)):
                    if group.leader:
                        summary.skipped += 1
                        report.skipped(cost)
                    continue
                started, t0, writing = _now(), time.perf_counter(), False
                if not group.leader:
                    # the group's first rank writes the files and decides what the group does next
                    verdict = group.follow(compute, spec, task)
                    if verdict == "stop":
                        summary.interrupted = True
                        break
                    continue
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        frames = group.compute(compute, spec, task)
                    meta = {
                        "manifest_version": _MANIFEST_VERSION,
                        "task": task.name,
                        "key": list(task.key(spec)),
                        "n_dim": task.n_dim,
                        "n_points": task.n_points,
                        "data": spec.model.data,
                        "t": task.t,
                        "t_index": task.t_index,
                        "disorder": task.disorder,
                        "spec_hash": spec_hash,
                        "version": __version__,
                        "seed": spec.scan.seed,
                        "host": host,
                        "rank": rank,
                        "n_ranks": size,
                        "ranks_per_task": per_task,
                        "started": started,
                        "finished": _now(),
                        "wall_time": time.perf_counter() - t0,
                        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
                    }
                    writing = True
                    _write_task_files(task_dir, task, frames, meta)
                except KeyboardInterrupt:
                    summary.interrupted = True
                    report.note(f"{task.name} abandoned (signal): it has no manifest and reruns on --resume")
                    group.announce("stop")
                    break
                except Exception as exc:  # a failing task is recorded and the scan goes on
                    if writing and isinstance(exc, OSError) and exc.errno in _NO_SPACE:
                        # a full disk: every further task would fail the same way; stop, keep
                        # what is written (this task has no manifest and reruns on --resume)
                        summary.interrupted = True
                        summary.no_space = (f"no space left in {task_dir!r} ({exc.strerror or os.strerror(exc.errno)}) "
                                            f"while writing task {task.name}")
                        group.announce("stop")
                        break
                    summary.failed.append(task.name)
                    record = {
                        "task": task.name, "key": list(task.key(spec)), "spec_hash": spec_hash, "version": __version__,
                        "host": host, "rank": rank, "time": _now(), "error": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc(),
                    }
                    with contextlib.suppress(OSError):
                        _atomic_write_text(error_path(task_dir, task.name), json.dumps(record, indent=2) + "\n")
                    report.failed(task.name, exc, cost)
                    group.announce("go")
                    continue
                group.announce("go")
                summary.done += 1
                report.done(task, meta["wall_time"], cost)
        except KeyboardInterrupt:  # a second signal between tasks: nothing is half written
            summary.interrupted = True
    summary.wall_time = time.perf_counter() - t_start
    return summary


class _TaskGroup:
    """The ranks that run a task together (``sampler.ranks_per_task``) and how they agree.

    ``m = 1`` (or no communicator): every rank is its own group and nothing is communicated.
    Otherwise consecutive ranks ``m g .. m g + m - 1`` form group ``g`` (``comm.Split``); its first
    rank, the leader, decides and the others follow: :meth:`agree` broadcasts the leader's value,
    :meth:`announce` the leader's verdict after a task (``"go"`` or ``"stop"``), which
    :meth:`follow` returns on the other ranks after running their part of the task.
    """

    def __init__(self, comm, per_task):
        size = 1 if comm is None else comm.Get_size()
        rank = 0 if comm is None else comm.Get_rank()
        if per_task > 1:
            self.comm = comm.Split(rank // per_task, rank)
            self.index, self.count, self.leader = rank // per_task, size // per_task, self.comm.Get_rank() == 0
        else:
            self.comm = None
            self.index, self.count, self.leader = rank, size, True

    def agree(self, value):
        """The leader's ``value`` on every rank of the group."""
        return value if self.comm is None else self.comm.bcast(value, root=0)

    def compute(self, compute, spec, task):
        return compute(spec, task) if self.comm is None else compute(spec, task, comm=self.comm)

    def announce(self, verdict):
        if self.comm is not None:
            self.comm.bcast(verdict, root=0)

    def follow(self, compute, spec, task):
        """A rank other than the leader: its part of the task (an error is the leader's to record:
        the computation is the same on every rank), then the leader's verdict."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.compute(compute, spec, task)
        except Exception:  # noqa: BLE001 - recorded by the leader, whose computation failed alike
            pass
        return self.comm.bcast(None, root=0)


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


def _concat_task_files(paths):
    """The task files ``paths`` (one table kind) as one DataFrame, rows in the order of ``paths``:
    the frame ``pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True, sort=False)``.

    Parquet files that share one schema (columns, types and pandas metadata: the files of one
    scan) are read as Arrow tables, concatenated, and converted to pandas once, through
    ``pd.read_parquet`` of the concatenated table, so the conversion (dtypes, index) is the one of
    a single file; converting each small file on its own dominated the merge of a large scan.
    CSV files, or parquet files whose schemas differ, are read and concatenated file by file.
    """
    pd = table.pd
    if all(p.endswith(".parquet") for p in paths):
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for p in paths:
            with pq.ParquetFile(p) as fh:
                tables.append(fh.read())
        schema = tables[0].schema
        if all(t.schema.equals(schema, check_metadata=True) for t in tables[1:]):
            sink = pa.BufferOutputStream()
            pq.write_table(pa.concat_tables(tables), sink, compression="none")
            return pd.read_parquet(io.BytesIO(sink.getvalue().to_pybytes()))
    frames = [pd.read_parquet(p) if p.endswith(".parquet") else pd.read_csv(p) for p in paths]
    return pd.concat(frames, ignore_index=True, sort=False)


def merge(out):
    """Build ``OUT/merged/<table>.parquet`` (CSV without pyarrow) from the complete tasks.

    Only tasks whose manifest verifies (:func:`task_complete`) are read, so a half-written or
    corrupt task never reaches the merged table. When no scan holds the directory's lock, the
    temporary files left by killed writers are removed first (:func:`remove_stale_temporaries`). Rows are sorted by (N, t, disorder, observable,
    method, q) so the merged tables do not depend on the number of ranks. Returns a dict
    ``{"tasks": n_complete, "missing": n_missing, "failed": n_failed, "paths": [...]}``.
    """
    out = os.fspath(out)
    if not os.path.isdir(out):
        raise SpecError(f"directory: {out!r} does not exist")
    _scan_hash(out)  # a scan directory: its scan.json names the spec every task is checked against
    _remove_stale_temporaries_if_idle(out)
    status = scan_status(out)  # the reader replica report uses: the same complete tasks
    files_of = {name: [] for name in TABLES}
    for name in status.done:
        for kind, path in task_table_files(os.path.join(out, "tasks"), name).items():
            files_of[kind].append(path)
    merged_dir = os.path.join(out, "merged")
    os.makedirs(merged_dir, exist_ok=True)
    fmt = "parquet" if table.parquet_available() else "csv"
    paths = []
    for kind, parts in files_of.items():
        if not parts:
            continue
        df = _concat_task_files(parts)
        keys = [k for k in _SORT + ["q"] if k in df.columns]
        df = df.sort_values(keys, kind="mergesort").reset_index(drop=True)
        paths.append(table.write_table(df, os.path.join(merged_dir, f"{kind}.{fmt}")))
    n_done = len(status.done)
    n_tasks = n_done if status.n_tasks is None else status.n_tasks
    return {"tasks": n_done, "missing": max(n_tasks - n_done, 0), "failed": len(status.failed), "paths": paths}


# ----------------------------------------------------------------------------- dry run
def _synthetic_task_frames(spec, rng):
    """Tables shaped like one task's (this spec's columns, about its number of rows, random
    values), for :func:`write_cost`. Rows: the observables (plus ``q2`` / ``q4``) once per route
    (exact, exact draws, Monte Carlo), the sampler's diagnostics and z-scores for Monte Carlo,
    ``bins`` histogram rows per route when ``overlap_histogram`` is asked, and a Franz-Parisi
    curve when the spec has one."""
    names = [n for n in spec.observables.names if n != "overlap_histogram"] + ["q2", "q4"]
    s = spec.sampler
    mc_run = s.method != "exact"
    routes = 1 + int((not mc_run and s.draws > 0) or (mc_run and s.exact_reference))
    params = {k: v for k, v in spec.model.params.items() if k != "n_dim" and np.isscalar(v)}
    params.update({f"process_{k}": v for k, v in spec.process.params.items() if np.isscalar(v)})
    n_dim, t = spec.grid.n_dim[-1], spec.grid.t[-1]

    def frame(columns, n, text):
        cols = {}
        for c in columns:
            if c in ("scan", "model", "process", "version", "source", "method", "kind", "order_parameter"):
                cols[c] = [spec.scan.name if c == "scan" else c] * n
            elif c == "observable":
                cols[c] = [text[i % len(text)] for i in range(n)]
            elif c in ("n_dim", "disorder", "seed", "n_samples", "n_references"):
                cols[c] = np.full(n, n_dim if c == "n_dim" else 1000, dtype=np.int64)
            elif c in ("planted", "normalised"):
                cols[c] = np.ones(n, dtype=bool)
            elif c == "t":
                cols[c] = np.full(n, t)
            else:
                cols[c] = rng.standard_normal(n)
        for k, v in params.items():
            cols[k] = [v] * n
        return table.pd.DataFrame(cols)

    n_results = len(names) * routes + ((12 + len(names)) if mc_run else 0)
    frames = {"results": frame(table.RESULT_COLUMNS, n_results, names)}
    if "overlap_histogram" in spec.observables.names:
        frames["histograms"] = frame(table.HISTOGRAM_COLUMNS, spec.observables.bins * routes, ["P(q)"])
    if spec.franz_parisi is not None:
        n_q = len(spec.franz_parisi.q) if spec.franz_parisi.q else 51
        frames["potentials"] = frame(table.POTENTIAL_COLUMNS, n_q, ["V(q)"])
        frames["results"] = table.pd.concat([frames["results"], frames["results"].iloc[:6]], ignore_index=True)
    return frames


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while True:
        try:
            os.stat(path)
            return path
        except OSError:
            parent = os.path.dirname(path)
            if parent == path:
                return path
            path = parent


def write_cost(spec, out, repeats=3):
    """Bytes one task writes and the time it takes to write them into ``out``'s file system.

    The bytes are those of synthetic tables shaped like a task's (:func:`_synthetic_task_frames`:
    this spec's columns, about its number of rows) plus a manifest, in the run's format. The time
    is measured: ``repeats`` times, those files are written the way the runner writes a task
    (``replica.table.write_atomic``: temporary name, fsync, rename, fsync of the directory, then
    a SHA-256 pass) into a scratch directory made in ``out`` or, when ``out`` does not exist yet,
    in its nearest existing parent; the scratch directory is removed again. The median is
    returned. On a parallel file system the fsyncs dominate.

    Returns
    -------
    dict
        ``bytes`` (per task), ``files``, ``rows`` (per table), ``seconds`` (median per task, or
        ``None`` when nothing could be written), ``where`` (the directory measured in) and
        ``error`` (why it could not be measured, else ``None``).
    """
    import shutil
    import statistics
    import tempfile

    rng = np.random.default_rng(0)
    frames = _synthetic_task_frames(spec, rng)
    where = _existing_ancestor(out)
    info = {"rows": {k: len(v) for k, v in frames.items()}, "files": len(frames) + 1, "where": where,
            "bytes": None, "seconds": None, "error": None}
    try:
        scratch = tempfile.mkdtemp(prefix=".replica-dry-run-", suffix=".d", dir=where)
    except OSError as exc:
        info["error"] = f"cannot write in {where!r}: {exc.strerror or exc}"
        return info
    times = []
    try:
        fmt = "parquet" if table.parquet_available() else "csv"
        for r in range(repeats):
            t0 = time.perf_counter()
            name = f"probe{r}"
            paths = [table.write_table(df, os.path.join(scratch, f"{name}.{kind}.{fmt}"))
                     for kind, df in frames.items()]
            files = {os.path.basename(p): {"bytes": os.path.getsize(p), "sha256": sha256(p)} for p in paths}
            meta = json.dumps({"manifest_version": _MANIFEST_VERSION, "task": name, "key": [0] * 6, "files": files,
                               "spec_hash": spec.hash, "version": __version__, "host": socket.gethostname(),
                               "started": _now(), "finished": _now(), "warnings": []}, indent=2) + "\n"
            _atomic_write_text(os.path.join(scratch, f"{name}.meta.json"), meta)
            times.append(time.perf_counter() - t0)
        info["bytes"] = sum(os.path.getsize(os.path.join(scratch, f)) for f in os.listdir(scratch)) // repeats
        info["seconds"] = statistics.median(times)
    except OSError as exc:
        info["error"] = f"cannot write in {where!r}: {exc.strerror or exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return info


def _output_state(spec, out, resume):
    """One line on what a run would find at ``out`` (nothing is created)."""
    try:
        os.stat(out)
    except FileNotFoundError:
        return "does not exist yet; the scan creates it"
    except OSError as exc:
        return f"cannot be used: {exc.strerror or exc}"
    if not os.path.isdir(out):
        return "is a file, not a directory: the scan would stop (exit 2)"
    record = os.path.join(out, "scan.json")
    if not os.path.exists(record):
        return "exists and holds no scan yet"
    try:
        with open(record, encoding="utf-8") as fh:
            old_hash = json.load(fh).get("spec_hash")
    except (OSError, ValueError, AttributeError):
        return "holds an unreadable scan.json: the scan would stop (exit 2)"
    task_dir = os.path.join(out, "tasks")
    n_meta = sum(f.endswith(".meta.json") for f in os.listdir(task_dir)) if os.path.isdir(task_dir) else 0
    if old_hash != spec.hash:
        return (f"holds a scan of another spec (hash {str(old_hash)[:12]}, {n_meta} task manifests): refused unless "
                "--resume --force (which reruns every task)")
    if not resume:
        return f"holds this scan ({n_meta} task manifests): refused without --resume"
    return f"holds this scan ({n_meta} task manifests): --resume skips the complete ones"


def dry_run(spec, n_ranks=1, stream=None, out=None, out_key="--out", resume=False):
    """Print the task count, the output directory, the estimated cost (compute and writes) and
    the validated configuration. Nothing is created in ``out``; :func:`write_cost` writes and
    removes a few scratch files to time the writes."""
    stream = sys.stdout if stream is None else stream
    tasks = make_tasks(spec)
    costs = [task_cost(spec, t) for t in tasks]
    per_task = spec.sampler.ranks_per_task
    shares = assign(costs, max(1, n_ranks // per_task))
    sizes = "" if spec.model.axis_values == (None,) else f"{len(spec.model.axis_values)} n_points x "
    print(f"scan {spec.scan.name!r}: {len(tasks)} tasks = {len(spec.grid.n_dim)} N x {sizes}{len(spec.grid.t)} t x "
          f"{spec.grid.disorder} disorder samples; spec hash {spec.hash[:12]}", file=stream)
    write_s = 0.0
    if out is not None:
        out = os.fspath(out)
        cost = write_cost(spec, out)
        state = _output_state(spec, out, resume)
        if cost["error"] is not None and not state.startswith("cannot"):
            state = f"{cost['error']}: the scan would stop (exit 2)"
        print(f"output directory: {out} ({out_key}): {state}", file=stream)
        if cost["bytes"] is not None:
            rows = ", ".join(f"{n} {k} rows" for k, n in cost["rows"].items())
            print(f"  writes per task: about {cost['bytes'] / 1e3:.3g} kB in {cost['files']} files ({rows} and a "
                  f"manifest; sized from synthetic tables with this spec's columns), "
                  f"{cost['bytes'] * len(tasks) / 1e6:.3g} MB in all", file=stream)
            write_s = cost["seconds"]
            print(f"  write time per task: {1e3 * write_s:.3g} ms (measured: median of 3 fsynced atomic writes of "
                  f"those files in {cost['where']}), {write_s * len(tasks):.3g} s in all", file=stream)
        else:
            print(f"  writes not measured: {cost['error']}", file=stream)
    for n in spec.grid.n_dim:
        c = sum(cost for t, cost in zip(tasks, costs) if t.n_dim == n)
        print(f"  N = {n}: estimated {c:.3g} core-seconds", file=stream)
    # a group of ranks_per_task ranks shares each task's sweeps (about evenly, at best)
    per_rank = [sum(costs[i] for i in s) / per_task + write_s * len(s) for s in shares]
    writes = f" + {write_s * len(tasks):.3g} s of writes" if write_s else ""
    if per_task > 1:
        fits = ("" if n_ranks % per_task == 0 else
                f"; {n_ranks} is not a multiple of {per_task}: the scan would stop (exit 2)")
        print(f"each task on {per_task} ranks (sampler.ranks_per_task): {n_ranks // per_task} group(s) of ranks"
              + fits, file=stream)
    print(f"estimated total {sum(costs):.3g} core-seconds{writes}; on {n_ranks} rank(s) about {max(per_rank):.3g} s "
          f"(rough: order of magnitude only)", file=stream)
    print("validated configuration:", file=stream)
    print(spec.describe(), file=stream)
    return len(tasks)
