"""Locating speciation, collapse and fragmentation in scan results, with errors and N -> infinity.

``locate(df, transition=...)`` takes a scan's long result table (or its disorder summary, see
:func:`replica.summary.disorder_summary`) and returns one row per located transition:
``transition, n_dim, t_estimate, stderr, method`` (the criterion, in words), ``systematic`` (the
finite-size allowance of an extrapolation), ``n_dim_ref`` (the smaller N of a crossing between
two sizes) and the curve's labels. It runs the criteria of the transition registered in
:mod:`replica.criteria`, the one source of what a criterion reads, how it locates t, its
statement and its theory (``replica.criteria.criteria(transition)`` lists them, plug-ins
included; :data:`CRITERIA` is the view of their names). The built-in criteria, declared at the
end of this module, by ``criteria=`` name:

===============  ============================  ========================================================
transition       criterion                     rule (on disorder-averaged curves against t)
===============  ============================  ========================================================
speciation       ``peak``                      parabolic peak of ``class_magnetisation_variance``, ``susceptibility``
                                               or ``susceptibility_*`` (:data:`PEAK_PROMINENCE` errors above both ends)
speciation       ``level``                     ``class_magnetisation_variance`` crosses 1/2; ``cloning_probability``
                                               crosses 3/4 (half way between 1/2, both classes, and 1, one class)
speciation       ``binder``                    crossing of the Binder curves ``binder_disorder`` of consecutive N
speciation       ``retrieval``                 ``pattern_overlap`` (Hopfield prior, x_t from a stored pattern) crosses
                                               1/2, per N; theory: the AGS retrieval overlap in the field
collapse         ``level``                     ``participation_ratio`` Y crosses 1/2, per N
collapse         ``crossing``                  crossing of the Y curves of consecutive N
collapse         ``extrapolation``             per-N crossings of 1/2 fitted by ``t_N = t_inf + b / N``
fragmentation    ``franz_parisi``              fraction of disorder samples with a Franz-Parisi secondary minimum
                                               (``fp_fragmented``) crosses 1/2
fragmentation    ``rem``                       sample-to-sample variance of Y stops shrinking with N: the ratio
                                               ``Var_d Y(N_max) / Var_d Y(N_min)`` crosses 1/2 (finite-N indicator)
fragmentation    ``spin_glass``                crossing of the ``chi_SG / N^(1/3)`` curves of consecutive N, with
                                               the connected ``chi_SG`` of a spin prior (mean-field
                                               finite-size scaling at the de Almeida-Thouless line)
fragmentation    ``spin_glass_extrapolation``  the ``spin_glass`` crossings of three or more pairs fitted by
                                               ``t_N = t_inf + b N^(-2/3)`` (:func:`extrapolate`)
===============  ============================  ========================================================

A new criterion is a :class:`replica.criteria.Criterion` whose ``rule`` maps the
:class:`Curves` of the observables it reads to rows (:func:`level_rule` builds the rule of a
level crossing), registered with :func:`replica.criteria.register_criterion` or through the
entry-point group ``diffusion_replicas.criteria``.

A quantity crossing a level several times is reported at the largest t, the first met by the
generative process (which runs from large to small t). Errors are bootstrap errors over disorder
samples when the table holds them (``stderr_method``); they carry the statistical error of the
curves, not the discretisation of the t grid. Finite-N estimates and extrapolations are separate
rows (``n_dim = inf`` for an extrapolation), as ``physics.md`` asks.

:func:`y_statistics` gives the disorder mean and variance of Y per (N, t) with errors, to compare
with the Poisson-Dirichlet law of a condensed random energy model (``replica.theory``), and
:func:`extrapolate` the N -> infinity fit on its own.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .criteria import Criterion, _register_builtin, criterion_for_row, criterion_names, get_criterion
from .criteria import criteria as registered_criteria
from .summary import BASE_KEYS, LABEL_KEYS, SUMMARY_VALUES, disorder_summary, key_columns

__all__ = [
    "TRANSITIONS",
    "CRITERIA",
    "COLUMNS",
    "PEAK_OBSERVABLES",
    "SPECIATION_LEVEL",
    "CLONING_LEVEL",
    "COLLAPSE_LEVEL",
    "FRAGMENTED_LEVEL",
    "REM_VARIANCE_RATIO",
    "PEAK_PROMINENCE",
    "Curves",
    "PerCurve",
    "level_rule",
    "locate",
    "locate_transitions",
    "extrapolate",
    "FINITE_SIZE_FORMS",
    "y_statistics",
    "with_theory",
]

#: The transitions :func:`locate` knows, in the order generation meets them.
TRANSITIONS = ("speciation", "fragmentation", "collapse")


class _CriterionNames(Mapping):
    """``{transition: (criterion names, ...)}``, read from the registry
    (:func:`replica.criteria.criterion_names`) at every access, so plug-ins appear in it."""

    def __getitem__(self, transition):
        return criterion_names()[transition]

    def __iter__(self):
        return iter(criterion_names())

    def __len__(self):
        return len(criterion_names())

    def __repr__(self):
        return repr(criterion_names())


#: Criterion names per transition (the ``criteria`` argument of :func:`locate`; default all of
#: them), a view of the registry of :mod:`replica.criteria`: ``speciation: peak, level, binder``,
#: ``collapse: level, crossing, extrapolation``, ``fragmentation: franz_parisi, rem, spin_glass, spin_glass_extrapolation``
#: built in.
CRITERIA = _CriterionNames()
#: Speciation by a peak in t: these observables, and any whose name starts with "susceptibility_".
PEAK_OBSERVABLES = ("class_magnetisation_variance", "susceptibility")
#: Level crossed by the disorder-averaged class-magnetisation variance (speciation).
SPECIATION_LEVEL = 0.5
#: Level crossed by the cloning probability of two classes (speciation): half way from 1/2 to 1.
CLONING_LEVEL = 0.75
#: Level crossed by the participation ratio Y (collapse).
COLLAPSE_LEVEL = 0.5
#: Level crossed by the fraction of disorder samples with a Franz-Parisi secondary minimum.
FRAGMENTED_LEVEL = 0.5
#: Level crossed by the ratio of the disorder variances of Y at consecutive N (fragmentation).
REM_VARIANCE_RATIO = 0.5
#: A peak counts only if it stands this many combined standard errors above both ends of the grid.
PEAK_PROMINENCE = 2.0

#: Columns of the tables :func:`locate` returns (parameter columns follow).
COLUMNS = (
    "transition", "n_dim", "t_estimate", "stderr", "method", "systematic", "n_dim_ref", "model", "process",
    "observable", "estimator", "n_disorder", "n_boot", "stderr_method",
)
_LEGACY_COLUMNS = (
    "transition", "n_dim", "t_estimate", "stderr", "method", "model", "process", "observable", "estimator",
    "n_disorder", "n_boot", "stderr_method",
)


# ----------------------------------------------------------------------------- curve kernels
def _parabolic_peak(t, v, err):
    """Peak of each row of ``v`` (shape (B, T)) on the grid ``t``: the vertex of the parabola
    through the grid maximum and its two neighbours; nan where the maximum is at an end of the
    grid or does not stand ``PEAK_PROMINENCE`` combined errors above both ends.

    Vertex of the parabola through ``(t0, v0), (t1, v1), (t2, v2)`` (Newton form, any spacing;
    derived): ``t* = (t0 + t1) / 2 - f01 / (2 a)`` with ``f01 = (v1 - v0) / (t1 - t0)``,
    ``f12 = (v2 - v1) / (t2 - t1)``, ``a = (f12 - f01) / (t2 - t0)`` (``a < 0`` at a maximum).
    """
    n = t.size
    out = np.full(v.shape[0], np.nan)
    if n < 3:
        return out
    rows = np.arange(v.shape[0])
    k = np.argmax(v, axis=1)
    inner = (k > 0) & (k < n - 1)
    kk = np.clip(k, 1, n - 2)
    v0, v1, v2 = v[rows, kk - 1], v[rows, kk], v[rows, kk + 1]
    t0, t1, t2 = t[kk - 1], t[kk], t[kk + 1]
    f01 = (v1 - v0) / (t1 - t0)
    f12 = (v2 - v1) / (t2 - t1)
    a = (f12 - f01) / (t2 - t0)
    ends = np.maximum(v[:, 0], v[:, -1])
    end_err = np.where(v[:, 0] >= v[:, -1], err[0], err[-1])
    prominent = v1 - ends > PEAK_PROMINENCE * np.hypot(err[kk], end_err)
    ok = inner & prominent & (a < 0)
    safe_a = np.where(ok, a, -1.0)
    out[ok] = (0.5 * (t0 + t1) - f01 / (2.0 * safe_a))[ok]
    return out


def _last_crossing(t, v, level):
    """Where each row of ``v`` crosses ``level``, by linear interpolation between the two grid
    points that bracket it; with several crossings the one at the largest t (the first met by
    the generative process, which runs from large to small t); nan when the row never crosses.

    ``t* = t_i + (level - v_i) (t_{i+1} - t_i) / (v_{i+1} - v_i)`` for the bracketing pair
    (``v_i >= level > v_{i+1}`` or ``v_i < level <= v_{i+1}``).
    """
    out = np.full(v.shape[0], np.nan)
    if t.size < 2:
        return out
    above = v >= level
    change = above[:, :-1] != above[:, 1:]
    has = change.any(axis=1)
    idx = change.shape[1] - 1 - np.argmax(change[:, ::-1], axis=1)
    rows = np.arange(v.shape[0])
    vi, vj = v[rows, idx], v[rows, idx + 1]
    ti, tj = t[idx], t[idx + 1]
    denom = np.where(has, vj - vi, 1.0)
    out[has] = (ti + (level - vi) * (tj - ti) / denom)[has]
    return out


def _bootstrap(locate, t, value, err, n_boot, seed, samples=None):
    """Point estimate of ``locate(t, curves)`` on the disorder-averaged curve, and its bootstrap
    standard error; returns ``(estimate, stderr, replicas that located it, how)``.

    * ``samples`` (disorder samples x t, each row a complete curve), at least 2 rows: bootstrap
      over disorder samples (Efron 1979): resample the rows with replacement, average, locate;
      the standard deviation of the replicas is multiplied by ``sqrt(n / (n - 1))`` so that for a
      linear functional it equals ``sd / sqrt(n)`` of ``replica.stats.disorder_average``. Keeps
      the correlation that common random numbers (the same x0 and noise at every t of a disorder
      sample) put between the points of a curve.
    * otherwise a parametric bootstrap: replicas ``value + err * z`` with independent standard
      normal ``z`` at each t. Independent noise ignores that correlation: for a peak it errs on
      the large side (a common shift of the curve does not move a peak), for a crossing on the
      small side, by up to about ``sqrt 2`` (a common shift moves a crossing fully).

    The error is nan when fewer than half of the ``n_boot`` replicas (fixed ``seed``) locate a
    transition.
    """
    estimate = float(locate(t, value[None, :])[0])
    if not np.isfinite(estimate):
        return estimate, math.nan, 0, ""
    rng = np.random.default_rng(seed)
    if samples is not None and samples.shape[0] >= 2:
        n = samples.shape[0]
        reps = locate(t, samples[rng.integers(0, n, size=(n_boot, n))].mean(axis=1))
        how, scale = "bootstrap over disorder samples", math.sqrt(n / (n - 1.0))
    elif not np.any(err > 0):
        return estimate, 0.0, n_boot, "exact curve"
    else:
        reps = locate(t, value[None, :] + err[None, :] * rng.standard_normal((n_boot, t.size)))
        how, scale = "parametric bootstrap", 1.0
    good = reps[np.isfinite(reps)]
    if good.size < max(2, n_boot // 2):
        return estimate, math.nan, int(good.size), how
    return estimate, scale * float(good.std(ddof=1)), int(good.size), how


def _norm_key(key):
    """A group key usable in a dict (missing values, nan, compare equal to each other)."""
    key = key if isinstance(key, tuple) else (key,)
    return tuple("<na>" if (not isinstance(v, str) and pd.isna(v)) else v for v in key)


def _disorder_curves(results, curve_keys):
    """``{curve key: (t, samples)}``: per curve, the values of the disorder samples that have a
    finite value at every t of the curve (rows) against t (columns, sorted)."""
    if results is None or results.empty:  # e.g. curves derived in the summary (binder_disorder): no rows here
        return {}
    keys, _ = key_columns(results)
    if [k for k in keys if k != "t"] != list(curve_keys):
        raise ValueError("results: not the table this summary was built from (its curve labels differ)")
    out = {}
    for key, group in results.groupby(curve_keys, dropna=False, sort=False):
        wide = group.pivot_table(index="disorder", columns="t", values="value", aggfunc="first", dropna=False)
        wide = wide.sort_index(axis=1)
        arr = wide.to_numpy(dtype=float)
        out[_norm_key(key)] = (wide.columns.to_numpy(dtype=float), arr[np.isfinite(arr).all(axis=1)])
    return out


def _bootstrap_pair(locate, t, first, second, n_boot, seed):
    """Like :func:`_bootstrap` for a statistic of two curves (``locate(t, v1, v2)``, rows of
    replicas): each curve is resampled over its own disorder samples (they are independent
    scans of different N), or perturbed within its errors when it has none. The spread is
    multiplied by ``sqrt(n / (n - 1))`` with ``n`` the smaller sample count (exact for a linear
    functional of one curve; a correction of at most a few percent here)."""
    (v1, e1, s1), (v2, e2, s2) = first, second
    estimate = float(locate(t, v1[None, :], v2[None, :])[0])
    if not np.isfinite(estimate):
        return estimate, math.nan, 0, ""
    rng = np.random.default_rng(seed)
    reps, kinds, sizes = [], [], []
    for v, e, s in ((v1, e1, s1), (v2, e2, s2)):
        if s is not None and s.shape[0] >= 2:
            reps.append(s[rng.integers(0, s.shape[0], size=(n_boot, s.shape[0]))].mean(axis=1))
            kinds.append("disorder")
            sizes.append(s.shape[0])
        else:
            reps.append(v[None, :] + e[None, :] * rng.standard_normal((n_boot, t.size)))
            kinds.append("parametric" if np.any(e > 0) else "exact")
    if kinds == ["exact", "exact"]:
        return estimate, 0.0, n_boot, "exact curve"
    how = "bootstrap over disorder samples" if kinds == ["disorder", "disorder"] else "parametric bootstrap"
    n = min(sizes) if sizes else 0
    scale = math.sqrt(n / (n - 1.0)) if how.startswith("bootstrap") else 1.0
    values = locate(t, *reps)
    good = values[np.isfinite(values)]
    if good.size < max(2, n_boot // 2):
        return estimate, math.nan, int(good.size), how
    return estimate, scale * float(good.std(ddof=1)), int(good.size), how


# ----------------------------------------------------------------------------- curves
def _tables(df, name="df"):
    """``(summary, results or None)`` from a long result table or a disorder summary."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name}: expected a DataFrame (a result table or its disorder summary), "
                         f"got {type(df).__name__}")
    if "disorder" in df.columns:
        return disorder_summary(df), df
    missing = sorted({"t", "observable", "value", "stderr", "n_dim", "method"} - set(df.columns))
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")
    return df, None


