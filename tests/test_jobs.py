"""Every shipped spec in ``jobs/`` runs end to end through ``replica scan`` at a reduced size, and
its Monte Carlo rows agree with its exact rows where it records both.

The specs are found by glob, so a new ``jobs/*.toml`` is covered without editing this file. Each
is reduced (:func:`reduce_spec`: the two smallest N of its grid up to N = 32, three times, two disorder
samples, fewer sweeps and exact draws) and every other setting is kept as shipped: model, process,
source, method, replicas, thinning, tempering ladder, observables, exact reference, Franz-Parisi
section. The reduced spec is written to a temporary directory and run by the command line's own
entry point (``replica.cli.main(["scan", SPEC, "--out", OUT])``, in process: the console script
calls the same function) and its merged tables are read back with pandas.
"""
import glob
import io
import json
import math
import os
import sys
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from replica.cli import EXIT_OK, main
from replica.report import report
from replica.scan import load_spec, make_tasks, parse_spec

from conftest import STAND_IN_ROWS, stage_shipped_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = sorted(glob.glob(os.path.join(ROOT, "jobs", "*.toml")))

#: The reduction: sizes of the grid up to this N (or this N itself when the grid has none) ...
MAX_N = 32
#: ... and at most this many of the grid's sizes,
N_SIZES = 2
#: this many times (first, middle, last of the grid),
N_TIMES = 3
#: this many disorder samples,
DISORDER = 2
#: at most this many Monte Carlo sweeps after burn-in (burn-in cut in proportion),
MAX_SWEEPS = 1500
#: at most this many exact draws per replica,
MAX_DRAWS = 50
#: clones per replica and reverse steps of a clones spec,
MAX_CLONES_PER_REPLICA, MAX_CLONE_STEPS = 4, 20
#: and for Franz-Parisi at most this many references and umbrella sweeps.
MAX_REFERENCES, MAX_UMBRELLA_SWEEPS = 4, 500
#: Monte Carlo rows must lie within this many standard errors of the exact rows.
Z_MAX = 5.0
#: A Monte Carlo standard error below this fraction of the observable's scale is rounding noise of a
#: series that did not vary (see :func:`z_scores`).
DEGENERATE = 1e-9


# ------------------------------------------------------------------------------ reduction
def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml(raw):
    lines = []
    for section, table in raw.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines)


def reduce_spec(path):
    """The spec at ``path`` cut down to a run of a few seconds; returns ``(text, shipped spec)``.
    A model that reads data files keeps them and its N; its training-set sizes are cut to the
    two smallest."""
    shipped = load_spec(path)
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    raw["scan"].pop("output", None)
    grid = raw["grid"]
    if shipped.model.entry.files:
        if "n_points" in raw["model"]:
            sizes = shipped.model.axis_values
            raw["model"]["n_points"] = [n for n in sizes if n <= STAND_IN_ROWS][:N_SIZES] or [min(sizes)]
    else:
        grid["n_dim"] = [n for n in shipped.grid.n_dim if n <= MAX_N][:N_SIZES] or [MAX_N]
    times = shipped.grid.t
    picks = sorted({int(round(i)) for i in np.linspace(0, len(times) - 1, min(N_TIMES, len(times)))})
    grid["t"] = [times[i] for i in picks]
    grid["disorder"] = min(DISORDER, shipped.grid.disorder)
    sampler = raw.setdefault("sampler", {})
    s = shipped.sampler
    if s.method == "exact":
        sampler["draws"] = min(s.draws, MAX_DRAWS)
    elif s.method == "clones":
        sampler["draws"] = min(s.draws, MAX_CLONES_PER_REPLICA)
        raw["score"]["n_steps"] = min(shipped.score.n_steps, MAX_CLONE_STEPS)
    else:
        sweeps = min(s.n_sweeps, MAX_SWEEPS)
        burn_in = s.n_sweeps // 4 if s.burn_in is None else s.burn_in
        sampler["n_sweeps"] = sweeps
        sampler["burn_in"] = int(math.ceil(burn_in * sweeps / s.n_sweeps))
        sampler["thin"] = min(s.thin, sweeps)
    if "franz_parisi" in raw:
        fp = raw["franz_parisi"]
        fp["n_references"] = min(shipped.franz_parisi.n_references, MAX_REFERENCES)
        if shipped.franz_parisi.method == "umbrella":
            fp["n_sweeps"] = min(shipped.franz_parisi.n_sweeps, MAX_UMBRELLA_SWEEPS)
    return _toml(raw), shipped


