"""The report's figures: each observable against t per N with the theory and located times,
P(q) and V(q) panels, transition times against N, and the phase diagram (matplotlib, the
optional extra ``plot``). What a figure shows of a criterion comes from its registry entry
(:mod:`replica.criteria`)."""
from __future__ import annotations

import importlib.util
import math
import os
import re
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..criteria import criterion_for_row, criterion_roles, level_of, panel_transitions
from ..summary import BASE_KEYS as _BASE_KEYS
from ..summary import SUMMARY_VALUES as _SUMMARY_VALUES
from ..transitions import _process_of, _spin_glass_fragmentation_theory
from .printing import _follows_n, _varying
from . import reading

#: How to install the optional plotting dependency.
PLOT_INSTALL = "pip install -e '.[plot]'"
#: Characters per line of a legend entry of the observable figures (longer labels are wrapped).
_LEGEND_WIDTH = 48

def _matplotlib_available():
    return importlib.util.find_spec("matplotlib") is not None


def _figure(n_panels=1, width=6.4, height=4.4):
    """A figure drawn by the non-interactive Agg canvas (no pyplot state, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(n_panels, 3)
    rows = int(math.ceil(n_panels / cols))
    fig = Figure(figsize=(width * cols / (1 + 0.25 * (cols - 1)), height * rows / (1 + 0.25 * (rows - 1))),
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _save(fig, plot_dir, name, written):
    path = os.path.join(plot_dir, re.sub(r"[^A-Za-z0-9_.=+-]+", "_", name).strip("_") + ".png")
    fig.savefig(path, dpi=100)
    written.append(path)


#: Figure labels of the observables: name -> (short label, formula in matplotlib's mathtext).
#: Names not listed are shown with spaces for underscores and no formula (:func:`observable_label`).
OBSERVABLE_LABELS = {
    "class_magnetisation": ("class magnetisation M", r"$M = \langle x_0 \cdot \mu \rangle \, / \, |\mu|^2$"),
    "class_magnetisation_variance": (
        "class variance", r"$\mathrm{Var}[x_0 \cdot \mu \, / \, |\mu|^2 \mid x_t]$ (labelled data set: "
                          r"$1 - \langle c \rangle^2$, $c = \pm 1$)"),
    "cloning_probability": ("cloning probability φ", r"$\varphi = \sum_c P(c \mid x_t)^2$"),
    "susceptibility_class": (r"class susceptibility $\chi_c$",
                             r"$\chi_c = (a_t / D_t) \; \mu^\top \mathrm{Cov}[x_0 \mid x_t] \, \mu \, / \, |\mu|^2$"),
    "susceptibility": ("susceptibility χ", r"$\chi = \mathrm{tr} \, \mathrm{Cov}[x_0 \mid x_t] \, / \, N$"),
    "score_divergence": ("score divergence",
                         r"$\nabla \cdot \mathrm{score} = -N / D_t + (a_t / D_t)^2 \, \mathrm{tr} \, \mathrm{Cov}$"),
    "q_self": (r"replica overlap $\langle q \rangle$",
               r"$\langle q_{ab} \rangle = |m|^2 / N$, $q_{ab} = x^a \cdot x^b / N$"),
    "q2": (r"$\langle q^2 \rangle$", r"$\langle q_{ab}^2 \rangle$, $q_{ab} = x^a \cdot x^b / N$"),
    "q4": (r"$\langle q^4 \rangle$", r"$\langle q_{ab}^4 \rangle$, $q_{ab} = x^a \cdot x^b / N$"),
    "binder_disorder": ("Binder cumulant g",
                        r"$g = \frac{1}{2} \, (3 - [\langle q^4 \rangle] \, / \, [\langle q^2 \rangle]^2)$, "
                        r"$[\cdot]$ = disorder average"),
    "spin_glass_susceptibility": ("spin-glass susceptibility",
                                  r"$\chi_{SG} = \frac{1}{N} \sum_{ij} (\langle s_i s_j \rangle - \langle s_i \rangle "
                                  r"\langle s_j \rangle)^2$ (connected)"),
    "spin_glass_susceptibility_scaled": ("scaled spin-glass susceptibility",
                                         r"$\chi_{SG} / N^{1/3}$ (curves of different N cross at the AT line)"),
    "overlap_truth": ("overlap with the truth", r"$\langle x \cdot x_0 \rangle \, / \, N$"),
    "participation_ratio": ("participation ratio Y", r"$Y = \sum_\mu w_\mu^2$"),
    "weight_entropy": ("weight entropy S", r"$S = -\sum_\mu w_\mu \log w_\mu$"),
    "nearest_point_overlap": ("nearest-point overlap", r"$\langle x \cdot y^{\mathrm{nn}(x)} \rangle \, / \, N$"),
    "memorised_fraction": ("memorised fraction", r"$P(d_1 < d_2 / 3)$, $d_{1,2}$: nearest, second-nearest training point"),
    "denoiser_nearest_distance": ("denoiser to nearest training point",
                                  r"$\min_\mu |E[x_0 | x_t] - y^\mu| \, / \sqrt{N}$"),
    "denoiser_origin_distance": ("denoiser to the clean origin", r"$|E[x_0 | x_t] - x_0| \, / \sqrt{N}$"),
    "pattern_overlap": ("overlap with the stored pattern",
                        r"$m = \langle x \cdot \xi^{\mu_0} \rangle \, / \, N$, $\xi^{\mu_0}$: the pattern that made $x_t$"),
    "fp_fragmented": ("Franz-Parisi fragmented fraction", "fraction of samples with a secondary minimum of V(q)"),
    "fp_barrier": ("Franz-Parisi barrier", r"$N \, \Delta V$ from the secondary minimum to the saddle"),
    "fp_depth": ("Franz-Parisi depth", r"$N \, (V(q_1) - V(q_0))$"),
    "fp_secondary_q": ("secondary-minimum overlap", r"$q_1$"),
    "acceptance": ("acceptance rate", "Monte Carlo moves accepted"),
    "tau_int_energy": (r"$\tau_{\mathrm{int}}$ (energy)", "integrated autocorrelation time, Sokal window c = 5"),
    "rhat_max": ("largest R-hat", "Gelman-Rubin across replicas"),
    "mixed": ("mixed", "1 when every R-hat is within its limit"),
}
#: The forward process on the t axis (``process`` column -> how x_t is made).
PROCESS_LABELS = {
    "VP": r"VP: $a_t = e^{-t}$, $D_t = 1 - e^{-2t}$",
    "VE": r"VE: $a_t = 1$, $D_t = \sigma^2 t$",
    "VPLinear": r"VP, linear $\beta$ schedule",
}


class _CriterionRoles(Sequence):
    """``((start of a method text, role), ...)`` read from the registry at every access
    (:func:`replica.criteria.criterion_roles`), so plug-in criteria appear in it."""

    def __getitem__(self, index):
        return criterion_roles()[index]

    def __len__(self):
        return len(criterion_roles())

    def __repr__(self):
        return repr(criterion_roles())


#: How the figures show a located criterion (start of its ``method`` text -> role), from the
#: ``roles`` of the registered criteria (:mod:`replica.criteria`), longest start first. "checked":
#: the tests compare it with the theory drawn beside it (tests/test_transitions.py); "finite":
#: finite-N estimates whose theory is the N -> infinity limit; "trend": the theory beside it is
#: another criterion (they differ by O(1) in e^{2t}; README, "Transitions against theory").
#: Every other criterion is an indicator: drawn with open markers and a caveat.
CRITERION_ROLES = _CriterionRoles()
_ROLE_NOTES = {
    "checked": "",
    "finite": " (finite N; theory: N → ∞)",
    "trend": " (theory line: another criterion, compare trends)",
    "indicator": " (indicator, not checked against theory)",
}
_ROLE_RANK = {"checked": 0, "finite": 1, "trend": 2, "indicator": 3}
_ESTIMATOR_STYLES = {"exact": dict(ls="-", marker="o", mfc=None), "samples": dict(ls="--", marker="s", mfc="white")}
_OTHER_ESTIMATOR = dict(ls=":", marker="^", mfc="white")
_LOCATED_STYLES = ("--", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (2, 2)))


def observable_label(name):
    """``(label, formula)`` of an observable for the figures (:data:`OBSERVABLE_LABELS`); a name
    not in the table gives its underscores as spaces and no formula."""
    name = str(name)
    if name in OBSERVABLE_LABELS:
        return OBSERVABLE_LABELS[name]
    return name.replace("_", " "), ""


def _criterion_label(method):
    """A criterion's ``method`` text with the observable names replaced by their labels."""
    names = sorted(OBSERVABLE_LABELS, key=len, reverse=True)
    return re.sub(r"\b(" + "|".join(map(re.escape, names)) + r")\b", lambda m: OBSERVABLE_LABELS[m.group(1)][0],
                  str(method))


