"""Scan specs: every validation error names its key, before any work; valid specs give the
expected tasks, seed keys and assignment."""
import importlib
import json

import pytest

from replica.scan import MODELS, SpecError, load_spec, make_tasks, parse_spec
from replica.scan.tasks import assign, task_cost

BASE = {
    "scan": 'name = "s"\nseed = 1',
    "model": 'name = "two_class_mixture"\nmu = 1.0',
    "process": 'name = "VP"',
    "grid": 'n_dim = [8, 16]\nt = {start = 0.5, stop = 2.0, num = 4}\ndisorder = 3',
    "sampler": 'method = "exact"\nn_replicas = 4\ndraws = 10',
}


def spec_text(**sections):
    parts = dict(BASE)
    parts.update(sections)
    return "\n".join(f"[{k}]\n{v}\n" for k, v in parts.items() if v is not None)


def test_valid_spec_gives_tasks_in_order_with_rank_independent_keys():
    spec = parse_spec(spec_text())
    tasks = make_tasks(spec)
    assert len(tasks) == 2 * 4 * 3
    assert spec.grid.t == pytest.approx((0.5, 1.0, 1.5, 2.0))
    assert tasks[0].name == "N8_t000_d0000" and tasks[-1].name == "N16_t003_d0002"
    assert tasks[5].key(spec) == (0, 0, 8, 1, 2)
    assert len({t.name for t in tasks}) == len(tasks)


def test_log_range_and_sorted_lists():
    spec = parse_spec(spec_text(grid='n_dim = [16, 8]\nt = {start = 0.1, stop = 10.0, num = 3, spacing = "log"}'))
    assert spec.grid.n_dim == (8, 16)
    assert spec.grid.t == pytest.approx((0.1, 1.0, 10.0))
    assert spec.grid.disorder == 1


def test_hash_ignores_output_but_not_physics():
    a = parse_spec(spec_text())
    b = parse_spec(spec_text(scan='name = "s"\nseed = 1\noutput = "elsewhere"'))
    c = parse_spec(spec_text(scan='name = "s"\nseed = 2'))
    assert a.hash == b.hash != c.hash
    json.loads(a.describe())


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"scan": 'name = "s"'}, "scan.seed"),
        ({"scan": 'name = "s"\nseed = -1'}, "scan.seed"),
        ({"scan": 'name = "s"\nseed = 1.5'}, "scan.seed"),
        ({"scan": 'name = "a b"\nseed = 1'}, "scan.name"),
        ({"scan": 'name = "s"\nseed = 1\ncolour = "red"'}, "scan.colour"),
        ({"model": 'name = "three_deltas"'}, "model.name"),
        ({"model": 'name = "two_class_mixture"\nmu = -1.0'}, "model.mu"),
        ({"model": 'name = "two_class_mixture"\nmu = "big"'}, "model.mu"),
        ({"model": 'name = "two_class_mixture"\nalpha = 0.2'}, "model.alpha"),
        ({"model": 'name = "dataset_alpha"'}, "model.alpha"),
        ({"model": 'name = "dataset_two_class"'}, "model.alpha"),
        ({"model": 'name = "dataset_two_class"\nalpha = -0.2'}, "model.alpha"),
        ({"model": 'name = "dataset_two_class"\nalpha = 0.2\nmu = 0.0'}, "model.mu"),
        ({"model": 'name = "dataset_two_class"\nalpha = 0.2\nmu = "one"'}, "model.mu"),
        ({"model": 'name = "dataset_two_class"\nalpha = 0.2\nvariance = 0.0'}, "model.variance"),
        ({"model": 'name = "dataset_two_class"\nalpha = 0.2\nweight = 0.3'}, "model.weight"),
        ({"model": 'name = "two_class_mixture"\nweight = 1.0'}, "model.weight"),
        ({"model": 'name = "two_class_mixture"\nrealisation = "sometimes"'}, "model.realisation"),
        ({"process": 'name = "OU"'}, "process.name"),
        ({"process": 'name = "VE"\nsigma = 0.0'}, "process.sigma"),
        ({"process": 'name = "VP"\nsigma = 1.0'}, "process.sigma"),
        ({"process": 'name = "VPLinear"\nbeta_min = 5.0\nbeta_max = 1.0'}, "process.beta_max"),
        ({"grid": 'n_dim = []\nt = [1.0]'}, "grid.n_dim"),
        ({"grid": 'n_dim = [8, 0]\nt = [1.0]'}, "grid.n_dim[1]"),
        ({"grid": 'n_dim = [8, 8]\nt = [1.0]'}, "grid.n_dim"),
        ({"grid": 'n_dim = 8\nt = [1.0, -1.0]'}, "grid.t[1]"),
        ({"grid": 'n_dim = 8\nt = [1.0, nan]'}, "grid.t[1]"),
        ({"grid": 'n_dim = 8\nt = {start = 2.0, stop = 1.0, num = 3}'}, "grid.t.stop"),
        ({"grid": 'n_dim = 8\nt = {start = 1.0, stop = 2.0, num = 0}'}, "grid.t.num"),
        ({"grid": 'n_dim = 8\nt = {start = 1.0, stop = 2.0, num = 3, spacing = "cubic"}'}, "grid.t.spacing"),
        ({"grid": 'n_dim = 8\nt = {start = 1.0, stop = 2.0, num = 3, step = 1}'}, "grid.t.step"),
        ({"grid": 'n_dim = 8\nt = [1.0]\ndisorder = 0'}, "grid.disorder"),
        ({"grid": 'n_dim = 8\nt = [1.0]\nsource = "point"'}, "grid.source"),
        ({"grid": 't = [1.0]'}, "grid.n_dim"),
        ({"grid": None}, "grid"),
        ({"sampler": 'method = "gibbs"'}, "sampler.method"),
        ({"sampler": 'method = "heat_bath"'}, "sampler.method"),
        ({"sampler": 'method = "mala"\nn_replicas = 1'}, "sampler.n_replicas"),
        ({"sampler": 'method = "exact"\ntempering = "hamiltonian"'}, "sampler.tempering"),
        ({"sampler": 'method = "mala"\nn_temperatures = 4'}, "sampler.n_temperatures"),
        ({"sampler": 'method = "mala"\nlowest_beta = 1.5\ntempering = "hamiltonian"'}, "sampler.lowest_beta"),
        ({"sampler": 'method = "mala"\nn_sweeps = 0'}, "sampler.n_sweeps"),
        ({"observables": 'names = ["participation_ratio"]'}, "observables.names"),
        ({"observables": 'names = ["entropy_of_everything"]'}, "observables.names[0]"),
        ({"observables": 'bins = 1'}, "observables.bins"),
        ({"extra": 'x = 1'}, "extra"),
    ],
)
def test_every_validation_error_names_its_key(sections, key):
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(**sections))
    assert str(err.value).startswith(key + ":"), str(err.value)