def _kept_as_shipped(reduced, shipped):
    """The settings that the reduction must not touch."""
    same_model = reduced.model == shipped.model
    if shipped.model.entry.files:  # the data and all but the training-set sizes
        same_model = (reduced.model.name == shipped.model.name and {k: v for k, v in reduced.model.params.items()
                                                                    if k != "n_points"}
                      == {k: v for k, v in shipped.model.params.items() if k != "n_points"})
    keep = {
        "model": same_model,
        "process": reduced.process == shipped.process,
        "grid.source": reduced.grid.source == shipped.grid.source,
        "observables": reduced.observables == shipped.observables,
    }
    for name in ("method", "n_replicas", "tempering", "n_temperatures", "lowest_beta", "step_size", "n_leapfrog", "init",
                 "exact_reference"):
        keep[f"sampler.{name}"] = getattr(reduced.sampler, name) == getattr(shipped.sampler, name)
    fp_fields = ("method", "order_parameter", "reference", "q", "bin_average", "n_replicas", "kappa")
    keep["franz_parisi"] = (reduced.franz_parisi is None) == (shipped.franz_parisi is None) and (
        shipped.franz_parisi is None
        or all(getattr(reduced.franz_parisi, f) == getattr(shipped.franz_parisi, f) for f in fp_fields))
    return [k for k, ok in keep.items() if not ok]


# ------------------------------------------------------------------------------ running
_RUNS = {}


def _run(path, tmp_path_factory):
    """Run the reduced spec once per test session; returns a dict describing the run."""
    if path not in _RUNS:
        work = tmp_path_factory.mktemp(os.path.basename(path).replace(".toml", ""))
        text, shipped = reduce_spec(stage_shipped_spec(path, work))
        reduced = parse_spec(text, base_dir=work)
        spec_path, out = work / "reduced.toml", work / "out"
        spec_path.write_text(text)
        with mock.patch.dict(os.environ):  # `replica scan` pins threads in os.environ: undo after
            code = main(["scan", str(spec_path), "--out", str(out), "--quiet"])
        _RUNS[path] = {"code": code, "spec": reduced, "shipped": shipped, "out": out, "text": text}
    return _RUNS[path]


def _read(out, name):
    for ext, reader in (("parquet", pd.read_parquet), ("csv", pd.read_csv)):
        path = out / "merged" / f"{name}.{ext}"
        if path.exists():
            return reader(path)
    return None


def _errors(out):
    return {p.name: json.loads(p.read_text()).get("message") for p in (out / "tasks").glob("*.error.json")}


def test_shipped_specs_are_found():
    names = {os.path.basename(p) for p in SPECS}
    assert {"demo.toml", "collapse_dataset.toml", "speciation_gmm.toml", "spins_cw_sk.toml",
            "phase_diagram.toml"} <= names


@pytest.mark.parametrize("path", SPECS, ids=os.path.basename)
def test_shipped_spec_runs_end_to_end_at_reduced_size(path, tmp_path_factory):
    run = _run(path, tmp_path_factory)
    spec, out = run["spec"], run["out"]
    assert not _kept_as_shipped(spec, run["shipped"]), f"the reduction changed {_kept_as_shipped(spec, run['shipped'])}"
    errors = _errors(out)
    assert run["code"] == EXIT_OK and not errors, f"exit code {run['code']}, failed tasks: {errors}"
    tasks = make_tasks(spec)
    assert len(list((out / "tasks").glob("*.meta.json"))) == len(tasks)

    results = _read(out, "results")
    assert results is not None, "no merged results table"
    task_keys = ["n_dim", "t", "disorder"] + (["n_points"] if spec.model.axis_values != (None,) else [])
    assert results.groupby(task_keys).ngroups == len(tasks)
    assert set(results.scan) == {spec.scan.name} and set(results.n_dim) == set(spec.grid.n_dim)
    wanted = {n for n in spec.observables.names if n != "overlap_histogram"}
    assert wanted <= set(results.observable), f"missing observables {wanted - set(results.observable)}"
    main_rows = results[results.observable.isin(wanted)]
    assert np.isfinite(main_rows.value).all() and (main_rows.stderr.fillna(0) >= 0).all()
    if spec.sampler.method != "exact":
        assert set(main_rows.method) >= {spec.sampler.method}
    if "overlap_histogram" in spec.observables.names:
        histograms = _read(out, "histograms")
        assert histograms is not None and histograms.groupby(task_keys).ngroups == len(tasks)
    if spec.franz_parisi is not None:
        potentials = _read(out, "potentials")
        assert potentials is not None and "q" in potentials.columns


