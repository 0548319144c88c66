"""Scan reports: disorder averages, located transitions, plots and exit codes on scan directories
built by hand from exact posteriors (two-class Gaussian mixture: speciation; data set: collapse)."""
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mc
import replica
from replica import report as rep
from replica.report import plots, printing, reading
from replica.report import disorder_summary, load_scan, locate_transitions, report, scan_status
from replica.stats import Estimate
from replica.table import TaskInfo, histogram_frame, potential_frame, result_frame, write_task

SPEC_HASH = "0" * 64
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="plots need matplotlib (the 'plot' extra)"
)
T_SPECIATION = np.linspace(0.2, 4.0, 20)
T_COLLAPSE = np.linspace(0.05, 1.0, 14)
N_SPECIATION = (8, 32)
N_COLLAPSE = (8, 16)
DISORDER = 3


# ----------------------------------------------------------------------------- scan directories
def write_manifest(task_dir, task, paths, spec_hash=SPEC_HASH):
    """A manifest in the scan runner's format: spec hash and size + SHA-256 of each table."""
    files = {}
    for p in paths:
        with open(p, "rb") as fh:
            files[os.path.basename(p)] = {"bytes": os.path.getsize(p), "sha256": hashlib.sha256(fh.read()).hexdigest()}
    with open(os.path.join(task_dir, f"{task}.meta.json"), "w") as fh:
        json.dump({"task": task, "spec_hash": spec_hash, "files": files}, fh)


def write_scan(root, tasks, *, name, n_tasks=None):
    """``tasks``: {task name: {"results": df, "histograms": df or None, "potentials": df or None}}."""
    task_dir = root / "tasks"
    task_dir.mkdir(parents=True)
    record = {"name": name, "spec_hash": SPEC_HASH, "version": mc.__version__,
              "n_tasks": len(tasks) if n_tasks is None else n_tasks}
    (root / "scan.json").write_text(json.dumps(record))
    for task, frames in tasks.items():
        paths = write_task(task_dir, task, frames["results"], frames.get("histograms"),
                           potentials=frames.get("potentials"))
        write_manifest(task_dir, task, paths)
    return root


def class_susceptibility(post, mu):
    """(a_t / D_t) mu^T Cov[x0 | x_t] mu / |mu|^2 from the posterior covariance matrix (direct)."""
    return post.a / post.D * float(mu @ post.cov() @ mu) / float(mu @ mu)


def class_variance(post, mu):
    """Var[x . mu / |mu|^2 | x_t] = mu^T Cov mu / |mu|^4 from the covariance matrix (direct)."""
    return float(mu @ post.cov() @ mu) / float(mu @ mu) ** 2


def speciation_tasks():
    """Exact two-class mixture (|mu|^2 = N) on a t grid, planted disorder; observables through the
    package (the scan's routes), histograms from exact draws."""
    tasks = {}
    edges = np.linspace(-1.0, 1.0, 21)
    for n in N_SPECIATION:
        model = mc.GaussianMixture.two_class(1.0, n_dim=n)
        mu = model.means[0]
        for d in range(DISORDER):
            state = mc.draw_quenched(model, mc.VP(), T_SPECIATION, seed=11, disorder=d)
            for i, (t, x_t) in enumerate(zip(T_SPECIATION, state.x_t)):
                post = mc.Posterior(model, mc.VP(), x_t, t)
                info = TaskInfo.from_state(model, mc.VP(), state, scan="speciation", seed=11, t=t)
                estimates = {
                    "class_magnetisation_variance": replica.class_magnetisation_variance(post, mu),
                    "susceptibility": replica.susceptibility(post, kind="trace", wrt="h"),
                    "susceptibility_class": replica.susceptibility(post, kind="direction", direction=mu),
                }
                frames = {"results": result_frame(info, estimates)}
                if i % 6 == 0:
                    x = replica.exact_samples(post, 3, 40, np.random.default_rng([n, d, i]))
                    dist = replica.overlap_distribution(x, edges, normalised=True, warn=False)
                    frames["histograms"] = histogram_frame(info, {"P(q)": dist})
                tasks[f"N{n}_t{i:03d}_d{d:04d}"] = frames
    return tasks


def collapse_tasks():
    """Exact data-set posteriors (16 Gaussian points), planted (x0 a training point); P(q) atoms
    and a made-up Franz-Parisi table (the plot only needs its shape)."""
    tasks = {}
    q_grid = np.linspace(0.0, 1.0, 11)
    for n in N_COLLAPSE:
        model = mc.Dataset.gaussian(16, n, seed=5)
        for d in range(DISORDER):
            state = mc.draw_quenched(model, mc.VP(), T_COLLAPSE, seed=13, disorder=d)
            for i, (t, x_t) in enumerate(zip(T_COLLAPSE, state.x_t)):
                post = mc.Posterior(model, mc.VP(), x_t, t)
                info = TaskInfo.from_state(model, mc.VP(), state, scan="collapse", seed=13, t=t)
                estimates = {
                    "participation_ratio": replica.participation_ratio(post),
                    "weight_entropy": replica.weight_entropy(post),
                }
                frames = {"results": result_frame(info, estimates)}
                if i % 5 == 0:
                    frames["histograms"] = histogram_frame(info, {"P(q)": replica.overlap_distribution(post)})
                    curve = pd.DataFrame({"q": q_grid, "V": (q_grid - 1.0 / (1.0 + t)) ** 2, "stderr": 0.01})
                    frames["potentials"] = potential_frame(info, {"V(q)": curve}, order_parameter="overlap",
                                                           method="exact")
                tasks[f"N{n}_t{i:03d}_d{d:04d}"] = frames
    return tasks


@pytest.fixture(scope="module")
def speciation_dir(tmp_path_factory):
    return write_scan(tmp_path_factory.mktemp("speciation"), speciation_tasks(), name="speciation")


@pytest.fixture(scope="module")
def collapse_dir(tmp_path_factory):
    return write_scan(tmp_path_factory.mktemp("collapse"), collapse_tasks(), name="collapse")


def disorder_mean_curve(model, times, seed, func):
    """Mean over the disorder samples 0..DISORDER-1 of func(posterior) along each quenched path."""
    out = np.zeros(times.size)
    for d in range(DISORDER):
        state = mc.draw_quenched(model, mc.VP(), times, seed=seed, disorder=d)
        out += [func(mc.Posterior(model, mc.VP(), x, t)) for t, x in zip(times, state.x_t)]
    return out / DISORDER