class _Curve:
    """One disorder-averaged curve against t, with its per-disorder rows when known."""

    __slots__ = ("labels", "t", "value", "err", "n_disorder", "samples")

    def __init__(self, labels, t, value, err, n_disorder, samples):
        self.labels, self.t, self.value, self.err = labels, t, value, err
        self.n_disorder, self.samples = n_disorder, samples


def _curves(summary, results, keep):
    """The curves of ``summary`` whose observable satisfies ``keep(name)``, with the curve keys
    and the parameter columns: ``(curves, curve_keys, params)``."""
    curve_keys = [c for c in summary.columns if c not in ("t", *SUMMARY_VALUES)]
    params = [c for c in curve_keys if c not in (*BASE_KEYS, *LABEL_KEYS)]
    if summary.empty:
        return [], curve_keys, params
    wanted = summary[[bool(keep(o)) for o in summary["observable"]]]
    per_disorder = _disorder_curves(results[results["observable"].isin(set(wanted["observable"]))]
                                    if results is not None else None, curve_keys) if not wanted.empty else {}
    out = []
    for key, curve in wanted.groupby(curve_keys, dropna=False, sort=True):
        labels = dict(zip(curve_keys, key))
        curve = curve[np.isfinite(curve["value"].to_numpy(dtype=float))].sort_values("t")
        if curve.empty:
            continue
        t = curve["t"].to_numpy(dtype=float)
        samples = None
        if _norm_key(key) in per_disorder:
            t_samples, rows = per_disorder[_norm_key(key)]
            if np.array_equal(t_samples, t):
                samples = rows
        n_dis = int(curve["n_disorder"].min()) if "n_disorder" in curve else 0
        out.append(_Curve(labels, t, curve["value"].to_numpy(dtype=float),
                          np.nan_to_num(curve["stderr"].to_numpy(dtype=float), nan=0.0), n_dis, samples))
    return out, curve_keys, params