def _criterion_role(method):
    method = str(method)
    for prefix, role in criterion_roles():
        if method.startswith(prefix):
            return role
    return "indicator"


def _time_label(processes):
    """The t axis: ``diffusion time t (<process>: a_t = ..., D_t = ...)``."""
    names = [str(p) for p in pd.unique(pd.Series(processes)) if isinstance(p, str) or pd.notna(p)]
    parts = [PROCESS_LABELS.get(p, p) for p in names]
    return "diffusion time t" + (f" ({'; '.join(parts)})" if parts else "")


def _log_t(t):
    """Log t axis: times spanning more than a factor 50, or a geometric grid spanning more than 5."""
    t = np.unique(np.asarray(t, dtype=float))
    if t.size <= 2 or t.min() <= 0:
        return False
    steps = np.diff(np.log(t))
    return bool(t.max() / t.min() > 50 or (t.max() / t.min() > 5 and steps.std() < 0.1 * steps.mean()))


def _plain_log_ticks(axis, lo, hi):
    """Plain decimal tick labels (0.3, 0.5, 1, 2) on a log axis spanning up to three decades."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return
    decades = math.log10(hi / lo)
    if decades > 3:
        return
    subs = (1, 1.5, 2, 3, 4, 5, 6, 8) if decades <= 0.7 else (1, 2, 3, 5) if decades <= 1.6 else (1, 2, 5)
    ticks = [float(f"{m * 10.0**e:.6g}") for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
             for m in subs]
    ticks = [v for v in ticks if lo <= v <= hi]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _size_ticks(axis, dims):
    """Ticks at the scanned sizes N, plain integers."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    dims = np.unique(np.asarray(dims, dtype=float))
    if dims.size == 0 or dims.size > 12:
        return
    axis.set_major_locator(FixedLocator(dims))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _pick(values, k=6):
    values = np.sort(np.unique(values))
    if values.size <= k:
        return values
    return values[np.unique(np.round(np.linspace(0, values.size - 1, k)).astype(int))]


def _param(row, name):
    try:
        value = float(row.get(name, math.nan))
    except (TypeError, ValueError):
        return math.nan
    return value


