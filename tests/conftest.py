import json
import os
import shutil

import numpy as np
import pytest

from replica._environment import pin_threads  # light: imports neither Numba nor the package's numerics


def _share_the_numba_cache():
    """One cache of compiled Numba kernels for this process and every command the tests start.

    ``replica scan`` (run as a command, or in this process: it sets ``os.environ``) puts its cache
    in the private directory ``numba-cache-<uid>`` under the temporary directory, while this
    process, with ``NUMBA_CACHE_DIR`` unset when Numba was imported, caches in ``__pycache__``.
    In a fresh clone every kernel that the tests use both here and in a command they start (the
    README's examples, a killed sampler, MPI ranks) was compiled twice. Set here, before Numba is
    imported, to the directory ``replica scan`` picks (``pin_threads``: created private, or
    replaced with a warning when unsafe); a ``NUMBA_CACHE_DIR`` of the user's own is kept.
    """
    if not os.environ.get("NUMBA_CACHE_DIR"):
        defaults = {}
        pin_threads(defaults)
        os.environ["NUMBA_CACHE_DIR"] = defaults["NUMBA_CACHE_DIR"]


_share_the_numba_cache()


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def within_standard_errors(estimate, target, stderr, n_se=5.0):
    """True where |estimate - target| <= n_se * stderr (elementwise)."""
    return np.abs(np.asarray(estimate) - np.asarray(target)) <= n_se * np.asarray(stderr)


# ----------------------------------------------------------------------------- scans
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A small exact scan of a data set (one N, three times): ``dataset_spec(disorder)`` tasks run in
#: milliseconds, so a scan of many of them is interrupted mid-way reliably.
DATASET_SPEC = """
[scan]
name = "ds"
seed = 3
{output}
[model]
name = "dataset_gaussian"
n_points = 40

[process]
name = "VP"

[grid]
n_dim = [6]
t = [0.05, 0.5, 2.0]
disorder = {disorder}
source = "point"

[sampler]
method = "exact"
"""


def dataset_spec(disorder, output=None):
    """The text of :data:`DATASET_SPEC` with ``disorder`` samples (3 tasks each) and, when given,
    ``scan.output``."""
    line = "" if output is None else f"output = {json.dumps(output)}"
    return DATASET_SPEC.format(disorder=disorder, output=line)


