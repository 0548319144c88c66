"""Shared nodes and shared files: a private Numba cache, result files that honour the umask, one
scan per output directory (a lock), stale temporary files of killed writers."""
import os
import re
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest

from mc import _fileio, run_control
from replica import table
from replica._environment import pin_threads, private_cache_dir, unsafe_directory_reason
from replica.cli import EXIT_BAD_INPUT, EXIT_OK, main
from replica.scan import parse_spec
from replica.scan.runner import LOCK_NAME, _ScanLock, merge, run_scan
from replica.scan.spec import SpecError

from conftest import ROOT, scan_env

UID = os.getuid()

TINY = """
[scan]
name = "tiny"
seed = 11

[model]
name = "two_class_mixture"
mu = 1.0

[process]
name = "VP"

[grid]
n_dim = [8]
t = [0.5, 2.0]
disorder = 2

[sampler]
method = "exact"
n_replicas = 2
draws = 10

[observables]
names = ["class_magnetisation", "q_self"]
"""


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


# ------------------------------------------------------------------------------ Numba cache
def test_missing_cache_dir_is_created_private_whatever_the_umask(tmp_path, umask):
    umask(0o000)
    path = tmp_path / "parent" / "numba-cache"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert private_cache_dir(str(path)) == str(path)
    assert _mode(path) == 0o700 and os.lstat(path).st_uid == UID


def test_existing_private_cache_dir_is_kept(tmp_path):
    path = tmp_path / "numba-cache"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)  # readable by others is fine: only writing into it is dangerous
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert private_cache_dir(str(path)) == str(path)
    assert _mode(path) == 0o755


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_cache_dir_writable_by_others_is_refused_with_a_warning(tmp_path, mode):
    path = tmp_path / "numba-cache"
    path.mkdir()
    os.chmod(path, mode)
    with pytest.warns(RuntimeWarning, match=re.escape(repr(str(path))) + r" \(writable by its group or by others"):
        used = private_cache_dir(str(path))
    assert used != str(path) and os.path.isdir(used)
    assert _mode(used) == 0o700 and os.lstat(used).st_uid == UID


def test_cache_dir_owned_by_another_user_is_refused(tmp_path):
    path = tmp_path / "numba-cache"
    path.mkdir(mode=0o700)
    other = UID + 1  # as if someone else had created it first (no chown needed)
    assert unsafe_directory_reason(str(path), uid=other).startswith(f"owned by uid {UID}")
    with pytest.warns(RuntimeWarning, match=re.escape(repr(str(path))) + r" \(owned by uid"):
        used = private_cache_dir(str(path), uid=other)
    assert used != str(path) and _mode(used) == 0o700


def test_cache_dir_that_is_a_symbolic_link_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "numba-cache"
    link.symlink_to(target)
    with pytest.warns(RuntimeWarning, match="symbolic link"):
        assert private_cache_dir(str(link)) != str(link)


def test_pin_threads_default_cache_is_private_and_an_open_one_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "NUMBA_CACHE_DIR" in pin_threads(env)
    expected = str(tmp_path / f"numba-cache-{UID}")
    assert env["NUMBA_CACHE_DIR"] == expected and _mode(expected) == 0o700
    # a user's own safe directory is left as given
    mine = tmp_path / "mine"
    env = {"NUMBA_CACHE_DIR": str(mine)}
    assert "NUMBA_CACHE_DIR" not in pin_threads(env) and env["NUMBA_CACHE_DIR"] == str(mine)
    # an attacker created the default name first, open to everyone
    os.chmod(expected, 0o777)
    env = {}
    with pytest.warns(RuntimeWarning, match=re.escape(expected)):
        pin_threads(env)
    assert env["NUMBA_CACHE_DIR"] != expected and _mode(env["NUMBA_CACHE_DIR"]) == 0o700


def _cache_block(script):
    """The job script's Numba-cache block: from the function definition to the export."""
    text = open(os.path.join(ROOT, "jobs", script), encoding="utf-8").read()
    start = text.index("private_numba_cache() {")
    end = text.index("export NUMBA_CACHE_DIR", start)
    return text[start:end] + "export NUMBA_CACHE_DIR\necho \"$NUMBA_CACHE_DIR\"\n"