@pytest.mark.parametrize(
    "model, grid, sampler, key",
    [
        ('name = "sherrington_kirkpatrick"', 'n_dim = [16, 100]\nt = [1.0]', 'method = "exact"', "sampler.method"),
        ('name = "curie_weiss"', 'n_dim = [16]\nt = [1.0]', 'method = "mala"', "sampler.method"),
        ('name = "dataset_alpha"\nalpha = 0.5', 'n_dim = [100]\nt = [1.0]', 'method = "exact"', "model.alpha"),
        ('name = "dataset_two_class"\nalpha = 0.5', 'n_dim = [8, 100]\nt = [1.0]', 'method = "exact"', "model.alpha"),
        ('name = "dataset_gaussian"\nn_points = 10', 'n_dim = [8]\nt = [1.0]', 'method = "mala"', "sampler.method"),
        ('name = "hypersphere"', 'n_dim = [1]\nt = [1.0]', 'method = "exact"', "grid.n_dim"),
    ],
)
def test_impossible_combinations_are_refused(model, grid, sampler, key):
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(model=model, grid=grid, sampler=sampler))
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_defaults_and_models_table():
    spec = parse_spec(spec_text(sampler=None))
    assert spec.sampler.method == "exact"
    assert "class_magnetisation" in spec.observables.names
    for name, entry in MODELS.items():
        assert entry.space in ("points", "continuous", "sphere", "spins"), name


@pytest.mark.parametrize("model", ['name = "dataset_alpha"\nalpha = 0.2', 'name = "dataset_gaussian"\nn_points = 10',
                                   'name = "two_deltas"'])
@pytest.mark.parametrize("observable", ["cloning_probability", "class_magnetisation_variance"])
def test_class_observables_need_a_data_set_with_labels(model, observable):
    with pytest.raises(SpecError, match="^observables.names: .*needs (class labels|two classes)") as err:
        parse_spec(spec_text(model=model, observables=f'names = ["{observable}"]'))
    assert observable in str(err.value) and "dataset_two_class" in str(err.value)
    spec = parse_spec(spec_text(model='name = "dataset_two_class"\nalpha = 0.2',
                                observables=f'names = ["{observable}", "participation_ratio"]'))
    assert spec.observables.names == (observable, "participation_ratio")


