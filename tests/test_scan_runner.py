"""The scan driver: results against direct computation, identical tables on 1 and 2 MPI ranks,
kill / SIGTERM / corruption / failure followed by resume, spec changes, the README's main job."""
import io
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pandas as pd
import pytest

import mc
from replica.scan import make_tasks, parse_spec
from replica.scan.compute import run_task
from replica._environment import pin_threads
from replica.cli import EXIT_FAILURE, EXIT_OK, main
from replica.scan.runner import merge, run_scan, task_complete

from conftest import ROOT, assert_same_tables, dataset_spec, merged_tables, readme_main_job_args, scan_env

SMALL = """
[scan]
name = "small"
seed = 7

[model]
name = "two_class_mixture"
mu = 1.0

[process]
name = "VP"

[grid]
n_dim = [8, 32]
t = {start = 0.5, stop = 3.0, num = 4}
disorder = 3

[sampler]
method = "exact"
n_replicas = 3
draws = 40

[observables]
names = ["class_magnetisation", "q_self", "overlap_truth", "susceptibility", "overlap_histogram"]
bins = 11
"""


def test_task_values_equal_a_direct_computation():
    spec = parse_spec(SMALL)
    task = make_tasks(spec)[7]
    rows = run_task(spec, task)["results"]
    model = mc.GaussianMixture.two_class(1.0, n_dim=task.n_dim)
    state = mc.draw_quenched(model, mc.VP(), task.t, seed=7, disorder=task.disorder, key=(0, 0, task.n_dim))
    post = mc.Posterior(model, mc.VP(), state.x_t, task.t)
    exact = rows[rows.method == "exact"].set_index("observable")["value"]
    mu = model.means[0]
    assert exact["class_magnetisation"] == pytest.approx(float(post.mean() @ mu / (mu @ mu)), rel=1e-12)
    assert exact["q_self"] == pytest.approx(float(post.mean() @ post.mean()) / task.n_dim, rel=1e-12)
    assert exact["overlap_truth"] == pytest.approx(float(post.mean() @ state.x0) / task.n_dim, rel=1e-12)
    assert exact["susceptibility"] == pytest.approx(post.cov_trace() / task.n_dim, rel=1e-12)
    # the sampled estimates (exact draws) agree with the exact values within 5 standard errors
    sampled = rows[rows.method == "samples"].set_index("observable")
    for name in ("class_magnetisation", "q_self", "overlap_truth", "susceptibility"):
        assert abs(sampled.loc[name, "value"] - exact[name]) <= 5 * sampled.loc[name, "stderr"], name


TWO_CLASS_DATASET = """
[scan]
name = "two_class_ds"
seed = 5

[model]
name = "dataset_two_class"
alpha = 0.45
mu = 0.6

[process]
name = "VP"

[grid]
n_dim = [10]
t = [0.6, 1.0, 2.0]
disorder = 3
source = "point"

[sampler]
method = "exact"
n_replicas = 6
draws = 300

[observables]
names = ["cloning_probability", "class_magnetisation_variance", "participation_ratio", "q_self"]
"""