def _closed_forms(row):
    """Closed forms of :mod:`replica.theory` for one curve, from its parameter columns (the same
    columns :func:`replica.transitions.with_theory` reads): ``t_S`` (two-class mixture or a data
    set drawn from it: ``mu_norm2`` or ``mu``, ``variance``), ``phi`` (the planted cloning
    probability of a symmetric two-class mixture, a function of t), ``t_C`` (data sets of
    ``e^{alpha N}`` points, N -> infinity) and ``population`` (a data set: the mixture's formulas
    are its n -> infinity limit) and ``t_F`` (an SK prior in the field of an unplanted x_t, a
    Hopfield prior planted on a pattern: ``replica.transitions._spin_glass_fragmentation_theory``).
    VP and VE only; ``{}`` otherwise."""
    from .. import theory

    of = _process_of(row)
    if of is None:
        return {}
    proc, sigma = of
    out = {"process": str(row.get("process"))}
    variance = _param(row, "variance")
    variance = 1.0 if not np.isfinite(variance) else variance
    n_dim = _param(row, "n_dim")
    mu_norm2 = _param(row, "mu_norm2")
    if not np.isfinite(mu_norm2) and np.isfinite(_param(row, "mu")) and np.isfinite(n_dim):
        mu_norm2 = _param(row, "mu") ** 2 * n_dim
    alpha = _param(row, "alpha")
    out["population"] = np.isfinite(alpha) or np.isfinite(_param(row, "n_points"))
    if np.isfinite(mu_norm2) and mu_norm2 > 0:
        t_s = float(theory.speciation_time(mu_norm2 + variance, proc, sigma=sigma))
        if np.isfinite(t_s):
            out["t_S"] = t_s
        n_comp, weight = _param(row, "n_components"), _param(row, "weight")
        symmetric = (not np.isfinite(n_comp) or n_comp == 2) and (not np.isfinite(weight) or weight == 0.5)
        if symmetric and bool(row.get("planted", True)):
            out["phi"] = lambda t, m=mu_norm2, v=variance: theory.cloning_probability(t, m, v, proc, sigma=sigma)
    if np.isfinite(alpha) and alpha > 0:
        out["t_C"] = float(theory.collapse_time(alpha, variance, proc, sigma=sigma))
    # a data file: t_S of its covariance, t_C of its spectrum and n (replica.scan.compute.data_theory_columns)
    lam, s_info = _param(row, "cov_top_eigenvalue"), _param(row, "collapse_s_information")
    if np.isfinite(lam) and lam > 0:
        t_s = float(theory.speciation_time(lam, proc, sigma=sigma))
        if np.isfinite(t_s):
            out["t_S"], out["data_file"] = t_s, True
    if np.isfinite(s_info) and s_info > 0:
        out["t_C"], out["data_file"] = float(theory.time_from_s(s_info, proc, sigma=sigma)), True
    # a glassy spin prior (SK, unplanted x_t; Hopfield, planted on a pattern): RS instability time t_F
    t_f, _ = _spin_glass_fragmentation_theory(row)
    if np.isfinite(t_f):
        out["t_F"] = t_f
        if str(row.get("model")) == "sk":  # and the RS spin-glass susceptibility below it
            beta, J, v = _param(row, "beta"), _param(row, "J"), _param(row, "noise_variance")
            out["chi_SG"] = lambda t: theory.sk_rs_spin_glass_susceptibility_at_time(t, beta, J, v, proc,
                                                                                      sigma=sigma)
    return out


def _line(**kw):
    from matplotlib.lines import Line2D

    return Line2D([], [], **kw)


def _sees(obs):
    """Which theory lines the panel of ``obs`` carries: ``(t_S, t_C)``. An observable that the
    registered criteria claim as a panel of some transitions only (``Criterion.panels``) sees
    those; any other observable sees both."""
    kinds = panel_transitions().get(str(obs))
    if not kinds:
        return True, True
    return "speciation" in kinds, bool(kinds & {"collapse", "fragmentation"})


def _theory_overlays(ax, obs, groups, t_lo, t_hi, log_t):
    """Theory on an observable panel: t_S per N (dotted, curve colour), t_C (black dotted), the
    cloning probability phi(t) (wide pale line) on its panel; on the panel of an observable that
    sees one transition only (:func:`_sees`), no line of the other. ``groups``: ``[(colour,
    first row of the curve)]``. Returns the legend handles."""
    handles, t_c_done = {}, set()
    grid = np.geomspace(t_lo, t_hi, 200) if log_t else np.linspace(t_lo, t_hi, 200)
    sees_s, sees_c = _sees(obs)
    for colour, row in groups:
        forms = _closed_forms(row)
        t_s = forms.get("t_S") if sees_s else None
        if t_s is not None and t_lo <= t_s <= t_hi:
            label = (r"theory: speciation $t_S = \frac{1}{2} \log \Lambda$, $\Lambda = |\mu|^2 + \sigma^2$"
                     if forms["process"] == "VP" else r"theory: speciation $t_S = \Lambda / \sigma_{VE}^2$")
            if forms.get("data_file"):
                label = "theory: speciation t_S of the data covariance (top eigenvalue Λ)"
            label += " (dotted, colour = N)"
            line = ax.axvline(t_s, color=colour, ls=":", lw=1.6, label=label if label not in handles else "_" + label)
            handles.setdefault(label, line)
        t_c = forms.get("t_C") if sees_c else None
        if t_c is not None and t_lo <= t_c <= t_hi and round(t_c, 12) not in t_c_done:
            t_c_done.add(round(t_c, 12))
            label = (r"theory: collapse $t_C = \frac{1}{2} \log(1 + \sigma^2 / (e^{2\alpha} - 1))$, N → ∞"
                     if forms["process"] == "VP" else "theory: collapse t_C, N → ∞")
            data_file = forms.get("data_file")
            if data_file:  # one t_C per training-set size: in the colour of its curve
                label = "theory: collapse t_C, Gaussian information of the data spectrum = log n (colour = n)"
            line = ax.axvline(t_c, color=colour if data_file else "k", ls=":" if not data_file else "-.", lw=1.4,
                              label=label if label not in handles else "_" + label)
            handles.setdefault(label, line)
        t_f = forms.get("t_F") if obs.startswith("spin_glass_susceptibility") else None
        if t_f is not None and t_lo <= t_f <= t_hi:
            label = "theory: fragmentation t_F, replica-symmetric solution turns unstable (RS), N → ∞"
            line = ax.axvline(t_f, color="k", ls=":", lw=1.4, label=label if label not in handles else "_" + label)
            handles.setdefault(label, line)
        if obs == "spin_glass_susceptibility" and "chi_SG" in forms:
            label = "theory: RS chi_SG = E sech^4 / replicon, N → ∞ (diverges at t_F)"
            chi = forms["chi_SG"](grid)
            y_lim = ax.get_ylim()  # the data's range: the divergence at t_F would flatten it
            (line,) = ax.plot(grid, chi, color="k", lw=1.2, ls="--", zorder=1,
                              label=label if label not in handles else "_" + label)
            ax.set_ylim(*y_lim)
            handles.setdefault(label, line)
        if obs == "cloning_probability" and "phi" in forms:
            label = "theory φ(t): exact integral, planted two-class mixture" + (
                " (population, n → ∞)" if forms["population"] else "")
            (line,) = ax.plot(grid, forms["phi"](grid), color=colour, lw=6, alpha=0.22, solid_capstyle="butt", zorder=1,
                              label=label if label not in handles else "_" + label)
            handles.setdefault(label, _line(color="0.45", lw=6, alpha=0.35, label=label))
    return list(handles.values())