def _row(transition, curve, estimate, stderr, n_ok, how, method, params, **extra):
    labels = curve.labels
    row = {
        "transition": transition, "n_dim": float(labels["n_dim"]), "t_estimate": estimate, "stderr": stderr,
        "method": method, "systematic": math.nan, "n_dim_ref": math.nan, "model": labels.get("model"),
        "process": labels.get("process"), "observable": labels["observable"], "estimator": labels.get("method"),
        "n_disorder": curve.n_disorder, "n_boot": n_ok, "stderr_method": how,
    }
    row.update({p: labels[p] for p in params})
    if labels.get("source") is not None:  # where x_t came from: which theory applies
        row["source"] = labels["source"]
    row.update(extra)
    return row


def _single(transition, curves, params, rule, n_boot, seed):
    """Per-curve criteria: ``rule(observable) -> [(method, locate(t, v, err)), ...]``."""
    rows = []
    for c in curves:
        for method, func in rule(c.labels["observable"]):
            def loc(tt, vv, _f=func, _e=c.err):
                return _f(tt, vv, _e)
            est, se, n_ok, how = _bootstrap(loc, c.t, c.value, c.err, n_boot, seed, c.samples)
            if np.isfinite(est):
                rows.append(_row(transition, c, est, se, n_ok, how, method, params))
    return rows


def _follows_n(records, keys):
    """The keys whose value is fixed by N (one value per N, several in all), such as the
    ``n_points = round(e^{alpha N})`` or ``mu_norm2 = N mu^2`` of a model: they label the size,
    not a different system, so curves that differ only in them and N belong together."""
    out = []
    for k in keys:
        by_n = {}
        for r in records:
            by_n.setdefault(r["n_dim"], set()).add(_norm_key(r[k]))
        values = set().union(*by_n.values()) if by_n else set()
        if len(values) > 1 and all(len(v) == 1 for v in by_n.values()):
            out.append(k)
    return out


def _size_pairs(curves, curve_keys, consecutive=True):
    """Sizes ``(smaller, larger)`` of curves that differ only in N, on their common t: each
    consecutive pair, or (``consecutive=False``) only the smallest and the largest N."""
    groups = {}
    size_labels = _follows_n([c.labels for c in curves], [k for k in curve_keys if k != "n_dim"])
    others = [k for k in curve_keys if k != "n_dim" and k not in size_labels]
    for c in curves:
        groups.setdefault(_norm_key(tuple(c.labels[k] for k in others)), []).append(c)
    for members in groups.values():
        members = sorted(members, key=lambda c: c.labels["n_dim"])
        pairs = zip(members[:-1], members[1:]) if consecutive else [(members[0], members[-1])] * (len(members) > 1)
        for small, large in pairs:
            common, i1, i2 = np.intersect1d(small.t, large.t, return_indices=True)
            if common.size >= 2:
                yield small, large, common, i1, i2


def _pairs(transition, curves, curve_keys, params, method, n_boot, seed):
    """Crossings of the curves of consecutive N: the largest t where ``v_N2 - v_N1`` changes sign."""
    def loc(tt, v1, v2):
        return _last_crossing(tt, v2 - v1, 0.0)

    rows = []
    for small, large, t, i1, i2 in _size_pairs(curves, curve_keys):
        sub = [(c.value[i], c.err[i], None if c.samples is None else c.samples[:, i]) for c, i in ((small, i1), (large, i2))]
        est, se, n_ok, how = _bootstrap_pair(loc, t, sub[0], sub[1], n_boot, seed)
        if np.isfinite(est):
            rows.append(_row(transition, large, est, se, n_ok, how, method, params,
                             n_dim_ref=float(small.labels["n_dim"]),
                             n_disorder=min(small.n_disorder, large.n_disorder)))
    return rows