def test_labelled_data_set_task_values_equal_a_loop_over_points(monkeypatch):
    import replica.scan.observables as scan_observables
    from replica.overlaps import overlap_moments
    from replica.scan.compute import build_model, build_process, quenched_state

    spec = parse_spec(TWO_CLASS_DATASET)
    mixed = 0
    for task in make_tasks(spec):
        rows = run_task(spec, task)["results"]
        model = build_model(spec, task.n_dim, task.disorder)
        assert model.n_points == round(np.exp(0.45 * 10)) and model.params()["mu"] == 0.6
        state = quenched_state(spec, model, build_process(spec), task)
        assert state.planted and state.point_index is not None
        a, D = mc.VP().a(task.t), mc.VP().D(task.t)
        logits = np.array([-np.sum((state.x_t - a * y) ** 2) / (2 * D) for y in model.points])
        w = np.exp(logits - logits.max())
        w /= w.sum()
        p = np.zeros(2)
        for mu in range(model.n_points):
            p[model.labels[mu]] += w[mu]
        exact = rows[rows.method == "exact"].set_index("observable")["value"]
        assert exact["cloning_probability"] == pytest.approx(p @ p, rel=1e-10)
        assert exact["class_magnetisation_variance"] == pytest.approx(1 - (p[0] - p[1]) ** 2, rel=1e-8, abs=1e-14)
        assert exact["participation_ratio"] == pytest.approx(w @ w, rel=1e-10)
        # overlap moments against the exact P(q) atoms
        post = mc.Posterior(model, mc.VP(), state.x_t, task.t)
        for k, name in ((1, "q_self"), (2, "q2"), (4, "q4")):
            assert exact[name] == pytest.approx(overlap_moments(post, (1, 2, 4))[k].value, rel=1e-12)
        sampled = rows[rows.method == "samples"].set_index("observable")
        for name in ("cloning_probability", "class_magnetisation_variance", "participation_ratio", "q_self"):
            err = sampled.loc[name, "stderr"]
            assert abs(sampled.loc[name, "value"] - exact[name]) <= 5 * err + 1e-12, (task, name)
        mixed += 0.6 < exact["cloning_probability"] < 0.95
    assert mixed >= 1  # at least one task with a posterior still split between the classes
    # above Q4_MAX_POINTS points q4 is left out for every task alike, q and q2 stay exact
    monkeypatch.setattr(scan_observables, "Q4_MAX_POINTS", 50)
    task = make_tasks(spec)[0]
    rows = run_task(spec, task)["results"]
    exact = rows[rows.method == "exact"].set_index("observable")["value"]
    assert "q4" not in exact.index and "q4" in rows[rows.method == "samples"]["observable"].values
    model = build_model(spec, task.n_dim, task.disorder)
    post = mc.Posterior(model, mc.VP(), quenched_state(spec, model, build_process(spec), task).x_t, task.t)
    assert exact["q2"] == pytest.approx(overlap_moments(post, (1, 2))[2].value, rel=1e-12)


def test_serial_scan_writes_verified_tasks_and_merges(tmp_path):
    spec = parse_spec(SMALL)
    out = tmp_path / "out"
    summary = run_scan(spec, out, progress=False)
    assert summary.exit_code == EXIT_OK and summary.done == 24
    tasks = make_tasks(spec)
    assert all(task_complete(out / "tasks", t.name, spec.hash) for t in tasks)
    info = merge(out)
    assert info["tasks"] == 24 and info["missing"] == 0
    res = merged_tables(out)["results"]
    assert set(res.n_dim) == {8, 32} and res.groupby(["n_dim", "t", "disorder"]).ngroups == 24
    meta = json.loads((out / "tasks" / f"{tasks[0].name}.meta.json").read_text())
    for k in ("spec_hash", "version", "seed", "wall_time", "host", "rank", "files"):
        assert k in meta
    # a second run without --resume is refused; with --resume nothing is redone
    with pytest.raises(ValueError, match="^out:"):
        run_scan(spec, out, progress=False)
    again = run_scan(spec, out, resume=True, progress=False)
    assert again.done == 0 and again.skipped == 24


@pytest.mark.mpi
def test_one_two_and_four_ranks_give_identical_merged_tables(tmp_path, finished_scan):
    spec_path = tmp_path / "small.toml"
    spec_path.write_text(SMALL)
    one = finished_scan(SMALL)  # the serial scan, run in this process (the serial code path is the command's)
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    two = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", "scan", str(spec_path), "--out",
                          str(tmp_path / "two"), "--verbose"], env=scan_env(), capture_output=True, text=True,
                         timeout=240, cwd=ROOT)
    assert two.returncode == 0, two.stderr
    ranks = {json.loads(p.read_text())["rank"] for p in (tmp_path / "two" / "tasks").glob("*.meta.json")}
    assert ranks == {0, 1}  # both ranks worked
    assert "[rank 1/2]" in two.stderr
    assert_same_tables(merged_tables(one), merged_tables(tmp_path / "two"))
    # four ranks on two cores (oversubscribed): the same tables again
    four = subprocess.run([mpiexec, "-n", "4", sys.executable, "-m", "replica.cli", "scan", str(spec_path), "--out",
                           str(tmp_path / "four"), "--quiet"], env=scan_env(), capture_output=True, text=True,
                          timeout=240, cwd=ROOT)
    assert four.returncode == 0, four.stderr
    assert_same_tables(merged_tables(one), merged_tables(tmp_path / "four"))


