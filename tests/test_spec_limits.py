"""What every task would hit is refused at validation, naming the key: task counts beyond the cap
(counted, never built), dimensions whose task cannot be held in memory, seeds beyond int64, times
at which the process leaves float64, and extreme values of the other keys."""
import dataclasses
import itertools
import math
import time
import tracemalloc
import warnings

import numpy as np
import pytest

from mc.processes import VE, VP, VPLinear
from replica.scan import SpecError, make_tasks, parse_spec
from replica.scan.spec import INT64_MAX, LENGTH_RANGE, MAX_GIB, MAX_Q_POINTS, MAX_TASKS, MIN_STEP_SIZE, task_memory
from replica.scan.tasks import Task, TaskList, assign, count_tasks, iter_tasks

from test_scan_spec import spec_text  # the same small valid spec as the validation tests


def refused(key, **sections):
    """The SpecError message of a spec, checked to start with ``key``."""
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(**sections))
    msg = str(err.value)
    assert msg.startswith(key + ":"), msg
    return msg


# ------------------------------------------------------------------ 1. task counts
def test_a_task_count_in_the_billions_is_refused_naming_the_grid_keys_without_building_tasks():
    start = time.perf_counter()
    grid = "n_dim = [8, 16]\nt = {start = 0.5, stop = 2.0, num = 4}\ndisorder = 1000000000"
    msg = refused("grid.disorder", grid=grid)
    assert time.perf_counter() - start < 5.0
    assert "2 x 4 x 1000000000 = 8000000000 tasks" in msg, msg
    assert "grid.n_dim x grid.t x grid.disorder" in msg and f"{MAX_TASKS}" in msg and "MAX_TASKS" in msg, msg


def test_the_largest_factor_is_the_key_named():
    msg = refused("grid.t", grid=f'n_dim = [8, 16, 32]\nt = {{start = 0.5, stop = 2.0, num = {MAX_TASKS}}}')
    assert f"3 x {MAX_TASKS} x 1" in msg, msg


@pytest.mark.parametrize("num, spacing", [(10**9, "linear"), (10**12, "log"), (2**70, "linear")])
def test_a_range_num_beyond_the_cap_is_refused_before_its_times_are_built(num, spacing):
    msg = refused("grid.t.num", grid=f'n_dim = 8\nt = {{start = 1.0, stop = 2.0, num = {num}, spacing = "{spacing}"}}')
    assert str(num) in msg and ("MAX_TASKS" in msg or "64-bit" in msg), msg


def test_a_spec_at_the_cap_validates_and_counts_without_building():
    spec = parse_spec(spec_text(grid=f'n_dim = [8, 16]\nt = {{start = 0.5, stop = 2.0, num = {MAX_TASKS // 4}}}\n'
                                     f'disorder = 2'))
    assert count_tasks(spec) == len(make_tasks(spec)) == MAX_TASKS


def test_count_tasks_and_the_task_list_need_no_memory_for_a_huge_grid():
    """A spec whose grid bypassed validation: the count and any task are O(1)."""
    spec = parse_spec(spec_text())
    grid = dataclasses.replace(spec.grid, disorder=10**12)
    huge = dataclasses.replace(spec, grid=grid)
    assert count_tasks(huge) == 2 * 4 * 10**12
    tasks = make_tasks(huge)
    assert isinstance(tasks, TaskList) and len(tasks) == 8 * 10**12
    assert tasks[-1] == Task(n_dim=16, t_index=3, disorder=10**12 - 1, t=grid.t[3])
    assert tasks[4 * 10**12 + 5] == Task(n_dim=16, t_index=0, disorder=5, t=grid.t[0])
    assert list(itertools.islice(tasks, 2)) == [Task(8, 0, 0, grid.t[0]), Task(8, 0, 1, grid.t[0])]


def test_the_lazy_task_list_is_the_materialised_list():
    spec = parse_spec(spec_text())
    expected = [Task(n_dim=n, t_index=i, disorder=d, t=t) for n in spec.grid.n_dim
                for i, t in enumerate(spec.grid.t) for d in range(spec.grid.disorder)]
    tasks = make_tasks(spec)
    assert list(tasks) == list(iter_tasks(spec)) == [tasks[i] for i in range(len(tasks))] == expected
    assert tasks == expected and tasks == make_tasks(spec)
    assert [tasks[-i] for i in range(1, 4)] == expected[-1:-4:-1] and tasks[3:9:2] == expected[3:9:2]
    assert tasks[np.int64(5)] == expected[5] and tasks.index(expected[7]) == 7
    for bad in (len(expected), -len(expected) - 1):
        with pytest.raises(IndexError):
            tasks[bad]
    with pytest.raises(TypeError):
        tasks[1.0]
    with pytest.raises(ValueError, match="^spec"):
        make_tasks({"grid": {}})