def _levels(obs):
    """``(level, text)`` a registered criterion crosses on the panel of ``obs``, or None."""
    return level_of(obs)


def _located_lines(ax, transitions, obs, colour_of):
    """Located transitions of ``obs``: per-N times as vertical lines in the colour of their N
    (a band of one standard error), N -> infinity extrapolations in black, and crossings of two
    sizes (black) when the observable has no per-N criterion; one line style per criterion. Rows
    of the ``exact`` estimator only when there are some. Returns the legend handles (one per
    criterion)."""
    if transitions.empty or "observable" not in transitions:
        return []
    mine = transitions[(transitions["observable"] == obs) & np.isfinite(transitions["t_estimate"].to_numpy(float))]
    if "n_dim_ref" not in mine:
        mine = mine.assign(n_dim_ref=np.nan)
    pair = np.isfinite(mine["n_dim"].to_numpy(float)) & np.isfinite(mine["n_dim_ref"].to_numpy(float))
    if not pair.all():  # crossings of two sizes are drawn where nothing per N is (Binder panels)
        mine = mine[~pair]
    if mine.empty:
        return []
    which = "exact" if (mine["estimator"] == "exact").any() else None
    if which:
        mine = mine[mine["estimator"] == which]
    handles = []
    for k, (method, rows) in enumerate(mine.groupby("method", sort=True)):
        style = _LOCATED_STYLES[k % len(_LOCATED_STYLES)]
        role = _criterion_role(method)
        for _, tr in rows.iterrows():
            single = np.isfinite(tr["n_dim"]) and not np.isfinite(tr["n_dim_ref"])
            colour = colour_of(tr) if single else "k"
            ax.axvline(tr["t_estimate"], color=colour, ls=style, lw=1.2)
            if np.isfinite(tr["stderr"]) and tr["stderr"] > 0:
                ax.axvspan(tr["t_estimate"] - tr["stderr"], tr["t_estimate"] + tr["stderr"], color=colour, alpha=0.1,
                           lw=0)
        per_n = rows[np.isfinite(rows["n_dim"].to_numpy(float)) & ~np.isfinite(rows["n_dim_ref"].to_numpy(float))]
        by = "colour = curve" if "n_points" in rows and rows["n_points"].nunique() > 1 else "colour = N"
        where = (by if len(per_n) == len(rows) else "black" if per_n.empty else f"{by}; black: two sizes")
        rows_used = f"{which} rows; " if which else ""
        text = f"located: {_criterion_label(method)}{_ROLE_NOTES[role]}\n({rows_used}{where}, band ± 1 SE)"
        handles.append(_line(color="0.3", ls=style, lw=1.2, label=text))
    return handles


def _plot_observables(summary, transitions, plot_dir, written):
    """``observable_<name>.png``: the observable against t, one colour per N (and per scanned
    parameter), one line style per estimator; located transitions, theory lines and curves where
    :mod:`replica.theory` has a closed form. Returns ``{observable: Figure}``."""
    figures = {}
    curve_keys = [c for c in summary.columns if c not in ("t", "observable", *_SUMMARY_VALUES)]
    palette = [f"C{i}" for i in range(10)]
    for obs, part in summary.groupby("observable", sort=True):
        part = part[np.isfinite(part["value"].to_numpy(dtype=float))]
        if part.empty:
            continue
        fig, (ax,) = _figure(width=9.0, height=4.6)
        colour_keys = ["n_dim"] + [k for k in _varying(part, curve_keys)
                                   if k not in ("n_dim", "method") and (k in _BASE_KEYS or not _follows_n(part, k))
                                   and not _follows_n(part, k, by="n_points")]
        colours, groups, colour_handles, estimators = {}, [], [], []
        for key, group in part.groupby(colour_keys, dropna=False, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            colour = palette[len(colours) % len(palette)]
            colours[_norm(key)] = colour
            first = group.iloc[0]
            groups.append((colour, first))
            text = f"N = {int(key[0])}" + "".join(f", {k} = {v}" for k, v in zip(colour_keys[1:], key[1:]))
            colour_handles.append(_line(color=colour, lw=2, label=text))
            for method, curve in group.groupby("method", sort=True):
                curve = curve.sort_values("t")
                style = _ESTIMATOR_STYLES.get(method, _OTHER_ESTIMATOR)
                if method not in estimators:
                    estimators.append(method)
                err = np.nan_to_num(curve["stderr"].to_numpy(dtype=float), nan=0.0)
                filled = style["mfc"] is None
                ax.errorbar(curve["t"], curve["value"], yerr=err, color=colour, ls=style["ls"], marker=style["marker"],
                            mfc=colour if filled else style["mfc"], ms=3.5 if filled else 6, capsize=2, lw=1.2,
                            zorder=3 if filled else 2.5, label=f"{text}, {method}")

        def colour_of(row, keys=colour_keys):
            return colours.get(_norm(tuple(row.get(k) for k in keys)), "k")

        t = part["t"].to_numpy(float)
        log_t = _log_t(t)
        handles = list(colour_handles)
        for m in estimators:
            st = _ESTIMATOR_STYLES.get(m, _OTHER_ESTIMATOR)
            handles.append(_line(color="0.35", lw=1.2, ms=4, ls=st["ls"], marker=st["marker"], mfc=st["mfc"] or "0.35",
                                 label=f"{m} (± 1 SE)"))
        handles += _located_lines(ax, transitions, obs, colour_of)
        handles += _theory_overlays(ax, obs, groups, float(t.min()), float(t.max()), log_t)
        level = _levels(obs)
        if level is not None:
            ax.axhline(level[0], color="0.55", lw=0.8, ls=(0, (1, 3)))
            handles.append(_line(color="0.55", lw=0.8, ls=(0, (1, 3)), label=f"criterion level {level[1]}"))
        if log_t:
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis, float(t.min()), float(t.max()))
        label, formula = observable_label(obs)
        ax.set_xlabel(_time_label(part["process"]))
        ax.set_ylabel(label)
        counts = part["n_disorder"].to_numpy(float) if "n_disorder" in part else np.zeros(1)
        lo_dis, hi_dis = int(np.nanmin(counts)), int(np.nanmax(counts))
        n_dis = f"{hi_dis}" if lo_dis == hi_dis else f"{lo_dis}-{hi_dis}"
        ax.set_title((f"{label}:  {formula}" if formula else label)
                     + f"\ndisorder average ± standard error ({n_dis} disorder samples)", fontsize=9)
        for h in handles:  # long labels (a located criterion, its theory) wrapped: the axes keep their width
            h.set_label(textwrap.fill(str(h.get_label()), _LEGEND_WIDTH))
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        _save(fig, plot_dir, f"observable_{obs}", written)
        figures[obs] = fig
    return figures


