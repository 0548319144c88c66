"""Pooling the disorder samples of several scans of one ensemble.

A disorder average over more samples is often gathered from several scans: a first scan, then
more disorder samples from a second seed, then a larger N on its own. Scans whose specs differ
only in :data:`POOLABLE_KEYS` sample the same ensemble (same model, process, times, sampler and
observables), and scans with different seeds (``scan.seed``, ``scan.id``), or with no N in
common, draw independent disorder samples (every task seeds its randomness from them and its
own key). Their result tables
then pool into one: the disorder labels of the k-th scan are shifted by the disorder counts of
the scans before it, so that every disorder sample keeps its own label and
:func:`replica.summary.disorder_summary` averages over all of them. The ``scan`` and ``seed``
columns keep saying where each row came from.

Pooling is refused, with an error naming the key or the scans, when the specs differ in
anything else; when two scans share a seed and an N: their tasks would be the same draws,
counted twice; and for a random model with ``model.realisation = "fixed"`` when their seeds
differ: each seed fixes its own training set (couplings, patterns), and the disorder samples of
one scan share it, so they are not independent draws of one ensemble.
"""
from __future__ import annotations

import functools
import os
import sys

import pandas as pd

from .directory import load_scan, scan_status, table_files
from .spec import MODELS, SpecError, parse_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

__all__ = ["POOLABLE_KEYS", "PooledScans", "pool_scans"]

#: Spec keys in which pooled scans may differ.
POOLABLE_KEYS = ("scan.name", "scan.seed", "scan.id", "grid.n_dim", "grid.disorder")


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def _spec_text(directory):
    path = os.path.join(directory, "spec.toml")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        raise ValueError(f"directories: {directory!r} has no spec.toml (the spec as run, written by "
                         f"`replica scan`), so it cannot be checked for pooling") from None


def _configurations(directories, texts):
    """The flattened configuration of every spec: validated (:meth:`ScanSpec.canonical`, so that a
    default and the same value written out compare equal) when every spec validates where its
    directory is, else the TOML as written (data-file paths relative to a spec that moved)."""
    try:
        return [_flatten(parse_spec(text, base_dir=d, score_files=False).canonical())
                for d, text in zip(directories, texts)]
    except SpecError:
        raws = []
        for text in texts:
            raw = tomllib.loads(text)
            raw.get("scan", {}).pop("output", None)
            raws.append(_flatten(raw))
        return raws


class PooledScans:
    """Several scan directories read as one (see the module docstring).

    Attributes
    ----------
    directories, statuses : list
        The directories and their :class:`replica.scan.directory.ScanStatus`.
    names : list of str
    seeds : list of tuple
        ``(scan.seed, scan.id)`` of each scan.
    n_dims : list of tuple
        The N of each scan (``(None,)`` when its data set fixes N).
    offsets : list of int
        The shift added to each scan's ``disorder`` labels: the sum of ``grid.disorder`` over
        the scans before it.
    """

    def __init__(self, directories, statuses, names, seeds, n_dims, counts):
        self.directories = directories
        self.statuses = statuses
        self.names = names
        self.seeds = seeds
        self.n_dims = n_dims
        self.counts = counts
        self.offsets = [sum(counts[:k]) for k in range(len(counts))]

    def describe(self):
        """One line per scan: name, seed, N, disorder samples and the shift of their labels."""
        lines = []
        for name, d, seed, n, count, off in zip(self.names, self.directories, self.seeds, self.n_dims,
                                                self.counts, self.offsets):
            sizes = "from its data" if n == (None,) else list(n)
            ident = f"seed {seed[0]}" + (f", id {seed[1]}" if seed[1] else "")
            lines.append(f"  {name} ({d}): {ident}, N = {sizes}, {count} disorder samples, "
                         f"labels {off}..{off + count - 1}")
        return "\n".join(lines)

    @functools.cached_property
    def _files(self):
        """``{table: [files]}`` of each scan (:func:`replica.scan.directory.table_files`), listed once."""
        return [table_files(d, status)[0] for d, status in zip(self.directories, self.statuses)]

    def load(self, tables=("results", "potentials")):
        """The pooled tables ``{table: DataFrame}``, disorder labels shifted; ``attrs["note"]``
        says which files were read for each scan."""
        per_scan = [load_scan(d, status, tables=tables) for d, status in zip(self.directories, self.statuses)]
        out = {}
        for table in tables:
            frames = [_shifted(scan[table], offset) for scan, offset in zip(per_scan, self.offsets)]
            kept = [f for f in frames if not f.empty] or frames[:1]
            pooled = pd.concat(kept, ignore_index=True)
            notes = "; ".join(scan[table].attrs.get("note", "") for scan in per_scan)
            pooled.attrs = {"source": "pooled", "note": notes}
            out[table] = pooled
        return out

    def batches(self, table, columns, read):
        """The files of ``table`` of every scan, read by ``read(files, columns)`` (an iterable of
        DataFrames, e.g. :func:`replica.report.reading.batches`), disorder labels shifted."""
        for files, offset in zip(self._files, self.offsets):
            for frame in read(files[table], columns):
                yield _shifted(frame, offset)