def _variance_ratio_rows(curves, curve_keys, params, n_boot, seed):
    """Fragmentation by the sample-to-sample variance of Y (criterion ``rem``), between the
    smallest and the largest N of each set of curves: a finite-size indicator of the
    non-self-averaging regime (where it sits depends on the sizes compared, since above the
    condensation Var Y shrinks slowly near it), not an estimate of the N -> infinity point."""
    rows = []
    for small, large, t, i1, i2 in _size_pairs(curves, curve_keys, consecutive=False):
        if small.samples is None or large.samples is None or min(small.samples.shape[0], large.samples.shape[0]) < 3:
            continue
        s1, s2 = small.samples[:, i1], large.samples[:, i2]

        def ratio(a, b):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.var(b, axis=-2, ddof=1) / np.var(a, axis=-2, ddof=1)

        est = float(_last_crossing(t, ratio(s1, s2)[None, :], REM_VARIANCE_RATIO)[0])
        if not np.isfinite(est):
            continue
        rng = np.random.default_rng(seed)
        b1 = s1[rng.integers(0, s1.shape[0], size=(n_boot, s1.shape[0]))]
        b2 = s2[rng.integers(0, s2.shape[0], size=(n_boot, s2.shape[0]))]
        reps = _last_crossing(t, np.nan_to_num(ratio(b1, b2), nan=0.0, posinf=1e300), REM_VARIANCE_RATIO)
        good = reps[np.isfinite(reps)]
        se = float(good.std(ddof=1)) if good.size >= max(2, n_boot // 2) else math.nan
        method = (f"Var_d {large.labels['observable']} at N = {large.labels['n_dim']} over N = "
                  f"{small.labels['n_dim']} crosses {REM_VARIANCE_RATIO:g}")
        rows.append(_row("fragmentation", large, est, se, int(good.size), "bootstrap over disorder samples", method,
                         params, n_dim_ref=float(small.labels["n_dim"]),
                         n_disorder=min(small.n_disorder, large.n_disorder)))
    return rows


# ----------------------------------------------------------------------------- extrapolation
def _weighted_fit(x, y, err):
    """Least squares ``y = a + b x``; weighted by ``1 / err^2`` when every error is positive.
    Returns ``(a, stderr of a, chi2 / dof)``; the error is scaled by ``sqrt(chi2 / dof)`` when
    that exceeds 1 (the scatter is larger than the errors say) and, unweighted, taken from the
    residuals. nan error with fewer than three points."""
    X = np.column_stack([np.ones_like(x), x])
    weighted = bool(np.all(err > 0))
    w = 1.0 / err**2 if weighted else np.ones_like(x)
    A = X.T @ (w[:, None] * X)
    coef = np.linalg.solve(A, X.T @ (w * y))
    dof = x.size - 2
    if dof <= 0:
        return float(coef[0]), math.nan, math.nan
    resid = y - X @ coef
    chi2 = float(np.sum(w * resid**2)) / dof
    cov = np.linalg.inv(A) * (max(chi2, 1.0) if weighted else chi2)
    return float(coef[0]), float(math.sqrt(cov[0, 0])), chi2 if weighted else math.nan


#: Finite-size forms of :func:`extrapolate`: the correction term's dependence on N.
FINITE_SIZE_FORMS = {"1/N": lambda n: 1.0 / n, "log(N)/N": lambda n: np.log(n) / n,
                     "N^(-1/3)": lambda n: n ** (-1.0 / 3.0), "N^(-2/3)": lambda n: n ** (-2.0 / 3.0)}
#: The form whose fit gives :func:`extrapolate`'s finite-size allowance, for each form.
_ALTERNATIVE_FORM = {"1/N": "log(N)/N", "log(N)/N": "1/N", "N^(-2/3)": "N^(-1/3)", "N^(-1/3)": "N^(-2/3)"}


def extrapolate(n_dim, t_estimate, stderr=None, *, form="1/N"):
    """N -> infinity limit of finite-N estimates, ``t_N = t_inf + b g(N)``.

    ``form`` picks ``g``: ``"1/N"`` (default), the leading correction of the participation-ratio
    crossing in the planted collapse (the log-odds of the planted point against the rest is
    ``N f(t) + O(1)`` with ``O(sqrt N)`` fluctuations that average out at the crossing; derived),
    or ``"log(N)/N"``, the correction of a random energy model in its condensed phase (the
    extreme energies carry ``log N`` corrections; Derrida 1981); for the crossings of the
    mean-field ``chi_SG / N^(1/3)`` curves of N and 2N, ``"N^(-2/3)"`` or ``"N^(-1/3)"``. With
    ``chi_SG / N^(1/3) = F(x) + c N^(-w) G(x)``, ``x = N^(1/3) (t - t_F)`` (the mean-field
    critical window has width ``N^(-1/3)``: Parisi, Ritort & Slanina 1993, J. Phys. A 26, 3775),
    the curves of N and 2N cross where ``x F'(0) (2^(1/3) - 1) = c G(0) (1 - 2^(-w)) N^(-w)`` to
    leading order, i.e. at ``t_F + O(N^(-1/3 - w))`` (derived). ``"N^(-2/3)"`` takes ``w = 1/3``,
    the order of the finite-size corrections of SK in zero field (assumed here for a field, where
    they are known to be strong: Billoire & Coluzzi 2003, Phys. Rev. E 67, 036108);
    ``"N^(-1/3)"`` is the slow end, small ``w``. Each form's allowance (below) uses its partner:
    1/N with log(N)/N, N^(-2/3) with N^(-1/3). Weighted least squares with
    weights ``1 / stderr^2`` (ordinary least squares with the residual variance when any error
    is zero or missing); the error of ``t_inf`` comes from the fit's covariance, multiplied by
    ``sqrt(chi2 / dof)`` when the points scatter more than their errors allow. Sizes that fit in
    memory are small, so ``systematic`` gives a finite-size allowance: the largest shift of
    ``t_inf`` under the other form and under the same form without the smallest N.

    Works for any finite-size series (transition times, or values such as ``E[Y]``).

    Parameters
    ----------
    n_dim, t_estimate : array_like
        At least three distinct sizes and their estimates.
    stderr : array_like, optional
    form : {"1/N", "log(N)/N", "N^(-2/3)", "N^(-1/3)"}

    Returns
    -------
    dict
        ``t_inf``, ``stderr``, ``systematic``, ``chi2_dof``, ``form``, ``n_dim`` (the sizes used).
    """
    if form not in FINITE_SIZE_FORMS:
        raise ValueError(f"form: expected one of {sorted(FINITE_SIZE_FORMS)}, got {form!r}")
    n = np.asarray(n_dim, dtype=float).ravel()
    t = np.asarray(t_estimate, dtype=float).ravel()
    e = np.zeros_like(t) if stderr is None else np.nan_to_num(np.asarray(stderr, dtype=float).ravel(), nan=0.0)
    if not (n.size == t.size == e.size):
        raise ValueError(f"n_dim, t_estimate, stderr: expected equal lengths, got {n.size}, {t.size}, {e.size}")
    ok = np.isfinite(n) & np.isfinite(t) & (n > 1)
    n, t, e = n[ok], t[ok], e[ok]
    if np.unique(n).size < 3:
        raise ValueError(f"n_dim: need at least three distinct finite sizes > 1 to extrapolate, got "
                         f"{sorted(set(n.tolist()))}")
    order = np.argsort(n)
    n, t, e = n[order], t[order], e[order]
    g = FINITE_SIZE_FORMS[form]
    a, se, chi2 = _weighted_fit(g(n), t, e)
    other = FINITE_SIZE_FORMS[_ALTERNATIVE_FORM[form]]
    alternatives = [_weighted_fit(other(n), t, e)[0]]
    larger = n > n[0]
    if np.unique(n[larger]).size >= 2:
        alternatives.append(_weighted_fit(g(n[larger]), t[larger], e[larger])[0])
    systematic = max(abs(x - a) for x in alternatives)
    return {"t_inf": a, "stderr": se, "systematic": float(systematic), "chi2_dof": chi2, "form": form,
            "n_dim": n.astype(int).tolist()}


def _extrapolation_rows(per_n, params, form="1/N"):
    """One ``n_dim = inf`` row per set of per-N rows that differ only in N (at least 3 sizes),
    fitted by :func:`extrapolate` with ``form``."""
    rows = []
    if not per_n:
        return rows
    frame = pd.DataFrame(per_n)
    params = [p for p in params if p not in _follows_n(per_n, params)]
    group_keys = ["transition", "method", "model", "process", "observable", "estimator", *params]
    for key, part in frame.groupby(group_keys, dropna=False, sort=True):
        part = part[np.isfinite(part["t_estimate"].to_numpy(float))]
        if part["n_dim"].nunique() < 3:
            continue
        fit = extrapolate(part["n_dim"], part["t_estimate"], part["stderr"], form=form)
        row = dict(zip(group_keys, key))
        sizes = ", ".join(str(n) for n in fit["n_dim"])
        term = "b/N" if form == "1/N" else f"b {form}"
        row.update(n_dim=math.inf, t_estimate=fit["t_inf"], stderr=fit["stderr"], systematic=fit["systematic"],
                   n_dim_ref=math.nan, method=f"{row['method']}, extrapolated t_N = t_inf + {term} over N = {sizes}",
                   n_disorder=int(part["n_disorder"].min()), n_boot=0,
                   stderr_method=f"weighted least squares (chi2/dof = {fit['chi2_dof']:.2f})"
                   if np.isfinite(fit["chi2_dof"]) else "least squares, residual variance")
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- locate
def _check_n_boot(n_boot):
    n_boot = int(n_boot)
    if n_boot < 2:
        raise ValueError(f"n_boot: expected at least 2 bootstrap replicas, got {n_boot}")
    return n_boot


class Curves:
    """What a criterion's ``rule`` sees in one :func:`locate` call: ``curves``, the
    disorder-averaged curves of the observables it reads, sorted by their labels (each with
    ``labels``, ``t``, ``value``, ``err``, ``n_disorder`` and ``samples``, the per-disorder rows
    when the table has them, else None); ``curve_keys`` and ``params`` (the label and parameter
    columns); ``transition``; ``n_boot`` and ``seed`` of the bootstrap. Its methods make rows of
    :data:`COLUMNS` with bootstrap errors."""

    def __init__(self, transition, curves, curve_keys, params, n_boot, seed, shared=None):
        self.transition, self.curves, self.curve_keys, self.params = transition, curves, curve_keys, params
        self.n_boot, self.seed = n_boot, seed
        self._shared = {} if shared is None else shared

    def per_curve(self, methods):
        """Rows of criteria that locate t on each curve alone: ``methods(observable) ->
        [(method text, locate(t, values, err)), ...]``, ``values`` of shape (replicas, t)."""
        return _single(self.transition, self.curves, self.params, methods, self.n_boot, self.seed)

    def pairs(self, method):
        """Rows of the crossings of the curves of consecutive N (the largest t where their
        difference changes sign), labelled ``method``."""
        return _pairs(self.transition, self.curves, self.curve_keys, self.params, method, self.n_boot, self.seed)

    def once(self, key, make):
        """``make()``, computed once per :func:`locate` call for ``key`` (rows that several
        criteria use: the per-N crossings behind an extrapolation)."""
        if key not in self._shared:
            self._shared[key] = make()
        return list(self._shared[key])


class PerCurve:
    """The rule of a criterion that locates t on each curve alone: ``methods(observable) ->
    [(method text, locate(t, values, err)), ...]`` (see :meth:`Curves.per_curve`); its rows are
    computed once per :func:`locate` call."""

    def __init__(self, methods):
        self.methods = methods

    def __call__(self, curves):
        key = (id(self), tuple(id(c) for c in curves.curves))
        return curves.once(key, lambda: curves.per_curve(self.methods))


def level_rule(levels, methods=None):
    """The rule of a level crossing: on each curve of an observable in ``levels``
    (``{observable: (level, text)}``) the largest t where it crosses ``level`` (linear
    interpolation between the bracketing grid points), labelled ``methods[observable]`` or
    ``"<observable> crosses <text>"``.

    Examples
    --------
    >>> import numpy as np
    >>> rule = level_rule({"my_order": (0.5, "1/2")})
    >>> ((text, locate),) = rule.methods("my_order")
    >>> text, float(locate(np.array([0.0, 1.0]), np.array([[1.0, 0.0]]), None)[0])
    ('my_order crosses 1/2', 0.5)
    """
    levels = {str(o): (float(level), str(text)) for o, (level, text) in dict(levels).items()}
    methods = dict(methods or {})

    def per_observable(obs):
        if obs not in levels:
            return []
        level, text = levels[obs]
        return [(methods.get(obs, f"{obs} crosses {text}"), lambda t, v, e, _level=level: _last_crossing(t, v, _level))]

    return PerCurve(per_observable)


def _reader(criterion, peak_observables):
    """Which observables a criterion reads in this call: the ``peak_observables`` argument of
    :func:`locate` is the list of the speciation ``peak`` criterion."""
    if (criterion.transition, criterion.name) == ("speciation", "peak"):
        return lambda o: criterion.reads(o, peak_observables)
    return criterion.reads


def _per_curve_methods(criterion, reads):
    methods = getattr(criterion.rule, "methods", None)
    if methods is None:
        raise TypeError(f"criterion {criterion.name!r} of {criterion.transition}: locate_transitions needs a "
                        "per-curve rule (PerCurve); use locate")
    return lambda obs: methods(obs) if reads(obs) else []


def locate(df, transition, *, criteria=None, peak_observables=PEAK_OBSERVABLES, n_boot=1000, seed=0, summary=None):
    """Locate a transition in a scan's results: one row per N (and per pair of N, and per
    extrapolation), with its error and the criterion named.

    Parameters
    ----------
    df : DataFrame
        The long result table of a scan (``replica merge`` output, or rows built with
        :func:`replica.table.result_frame`; columns ``model, process, n_dim, t, disorder,
        observable, value, stderr, method`` at least), or its :func:`disorder_summary`. With the
        per-disorder rows the errors are bootstrap errors over disorder samples, which keep the
        correlation that common random numbers put along a curve; with a summary only, a
        parametric bootstrap within the errors.
    transition : {"speciation", "collapse", "fragmentation"}
    criteria : sequence of str, optional
        Names from :data:`CRITERIA` (module docstring; the registered criteria of
        :mod:`replica.criteria`), default all of the transition's, run in registration order.
    peak_observables : sequence of str
        Observables the ``peak`` criterion searches for a peak (besides ``susceptibility_*``).
    n_boot, seed : int
        Bootstrap replicas and their seed.
    summary : DataFrame, optional
        ``disorder_summary(df)`` when already computed (saves recomputing it).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS` then the parameter columns: ``transition``, ``n_dim`` (float;
        ``inf`` for an extrapolation), ``t_estimate``, ``stderr`` (nan when fewer than half the
        bootstrap replicas locate it), ``method`` (the criterion in words), ``systematic``
        (finite-size allowance of an extrapolation, :func:`extrapolate`; nan otherwise),
        ``n_dim_ref`` (the smaller N of a two-size crossing), ``observable``, ``estimator`` (the
        ``method`` of the result rows: ``exact``, ``samples``, a Monte Carlo method),
        ``n_disorder``, ``n_boot``, ``stderr_method``. Empty (with these columns) when nothing
        is located.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from replica.transitions import locate
    >>> t = np.linspace(0.1, 1.0, 10)
    >>> rows = [dict(model="m", process="VP", n_dim=n, t=x, disorder=d, observable="participation_ratio",
    ...              value=1 / (1 + np.exp(n * (x - 0.5))) + 0.01 * (d - 1), stderr=0.0, method="exact")
    ...         for n in (10, 20) for x in t for d in range(3)]
    >>> found = locate(pd.DataFrame(rows), "collapse", criteria=["level"])
    >>> found[["n_dim", "t_estimate"]].round(3).values.tolist()
    [[10.0, 0.5], [20.0, 0.5]]
    """
    if transition not in CRITERIA:
        raise ValueError(f"transition: expected one of {sorted(CRITERIA)}, got {transition!r}")
    registered = registered_criteria(transition)
    allowed = tuple(registered)
    if criteria is None:
        criteria = allowed
    elif isinstance(criteria, str):
        criteria = (criteria,)
    criteria = tuple(criteria)
    unknown = [c for c in criteria if c not in allowed]
    if unknown or not criteria:
        raise ValueError(f"criteria: expected names from {allowed} for {transition}, got {list(criteria)}")
    n_boot = _check_n_boot(n_boot)
    peak_observables = tuple(peak_observables)
    if summary is None:
        summary, results = _tables(df)
    else:
        if not isinstance(df, pd.DataFrame) or "disorder" not in df.columns:
            raise ValueError("df: with summary= give the long result table (with its 'disorder' column)")
        _tables(summary, "summary")
        results = df
    readers = {name: _reader(c, peak_observables) for name, c in registered.items()}
    curves, curve_keys, params = _curves(summary, results, lambda o: any(r(o) for r in readers.values()))
    shared, rows = {}, []
    for name, criterion in registered.items():
        if name in criteria:
            mine = [c for c in curves if readers[name](c.labels["observable"])]
            rows += list(criterion.rule(Curves(transition, mine, curve_keys, params, n_boot, seed, shared)))
    extra = ["source"] if "source" in curve_keys else []  # where x_t came from: which theory applies
    out = pd.DataFrame(rows, columns=list(COLUMNS) + params + extra)
    return out.sort_values(["transition", "method", "n_dim"], kind="mergesort").reset_index(drop=True)


def locate_transitions(summary, results=None, *, peak_observables=PEAK_OBSERVABLES, n_boot=1000, seed=0):
    """Per-N speciation and collapse times of a disorder summary (what ``replica report``
    prints): the ``peak`` and ``level`` criteria of speciation and the ``level`` criterion of
    collapse of :func:`locate` (module docstring; their registered per-curve rules), on
    ``summary`` with bootstrap errors over the disorder samples of ``results`` when given (else a
    parametric bootstrap).

    Peaks count only when the grid maximum is inside the grid and stands more than
    ``PEAK_PROMINENCE`` (2) combined standard errors ``sqrt(err_peak^2 + err_end^2)`` above
    both ends. In the planted case a disorder-averaged posterior variance, such as
    ``class_magnetisation_variance`` or the trace ``susceptibility`` tr Cov / N, cannot decrease
    with t (x_t' with t' > t is x_t plus independent noise, so conditioning on x_t' is
    conditioning on less; derived): those curves peak only at the large-t end and the criterion
    stays silent; a response such as ``(a_t / D_t) u^T Cov u`` does peak. The
    class-magnetisation variance crosses 1/2 where the weight of the less likely class is about
    ``(1 - 1/sqrt 2) / 2 = 0.15`` (``4 p (1 - p) = 1/2``, neglecting the within-class spread;
    derived).

    Returns the columns ``transition, n_dim, t_estimate, stderr, method, model, process,
    observable, estimator, n_disorder, n_boot, stderr_method`` and the parameter columns.
    """
    if not isinstance(summary, pd.DataFrame):
        raise ValueError(f"summary: expected a DataFrame from disorder_summary, got {type(summary).__name__}")
    missing = sorted({"t", "observable", "value", "stderr", "n_dim", "method"} - set(summary.columns))
    if missing:
        raise ValueError(f"summary: missing columns {missing}")
    n_boot = _check_n_boot(n_boot)
    peak_observables = tuple(peak_observables)
    peak, level, y_level = (get_criterion("speciation", "peak"), get_criterion("speciation", "level"),
                            get_criterion("collapse", "level"))
    reads_peak = _reader(peak, peak_observables)
    keep = lambda o: reads_peak(o) or level.reads(o) or y_level.reads(o)
    curves, _, params = _curves(summary, results, keep)
    peak_methods, level_methods = _per_curve_methods(peak, reads_peak), _per_curve_methods(level, level.reads)
    rows = _single("speciation", curves, params, lambda o: peak_methods(o) + level_methods(o), n_boot, seed)
    rows += _single("collapse", curves, params, _per_curve_methods(y_level, y_level.reads), n_boot, seed)
    out = pd.DataFrame(rows, columns=list(COLUMNS) + params)
    if not out.empty:
        out["n_dim"] = out["n_dim"].astype(int)
    return out[list(_LEGACY_COLUMNS) + params]


# ----------------------------------------------------------------------------- Y statistics
def y_statistics(df, observable="participation_ratio"):
    """Disorder mean and variance of an observable (default Y) per curve point, with errors.

    For the REM-like regime of unplanted data-set disorder, where Y stays random in (0, 1) and its
    sample-to-sample variance does not shrink with N; compare with the Poisson-Dirichlet law
    ``E[Y] = 1 - m``, ``Var Y = m (1 - m) / 3`` (``replica.theory``).

    ``mean_err = sd / sqrt(n)``; ``var`` is the unbiased sample variance and ``var_err`` its
    standard error ``sqrt((mu4 - var^2 (n - 3) / (n - 1)) / n)`` (mu4 the fourth central
    moment; the standard large-sample formula). Columns: the curve labels, ``n_dim, t,
    n_disorder, mean, mean_err, var, var_err``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df: expected a result table, got {type(df).__name__}")
    if "disorder" not in df.columns:
        raise ValueError("df: needs the per-disorder rows (a 'disorder' column), not a summary")
    rows = df[df["observable"] == observable]
    if rows.empty:
        raise ValueError(f"observable: no rows named {observable!r} in df")
    keys, _ = key_columns(rows)
    out = []
    for key, g in rows.groupby(keys, dropna=False, sort=True):
        v = g["value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        n = v.size
        rec = dict(zip(keys, key))
        if n < 2:
            rec.update(n_disorder=n, mean=float(v.mean()) if n else math.nan, mean_err=math.nan, var=math.nan,
                       var_err=math.nan)
        else:
            var = float(v.var(ddof=1))
            mu4 = float(np.mean((v - v.mean()) ** 4))
            var_err = math.sqrt(max(mu4 - var**2 * (n - 3) / (n - 1), 0.0) / n) if n > 3 else math.nan
            rec.update(n_disorder=n, mean=float(v.mean()), mean_err=math.sqrt(var / n), var=var, var_err=var_err)
        out.append(rec)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- theory beside
def _param(row, name):
    value = row.get(name, math.nan)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def _vp_parameters(row):
    """``(variance, |mu|^2, alpha, N)`` of a VP row from its parameter columns (``variance``
    1 when absent, ``|mu|^2 = N mu^2`` from ``mu``), or None for another process."""
    if str(row.get("process")) != "VP":
        return None
    variance = _param(row, "variance")
    variance = 1.0 if not np.isfinite(variance) else variance
    mu_norm2 = _param(row, "mu_norm2")
    if not np.isfinite(mu_norm2) and np.isfinite(_param(row, "mu")) and np.isfinite(row.get("n_dim", math.nan)):
        mu_norm2 = _param(row, "mu") ** 2 * float(row["n_dim"])
    return variance, mu_norm2, _param(row, "alpha"), float(row.get("n_dim", math.nan))


def _process_of(row):
    """``(process, sigma)`` of a row for ``replica.theory`` (``"vp"`` or ``"ve"`` with
    ``process_sigma``), or None for another process."""
    name = str(row.get("process"))
    if name == "VP":
        return "vp", 1.0
    if name == "VE":
        sigma = _param(row, "process_sigma")
        return "ve", (sigma if np.isfinite(sigma) else 1.0)
    return None


def _data_file_speciation(row):
    """``t_S`` from a data file's ``cov_top_eigenvalue`` (``(1/2) log Lambda`` under VP,
    ``Lambda / sigma^2`` under VE), or None when the row has no such column."""
    from . import theory

    lam, proc = _param(row, "cov_top_eigenvalue"), _process_of(row)
    if not np.isfinite(lam) or lam <= 0 or proc is None:
        return None
    return float(theory.speciation_time(lam, proc[0], sigma=proc[1])), "t_S of the data covariance, Lambda = top eigenvalue"


def _speciation_theory(row):
    """Biroli et al.'s ``t_S = (1/2) log Lambda``, ``Lambda = |mu|^2 + variance`` (two-class
    mixture or a data set drawn from it), or ``Lambda`` the top eigenvalue of a data file's
    covariance (``cov_top_eigenvalue``; VP and VE)."""
    from . import theory

    data = _data_file_speciation(row)
    if data is not None:
        return data
    p = _vp_parameters(row)
    if p is None:
        return math.nan, ""
    variance, mu_norm2, _, n_dim = p
    if np.isfinite(mu_norm2) and np.isfinite(n_dim):
        return float(theory.speciation_time(mu_norm2 + variance)), "(1/2) log Lambda, Lambda = |mu|^2 + variance"
    return math.nan, ""


def _speciation_level_theory(row):
    """For ``cloning_probability`` the time where the exact planted integral
    ``replica.theory.cloning_probability`` equals 3/4 (when it brackets a root), else
    :func:`_speciation_theory`."""
    from scipy.optimize import brentq

    from . import theory

    p = _vp_parameters(row)
    if p is not None and row.get("observable") == "cloning_probability":
        variance, mu_norm2, _, n_dim = p
        if np.isfinite(mu_norm2) and np.isfinite(n_dim):
            def phi(t):
                return float(theory.cloning_probability(t, mu_norm2, variance)) - CLONING_LEVEL
            hi = 0.5 * math.log(mu_norm2 + variance) + 10.0
            if phi(1e-9) > 0 > phi(hi):
                return brentq(phi, 1e-9, hi, xtol=1e-12), "phi(t) = 3/4, exact integral (planted)"
    return _speciation_theory(row)


def _collapse_theory(row, name="t_C"):
    """``t_C = (1/2) log(1 + variance / (e^{2 alpha} - 1))`` of a data set of ``e^{alpha N}``
    points (``alpha``), the N -> infinity value; for a data file, the time where the Gaussian
    mutual information of its covariance spectrum equals ``log n_points``
    (``collapse_s_information``, ``replica.theory.collapse_time_gaussian``; VP and VE)."""
    from . import theory

    s_info, proc = _param(row, "collapse_s_information"), _process_of(row)
    if np.isfinite(s_info) and proc is not None:
        return (float(theory.time_from_s(s_info, proc[0], sigma=proc[1])),
                f"{name}: (1/2) sum_k log(1 + lambda_k / s) = log n over the data covariance")
    p = _vp_parameters(row)
    if p is None or not np.isfinite(p[2]):
        return math.nan, ""
    variance, _, alpha, _ = p
    return float(theory.collapse_time(alpha, variance)), f"{name} = (1/2) log(1 + variance / (e^(2 alpha) - 1)), N -> inf"


def _condensation_theory(row):
    """The REM condensation time of unplanted disorder, equal to :func:`_collapse_theory`
    (``replica.theory.rem_condensation_time``)."""
    return _collapse_theory(row, "REM condensation (= t_C)")


def _spin_glass_fragmentation_theory(row):
    """``t_F`` where the replica-symmetric posterior of a glassy spin prior becomes unstable (RS
    theory, N -> inf; VP and VE):

    * Sherrington-Kirkpatrick in the random field of an unplanted ``x_t ~ N(0, v I)``
      (``grid.source = "noise"``): the field variance ``a_t^2 v / D_t^2`` reaches the
      de Almeida-Thouless line (``replica.theory.sk_fragmentation_time``);
    * Hopfield planted on a stored pattern (``grid.source = "pattern"``): the AGS replicon on the
      retrieval branch changes sign (``replica.theory.hopfield_fragmentation_time``).

    Other rows: none."""
    from . import theory

    proc = _process_of(row)
    if proc is None:
        return math.nan, ""
    model, source = str(row.get("model")), str(row.get("source"))
    beta = _param(row, "beta")
    if model == "hopfield" and source == "pattern":
        loading = _param(row, "loading")
        plain = not np.isfinite(_param(row, "field")) or _param(row, "field") == 0.0
        if not (plain and np.isfinite(beta) and beta > 0 and np.isfinite(loading)):
            return math.nan, ""
        t_f = float(theory.hopfield_fragmentation_time(beta, loading, proc[0], sigma=proc[1]))
        if not np.isfinite(t_f):
            return math.nan, ""
        return t_f, "t_F: AGS replicon on the retrieval branch in the field of x_t changes sign (RS theory, N -> inf)"
    J, v = _param(row, "J"), _param(row, "noise_variance")
    plain = all(not np.isfinite(_param(row, k)) or _param(row, k) == 0.0 for k in ("J0", "field"))
    if model != "sk" or not (np.isfinite(beta) and np.isfinite(J) and np.isfinite(v)) or not plain:
        return math.nan, ""
    t_f = float(theory.sk_fragmentation_time(beta, J, v, proc[0], sigma=proc[1]))
    return t_f, "t_F: field variance a_t^2 v / D_t^2 on the de Almeida-Thouless line (RS theory, N -> inf)"


def _franz_parisi_theory(row):
    """A Franz-Parisi secondary minimum appears where the posterior fragments: for a glassy spin
    prior at its replica-symmetric instability (:func:`_spin_glass_fragmentation_theory`), for a
    data set of ``e^{alpha N}`` points at the REM condensation time (:func:`_condensation_theory`)."""
    found = _spin_glass_fragmentation_theory(row)
    return found if np.isfinite(found[0]) else _condensation_theory(row)


def _retrieval_theory(row):
    """``t_R`` where the replica-symmetric retrieval overlap of a Hopfield posterior planted on a
    stored pattern falls through 1/2 (``replica.theory.hopfield_retrieval_time``; AGS theory in
    the field of x_t, N -> infinity; VP and VE); the spinodal where the retrieval branch ends
    above 1/2. Other rows: none."""
    from . import theory

    proc = _process_of(row)
    beta, loading = _param(row, "beta"), _param(row, "loading")
    plain = not np.isfinite(_param(row, "field")) or _param(row, "field") == 0.0
    if str(row.get("model")) != "hopfield" or proc is None or not (np.isfinite(beta) and np.isfinite(loading)) \
            or not plain or beta <= 0:
        return math.nan, ""
    t_r = float(theory.hopfield_retrieval_time(beta, loading, proc[0], sigma=proc[1]))
    if not np.isfinite(t_r):
        return math.nan, ""
    return t_r, "t_R: RS retrieval overlap m(t) of the AGS equations in the field of x_t crosses 1/2 (N -> inf)"


def _theory_for(row):
    """``(t, criterion)`` predicted for one located row: the theory of its criterion
    (:func:`replica.criteria.criterion_for_row`); ``(nan, "")`` when no closed form applies."""
    criterion = criterion_for_row(row)
    return (math.nan, "") if criterion is None else criterion.theory_for(row)


def with_theory(found):
    """The rows of :func:`locate` with the prediction beside each: ``theory`` (a time) and
    ``theory_criterion`` (which one), the ``theory`` of the row's registered criterion
    (:mod:`replica.criteria`: the one its ``criterion`` column names when it has one, else the
    first of its transition that reads its observable, else its transition's first) from the
    model's parameter columns. Built in, VP process:

    * speciation of a two-class mixture or a data set drawn from it (``mu_norm2`` or ``mu``,
      ``variance``): for the crossing of ``cloning_probability`` with 3/4, the time where the
      exact planted integral ``replica.theory.cloning_probability`` equals 3/4; for the other
      criteria Biroli et al.'s ``t_S = (1/2) log Lambda`` with ``Lambda = |mu|^2 + variance``
      (their criteria differ by O(1) in e^{2t}, so compare trends, not values);
    * collapse and fragmentation of data sets of ``e^{alpha N}`` points (``alpha``):
      ``t_C = (1/2) log(1 + variance / (e^{2 alpha} - 1))``, the N -> infinity value (finite-N
      rows sit above it by about b / N; compare the ``n_dim = inf`` row), which is also the REM
      condensation time of unplanted disorder (``replica.theory.rem_condensation_time``). A
      model without ``alpha`` (a Hopfield prior and its ``loading``) gets none;
    * fragmentation of a glassy spin prior (``spin_glass`` crossings and ``franz_parisi``
      secondary minima): the replica-symmetric instability t_F of SK in an unplanted noise
      field or of Hopfield planted on a pattern.

    Other rows get ``nan``. Returns a copy.
    """
    out = found.copy()
    pairs = [_theory_for(row) for row in out.to_dict("records")]
    out["theory"] = [p[0] for p in pairs]
    out["theory_criterion"] = [p[1] for p in pairs]
    return out


# ----------------------------------------------------------------------------- built-in criteria
def _peak_methods(obs):
    return [(f"parabolic peak of {obs}", _parabolic_peak)]


#: Spin priors whose posterior, in the field of x_t, has no global symmetry left to split into:
#: the couplings are random (SK) or the states are many stored patterns (Hopfield). A crossing
#: of the Binder cumulant of q there marks replica-symmetry breaking, not speciation; it is left
#: to the ``spin_glass`` fragmentation criterion, which reads the connected chi_SG (in a field
#: the Binder cumulant of q shows no reliable crossing: Katzgraber, Larson & Young 2009).
GLASSY_PRIORS = ("sk", "hopfield")


def _binder_crossings(curves):
    keep = [c for c in curves.curves if c.labels.get("model") not in GLASSY_PRIORS]
    if len(keep) < len(curves.curves):
        curves = Curves(curves.transition, keep, curves.curve_keys, curves.params, curves.n_boot, curves.seed)
    return curves.pairs("crossing of binder_disorder curves of N_ref and N")


def _y_crossings(curves):
    return curves.pairs("crossing of participation_ratio curves of N_ref and N")


def _y_extrapolation(curves):
    return _extrapolation_rows(_Y_LEVEL_RULE(curves), curves.params)


def _rem_ratio(curves):
    return _variance_ratio_rows(curves.curves, curves.curve_keys, curves.params, curves.n_boot, curves.seed)


_SPECIATION_LEVELS = {"class_magnetisation_variance": (SPECIATION_LEVEL, "1/2"),
                      "cloning_probability": (CLONING_LEVEL, "3/4")}
_Y_LEVELS = {"participation_ratio": (COLLAPSE_LEVEL, "1/2")}
_FRAGMENTED_LEVELS = {"fp_fragmented": (FRAGMENTED_LEVEL, "1/2")}
#: Retrieval of a stored pattern: its overlap with the posterior crosses this level.
RETRIEVAL_LEVEL = 0.5
_RETRIEVAL_LEVELS = {"pattern_overlap": (RETRIEVAL_LEVEL, "1/2")}
_Y_LEVEL_RULE = level_rule(_Y_LEVELS)

_register_builtin(Criterion(
    "speciation", "peak", PEAK_OBSERVABLES,
    "parabolic peak in t of class_magnetisation_variance, susceptibility or susceptibility_*, standing "
    "PEAK_PROMINENCE (2) combined errors above both ends of the grid",
    PerCurve(_peak_methods), _speciation_theory, prefixes=("susceptibility_",), panels=("susceptibility_class",),
))
_register_builtin(Criterion(
    "speciation", "level", tuple(_SPECIATION_LEVELS),
    "class_magnetisation_variance crosses 1/2; cloning_probability crosses 3/4 (half way between 1/2, both "
    "classes, and 1, one class)",
    level_rule(_SPECIATION_LEVELS), _speciation_level_theory,
    panels=("class_magnetisation", "class_magnetisation_variance", "cloning_probability"), levels=_SPECIATION_LEVELS,
    roles=(("cloning_probability crosses 3/4", "checked"), ("class_magnetisation_variance crosses 1/2", "trend")),
))
_register_builtin(Criterion(
    "speciation", "retrieval", tuple(_RETRIEVAL_LEVELS),
    "pattern_overlap (the posterior's overlap with the stored pattern that made x_t) crosses 1/2, per N: the "
    "posterior retrieves the planted memory of a Hopfield prior",
    level_rule(_RETRIEVAL_LEVELS), _retrieval_theory, panels=("pattern_overlap",), levels=_RETRIEVAL_LEVELS,
    roles=(("pattern_overlap crosses 1/2", "finite"),),
))
_register_builtin(Criterion(
    "speciation", "binder", ("binder_disorder",),
    "crossing of the Binder curves binder_disorder of consecutive N (not for the glassy spin priors of "
    "GLASSY_PRIORS)",
    _binder_crossings, _speciation_theory,
))
_register_builtin(Criterion(
    "collapse", "level", tuple(_Y_LEVELS),
    "participation_ratio Y crosses 1/2, per N",
    _Y_LEVEL_RULE, _collapse_theory,
    panels=("participation_ratio", "weight_entropy", "nearest_point_overlap"), levels=_Y_LEVELS,
    roles=(("participation_ratio crosses 1/2", "finite"),),
))
_register_builtin(Criterion(
    "collapse", "crossing", ("participation_ratio",),
    "crossing of the participation_ratio curves of consecutive N",
    _y_crossings, _collapse_theory,
))
_register_builtin(Criterion(
    "collapse", "extrapolation", ("participation_ratio",),
    "per-N crossings of participation_ratio with 1/2 fitted by t_N = t_inf + b / N (N -> infinity, with a "
    "finite-size allowance)",
    _y_extrapolation, _collapse_theory,
    roles=(("participation_ratio crosses 1/2, extrapolated", "checked"),),
))
_register_builtin(Criterion(
    "fragmentation", "franz_parisi", tuple(_FRAGMENTED_LEVELS),
    "fraction of disorder samples with a Franz-Parisi secondary minimum (fp_fragmented) crosses 1/2",
    level_rule(_FRAGMENTED_LEVELS,
               {"fp_fragmented": "fraction with a Franz-Parisi secondary minimum (fp_fragmented) crosses 1/2"}),
    _franz_parisi_theory, levels=_FRAGMENTED_LEVELS,
    roles=(("fraction with a Franz-Parisi secondary minimum", "checked"),),
))
#: A ``spin_glass`` crossing counts only where the curves of the two sizes are ordered both ways
#: by more than this many combined standard errors: the larger N above at some t (fragmented
#: side) and below at another (replica-symmetric side). Deep in the replica-symmetric phase the
#: scaled curves of a strong field both go to 0 and cross by noise alone.
SPIN_GLASS_SIGNIFICANCE = 2.0


_SPIN_GLASS_METHOD = "crossing of spin_glass_susceptibility_scaled (chi_SG / N^(1/3)) curves of N_ref and N"


def _spin_glass_crossings(curves):
    rows = []
    method = _SPIN_GLASS_METHOD
    for small, large, t, i1, i2 in _size_pairs(curves.curves, curves.curve_keys):
        err = np.hypot(small.err[i1], large.err[i2])
        with np.errstate(divide="ignore", invalid="ignore"):
            sig = (large.value[i2] - small.value[i1]) / err
        if np.nanmax(sig) > SPIN_GLASS_SIGNIFICANCE and np.nanmin(sig) < -SPIN_GLASS_SIGNIFICANCE:
            rows += _pairs(curves.transition, [small, large], curves.curve_keys, curves.params, method,
                           curves.n_boot, curves.seed)
    return rows


_register_builtin(Criterion(
    "fragmentation", "spin_glass", ("spin_glass_susceptibility_scaled",),
    "crossing of the chi_SG / N^(1/3) curves of consecutive N, chi_SG = sum_ij (<s_i s_j> - <s_i><s_j>)^2 / N "
    "(the spin_glass_susceptibility observable) of a spin prior "
    "(mean-field finite-size scaling at the de Almeida-Thouless line), where the curves are ordered both ways "
    "by more than SPIN_GLASS_SIGNIFICANCE (2) combined errors",
    _spin_glass_crossings, _spin_glass_fragmentation_theory,
    panels=("spin_glass_susceptibility", "spin_glass_susceptibility_scaled"), broken_above=True,
    roles=(("crossing of spin_glass_susceptibility_scaled", "finite"),),
))


def _spin_glass_extrapolation(curves):
    return _extrapolation_rows(_spin_glass_crossings(curves), curves.params, form="N^(-2/3)")


_register_builtin(Criterion(
    "fragmentation", "spin_glass_extrapolation", ("spin_glass_susceptibility_scaled",),
    "the spin_glass crossings of at least three consecutive pairs of N fitted by t_N = t_inf + b N^(-2/3) "
    "(N the larger size of a pair; N -> infinity, with a finite-size allowance from b N^(-1/3) and from "
    "leaving out the smallest pair)",
    _spin_glass_extrapolation, _spin_glass_fragmentation_theory, broken_above=True,
    roles=((f"{_SPIN_GLASS_METHOD}, extrapolated", "checked"),),
))
_register_builtin(Criterion(
    "fragmentation", "rem", ("participation_ratio",),
    "the sample-to-sample variance of Y stops shrinking with N: Var_d Y(N_max) / Var_d Y(N_min) crosses 1/2 "
    "(finite-N indicator)",
    _rem_ratio, _condensation_theory,
))