def test_labelled_data_set_defaults_add_the_class_observables():
    spec = parse_spec(spec_text(model='name = "dataset_two_class"\nalpha = 0.2',
                                grid='n_dim = [8]\nt = [1.0]\nsource = "point"'))
    assert spec.model.params == {"alpha": 0.2, "mu": 1.0, "variance": 1.0}
    assert spec.space == "points" and spec.grid.source == "point"
    assert {"cloning_probability", "class_magnetisation_variance", "participation_ratio"} <= set(spec.observables.names)
    plain = parse_spec(spec_text(model='name = "dataset_alpha"\nalpha = 0.2'))
    assert "cloning_probability" not in plain.observables.names


def test_malformed_and_missing_files(tmp_path):
    with pytest.raises(SpecError, match="^spec: not valid TOML"):
        parse_spec("[scan\nname=")
    with pytest.raises(SpecError, match="^spec: file"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(SpecError, match="^spec:.*directory"):
        load_spec(tmp_path)
    path = tmp_path / "ok.toml"
    path.write_text(spec_text())
    assert load_spec(path).scan.name == "s"


def test_assignment_is_balanced_deterministic_and_covers_every_task():
    spec = parse_spec(spec_text())
    tasks = make_tasks(spec)
    costs = [task_cost(spec, t) for t in tasks]
    for k in (1, 2, 3, 4):
        shares = assign(costs, k)
        assert sorted(i for s in shares for i in s) == list(range(len(tasks)))
        assert shares == assign(costs, k)
        loads = [sum(costs[i] for i in s) for s in shares]
        assert max(loads) - min(loads) <= max(costs) + 1e-15
    with pytest.raises(ValueError, match="n_ranks"):
        assign(costs, 0)


def test_shipped_example_specs_validate(tmp_path):
    import glob
    import os

    from conftest import stage_shipped_spec

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = sorted(glob.glob(os.path.join(root, "jobs", "*.toml")))
    assert {os.path.basename(p) for p in paths} >= {"demo.toml", "collapse_dataset.toml", "speciation_gmm.toml",
                                                    "spins_cw_sk.toml", "phase_diagram.toml"}
    for path in paths:  # a spec that reads data files: with them, or with stand-ins when they are not made
        spec = load_spec(stage_shipped_spec(path, tmp_path / os.path.basename(path)))
        assert len(make_tasks(spec)) > 0


def test_phase_diagram_spec_scans_the_labelled_two_class_data_set():
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = load_spec(os.path.join(root, "jobs", "phase_diagram.toml"))
    assert spec.model.name == "dataset_two_class" and spec.model.params == {"alpha": 0.2, "mu": 1.0, "variance": 1.0}
    assert spec.process.name == "VP" and spec.grid.source == "point" and spec.sampler.method == "exact"
    assert spec.grid.n_dim == (8, 12, 16, 24, 32, 40)
    assert spec.grid.t[0] == pytest.approx(0.1) and spec.grid.t[-1] == pytest.approx(4.0) and len(spec.grid.t) == 24
    assert {"participation_ratio", "cloning_probability", "class_magnetisation_variance", "q_self"} == set(
        spec.observables.names)


@pytest.mark.parametrize(
    "section, key",
    [
        ('method = "annealing"', "franz_parisi.method"),
        ('order_parameter = "class"', "franz_parisi.order_parameter"),
        ('n_references = 0', "franz_parisi.n_references"),
        ('q = {start = 1.0, stop = 0.0, num = 5}', "franz_parisi.q.stop"),
        ('q = {start = 0.0, stop = 1.0, num = 2}', "franz_parisi.q.num"),
        ('kappa = -1.0', "franz_parisi.kappa"),
        ('windows = 3', "franz_parisi.windows"),
        ('method = "umbrella"\ntempering = "simulated"', "franz_parisi.tempering"),
        ('method = "umbrella"\nn_temperatures = 8', "franz_parisi.n_temperatures"),
        ('method = "umbrella"\ntempering = "hamiltonian"\nn_temperatures = 1', "franz_parisi.n_temperatures"),
        ('method = "umbrella"\nn_sweeps = 400\nmax_sweeps = 200', "franz_parisi.max_sweeps"),
        ('method = "exact"\ntempering = "hamiltonian"', "franz_parisi.tempering"),
        ('max_sweeps = 4000', "franz_parisi.max_sweeps"),
        ('method = "umbrella"\nwindow_exchange = "yes"', "franz_parisi.window_exchange"),
    ],
)
def test_franz_parisi_section_errors_name_their_key(section, key):
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(franz_parisi=section))
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_franz_parisi_impossible_combinations():
    with pytest.raises(SpecError, match="^franz_parisi.method"):
        parse_spec(spec_text(model='name = "sherrington_kirkpatrick"', grid='n_dim = [40]\nt = [1.0]',
                             sampler='method = "heat_bath"', franz_parisi='method = "exact"'))
    with pytest.raises(SpecError, match="^franz_parisi.method"):
        parse_spec(spec_text(model='name = "dataset_gaussian"\nn_points = 10', franz_parisi='method = "umbrella"'))
    spec = parse_spec(spec_text(franz_parisi='method = "exact"\nq = {start = -1.0, stop = 1.0, num = 5}'))
    assert spec.franz_parisi.q == pytest.approx((-1.0, -0.5, 0.0, 0.5, 1.0))
    with pytest.raises(SpecError, match="^franz_parisi.window_exchange: swaps between windows are for continuous"):
        parse_spec(spec_text(model='name = "sherrington_kirkpatrick"', grid='n_dim = [40]\nt = [1.0]',
                             sampler='method = "heat_bath"', franz_parisi='method = "umbrella"\nwindow_exchange = true'))


