"""The command line: the README's first run and its exit codes."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import mc
from replica.cli import EXIT_BROKEN_PIPE, demo_table, main, mixture_speciation_time, time_at_s


def test_demo_prints_magnetisation_and_susceptibility_at_several_times(capsys):
    # in this process: `python -m replica` itself is run by the broken-pipe tests below
    assert main(["demo", "--n-dim", "50", "--times", "0.5", "2.0", "5.0"]) == 0
    out = capsys.readouterr().out
    for column in ["class_magnetisation", "susceptibility", "p_plus"]:
        assert column in out
    assert "t_S" in out


def test_demo_table_shows_speciation_between_small_and_large_t():
    """At t << t_S the posterior has picked a class (|class magnetisation| ~ 1, |p_plus - 1/2| ~ 1/2);
    at t >> t_S it has not (p_plus ~ 1/2) and the susceptibility is the prior variance 1 + 1."""
    table = demo_table(n_dim=200, times=(0.3, 12.0))
    early, late = table.iloc[0], table.iloc[1]
    assert abs(early.p_plus - 0.5) > 0.49 and abs(abs(early.class_magnetisation) - 1) < 0.2
    assert abs(late.p_plus - 0.5) < 0.01 and np.isclose(late.susceptibility, 2.0, atol=1e-3)


@pytest.mark.parametrize("process, t_s", [("VP", 0.5 * np.log(101.0)), ("VE", 100.0)])
def test_demo_speciation_time_is_the_one_of_the_chosen_process(process, t_s, capsys):
    """t_S is where s_t = D_t / a_t^2 reaches |mu|^2 = N (Lambda - 1): VP (1/2) log(N + 1), VE N."""
    assert main(["demo", "--process", process, "--n-dim", "100", "--times", "1.0"]) == 0
    printed = float(re.search(r"speciation time t_S = [^=]+= ([0-9.]+)", capsys.readouterr().out).group(1))
    assert printed == pytest.approx(t_s, rel=1e-4)
    assert mixture_speciation_time(mc.VP() if process == "VP" else mc.VE(), 100.0) == pytest.approx(t_s, rel=1e-12)


def test_demo_speciation_time_marks_the_same_posterior_under_vp_and_ve():
    """The posterior depends on t only through s_t, so at each process's own t_S the class weights
    are the same (same planted x0 and noise); well before t_S (VE: t_S / 10) the class is picked,
    well after (VE: 100 t_S) it is not."""
    n = 100
    t_vp, t_ve = mixture_speciation_time(mc.VP(), n), mixture_speciation_time(mc.VE(), n)
    for disorder in range(4):
        vp = demo_table(n_dim=n, times=(t_vp,), process="VP", disorder=disorder)
        ve = demo_table(n_dim=n, times=(t_ve / 10, t_ve, 100 * t_ve), process="VE", disorder=disorder)
        assert vp.s.iloc[0] == pytest.approx(n, rel=1e-10) and ve.s.iloc[1] == pytest.approx(n, rel=1e-10)
        assert ve.p_plus.iloc[1] == pytest.approx(vp.p_plus.iloc[0], rel=1e-8, abs=1e-12)
        assert abs(ve.p_plus.iloc[0] - 0.5) > 0.49 and abs(ve.p_plus.iloc[2] - 0.5) < 0.15
    assert time_at_s(mc.VE(sigma=2.0), 100.0) == pytest.approx(25.0, rel=1e-12)
    with pytest.raises(ValueError, match="^s:"):
        time_at_s(mc.VP(), -1.0)


@pytest.mark.parametrize("command", ["report", "dry-run"])
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path, command):
    """``replica report DIR | head`` and ``replica scan SPEC --dry-run | head``: the reader has
    closed the pipe before the command writes; no traceback, status 141 (128 + SIGPIPE)."""
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[scan]\nname = "p"\nseed = 1\n[model]\nname = "two_class_mixture"\nmu = 1.0\n[process]\nname = "VP"\n'
        "[grid]\nn_dim = [4]\nt = [0.5, 2.0]\ndisorder = 2\n[sampler]\nmethod = \"exact\"\n"
    )
    if command == "report":
        assert main(["scan", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 0
        args = ["report", str(tmp_path / "out"), "--no-plots"]
    else:
        args = ["scan", str(spec), "--out", str(tmp_path / "out"), "--dry-run"]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        out = subprocess.run([sys.executable, "-m", "replica", *args], stdout=write_end, stderr=subprocess.PIPE,
                             text=True, timeout=120)
    finally:
        os.close(write_end)
    assert out.returncode == EXIT_BROKEN_PIPE, out.stderr
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr


def test_bad_input_exits_2_with_the_field_named(capsys):
    assert main(["demo", "--times", "-1"]) == 2
    assert "t:" in capsys.readouterr().err
    assert main(["demo", "--n-dim", "0"]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:  # argparse's refusal: the command exits with this status
        main(["demo", "--process", "XX"])
    assert done.value.code == 2 and "--process" in capsys.readouterr().err


def readme_python_blocks():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", readme, flags=re.S)


def readme_script(pick, check, name, timeout):
    """A README Python block, chosen by ``pick(blocks)``, with ``check`` appended, as a script to
    run: an ``early_command`` (tests/conftest.py), started when the first test starts."""
    def make(directory):
        script = directory / name
        script.write_text(pick(readme_python_blocks()) + check)
        return dict(args=[sys.executable, str(script)], timeout=timeout)

    return make


def script_output(command):
    code, out, err = command.wait()
    assert code == 0, err
    return out.strip().splitlines()


def _first_block(blocks):
    assert blocks, "README.md has no python example"
    return blocks[0]


def _second_block(blocks):
    assert len(blocks) >= 2, "README.md has no Monte Carlo example"
    return blocks[1]


def _third_block(blocks):
    assert len(blocks) >= 3, "README.md has no thermodynamics example"
    return blocks[2]


def _franz_parisi_block(blocks):
    return next(b for b in blocks if "FranzParisi" in b)


# The README's commands run one after another in the order of their tests, this one first: the
# kernels it compiles (cached) are the ones that the next test files, run meanwhile, need soonest.
THERMODYNAMICS_CHECK = (
    "\nassert abs(ift.value - 1) <= 5 * ift.stderr and 0 < ift.stderr < 0.05"
    "\nassert abs(t_star - 1.1392) < 1e-3 and {'free_energy', 'score_divergence'} <= set(table.observable)"
    "\nprint('ok')\n"
)


@pytest.mark.early_command(make=readme_script(_third_block, THERMODYNAMICS_CHECK, "readme_thermo.py", 300))
def test_readme_thermodynamics_example_runs(early_command):
    """The README's third Python block (trajectories and thermodynamics), run as a script."""
    assert script_output(early_command)[-1] == "ok"


