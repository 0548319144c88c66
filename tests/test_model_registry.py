"""Registered models and observables: one owner each, one vocabulary of columns, plug-ins through
entry points, every model reachable from a spec, and the two bugs that parallel lists caused
(the task cost of a labelled data set, the ``alpha`` column of Hopfield rows)."""
import importlib
import json
import math
import os
import sys

import numpy as np
import pandas as pd
import pytest

import mc
from mc import plugins
from mc.models import registry
from replica.scan import MODELS, SpecError, make_tasks, parse_spec
from replica.scan import observables as observable_registry
from replica.scan.compute import build_model, build_process, quenched_state, run_task
from replica.scan.runner import merge, run_scan
from replica.scan.tasks import task_cost
from replica.transitions import with_theory

PLUGIN_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins", "site")

#: Values for the required parameters of the built-in models.
REQUIRED = {"n_points": 10, "alpha": 0.1, "n_patterns": 2}
#: Models that need one of several optional parameters (Hopfield: n_patterns or loading).
ONE_OF = {"hopfield": ("n_patterns",)}


def spec_text(model, grid="n_dim = [9]\nt = [1.0]", sampler='method = "exact"', observables=None):
    text = (f'[scan]\nname = "reg"\nseed = 5\n\n[model]\n{model}\n\n[process]\nname = "VP"\n\n[grid]\n{grid}\n\n'
            f"[sampler]\n{sampler}\n")
    if observables:
        text += f"\n[observables]\n{observables}\n"
    return text


def model_lines(name, data_dir=None):
    """The spec lines of a model with its required parameters; a model that reads a data file
    gets a file of 12 points in N = 9 written into ``data_dir``."""
    entry = MODELS[name]
    fields = entry.Parameters.model_fields
    required = dict(REQUIRED)
    if entry.files:
        path = os.path.join(data_dir, "points.npy")
        np.save(path, np.random.default_rng(0).standard_normal((12, 9)))
        required["path"] = json.dumps(path)
    lines = [f'name = "{name}"'] + [f"{k} = {required[k]}" for k, f in fields.items() if f.is_required()]
    lines += [f"{k} = {required[k]}" for k in ONE_OF.get(name, ())]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ one vocabulary
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_writes_only_its_declared_columns_of_the_vocabulary(name, tmp_path):
    entry = MODELS[name]
    spec = parse_spec(spec_text(model_lines(name, tmp_path)))
    columns = set(build_model(spec, 9).params()) - {"n_dim"}
    declared = set(entry.columns)
    assert columns <= declared, (name, sorted(columns - declared))
    assert declared <= set(registry.PARAMETER_COLUMNS), name


def test_a_column_keeps_its_meaning_across_models():
    class Clash(registry.ModelEntry):
        name = "clash"
        space = "points"
        columns = {"alpha": "the learning rate"}

    with pytest.raises(ValueError, match="'alpha' already means"):
        registry._check_entry(Clash(), "test")
    assert "learning rate" not in registry.PARAMETER_COLUMNS["alpha"]


def test_hopfield_rows_get_no_data_set_collapse_time():
    """Before: Hopfield wrote its loading P / N as ``alpha``, the data-set size exponent, and
    ``with_theory`` put the collapse time of such a data set beside a Hopfield row."""
    spec = parse_spec(spec_text('name = "hopfield"\nn_patterns = 2\nbeta = 1.5',
                                observables='names = ["q_self"]'))
    task = make_tasks(spec)[0]
    row = run_task(spec, task)["results"].iloc[0].to_dict()
    assert row["loading"] == pytest.approx(2 / 9) and "alpha" not in row
    located = pd.DataFrame([{**row, "transition": "fragmentation", "t_estimate": 1.0}])
    assert math.isnan(with_theory(located)["theory"].iloc[0])
    # control: a data set of e^{alpha N} points does get its collapse time
    spec = parse_spec(spec_text('name = "dataset_alpha"\nalpha = 0.25', observables='names = ["q_self"]'))
    row = run_task(spec, make_tasks(spec)[0])["results"].iloc[0].to_dict()
    located = pd.DataFrame([{**row, "transition": "collapse", "t_estimate": 1.0}])
    assert with_theory(located)["theory"].iloc[0] == pytest.approx(0.5 * math.log(1 + 1 / (math.exp(0.5) - 1)))