@pytest.mark.filterwarnings("ignore:replicas have not mixed")  # the task's short run before the potential
def test_franz_parisi_umbrella_options_reach_the_windows(monkeypatch):
    """Ladder, extension and window exchange of ``[franz_parisi]`` are what each reference's
    umbrella_sampling gets; left out, they leave the spec's hash as it was."""
    sk = dict(model='name = "sherrington_kirkpatrick"\nbeta = 1.5', grid='n_dim = [12]\nt = [1.0]\nsource = "noise"',
              sampler='method = "heat_bath"\nn_sweeps = 200', observables='names = ["q_self"]')
    spec = parse_spec(spec_text(**sk, franz_parisi='method = "umbrella"\nn_sweeps = 300\nmax_sweeps = 1200\n'
                                                    'tempering = "hamiltonian"\nn_temperatures = 6\nn_references = 1'))
    assert spec.franz_parisi.umbrella_options() == {
        "n_sweeps": 300, "n_replicas": 4, "progress": False, "max_sweeps": 1200, "tempering": "hamiltonian",
        "n_temperatures": 6}
    seen = {}

    fp_module = importlib.import_module("replica.potentials.franz_parisi")

    class Capture(fp_module.FranzParisi):
        def fit(self, posterior):
            seen.update(self.umbrella_options)
            raise RuntimeError("captured")

    monkeypatch.setattr(fp_module, "FranzParisi", Capture)
    from replica.scan.compute import run_task

    with pytest.raises(RuntimeError, match="captured"):
        run_task(spec, make_tasks(spec)[0])
    assert seen == spec.franz_parisi.umbrella_options()
    mixture = parse_spec(spec_text(franz_parisi='method = "umbrella"\nwindow_exchange = true\n'
                                                'tempering = "hamiltonian"'))
    assert mixture.franz_parisi.umbrella_options()["window_exchange"] is True
    assert mixture.franz_parisi.umbrella_options()["tempered_windows"] == "auto"
    # defaults written out or left out: one hash
    plain = parse_spec(spec_text(franz_parisi='method = "umbrella"'))
    explicit = parse_spec(spec_text(franz_parisi='method = "umbrella"\nwindow_exchange = false'))
    assert plain.hash == explicit.hash != mixture.hash
    assert "tempering" not in plain.canonical()["franz_parisi"]