PYTHON_EXAMPLE_CHECK = (
    "\nassert abs(post.weights.sum() - 1) < 1e-12 and post.mean().shape == (100,)"
    "\nassert 0 < post.cov_trace() < 2 * 100 and np.isfinite(post.log_partition())\nprint('ok')\n"
)


@pytest.mark.early_command(make=readme_script(_first_block, PYTHON_EXAMPLE_CHECK, "readme_example.py", 120))
def test_readme_python_example_runs_and_gives_a_normalised_posterior(early_command):
    """The README's Python block, run as a script, with a check on what it computes appended."""
    assert script_output(early_command) == ["ok"]


MONTE_CARLO_CHECK = (
    "\nassert res.samples.shape == (4, 2000, 200) and res.exchange_rate.shape == (4, 7)"
    "\nassert 0 < q[2].value <= 1 and q[2].stderr > 0 and chi.value > 0 and p_q.prob.sum() <= 1 + 1e-12"
    "\nprint('ok')\n"
)


@pytest.mark.early_command(make=readme_script(_second_block, MONTE_CARLO_CHECK, "readme_mc.py", 300))
def test_readme_monte_carlo_example_runs(early_command):
    """The README's second Python block (Monte Carlo with replicas), run as a script."""
    assert script_output(early_command)[-1] == "ok"


FRANZ_PARISI_CHECK = (
    "\nassert bool(extrema.exists.all()) and 0.2 < t_d < 0.25"
    "\nassert fp.fragmented_ and fp.secondary_minimum_.q.value < -0.5"
    "\nassert umb.covered.all() and np.isfinite(umb.V).all()"
    "\nprint('ok')\n"
)


@pytest.mark.early_command(make=readme_script(_franz_parisi_block, FRANZ_PARISI_CHECK, "readme_fp.py", 300))
def test_readme_franz_parisi_example_runs(early_command):
    """The README's Franz-Parisi block, run as a script: Yu & Huang's t = 1 potential has its
    secondary minimum, the Hopfield posterior is fragmented, umbrella sampling covers the grid."""
    assert script_output(early_command)[-1] == "ok"


CLONES_CHECK = (
    "\nassert res.samples.shape == (8, 32, 16) and res.converged and res.step_bias_ratio <= 0.5"
    "\nd = ((res.samples.reshape(-1, 1, 16) - points[None]) ** 2).sum(-1).min(1)"
    "\nassert d.max() < 1e-12  # the exact empirical score's clones are training points"
    "\nprint('ok')\n"
)


@pytest.mark.early_command(make=readme_script(lambda blocks: next(b for b in blocks if "clone_replicas" in b),
                                              CLONES_CHECK, "readme_clones.py", 120))
def test_readme_clones_example_runs(early_command):
    """The README's block on clones of the generative process, run as a script."""
    assert script_output(early_command)[-1] == "ok"