def _norm(key):
    """A curve key usable in a dict: missing values equal, numbers as floats (N is an integer in
    the summary and a float in the transition table)."""
    def one(v):
        if not isinstance(v, str) and pd.isna(v):
            return "<na>"
        if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)):
            return float(v)
        return v
    return tuple(one(v) for v in key)


def _t_colours(times):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {t: cmap(i / max(len(times) - 1, 1)) for i, t in enumerate(times)}


def _overlap_description(kind, normalised):
    """``(words, formula)`` of the overlap a P(q) table holds (its ``kind`` and ``normalised``)."""
    other = "x_{\\mathrm{ref}}" if str(kind) == "reference" else "x^b"
    who = "with a reference" if str(kind) == "reference" else "of two replicas"
    if bool(normalised):
        return f"normalised overlap {who}", rf"$q = x^a \cdot {other} \, / \, (|x^a| \, |{other}|)$"
    return f"overlap {who}, not normalised", rf"$q = x^a \cdot {other} \, / \, N$"


def _plot_histograms(densities, plot_dir, written):
    """``histogram_<name>_<method>.png``: P(q) panels, one per N; the title and the q axis say
    which overlap (normalised or x.y / N, from the table's ``normalised`` column). Returns
    ``{(observable, method, kind, normalised): Figure}``."""
    figures = {}
    extra = [k for k in ("kind", "normalised") if k in densities.columns]
    variants = densities.drop_duplicates(["observable", "method"] + extra).groupby(["observable", "method"]).size()
    for key, part in densities.groupby(["observable", "method"] + extra, sort=True):
        values = dict(zip(["observable", "method"] + extra, key))
        obs, method = values["observable"], values["method"]
        kind, normalised = values.get("kind", "replica"), bool(values.get("normalised", False))
        words, formula = _overlap_description(kind, normalised)
        dims = sorted(part["n_dim"].unique())
        fig, axes = _figure(len(dims))
        times = _pick(part["t"].to_numpy(float))
        colours = _t_colours(list(times))
        for ax, n in zip(axes, dims):
            cell = part[part["n_dim"] == n]
            for t in times:
                rows = cell[np.isclose(cell["t"].to_numpy(float), t)].sort_values("q")
                if rows.empty:
                    continue
                q, density, err = (rows[c].to_numpy(float) for c in ("q", "density", "err"))
                ax.plot(q, density, color=colours[t], drawstyle="steps-mid", lw=1.2, label=f"t = {t:.3g}")
                if np.any(err > 0):
                    ax.fill_between(q, density - err, density + err, color=colours[t], alpha=0.2, step="mid", lw=0)
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_xlabel(formula)
            ax.set_ylabel("P(q) density")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{obs}: {words}, {formula}\n{method}; disorder average ± standard error (bands)", fontsize=10)
        suffix = f"_{kind}_{'normalised' if normalised else 'plain'}" if variants[(obs, method)] > 1 else ""
        _save(fig, plot_dir, f"histogram_{obs}_{method}{suffix}", written)
        figures[(obs, method, kind, normalised)] = fig
    return figures


def _plot_potentials(potentials, plot_dir, written):
    figures = {}
    for (obs, order, method), part in potentials.groupby(["observable", "order_parameter", "method"], sort=True):
        dims = sorted(part["n_dim"].unique())
        fig, axes = _figure(len(dims))
        times = _pick(part["t"].to_numpy(float))
        colours = _t_colours(list(times))
        for ax, n in zip(axes, dims):
            cell = part[part["n_dim"] == n]
            for t in times:
                rows = cell[np.isclose(cell["t"].to_numpy(float), t)]
                if rows.empty:
                    continue
                g = rows.groupby("q", sort=True).agg(V=("V", "mean"), sd=("V", "std"), n=("V", "count"),
                                                     within=("stderr", "mean")).reset_index()
                err = np.where(g["n"] > 1, np.nan_to_num(g["sd"].to_numpy(float)) / np.sqrt(g["n"]),
                               np.nan_to_num(g["within"].to_numpy(float)))
                ax.plot(g["q"], g["V"], color=colours[t], lw=1.2, label=f"t = {t:.3g}")
                ax.fill_between(g["q"], g["V"] - err, g["V"] + err, color=colours[t], alpha=0.2, lw=0)
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_xlabel(f"q ({order})")
            ax.set_ylabel("V(q)")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{obs}, {order}, {method}: disorder average", fontsize=10)
        _save(fig, plot_dir, f"potential_{obs}_{order}_{method}", written)
        figures[(obs, order, method)] = fig
    return figures


_PHASE_COLOURS = {"speciation": "tab:blue", "fragmentation": "tab:orange", "collapse": "tab:red"}
_REGION_COLOURS = {"unbroken": "0.93", "speciated": "#dbe8f6", "fragmented": "#fde5c8", "collapsed": "#f7d4d4"}