# ------------------------------------------------------------------ planted disorder needs prior draws
@pytest.mark.parametrize(
    "model, grid, too_big",
    [
        ('name = "sherrington_kirkpatrick"\nbeta = 1.5', 'n_dim = [16, 32, 64]\nt = [1.0]\nsource = "prior"', [32, 64]),
        ('name = "sherrington_kirkpatrick"', 'n_dim = [21]\nt = [1.0]', [21]),  # source defaults to "prior"
        ('name = "hopfield"\nn_patterns = 2', 'n_dim = [32]\nt = [1.0]\nsource = "prior"', [32]),
    ],
)
def test_planted_spins_beyond_exact_prior_draws_are_drawn_by_monte_carlo(model, grid, too_big):
    """Before: refused at validation (every such task failed). Now the spec's sampler draws the
    planted x0 beyond the N up to which the prior is enumerated, and only there."""
    from replica.scan.compute import needs_monte_carlo_prior_draw

    spec = parse_spec(spec_text(model=model, grid=grid, sampler='method = "heat_bath"\nn_sweeps = 100'))
    assert [n for n in spec.grid.n_dim if needs_monte_carlo_prior_draw(spec, n)] == too_big
    noise = parse_spec(spec_text(model=model, grid=grid.replace('source = "prior"', "") + '\nsource = "noise"',
                                 sampler='method = "heat_bath"\nn_sweeps = 100'))
    assert not any(needs_monte_carlo_prior_draw(noise, n) for n in noise.grid.n_dim)


@pytest.mark.parametrize(
    "model, grid, sampler",
    [
        # planted SK / Hopfield within exact prior draws (2^N enumeration)
        ('name = "sherrington_kirkpatrick"\nbeta = 1.5', 'n_dim = [12, 16, 20]\nt = [1.0]', 'method = "heat_bath"'),
        ('name = "hopfield"\nn_patterns = 2', 'n_dim = [20]\nt = [1.0]', 'method = "exact"'),
        # Curie-Weiss draws its prior exactly at any N (Hubbard-Stratonovich mixture)
        ('name = "curie_weiss"\nbeta = 1.5', 'n_dim = [32, 128, 1024]\nt = [1.0]\nsource = "prior"',
         'method = "heat_bath"'),
        ('name = "curie_weiss"\nbeta = 1.5', 'n_dim = [64]\nt = [1.0]', 'method = "exact"'),
        # continuous models and data sets plant at any N
        ('name = "two_class_mixture"', 'n_dim = [32, 256]\nt = [1.0]\nsource = "prior"', 'method = "mala"'),
        ('name = "hypersphere"', 'n_dim = [512]\nt = [1.0]', 'method = "sphere"'),
        ('name = "dataset_alpha"\nalpha = 0.2', 'n_dim = [50]\nt = [1.0]\nsource = "prior"', 'method = "exact"'),
    ],
)
def test_specs_whose_prior_can_be_drawn_still_validate(model, grid, sampler):
    spec = parse_spec(spec_text(model=model, grid=grid, sampler=sampler))
    assert spec.grid.source == "prior" and len(make_tasks(spec)) == len(spec.grid.n_dim)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_prior_draw_limit_matches_the_models_capabilities(name, tmp_path):
    """``ModelEntry.prior_draw_max_n`` says what the built model says: ``"sample"`` in its
    capabilities exactly up to the limit (checked on each side of it)."""
    from replica.scan.compute import build_model

    entry = MODELS[name]
    if entry.files:  # N is the data's: nothing to check on each side of a limit
        assert entry.prior_draw_max_n is None
        return
    required = {"n_points": "10", "alpha": "0.1", "n_patterns": "2"}
    params = "".join(f"\n{p} = {required[p]}" for p, f in entry.Parameters.model_fields.items() if f.is_required())
    if "lattice_dim" in entry.Parameters.model_fields:  # a chain: every N >= 3 is a lattice
        params += "\nlattice_dim = 1"
    if name == "hopfield":  # one of n_patterns and loading is required (neither field is on its own)
        params += "\nn_patterns = 2"
    spec = parse_spec(spec_text(model=f'name = "{name}"{params}', grid='n_dim = [9]\nt = [1.0]'))
    limit = entry.prior_draw_max_n
    sizes = (9, 25) if limit is None else (limit, limit + 1)  # squares: lattices and images need them
    for n in sizes:
        model = build_model(spec, n)
        can = "sample" in model.capabilities or hasattr(model, "sample_indices")
        assert can == (limit is None or n <= limit), (name, n, sorted(model.capabilities))