def last_crossing(t, v, level):
    """Direct: the bracketing pair with the largest t, then numpy's linear interpolation."""
    i = max(j for j in range(t.size - 1) if (v[j] >= level) != (v[j + 1] >= level))
    seg_t, seg_v = t[i:i + 2], v[i:i + 2]
    order = np.argsort(seg_v)
    return float(np.interp(level, seg_v[order], seg_t[order]))


# ----------------------------------------------------------------------------- disorder averages
def test_disorder_summary_matches_a_direct_pandas_mean_and_standard_error(speciation_dir):
    results = load_scan(speciation_dir)["results"]
    summary = disorder_summary(results)
    keys = ["n_dim", "t", "observable", "method"]
    direct = results.groupby(keys)["value"].agg(["mean", "std", "count"]).reset_index()
    merged = summary.merge(direct, on=keys, validate="one_to_one")
    assert len(merged) == len(summary) == len(direct) == len(N_SPECIATION) * T_SPECIATION.size * 3
    np.testing.assert_allclose(merged["value"], merged["mean"], rtol=1e-13, atol=0)
    np.testing.assert_allclose(merged["stderr"], merged["std"] / np.sqrt(merged["count"]), rtol=1e-10, atol=1e-12)
    assert (merged["n_disorder"] == DISORDER).all() and (merged["stderr_kind"] == "disorder").all()
    # mu_norm2 = N is a parameter column: it labels the rows, it does not split disorder averages
    assert "mu_norm2" in summary and (summary["mu_norm2"] == summary["n_dim"]).all()


def synthetic_task(disorder, *, weight, value, stderr=0.01, disorder_seed=None, extra=None):
    model = mc.GaussianMixture.two_class(1.0, n_dim=4, weight=weight)
    params = replica.table.parameter_columns(model, mc.VP())
    if disorder_seed is not None:
        params["disorder_seed"] = disorder_seed
    info = TaskInfo(scan="s", model=model.name, process="VP", n_dim=4, t=1.0, disorder=disorder, seed=0,
                    planted=True, source="prior", params=params)
    estimates = {"y": Estimate(value, stderr, method="samples")}
    estimates.update(extra or {})
    return result_frame(info, estimates)


def test_scanned_parameters_label_rows_but_per_disorder_parameters_are_averaged_over():
    """A scanned model parameter (weight) makes separate rows; a per-disorder parameter (the seed of
    a disorder realisation, one value per disorder sample) does not split the average."""
    rng = np.random.default_rng(3)
    frames, values = [], {}
    for weight in (0.3, 0.5):
        vals = rng.normal(size=4)
        values[weight] = vals
        frames += [synthetic_task(d, weight=weight, value=v, disorder_seed=1000 + d) for d, v in enumerate(vals)]
    summary = disorder_summary(pd.concat(frames, ignore_index=True))
    assert "disorder_seed" not in summary and len(summary) == 2
    for weight, vals in values.items():
        row = summary[summary["weight"] == weight].iloc[0]
        assert row["value"] == pytest.approx(vals.mean(), rel=1e-13)
        assert row["stderr"] == pytest.approx(vals.std(ddof=1) / 2.0, rel=1e-12) and row["n_disorder"] == 4


def test_one_disorder_sample_reports_the_within_task_error_and_says_so():
    summary = disorder_summary(synthetic_task(0, weight=0.5, value=0.7, stderr=0.03))
    row = summary.iloc[0]
    assert row["value"] == 0.7 and row["stderr"] == 0.03
    assert row["n_disorder"] == 1 and row["stderr_kind"] == "within-task"


def test_binder_cumulant_of_disorder_averages_uses_the_jackknife_over_disorder():
    rng = np.random.default_rng(4)
    q2, q4 = rng.uniform(0.4, 0.6, 5), rng.uniform(0.3, 0.5, 5)
    frames = [synthetic_task(d, weight=0.5, value=0.0, extra={"q2": Estimate(q2[d], 0.0), "q4": Estimate(q4[d], 0.0)})
              for d in range(5)]
    summary = disorder_summary(pd.concat(frames, ignore_index=True))
    row = summary[summary["observable"] == "binder_disorder"].iloc[0]
    g = lambda a, b: 0.5 * (3.0 - b.mean() / a.mean() ** 2)  # noqa: E731
    loo = np.array([g(np.delete(q2, i), np.delete(q4, i)) for i in range(5)])
    assert row["value"] == pytest.approx(5 * g(q2, q4) - 4 * loo.mean(), rel=1e-12)
    assert row["stderr"] == pytest.approx(np.sqrt(4 / 5 * np.sum((loo - loo.mean()) ** 2)), rel=1e-12)
    assert row["stderr_kind"] == "jackknife" and row["n_disorder"] == 5


# ----------------------------------------------------------------------------- transitions
def class_susceptibility_closed_form(model, times, seed, n_disorder):
    """``(a/D) mu^T Cov mu / |mu|^2`` of the two-class mixture +-mu (unit variance, equal weights)
    under VP (``a^2 + D = 1``), averaged over disorder samples 0..n_disorder-1 (derived): the
    posterior is a mixture of ``N(D (+-mu) + a x_t, D I)`` with weights ``p, 1 - p``,
    ``p = sigmoid(2 a mu . x_t)``, so ``mu^T Cov mu = |mu|^2 (D + 4 D^2 |mu|^2 p (1 - p))`` and the
    susceptibility is ``a + 4 a D |mu|^2 p (1 - p)``."""
    mu = model.means[0]
    a = np.exp(-times)
    D = 1.0 - a * a
    out = np.zeros(times.size)
    for d in range(n_disorder):
        x_t = mc.draw_quenched(model, mc.VP(), times, seed=seed, disorder=d).x_t
        p = 1.0 / (1.0 + np.exp(-2.0 * a * (x_t @ mu)))
        out += a + 4.0 * a * D * float(mu @ mu) * p * (1.0 - p)
    return out / n_disorder