@pytest.mark.parametrize("script", ["slurm_scan.sh", "mpirun_scan.sh"])
def test_job_scripts_create_a_private_cache_and_refuse_an_open_one(tmp_path, script):
    block = _cache_block(script)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["TMPDIR"] = str(tmp_path)

    def run():
        return subprocess.run(["bash", "-c", "set -uo pipefail\n" + block], env=env, capture_output=True, text=True,
                              timeout=30)

    default = tmp_path / f"numba-cache-{UID}"
    first = run()
    assert first.returncode == 0 and first.stdout.strip() == str(default) and not first.stderr, first.stderr
    assert _mode(default) == 0o700
    os.chmod(default, 0o777)
    second = run()
    assert second.returncode == 0, second.stderr
    assert f"refusing {default}" in second.stderr and "mode 777" in second.stderr
    used = second.stdout.strip()
    assert used != str(default) and used.startswith(str(default) + "-")
    assert not os.path.exists(used), "the replacement directory is removed when the script ends"


def test_job_scripts_no_longer_use_a_shared_predictable_cache_path():
    for script in ("slurm_scan.sh", "mpirun_scan.sh"):
        text = open(os.path.join(ROOT, "jobs", script), encoding="utf-8").read()
        assert "mkdir -m 700" in text and "stat -c" in text
        assert "export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-" not in text


# ------------------------------------------------------------------------------ file modes
@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_written_atomically_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert _fileio.current_umask() == mask
    table.write_atomic(str(tmp_path / "a.json"), lambda fh: fh.write(b"{}"))
    table.write_table(pd.DataFrame({"x": [1.0]}), str(tmp_path / "b.csv"))
    run_control.save_checkpoint(str(tmp_path / "c.npz"), {"x": np.zeros(2)})
    for name in ("a.json", "b.csv", "c.npz"):
        assert _mode(tmp_path / name) == mode, name


def test_umask_without_proc_falls_back_to_the_value_read_at_import(monkeypatch, umask):
    umask(0o027)
    assert _fileio.current_umask() == 0o027  # read from /proc/self/status, without changing it
    monkeypatch.setattr(_fileio, "_HAS_PROC_UMASK", False)
    monkeypatch.setattr(_fileio, "_IMPORT_UMASK", 0o007)
    assert _fileio.current_umask() == 0o007
    assert os.umask(0o027) == 0o027  # neither read changed the process umask


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_scan_outputs_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    out = tmp_path / "scan"
    spec = parse_spec(TINY)

    def compute(spec, task):
        if task.disorder == 1:
            raise RuntimeError("injected")
        from replica.scan.compute import run_task

        return run_task(spec, task)

    summary = run_scan(spec, out, progress=False, compute=compute)
    assert summary.failed
    files = [out / "scan.json", out / "spec.toml", *sorted((out / "tasks").iterdir())]
    kinds = {f.name.split(".", 1)[1] for f in files}
    assert {"json", "toml", "meta.json", "error.json"} <= kinds and any(k.startswith("results.") for k in kinds)
    for f in files:
        assert _mode(f) == mode, f.name
    merged = merge(out)
    for p in merged["paths"]:
        assert _mode(p) == mode, p