def test_assignment_by_heap_is_the_longest_processing_time_rule():
    """Same shares as dealing each task (largest first) to ``min(range(n_ranks), key=(load, rank))``."""
    rng = np.random.default_rng(3)
    costs = list(rng.choice([0.5, 1.0, 2.0, 3.5], size=200)) + [0.0] * 5
    for n_ranks in (1, 2, 3, 7, 64):
        order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
        loads, ref = [0.0] * n_ranks, [[] for _ in range(n_ranks)]
        for i in order:
            r = min(range(n_ranks), key=lambda k: (loads[k], k))
            ref[r].append(i)
            loads[r] += costs[i]
        assert assign(costs, n_ranks) == ref


# ------------------------------------------------------------------ 2. memory of a task
@pytest.mark.parametrize(
    "model, sampler",
    [
        ('name = "two_class_mixture"', 'method = "exact"'),
        ('name = "two_class_mixture"',
         'method = "mala"\nexact_reference = false\n[observables]\nnames = ["overlap_truth"]'),
        ('name = "curie_weiss"', 'method = "heat_bath"'),
        ('name = "hypersphere"', 'method = "sphere"'),
        ('name = "two_deltas"', 'method = "exact"\n[observables]\nnames = ["overlap_truth"]'),
    ],
)
def test_a_dimension_whose_task_cannot_be_held_in_memory_is_refused(model, sampler):
    """(A data set at such N is refused earlier by its own points cap, naming model.n_points.)"""
    msg = refused("grid.n_dim", model=model, sampler=sampler, grid="n_dim = [8, 10000000000]\nt = [1.0]")
    assert "N = 10000000000" in msg and "model.max_gib = 2 GiB" in msg and "[10000000000]" in msg, msg
    n_fit = int(msg.split("at most N = ")[1].split()[0].rstrip(".;"))
    assert 8 <= n_fit < 10**10
    spec = parse_spec(spec_text(model=model, sampler=sampler, grid=f"n_dim = [8, {n_fit}]\nt = [1.0]"))
    def total(n):
        return sum(b for _, _, b in task_memory(spec, n))

    assert total(n_fit) <= 2 * 2**30 < total(n_fit + 1)


def test_model_max_gib_is_the_budget():
    """N = 20000 with the exact q_self needs about 12 GiB: refused at the default, valid with 16."""
    msg = refused("grid.n_dim", grid="n_dim = [20000]\nt = [1.0]")
    assert "N x N" in msg and "q_self" in msg, msg
    spec = parse_spec(spec_text(model='name = "two_class_mixture"\nmax_gib = 16.0', grid="n_dim = [20000]\nt = [1.0]"))
    assert spec.model.max_gib == 16.0
    # without the N x N observable the same N is small
    parse_spec(spec_text(grid="n_dim = [20000]\nt = [1.0]", observables='names = ["overlap_truth"]'))
    msg = refused("model.max_gib", model=f'name = "two_class_mixture"\nmax_gib = {MAX_GIB * 2}')
    assert "MAX_GIB" in msg


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"sampler": 'method = "exact"\nn_replicas = 10000000\ndraws = 10'}, "sampler.draws"),
        ({"sampler": 'method = "mala"\nn_replicas = 4\nn_sweeps = 100000000'}, "sampler.n_sweeps"),
        ({"observables": 'names = ["overlap_histogram"]\nbins = 1000000000'}, "observables.bins"),
        ({"franz_parisi": "n_references = 100000000"}, "franz_parisi.n_references"),
        ({"franz_parisi": 'method = "umbrella"\nkappa = 1e300'}, "franz_parisi.kappa"),
        ({"model": 'name = "curie_weiss"\nbeta = 1e20'}, "model.beta"),
        ({"model": 'name = "curie_weiss"\nJ = 1e300'}, "model.J"),
    ],
)
def test_other_counts_that_exhaust_memory_name_their_key(sections, key):
    sections.setdefault("grid", "n_dim = [8]\nt = [1.0]")
    msg = refused(key, **sections)
    assert "GiB" in msg and "model.max_gib" in msg, msg


def _peak(spec):
    from replica.scan.compute import run_task

    task = make_tasks(spec)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_task(spec, task)  # compile first
        tracemalloc.start()
        try:
            run_task(spec, task)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.mark.parametrize(
    "model, sampler",
    [
        ('name = "two_class_mixture"', 'method = "exact"\ndraws = 10'),
        ('name = "two_class_mixture"', 'method = "mala"\nn_sweeps = 200\nexact_reference = false'),
        ('name = "curie_weiss"', 'method = "exact"\ndraws = 10'),
        ('name = "dataset_gaussian"\nn_points = 2000', 'method = "exact"\ndraws = 10'),
    ],
)
def test_the_memory_estimate_bounds_the_measured_peak(model, sampler):
    """An upper bound within a few times the peak that numpy reports (tracemalloc)."""
    n = 1200
    spec = parse_spec(spec_text(model=model, sampler=sampler, grid=f"n_dim = [{n}]\nt = [1.0]"))
    measured = _peak(spec)
    estimate = sum(b for _, _, b in task_memory(spec, n))
    assert measured <= estimate <= 4 * measured + 2**25, (measured / 2**20, estimate / 2**20)