def _read_until_tasks_done(proc, n, timeout=120):
    """Read a ``--verbose`` scan's standard error until ``n`` tasks are done (their line is printed
    after their files and manifest are written) and return what was read. It blocks on the scan's
    own output, not on a clock; a scan that hangs is killed after ``timeout`` seconds."""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    lines, done = [], 0
    try:
        for line in proc.stderr:
            lines.append(line)
            done += bool(re.match(r"\[rank \d+/\d+\] \d+/\d+ ", line))
            if done >= n:
                return "".join(lines)
    finally:
        watchdog.cancel()
    pytest.fail(f"the scan ended (or hung) before {n} tasks were written: {''.join(lines)}")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killed_scan_resumes_to_the_uninterrupted_table(tmp_path, capsys, finished_scan, how):
    spec_path = tmp_path / "ds.toml"
    spec_path.write_text(dataset_spec(80))
    full = finished_scan(dataset_spec(80))  # the uninterrupted scan, computed once for both signals

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "replica.cli", "scan", str(spec_path), "--out", str(out),
                             "--verbose"], env=scan_env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    before = _read_until_tasks_done(proc, 20)
    proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    err = before + err
    if how == "SIGTERM":
        assert proc.returncode == 3, err  # interrupted: finished the running task, then stopped
        assert "interrupted" in err
    first = {p.name: p.read_bytes() for p in (out / "tasks").glob("*.meta.json")}
    assert 20 <= len(first) < 240
    # the resume in this process: only the kill needs a process of its own
    capsys.readouterr()
    assert main(["scan", str(spec_path), "--out", str(out), "--resume", "--quiet"]) == 0
    err = capsys.readouterr().err
    run, done = map(int, re.search(r"(\d+) run, (\d+) already done", err).groups())
    assert done == len(first) and run == 240 - len(first)
    # no task finished before the kill ran again: its manifest is byte for byte the same
    assert all((out / "tasks" / name).read_bytes() == data for name, data in first.items())
    assert_same_tables(merged_tables(full), merged_tables(out))


def test_corrupt_and_truncated_task_files_are_detected_and_rerun(tmp_path, finished_scan):
    spec = parse_spec(dataset_spec(4))
    out = finished_scan(dataset_spec(4), copy_to=tmp_path / "out")  # a finished, merged scan of our own
    reference = merged_tables(out)
    tasks = make_tasks(spec)
    truncated = out / "tasks" / f"{tasks[1].name}.results.parquet"
    truncated.write_bytes(truncated.read_bytes()[:100])
    flipped = out / "tasks" / f"{tasks[5].name}.histograms.parquet"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    (out / "tasks" / f"{tasks[7].name}.meta.json").write_text("{not json")
    assert not task_complete(out / "tasks", tasks[1].name, spec.hash)
    assert merge(out)["missing"] == 3  # merge never reads a corrupt task
    again = run_scan(spec, out, resume=True, progress=False)
    assert again.done == 3 and again.skipped == len(tasks) - 3
    merge(out)
    assert_same_tables(reference, merged_tables(out))