# ------------------------------------------------------------------------------ scan lock
class _Holder:
    """Another process that holds the scan lock of ``out`` (``_ScanLock.take``) until released.

    It is a fork of this one: a new interpreter would spend seconds importing the package for a
    lock that a child takes in microseconds. A POSIX lock belongs to one process, and a forked
    child inherits none of its parent's, so the lock is held against this process exactly as a
    separate command would hold it. The child only takes the lock, reports, waits and exits.
    """

    def __init__(self, out):
        ready_r, ready_w = os.pipe()
        release_r, release_w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a process that has threads
            pid = os.fork()
        if pid == 0:  # the holder
            status = 1
            try:
                os.close(ready_r)
                os.close(release_w)
                lock = _ScanLock.take(str(out))
                os.write(ready_w, b"locked\n")
                os.read(release_r, 1)  # returns when the parent releases (or is gone)
                lock.release()
                status = 0
            finally:
                os._exit(status)
        os.close(ready_w)
        os.close(release_r)
        self.pid, self._release = pid, release_w
        with os.fdopen(ready_r) as fh:
            ready = fh.readline().strip()
        if ready != "locked":
            self.release()
            pytest.fail(f"the holder did not take the lock of {str(out)!r}")

    def release(self):
        """Let the holder release the lock and exit; its exit status must be 0."""
        if self._release is None:
            return
        os.close(self._release)
        self._release = None
        _, status = os.waitpid(self.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status


_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    print("held")
else:
    print("free")
"""


def _hold_lock(out):
    return _Holder(out)


def _probe(out):
    ran = subprocess.run([sys.executable, "-c", _PROBE, str(out / LOCK_NAME)], capture_output=True, text=True,
                         timeout=60)
    return ran.stdout.strip()


def _write_spec(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return str(path)


def test_second_scan_on_a_locked_directory_exits_2_naming_it_and_the_holder(tmp_path, capsys, finished_scan):
    spec_path, out = _write_spec(tmp_path), finished_scan(TINY, copy_to=tmp_path / "out")
    before = {p.name: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()}
    holder = _hold_lock(out)
    try:
        capsys.readouterr()
        assert main(["scan", spec_path, "--out", str(out), "--resume", "--quiet"]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert f"out: {str(out)!r} is in use by another scan" in err
        assert f"host {socket.gethostname()}, pid {holder.pid}" in err
        # a fresh scan on the same directory is refused the same way, and nothing was touched
        assert main(["scan", spec_path, "--out", str(out), "--quiet"]) == EXIT_BAD_INPUT
        assert {p.name: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()} == before
    finally:
        holder.release()
    assert main(["scan", spec_path, "--out", str(out), "--resume", "--quiet"]) == EXIT_OK
    assert _probe(out) == "free"


def test_the_lock_is_held_for_the_whole_run_and_released_after_it(tmp_path):
    spec = parse_spec(TINY)
    out = tmp_path / "out"
    seen = []

    def compute(spec_, task):
        from replica.scan.compute import run_task

        seen.append(_probe(out))  # another process cannot take the lock while tasks run
        with pytest.raises(SpecError, match="in use by another scan in this process"):
            run_scan(spec_, out, resume=True, progress=False)  # nor can this process
        return run_task(spec_, task)

    summary = run_scan(spec, out, progress=False, compute=compute)
    assert summary.done == 4 and seen == ["held"] * 4
    assert _probe(out) == "free"
    assert run_scan(spec, out, resume=True, progress=False).skipped == 4  # released in this process too


def test_lock_is_released_when_the_run_raises(tmp_path, monkeypatch):
    from replica.scan import runner

    spec = parse_spec(TINY)
    out = tmp_path / "out"

    def broken(spec_, task):
        raise RuntimeError("broken cost model")

    monkeypatch.setattr(runner, "task_cost", broken)
    with pytest.raises(RuntimeError, match="broken cost model"):
        run_scan(spec, out, progress=False)
    monkeypatch.undo()
    with pytest.raises(SpecError, match="already holds a scan"):
        run_scan(spec, out, progress=False)  # refused by the directory check, not by a leaked lock
    assert _probe(out) == "free"


def test_under_mpi_every_rank_refuses_a_locked_directory(tmp_path):
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    if not os.path.exists(mpiexec):
        pytest.skip("no mpiexec next to the interpreter")
    spec_path, out = _write_spec(tmp_path), tmp_path / "out"
    holder = _hold_lock(out)
    try:
        ran = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", "scan", spec_path, "--out",
                              str(out), "--resume", "--quiet"], env=scan_env(), capture_output=True, text=True,
                             timeout=240)
    finally:
        holder.release()
    assert ran.returncode == EXIT_BAD_INPUT, ran.stderr
    assert f"out: {str(out)!r} is in use by another scan (host" in ran.stderr, ran.stderr
    assert not (out / "scan.json").exists() and not (out / "tasks").exists()  # no rank computed anything


# ------------------------------------------------------------------------------ stale temporaries
def _leave_temporaries(out):
    tasks = out / "tasks"
    stale = [tasks / ".N8_t000_d0000.results.parquet.k2x9_q1z.tmp", tasks / ".N8_t000_d0000.meta.json.abcd1234.tmp",
             out / ".scan.json.zz99yy88.tmp"]
    kept = [tasks / "notes.tmp", tasks / ".hidden", tasks / "keep.json.tmp.bak"]
    for p in stale + kept:
        p.write_bytes(b"partial")
    return stale, kept


def test_resume_removes_stale_temporaries_of_a_killed_run(tmp_path, finished_scan):
    spec_path, out = _write_spec(tmp_path), finished_scan(TINY, copy_to=tmp_path / "out")
    stale, kept = _leave_temporaries(out)
    assert sorted(table.temporary_files(out / "tasks")) == sorted(str(p) for p in stale[:2])
    assert main(["scan", spec_path, "--out", str(out), "--resume", "--quiet"]) == EXIT_OK
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


def test_merge_removes_stale_temporaries_only_when_no_scan_holds_the_lock(tmp_path, finished_scan):
    spec_path, out = _write_spec(tmp_path), finished_scan(TINY, copy_to=tmp_path / "out")
    stale, kept = _leave_temporaries(out)
    holder = _hold_lock(out)
    try:
        assert merge(out)["tasks"] == 4  # merging a running scan is allowed ...
        assert all(p.exists() for p in stale)  # ... but its writer's temporaries are left alone
        assert main(["scan", spec_path, "--out", str(out), "--resume", "--quiet"]) == EXIT_BAD_INPUT
        assert all(p.exists() for p in stale)
    finally:
        holder.release()
    assert main(["merge", str(out)]) == EXIT_OK
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