# ------------------------------------------------------------------ 3. seeds and integers
@pytest.mark.parametrize("seed", [2**63, 2**64, 2**64 + 5, 10**30])
def test_a_seed_that_the_int64_seed_column_cannot_hold_is_refused(seed):
    msg = refused("scan.seed", scan=f'name = "s"\nseed = {seed}')
    assert "2^63" in msg and "int64" in msg and str(seed) in msg, msg


def test_the_largest_seed_runs_and_is_written(tmp_path):
    from replica.scan.runner import run_scan
    from replica.table import read_results

    spec = parse_spec(spec_text(scan=f'name = "s"\nseed = {INT64_MAX}', grid="n_dim = [8]\nt = [1.0]"))
    summary = run_scan(spec, tmp_path / "out", progress=False)
    assert summary.failed == [] and summary.done == 1
    assert set(read_results(tmp_path / "out" / "tasks")["seed"]) == {INT64_MAX}


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"scan": f'name = "s"\nseed = 1\nid = {2**64}'}, "scan.id"),
        ({"model": f'name = "two_class_mixture"\nid = {2**70}'}, "model.id"),
        ({"grid": f"n_dim = [8, {2**64}]\nt = [1.0]"}, "grid.n_dim[1]"),
        ({"grid": f"n_dim = 8\nt = [1.0]\ndisorder = {2**63}"}, "grid.disorder"),
        ({"sampler": f'method = "mala"\nn_sweeps = {2**64}'}, "sampler.n_sweeps"),
        ({"observables": f"bins = {2**63}"}, "observables.bins"),
    ],
)
def test_integers_beyond_int64_are_refused(sections, key):
    msg = refused(key, **sections)
    assert "64-bit" in msg, msg


# ------------------------------------------------------------------ 4. times the process cannot represent
def test_vp_times_where_s_t_overflows_are_refused_naming_the_values_and_the_process():
    """t = 0.5 .. 500 in 240 steps: the 70 times above 354.89 (s_t = e^{2t} - 1 = inf) would fail."""
    msg = refused("grid.t", grid="n_dim = [8, 16]\nt = {start = 0.5, stop = 500.0, num = 240}\ndisorder = 3")
    assert "VP()" in msg and "70 of 240 times" in msg and "s_t = inf" in msg, msg
    assert "[355.793, " in msg and "354.891]" in msg, msg


@pytest.mark.parametrize(
    "process, t, key, text",
    [
        ('name = "VP"', "[1e-320, 1.0]", "grid.t", "D_t = 2e-320"),
        ('name = "VPLinear"', "[1.0, 1e200]", "grid.t", "VPLinear(beta_min=0.1, beta_max=20.0)"),
        ('name = "VPLinear"\nbeta_max = 1e300', "[1.0]", "grid.t", "a_t = 0"),
        ('name = "VE"\nsigma = 1e200', "[1.0]", "process.sigma", "D_t = inf"),
        ('name = "VE"\nsigma = 1e-200', "[1.0]", "process.sigma", "D_t = 0"),
    ],
)
def test_times_and_processes_outside_float64_are_refused(process, t, key, text):
    msg = refused(key, process=process, grid=f"n_dim = [8]\nt = {t}")
    assert text in msg, msg


def test_representable_extreme_times_validate_and_run():
    from replica.scan.compute import run_task

    for model in ('name = "curie_weiss"', 'name = "dataset_gaussian"\nn_points = 10', 'name = "hypersphere"'):
        spec = parse_spec(spec_text(model=model, grid="n_dim = [8]\nt = [1e-300, 354.8]"))
        for task in make_tasks(spec):
            with warnings.catch_warnings():  # as the runner: recorded, not raised
                warnings.simplefilter("ignore")
                rows = run_task(spec, task)["results"]
            exact = rows[rows.method == "exact"]
            assert len(exact) and np.isfinite(exact.value.to_numpy(dtype=float)).all(), (model, task)


def test_continuous_observation_beyond_float64_is_refused():
    """y = x_t / a_t has squared norm about N s_t; Monte Carlo started at y needs sqrt(s_t) <= 1e30."""
    msg = refused("grid.t", grid="n_dim = [8, 1000]\nt = [1.0, 354.0]")
    assert "N s_t" in msg and "N = 1000" in msg, msg
    msg = refused("grid.t", grid="n_dim = [8]\nt = [1.0, 100.0]", sampler='method = "mala"\nn_sweeps = 20')
    assert "sampler.init = 'auto'" in msg and "t <= 69.0776" in msg, msg
    spec = parse_spec(spec_text(grid="n_dim = [8]\nt = [1.0, 100.0]", sampler='method = "mala"\nn_sweeps = 20\n'
                                                                              'init = "prior"'))
    assert spec.grid.t == (1.0, 100.0)


