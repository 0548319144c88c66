"""The report's printed part: disorder averages as value ± error tables, the Monte Carlo checks
(unmixed tasks, rows that disagree with exact ones) and the located transitions with the theory
beside."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import format_value_error
from ..summary import BASE_KEYS as _BASE_KEYS
from ..summary import LABEL_KEYS as _LABEL_KEYS
from ..summary import SUMMARY_VALUES as _SUMMARY_VALUES
from ..summary import disorder_summary
from ..criteria import criteria as registered_criteria
from ..transitions import locate, with_theory

def _cell(value, err):
    """``value ± err``; an error below ``1e-10 |value|`` (round-off between exact values) shown as
    exact, one below ``1e-5 |value|`` in scientific notation."""
    if not np.isfinite(value):
        return "nan"
    if np.isfinite(err) and err > 1e-10 * abs(value):
        if err < 1e-5 * abs(value):  # more digits than a table can show
            return f"{value:.7g} ± {err:.1e}"
        return format_value_error(value, err)
    if np.isfinite(err):
        return f"{value:.6g}"
    return f"{value:.4g} ± ?"


def _varying(frame, columns):
    return [c for c in columns if c in frame.columns and frame[c].nunique(dropna=False) > 1]


def _follows_n(frame, column, by="n_dim"):
    """Whether a column takes one value per N (e.g. ``mu_norm2 = N``), or per value of another
    size column ``by`` (the theory columns of a data file per training-set size n): no label of
    its own."""
    if column == by or by not in frame.columns:
        return False
    return bool((frame.groupby(by)[column].nunique(dropna=False) <= 1).all())


def format_summary(summary):
    """The summary as printable tables: ``[(title, DataFrame of strings), ...]``.

    One table per (model, process, method, planted, source) and combination of scanned
    parameter values; rows (N, t), one column per observable holding ``value ± err``, and
    ``n_dis`` the number of disorder samples (where it is 1 the errors are within-task errors).
    Parameters that take one value, or one value per N (such as ``mu_norm2 = N``), go in the
    title instead of splitting the table.
    """
    if summary.empty:
        return []
    labels = [c for c in summary.columns if c not in ("n_dim", "t", "observable", *_SUMMARY_VALUES)]
    keys, with_n = [], []
    for c in labels:
        if c in _BASE_KEYS or c in _LABEL_KEYS or summary[c].nunique(dropna=False) <= 1 or not _follows_n(summary, c):
            keys.append(c)
        else:
            with_n.append(c)
    out = []
    for key, part in summary.groupby(keys, dropna=False, sort=True):
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        title = ", ".join(f"{k} = {v}" for k, v in values.items() if not (isinstance(v, float) and math.isnan(v)))
        for c in with_n:
            pairs = part.groupby("n_dim")[c].first()
            title += f", {c} = " + " / ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in pairs) + " (by N)"
        cells = part.assign(cell=[_cell(v, e) for v, e in zip(part["value"], part["stderr"])])
        wide = cells.pivot_table(index=["n_dim", "t"], columns="observable", values="cell", aggfunc="first")
        n_dis = part.groupby(["n_dim", "t"])["n_disorder"].max()
        wide.insert(0, "n_dis", n_dis.reindex(wide.index).astype(int))
        wide.columns.name = None
        out.append((title, wide.fillna("")))
    return out


#: |z| above which a Monte Carlo row is reported as disagreeing with its exact row.
Z_LIMIT = 5.0
_TASK_KEYS = ["n_dim", "t", "disorder", "method"]


def monte_carlo_checks(results):
    """The Monte Carlo tasks that fail their checks.

    Returns ``{"not_mixed": DataFrame, "disagree": DataFrame}``: the tasks with a ``mixed`` row
    equal to 0 (``mc.sample`` flagged an R-hat above its limit or a ladder that cannot mix, or
    ``mc.clone_replicas``'s half-step check flagged the step count;
    columns ``n_dim, t, disorder, method, rhat_max``), and the ``z_exact:<observable>`` rows with
    ``|z| > Z_LIMIT`` (columns ``n_dim, t, disorder, method, observable, z``), worst first.
    """
    obs = results["observable"].astype(str)
    keys = [k for k in _TASK_KEYS + ["n_points"] if k in results.columns]
    mixed = results[obs == "mixed"]
    bad = mixed[mixed["value"] < 0.5][keys]
    rmax = results[obs == "rhat_max"][keys + ["value"]].rename(columns={"value": "rhat_max"})
    not_mixed = bad.merge(rmax, on=keys, how="left").sort_values("rhat_max", ascending=False)
    z = results[obs.str.startswith("z_exact:")]
    z = z.assign(observable=z["observable"].str.slice(len("z_exact:")), z=z["value"])[keys + ["observable", "z"]]
    disagree = z[z["z"].abs() > Z_LIMIT]
    disagree = disagree.reindex(disagree["z"].abs().sort_values(ascending=False).index)
    return {"not_mixed": not_mixed.reset_index(drop=True), "disagree": disagree.reset_index(drop=True)}


def _print_checks(checks, n_checked, stream, line_width):
    not_mixed, disagree = checks["not_mixed"], checks["disagree"]
    print(f"Monte Carlo checks ({n_checked} tasks with replicas):", file=stream)
    if not_mixed.empty:
        print("  every task's replicas mixed (every R-hat within its limit)", file=stream)
    else:
        print(f"  WARNING: {len(not_mixed)} tasks whose run failed its own check (mixed = 0; Monte Carlo: replicas "
              "that did not mix, an R-hat above 1.01; clones: a step count whose half-step check shows a bias): "
              "their values may be wrong by more than their error bars", file=stream)
        print(not_mixed.head(10).to_string(index=False, line_width=line_width), file=stream)
    if disagree.empty:
        print(f"  no Monte Carlo row is more than {Z_LIMIT:g} standard errors from the exact row beside it",
              file=stream)
    else:
        print(f"  ERROR: {len(disagree)} Monte Carlo rows more than {Z_LIMIT:g} standard errors from the exact "
              "rows of the same task (z_exact):", file=stream)
        print(disagree.head(10).to_string(index=False, line_width=line_width), file=stream)


def located_transitions(results, summary=None, *, n_boot=1000, seed=0):
    """Every transition :func:`replica.transitions.locate` finds in a result table, with the
    theory beside (``theory``, ``theory_criterion``; :func:`replica.transitions.with_theory`).

    Every criterion registered in :mod:`replica.criteria`; built in: speciation by the ``peak``,
    ``level`` and ``binder`` criteria, collapse per N, between sizes and extrapolated,
    fragmentation by the Franz-Parisi and Y-variance criteria. Errors are bootstrap errors over
    disorder samples (``n_boot`` replicas, fixed ``seed``).
    """
    summary = disorder_summary(results) if summary is None else summary
    parts = [locate(results, kind, n_boot=n_boot, seed=seed, summary=summary)
             for kind in ("speciation", "fragmentation", "collapse")]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return with_theory(locate(results, "collapse", summary=summary))
    return with_theory(pd.concat(parts, ignore_index=True))


def _size_label(n, ref):
    if np.isinf(n):
        return "inf"
    return f"{int(ref)}/{int(n)}" if np.isfinite(ref) else str(int(n))


def _print_transitions(transitions, stream):
    if transitions.empty:
        print("transitions: none located; the criteria tried (replica.criteria):", file=stream)
        for c in registered_criteria().values():
            print(f"  {c.transition} {c.name}: {c.statement}", file=stream)
        return
    print("transitions (finite-N estimates on the disorder-averaged curves, N = a/b: crossing of the curves of "
          "two sizes, N = inf: extrapolation with its finite-size allowance; errors by bootstrap, without the "
          "interpolation error of the t grid; theory: see theory_criterion):", file=stream)
    show = transitions.copy()
    show["N"] = [_size_label(n, r) for n, r in zip(show["n_dim"], show["n_dim_ref"])]
    sizes = []
    if "n_points" in show and show["n_points"].nunique() > 1:  # a scan over training-set sizes
        show["n"] = [str(int(v)) if np.isfinite(v) else "" for v in show["n_points"].to_numpy(float)]
        sizes = ["n"]
    show["t"] = [_cell(v, e) + (f" (± {s:.2g} finite size)" if np.isfinite(s) else "")
                 for v, e, s in zip(show["t_estimate"], show["stderr"], show["systematic"])]
    show["theory"] = [f"{v:.4g}" if np.isfinite(v) else "" for v in show["theory"]]
    cols = (["transition", "N", *sizes, "t", "theory", "method", "estimator", "stderr_method"]
            + _varying(show, ["model", "process"]))
    print(show[cols].to_string(index=False), file=stream)
    few = show[(show["n_disorder"] > 0) & (show["n_disorder"] < 16)]
    if not few.empty:
        print(f"  note: curves with fewer than 16 disorder samples (down to {int(few['n_disorder'].min())}): their "
              "bootstrap errors understate the skewed sample-to-sample spread of these observables", file=stream)
    criteria = sorted(c for c in show["theory_criterion"].unique() if c)
    for c in criteria:
        print(f"  theory: {c}", file=stream)
