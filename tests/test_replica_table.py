"""Result rows, atomic task files and the readers (parquet, and CSV without pyarrow)."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mc
import replica
from replica import table
from replica.stats import Estimate
from replica.table import (
    HISTOGRAM_COLUMNS,
    RESULT_COLUMNS,
    TaskInfo,
    histogram_frame,
    read_histograms,
    read_results,
    result_frame,
    result_rows,
    task_done,
    task_path,
    write_table,
    write_task,
)


def one_task(disorder=0, source="point", point=None):
    model = mc.Dataset.gaussian(15, 6, seed=1)
    state = mc.draw_quenched(model, mc.VE(1.5), 0.3, seed=4, disorder=disorder, source=source, point=point)
    post = mc.Posterior(model, mc.VE(1.5), state.x_t, 0.3)
    x = replica.exact_samples(post, 4, 100, np.random.default_rng(disorder))
    info = TaskInfo.from_state(model, mc.VE(1.5), state, scan="demo", seed=4)
    estimates = {
        "participation_ratio": [replica.participation_ratio(post), replica.participation_ratio(x, points=model.points)],
        "q_mean": replica.overlap_moments(x, orders=(1,))[1],
    }
    edges = np.linspace(-2, 3, 6)
    hists = {"P(q)": replica.overlap_distribution(x, edges), "P(q) exact": replica.overlap_distribution(post)}
    return info, estimates, hists


def test_rows_have_the_design_columns_and_record_planted_and_source():
    info, estimates, _ = one_task()
    frame = result_frame(info, estimates)
    assert list(frame.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    assert {"n_points", "variance", "process_sigma"} <= set(frame.columns)
    assert len(frame) == 3  # one row per (observable, estimator)
    assert sorted(frame.method) == ["exact", "samples", "samples"]
    assert frame.planted.all() and (frame.source == "point").all()
    assert (frame.model == "dataset").all() and (frame.process == "VE").all() and (frame.n_dim == 6).all()
    exact = frame[frame.method == "exact"].iloc[0]
    assert exact.stderr == 0 and np.isnan(exact.tau_int) and exact.n_samples == 0
    sampled = frame[(frame.method == "samples") & (frame.observable == "participation_ratio")].iloc[0]
    assert sampled.n_samples == 400 and sampled.tau_int > 0 and sampled.version == mc.__version__
    unplanted = result_rows(one_task(source="point", point=3)[0], {"y": Estimate(0.5, 0.1)})
    assert unplanted[0]["planted"] is False and unplanted[0]["source"] == "point"
    population = one_task(source="population")[0]
    assert not population.planted and population.source == "population"


def test_histogram_table_has_a_q_column_and_one_row_per_bin_or_atom():
    info, _, hists = one_task()
    frame = histogram_frame(info, hists)
    assert list(frame.columns[: len(HISTOGRAM_COLUMNS)]) == list(HISTOGRAM_COLUMNS)
    binned = frame[frame.observable == "P(q)"]
    assert len(binned) == 5 and np.allclose(binned.q, [-1.5, -0.5, 0.5, 1.5, 2.5])
    assert np.allclose(binned.q_hi - binned.q_lo, 1.0)
    atoms = frame[frame.observable == "P(q) exact"]
    assert np.allclose(atoms.q_lo, atoms.q) and atoms.prob.sum() == pytest.approx(1.0)


def test_tasks_written_to_a_directory_read_back_as_one_table(tmp_path):
    frames, hist_frames = [], []
    for d in range(3):
        info, estimates, hists = one_task(disorder=d)
        frames.append(result_frame(info, estimates))
        hist_frames.append(histogram_frame(info, hists))
        task = f"demo_d{d}"
        assert not task_done(tmp_path, task)
        paths = write_task(tmp_path, task, frames[-1], hist_frames[-1])
        assert all(p.endswith(".parquet") for p in paths) and task_done(tmp_path, task)
    got = read_results(tmp_path)
    pd.testing.assert_frame_equal(got, pd.concat(frames, ignore_index=True), check_dtype=False)
    assert sorted(got.disorder.unique()) == [0, 1, 2]
    hist = read_histograms(tmp_path)
    assert len(hist) == sum(len(h) for h in hist_frames) and "q" in hist
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary files left


def test_without_pyarrow_tables_are_written_and_read_as_csv(tmp_path, monkeypatch):
    info, estimates, hists = one_task()
    frame = result_frame(info, estimates)
    monkeypatch.setattr(table, "parquet_available", lambda: False)
    paths = write_task(tmp_path, "t0", frame, histogram_frame(info, hists))
    assert all(p.endswith(".csv") for p in paths) and task_done(tmp_path, "t0")
    got = read_results(tmp_path)
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    assert got.planted.dtype == bool
    with pytest.raises(ValueError, match="^path:.*pyarrow"):
        write_table(frame, tmp_path / "x.results.parquet")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    info, estimates, _ = one_task()
    frame = result_frame(info, estimates)
    path = task_path(tmp_path, "t1")
    write_table(frame, path)
    before = Path(path).read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(frame.iloc[:1], path)
    assert Path(path).read_bytes() == before
    assert os.listdir(tmp_path) == [os.path.basename(path)]


def test_reading_an_empty_directory_gives_the_columns_and_no_rows(tmp_path):
    assert list(read_results(tmp_path).columns) == list(RESULT_COLUMNS) and len(read_results(tmp_path)) == 0
    assert "q" in read_histograms(tmp_path).columns


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda d: TaskInfo("s", "m", "VP", 3, -1.0, 0, 0, True, "prior"), "t"),
        (lambda d: TaskInfo("s", "m", "VP", 3, 1.0, 0, 0, "yes", "prior"), "planted"),
        (lambda d: TaskInfo("s", "m", "VP", 3, 1.0, 0, 0, True, "prior", params={"value": 1.0}), "params"),
        (lambda d: TaskInfo("s", "m", "VP", 3, 1.0, 0, 0, True, "prior", params={"x": [1, 2]}), "params"),
        (lambda d: result_rows(one_task()[0], {"y": 0.5}), "estimates"),
        (lambda d: task_path(d, "../escape"), "task"),
        (lambda d: task_path(d, "ok", table="other"), "table"),
        (lambda d: write_table(pd.DataFrame(), d / "x.txt"), "path"),
        (lambda d: write_table([], d / "x.csv"), "frame"),
        (lambda d: read_results(d / "missing"), "directory"),
        (lambda d: TaskInfo.from_state(mc.Dataset.gaussian(3, 2, seed=0), mc.VP(),
                                       mc.draw_quenched(mc.Dataset.gaussian(3, 2, seed=0), mc.VP(), [0.1, 0.2], seed=0),
                                       scan="s", seed=0), "t"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name, tmp_path):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(tmp_path)


def test_potential_table_round_trips_with_task_columns(tmp_path):
    from replica.table import POTENTIAL_COLUMNS, potential_frame, read_potentials

    model = mc.Dataset.gaussian(10, 4, seed=0)
    state = mc.draw_quenched(model, mc.VP(), 0.5, seed=3, disorder=1)
    info = TaskInfo.from_state(model, mc.VP(), state, scan="fp", seed=3)
    curve = pd.DataFrame({"q": [0.0, 0.5, 1.0], "V": [0.2, 0.1, 0.3], "stderr": [0.01, 0.02, 0.03]})
    frame = potential_frame(info, {"V(q)": curve}, order_parameter="overlap", method="exact")
    assert list(frame.columns[: len(POTENTIAL_COLUMNS)]) == list(POTENTIAL_COLUMNS)
    write_task(tmp_path, "fp0", result_frame(info, {"x": Estimate(1.0, 0.1)}), potentials=frame)
    got = read_potentials(tmp_path)
    np.testing.assert_allclose(got["V"], curve["V"])
    assert set(got["disorder"]) == {1} and set(got["order_parameter"]) == {"overlap"}
    with pytest.raises(ValueError, match="potentials"):
        potential_frame(info, {"V(q)": curve.drop(columns="V")}, order_parameter="overlap", method="exact")
