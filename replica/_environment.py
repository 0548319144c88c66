"""Per-process defaults for scans, set before numpy and numba are imported (standard library only).

The Numba cache directory deserves care: Numba reads its index files back with :mod:`pickle`, so
whoever can write into the cache directory can run code in every process that uses it. The default
``NUMBA_CACHE_DIR`` of a scan has a predictable name in the shared temporary directory
(``$TMPDIR/numba-cache-<uid>``), which another user of the node could create first. It is therefore
created with mode 0700 and, when it already exists, used only if it is a real directory (not a
symbolic link) owned by the current user and writable by nobody else (:func:`private_cache_dir`);
otherwise a warning names it and a fresh private directory (``tempfile.mkdtemp``, removed at exit)
is used instead.
"""
from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import warnings

__all__ = ["pin_threads", "private_cache_dir", "unsafe_directory_reason"]


def _user():
    try:
        return str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        return os.environ.get("USERNAME", "user")


def unsafe_directory_reason(path, uid=None):
    """Why ``path`` must not hold code-bearing caches, or ``None`` when it is safe to use.

    Safe means: a real directory (``os.lstat``: a symbolic link is refused, since its target may
    belong to someone else), owned by ``uid`` and not writable by its group or by others.

    Parameters
    ----------
    path : str
        An existing path.
    uid : int, optional
        The user that must own it (default: the current user, ``os.getuid()``). Tests pass
        another value to check the ownership rule without changing file owners.

    Returns
    -------
    str or None
        A short reason (e.g. ``"owned by uid 1001"``) or ``None``.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no POSIX owner or mode bits
        return None
    uid = os.getuid() if uid is None else uid
    if info.st_uid != uid:
        return f"owned by uid {info.st_uid}, not by the current user (uid {uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by its group or by others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def private_cache_dir(path, uid=None):
    """Return a directory only the current user can write, for the Numba cache at ``path``.

    ``path`` is created with mode 0700 (its missing parents with the default mode) when it does
    not exist. An existing ``path`` is kept when :func:`unsafe_directory_reason` finds nothing
    wrong; otherwise a :class:`RuntimeWarning` names it and the reason, and a fresh private
    directory (``tempfile.mkdtemp``, mode 0700, removed when the process exits) is returned
    instead: the cache then starts empty, so kernels are compiled again.

    Parameters
    ----------
    path : str
        The wanted cache directory.
    uid : int, optional
        The user that must own an existing ``path`` (default: the current user).

    Returns
    -------
    str
        ``path`` or the replacement directory.
    """
    path = os.path.abspath(os.fspath(path))
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # exactly 0700: mkdir's mode is masked by the umask, which may drop owner bits
        return path
    except FileExistsError:
        reason = unsafe_directory_reason(path, uid)
    except OSError as exc:
        reason = f"cannot be created ({exc.strerror or exc})"
    if reason is None:
        return path
    fresh = tempfile.mkdtemp(prefix=f"numba-cache-{_user()}-")
    atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    warnings.warn(
        f"NUMBA_CACHE_DIR: refusing {path!r} ({reason}): Numba loads cached index files with pickle, so "
        f"another user able to write there could run code as you; using the private directory {fresh!r} "
        "for this run instead (remove or fix the directory, or set NUMBA_CACHE_DIR to a directory of your own)",
        RuntimeWarning,
        stacklevel=2,
    )
    return fresh


def pin_threads(environ=None):
    """Set per-process defaults for one process per core.

    BLAS / OpenMP / Numba threads 1, a node-local ``NUMBA_CACHE_DIR`` (``numba-cache-<uid>``
    under the system temporary directory, so ranks on many nodes do not write compiled kernels to
    a shared file system) and MPICH's progress throttle (much faster when ranks outnumber cores).
    Only variables the user has not set are given defaults. The cache directory, whether the
    default or the user's, goes through :func:`private_cache_dir`: created with mode 0700 when
    missing (on every node, since every rank calls this), and replaced by a fresh private
    directory, with a warning, when it exists but another user owns it or others may write
    into it. It takes effect only before numpy and numba are imported: the ``replica scan``
    command calls it first.

    Parameters
    ----------
    environ : dict, optional
        The environment to change (default ``os.environ``).

    Returns
    -------
    list of str
        The names of the variables that were set or replaced.
    """
    env = os.environ if environ is None else environ
    defaults = {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "MPIR_CVAR_CH4_PROGRESS_THROTTLE": "1",
    }
    changed = []
    for name, value in defaults.items():
        if name not in env:
            env[name] = value
            changed.append(name)
    wanted = env.get("NUMBA_CACHE_DIR") or os.path.join(tempfile.gettempdir(), f"numba-cache-{_user()}")
    cache = private_cache_dir(wanted)
    if not env.get("NUMBA_CACHE_DIR") or cache != os.path.abspath(wanted):
        env["NUMBA_CACHE_DIR"] = cache
        changed.append("NUMBA_CACHE_DIR")
    return changed
