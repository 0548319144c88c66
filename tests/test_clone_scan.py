"""Clones of a score model in scans: ``sampler.method = "clones"`` with a ``[score]`` section.

The exact empirical score's clones sample the exact posterior of the task's training set: their
rows must agree with the exact rows beside them (``z_exact`` within 5). Other scores sample
another posterior: their rows stand beside the exact ones without a z-score, and observables whose
sampled estimator reads the exact posterior are left out. Specs are validated before any work,
with errors that name the key; results do not depend on the number of ranks.
"""
import os
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

from replica.scan import parse_spec
from replica.scan.compute import run_task
from replica.scan.spec import SpecError
from replica.scan.tasks import make_tasks

from conftest import ROOT, assert_same_tables, merged_tables, scan_env

SPEC = """
[scan]
name = "clones"
seed = 5

[model]
name = "dataset_gaussian"
n_points = 20
variance = 1.0
{model_extra}

[process]
name = "VP"

[grid]
n_dim = [8]
t = [0.1, 0.5, 1.5]
disorder = 2
source = "point"

[sampler]
method = "clones"
n_replicas = 8
draws = 16
{sampler_extra}

[score]
{score}
"""


def spec_text(score='name = "empirical"\nn_steps = 100', sampler_extra="", model_extra=""):
    return SPEC.format(score=score, sampler_extra=sampler_extra, model_extra=model_extra)


def _rows(spec):
    frames = [run_task(spec, task)["results"] for task in make_tasks(spec)]
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_empirical_clones_agree_with_the_exact_rows_beside_them():
    df = _rows(parse_spec(spec_text()))
    assert set(df["method"]) == {"clones", "exact"} and set(df["score"]) == {"empirical"}
    z = df[df["observable"].str.startswith("z_exact:")]
    assert len(z) == 6 * 6  # q_self, overlap_truth, participation_ratio, weight_entropy, q2, q4 per task
    assert z["value"].abs().max() < 5, z.sort_values("value")
    assert (df.loc[df["observable"] == "mixed", "value"] == 1).all()
    ratio = df.loc[df["observable"] == "clone_step_bias_ratio", "value"]
    assert (ratio <= 0.5).all()
    pr = df[(df["observable"] == "participation_ratio") & (df["method"] == "clones")]
    assert (pr["stderr"] > 0).any()  # clone error bars, not zeros
    assert "clone_score_share" not in set(df["observable"])  # no timings in the tables


def test_clones_of_another_score_stand_beside_the_exact_rows_without_a_z_score():
    df = _rows(parse_spec(spec_text('name = "smoothed"\nbandwidth = 0.5\nn_steps = 100')))
    assert not df["observable"].str.startswith("z_exact:").any()
    clones = df[df["method"] == "clones"]
    assert "weight_entropy" not in set(clones["observable"])  # its sampled estimator reads the exact posterior
    assert "weight_entropy" in set(df.loc[df["method"] == "exact", "observable"])
    assert {"participation_ratio", "q_self", "overlap_truth"} <= set(clones["observable"])


def test_task_results_do_not_depend_on_the_batch_size():
    a = _rows(parse_spec(spec_text('name = "empirical"\nn_steps = 100\nbatch_size = 7')))
    b = _rows(parse_spec(spec_text('name = "empirical"\nn_steps = 100')))
    np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), rtol=1e-10, atol=1e-12)
    # the batch size is not part of the scan's identity (the clones do not depend on it)
    assert (parse_spec(spec_text('name = "empirical"\nn_steps = 100\nbatch_size = 7')).hash
            == parse_spec(spec_text()).hash)
    assert parse_spec(spec_text('name = "empirical"\nn_steps = 120')).hash != parse_spec(spec_text()).hash


