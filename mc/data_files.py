"""Users' data files for scans: loading, checking and min-max scaling of training points.

Accepted formats, chosen by the file's suffix (case-insensitive):

* ``.npy`` -- one NumPy array;
* ``.npz`` -- a NumPy archive: the array named by ``npz_key``, or its only array;
* ``.csv`` and ``.txt`` -- numbers separated by commas (spaces around them allowed), one point
  per line; lines starting with ``#`` are comments; a header row of names is refused.

Files are data, never code: NumPy files are read with ``allow_pickle=False``, so object arrays
(whose loading would run pickled code) are refused. Every error is a :class:`DataFileError`
whose message starts with the spec key of the offending field (``model.path``,
``model.labels``, ...) and says what was found and what is expected. Sizes are checked from the
file's header (``.npy``, ``.npz``) or a first pass over its lines (``.csv``) before any array is
built, so that a file too large for the memory cap is refused without being loaded.
"""
from __future__ import annotations

import hashlib
import os
import zipfile

import numpy as np

__all__ = ["DataFileError", "file_sha256", "read_array", "preprocess", "save_array"]

SUFFIXES = (".npy", ".npz", ".csv", ".txt")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
#: Entries checked at a time for NaN and infinity (bounds the temporary boolean array).
_CHUNK = 1 << 22
_KINDS = {"U": "strings", "S": "byte strings", "c": "complex numbers", "M": "dates", "m": "time spans"}


class DataFileError(ValueError):
    """A data file that cannot be used; the message starts with the spec key naming it."""


def save_array(path, array):
    """Write ``array`` as a ``.npy`` file atomically (a temporary file in the same directory,
    fsync, rename), never pickled: numeric arrays only (object arrays raise ``ValueError``),
    with the mode ``0o666 & ~umask`` of an ordinary new file. A way to hand data to a scan."""
    from ._fileio import write_atomic

    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"array: expected a numeric array, got dtype {arr.dtype}")
    write_atomic(path, lambda fh: np.save(fh, arr, allow_pickle=False))