def test_speciation_peak_is_near_the_fine_grid_argmax_of_the_exact_class_susceptibility():
    """The parabolic vertex on the 20-point grid against the argmax, on a 20x finer grid, of the same
    disorder average in closed form: within a quarter of the coarse spacing (half the worst case h/2
    of an unrefined grid argmax). 16 disorder samples: a single sample's peak is sharp and its
    position random, so with a few samples the peak of the average is not significant."""
    n_disorder, seed = 16, 17
    frames = []
    for n in N_SPECIATION:
        model = mc.GaussianMixture.two_class(1.0, n_dim=n)
        mu = model.means[0]
        for d in range(n_disorder):
            state = mc.draw_quenched(model, mc.VP(), T_SPECIATION, seed=seed, disorder=d)
            for t, x_t in zip(T_SPECIATION, state.x_t):
                post = mc.Posterior(model, mc.VP(), x_t, t)
                info = TaskInfo.from_state(model, mc.VP(), state, scan="peak", seed=seed, t=t)
                frames.append(result_frame(info, {
                    "susceptibility_class": replica.susceptibility(post, kind="direction", direction=mu),
                    "class_magnetisation_variance": replica.class_magnetisation_variance(post, mu),
                    "susceptibility": replica.susceptibility(post, kind="trace", wrt="h"),
                }))
    summary = disorder_summary(pd.concat(frames, ignore_index=True))
    found = locate_transitions(summary, n_boot=200)
    h = T_SPECIATION[1] - T_SPECIATION[0]
    fine = np.linspace(T_SPECIATION[0], T_SPECIATION[-1], 20 * (T_SPECIATION.size - 1) + 1)
    for n in N_SPECIATION:
        model = mc.GaussianMixture.two_class(1.0, n_dim=n)
        coarse = summary[(summary["n_dim"] == n) & (summary["observable"] == "susceptibility_class")]
        np.testing.assert_allclose(coarse["value"], class_susceptibility_closed_form(model, T_SPECIATION, seed,
                                                                                     n_disorder), rtol=1e-9)
        curve = class_susceptibility_closed_form(model, fine, seed, n_disorder)
        row = found[(found["n_dim"] == n) & (found["method"] == "parabolic peak of susceptibility_class")]
        assert len(row) == 1 and row["transition"].iloc[0] == "speciation"
        assert abs(row["t_estimate"].iloc[0] - fine[np.argmax(curve)]) < h / 4
        assert np.isfinite(row["stderr"].iloc[0]) and row["stderr"].iloc[0] > 0
    # negative controls: disorder-averaged posterior variances do not decrease with t in the planted
    # case, so their grid maximum sits at the large-t end and no peak is reported for them
    methods = set(found["method"])
    assert "parabolic peak of class_magnetisation_variance" not in methods
    assert "parabolic peak of susceptibility" not in methods
    assert (found["method"] == "class_magnetisation_variance crosses 1/2").sum() == len(N_SPECIATION)


def test_speciation_crossing_matches_direct_interpolation_of_the_exact_class_variance(speciation_dir):
    summary = disorder_summary(load_scan(speciation_dir)["results"])
    found = locate_transitions(summary, n_boot=200)
    for n in N_SPECIATION:
        model = mc.GaussianMixture.two_class(1.0, n_dim=n)
        mu = model.means[0]
        curve = disorder_mean_curve(model, T_SPECIATION, 11, lambda p: class_variance(p, mu))
        row = found[(found["n_dim"] == n) & (found["method"] == "class_magnetisation_variance crosses 1/2")]
        assert len(row) == 1 and row["transition"].iloc[0] == "speciation"
        assert row["t_estimate"].iloc[0] == pytest.approx(last_crossing(T_SPECIATION, curve, 0.5), abs=1e-9)


def test_collapse_crossing_matches_direct_interpolation_of_the_participation_ratio(collapse_dir):
    summary = disorder_summary(load_scan(collapse_dir)["results"])
    found = locate_transitions(summary, n_boot=200)
    collapse = found[found["transition"] == "collapse"]
    assert sorted(collapse["n_dim"]) == list(N_COLLAPSE)
    for n in N_COLLAPSE:
        model = mc.Dataset.gaussian(16, n, seed=5)
        y = disorder_mean_curve(model, T_COLLAPSE, 13, lambda p: float(p.weights @ p.weights))
        assert y[0] > 0.5 > y[-1]  # the grid brackets the collapse
        row = collapse[collapse["n_dim"] == n].iloc[0]
        assert row["t_estimate"] == pytest.approx(last_crossing(T_COLLAPSE, y, 0.5), abs=1e-9)
        assert row["method"] == "participation_ratio crosses 1/2" and row["stderr"] > 0


def summary_of_curve(t, value, stderr, observable):
    return pd.DataFrame({
        "model": "m", "process": "VP", "n_dim": 10, "t": t, "observable": observable, "method": "exact",
        "value": value, "stderr": stderr, "n_disorder": 8, "stderr_kind": "disorder",
    })


def test_parabolic_vertex_is_exact_for_a_parabola_on_an_uneven_grid():
    t = np.array([0.1, 0.35, 0.5, 0.9, 1.0, 1.6, 2.0])
    value = 3.0 - 2.0 * (t - 0.83) ** 2
    found = locate_transitions(summary_of_curve(t, value, 0.0, "susceptibility_x"))
    assert len(found) == 1 and found["t_estimate"].iloc[0] == pytest.approx(0.83, abs=1e-12)
    assert found["stderr"].iloc[0] == 0.0


