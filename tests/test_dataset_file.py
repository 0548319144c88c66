"""Scans of a user's data file (``[model] name = "dataset_file"``): spec loading from .npy, .npz and
.csv, every refusal with its key first, the spec hash, the training-set size axis, values against a
direct computation, planted (``source = "point"``) against held-out x0, 1 and 2 MPI ranks, and the
data-derived theory columns."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pandas as pd
import pytest

import mc
from mc.models import data_file as data_file_module
from replica.scan import SpecError, load_spec, make_tasks, parse_spec
from replica.scan.compute import build_model, build_process, quenched_state, run_task
from replica.scan.runner import merge, prepare_output, run_scan

from conftest import merged_tables, scan_env

N_DIM, N_FILE, N_HELD = 8, 60, 20

SPEC = """
[scan]
name = "files"
seed = 3

[model]
name = "dataset_file"
path = "{path}"
labels = "labels.npy"
heldout = "test.npy"
scale = [-1.0, 1.0]
centre = true
n_points = [10, 40]
{model}
[process]
name = "VP"

[grid]
t = [0.02, 0.3, 1.5]
disorder = 3
source = "{source}"
{grid}
[sampler]
method = "exact"
n_replicas = 4
draws = 50
"""


def spec_text(path="train.npy", model="", grid="", source="heldout"):
    return SPEC.format(path=path, model=model, grid=grid, source=source)


def raw_points():
    """The training points of the data file: 60 points in N = 8, entries like pixels in [0, 255]."""
    return np.random.default_rng(20240611).uniform(0.0, 255.0, size=(N_FILE, N_DIM))


def write_data(directory):
    """train.npy / .npz / .csv, labels.npy and test.npy (held-out points) in ``directory``."""
    rng = np.random.default_rng(7)
    train = raw_points()
    np.save(directory / "train.npy", train)
    np.savez(directory / "train.npz", other=train[:5], pixels=train)  # two arrays: npz_key picks one
    np.savetxt(directory / "train.csv", train, delimiter=",", fmt="%.17g", header="pixels")  # '# pixels'
    np.save(directory / "labels.npy", rng.integers(0, 2, size=N_FILE))
    np.save(directory / "test.npy", rng.uniform(0.0, 255.0, size=(N_HELD, N_DIM)))
    return directory


def write_spec(directory, text, name="spec.toml"):
    path = directory / name
    path.write_text(text)
    return path


def preprocessed(raw):
    """By hand: the global min and max of all entries onto [-1, 1], then minus the mean point."""
    x = -1.0 + 2.0 * (raw - raw.min()) / (raw.max() - raw.min())
    return x - x.mean(axis=0)


def fresh_process():
    """Forget the data sets loaded in this process, as a new ``replica scan`` process would."""
    data_file_module._LOADED.clear()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def spec(data_dir):
    return load_spec(write_spec(data_dir, spec_text()))


@pytest.fixture(scope="module")
def serial_scan(data_dir, spec, tmp_path_factory):
    """The base spec scanned serially in this process and merged: its output directory."""
    out = tmp_path_factory.mktemp("serial") / "out"
    summary = run_scan(spec, out, progress=False)
    assert summary.exit_code == 0 and not summary.failed, summary
    info = merge(out)
    assert info["missing"] == 0 and info["failed"] == 0, info
    return out


def value_columns(frame):
    """Result rows without the columns that name the file (its SHA-256 differs between formats)."""
    return frame.drop(columns=["data_sha256"]).reset_index(drop=True)


# 1. loading ---------------------------------------------------------------------------------
def test_npy_npz_and_csv_give_the_same_data_and_results(data_dir, spec):
    specs = {
        "npy": spec,
        "npz": load_spec(write_spec(data_dir, spec_text("train.npz", model='npz_key = "pixels"'), "npz.toml")),
        "csv": load_spec(write_spec(data_dir, spec_text("train.csv"), "csv.toml")),
    }
    for s in specs.values():
        assert s.model.data["model.path"]["shape"] == [N_FILE, N_DIM]
        assert s.model.data["model.labels"]["shape"] == [N_FILE]
        assert s.model.data["model.heldout"]["shape"] == [N_HELD, N_DIM]
        assert s.grid.n_dim == (N_DIM,)  # N is the data's: grid.n_dim was left out
    tasks = make_tasks(spec)
    for i in (0, len(tasks) - 1):
        rows = {k: run_task(s, tasks[i])["results"] for k, s in specs.items()}
        for k in ("npz", "csv"):
            pd.testing.assert_frame_equal(value_columns(rows[k]), value_columns(rows["npy"]), check_exact=True)
        assert rows["npy"]["n_points_file"].eq(N_FILE).all()


def test_grid_n_dim_must_be_the_datas(data_dir):
    same = parse_spec(spec_text(grid=f"n_dim = {N_DIM}"), base_dir=data_dir)
    assert same.grid.n_dim == (N_DIM,)
    with pytest.raises(SpecError, match=rf"^grid\.n_dim: .*dimension N = {N_DIM}, got \[9\]"):
        parse_spec(spec_text(grid="n_dim = [9]"), base_dir=data_dir)


def test_paths_are_relative_to_the_spec_file(data_dir, spec, tmp_path, monkeypatch):
    path = write_spec(data_dir, spec_text(), "elsewhere.toml")
    write_data(tmp_path)
    np.save(tmp_path / "train.npy", raw_points() ** 2)  # other data of the same shape
    monkeypatch.chdir(tmp_path)
    moved = load_spec(path)
    assert moved.model.resolved["path"] == os.path.join(str(data_dir), "train.npy")
    assert moved.model.data == spec.model.data and moved.hash == spec.hash
    assert parse_spec(spec_text(), base_dir=str(data_dir)).hash == spec.hash
    here = parse_spec(spec_text())  # without base_dir: relative to the working directory
    assert here.model.resolved["path"] == os.path.join(str(tmp_path), "train.npy")
    assert here.model.data["model.path"]["sha256"] != spec.model.data["model.path"]["sha256"]


# 2. refusals --------------------------------------------------------------------------------
def _refused(directory, text, match):
    with pytest.raises(SpecError, match=match) as info:
        load_spec(write_spec(directory, text, "bad.toml"))
    return str(info.value)


def test_bad_data_files_are_refused_with_their_key(tmp_path):
    write_data(tmp_path)
    train = raw_points()
    np.save(tmp_path / "object.npy", np.array([[1.0, "a"]] * 3, dtype=object), allow_pickle=True)
    nan = train.copy()
    nan[4, 5] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "flat.npy", train[:, 0])
    np.save(tmp_path / "short_labels.npy", np.zeros(N_FILE - 1, dtype=np.int64))
    np.save(tmp_path / "wide_test.npy", np.zeros((3, N_DIM + 1)))

    _refused(tmp_path, spec_text("object.npy"), r"^model\.path: .*object array")
    _refused(tmp_path, spec_text("nan.npy"), r"^model\.path: .*1 NaN or infinite entry.*row 4, column 5")
    _refused(tmp_path, spec_text("flat.npy"), r"^model\.path: .*1-D array")
    _refused(tmp_path, spec_text().replace('"labels.npy"', '"short_labels.npy"'),
             rf"^model\.labels: {N_FILE - 1} labels for the {N_FILE} points")
    _refused(tmp_path, spec_text().replace('"test.npy"', '"wide_test.npy"'),
             rf"^model\.heldout: held-out points of dimension {N_DIM + 1}")
    _refused(tmp_path, spec_text().replace("n_points = [10, 40]", "n_points = [10, 61]"),
             rf"^model\.n_points: 61 is more than the {N_FILE} points")
    msg = _refused(tmp_path, spec_text(model="max_gib = 1e-6"), r"^model\.path: ")
    assert "model.max_gib = 1e-06 GiB" in msg and "memory cap" in msg
    _refused(tmp_path, spec_text(model="colour = true"), r"^model\.colour: unknown key for model 'dataset_file'")


@pytest.mark.parametrize("key", ["path", "labels", "heldout"])
def test_missing_files_are_refused_with_their_key(tmp_path, key):
    write_data(tmp_path)
    name = {"path": "train.npy", "labels": "labels.npy", "heldout": "test.npy"}[key]
    _refused(tmp_path, spec_text().replace(f'"{name}"', '"missing.npy"'),
             rf"^model\.{key}: no such file '.*missing\.npy'")


def test_sources_that_the_data_file_cannot_give_are_refused(data_dir):
    with pytest.raises(SpecError, match=r"^grid\.source: 'population'.*grid\.source = 'heldout'"):
        parse_spec(spec_text(source="population"), base_dir=data_dir)
    no_heldout = spec_text().replace('heldout = "test.npy"\n', "")
    assert parse_spec(no_heldout.replace('"heldout"', '"point"'), base_dir=data_dir).grid.source == "point"
    with pytest.raises(SpecError, match=r"^grid\.source: 'heldout'.*model\.heldout"):
        parse_spec(no_heldout, base_dir=data_dir)


# 3. the spec hash ---------------------------------------------------------------------------
def _flip_last_payload_byte(path):
    """Change one byte of the float payload (the last float's lowest mantissa byte) of a .npy."""
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0x01
    path.write_bytes(bytes(raw))


def test_spec_hash_follows_the_data_and_the_preprocessing_not_the_directory(tmp_path):
    (tmp_path / "a").mkdir()
    write_data(tmp_path / "a")
    base = load_spec(write_spec(tmp_path / "a", spec_text()))
    # the same files and spec in another directory (a moved scan): the same hash
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert load_spec(tmp_path / "b" / "spec.toml").hash == base.hash
    # preprocessing
    assert parse_spec(spec_text().replace("centre = true", "centre = false"), tmp_path / "a").hash != base.hash
    assert parse_spec(spec_text().replace("[-1.0, 1.0]", "[0.0, 1.0]"), tmp_path / "a").hash != base.hash
    # one byte of the data file
    _flip_last_payload_byte(tmp_path / "b" / "train.npy")
    fresh_process()
    changed = load_spec(tmp_path / "b" / "spec.toml")
    assert changed.model.data["model.path"]["sha256"] != base.model.data["model.path"]["sha256"]
    assert changed.hash != base.hash


def test_a_file_changed_within_one_process_is_read_again(tmp_path):
    write_data(tmp_path)
    before = load_spec(write_spec(tmp_path, spec_text()))
    raw = bytearray((tmp_path / "train.npy").read_bytes())
    raw[-8] ^= 0x01
    (tmp_path / "new.npy").write_bytes(bytes(raw))
    stat = os.stat(tmp_path / "train.npy")
    os.replace(tmp_path / "new.npy", tmp_path / "train.npy")  # a new inode, size unchanged
    os.utime(tmp_path / "train.npy", ns=(stat.st_atime_ns + 10**9, stat.st_mtime_ns + 10**9))
    assert load_spec(tmp_path / "spec.toml").hash != before.hash


def test_resume_after_the_data_file_changed_is_refused(tmp_path):
    write_data(tmp_path)
    text = spec_text().replace("n_points = [10, 40]", "n_points = 10").replace("t = [0.02, 0.3, 1.5]", "t = [0.3]")
    text = text.replace("disorder = 3", "disorder = 1").replace("draws = 50", "draws = 0")
    spec = load_spec(write_spec(tmp_path, text))
    out = tmp_path / "out"
    assert run_scan(spec, out, progress=False).done == 1
    assert run_scan(load_spec(tmp_path / "spec.toml"), out, resume=True, progress=False).skipped == 1
    _flip_last_payload_byte(tmp_path / "train.npy")
    fresh_process()
    changed = load_spec(tmp_path / "spec.toml")
    message = r"^spec: differs from the one .* was started with \(hash {} vs {}\)".format(spec.hash[:12],
                                                                                        changed.hash[:12])
    with pytest.raises(SpecError, match=message):
        prepare_output(changed, out, resume=True)
    with pytest.raises(SpecError, match=message):
        run_scan(changed, out, resume=True, progress=False)


# 4. tasks over training-set sizes -----------------------------------------------------------
def test_tasks_and_the_n_points_column(spec, serial_scan):
    tasks = make_tasks(spec)
    assert len(tasks) == 2 * 3 * 3
    assert sorted({t.n_points for t in tasks}) == [10, 40]
    assert sum("_n10_" in t.name for t in tasks) == 9 and sum("_n40_" in t.name for t in tasks) == 9
    res = merged_tables(serial_scan)["results"]
    assert res.groupby(["n_points", "t", "disorder"]).ngroups == len(tasks)
    for task in (tasks[0], tasks[-1]):
        rows = pd.read_parquet(serial_scan / "tasks" / f"{task.name}.results.parquet")
        assert rows["n_points"].eq(task.n_points).all()
        manifest = json.loads((serial_scan / "tasks" / f"{task.name}.meta.json").read_text())
        assert manifest["n_points"] == task.n_points and manifest["data"] == spec.model.data
        assert manifest["data"]["model.path"]["sha256"] == rows["data_sha256"].iloc[0]
    assert set(res["n_points_file"]) == {N_FILE} and set(res["centred"]) == {True}
    assert set(res["scale_lo"]) == {-1.0} and set(res["scale_hi"]) == {1.0}


def _rows(points):
    return {tuple(p) for p in np.asarray(points)}


def test_subsets_are_nested_at_one_disorder_sample_and_differ_between_samples(spec):
    small = [build_model(spec, N_DIM, d, 10) for d in range(3)]
    large = [build_model(spec, N_DIM, d, 40) for d in range(3)]
    for s, big in zip(small, large):
        assert s.n_points == 10 and big.n_points == 40
        assert _rows(s.points) <= _rows(big.points)
        pairs = dict(zip(map(tuple, big.points), big.labels))
        assert [pairs[tuple(p)] for p in s.points] == list(s.labels)  # labels follow their points
    assert len({frozenset(_rows(s.points)) for s in small}) == 3
    assert len({frozenset(_rows(b.points)) for b in large}) == 3
    # the held-out points are the whole file's, the same for every sample
    np.testing.assert_array_equal(small[0].heldout.points, large[2].heldout.points)


# 5. values against a direct computation -----------------------------------------------------
def test_task_values_equal_a_direct_computation(data_dir, spec):
    x = preprocessed(np.load(data_dir / "train.npy"))
    task = next(t for t in make_tasks(spec) if t.n_points == 10 and t.t_index == 1 and t.disorder == 1)
    model = build_model(spec, task.n_dim, task.disorder, task.n_points)
    # the subset's rows are rows of the hand-preprocessed file
    dist = ((model.points[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
    idx = dist.argmin(axis=1)
    assert len(set(idx)) == 10 and (np.diff(idx) > 0).all()  # distinct rows, in file order
    np.testing.assert_allclose(model.points, x[idx], rtol=0, atol=1e-14)
    raw = np.load(data_dir / "train.npy")  # held-out points: the training points' min, max and mean
    scaled = -1.0 + 2.0 * (np.load(data_dir / "test.npy") - raw.min()) / (raw.max() - raw.min())
    held = scaled - (-1.0 + 2.0 * (raw - raw.min()) / (raw.max() - raw.min())).mean(axis=0)
    np.testing.assert_allclose(model.heldout.points, held, rtol=0, atol=1e-14)

    state = quenched_state(spec, model, build_process(spec), task)
    assert state.source == "heldout" and not state.planted
    np.testing.assert_array_equal(state.x0, model.heldout.points[state.point_index])
    post = mc.Posterior(mc.Dataset(x[idx]), mc.VP(), state.x_t, task.t)
    w = np.asarray(post.weights)
    assert 0.05 < np.sum(w**2) < 0.95  # a task where the weight is spread: a real check
    m = w @ x[idx]
    rows = run_task(spec, task)["results"]
    exact = rows[rows.method == "exact"].set_index("observable")["value"]
    assert exact["participation_ratio"] == pytest.approx(np.sum(w**2), rel=1e-12, abs=1e-12)
    assert exact["q_self"] == pytest.approx(m @ m / N_DIM, rel=1e-12, abs=1e-12)


# 6. planted training point against held-out point -------------------------------------------
def test_planted_point_collapses_and_heldout_point_does_not(tmp_path):
    # 30 training points +-c e_i (i < 15) in N = 16, pairwise at distance >= sqrt(2) c; held-out points
    # +-3c e_16, far from every training point and at the same distance from all of them, so that at
    # small t no training point is closer to x0 than the others (only the noise picks among them).
    n_dim, c = 16, 1.5
    eye = np.eye(n_dim)
    np.save(tmp_path / "train.npy", np.concatenate([c * eye[:15], -c * eye[:15]]))
    np.save(tmp_path / "test.npy", np.array([3 * c * eye[15], -3 * c * eye[15]]))
    text = """
[scan]
name = "sources"
seed = 11
[model]
name = "dataset_file"
path = "train.npy"
heldout = "test.npy"
[process]
name = "VP"
[grid]
t = [0.02]
disorder = 8
source = "{source}"
[sampler]
method = "exact"
[observables]
names = ["participation_ratio"]
"""
    y = {}
    for source in ("point", "heldout"):
        spec = load_spec(write_spec(tmp_path, text.format(source=source), f"{source}.toml"))
        assert spec.grid.n_dim == (n_dim,)
        rows = pd.concat([run_task(spec, task)["results"] for task in make_tasks(spec)])
        assert set(rows["source"]) == {source}
        assert set(rows["planted"]) == {source == "point"}
        assert rows["disorder"].nunique() == 8
        y[source] = rows.loc[(rows.observable == "participation_ratio") & (rows.method == "exact"), "value"]
    assert y["point"].mean() > 0.99, y
    assert y["heldout"].mean() < 0.9, y


def test_heldout_x_t_collapses_onto_a_neighbour_and_planted_onto_its_origin(tmp_path):
    """Generic data (held-out points drawn like the training points): the exact empirical
    posterior condenses at small t for both sources (Y -> 1: onto the training point nearest
    to x0), so what tells memorisation from generalisation is where it condenses. The optimal
    denoiser's output E[x0 | x_t] lands on its origin for a planted x_t (distance -> 0) and on a
    training point at a finite distance from the held-out origin (the distance from that point
    to its nearest training point, computed directly here)."""
    rng = np.random.default_rng(5)
    train, held = rng.standard_normal((40, 10)), rng.standard_normal((6, 10))
    np.save(tmp_path / "train.npy", train)
    np.save(tmp_path / "test.npy", held)
    text = ('[scan]\nname = "origin"\nseed = 2\n[model]\nname = "dataset_file"\npath = "train.npy"\n'
            'heldout = "test.npy"\n[process]\nname = "VP"\n[grid]\nt = [0.001]\ndisorder = 6\nsource = "{source}"\n'
            '[sampler]\nmethod = "exact"\n[observables]\nnames = ["participation_ratio", "denoiser_origin_distance", '
            '"denoiser_nearest_distance"]\n')
    out = {}
    for source in ("point", "heldout"):
        spec = parse_spec(text.format(source=source), base_dir=tmp_path)
        rows = pd.concat([run_task(spec, task)["results"] for task in make_tasks(spec)])
        out[source] = rows[rows.method == "exact"].pivot_table(index="disorder", columns="observable", values="value")
    for source in ("point", "heldout"):
        assert (out[source]["participation_ratio"] > 0.999).all(), source  # both condense
        assert (out[source]["denoiser_nearest_distance"] < 1e-3).all(), source  # onto a training point
    assert (out["point"]["denoiser_origin_distance"] < 1e-3).all()
    gap = np.sqrt(((held[:, None, :] - train[None]) ** 2).sum(-1)).min(axis=1) / np.sqrt(10)
    assert (out["heldout"]["denoiser_origin_distance"] > 0.9 * gap.min()).all()
    assert set(np.round(out["heldout"]["denoiser_origin_distance"], 6)) <= set(np.round(gap, 6))


# 7. one and two MPI ranks ---------------------------------------------------------------------
@pytest.mark.mpi
def test_one_and_two_ranks_give_identical_tables(data_dir, serial_scan, tmp_path):
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    if not os.path.exists(mpiexec):
        pytest.fail(f"no mpiexec next to the interpreter ({mpiexec}); the install should provide it (mpich wheel)")
    two = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", "scan", str(data_dir / "spec.toml"),
                          "--out", str(tmp_path / "two"), "--quiet"], env=scan_env(), capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)  # not the data's directory: paths are the spec's
    assert two.returncode == 0, two.stderr
    one, other = merged_tables(serial_scan), merged_tables(tmp_path / "two")
    assert one.keys() == other.keys() and "results" in one
    for name in one:
        keys = [k for k in ("n_points", "t", "disorder", "observable", "method", "q") if k in one[name].columns]
        a = one[name].sort_values(keys, kind="stable").reset_index(drop=True)
        b = other[name].sort_values(keys, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


# 8. theory columns --------------------------------------------------------------------------
def test_theory_columns_come_from_the_whole_preprocessed_file(data_dir, serial_scan):
    res = merged_tables(serial_scan)["results"]
    columns = ["cov_top_eigenvalue", "collapse_s_information", "collapse_s_entropy"]
    per_n = res.groupby("n_points")[columns]
    assert (per_n.nunique(dropna=False) == 1).all().all(), per_n.nunique(dropna=False)
    x = preprocessed(np.load(data_dir / "train.npy"))
    lam = np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True))
    assert np.isfinite(res[columns].to_numpy()).all()
    for n, first in per_n.first().iterrows():
        assert first["cov_top_eigenvalue"] == pytest.approx(lam.max(), rel=1e-12)
        s = first["collapse_s_information"]
        assert s > 0
        assert abs(0.5 * np.sum(np.log1p(lam / s)) - np.log(n)) < 1e-9


# 9. duplicated rows ---------------------------------------------------------------------------
def test_duplicated_rows_are_one_point_with_their_multiplicity(tmp_path):
    """The empirical prior (1/n) sum_rows delta(x0 - y_row) puts 3/n on a row repeated three
    times: the model has one point there with that weight, so the exact "two replicas on the
    same point" Y = sum_mu w_mu^2 is the probability that two replicas sit at the same position
    (brute-force double loop over rows), which is what the sampled estimator (shared nearest
    point) measures; rows repeated with different labels are refused."""
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((12, 4))
    pts[5] = pts[9] = pts[2]  # three copies
    pts[11] = pts[3]
    np.save(tmp_path / "train.npy", pts)
    text = ('[scan]\nname = "dup"\nseed = 1\n[model]\nname = "dataset_file"\npath = "train.npy"\n'
            '[process]\nname = "VP"\n[grid]\nt = [0.4]\nsource = "point"\n[sampler]\nmethod = "exact"\n'
            'n_replicas = 4\ndraws = 400\n[observables]\nnames = ["participation_ratio", "memorised_fraction"]\n')
    spec = parse_spec(text, base_dir=tmp_path)
    assert spec.model.data["model.path"]["duplicated_rows"] == 3
    model = build_model(spec, 4, 0)
    assert model.n_points == 9 and model.params()["n_points"] == 12
    assert np.allclose(np.sort(model.prior_weights), np.sort([3, 2] + [1] * 7) / 12.0)
    task = make_tasks(spec)[0]
    state = quenched_state(spec, model, build_process(spec), task)
    post = mc.Posterior(model, build_process(spec), state.x_t, task.t)
    # brute force over rows: each row has prior weight 1/12
    s = post.D / post.a**2
    y = state.x_t / post.a
    row_w = np.array([np.exp(-np.sum((y - r) ** 2) / (2 * s)) for r in pts])
    row_w /= row_w.sum()
    same = sum(row_w[i] * row_w[j] for i in range(12) for j in range(12) if np.array_equal(pts[i], pts[j]))
    rows = run_task(spec, task)["results"]
    y_rows = rows[rows.observable == "participation_ratio"].set_index("method")
    assert y_rows.loc["exact", "value"] == pytest.approx(same, rel=1e-12)
    assert abs(y_rows.loc["samples", "value"] - same) < 5 * y_rows.loc["samples", "stderr"]
    mem = rows[rows.observable == "memorised_fraction"].set_index("method")
    assert mem.loc["exact", "value"] == 1.0 and mem.loc["samples", "value"] == 1.0
    labels = np.arange(12) % 2  # rows 2 and 5 are one point with labels 0 and 1
    np.save(tmp_path / "labels.npy", labels)
    with pytest.raises(SpecError, match=r"^model\.labels: rows 2 and 5 of model\.path are the same point"):
        parse_spec(text.replace('path = "train.npy"\n', 'path = "train.npy"\nlabels = "labels.npy"\n'),
                   base_dir=tmp_path)