def test_labelled_data_set_is_costed_by_its_points():
    """Before: ``dataset_two_class`` had no cost branch and was costed as 2 points (0.002 s
    against 0.8 s for ``dataset_alpha`` with the same number of points), which unbalanced MPI
    ranks and ``--dry-run``."""
    costs = {}
    for name in ("dataset_alpha", "dataset_two_class", "two_deltas"):
        model = f'name = "{name}"' + ("\nalpha = 0.3" if name != "two_deltas" else "")
        spec = parse_spec(spec_text(model, grid="n_dim = [40]\nt = [1.0]"))
        costs[name] = task_cost(spec, make_tasks(spec)[0])
    assert 0.5 < costs["dataset_two_class"] / costs["dataset_alpha"] < 2.0, costs
    assert costs["dataset_two_class"] > 50 * costs["two_deltas"], costs


# ------------------------------------------------------------------------ every model in a spec
def test_unknown_model_names_the_registered_ones():
    with pytest.raises(SpecError, match=r"^model\.name: .*lattice") as err:
        parse_spec(spec_text('name = "potts"'))
    assert "edwards_anderson" in str(err.value)


@pytest.mark.parametrize("lines, key", [
    ('name = "lattice"\nlattice_dim = 3', "grid.n_dim"),  # N = 9 is not a cube
    ('name = "lattice"\nlattice_dim = 5', "model.lattice_dim"),
    ('name = "edwards_anderson"\nlattice_dim = 1\nbonds = "uniform"', "model.bonds"),
    ('name = "lattice"\nlattice_dim = 1\nperiodic = "yes"', "model.periodic"),
])
def test_lattice_parameters_are_checked_by_key(lines, key):
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(lines))
    assert str(err.value).startswith(key + ":"), str(err.value)


@pytest.mark.parametrize("lines, n", [
    ('name = "lattice"\nbeta = 0.3', 9),  # 3 x 3 periodic ferromagnet
    ('name = "edwards_anderson"\nlattice_dim = 1\nbeta = 0.8\nbonds = "bimodal"', 12),
])
def test_lattice_models_from_a_spec_agree_with_enumeration(lines, n):
    """Monte Carlo (heat bath) of a lattice posterior against the exact enumeration of its 2^N
    states, both from the same spec: every z-score within 5."""
    spec = parse_spec(spec_text(lines, grid=f"n_dim = [{n}]\nt = [0.8]",
                                sampler='method = "heat_bath"\nn_replicas = 4\nn_sweeps = 3000\ntempering = "none"',
                                observables='names = ["q_self", "overlap_truth", "susceptibility"]'))
    res = run_task(spec, make_tasks(spec)[0])["results"]
    z = res[res["observable"].str.startswith("z_exact:")]
    assert len(z) >= 4, sorted(res["observable"])
    assert (z["value"].abs() < 5).all(), z[["observable", "value"]]
    assert (res["side"] == round(n ** (1 / res["lattice_dim"].iloc[0]))).all()


@pytest.mark.parametrize("lines", ['name = "sherrington_kirkpatrick"\nbeta = 1.2',
                                   'name = "hopfield"\nn_patterns = 2\nbeta = 1.5'])
def test_float32_couplings_from_a_spec_define_the_model_the_rows_describe(lines):
    """``couplings_dtype = "float32"``: the model is built with float32 couplings, its rows say so,
    the Monte Carlo rows agree with the enumeration of that same model (z within 5), and specs
    that leave the key out keep their hash."""
    grid, sampler = "n_dim = [10]\nt = [0.8]", 'method = "heat_bath"\nn_replicas = 4\nn_sweeps = 3000'
    observables = 'names = ["q_self", "overlap_truth"]'
    spec = parse_spec(spec_text(lines + '\ncouplings_dtype = "float32"', grid=grid, sampler=sampler,
                                observables=observables))
    model = build_model(spec, 10)
    assert model.spin_kernel().couplings.dtype == np.float32 and model.params()["couplings_dtype"] == "float32"
    res = run_task(spec, make_tasks(spec)[0])["results"]
    assert (res["couplings_dtype"] == "float32").all()
    z = res[res["observable"].str.startswith("z_exact:")]
    assert len(z) >= 2 and (z["value"].abs() < 5).all(), z[["observable", "value"]]
    default = parse_spec(spec_text(lines, grid=grid, sampler=sampler, observables=observables))
    explicit = parse_spec(spec_text(lines + '\ncouplings_dtype = "float64"', grid=grid, sampler=sampler,
                                    observables=observables))
    assert default.hash == explicit.hash != spec.hash
    assert "couplings_dtype" not in build_model(default, 10).params()
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(lines + '\ncouplings_dtype = "float16"', grid=grid))
    assert str(err.value).startswith("model.couplings_dtype:"), str(err.value)