def _boundary(transitions, kind):
    """Per-N boundary of a transition for the phase diagram: ``(N, t, method)`` sorted in N,
    from one criterion (the cloning or Y crossing when present, else the first found) and one
    estimator (``exact`` when present); the theory where it has one, else the located times. A
    transition located only by crossings of two sizes is drawn at the larger N."""
    finite = transitions[(transitions["transition"] == kind) & np.isfinite(transitions["n_dim"].to_numpy(float))]
    rows = finite[~np.isfinite(finite["n_dim_ref"].to_numpy(float))]
    if rows.empty:
        rows = finite
    if rows.empty:
        return None
    if (rows["estimator"] == "exact").any():
        rows = rows[rows["estimator"] == "exact"]
    preferred = [m for m in rows["method"].unique() if "cloning_probability" in m or "participation_ratio" in m]
    method = preferred[0] if preferred else sorted(rows["method"].unique())[0]
    rows = rows[rows["method"] == method].sort_values("n_dim")
    theory = rows["theory"].to_numpy(float) if "theory" in rows else np.full(len(rows), np.nan)
    t = np.where(np.isfinite(theory), theory, rows["t_estimate"].to_numpy(float))
    return rows["n_dim"].to_numpy(float), t, method


def _criterion_groups(rows):
    """Rows of one transition and estimator grouped by criterion, criteria with identical located
    times merged (indicators only with indicators): ``[([methods], rows to draw, rows of every
    merged criterion, role)]``, best role first (criteria checked against their theory before
    indicators)."""
    groups = []
    for method, part in rows.groupby("method", sort=True):
        part = part.sort_values(["n_dim", "n_dim_ref"])
        for g in groups:
            other = g[1]
            if (len(other) == len(part)
                    and (_criterion_role(g[0][0]) == "indicator") == (_criterion_role(method) == "indicator")
                    and np.array_equal(other["n_dim"].to_numpy(float), part["n_dim"].to_numpy(float))
                    and np.allclose(other["t_estimate"].to_numpy(float), part["t_estimate"].to_numpy(float),
                                    rtol=1e-9, atol=1e-12, equal_nan=True)):
                g[0].append(method)
                g[2] = pd.concat([g[2], part])
                break
        else:
            groups.append([[method], part, part])
    out = []
    for methods, part, everything in groups:
        methods = sorted(methods, key=lambda m: (_ROLE_RANK[_criterion_role(m)], m))
        out.append((methods, part, everything, _criterion_role(methods[0])))
    return sorted(out, key=lambda g: (_ROLE_RANK[g[3]], g[0][0]))


def _offsets(count, log_n, lo, hi):
    """Horizontal offsets of ``count`` marker sets (so that equal values do not hide each other)."""
    steps = np.arange(count) - (count - 1) / 2.0
    if log_n:
        return [lambda x, s=s: x * math.exp(0.035 * s) for s in steps]
    return [lambda x, s=s: x + 0.012 * s * max(hi - lo, 1.0) for s in steps]


def _draw_located(ax, transitions, log_n, lo, hi, *, estimators="preferred"):
    """Located transitions against N: per-N points (filled for criteria drawn against their
    theory, open for indicators, see :data:`CRITERION_ROLES`), crossings of two sizes (open, at
    the larger N), and the theory of the non-indicator criteria as labelled lines."""
    finite = transitions[np.isfinite(transitions["n_dim"].to_numpy(float))]
    theory_styles = iter(["-", "--", "-.", ":"] * 4)
    drawn_theory = set()
    for kind, colour in _PHASE_COLOURS.items():
        part = finite[finite["transition"] == kind]
        if part.empty:
            continue
        sets = []
        if estimators == "preferred":
            if (part["estimator"] == "exact").any():
                part = part[part["estimator"] == "exact"]
            sets = [(None, part)]
        else:
            sets = list(part.groupby("estimator", sort=True))
        groups = [(est, g) for est, rows in sets for g in _criterion_groups(rows)]
        shifts = _offsets(len(groups), log_n, lo, hi)
        markers = iter("osD^v<>ph*" * 3)
        for (est, (methods, rows, everything, role)), shift in zip(groups, shifts):
            pair = np.isfinite(rows["n_dim_ref"].to_numpy(float)).any()
            indicator = role == "indicator"
            marker = next(markers)
            label = f"{kind}: " + " = ".join(_criterion_label(m) + _ROLE_NOTES[_criterion_role(m)] for m in methods)
            if pair:
                label = label.replace("N_ref and N", "two sizes, at the larger N")
            if est is not None:
                label += f" [{est}]"
            x = np.array([shift(v) for v in rows["n_dim"].to_numpy(float)])
            ax.errorbar(x, rows["t_estimate"], yerr=np.nan_to_num(rows["stderr"].to_numpy(float)), color=colour,
                        marker=marker, ms=5 if indicator else 4.5, mfc="white" if (indicator or pair) else colour,
                        alpha=0.6 if indicator else 1.0, capsize=2, ls="none", elinewidth=0.8 if indicator else 1.2,
                        label=label)
            if indicator or "theory" not in rows:
                continue
            for criterion, th_rows in everything.groupby("theory_criterion", sort=True):
                th_rows = th_rows[np.isfinite(th_rows["theory"].to_numpy(float))]
                per_n = th_rows[~np.isfinite(th_rows["n_dim_ref"].to_numpy(float))]
                if per_n.empty and len(th_rows) and np.ptp(th_rows["theory"].to_numpy(float)) < 1e-12:
                    per_n = th_rows  # crossings of two sizes with an N-independent theory: one line
                th_rows = per_n
                if th_rows.empty or not criterion or (kind, criterion) in drawn_theory:
                    continue
                drawn_theory.add((kind, criterion))
                th_rows = th_rows.drop_duplicates("n_dim").sort_values("n_dim")
                values = th_rows["theory"].to_numpy(float)
                style = next(theory_styles)
                text = f"theory ({kind}): {criterion}"
                if np.ptp(values) < 1e-12:
                    ax.axhline(values[0], color=colour, lw=1.2, ls=style, alpha=0.9, label=f"{text} = {values[0]:.3f}")
                else:
                    ax.plot(th_rows["n_dim"], values, color=colour, lw=1.2, ls=style, alpha=0.9, label=text)
    return drawn_theory