@pytest.mark.parametrize("n_boot", [4000])
def test_bootstrap_errors_agree_with_the_delta_method(n_boot):
    """Parametric bootstrap against first-order error propagation through the two formulas
    (derived); small errors, so the linearisation is exact to O((err / gap)^2). Tolerance: five
    standard errors of a standard deviation estimated from n_boot replicas, 5 / sqrt(2 (n_boot - 1))."""
    tol = 5.0 / np.sqrt(2.0 * (n_boot - 1))
    # peak: uniform grid, vertex t1 + (h/2)(v0 - v2)/(v0 - 2 v1 + v2)
    t = np.linspace(0.0, 2.0, 21)
    h = t[1] - t[0]
    value = np.exp(-((t - 1.03) ** 2) / 0.5)
    err = np.full(t.size, 2e-4)  # the second difference v0 - 2 v1 + v2 ~ -0.04 has an error ~ 5e-4
    found = locate_transitions(summary_of_curve(t, value, err, "susceptibility_x"), n_boot=n_boot, seed=1)
    k = int(np.argmax(value))
    v0, v1, v2 = value[k - 1:k + 2]
    d = v0 - 2 * v1 + v2
    se = h / d**2 * np.sqrt(((v2 - v1) * err[k - 1]) ** 2 + ((v0 - v2) * err[k]) ** 2 + ((v1 - v0) * err[k + 1]) ** 2)
    assert found["t_estimate"].iloc[0] == pytest.approx(t[k] + 0.5 * h * (v0 - v2) / d, abs=1e-12)
    assert abs(found["stderr"].iloc[0] / se - 1.0) < tol
    # crossing: t_i + h (L - v_i) / (v_j - v_i), errors h / D^2 sqrt((L - v_j)^2 e_i^2 + (L - v_i)^2 e_j^2)
    t = np.linspace(0.0, 1.0, 11)
    value = 1.0 / (1.0 + np.exp((t - 0.44) / 0.1))
    err = np.full(t.size, 1e-3)
    found = locate_transitions(summary_of_curve(t, value, err, "participation_ratio"), n_boot=n_boot, seed=2)
    i = int(np.flatnonzero(value >= 0.5)[-1])
    vi, vj, dv = value[i], value[i + 1], value[i + 1] - value[i]
    se = (t[1] - t[0]) / dv**2 * np.hypot((0.5 - vj) * err[i], (0.5 - vi) * err[i + 1])
    assert abs(found["stderr"].iloc[0] / se - 1.0) < tol


def test_a_curve_crossing_several_times_gives_the_crossing_at_the_largest_t():
    """The generative process runs from large to small t: the first crossing it meets is the last in t."""
    t = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    y = np.array([0.9, 0.4, 0.6, 0.7, 0.3, 0.2])  # crosses 1/2 three times
    found = locate_transitions(summary_of_curve(t, y, 0.0, "participation_ratio"))
    assert found["t_estimate"].iloc[0] == pytest.approx(0.4 + 0.1 * (0.5 - 0.7) / (0.3 - 0.7), abs=1e-12)


def test_bootstrap_over_disorder_samples_keeps_the_correlation_along_the_curve():
    """Disorder samples whose errors are mostly a common shift of the whole curve (as with common
    random numbers): the bootstrap over samples against first-order propagation with the sample
    covariance of the two bracketing points (derived), tolerance five standard errors of the
    bootstrap's standard deviation; negative control: the parametric bootstrap, blind to the
    correlation, falls short of it by more than that (here by about 1 - 1/sqrt 2, the most a
    common shift can do to a crossing between two points)."""
    n_boot, n = 4000, 200
    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 1.0, 11)
    base = 1.0 / (1.0 + np.exp((t - 0.44) / 0.1))
    samples = base + 1e-3 * (2.0 * rng.standard_normal((n, 1)) + 0.5 * rng.standard_normal((n, t.size)))
    results = pd.DataFrame({
        "model": "m", "process": "VP", "n_dim": 10, "t": np.tile(t, n), "disorder": np.repeat(np.arange(n), t.size),
        "observable": "participation_ratio", "method": "exact", "value": samples.ravel(), "stderr": 0.0,
    })
    summary = disorder_summary(results)
    with_samples = locate_transitions(summary, results, n_boot=n_boot, seed=3).iloc[0]
    parametric = locate_transitions(summary, n_boot=n_boot, seed=3).iloc[0]
    v = samples.mean(axis=0)
    i = int(np.flatnonzero(v >= 0.5)[-1])
    dv = v[i + 1] - v[i]
    grad = (t[1] - t[0]) / dv**2 * np.array([0.5 - v[i + 1], -(0.5 - v[i])])
    se = np.sqrt(grad @ np.cov(samples[:, i:i + 2], rowvar=False) @ grad / n)
    tol = 5.0 / np.sqrt(2.0 * (n_boot - 1))
    assert with_samples["stderr_method"] == "bootstrap over disorder samples"
    assert with_samples["t_estimate"] == parametric["t_estimate"]
    assert abs(with_samples["stderr"] / se - 1.0) < tol
    assert parametric["stderr_method"] == "parametric bootstrap" and parametric["stderr"] / se < 1.0 - tol


def test_no_transition_where_no_criterion_applies():
    t = np.linspace(0.1, 2.0, 12)
    flat = summary_of_curve(t, 0.2 + 0.01 * t, 0.001, "participation_ratio")  # never reaches 1/2
    edge = summary_of_curve(t, t, 0.001, "susceptibility")  # maximum at the end of the grid
    other = summary_of_curve(t, np.sin(3 * t), 0.001, "energy")  # no criterion for this observable
    found = locate_transitions(pd.concat([flat, edge, other], ignore_index=True))
    assert found.empty and {"transition", "n_dim", "t_estimate", "stderr", "method"} <= set(found.columns)
    noisy = summary_of_curve(t, 1.0 + 0.001 * np.sin(7 * t), 0.01, "susceptibility")  # bump within the errors
    assert locate_transitions(noisy).empty


def test_p_of_q_densities_read_piecewise_match_a_direct_average(collapse_dir, speciation_dir):
    """The report reads P(q) tables in pieces (they can be large): the densities do not depend on
    how the rows are split, and equal a direct computation: exact atoms pooled over disorder
    samples into 40 bins of their range, binned masses averaged bin by bin, divided by the width."""
    for directory, atomic in ((collapse_dir, True), (speciation_dir, False)):
        hist = load_scan(directory)["histograms"]
        whole = reading.histogram_densities(lambda: [hist])
        shuffled = hist.sample(frac=1.0, random_state=0)
        pieces = reading.histogram_densities(lambda: [shuffled.iloc[k::7] for k in range(7)])
        pd.testing.assert_frame_equal(whole, pieces, check_exact=False, rtol=1e-12, atol=1e-12)
        assert (whole["atomic"] == atomic).all() and (whole["n_disorder"] == DISORDER).all()
        n, t = whole["n_dim"].iloc[0], whole["t"].iloc[0]
        cell = hist[(hist["n_dim"] == n) & (hist["t"] == t)]
        got = whole[(whole["n_dim"] == n) & (whole["t"] == t)]
        if atomic:
            edges = np.linspace(cell["q"].min(), cell["q"].max(), 41)
            mass = np.histogram(cell["q"], bins=edges, weights=cell["prob"] / DISORDER)[0]
            np.testing.assert_allclose(got["density"], mass / np.diff(edges), rtol=1e-10, atol=1e-12)
        else:
            direct = cell.groupby("q")["prob"].mean() / (cell["q_hi"] - cell["q_lo"]).iloc[0]
            np.testing.assert_allclose(got["density"], direct.to_numpy(), rtol=1e-12)
            assert (got["err"] > 0).any()


