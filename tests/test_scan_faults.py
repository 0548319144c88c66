"""The scan at the edges: an output directory that cannot be written, a full disk, a second
SIGTERM during the final bookkeeping, errors printed once under MPI."""
import errno
import os
import signal
import subprocess
import sys
import sysconfig

import pytest

import replica.cli as cli
import replica.scan.compute as compute
import replica.table as table
from replica.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, main

from conftest import ROOT, assert_same_tables, dataset_spec, merged_tables, scan_env


def _spec(tmp_path, disorder=2, output=None):
    path = tmp_path / "ds.toml"
    path.write_text(dataset_spec(disorder, output))
    return str(path)


def _error_lines(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    return lines


# ----------------------------------------------------------------------------- unwritable output
def _proc_child(tmp_path):
    return "/proc/replica-scan-out"


def _under_a_file(tmp_path):
    (tmp_path / "a_file").write_text("x")
    return str(tmp_path / "a_file" / "out")


def _a_file(tmp_path):
    (tmp_path / "a_file").write_text("x")
    return str(tmp_path / "a_file")


def _long_name(tmp_path):
    return str(tmp_path / ("d" * 300))


def _read_only(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("permissions do not stop root")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro / "out")


UNWRITABLE = [
    (_proc_child, "cannot create the directory", "No such file or directory"),
    (_under_a_file, "cannot create the directory", "Not a directory"),
    (_a_file, "exists and is not a directory", ""),
    (_long_name, "cannot create the directory", "File name too long"),
    (_read_only, "cannot create the directory", "Permission denied"),
]


@pytest.mark.parametrize("where, what, cause", UNWRITABLE, ids=["proc", "under-a-file", "a-file", "300-chars",
                                                                "read-only"])
@pytest.mark.parametrize("given", ["--out", "scan.output"])
def test_unwritable_output_exits_2_with_one_line_naming_the_cause(tmp_path, capsys, where, what, cause, given):
    out = where(tmp_path)
    if given == "--out":
        code = main(["scan", _spec(tmp_path), "--out", out])
    else:
        code = main(["scan", _spec(tmp_path, output=out)])
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert code == EXIT_BAD_INPUT
    assert len(lines) == 1 and lines[0].startswith(f"replica scan: error: {given}: "), err
    assert what in lines[0] and cause in lines[0], lines[0]


def test_read_only_file_system_is_named(tmp_path, capsys, monkeypatch):
    """The probe file cannot be created (a read-only mount, as root too): the OS's cause is shown."""
    real_open = os.open

    def read_only(path, flags, *args, **kw):
        if ".replica-write-probe" in os.fspath(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(cli.os, "open", read_only)
    out = tmp_path / "out"
    assert main(["scan", _spec(tmp_path), "--out", str(out)]) == EXIT_BAD_INPUT
    lines = _error_lines(capsys.readouterr().err)
    assert lines == [f"replica scan: error: --out: cannot write in the directory {str(out)!r}: Read-only file system"]
    assert not (out / "tasks").exists() and os.listdir(out) == []  # no probe left, nothing run


def test_check_output_dir_leaves_a_writable_directory_clean(tmp_path):
    out = tmp_path / "a" / "b"
    assert cli.check_output_dir(out) is None
    assert out.is_dir() and os.listdir(out) == []


# ----------------------------------------------------------------------------- full disk
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_full_disk_stops_the_scan_keeps_what_was_written_and_resumes(tmp_path, capsys, monkeypatch, code,
                                                                     finished_scan):
    spec_path = _spec(tmp_path, disorder=4)
    full = finished_scan(dataset_spec(4))  # the scan on a disk with room, computed once
    capsys.readouterr()

    real_write, real_run = table.write_table, compute.run_task
    written, started = [], []

    def disk_full_after_one_task(frame, path):
        name = os.path.basename(os.fspath(path)).split(".")[0]
        if name not in written:
            written.append(name)
        if len(written) > 1:
            raise OSError(code, os.strerror(code))
        return real_write(frame, path)

    def run_task(spec, task):
        started.append(task.name)
        return real_run(spec, task)

    monkeypatch.setattr(table, "write_table", disk_full_after_one_task)
    monkeypatch.setattr(compute, "run_task", run_task)
    out = tmp_path / "out"
    assert main(["scan", spec_path, "--out", str(out)]) == EXIT_INTERRUPTED
    lines = _error_lines(capsys.readouterr().err)
    errors = [ln for ln in lines if "error" in ln]
    assert len(errors) == 1 and "no space left" in errors[0] and repr(str(out / "tasks")) in errors[0], lines
    assert "--resume" in errors[0]
    assert len(started) == 2  # the task that hit the full disk was the last one started
    assert len(list((out / "tasks").glob("*.meta.json"))) == 1
    assert not list((out / "tasks").glob("*.error.json"))  # not recorded as a failed task
    assert not (out / "merged").exists()

    monkeypatch.undo()
    assert main(["scan", spec_path, "--out", str(out), "--resume", "--quiet"]) == EXIT_OK
    assert "11 run, 1 already done" in capsys.readouterr().err
    assert_same_tables(merged_tables(full), merged_tables(out))


# ----------------------------------------------------------------------------- a second SIGTERM
def _start_scan(tmp_path):
    spec_path = _spec(tmp_path, disorder=80)
    return subprocess.Popen([sys.executable, "-m", "replica.cli", "scan", spec_path, "--out", str(tmp_path / "out"),
                             "--verbose"], env=scan_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _read_until(proc, marker):
    """Lines of the scan's stderr up to the first containing ``marker`` (fails if it ends first)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            return seen
    proc.wait()
    pytest.fail(f"the scan ended (status {proc.returncode}) before printing {marker!r}: {''.join(seen)}")


@pytest.mark.parametrize("second", ["from-the-running-task-on", "from-the-final-line-on"])
def test_later_sigterms_still_exit_3(tmp_path, second):
    """First SIGTERM: finish the running task and stop. Further ones, whether they land in the
    task loop (the second abandons the running task) or after it (exit-code reduction, the final
    line, interpreter shutdown), must leave the exit status 3 that job scripts resume on, never
    143 (killed). Once the first has been sent, SIGTERM is sent again and again until the scan
    has exited, so every moment of its way out gets one."""
    proc = _start_scan(tmp_path)
    try:
        _read_until(proc, "1/240 ")  # a task has been written, the next one is running
        proc.send_signal(signal.SIGTERM)
        if second == "from-the-final-line-on":
            _read_until(proc, "interrupted: continue with --resume")
        sent = 1
        while proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            sent += 1
            os.sched_yield()
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sent >= 2
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    done = len(list((tmp_path / "out" / "tasks").glob("*.meta.json")))
    assert 1 <= done < 240


# ----------------------------------------------------------------------------- MPI: once, by rank 0
def _mpiexec(args, cwd):
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", *args], env=scan_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.mpi
def test_errors_are_printed_once_under_mpi(tmp_path):
    spec_path = _spec(tmp_path, disorder=1)
    out = str(tmp_path / "out")
    # a directory holding a scan, made in this process (two ranks writing a scan are tested in
    # test_scan_runner.py); the errors below are what runs under mpiexec
    assert main(["scan", spec_path, "--out", out, "--quiet"]) == EXIT_OK
    again = _mpiexec(["scan", spec_path, "--out", out], ROOT)
    assert again.returncode == EXIT_BAD_INPUT and again.stderr.count("already holds a scan") == 1, again.stderr
    unwritable = _mpiexec(["scan", spec_path, "--out", "/proc/replica-scan-out"], ROOT)
    assert unwritable.returncode == EXIT_BAD_INPUT
    assert _error_lines(unwritable.stderr) == [
        "replica scan: error: --out: cannot create the directory '/proc/replica-scan-out': No such file or directory"]
    bad = _mpiexec(["scan", _spec(tmp_path, disorder=0), "--out", str(tmp_path / "bad")], ROOT)
    assert bad.returncode == EXIT_BAD_INPUT and len(_error_lines(bad.stderr)) == 1, bad.stderr
    assert "grid.disorder" in bad.stderr and not (tmp_path / "bad").exists()