# ------------------------------------------------------------------ extreme values and the limits
@pytest.mark.parametrize(
    "sections, key",
    [
        ({"scan": 'name = "s"\nseed = true'}, "scan.seed"),
        ({"scan": f'name = "s"\nseed = {2**64}'}, "scan.seed"),
        ({"model": 'name = "two_class_mixture"\nmu = inf'}, "model.mu"),
        ({"model": 'name = "dataset_gaussian"\nn_points = 10.0'}, "model.n_points"),
        ({"model": 'name = "two_class_mixture"\nmax_gib = true'}, "model.max_gib"),
        ({"process": 'name = "VE"\nsigma = inf'}, "process.sigma"),
        ({"grid": 'n_dim = [true]\nt = [1.0]'}, "grid.n_dim[0]"),
        ({"grid": f'n_dim = [8, {10**10}]\nt = [1.0]'}, "grid.n_dim"),
        ({"grid": 'n_dim = 8\nt = []'}, "grid.t"),
        ({"grid": 'n_dim = 8\nt = [1.0, -inf]'}, "grid.t[1]"),
        ({"grid": 'n_dim = 8\nt = [1.0, 500.0]'}, "grid.t"),
        ({"grid": 'n_dim = 8\nt = {start = 0.1, stop = inf, num = 3}'}, "grid.t.stop"),
        ({"grid": 'n_dim = 8\nt = {start = 2.0, stop = 1.0, num = 3, spacing = "log"}'}, "grid.t.stop"),
        ({"grid": 'n_dim = 8\nt = {start = 0.1, stop = 1.0, num = 3.0}'}, "grid.t.num"),
        ({"grid": 'n_dim = 8\nt = {start = 0.1, stop = 1.0, num = 1000000000000}'}, "grid.t.num"),
        ({"grid": 'n_dim = 8\nt = [1.0]\ndisorder = 10000000000'}, "grid.disorder"),
        ({"sampler": 'method = "mala"\nstep_size = true'}, "sampler.step_size"),
        ({"sampler": 'method = "mala"\nn_sweeps = 8\nthin = 8'}, "sampler.thin"),
        ({"observables": 'bins = true'}, "observables.bins"),
        ({"franz_parisi": 'q = {start = -1.0, stop = 1.0, num = 1000000000}'}, "franz_parisi.q.num"),
    ],
)
def test_extreme_values_name_their_key(sections, key):
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(**sections))
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_shipped_example_specs_are_within_the_limits(tmp_path):
    """Every shipped spec counts its tasks without building them, fits its memory estimate in
    model.max_gib at every N, and asks only for times its process represents."""
    import glob
    import os

    from conftest import stage_shipped_spec

    from mc.processes import VE, VP, VPLinear
    from replica.scan.spec import MAX_TASKS, task_memory
    from replica.scan.tasks import count_tasks

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in sorted(glob.glob(os.path.join(root, "jobs", "*.toml"))):
        spec = load_spec(stage_shipped_spec(path, tmp_path / os.path.basename(path)))
        assert count_tasks(spec) == len(make_tasks(spec)) <= MAX_TASKS, path
        for n in spec.grid.n_dim:
            assert sum(b for _, _, b in task_memory(spec, n)) <= spec.model.max_gib * 2**30, (path, n)
        process = {"VP": VP, "VE": VE, "VPLinear": VPLinear}[spec.process.name](**spec.process.params)
        assert process.representable(list(spec.grid.t)).all(), path


def test_noise_source_has_no_x0_and_keeps_older_hashes():
    """grid.source = "noise": x_t ~ N(0, v I) without an x0, so the default observables leave out
    the overlap with x0 and naming it is refused; noise_variance only with that source. Specs
    that use none of the keys added for data files and noise keep the hash they had."""
    text = spec_text(model='name = "sherrington_kirkpatrick"\nbeta = 1.5',
                     grid='n_dim = [10]\nt = [0.5, 1.0]\nsource = "noise"\nnoise_variance = 2.0', sampler=None)
    spec = parse_spec(text)
    assert spec.grid.source == "noise" and spec.grid.noise_variance == 2.0
    assert "overlap_truth" not in spec.observables.names and "q_self" in spec.observables.names
    with pytest.raises(SpecError, match="^observables.names: 'overlap_truth' reads the clean x0"):
        parse_spec(text + '\n[observables]\nnames = ["q_self", "overlap_truth"]\n')
    with pytest.raises(SpecError, match="^grid.noise_variance: only used with grid.source = 'noise'"):
        parse_spec(text.replace('source = "noise"', 'source = "prior"'))
    with pytest.raises(SpecError, match="^grid.noise_variance: must be > 0"):
        parse_spec(text.replace("noise_variance = 2.0", "noise_variance = -1.0"))
    assert parse_spec(text.replace("\nnoise_variance = 2.0", "")).grid.noise_variance == 1.0
    plain = parse_spec(spec_text()).canonical()
    assert "noise_variance" not in plain["grid"] and "data" not in plain["model"] and "resolved" not in plain["model"]
