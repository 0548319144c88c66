"""File modes for files written under a temporary name and renamed into place.

``tempfile.mkstemp`` creates its file with mode 0600 whatever the umask, and the rename keeps that
mode, so without help every result, manifest and checkpoint would be readable by its owner only.
:func:`honour_umask` gives such a file the mode an ordinary ``open(path, "w")`` would have,
``0o666 & ~umask``, so that a group can read results when the user's umask allows it.

Reading the umask: :func:`os.umask` can only read it by setting it, and the umask belongs to the
whole process, so a set-and-restore could hand another thread creating a file at that instant the
wrong mode. On Linux (4.7 and later) the umask is read without changing it from the ``Umask:``
line of ``/proc/self/status``, on every call, so a umask changed later by the program is
followed. Where that file is missing (other systems, old kernels) the umask is read once, by a
set-and-restore at import, before any thread of this package writes a file.
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["current_umask", "honour_umask", "fsync_directory", "write_atomic"]


def _proc_umask():
    """The umask from ``/proc/self/status`` (Linux >= 4.7), or ``None`` when it is not there."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _umask_by_set_and_restore():
    value = os.umask(0o022)
    os.umask(value)
    return value


_HAS_PROC_UMASK = _proc_umask() is not None
#: The umask read once at import, used only where ``/proc/self/status`` has no ``Umask:`` line.
_IMPORT_UMASK = None if _HAS_PROC_UMASK else _umask_by_set_and_restore()


def current_umask():
    """The process's file-mode creation mask, read without changing it where possible.

    Returns
    -------
    int
        The umask, e.g. ``0o022``.
    """
    if _HAS_PROC_UMASK:
        value = _proc_umask()
        if value is not None:
            return value
    return _IMPORT_UMASK if _IMPORT_UMASK is not None else _umask_by_set_and_restore()


def honour_umask(fd):
    """Give the open file ``fd`` the mode ``0o666 & ~umask`` of a newly created ordinary file.

    Parameters
    ----------
    fd : int
        A file descriptor of a file this process created (e.g. by ``tempfile.mkstemp``).
    """
    if hasattr(os, "fchmod"):  # POSIX; on Windows only a read-only bit exists and mkstemp leaves it off
        os.fchmod(fd, 0o666 & ~current_umask())


def fsync_directory(directory):
    """fsync a directory, so that a rename inside it survives a crash (errors ignored: some file
    systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path, write, *, prefix=None, suffix=".tmp", sync_directory=False):
    """Create ``path`` atomically: ``write(handle)`` fills a temporary file (binary) in the same
    directory, which is flushed, fsynced and renamed over ``path`` (the directory too with
    ``sync_directory``), so a reader sees no file or a complete one. On any error (or interrupt)
    the temporary file is removed and an existing ``path`` is untouched. The file gets the mode
    ``0o666 & ~umask`` of a newly created file (:func:`honour_umask`), not the 0600 of
    ``tempfile.mkstemp``. The temporary name is ``<prefix><random><suffix>``, by default
    ``.<file name>.<random>.tmp``. Returns ``path``."""
    import tempfile

    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    if prefix is None:
        prefix = "." + os.path.basename(path) + "."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            honour_umask(handle.fileno())
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_directory:
        fsync_directory(directory)
    return path