# ------------------------------------------------------------------------------ Monte Carlo vs exact
def _monte_carlo_with_exact_reference(path):
    try:
        spec = load_spec(path)
    except ValueError:  # an invalid spec fails the end-to-end test, with its message
        return False
    # clones of a score other than the exact one sample another posterior: no z against the exact rows
    checked = spec.score is None or spec.score.entry.exact_posterior
    return spec.sampler.method != "exact" and spec.sampler.exact_reference and checked


def z_scores(results, method):
    """``z = (mc - exact) / mc_stderr`` for every (task, observable) with an exact row and a row
    of the Monte Carlo ``method``, worst first.

    A Monte Carlo row whose series did not vary (standard error below ``DEGENERATE`` times the
    observable's scale ``max(1, |exact|)``: rounding noise, e.g. class responsibilities that are 1
    to 1e-12 in every draw) has no usable standard error; its resolution is then one part in
    ``n_samples`` of that scale (a constant series of n draws cannot see a deviation rarer than
    about 1 / n), which is used instead, and ``resolution`` says where. Every other row keeps its
    own standard error. A replica trapped in one class still shows, as a difference far larger
    than the resolution.
    """
    keys = ["n_dim", "t", "disorder", "observable"]
    exact = results[results.method == "exact"].set_index(keys)["value"].rename("exact")
    mc = results[results.method == method].set_index(keys)[["value", "stderr", "tau_int", "n_samples"]]
    both = mc.join(exact, how="inner")
    scale = np.maximum(1.0, np.abs(both.exact))
    degenerate = both.stderr <= DEGENERATE * scale
    both["resolution"] = degenerate
    err = np.where(degenerate, scale / np.maximum(both.n_samples, 1), both.stderr)
    both["z"] = (both.value - both.exact) / err
    return both.reindex(both.z.abs().sort_values(ascending=False).index)


@pytest.mark.parametrize("path", [p for p in SPECS if _monte_carlo_with_exact_reference(p)], ids=os.path.basename)
def test_monte_carlo_rows_agree_with_the_exact_rows(path, tmp_path_factory):
    run = _run(path, tmp_path_factory)
    if run["code"] != EXIT_OK:
        pytest.fail(f"the reduced scan failed (exit {run['code']}): {_errors(run['out'])}")
    results = _read(run["out"], "results")
    z = z_scores(results, run["spec"].sampler.method)
    assert len(z) > 0, "no observable has both an exact and a Monte Carlo row"
    worst = z.head(8).reset_index()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        table = worst.to_string(index=False)
    assert (z.z.abs() <= Z_MAX).all(), (
        f"{(z.z.abs() > Z_MAX).sum()} of {len(z)} Monte Carlo rows lie more than {Z_MAX} standard errors from the "
        f"exact rows; worst:\n{table}")
    # the scan's own z_exact rows and the report's check say the same
    recorded = results[results.observable.str.startswith("z_exact:")]
    assert len(recorded) == len(z) and (recorded.value.abs() <= Z_MAX).all()
    text = io.StringIO()
    assert report(str(run["out"]), plots=False, stream=text) == EXIT_OK, text.getvalue()[-3000:]
    assert "no Monte Carlo row is more than 5 standard errors" in text.getvalue()