@pytest.mark.parametrize("text, match", [
    (SPEC.replace("[score]\n{score}", "").format(sampler_extra="", model_extra=""),
     r"^sampler\.method: 'clones' makes replicas .* add a \[score\] section"),
    (spec_text(sampler_extra="").replace('method = "clones"', 'method = "exact"'),
     r"^score: the \[score\] section is used by sampler\.method = 'clones', not 'exact'"),
    (spec_text().replace("draws = 16", "draws = 0"), r"^sampler\.draws: clones per replica"),
    (spec_text('name = "unet"'), r"^score\.name: expected one of \["),
    (spec_text('name = "smoothed"\nbandwidth = -1.0'), r"^score\.bandwidth: must be >= 0"),
    (spec_text('name = "smoothed"'), r"^score\.bandwidth: required for score 'smoothed'"),
    (spec_text('name = "empirical"\nwidth = 3'), r"^score\.width: unknown key"),
    (spec_text('name = "empirical"\nn_steps = 7'), r"^score\.n_steps: must be even"),
    (spec_text('name = "empirical"\nscheme = "rk4"'), r"^score\.scheme: "),
    (spec_text('name = "empirical"\nt_stop = 1.5'), r"^score\.t_stop: "),
    (spec_text('name = "network"\nweights = "nowhere.safetensors"'), r"^score\.weights: file .*nowhere"),
    (spec_text('name = "network"\nweights = "w_n{n_points}.safetensors"'),
     r"^score\.weights: \{n_points\} in the file name needs a model with a training-set size axis"),
    (spec_text(sampler_extra='tempering = "hamiltonian"'),
     r"^sampler\.tempering: only used with a Monte Carlo method, not 'clones'"),
])
def test_bad_clone_specs_are_refused_naming_the_key(text, match):
    with pytest.raises(SpecError, match=match):
        parse_spec(text)


def test_clones_need_a_model_with_real_states():
    text = """
[scan]
name = "s"
seed = 1
[model]
name = "curie_weiss"
beta = 0.5
[process]
name = "VP"
[grid]
n_dim = [8]
t = [0.5]
disorder = 1
[sampler]
method = "clones"
draws = 2
[score]
name = "empirical"
"""
    with pytest.raises(SpecError, match=r"^sampler\.method: 'clones' is not available for model 'curie_weiss'"):
        parse_spec(text)


def test_score_files_are_fingerprinted_into_the_hash(tmp_path):
    torch = pytest.importorskip("torch")
    from mc.scores.network import make_denoiser_mlp
    from mc.scores.torch_adapter import save_weights

    torch.manual_seed(0)
    save_weights(make_denoiser_mlp(8, hidden=8, depth=1), tmp_path / "w.safetensors")
    text = spec_text('name = "network"\nweights = "w.safetensors"\nhidden = 8\ndepth = 1\nn_steps = 20')
    spec = parse_spec(text, base_dir=str(tmp_path))
    fp = spec.score.data["score.weights"]
    assert len(fp) == 1 and len(next(iter(fp.values()))["sha256"]) == 64
    rows = run_task(spec, make_tasks(spec)[0])["results"]
    assert set(rows.loc[rows["method"] == "clones", "observable"]) >= {"participation_ratio", "mixed"}
    torch.manual_seed(1)
    save_weights(make_denoiser_mlp(8, hidden=8, depth=1), tmp_path / "w.safetensors")
    changed = parse_spec(text, base_dir=str(tmp_path)).hash
    assert changed != spec.hash
    # the directory is not part of the identity: a scan moves with its weights
    (tmp_path / "moved").mkdir()
    os.replace(tmp_path / "w.safetensors", tmp_path / "moved" / "w.safetensors")
    assert parse_spec(text, base_dir=str(tmp_path / "moved")).hash == changed


@pytest.mark.mpi
def test_clone_scans_are_identical_on_one_and_two_ranks(tmp_path, finished_scan):
    text = spec_text('name = "empirical"\nn_steps = 40')
    path = tmp_path / "clones.toml"
    path.write_text(text)
    one = finished_scan(text)
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    two = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", "scan", str(path), "--out",
                          str(tmp_path / "two"), "--quiet"], env=scan_env(), capture_output=True, text=True,
                         timeout=240, cwd=ROOT)
    assert two.returncode == 0, two.stderr
    assert_same_tables(merged_tables(one), merged_tables(tmp_path / "two"))
