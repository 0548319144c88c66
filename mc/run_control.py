"""Driver-side control of long runs: checkpoint files, stop signals and progress bars.

Kept apart from the engines (``mc.sampler``, ``replica.umbrella``) so that they only sample and
record; what touches the file system, the process's signal handlers or the terminal is here:

* :func:`check_checkpoint_path`, :func:`save_checkpoint`, :func:`load_checkpoint`: ``.npz``
  checkpoints written atomically (temporary file, fsync, rename; mode ``0o666 & ~umask``,
  :mod:`mc._fileio`) and read back without unpickling;
* :class:`StopSignals`: while active, SIGINT / SIGTERM (SLURM's warning before a time limit) only
  raise a flag, which the engine reads at its next consistent point to save and stop;
* :func:`progress_bar`: a tqdm bar when progress is shown (by default when stderr is a
  terminal), a no-op otherwise.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

import numpy as np

from ._fileio import write_atomic

__all__ = ["check_checkpoint_path", "save_checkpoint", "load_checkpoint", "StopSignals", "progress_bar",
           "show_progress"]


def check_checkpoint_path(path, key="checkpoint"):
    """The checkpoint path as a string, after checking it names a ``.npz`` file in an existing,
    writable directory (so that a bad path fails before any sampling, not at the first save).
    Raises ``ValueError`` naming ``key``."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"{key}: expected a path ending in .npz, got {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{key}: directory {directory!r} of {path!r} does not exist; create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{key}: directory {directory!r} of {path!r} is not writable")
    if os.path.isdir(path):
        raise ValueError(f"{key}: {path!r} is a directory, expected a .npz file name")
    return path


def save_checkpoint(path, arrays):
    """Write ``arrays`` (name -> array) to the ``.npz`` file ``path`` atomically: a temporary file
    in the same directory, fsync, rename. The file gets the mode ``0o666 & ~umask`` of a newly
    created file, not the 0600 of ``tempfile.mkstemp``."""
    write_atomic(path, lambda fh: np.savez(fh, **arrays), prefix=".checkpoint-", suffix=".npz")


def load_checkpoint(path):
    """The arrays of a checkpoint as a dict (read eagerly; never unpickles)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


class StopSignals:
    """Context manager: while active (and ``enabled``, in the main thread), SIGINT and SIGTERM
    are recorded instead of interrupting; :attr:`received` is the first one's name or ``None``.
    The previous handlers come back on exit."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self._seen = []
        self._previous = {}

    @property
    def received(self):
        return signal.Signals(self._seen[0]).name if self._seen else None

    def __enter__(self):
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, lambda signum, frame: self._seen.append(signum))
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False


def show_progress(progress):
    """Whether to show progress: ``progress`` itself, or by default (``None``) whether stderr is
    a terminal (not in batch jobs, whose stderr is a file)."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(progress, *, total, initial=0, unit, desc):
    """A tqdm progress bar when :func:`show_progress` says so, else an object whose ``update``
    and ``close`` do nothing."""
    if not show_progress(progress):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, leave=False)
