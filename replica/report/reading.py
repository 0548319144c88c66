"""The report's reading of large tables: P(q) tables read piece by piece into disorder-averaged
densities (exact atoms of large data sets make them much larger than the other tables). Which
files to read comes from :mod:`replica.scan.directory`."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["histogram_densities", "batches", "HISTOGRAM_READ"]

_HISTOGRAM_KEYS = ["observable", "kind", "normalised", "method", "n_dim", "t"]
HISTOGRAM_READ = _HISTOGRAM_KEYS + ["disorder", "q", "q_lo", "q_hi", "prob"]


def batches(files, columns, rows=1_000_000):
    """DataFrames of at most ``rows`` rows with ``columns`` from parquet or CSV files, one at a time."""
    for path in files:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
                yield batch.to_pandas()
        else:
            yield from pd.read_csv(path, usecols=columns, chunksize=rows)


def histogram_densities(batches, n_bins=40):
    """Disorder-averaged densities of P(q) tables read piece by piece (two passes over
    ``batches()``, a callable returning an iterable of DataFrames).

    Per (observable, kind, normalised, method, N, t): binned distributions keep their bins; exact atoms are binned
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