def test_process_time_range_and_representable():
    assert VP().representable(1.0) and not VP().representable(355.0) and not VP().representable(1e-320)
    np.testing.assert_array_equal(VP().representable([1e-320, 1e-300, 354.0, 500.0]), [False, True, True, False])
    lo, hi = VP().time_range()
    assert hi == pytest.approx(0.5 * math.log(np.finfo(float).max), rel=1e-9) and lo == pytest.approx(2**-1022 / 2)
    for process in (VP(), VE(sigma=3.0), VE(sigma=1e150), VPLinear(), VPLinear(beta_max=1e300)):
        lo, hi = process.time_range()
        assert process.representable(lo) and process.representable(hi), process
        if hi < 1e308:
            assert not process.representable(hi * (1 + 1e-9)), process
        if lo > 1e-323:
            assert not process.representable(lo * (1 - 1e-9)), process
    assert VE(sigma=1e200).time_range() is None and VE(sigma=1e-200).time_range() is None


# ------------------------------------------------------------------ 5. extreme values of other keys
@pytest.mark.parametrize(
    "sections, key",
    [
        # model scales whose overlaps leave float64 (every task failed before)
        ({"model": 'name = "two_class_mixture"\nmu = 1e60'}, "model.mu"),
        ({"model": 'name = "two_class_mixture"\nmu = 1e-200'}, "model.mu"),
        ({"model": 'name = "two_class_mixture"\nvariance = 1e100'}, "model.variance"),
        ({"model": 'name = "two_deltas"\nv = 1e60'}, "model.v"),
        ({"model": 'name = "two_deltas"\nv = 1e-200'}, "model.v"),
        ({"model": 'name = "hypersphere"\nradius = 1e60'}, "model.radius"),
        ({"model": 'name = "dataset_gaussian"\nn_points = 10\nvariance = 1e300'}, "model.variance"),
        ({"model": 'name = "dataset_two_class"\nalpha = 0.2\nmu = 1e200'}, "model.mu"),
        # a data set cap so large that exp(alpha N) points pass it
        ({"model": 'name = "dataset_alpha"\nalpha = 50.0\nmax_gib = 1e300'}, "model.max_gib"),
        # Monte Carlo that records fewer than two draws
        ({"sampler": 'method = "mala"\nn_sweeps = 10\nthin = 100'}, "sampler.thin"),
        ({"sampler": 'method = "heat_bath"\nn_sweeps = 1', "model": 'name = "curie_weiss"'}, "sampler.n_sweeps"),
        ({"franz_parisi": 'method = "umbrella"\nn_sweeps = 1'}, "franz_parisi.n_sweeps"),
        # a proposal variance that underflows to zero
        ({"sampler": 'method = "mala"\nstep_size = 1e-200'}, "sampler.step_size"),
        # ranges with more points than float64 resolves (repeated times / q values)
        ({"grid": "n_dim = 8\nt = {start = 1.0, stop = 1.0000000000000002, num = 5}"}, "grid.t.num"),
        ({"franz_parisi": "q = {start = 0.5, stop = 0.5000000000000001, num = 5}"}, "franz_parisi.q.num"),
        # a q grid too large to build
        ({"franz_parisi": "q = {start = -1.0, stop = 1.0, num = 1000000000}"}, "franz_parisi.q.num"),
    ],
)
def test_extreme_values_every_task_would_hit_are_refused(sections, key):
    sections.setdefault("grid", "n_dim = [8]\nt = [1.0]")
    refused(key, **sections)


@pytest.mark.parametrize(
    "sections",
    [
        {"model": f'name = "two_class_mixture"\nmu = {LENGTH_RANGE[1]}'},
        {"model": f'name = "two_deltas"\nv = {LENGTH_RANGE[0]}'},
        {"model": 'name = "two_class_mixture"\nvariance = 0.0'},
        {"model": f'name = "hypersphere"\nradius = {LENGTH_RANGE[1]}'},
        {"model": 'name = "curie_weiss"\nfield = 1e300'},
        {"sampler": f'method = "mala"\nn_sweeps = 2\nstep_size = {MIN_STEP_SIZE}'},
        {"franz_parisi": f"q = {{start = -1.0, stop = 1.0, num = {MAX_Q_POINTS}}}"},
    ],
)
def test_values_at_the_limits_still_validate(sections):
    sections.setdefault("grid", "n_dim = [8]\nt = [1.0]")
    parse_spec(spec_text(**sections))