def _against_training_size(transitions):
    """A scan over training-set sizes at one N (a data file's ``n_points`` list) is drawn
    against n: ``(rows with n_dim := n_points, "n (training points)")``; other scans against N
    (``(transitions, "N")``)."""
    finite = transitions[np.isfinite(transitions["n_dim"].to_numpy(float))]
    if ("n_points" in finite and finite["n_dim"].nunique() == 1 and finite["n_points"].nunique() > 1
            and np.isfinite(finite["n_points"].to_numpy(float)).all()):
        return finite.assign(n_dim=finite["n_points"].astype(float)), "n (training points)"
    return transitions, "N"


def _entropy_collapse_line(ax, transitions):
    """A data file's second collapse theory against n: the planted excess-entropy criterion on
    its points (``collapse_s_entropy``, ``replica.theory.collapse_time_entropy``), dotted."""
    from .. import theory

    if "collapse_s_entropy" not in transitions:
        return
    rows = transitions[(transitions["transition"] == "collapse")].drop_duplicates("n_dim").sort_values("n_dim")
    n, t = [], []
    for _, row in rows.iterrows():
        of, s = _process_of(row), _param(row, "collapse_s_entropy")
        if of is not None and np.isfinite(s) and s > 0:
            n.append(row["n_dim"])
            t.append(float(theory.time_from_s(s, of[0], sigma=of[1])))
    if n:
        ax.plot(n, t, color=_PHASE_COLOURS["collapse"], ls=":", lw=1.4,
                label="theory (collapse): planted excess entropy of the n points vanishes (Biroli et al. 2024)")


#: Phases of the diagram, in the order a cell is labelled by (first that applies).
_REGION_ORDER = ("collapsed", "fragmented", "speciated", "unbroken")


def phase_regions(t, bounds):
    """Phase of each time ``t`` (array) at one N from the located boundaries: ``bounds`` maps a
    transition to ``(t_boundary, broken_above)``; speciation and collapse hold below their time,
    fragmentation below it or, for a criterion whose broken phase lies at large t
    (``Criterion.broken_above``, a glassy prior), above it. A time is "collapsed" if collapse
    holds, else "fragmented", "speciated" or "unbroken", in that order.

    >>> phase_regions(np.array([0.1, 0.5, 2.0]), {"fragmentation": (1.0, True), "speciation": (0.3, False)})
    array(['speciated', 'unbroken', 'fragmented'], dtype='<U10')
    """
    t = np.asarray(t, dtype=float)
    holds = {}
    for kind, (boundary, above) in bounds.items():
        holds[kind] = t > boundary if above else t < boundary
    out = np.full(t.shape, "unbroken", dtype="<U10")
    for region, kind in (("speciated", "speciation"), ("fragmented", "fragmentation"), ("collapsed", "collapse")):
        if kind in holds:
            out[holds[kind]] = region
    return out