# ----------------------------------------------------------------------------------- plug-ins
@pytest.fixture
def plugin():
    """The test plug-in on the path, as ``pip install`` would put it; removed afterwards."""
    sys.path.insert(0, PLUGIN_SITE)
    importlib.invalidate_caches()
    try:
        registry.models(reload=True)
        observable_registry.observables(reload=True)
        yield
    finally:
        sys.path.remove(PLUGIN_SITE)
        sys.modules.pop("three_points_plugin", None)
        importlib.invalidate_caches()
        registry.models(reload=True)
        observable_registry.observables(reload=True)


SPEC_PLUGIN = spec_text('name = "three_points"\nspacing = 0.5', grid="n_dim = [6]\nt = [0.3, 1.0, 2.5]\ndisorder = 2",
                        sampler='method = "exact"\nn_replicas = 2\ndraws = 400',
                        observables='names = ["participation_ratio", "mean_projection"]')


def test_plugin_names_are_unknown_without_the_plugin():
    with pytest.raises(SpecError, match="^model.name"):
        parse_spec(SPEC_PLUGIN)


def test_plugin_model_and_observable_run_in_a_scan(plugin, tmp_path):
    """A scan of the plug-in's model and observable, against the closed-form posterior of three
    points: weights w_k ~ exp(-|y - p_k|^2 / (2 s)), Y = sum w_k^2, E[x0] . 1 / N = d (w_+ - w_-)."""
    spec = parse_spec(SPEC_PLUGIN)
    assert spec.model.entry.name == "three_points"
    run_scan(spec, str(tmp_path), progress=False)
    merge(str(tmp_path))
    res = pd.read_parquet(tmp_path / "merged" / "results.parquet")
    process = build_process(spec)
    checked = 0
    for task in make_tasks(spec):
        model = build_model(spec, task.n_dim, task.disorder)
        state = quenched_state(spec, model, process, task)
        a, d = process.a(task.t), process.D(task.t)
        y, s = state.x_t / a, d / a**2
        logw = -0.5 * ((y[None, :] - model.points) ** 2).sum(axis=1) / s
        w = np.exp(logw - logw.max())
        w /= w.sum()
        theory = {"participation_ratio": float(w @ w), "mean_projection": 0.5 * (w[2] - w[0])}
        rows = res[(res["t"] == task.t) & (res["disorder"] == task.disorder)]
        for name, value in theory.items():
            exact = rows[(rows["observable"] == name) & (rows["method"] == "exact")]["value"]
            assert exact.iloc[0] == pytest.approx(value, rel=1e-9, abs=1e-12), (task, name)
            sampled = rows[(rows["observable"] == name) & (rows["method"] == "samples")].iloc[0]
            assert abs(sampled["value"] - value) <= 5 * sampled["stderr"] + 1e-12, (task, name, sampled)
            checked += 1
    assert checked == 2 * 3 * 2


def test_plugin_with_a_taken_name_is_refused(plugin, monkeypatch):
    from importlib import metadata

    class FakeEP:
        name, value = "dup", "three_points_plugin:ThreePoints"

        def load(self):
            class Dup(registry.ModelEntry):
                name = "two_deltas"
                space = "points"
            return Dup

    monkeypatch.setattr(plugins, "entry_points", lambda group: [FakeEP()] if group == registry.ENTRY_POINT_GROUP
                        else metadata.entry_points(group=group))
    with pytest.raises(ValueError, match="'two_deltas' is already taken"):
        registry.models(reload=True)


def test_curie_weiss_p_of_q_by_enumeration_from_a_spec():
    """The Curie-Weiss posterior at N <= 20 enumerates its 2^N states (it raised
    NotImplementedError while listing the capability): a spec's exact P(q) is made of the atoms
    q = -1 + 2k/N, with the moments of the exact q_self and q2 rows."""
    spec = parse_spec(spec_text('name = "curie_weiss"\nbeta = 1.3\nfield = 0.1', grid="n_dim = [12]\nt = [1.5]",
                                observables='names = ["q_self", "overlap_histogram"]'))
    out = run_task(spec, make_tasks(spec)[0])
    hist = out["histograms"]
    assert set(hist["method"]) == {"exact"} and (hist["q_lo"] == hist["q_hi"]).all()  # exact atoms, not bins
    q, prob = hist["q"].to_numpy(), hist["prob"].to_numpy()
    assert np.allclose(q * 12, np.round(q * 12)) and prob.sum() == pytest.approx(1.0, abs=1e-12)
    rows = out["results"].set_index("observable")["value"]
    assert prob @ q == pytest.approx(rows["q_self"], rel=1e-10)
    assert prob @ q**2 == pytest.approx(rows["q2"], rel=1e-10)