def file_sha256(path):
    """Hexadecimal SHA-256 digest of the file's bytes, read in chunks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# reading --------------------------------------------------------------------------------------
def read_array(path, key, *, npz_key=None, max_bytes=None, ndim=2, integer=False):
    """Load and check one numeric array from a ``.npy``, ``.npz``, ``.csv`` or ``.txt`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The data file.
    key : str
        Spec key of the field naming the file (e.g. ``"model.path"``); every error starts with it.
    npz_key : str, optional
        Array to take from a ``.npz`` archive; needed when the archive holds several.
    max_bytes : float, optional
        Memory cap: an array whose converted size ``prod(shape) * 8`` bytes exceeds it is
        refused before it is built. The cap is reported as ``<section>.max_gib`` of ``key``'s
        spec section (``model.max_gib`` for ``model.path``).
    ndim : int
        Expected number of dimensions: 2 for points, shape ``(n_points, N)``; 1 for labels. A
        ``.csv`` of one column (or one row) is read as 1-D when ``ndim = 1``.
    integer : bool
        Read labels: integers or booleans, or floats that are all whole numbers, all ``>= 0``.

    Returns
    -------
    numpy.ndarray
        C-contiguous ``int64`` when ``integer``, else C-contiguous ``float64``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataFileError(f"{key}: no such file {path!r}")
    if os.path.isdir(path):
        raise DataFileError(f"{key}: {path!r} is a directory, expected a data file ({_supported()})")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{key}: unsupported file type {suffix or '(no suffix)'!r} of {path!r}; expected {_supported()}")
    try:
        if suffix == ".npy":
            arr = _read_npy(path, key, ndim, max_bytes, integer)
        elif suffix == ".npz":
            arr = _read_npz(path, key, npz_key, ndim, max_bytes, integer)
        else:
            arr = _read_csv(path, key, ndim, max_bytes, integer)
    except OSError as exc:
        raise DataFileError(f"{key}: cannot read {path!r} ({exc.strerror or exc})") from None
    return _finish(arr, path, key, integer)


def _supported():
    return ", ".join(SUFFIXES[:-1]) + " or " + SUFFIXES[-1]


def _magic(path, n=6):
    with open(path, "rb") as fh:
        return fh.read(n)


def _header(fp):
    """``(shape, dtype)`` from the header of a ``.npy`` stream, without reading its data."""
    version = np.lib.format.read_magic(fp)
    # Version 3.0 only differs from 2.0 by utf-8 field names (structured dtypes, refused anyway).
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(fp)
    return tuple(int(s) for s in shape), dtype


def _read_npy(path, key, ndim, max_bytes, integer):
    if _magic(path) != _NPY_MAGIC:
        raise DataFileError(f"{key}: {path!r} is not a .npy file (it lacks the NumPy header); is it corrupt or of another format?")
    try:
        with open(path, "rb") as fh:
            shape, dtype = _header(fh)
    except ValueError as exc:
        raise DataFileError(f"{key}: {path!r} has a corrupt .npy header ({exc})") from None
    _check_layout(shape, dtype, path, key, ndim, max_bytes, integer)
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        arr = np.array(mapped, dtype=_out_dtype(dtype, integer), order="C")
    except (ValueError, EOFError) as exc:
        raise DataFileError(f"{key}: {path!r} is truncated or corrupt ({exc})") from None
    del mapped
    return arr


def _read_npz(path, key, npz_key, ndim, max_bytes, integer):
    if _magic(path, 4) not in _ZIP_MAGICS:
        raise DataFileError(f"{key}: {path!r} is not a .npz archive (it is not a zip file); is it corrupt or of another format?")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted(npz.files)
            if npz_key is not None:
                if npz_key not in names:
                    raise DataFileError(f"{key}: {path!r} holds no array {npz_key!r} (npz_key); it holds {names}")
                name = npz_key
            elif len(names) == 1:
                name = names[0]
            elif not names:
                raise DataFileError(f"{key}: {path!r} holds no arrays")
            else:
                raise DataFileError(f"{key}: {path!r} holds several arrays {names}; set npz_key to the one to use")
            with zipfile.ZipFile(path) as zf, zf.open(name + ".npy") as member:
                shape, dtype = _header(member)
            _check_layout(shape, dtype, path, key, ndim, max_bytes, integer, f" (array {name!r})")
            return np.array(npz[name], dtype=_out_dtype(dtype, integer), order="C")
    except (ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(f"{key}: {path!r} is a corrupt .npz archive ({exc})") from None


def _out_dtype(dtype, integer):
    """float64, or the file's own integer/bool dtype for labels (cast to int64 after checks)."""
    return dtype if integer and dtype.kind in "biu" else np.float64


def _check_layout(shape, dtype, path, key, ndim, max_bytes, integer, where=""):
    """Dtype, shape, emptiness and memory checks made from the header, before loading."""
    src = f"{path!r}{where}"
    if dtype.hasobject:
        raise DataFileError(
            f"{key}: {src} holds an object array (dtype {dtype}); object arrays are refused because "
            "data files are read as data, never code (allow_pickle=False); save a numeric array instead"
        )
    if dtype.kind not in "biuf":
        what = "structured records" if dtype.names else _KINDS.get(dtype.kind, "raw bytes")
        raise DataFileError(f"{key}: {src} holds {what} (dtype {dtype}), expected real numbers (integers or floats)")
    _check_shape(shape, src, key, ndim, max_bytes, integer)


def _check_shape(shape, src, key, ndim, max_bytes, integer):
    want = "(n_points, N), one point per row" if ndim == 2 else "(n,), one value per point" if ndim == 1 else f"{ndim} dimensions"
    if len(shape) != ndim:
        hint = ""
        if ndim == 2 and len(shape) == 1:
            hint = "; for points of dimension 1 save it with shape (n, 1)"
        elif ndim == 2 and len(shape) > 2:
            hint = f"; flatten each point, e.g. to shape ({shape[0]}, {int(np.prod(shape[1:]))})"
        raise DataFileError(f"{key}: {src} holds a {len(shape)}-D array of shape {shape}, expected {want}{hint}")
    if 0 in shape:
        raise DataFileError(f"{key}: {src} holds an empty array of shape {shape}, expected {want} with at least one entry")
    nbytes = 8 * int(np.prod(shape, dtype=object))
    if max_bytes is not None and nbytes > max_bytes:
        section = key.rsplit(".", 1)[0] + "." if "." in key else ""
        noun = "points" if ndim == 2 else "values"
        raise DataFileError(
            f"{key}: {' x '.join(map(str, shape))} {noun} need {_size(nbytes)} as "
            f"{'int64' if integer else 'float64'}, above the memory cap {section}max_gib = {max_bytes / 2**30:.4g} GiB"
        )


def _size(nbytes):
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.1f} GiB"
    if nbytes >= 2**20 / 20:
        return f"{nbytes / 2**20:.1f} MiB"
    return f"{nbytes} bytes"


def _read_csv(path, key, ndim, max_bytes, integer):
    """Numbers separated by commas; a first pass counts rows and columns for the size check."""
    n_rows, n_cols = 0, 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if n_rows == 0:
                fields = text.split(",")
                try:
                    [float(f) for f in fields]
                except ValueError:
                    raise DataFileError(
                        f"{key}: {path!r} line {lineno} is not numbers separated by commas ({text[:60]!r}); "
                        "a CSV file must hold numbers only: if this is a header row, remove it (or start it with '#')"
                    ) from None
                n_cols = len(fields)
            n_rows += 1
    if n_rows == 0:
        raise DataFileError(f"{key}: {path!r} holds no numbers (no rows), expected at least one row")
    shape = (n_rows * n_cols,) if ndim == 1 and 1 in (n_rows, n_cols) else (n_rows, n_cols)
    _check_shape(shape, repr(path), key, ndim, max_bytes, integer)
    try:
        arr = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64, encoding="utf-8")
        return np.ascontiguousarray(arr.reshape(shape))
    except ValueError as exc:
        raise DataFileError(f"{key}: {path!r} is not a CSV file of numbers separated by commas ({exc})") from None


def _finish(arr, path, key, integer):
    """Finiteness and (labels) integrality checks; the final C-contiguous int64 or float64 copy."""
    if arr.dtype.kind == "f":
        _check_finite(arr, path, key)
    if not integer:
        return np.ascontiguousarray(arr, dtype=np.float64)
    if arr.dtype.kind == "f":
        frac = np.flatnonzero(arr.reshape(-1) != np.floor(arr.reshape(-1)))
        if frac.size:
            i = int(frac[0])
            raise DataFileError(
                f"{key}: {path!r} holds {frac.size} value(s) that are not whole numbers (the first, "
                f"{arr.reshape(-1)[i].item()!r}, at {_where(i, arr.shape)}); expected integer class labels"
            )
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise DataFileError(f"{key}: {path!r} holds labels above {np.iinfo(np.int64).max}, expected int64 labels")
    neg = np.flatnonzero(arr.reshape(-1) < 0)
    if neg.size:
        i = int(neg[0])
        raise DataFileError(
            f"{key}: {path!r} holds {neg.size} negative label(s) (the first, {arr.reshape(-1)[i].item()!r}, at "
            f"{_where(i, arr.shape)}); expected labels >= 0"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def _where(flat_index, shape):
    index = tuple(int(i) for i in np.unravel_index(flat_index, shape))
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}, counting from 0"
    return f"index {index[0] if len(index) == 1 else index}, counting from 0"


def _check_finite(arr, path, key):
    """Count NaN and infinite entries in chunks of ``_CHUNK``; report the count and the first."""
    flat = arr.reshape(-1)
    count, first = 0, None
    for start in range(0, flat.size, _CHUNK):
        bad = ~np.isfinite(flat[start : start + _CHUNK])
        n = int(np.count_nonzero(bad))
        if n and first is None:
            first = start + int(np.flatnonzero(bad)[0])
        count += n
    if count:
        raise DataFileError(
            f"{key}: {path!r} holds {count} NaN or infinite entr{'y' if count == 1 else 'ies'} (the first, "
            f"{flat[first]}, at {_where(first, arr.shape)}); expected finite numbers"
        )


# preprocessing --------------------------------------------------------------------------------
def preprocess(points, *, scale=None, centre=False, reference=None):
    """Min-max scale and/or centre points; or repeat the transform recorded for other data.

    With ``scale = (lo, hi)``, the global minimum and maximum over all entries (as for image
    pixels) map onto ``[lo, hi]``:

        x' = lo + (hi - lo) (x - min) / (max - min),

    and with ``centre`` the per-coordinate mean of the result is subtracted:

        x''_{mu i} = x'_{mu i} - (1/n) sum_nu x'_{nu i}.

    Parameters
    ----------
    points : array, shape (n_points, N)
        Points to transform; not modified.
    scale : (float, float), optional
        Target interval ``[lo, hi]``, ``lo < hi``.
    centre : bool
        Subtract the per-coordinate mean (after scaling).
    reference : dict, optional
        A ``record`` returned by an earlier call (on the training data): its ``data_min``,
        ``data_max`` and ``mean`` are applied to ``points`` (e.g. held-out points) instead of
        statistics of ``points``. ``scale`` and ``centre``, when given, must agree with it.

    Returns
    -------
    out : numpy.ndarray, shape (n_points, N)
        The transformed points (a new float64 array).
    record : dict
        JSON-serialisable description ``{"scale": [lo, hi] or None, "centre": bool,
        "data_min": float or None, "data_max": float or None, "mean": list or None}``.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.size == 0:
        raise DataFileError(f"points: expected a non-empty array of shape (n_points, N), got shape {pts.shape}")
    if reference is not None:
        record = _check_reference(reference, scale, centre, pts.shape[1])
    else:
        record = {"scale": None, "centre": bool(centre), "data_min": None, "data_max": None, "mean": None}
        if scale is not None:
            lo, hi = _check_scale(scale)
            record.update(scale=[lo, hi], data_min=float(pts.min()), data_max=float(pts.max()))
            if not record["data_max"] > record["data_min"]:
                raise DataFileError(
                    f"model.scale: every entry of the data equals {record['data_min']!r}; a constant array "
                    "cannot be min-max scaled (remove model.scale)"
                )
    out = np.array(pts, dtype=np.float64, order="C")
    if record["scale"] is not None:
        lo, hi = record["scale"]
        out -= record["data_min"]
        out *= (hi - lo) / (record["data_max"] - record["data_min"])
        out += lo
    if record["centre"]:
        if record["mean"] is None:
            record["mean"] = out.mean(axis=0).tolist()
        out -= np.asarray(record["mean"], dtype=np.float64)
    return out, record


def _check_scale(scale):
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataFileError(f"model.scale: expected [lo, hi], two numbers, got {scale!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataFileError(f"model.scale: expected [lo, hi] with finite lo < hi, got {scale!r}")
    return lo, hi


def _check_reference(reference, scale, centre, n_dim):
    """A copy of a previous ``record``, checked against ``scale``, ``centre`` and the dimension."""
    try:
        record = {k: reference[k] for k in ("scale", "centre", "data_min", "data_max", "mean")}
    except (KeyError, TypeError):
        raise DataFileError(f"reference: expected a record returned by preprocess, got {reference!r:.200}") from None
    if record["scale"] is not None:
        record["scale"] = list(_check_scale(record["scale"]))
        if record["data_min"] is None or record["data_max"] is None:
            raise DataFileError("reference: a scaled record needs data_min and data_max")
        record["data_min"], record["data_max"] = float(record["data_min"]), float(record["data_max"])
        if not record["data_max"] > record["data_min"]:
            raise DataFileError(f"reference: data_max must exceed data_min, got {record['data_min']}, {record['data_max']}")
    if scale is not None and (record["scale"] is None or list(_check_scale(scale)) != record["scale"]):
        raise DataFileError(f"model.scale: {list(scale)} differs from the reference transform's {record['scale']}")
    if centre and not record["centre"]:
        raise DataFileError("model.centre: the reference transform does not centre the data")
    record["centre"] = bool(record["centre"])
    if record["centre"]:
        if record["mean"] is None or len(record["mean"]) != n_dim:
            got = None if record["mean"] is None else len(record["mean"])
            raise DataFileError(f"model.centre: the reference mean has {got} coordinates, the points have dimension {n_dim}")
        record["mean"] = [float(m) for m in record["mean"]]
    return record