def _draw_regions(ax, grid, bounds, t_lo, t_hi):
    """Shade the phases (:func:`phase_regions`) over N x t, each labelled once where it is widest."""
    from matplotlib.colors import ListedColormap

    times = np.geomspace(t_lo, t_hi, 240)
    labels = np.stack([phase_regions(times, {k: (float(c[i]), above) for k, (c, above) in bounds.items()})
                       for i in range(grid.size)], axis=1)  # (t, N)
    codes = np.vectorize(_REGION_ORDER.index)(labels)
    cmap = ListedColormap([_REGION_COLOURS[r] for r in _REGION_ORDER])
    ax.pcolormesh(grid, times, codes, cmap=cmap, vmin=-0.5, vmax=len(_REGION_ORDER) - 0.5, shading="nearest",
                  zorder=0, rasterized=True)
    column = int(grid.size * 0.15)
    for code, region in enumerate(_REGION_ORDER):
        rows = np.flatnonzero(codes[:, column] == code)
        if rows.size:
            middle = times[rows[rows.size // 2]]
            ax.text(grid[column], middle, region, fontsize=9, color="0.3", va="center", zorder=1)


def _plot_phase_diagram(transitions, plot_dir, written):
    """``phase_diagram.png``: t against N with the located transitions (points with error
    bars; crossings of two sizes as open markers at the larger N; N -> infinity extrapolations
    as bands at the right edge), the theory (labelled lines) and the regions they bound.
    Criteria the tests check against their theory are filled markers; indicators are open and
    say so in the legend (:data:`CRITERION_ROLES`); criteria with equal times share a marker and
    a legend entry, others are shifted slightly apart. The legend sits outside the axes. A scan
    over training-set sizes at one N is drawn against n instead (:func:`_against_training_size`)."""
    transitions, size_label = _against_training_size(transitions)
    finite = transitions[np.isfinite(transitions["n_dim"].to_numpy(float))]
    dims = np.sort(finite["n_dim"].unique().astype(float))
    if dims.size == 0:
        return None
    fig, (ax,) = _figure(width=8.0, height=7.4)
    lo, hi = dims.min(), dims.max()
    log_n = hi / lo > 4
    grid = np.geomspace(lo, hi, 200) if log_n else np.linspace(lo - (hi == lo), hi + (hi == lo), 200)
    t_values = np.concatenate([transitions["t_estimate"].to_numpy(float), transitions["theory"].to_numpy(float)])
    t_values = t_values[np.isfinite(t_values) & (t_values > 0)]
    t_lo, t_hi = (t_values.min() / 1.6, t_values.max() * 1.6) if t_values.size else (0.1, 10.0)
    bounds = {}
    for kind in ("speciation", "fragmentation", "collapse"):
        b = _boundary(transitions, kind)
        if b is not None:
            x, t, method = b
            if np.isfinite(t).any():
                ok = np.isfinite(t)
                curve = np.interp(np.log(grid) if log_n else grid, np.log(x[ok]) if log_n else x[ok], t[ok])
                row = transitions[transitions["method"] == method].iloc[0]
                criterion = criterion_for_row(row.to_dict())
                bounds[kind] = (curve, bool(getattr(criterion, "broken_above", False)))
    _draw_regions(ax, grid, bounds, t_lo, t_hi)
    drawn = _draw_located(ax, transitions, log_n, lo, hi)
    if size_label != "N":
        _entropy_collapse_line(ax, transitions)
    for kind, colour in _PHASE_COLOURS.items():
        for _, row in transitions[(transitions["transition"] == kind)
                                  & np.isinf(transitions["n_dim"].to_numpy(float))].iterrows():
            width = np.nan_to_num(row["stderr"]) + np.nan_to_num(row["systematic"])
            ax.axhspan(row["t_estimate"] - width, row["t_estimate"] + width, xmin=0.94, xmax=1.0, color=colour,
                       alpha=0.5, lw=0)
            ax.axhline(row["t_estimate"], xmin=0.94, color=colour, lw=2,
                       label=f"{kind}: N → ∞ (right edge), {row['t_estimate']:.3f} ± {row['stderr']:.2g} "
                             f"(± {np.nan_to_num(row['systematic']):.2g} finite size)")
            criterion = row.get("theory_criterion", "")
            if np.isfinite(row["theory"]) and (kind, criterion) not in drawn:
                drawn.add((kind, criterion))
                ax.axhline(row["theory"], color=colour, lw=1.2, ls=":",
                           label=f"theory ({kind}): {criterion} = {row['theory']:.3f}")
    if log_n:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo / 1.1 if log_n else lo - 1, hi * 1.25 if log_n else hi + 0.25 * (hi - lo) + 1)
    ax.set_ylim(t_lo, t_hi)
    _size_ticks(ax.xaxis, dims)
    _plain_log_ticks(ax.yaxis, t_lo, t_hi)
    ax.set_xlabel(size_label)
    process = transitions["process"] if "process" in transitions else []
    ax.set_ylabel(_time_label(process) + "\ngeneration runs downwards", fontsize=9)
    ax.set_title("phase diagram: located transitions (points, bootstrap errors), theory (labelled lines);\n"
                 "open markers: indicators not checked against theory", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    _save(fig, plot_dir, "phase_diagram", written)
    return fig


def _plot_transitions(transitions, plot_dir, written):
    """``transitions.png``: located transition times per N and per estimator (offset so that
    equal values stay visible), theory lines labelled; against the training-set size n for a
    scan over sizes at one N. Returns the Figure (None when empty)."""
    transitions, size_label = _against_training_size(transitions)
    transitions = transitions[np.isfinite(transitions["n_dim"].to_numpy(float))
                              & ~np.isfinite(transitions["n_dim_ref"].to_numpy(float))]
    if transitions.empty:
        return None
    fig, (ax,) = _figure(width=8.0, height=6.4)
    dims = np.sort(transitions["n_dim"].unique().astype(float))
    lo, hi = dims.min(), dims.max()
    log_n = dims.size > 1 and hi / lo > 4
    if "theory" not in transitions:
        transitions = transitions.assign(theory=np.nan, theory_criterion="")
    _draw_located(ax, transitions, log_n, lo, hi, estimators="all")
    if log_n:
        ax.set_xscale("log")
    _size_ticks(ax.xaxis, dims)
    ax.set_xlabel(size_label)
    process = transitions["process"] if "process" in transitions else []
    ax.set_ylabel(_time_label(process), fontsize=9)
    ax.set_title("located transitions (finite-N estimates, bootstrap errors; [estimator]); theory (lines)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    _save(fig, plot_dir, "transitions", written)
    return fig


def make_plots(tables, summary, transitions, plot_dir, *, histogram_densities=None):
    """Write the report's figures (PNG, Agg canvas) to ``plot_dir``; return their paths.

    * ``observable_<name>.png``: each observable against t (the axis names the forward process),
      one colour per N (and per scanned parameter), one line style per estimator, disorder
      averages with their error bars; the label and formula of :data:`OBSERVABLE_LABELS` on the
      axis and in the title; located transitions of that observable as vertical lines in the
      colour of their N with a band of one standard error, one line style per criterion in the
      legend; the theory where :mod:`replica.theory` has a closed form for the scan's model
      (speciation time t_S per N, collapse time t_C, the planted cloning probability phi(t));
    * ``histogram_<name>_<method>.png``: P(q) panels, one per N, curves for up to six t
      (exact atoms are binned for display; disorder averages with their errors as bands), from
      ``tables["histograms"]`` or, when given, the ``histogram_densities`` that :func:`report`
      forms piece by piece from the files; the title says which overlap (normalised or x.y / N);
    * ``potential_<name>_<order parameter>_<method>.png``: Franz-Parisi V(q) panels, one per N;
    * ``transitions.png``: located transition times against N, per estimator;
    * ``phase_diagram.png``: t against N with the regions (unbroken, speciated, fragmented,
      collapsed) bounded by the theory where it applies (else by the located transitions), the
      located transitions with their errors (indicators, :data:`CRITERION_ROLES`, as open
      markers with a caveat), crossings of two sizes, N -> infinity extrapolations and labelled
      theory lines (transitions from :func:`located_transitions`).

    Log axes spanning up to three decades carry plain decimal tick labels; legends sit outside
    the axes. Needs matplotlib (``pip install -e '.[plot]'``).
    """
    os.makedirs(plot_dir, exist_ok=True)
    written = []
    if not summary.empty:
        _plot_observables(summary, transitions, plot_dir, written)
    if histogram_densities is None and "histograms" in tables and not tables["histograms"].empty:
        frame = tables["histograms"][[c for c in reading.HISTOGRAM_READ if c in tables["histograms"].columns]]
        histogram_densities = reading.histogram_densities(lambda: [frame])
    if histogram_densities is not None and not histogram_densities.empty:
        _plot_histograms(histogram_densities, plot_dir, written)
    if "potentials" in tables and not tables["potentials"].empty:
        _plot_potentials(tables["potentials"], plot_dir, written)
    if not transitions.empty:
        _plot_transitions(transitions, plot_dir, written)
        if "theory" in transitions.columns:
            _plot_phase_diagram(transitions, plot_dir, written)
    return written