def scan_env():
    """The environment of a scan run as a command: one thread, this clone first on the path."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


#: A spec that reads data files (``model.path``, ``labels``, ``heldout``) runs on the shipped files
#: when they have been made (``jobs/make_digits.py``, optional extra), else on stand-ins of the
#: same kind written beside the copied spec: pixel-like integers 0..16 in N = 64 (as many rows as
#: the largest training-set size, else this many) and labels 0..9.
STAND_IN_ROWS, STAND_IN_DIM, STAND_IN_CLASSES = 200, 64, 10


def stage_shipped_spec(path, work):
    """Copy a spec that reads data files into ``work`` with its files (the shipped ones, or
    stand-ins when they are not there); returns the spec path to run (``path`` itself for other
    specs)."""
    import sys
    from pathlib import Path

    from mc.models.registry import models

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        import tomli as tomllib
    work = Path(work)
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    model = raw.get("model", {})
    entry = models().get(model.get("name"))
    files = [k for k in getattr(entry, "files", ()) if k in model]
    if not files:
        return path
    sizes = model.get("n_points", STAND_IN_ROWS)
    rows = max(sizes) if isinstance(sizes, list) else sizes  # enough rows for every training-set size
    rng = np.random.default_rng(0)
    for key in files:
        source, target = os.path.join(os.path.dirname(path), model[key]), work / model[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.exists(source):
            target.write_bytes(open(source, "rb").read())
        elif key == "labels":
            np.save(target, np.arange(rows) % STAND_IN_CLASSES)
        else:
            np.save(target, rng.integers(0, 17, size=(rows, STAND_IN_DIM)).astype(float))
    _stage_score_files(raw, path, work)
    copy = work / os.path.basename(path)
    copy.write_bytes(open(path, "rb").read())
    return copy


def _stage_score_files(raw, path, work):
    """The ``[score]`` files of a staged spec: the shipped ones, or for the package's ``network``
    score an untrained network of the spec's shape (the weights the scan reads, not what they
    learned: a clean clone has no trained network)."""
    from mc.scores.registry import N_POINTS_FIELD, expand_file, scores

    score = raw.get("score")
    if not score:
        return
    entry = scores().get(score.get("name"))
    sizes = raw["model"].get("n_points", [None])
    sizes = sizes if isinstance(sizes, list) else [sizes]
    for key in getattr(entry, "files", ()):
        if key not in score:
            continue
        for n in sizes if N_POINTS_FIELD in score[key] else [None]:
            name = expand_file(score[key], n) if n is not None else score[key]
            source, target = os.path.join(os.path.dirname(path), name), work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if os.path.exists(source):
                target.write_bytes(open(source, "rb").read())
            elif entry.name == "network":
                pytest.importorskip("torch")
                from mc.scores.network import make_denoiser_mlp
                from mc.scores.torch_adapter import save_weights

                save_weights(make_denoiser_mlp(STAND_IN_DIM, hidden=score.get("hidden", 256),
                                               depth=score.get("depth", 3)), target)


def merged_tables(out):
    """The merged tables of a scan directory that exist, by name (``results``, ``histograms``)."""
    import pandas as pd

    return {k: pd.read_parquet(os.path.join(out, "merged", f"{k}.parquet")) for k in ("results", "histograms")
            if os.path.exists(os.path.join(out, "merged", f"{k}.parquet"))}


def assert_same_tables(a, b):
    """The same tables, bit for bit."""
    import pandas as pd

    assert a.keys() == b.keys()
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], check_exact=True)


@pytest.fixture(scope="session")
def finished_scan(tmp_path_factory):
    """A finished scan of a spec, run and merged once per test session.

    ``finished_scan(text)`` runs the spec ``text`` (TOML) serially (``run_scan``, then ``merge``)
    the first time it is asked for and returns its output directory; later calls with the same
    text return the same directory. It is a reference to read (merged tables, task files), shared
    by every test that asks: never write into it. ``finished_scan(text, copy_to=path)`` copies it
    to ``path`` (which must not exist) for a test that changes it (corrupts files, resumes, takes
    its lock) and returns ``path``.
    """
    done = {}

    def get(text, copy_to=None):
        if text not in done:
            from replica.scan import parse_spec
            from replica.scan.runner import merge, run_scan

            out = tmp_path_factory.mktemp("finished-scan") / "out"
            summary = run_scan(parse_spec(text), out, progress=False)
            assert summary.exit_code == 0 and not summary.failed, summary
            info = merge(out)
            assert info["missing"] == 0 and info["failed"] == 0, info
            done[text] = out
        if copy_to is None:
            return done[text]
        shutil.copytree(done[text], copy_to)
        return copy_to

    return get


# ----------------------------------------------------------------------------- commands started early
# A test that checks what a command does, and nothing else, can have the command started when the
# first test starts: ``@pytest.mark.early_command(make=make)``, where ``make(directory)`` returns the
# keyword arguments of ``subprocess.Popen`` (``args`` and optionally ``cwd``, ``env``; ``timeout``,
# default :data:`EARLY_COMMAND_TIMEOUT`) and may write files into ``directory``, a fresh directory
# of its own; an exception it raises fails the test. The suite runs its tests one at a time, on
# one core of the two it has; these commands run one after another on the other, beside the
# tests, and the tests that check them run last (``early_command`` gives the test its command:
# ``wait()`` returns its exit status, standard output and standard error). The command is the
# same and is checked the same way; only when it runs changes.

#: Seconds a command started early may run, unless it says otherwise, before it is killed (the test
#: then fails).
EARLY_COMMAND_TIMEOUT = 600


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "early_command(make): the test checks the command make(directory) describes; it is started "
                   "when the first test starts, and the test runs last (tests/conftest.py)")


def pytest_collection_modifyitems(config, items):
    early = [item for item in items if item.get_closest_marker("early_command") is not None]
    if early:
        items[:] = [item for item in items if item.get_closest_marker("early_command") is None] + early


class _EarlyCommand:
    """One command started early: started by :func:`_run_early_commands`, waited for by its test."""

    def __init__(self, make, directory):
        import threading

        self.make, self.directory = make, directory
        self.done = threading.Event()
        self.cancelled = False
        self.result = None  # (exit status, stdout, stderr), or an exception raised while starting it

    def run(self):
        import subprocess

        try:
            if self.cancelled:
                raise RuntimeError("cancelled: the test run ended before this command was started")
            popen = dict(self.make(self.directory))
            timeout = popen.pop("timeout", EARLY_COMMAND_TIMEOUT)
            with open(self.directory / "stdout.txt", "w+", encoding="utf-8") as out, \
                    open(self.directory / "stderr.txt", "w+", encoding="utf-8") as err:
                self.proc = subprocess.Popen(stdout=out, stderr=err, text=True, **popen)
                try:
                    code = self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise
                out.seek(0)
                err.seek(0)
                self.result = (code, out.read(), err.read())
        except BaseException as exc:  # the test reports it
            self.result = exc
        finally:
            self.done.set()

    def wait(self):
        """``(exit status, stdout, stderr)`` of the command, once it has ended."""
        assert self.done.wait(timeout=len(_EARLY) * EARLY_COMMAND_TIMEOUT + 60), "the command never ended"
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def cancel(self):
        self.cancelled = True
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()


_EARLY = {}


def _run_early_commands(commands):
    for command in commands:
        command.run()


@pytest.fixture(scope="session", autouse=True)
def _early_commands(request, tmp_path_factory):
    """Start the commands of the ``early_command`` tests that are to run, one after another."""
    import threading

    for item in request.session.items:
        marker = item.get_closest_marker("early_command")
        if marker is not None:
            _EARLY[item.nodeid] = _EarlyCommand(marker.kwargs["make"], tmp_path_factory.mktemp("early-command"))
    runner = None
    if _EARLY:
        runner = threading.Thread(target=_run_early_commands, args=(list(_EARLY.values()),), daemon=True)
        runner.start()
    yield
    for command in _EARLY.values():
        command.cancel()
    if runner is not None:
        runner.join(timeout=60)
    for command in _EARLY.values():  # one started while the others were cancelled
        command.cancel()


@pytest.fixture
def early_command(request):
    """The command of this ``early_command`` test (see above)."""
    return _EARLY[request.node.nodeid]


# ----------------------------------------------------------------------------- the README's main job
def readme_main_job_args(readme):
    """The README's main job command, its arguments after ``replica`` without ``--out DIR``;
    ``None`` when the README shows no such command."""
    lines = [ln.strip() for ln in readme.splitlines() if ln.strip().startswith("replica scan jobs/demo.toml")]
    if not lines:
        return None
    args = lines[0].split()[1:]
    if "--out" in args:
        i = args.index("--out")
        del args[i:i + 2]
    return args