def test_failing_task_is_recorded_and_the_scan_goes_on(tmp_path):
    spec = parse_spec(dataset_spec(3))
    tasks = make_tasks(spec)
    bad = tasks[4].name

    def flaky(spec_, task):
        if task.name == bad:
            raise RuntimeError("boom")
        return run_task(spec_, task)

    out = tmp_path / "out"
    summary = run_scan(spec, out, compute=flaky, progress=False)
    assert summary.exit_code == EXIT_FAILURE and summary.failed == [bad] and summary.done == len(tasks) - 1
    record = json.loads((out / "tasks" / f"{bad}.error.json").read_text())
    assert record["error"] == "RuntimeError" and "boom" in record["traceback"]
    assert merge(out) == {**merge(out), "tasks": len(tasks) - 1, "missing": 1, "failed": 1}
    fixed = run_scan(spec, out, resume=True, progress=False)
    assert fixed.exit_code == EXIT_OK and fixed.done == 1
    assert not (out / "tasks" / f"{bad}.error.json").exists()


def test_changed_spec_is_refused_unless_forced(tmp_path, capsys):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(dataset_spec(2))
    out = str(tmp_path / "out")
    assert main(["scan", str(spec_path), "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["scan", str(spec_path), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "out:" in err and "--resume" in err
    spec_path.write_text(dataset_spec(3))
    assert main(["scan", str(spec_path), "--out", out, "--resume", "--quiet"]) == 2
    assert "spec:" in capsys.readouterr().err
    assert main(["scan", str(spec_path), "--out", out, "--resume", "--force", "--quiet"]) == 0
    assert re.search(r"9 run, 0 already done", capsys.readouterr().err)  # old manifests name the old hash


def test_bad_spec_exits_2_naming_the_key_and_writes_nothing(tmp_path, capsys):
    spec_path = tmp_path / "bad.toml"
    spec_path.write_text(dataset_spec(0))
    assert main(["scan", str(spec_path), "--out", str(tmp_path / "out")]) == 2
    assert "grid.disorder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["merge", str(tmp_path / "nowhere")]) == 2
    assert "directory" in capsys.readouterr().err


def test_dry_run_prints_tasks_cost_and_configuration_without_writing(tmp_path, capsys):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(SMALL)
    assert main(["scan", str(spec_path), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "24 tasks" in out and "core-seconds" in out and '"two_class_mixture"' in out
    assert not (tmp_path / "out").exists()
    assert os.listdir(tmp_path) == ["s.toml"]  # the scratch files that timed the writes are gone
    # the output directory, what a run would find there, and the cost of the writes
    assert f"output directory: {tmp_path / 'out'} (--out): does not exist yet" in out
    per_task = float(re.search(r"writes per task: about ([0-9.e+]+) kB in 3 files", out).group(1))
    write_ms = float(re.search(r"write time per task: ([0-9.e+]+) ms \(measured", out).group(1))
    assert 1 < per_task < 1000 and write_ms > 0
    assert re.search(r"estimated total [0-9.e+]+ core-seconds \+ [0-9.e+]+ s of writes", out)


def test_dry_run_write_estimate_is_close_to_what_a_task_writes(tmp_path, capsys, finished_scan):
    from replica.scan.runner import write_cost

    spec = parse_spec(SMALL)
    out = finished_scan(SMALL, copy_to=tmp_path / "out")  # a finished scan of this spec, of our own
    task = make_tasks(spec)[-1]
    real = sum(os.path.getsize(p) for p in (out / "tasks").glob(f"{task.name}.*"))
    before = sorted(os.listdir(out))
    cost = write_cost(spec, out)
    assert cost["error"] is None and cost["where"] == str(out) and cost["seconds"] > 0
    assert 0.5 * real < cost["bytes"] < 2 * real, (cost, real)
    assert sorted(os.listdir(out)) == before  # the scratch directory is gone
    # a directory that holds the scan: the dry run says what a run would do there
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(SMALL)
    assert main(["scan", str(spec_path), "--out", str(out), "--dry-run"]) == 0
    assert "holds this scan (24 task manifests): refused without --resume" in capsys.readouterr().out
    assert main(["scan", str(spec_path), "--out", str(out), "--dry-run", "--resume"]) == 0
    assert "--resume skips the complete ones" in capsys.readouterr().out
    assert main(["scan", str(spec_path), "--out", "/proc/replica-scan-out", "--dry-run"]) == 0
    assert "the scan would stop (exit 2)" in capsys.readouterr().out


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_few_summary_lines_by_default_and_a_line_per_task_when_verbose(tmp_path, capsys):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(SMALL)
    names = [t.name for t in make_tasks(parse_spec(SMALL))]
    # default, stderr not a terminal: at most one line per 10 % and the final line
    assert main(["scan", str(spec_path), "--out", str(tmp_path / "default")]) == 0
    lines = capsys.readouterr().err.splitlines()
    steps = [ln for ln in lines if re.match(r"replica scan small: +\d+% \(\d+/24 tasks\)", ln)]
    assert 1 <= len(steps) <= 10 and len(lines) == len(steps) + 1, lines
    assert "100% (24/24 tasks)" in steps[-1] and "ETA" in steps[0]
    assert not any(name in ln for ln in lines for name in names)
    # --verbose: one line per task
    assert main(["scan", str(spec_path), "--out", str(tmp_path / "verbose"), "--verbose"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert sorted(ln.split()[3] for ln in lines if ln.startswith("[rank 0/1]")) == sorted(names)
    # --quiet: the final line only
    assert main(["scan", str(spec_path), "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("replica scan small: 24 tasks, 24 run")
    with pytest.raises(SystemExit):
        main(["scan", str(spec_path), "--quiet", "--verbose"])


def test_progress_on_a_terminal_is_one_bar_with_the_time_left(tmp_path):
    spec = parse_spec(SMALL)
    tasks = make_tasks(spec)
    bad = tasks[3].name

    def flaky(spec_, task):
        if task.name == bad:
            raise RuntimeError("boom")
        return run_task(spec_, task)

    term = _Terminal()
    summary = run_scan(spec, tmp_path / "out", stream=term, compute=flaky)
    assert summary.exit_code == EXIT_FAILURE
    text = term.getvalue()
    assert "small: 100%|" in text and "24/24 tasks, 1 failed]" in text and "<00:00" in text
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if ln.startswith("[rank")]
    assert lines == [f"[rank 0/1] {bad} FAILED: RuntimeError: boom"]  # failures still get their line


@pytest.mark.parametrize("sub", ["scan", "merge", "report", "demo"])
def test_every_subcommand_has_help(sub, capsys):
    with pytest.raises(SystemExit) as done:
        main([sub, "--help"])
    assert done.value.code == 0 and "usage" in capsys.readouterr().out


def test_pin_threads_sets_only_what_the_user_left_unset():
    env = {"OMP_NUM_THREADS": "4"}
    changed = pin_threads(env)
    assert env["OMP_NUM_THREADS"] == "4" and "OMP_NUM_THREADS" not in changed
    assert env["NUMBA_NUM_THREADS"] == "1" and "NUMBA_CACHE_DIR" in env


def _readme_main_job(directory):
    """The README's main job command, with ``--out`` in ``directory`` and ``--quiet``."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    args = readme_main_job_args(readme)
    assert args is not None, "the README shows the main job command"
    out = directory / "results" / "demo"
    return dict(args=[sys.executable, "-m", "replica.cli", *args, "--out", str(out), "--quiet"], env=scan_env(),
                cwd=ROOT, timeout=300)


@pytest.mark.early_command(make=_readme_main_job)
def test_readme_main_job_runs_end_to_end(early_command):
    """The README's main job command, run as a command (``--out`` in a directory of this run,
    ``--quiet``), then the README's pandas example on what it wrote. The command is started when
    the first test starts (``early_command``, tests/conftest.py)."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    code, _, err = early_command.wait()
    assert code == 0, err
    tmp_path = early_command.directory
    out = tmp_path / "results" / "demo"
    results = pd.read_parquet(out / "merged" / "results.parquet")
    assert {"class_magnetisation", "q_self"} <= set(results.observable)
    assert np.isfinite(results.value).all()
    # the README's pandas example reads that directory
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "read_parquet" in b)
    script = tmp_path / "readme_pandas.py"
    script.write_text(block + "\nassert curve.index.names == ['n_dim', 't'] and len(curve) == 30\n"
                      "assert (curve['sem'] >= 0).all() and curve['sem'].max() > 0\nprint('ok')\n")
    ran = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr


@pytest.mark.mpi
def test_readme_serial_then_mpi_commands_run_as_written(tmp_path):
    """The README's "A first run": the serial command, then the MPI one, in that order, in a
    fresh directory; both succeed and give the same merged tables."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## A first run", 1)[1].split("\n## ", 1)[0]
    commands = [ln.strip() for ln in section.splitlines()
                if re.match(r"^(mpiexec -n \d+ )?replica scan jobs/demo\.toml", ln.strip())]
    assert len(commands) == 2 and commands[1].startswith("mpiexec"), commands
    (tmp_path / "jobs").mkdir()
    # the demo with 2 disorder samples: the sequence of commands is under test, not the demo's size
    # (test_readme_main_job_runs_end_to_end runs it in full)
    demo = open(os.path.join(ROOT, "jobs", "demo.toml")).read()
    reduced = re.sub(r"(?m)^disorder = \d+", "disorder = 2", demo)
    assert reduced != demo
    (tmp_path / "jobs" / "demo.toml").write_text(reduced)
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    outs = []
    for command in commands:
        args = command.split("#")[0].split()
        args = [mpiexec if a == "mpiexec" else a for a in args]
        i = args.index("replica")
        args[i:i + 1] = [sys.executable, "-m", "replica.cli"]
        ran = subprocess.run(args, cwd=tmp_path, env=scan_env(), capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, (command, ran.stderr)
        assert "error" not in ran.stderr
        outs.append(tmp_path / args[args.index("--out") + 1])
    assert_same_tables(merged_tables(outs[0]), merged_tables(outs[1]))


def test_franz_parisi_potentials_reach_the_merged_table_and_equal_a_direct_fit(tmp_path):
    from replica import FranzParisi
    from replica.scan.tasks import FP_STREAM

    text = """
[scan]
name = "fp"
seed = 4
[model]
name = "hopfield"
n_patterns = 1
beta = 2.0
[process]
name = "VP"
[grid]
n_dim = [10]
t = [0.2, 3.0]
disorder = 2
[sampler]
method = "exact"
[observables]
names = ["q_self"]
[franz_parisi]
method = "exact"
n_references = 16
"""
    spec = parse_spec(text)
    out = tmp_path / "out"
    assert run_scan(spec, out, progress=False).exit_code == EXIT_OK
    merge(out)
    pots = pd.read_parquet(out / "merged" / "potentials.parquet")
    res = pd.read_parquet(out / "merged" / "results.parquet")
    assert pots.groupby(["t", "disorder"]).ngroups == 4 and set(pots.order_parameter) == {"overlap"}
    task = make_tasks(spec)[3]  # t = 3.0, disorder 1
    model = mc.IsingPrior.hopfield(n_dim=10, n_patterns=1, beta=2.0,
                                   seed=int(mc.seed_sequence(4, 0, 0, 10, 1, 2).generate_state(1, np.uint32)[0]))
    state = mc.draw_quenched(model, mc.VP(), task.t, seed=4, disorder=1, key=(0, 0, 10))
    post = mc.Posterior(model, mc.VP(), state.x_t, task.t)
    direct = FranzParisi(n_references=16, seed=4, key=(*task.key(spec), FP_STREAM), bin_average=True).fit(post)
    mine = pots[(pots.t == task.t) & (pots.disorder == 1)].sort_values("q")
    np.testing.assert_allclose(mine.V.to_numpy(), direct.potential_.V.to_numpy(), rtol=1e-12)
    frag = res[(res.observable == "fp_fragmented") & (res.t == task.t) & (res.disorder == 1)].value
    assert frag.item() == float(direct.fragmented_)


def test_the_command_module_imports_no_numerics_before_pinning_threads():
    code = "import sys, replica.cli; assert 'numpy' not in sys.modules and 'numba' not in sys.modules; print('light')"
    ran = subprocess.run([sys.executable, "-c", code], env=scan_env(), capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.strip() == "light", ran.stderr
