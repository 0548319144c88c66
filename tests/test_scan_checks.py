"""A trapped Monte Carlo scan is flagged in its task results and by ``replica report``.

Two-class mixture posteriors (N = 32) sampled with MALA from prior draws and no tempering: the
replicas land in random classes and never cross. Tasks whose replicas split carry ``mixed = 0``;
``replica report`` lists them, lists the rows more than 5 standard errors from the exact rows of
the same task, and exits with status 4.
The same spec with the defaults (tempering where the prior has two modes, replicas started
apart) agrees everywhere and the report exits 0.
"""
import io
import os
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from replica.cli import EXIT_DISAGREEMENT, EXIT_OK, main
from replica.report import monte_carlo_checks, report

pytestmark = pytest.mark.slow

SPEC = """
[scan]
name = "trapped"
seed = 5

[model]
name = "two_class_mixture"
mu = 1.0
variance = 1.0

[process]
name = "VP"

[grid]
n_dim = [32]
t = [1.0, 1.75]
disorder = 3
source = "prior"

[sampler]
method = "mala"
n_replicas = 4
n_sweeps = 2000
burn_in = 500
thin = 4
{extra}
exact_reference = true

[observables]
names = ["class_magnetisation", "q_self"]
"""


def _scan(tmp_path, extra):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(extra=extra))
    out = tmp_path / "out"
    with mock.patch.dict(os.environ):
        assert main(["scan", str(spec), "--out", str(out), "--quiet"]) == EXIT_OK
    results = pd.read_parquet(out / "merged" / "results.parquet")
    text = io.StringIO()
    code = report(str(out), plots=False, stream=text)
    return results, code, text.getvalue()


def _per_task(results):
    keys = ["n_dim", "t", "disorder"]
    mixed = results[results.observable == "mixed"].set_index(keys)["value"]
    z = results[results.observable.str.startswith("z_exact:")].groupby(keys)["value"].apply(lambda v: v.abs().max())
    return pd.DataFrame({"mixed": mixed, "max_abs_z": z})


def test_trapped_scan_is_flagged_in_its_results_and_by_the_report(tmp_path):
    results, code, text = _scan(tmp_path, 'tempering = "none"\ninit = "prior"')
    tasks = _per_task(results)
    assert len(tasks) == 6
    # Replicas split between the classes: the sampler flags the task (mixed = 0). Replicas that all
    # started in one class cannot be told from a converged run by any diagnostic of the run
    # itself (they agree); the exact values beside them can, and the report says so. Both occur
    # here, and every wrong task is flagged one way or the other.
    assert (tasks.mixed == 0).any() and ((tasks.mixed == 1) & (tasks.max_abs_z > 5)).any(), tasks
    checks = monte_carlo_checks(results)
    keys = ["n_dim", "t", "disorder"]
    assert set(map(tuple, checks["not_mixed"][keys].values)) == set(tasks.index[tasks.mixed == 0])
    assert set(map(tuple, checks["disagree"][keys].values)) == set(tasks.index[tasks.max_abs_z > 5])
    assert code == EXIT_DISAGREEMENT
    assert "WARNING" in text and "did not mix" in text and "ERROR" in text and "z_exact" in text
    # diagnostics recorded for every task
    for name in ("rhat_energy", "rhat_projection", "rhat_overlap", "rhat_order", "rhat_max", "mixed"):
        assert (results.observable == name).sum() == 6, name


def test_the_same_scan_with_default_settings_agrees_with_the_exact_values(tmp_path):
    results, code, text = _scan(tmp_path, "")
    tasks = _per_task(results)
    assert (tasks.max_abs_z <= 5).all(), tasks
    assert code == EXIT_OK, text[-2000:]
    assert "no Monte Carlo row is more than 5 standard errors" in text
    z = results[results.observable.str.startswith("z_exact:")]
    assert np.isfinite(z.value).all() and len(z) == 6 * 3  # class magnetisation, q_self, q2 (no exact q4)