def _shifted(frame, offset):
    """``frame`` with ``offset`` added to its ``disorder`` labels (a new frame; as is without them)."""
    if "disorder" not in frame or frame.empty:
        return frame
    return frame.assign(disorder=frame["disorder"].astype("int64") + offset)


def pool_scans(directories):
    """Check that the scan ``directories`` can be pooled and return a :class:`PooledScans`.

    Raises ``ValueError`` naming the directory or the spec key: a directory that holds no scan
    or no ``spec.toml``; specs that differ beyond :data:`POOLABLE_KEYS` (the first differing
    key is named with both values); two scans with the same seed and a common N.
    """
    directories = [os.fspath(d) for d in directories]
    if not directories:
        raise ValueError("directories: give at least one scan directory")
    if len(set(os.path.abspath(d) for d in directories)) < len(directories):
        raise ValueError(f"directories: a directory is named twice in {directories}")
    statuses = [scan_status(d) for d in directories]
    texts = [_spec_text(d) for d in directories]
    try:
        configs = _configurations(directories, texts)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"directories: a spec.toml is not valid TOML ({exc})") from None
    first = configs[0]
    for directory, config in zip(directories[1:], configs[1:]):
        for key in sorted(set(first) | set(config)):
            if key in POOLABLE_KEYS:
                continue
            a, b = first.get(key, "(not set)"), config.get(key, "(not set)")
            if a != b:
                raise ValueError(
                    f"{key}: the scans in {directories[0]!r} and {directory!r} differ ({a!r} against {b!r}); "
                    f"only {', '.join(POOLABLE_KEYS)} may differ between pooled scans")
    names = [str(c.get("scan.name")) for c in configs]
    seeds = [(c.get("scan.seed"), c.get("scan.id", 0)) for c in configs]
    n_dims = []
    for c in configs:
        n = c.get("grid.n_dim")
        n_dims.append((None,) if n is None else tuple(int(v) for v in (n if isinstance(n, (list, tuple)) else [n])))
    counts = [int(c.get("grid.disorder", 1)) for c in configs]
    for i in range(len(directories)):
        for j in range(i + 1, len(directories)):
            common = sorted(set(n_dims[i]) & set(n_dims[j]), key=str)
            if seeds[i] == seeds[j] and common:
                raise ValueError(
                    f"scan.seed: the scans in {directories[i]!r} and {directories[j]!r} have the same seed "
                    f"{seeds[i][0]} (scan.id {seeds[i][1]}) and N = {common} in common: their disorder samples "
                    f"are the same draws; give the second scan another scan.seed")
    model = first.get("model.name")
    if first.get("model.realisation") == "fixed" and len(set(seeds)) > 1 and getattr(MODELS.get(model), "random", True):
        raise ValueError(
            f"model.realisation: 'fixed' draws one realisation of model {model!r} per scan seed, and the scans "
            f"have seeds {sorted(set(seeds))}: their disorder samples do not share one realisation, and those of "
            f"one scan are not independent of each other across scans; pool scans with one seed (and disjoint N) "
            f"or use realisation = 'per_disorder'")
    return PooledScans(directories, statuses, names, seeds, n_dims, counts)
