"""Per-process defaults for scans, set before numpy and numba are imported (standard library only)."""
from __future__ import annotations

import os
import tempfile

__all__ = ["pin_threads"]


def _user():
    try:
        return str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        return os.environ.get("USERNAME", "user")


def pin_threads(environ=None):
    """Defaults for one process per core: BLAS / OpenMP / Numba threads 1, a node-local
    ``NUMBA_CACHE_DIR`` (under the system temporary directory, so ranks on many nodes do not write
    compiled kernels to a shared file system) and MPICH's progress throttle (much faster when
    ranks outnumber cores). Only variables the user has not set are changed; returns their names.
    It takes effect only before numpy and numba are imported: the ``replica scan`` command calls
    it first."""
    env = os.environ if environ is None else environ
    defaults = {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "NUMBA_CACHE_DIR": os.path.join(tempfile.gettempdir(), f"numba-cache-{_user()}"),
        "MPIR_CVAR_CH4_PROGRESS_THROTTLE": "1",
    }
    changed = []
    for name, value in defaults.items():
        if name not in env:
            env[name] = value
            changed.append(name)
    return changed
