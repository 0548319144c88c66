"""Disorder averages of a scan's result table.

``disorder_summary(results)`` turns the long result table (one row per task and observable, see
:mod:`replica.table`) into one row per curve point (model, process, parameters, N, t, observable,
estimator) with the mean over disorder samples and its standard error, plus the Binder cumulant
of the disorder-averaged overlap moments. The report (:mod:`replica.report`) and the transition
locators (:mod:`replica.transitions`) both start from it.

Conventions: the error of a disorder average is the standard error of the mean over the
independent disorder samples, ``sd / sqrt(n)`` (``ddof = 1``; ``replica.stats.disorder_average``),
which already contains each sample's own statistical noise. With a single disorder sample the
within-task error is reported instead (column ``stderr_kind``). Non-linear functions of disorder
averages use the jackknife (the Binder cumulant ``binder_disorder``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .overlaps import binder_cumulant
from .stats import disorder_average
from .table import RESULT_COLUMNS

__all__ = ["SUMMARY_VALUES", "BASE_KEYS", "LABEL_KEYS", "disorder_summary", "key_columns"]

#: Value columns of a summary row.
SUMMARY_VALUES = ("value", "stderr", "n_disorder", "stderr_kind")
#: Columns that identify a curve point in every result table.
BASE_KEYS = ("model", "process", "n_dim", "t", "observable", "method")
#: Label columns kept when present (how the quenched state was drawn).
LABEL_KEYS = ("planted", "source")
_SUMMARY_VALUES, _BASE_KEYS, _LABEL_KEYS = SUMMARY_VALUES, BASE_KEYS, LABEL_KEYS

def _parameter_columns(results):
    """Parameter columns that label a curve: every column beyond the standard ones except those
    that only follow the disorder sample (e.g. ``disorder_seed``: different for each disorder
    sample and constant within one), which would otherwise split a disorder average apart."""
    extra = [c for c in results.columns if c not in RESULT_COLUMNS]
    if not extra or results.empty:
        return extra
    base = list(_BASE_KEYS)
    keep = []
    by_base = results.groupby(base, dropna=False)
    by_disorder = results.groupby(base + ["disorder"], dropna=False)
    for col in extra:
        varies = bool((by_base[col].nunique(dropna=False) > 1).any())
        follows_disorder = varies and bool((by_disorder[col].nunique(dropna=False) <= 1).all())
        if not follows_disorder:
            keep.append(col)
    return keep


def key_columns(results):
    """``(keys, parameter columns)``: the columns that label one curve point of ``results``."""
    params = _parameter_columns(results)
    labels = [c for c in _LABEL_KEYS if c in results.columns]
    return ["model", "process", *params, *labels, "n_dim", "t", "observable", "method"], params


def disorder_summary(results):
    """Disorder averages of a result table.

    Parameters
    ----------
    results : DataFrame
        The long result table (``replica.table.RESULT_COLUMNS`` and parameter columns).

    Returns
    -------
    DataFrame
        One row per (model, process, parameters, planted, source, n_dim, t, observable, method)
        with

        * ``value``: the mean over disorder samples, ``[O] = (1/n) sum_d O_d``;
        * ``stderr``: its standard error ``sd_d(O_d) / sqrt(n)`` (``ddof = 1``) for ``n >= 2``
          (``stderr_kind = "disorder"``); for one disorder sample the within-task error of that
          sample (``stderr_kind = "within-task"``);
        * ``n_disorder``: the number of disorder samples with a finite value (non-finite values,
          e.g. an R-hat that could not be formed, are left out; with none, ``value`` and
          ``stderr`` are nan and ``stderr_kind = "none"``).

        Parameter columns that only follow the disorder index (such as the ``disorder_seed`` of
        a spin glass drawn per disorder sample) are averaged over, not kept as labels. Where the
        table has the thermal moments ``q2 = <q^2>`` and ``q4 = <q^4>`` of the same disorder
        samples, a row ``binder_disorder`` adds the Binder cumulant of the disorder averages,
        ``g = (1/2) (3 - [<q^4>] / [<q^2>]^2)``, with its jackknife error over disorder
        (``replica.overlaps.binder_cumulant``; Binder 1981; ``stderr_kind = "jackknife"``).
    """
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"results: expected a DataFrame, got {type(results).__name__}")
    needed = set(_BASE_KEYS) | {"disorder", "value", "stderr"}
    missing = sorted(needed - set(results.columns))
    if missing:
        raise ValueError(f"results: missing columns {missing}")
    keys, _ = key_columns(results)
    columns = keys + list(_SUMMARY_VALUES)
    if results.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in results.groupby(keys, dropna=False, sort=True):
        if group["disorder"].duplicated().any():
            raise ValueError(
                f"results: several rows for the same disorder sample at {dict(zip(keys, key))}; "
                "the table mixes scans or tasks"
            )
        values = group["value"].to_numpy(dtype=float)
        finite = np.isfinite(values)
        row = dict(zip(keys, key))
        if finite.sum() >= 2:
            est = disorder_average(values[finite])
            row.update(value=est.value, stderr=est.stderr, n_disorder=est.n, stderr_kind="disorder")
        elif finite.sum() == 1:
            i = int(np.flatnonzero(finite)[0])
            row.update(value=float(values[i]), stderr=float(group["stderr"].to_numpy(dtype=float)[i]), n_disorder=1,
                       stderr_kind="within-task")
        else:
            row.update(value=math.nan, stderr=math.nan, n_disorder=0, stderr_kind="none")
        rows.append(row)
    rows.extend(_binder_rows(results, keys))
    rows.extend(_spin_glass_rows(results, keys))
    out = pd.DataFrame(rows, columns=columns)
    out["n_disorder"] = out["n_disorder"].astype(int)
    return out.sort_values(keys, kind="mergesort", na_position="first").reset_index(drop=True)


#: Finite-size scaling exponent of the spin-glass susceptibility of a mean-field spin glass at
#: its transition (zero field and along the de Almeida-Thouless line): chi_SG ~ N^(1/3).
SPIN_GLASS_FSS_EXPONENT = 1.0 / 3.0


def _spin_glass_rows(results, keys):
    """``spin_glass_susceptibility_scaled`` rows: per disorder sample, the task's connected
    spin-glass susceptibility ``chi_SG = (1/N) sum_ij (<s_i s_j> - <s_i><s_j>)^2`` (the
    ``spin_glass_susceptibility`` observable, :func:`replica.observables.spin_glass_susceptibility`)
    times ``N^(-1/3)``, disorder-averaged with its standard error.

    ``chi_SG`` stays finite as N grows where the posterior is replica-symmetric and grows like N
    where replica symmetry is broken; at the transition it scales as ``N^(1/3)`` (mean-field
    finite-size scaling, e.g. Billoire 2008), so ``chi_SG / N^(1/3)`` curves of different N cross
    there (the ``spin_glass`` fragmentation criterion, :mod:`replica.transitions`).
    """
    rows = []
    for labels, wide in _per_disorder(results, keys, ("spin_glass_susceptibility",)):
        n_dim = float(labels["n_dim"])
        est = disorder_average(wide["spin_glass_susceptibility"].to_numpy() * n_dim ** -SPIN_GLASS_FSS_EXPONENT)
        rows.append({**labels, "observable": "spin_glass_susceptibility_scaled", "value": est.value,
                     "stderr": est.stderr, "n_disorder": len(wide), "stderr_kind": "disorder"})
    return rows


def _per_disorder(results, keys, observables):
    """For each curve (``keys`` without ``observable``) that has all of ``observables``: its labels
    and a table disorder x observable of the samples with two or more disorder samples where
    every one of them is finite."""
    rows = results[results["observable"].isin(observables)]
    if rows.empty:
        return
    curve_keys = [k for k in keys if k != "observable"]
    for key, group in rows.groupby(curve_keys, dropna=False, sort=True):
        wide = group.pivot_table(index="disorder", columns="observable", values="value", aggfunc="first")
        if not set(observables) <= set(wide.columns):
            continue
        wide = wide[np.isfinite(wide[list(observables)]).all(axis=1)]
        if len(wide) >= 2:
            yield dict(zip(curve_keys, key)), wide


def _binder_rows(results, keys):
    rows = []
    for labels, wide in _per_disorder(results, keys, ("q2", "q4")):
        if wide["q2"].mean() <= 0:
            continue
        est = binder_cumulant(wide["q2"].to_numpy(), wide["q4"].to_numpy())
        rows.append({**labels, "observable": "binder_disorder", "value": est.value, "stderr": est.stderr,
                     "n_disorder": len(wide), "stderr_kind": "jackknife"})
    return rows