# ----------------------------------------------------------------------------- reading and reporting
def test_report_prints_counts_tables_and_transitions(speciation_dir, tmp_path):
    root = tmp_path / "scan"
    shutil.copytree(speciation_dir, root, ignore=shutil.ignore_patterns("plots"))
    names = sorted(f[: -len(".meta.json")] for f in os.listdir(root / "tasks") if f.endswith(".meta.json"))
    failed = names[5]
    for f in (root / "tasks").glob(f"{failed}.*"):
        f.unlink()
    (root / "tasks" / f"{failed}.error.json").write_text(json.dumps({"error": "FloatingPointError", "message": "boom"}))
    record = json.loads((root / "scan.json").read_text())
    (root / "scan.json").write_text(json.dumps({**record, "n_tasks": len(names) + 4}))
    out = io.StringIO()
    assert report(root, plots=False, stream=out) == 0
    text = out.getvalue()
    assert "scan: speciation" in text
    assert f"tasks: {len(names) - 1} of {len(names) + 4} done, 1 failed, 4 missing" in text
    assert f"failed {failed}: FloatingPointError: boom" in text
    assert "per-task files" in text and "susceptibility_class" in text and "±" in text
    assert "class_magnetisation_variance crosses 1/2" in text and "bootstrap over disorder samples" in text
    assert not (root / "plots").exists()
    status = scan_status(root)
    assert status.failed == [failed] and status.missing == 4 and len(status.done) == len(names) - 1


@needs_matplotlib
def test_report_writes_observable_histogram_and_transition_plots(speciation_dir):
    out = io.StringIO()
    assert report(speciation_dir, stream=out) == 0
    text = out.getvalue()
    plots = sorted(os.listdir(speciation_dir / "plots"))
    assert "transitions.png" in plots and "observable_susceptibility_class.png" in plots
    assert "phase_diagram.png" in plots
    assert any(p.startswith("histogram_P_q") for p in plots)
    for p in plots:
        assert os.path.getsize(speciation_dir / "plots" / p) > 1000 and p in text


@needs_matplotlib
def test_report_draws_potential_panels_and_honours_plot_dir(collapse_dir, tmp_path):
    out = io.StringIO()
    assert report(collapse_dir, plot_dir=tmp_path / "figs", stream=out) == 0
    plots = sorted(os.listdir(tmp_path / "figs"))
    assert "potential_V_q__overlap_exact.png" in plots and "observable_participation_ratio.png" in plots
    assert all(os.path.getsize(tmp_path / "figs" / p) > 1000 for p in plots)
    assert not (collapse_dir / "plots").exists()
    assert "collapse" in out.getvalue()


@needs_matplotlib
def test_a_scan_written_as_csv_is_reported_the_same_way(tmp_path, monkeypatch):
    """Without pyarrow the tables are CSV files: same summary, histograms read in chunks."""
    monkeypatch.setattr(replica.table, "parquet_available", lambda: False)
    tasks = {k: v for k, v in collapse_tasks().items() if k.startswith("N8_")}
    root = write_scan(tmp_path / "csv", tasks, name="csv")
    assert all(f.endswith((".csv", ".json")) for f in os.listdir(root / "tasks"))
    out = io.StringIO()
    assert report(root, stream=out) == 0
    assert "participation_ratio crosses 1/2" in out.getvalue()
    assert "histogram_P_q__exact.png" in os.listdir(root / "plots")


def test_without_matplotlib_plots_are_skipped_with_the_install_command(collapse_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(rep, "_matplotlib_available", lambda: False)
    out = io.StringIO()
    assert report(collapse_dir, plot_dir=tmp_path / "figs", stream=out) == 0
    assert "plots: skipped" in out.getvalue() and "pip install -e '.[plot]'" in out.getvalue()
    assert not (tmp_path / "figs").exists()
    out = io.StringIO()
    assert report(collapse_dir, plots=False, stream=out) == 0 and "plots" not in out.getvalue()


def test_missing_empty_and_result_free_directories_exit_2_naming_the_directory(tmp_path):
    for path in (tmp_path / "nowhere", tmp_path):
        out = io.StringIO()
        assert report(path, stream=out) == 2
        assert str(path) in out.getvalue() and "directory:" in out.getvalue()
    scan = tmp_path / "started"
    (scan / "tasks").mkdir(parents=True)
    (scan / "scan.json").write_text(json.dumps({"name": "started", "spec_hash": SPEC_HASH, "n_tasks": 6}))
    out = io.StringIO()
    assert report(scan, stream=out) == 2
    assert "0 of 6 done, 0 failed, 6 missing" in out.getvalue() and "no results" in out.getvalue()
    assert str(scan) in out.getvalue()


def test_merged_tables_are_read_only_when_newer_than_every_task_file(tmp_path):
    tasks = {f"t{d}": {"results": synthetic_task(d, weight=0.5, value=float(d))} for d in range(3)}
    root = write_scan(tmp_path / "scan", tasks, name="m")
    merged = root / "merged"
    merged.mkdir()
    all_rows = pd.concat([f["results"] for f in tasks.values()], ignore_index=True)
    path = merged / "results.parquet"
    all_rows.iloc[:2].to_parquet(path)  # differs from the tasks: two rows only
    newest = max(os.stat(p).st_mtime_ns for p in (root / "tasks").iterdir())
    os.utime(path, ns=(newest + 10**9, newest + 10**9))
    got = load_scan(root)
    assert got["results"].attrs["source"] == "merged" and len(got["results"]) == 2
    os.utime(path, ns=(newest - 10**9, newest - 10**9))
    got = load_scan(root)
    assert got["results"].attrs["source"] == "tasks" and len(got["results"]) == 3
    assert "older" in got["results"].attrs["note"] and got["histograms"].empty


def test_a_manifest_that_does_not_verify_is_not_counted_or_read(tmp_path):
    tasks = {f"t{d}": {"results": synthetic_task(d, weight=0.5, value=float(d))} for d in range(3)}
    root = write_scan(tmp_path / "scan", tasks, name="m")
    with open(root / "tasks" / "t1.results.parquet", "ab") as fh:  # damaged after its manifest was written
        fh.write(b"x")
    status = scan_status(root)
    assert status.done == ["t0", "t2"] and status.stale == ["t1"] and status.missing == 1
    assert sorted(load_scan(root)["results"]["disorder"]) == [0, 2]


def test_module_entry_point_runs_the_report(collapse_dir):
    out = subprocess.run([sys.executable, "-m", "replica.report", str(collapse_dir), "--no-plots"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "scan: collapse" in out.stdout and "participation_ratio crosses 1/2" in out.stdout


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: disorder_summary([1, 2]), "results"),
        (lambda: disorder_summary(pd.DataFrame({"value": [1.0]})), "results"),
        (lambda: disorder_summary(pd.concat([synthetic_task(0, weight=0.5, value=1.0)] * 2)), "results"),
        (lambda: locate_transitions(pd.DataFrame({"t": [1.0]})), "summary"),
        (lambda: locate_transitions(summary_of_curve([1.0, 2.0], [0.0, 1.0], 0.1, "y"), n_boot=1), "n_boot"),
        (lambda: load_scan(12), "directory"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


# ----------------------------------------------------------------------------- figures
def figure_texts(fig):
    """Every legend text of a figure's axes."""
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def vertical_lines(ax):
    """x positions of the vertical lines (axvline) of an axes."""
    out = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if x.size == 2 and x[0] == x[1] and tuple(line.get_ydata()) == (0, 1):
            out.append(float(x[0]))
    return out


@pytest.fixture(scope="module")
def speciation_figures(speciation_dir, tmp_path_factory):
    results = load_scan(speciation_dir)["results"]
    summary = disorder_summary(results)
    transitions = rep.located_transitions(results, summary, n_boot=200)
    figures = plots._plot_observables(summary, transitions, tmp_path_factory.mktemp("figs"), [])
    return figures, transitions


def test_every_scan_observable_has_a_label_and_a_formula():
    from replica.scan.spec import OBSERVABLES

    names = [n for n in OBSERVABLES if n != "overlap_histogram"] + ["q2", "q4", "binder_disorder"]
    for name in names:
        label, formula = rep.observable_label(name)
        assert label and formula and label != name, name
    assert rep.observable_label("my_new_observable") == ("my new observable", "")  # fallback


@needs_matplotlib
def test_observable_panels_take_labels_and_formulas_from_the_table(speciation_figures):
    figures, _ = speciation_figures
    for obs in ("susceptibility_class", "class_magnetisation_variance", "susceptibility"):
        ax = figures[obs].axes[0]
        label, formula = rep.OBSERVABLE_LABELS[obs]
        assert ax.get_ylabel() == label != obs
        assert formula in ax.get_title() and "disorder average" in ax.get_title()
        assert ax.get_xlabel().startswith("diffusion time t (VP: ") and "a_t = e^{-t}" in ax.get_xlabel()
        assert "_" not in obs or not any(obs in text for text in figure_texts(figures[obs]))  # no raw names


@needs_matplotlib
def test_transition_panels_have_a_legend_naming_criteria_and_sizes(speciation_figures):
    figures, transitions = speciation_figures
    ax = figures["class_magnetisation_variance"].axes[0]
    texts = figure_texts(figures["class_magnetisation_variance"])
    assert ax.get_legend() is not None
    located = [t for t in texts if t.startswith("located: ")]
    assert len(located) == 1 and "class variance crosses 1/2" in located[0] and "colour = N" in located[0]
    assert {f"N = {n}" for n in N_SPECIATION} <= set(texts)
    rows = transitions[(transitions["observable"] == "class_magnetisation_variance")]
    for t in rows["t_estimate"]:  # one line per located time, in the legend by its criterion
        assert any(abs(x - t) < 1e-12 for x in vertical_lines(ax))
    if (transitions["observable"] == "susceptibility_class").any():  # a peak is an indicator
        peak = figure_texts(figures["susceptibility_class"])
        assert any(t.startswith("located: parabolic peak of class susceptibility") and "indicator" in t for t in peak)


@needs_matplotlib
def test_theory_lines_are_drawn_and_labelled_where_a_closed_form_exists(speciation_figures, collapse_dir, tmp_path):
    from replica import theory

    figures, _ = speciation_figures
    ax = figures["class_magnetisation_variance"].axes[0]
    lines = vertical_lines(ax)
    for n in N_SPECIATION:  # |mu|^2 = N, variance 1: t_S = (1/2) log(N + 1)
        assert any(abs(x - float(theory.speciation_time(n + 1.0))) < 1e-12 for x in lines)
    assert any(t.startswith("theory: speciation $t_S") for t in figure_texts(figures["class_magnetisation_variance"]))
    # the planted cloning probability of the mixture: a curve equal to the integral
    rows = []
    for n in N_SPECIATION:
        model = mc.GaussianMixture.two_class(1.0, n_dim=n)
        for d in range(2):
            state = mc.draw_quenched(model, mc.VP(), T_SPECIATION, seed=3, disorder=d)
            for t, x_t in zip(T_SPECIATION, state.x_t):
                info = TaskInfo.from_state(model, mc.VP(), state, scan="phi", seed=3, t=t)
                post = mc.Posterior(model, mc.VP(), x_t, t)
                rows.append(result_frame(info, {"cloning_probability": replica.cloning_probability(post)}))
    summary = disorder_summary(pd.concat(rows, ignore_index=True))
    fig = plots._plot_observables(summary, rep.located_transitions(pd.concat(rows), summary, n_boot=50), tmp_path, [])[
        "cloning_probability"]
    curves = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("theory φ(t)")]
    assert len(curves) >= 1 and any(t.startswith("theory φ(t): exact integral") for t in figure_texts(fig))
    phi = [ln for ln in fig.axes[0].get_lines() if "theory φ(t)" in ln.get_label()]
    assert len(phi) == len(N_SPECIATION)
    for line, n in zip(phi, N_SPECIATION):
        x = np.asarray(line.get_xdata(), dtype=float)
        np.testing.assert_allclose(line.get_ydata(), theory.cloning_probability(x, float(n)), rtol=1e-12)
    # collapse of e^{alpha N} points: t_C
    t = np.linspace(0.1, 2.0, 12)
    curve = summary_of_curve(t, 1.0 / (1.0 + np.exp((t - 0.6) / 0.1)), 0.01, "participation_ratio").assign(
        alpha=0.2, variance=1.0)
    fig = plots._plot_observables(curve, pd.DataFrame(), tmp_path, [])["participation_ratio"]
    assert any(abs(x - float(theory.collapse_time(0.2))) < 1e-12 for x in vertical_lines(fig.axes[0]))
    assert any(t.startswith("theory: collapse $t_C") for t in figure_texts(fig))
    # negative control: a data set of Gaussian points has no closed form here, so no theory line
    results = load_scan(collapse_dir)["results"]
    fig = plots._plot_observables(disorder_summary(results), pd.DataFrame(), tmp_path, [])["participation_ratio"]
    assert not any("theory" in t for t in figure_texts(fig)) and not vertical_lines(fig.axes[0])


@needs_matplotlib
def test_p_of_q_panels_say_which_overlap_is_drawn(speciation_dir, collapse_dir, tmp_path):
    for directory, normalised in ((speciation_dir, True), (collapse_dir, False)):
        hist = load_scan(directory)["histograms"]
        assert set(hist["normalised"]) == {normalised}
        figures = plots._plot_histograms(reading.histogram_densities(lambda: [hist]), tmp_path, [])
        ((key, fig),) = figures.items()
        title = fig._suptitle.get_text()
        assert key[3] == normalised
        if normalised:
            assert "normalised overlap of two replicas" in title and "(|x^a|" in title
        else:
            assert "overlap of two replicas, not normalised" in title and "/ \\, N$" in title
        assert all(ax.get_xlabel() in title for ax in fig.axes if ax.get_visible())


def phase_rows(method, n_dims, times, theory_value, criterion, n_ref=None):
    return pd.DataFrame({
        "transition": "speciation", "n_dim": np.asarray(n_dims, float), "t_estimate": times, "stderr": 0.05,
        "method": method, "systematic": np.nan, "n_dim_ref": np.nan if n_ref is None else np.asarray(n_ref, float),
        "model": "m", "process": "VP", "observable": method.split()[0], "estimator": "exact", "n_disorder": 20,
        "n_boot": 100, "stderr_method": "bootstrap over disorder samples", "theory": theory_value,
        "theory_criterion": criterion})


@needs_matplotlib
def test_phase_diagram_legend_caveats_merges_and_plain_ticks(tmp_path):
    dims = [8, 16, 32]
    t_s = np.array([1.1, 1.4, 1.75])
    transitions = pd.concat([
        phase_rows("cloning_probability crosses 3/4", dims, [1.2, 1.5, 1.8], t_s + 0.05, "phi(t) = 3/4"),
        phase_rows("class_magnetisation_variance crosses 1/2", dims, [1.2, 1.5, 1.8], t_s, "(1/2) log Lambda"),
        phase_rows("parabolic peak of susceptibility_class", dims, [1.2, 1.52, 1.8], t_s, "(1/2) log Lambda"),
        phase_rows("crossing of binder_disorder curves of N_ref and N", dims[1:], [0.6, 0.5], t_s[1:],
                   "(1/2) log Lambda", n_ref=dims[:-1]),
    ], ignore_index=True)
    fig = plots._plot_phase_diagram(transitions, tmp_path, [])
    ax = fig.axes[0]
    texts = figure_texts(fig)
    # equal times: one marker set, one legend entry naming both criteria
    assert any("cloning probability φ crosses 3/4" in t and "class variance crosses 1/2" in t for t in texts)
    # indicators say so; every theory line is labelled
    assert any("Binder" in t and "indicator, not checked against theory" in t for t in texts)
    assert any("parabolic peak" in t and "indicator" in t for t in texts)
    assert {"theory (speciation): phi(t) = 3/4", "theory (speciation): (1/2) log Lambda"} <= set(texts)
    # the peak (same values as the crossing at two N) is shifted, not hidden
    xs = [np.asarray(c.lines[0].get_xdata(), float) for c in ax.containers]
    assert len(xs) == 3 and all(not np.allclose(a, b) for i, a in enumerate(xs) for b in xs[i + 1:] if a.size == b.size)
    # the legend is off the region labels, tick labels are plain decimals
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = ax.get_legend().get_window_extent(renderer)
    assert ax.texts and not any(box.overlaps(t.get_window_extent(renderer)) for t in ax.texts)
    for label in ax.get_yticklabels() + ax.get_xticklabels():
        if label.get_text():
            float(label.get_text())
    assert [lbl.get_text() for lbl in ax.get_xticklabels() if lbl.get_text()] == ["8", "16", "32"]


@pytest.mark.slow
def test_the_demo_locates_speciation_where_the_theory_says():
    """The main job (jobs/demo.toml, exact posterior) computed without its files: the cloning
    probability of every task from the scan's own model, process and quenched states, then the
    report's locator. At every N the crossing of 3/4 agrees with the planted integral within 4
    standard errors (bootstrap over disorder samples)."""
    from replica.scan import load_spec
    from replica.scan.compute import build_model, build_process, quenched_state
    from replica.scan.tasks import make_tasks

    spec = load_spec(os.path.join(os.path.dirname(__file__), "..", "jobs", "demo.toml"))
    process = build_process(spec)
    frames = []
    for task in make_tasks(spec):
        model = build_model(spec, task.n_dim, task.disorder)
        state = quenched_state(spec, model, process, task)
        post = mc.Posterior(model, process, state.x_t, task.t)
        info = TaskInfo.from_state(model, process, state, scan=spec.scan.name, seed=spec.scan.seed)
        frames.append(result_frame(info, {"cloning_probability": replica.cloning_probability(post)}))
    results = pd.concat(frames, ignore_index=True)
    found = rep.located_transitions(results)
    found = found[found["method"] == "cloning_probability crosses 3/4"]
    assert sorted(found["n_dim"]) == sorted(spec.grid.n_dim)
    for _, row in found.iterrows():
        assert row["stderr_method"] == "bootstrap over disorder samples" and 0 < row["stderr"] < 0.2
        assert abs(row["t_estimate"] - row["theory"]) < 4 * row["stderr"], row.to_dict()


def test_figures_read_panels_levels_and_roles_from_the_criterion_registry():
    """Which theory lines an observable panel carries, the level drawn on it and the role of a
    criterion come from the registered criteria: the built-in ones as before, a criterion added
    at run time while it is registered, and the empty report lists every criterion's statement."""
    from replica import criteria as cr
    from replica.transitions import level_rule

    for obs in ("class_magnetisation", "class_magnetisation_variance", "cloning_probability", "susceptibility_class"):
        assert plots._sees(obs) == (True, False), obs
    for obs in ("participation_ratio", "weight_entropy", "nearest_point_overlap"):
        assert plots._sees(obs) == (False, True), obs
    for obs in ("susceptibility", "binder_disorder", "fp_fragmented", "q_self"):
        assert plots._sees(obs) == (True, True), obs
    assert plots._levels("cloning_probability") == (0.75, "3/4") and plots._levels("fp_fragmented") == (0.5, "1/2")
    assert plots._levels("q_self") is None
    assert set(rep.CRITERION_ROLES) == {
        ("cloning_probability crosses 3/4", "checked"), ("participation_ratio crosses 1/2, extrapolated", "checked"),
        ("fraction with a Franz-Parisi secondary minimum", "checked"), ("participation_ratio crosses 1/2", "finite"),
        ("class_magnetisation_variance crosses 1/2", "trend"), ("pattern_overlap crosses 1/2", "finite"),
        ("crossing of spin_glass_susceptibility_scaled", "finite"),
        ("crossing of spin_glass_susceptibility_scaled (chi_SG / N^(1/3)) curves of N_ref and N, extrapolated",
         "checked")}
    assert plots._criterion_role("participation_ratio crosses 1/2, extrapolated t_N = t_inf + b/N over N = 8") == "checked"
    assert plots._criterion_role("participation_ratio crosses 1/2") == "finite"
    sg = "crossing of spin_glass_susceptibility_scaled (chi_SG / N^(1/3)) curves of N_ref and N"
    assert plots._criterion_role(sg) == "finite"
    assert plots._criterion_role(sg + ", extrapolated t_N = t_inf + b N^(-2/3) over N = 32, 64, 128") == "checked"
    assert plots._criterion_role("parabolic peak of susceptibility_class") == "indicator"
    custom = cr.Criterion("collapse", "entropy_level", ("weight_entropy",), "weight_entropy crosses 1 (test)",
                          level_rule({"weight_entropy": (1.0, "1")}), panels=("overlap_truth",),
                          levels={"weight_entropy": (1.0, "1")}, roles=(("weight_entropy crosses 1", "checked"),))
    cr.register_criterion(custom)
    try:
        assert plots._sees("overlap_truth") == (False, True) and plots._levels("weight_entropy") == (1.0, "1")
        assert plots._criterion_role("weight_entropy crosses 1") == "checked"
        stream = io.StringIO()
        printing._print_transitions(pd.DataFrame(), stream)
        text = stream.getvalue()
        assert text.startswith("transitions: none located")
        for c in cr.criteria().values():
            assert f"{c.transition} {c.name}: {c.statement}" in text
    finally:
        cr.unregister_criterion("collapse", "entropy_level")
    assert plots._sees("overlap_truth") == (True, True) and plots._levels("weight_entropy") is None
    assert plots._criterion_role("weight_entropy crosses 1") == "indicator"


@needs_matplotlib
def test_spin_glass_figures_draw_the_de_almeida_thouless_time_of_an_unplanted_sk_posterior():
    """The chi_SG panels of an SK scan with x_t ~ N(0, v I) carry t_F of the RS theory (the value
    with_theory puts beside the located crossings); a paramagnetic prior (beta J < 1) has none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = {"model": "sk", "process": "VP", "beta": 1.5, "J": 1.0, "J0": 0.0, "field": 0.0, "noise_variance": 1.0}
    t_f = replica.theory.sk_fragmentation_time(1.5, 1.0, 1.0, "vp")
    assert plots._closed_forms(row)["t_F"] == pytest.approx(t_f, rel=1e-12) and 0.9 < t_f < 1.1
    fig, ax = plt.subplots()
    handles = plots._theory_overlays(ax, "spin_glass_susceptibility_scaled", [("C0", row)], 0.2, 3.0, True)
    assert any("t_F" in h.get_label() for h in handles)
    assert [tuple(line.get_xdata()) for line in ax.lines] == [(t_f, t_f)]
    assert not plots._theory_overlays(ax, "q_self", [("C0", row)], 0.2, 3.0, True)
    assert "t_F" not in plots._closed_forms({**row, "beta": 0.8})
    # the unscaled panel also carries the RS chi_SG(t), finite below t_F, without rescaling the axes
    fig2, ax2 = plt.subplots()
    ax2.plot([0.2, 3.0], [0.5, 5.0])
    handles = plots._theory_overlays(ax2, "spin_glass_susceptibility", [("C0", row)], 0.2, 3.0, True)
    assert any("RS chi_SG" in h.get_label() for h in handles)
    curve = next(line for line in ax2.lines if len(line.get_xdata()) > 2)
    t, chi = curve.get_xdata(), curve.get_ydata()
    below = t < 0.5 * t_f
    assert np.allclose(chi[below], replica.theory.sk_rs_spin_glass_susceptibility_at_time(t[below], 1.5))
    assert np.isnan(chi[t > t_f]).all() and ax2.get_ylim()[1] < 10
    plt.close(fig)
    plt.close(fig2)


@needs_matplotlib
def test_phase_diagram_draws_the_theory_of_a_criterion_located_only_by_crossings():
    """spin_glass rows are crossings of two sizes; their N-independent t_F is one labelled line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    method = "crossing of spin_glass_susceptibility_scaled (chi_SG / N^(1/3)) curves of N_ref and N"
    rows = pd.DataFrame({"transition": "fragmentation", "n_dim": [64.0, 128.0], "n_dim_ref": [32.0, 64.0],
                         "t_estimate": [1.3, 1.7], "stderr": [0.2, 0.4], "method": method, "estimator": "heat_bath",
                         "theory": 0.989, "theory_criterion": "t_F: de Almeida-Thouless line"})
    fig, ax = plt.subplots()
    drawn = plots._draw_located(ax, rows, False, 64.0, 128.0)
    assert ("fragmentation", "t_F: de Almeida-Thouless line") in drawn
    assert [tuple(line.get_ydata()) for line in ax.lines if "theory" in line.get_label()] == [(0.989, 0.989)]
    plt.close(fig)
