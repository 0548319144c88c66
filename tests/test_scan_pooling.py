"""Pooling the disorder samples of several scans (``replica report DIR DIR ...``).

The pooled disorder averages are checked against the per-scan averages combined by the pooled
mean and variance formulas (a second route that never concatenates the tables), and pooling is
refused where the scans are not independent draws of one ensemble.
"""
import io
import math

import numpy as np
import pytest

from replica.report import report
from replica.report.reading import HISTOGRAM_READ, batches, histogram_densities
from replica.scan.directory import load_scan
from replica.scan.pooling import pool_scans
from replica.scan.runner import run_scan
from replica.scan.spec import parse_spec
from replica.summary import disorder_summary

SPEC = """
[scan]
name = "{name}"
seed = {seed}

[model]
name = "two_class_mixture"
mu = {mu}

[process]
name = "VP"

[grid]
n_dim = {n_dim}
t = [0.5, 1.5]
disorder = {disorder}

[sampler]
method = "exact"
n_replicas = 2
draws = 20

[observables]
names = ["class_magnetisation", "q_self", "overlap_histogram"]
bins = 9
"""


def make_scan(root, name, *, seed, disorder, n_dim="[8, 16]", mu=1.0):
    out = root / name
    text = SPEC.format(name=name, seed=seed, disorder=disorder, n_dim=n_dim, mu=mu)
    run_scan(parse_spec(text), str(out), progress=False)
    return out


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    return {
        "a": make_scan(root, "a", seed=1, disorder=3),
        "b": make_scan(root, "b", seed=2, disorder=4),
        "c": make_scan(root, "c", seed=1, disorder=2, n_dim="[32]"),  # seed of a, no N in common
        "same_seed": make_scan(root, "same_seed", seed=1, disorder=2, n_dim="[16]"),
        "other_mu": make_scan(root, "other_mu", seed=3, disorder=2, mu=1.5),
        "root": root,
    }


def _summary(directory):
    results = load_scan(str(directory), tables=("results",))["results"]
    return disorder_summary(results).set_index(["n_dim", "t", "observable", "method"])


def test_pooled_averages_equal_the_per_scan_averages_combined_by_the_pooled_formulas(scans):
    pooled = pool_scans([scans["a"], scans["b"]])
    assert pooled.offsets == [0, 3]
    table = pooled.load(("results",))["results"]
    got = disorder_summary(table).set_index(["n_dim", "t", "observable", "method"])
    a, b = _summary(scans["a"]), _summary(scans["b"])
    checked = 0
    for key in a.index:
        if a.loc[key, "stderr_kind"] != "disorder" or key not in b.index:
            continue
        na, nb = int(a.loc[key, "n_disorder"]), int(b.loc[key, "n_disorder"])
        ma, mb = a.loc[key, "value"], b.loc[key, "value"]
        va = a.loc[key, "stderr"] ** 2 * na  # sample variance (ddof = 1) of each scan
        vb = b.loc[key, "stderr"] ** 2 * nb
        n = na + nb
        mean = (na * ma + nb * mb) / n
        # the pooled sum of squares: within each scan, plus between the scan means
        ss = (na - 1) * va + (nb - 1) * vb + na * (ma - mean) ** 2 + nb * (mb - mean) ** 2
        assert int(got.loc[key, "n_disorder"]) == n == 7
        assert got.loc[key, "value"] == pytest.approx(mean, rel=1e-12, abs=1e-14)
        assert got.loc[key, "stderr"] == pytest.approx(math.sqrt(ss / (n - 1) / n), rel=1e-10, abs=1e-14)
        checked += 1
    assert checked >= 8
    # every row kept its scan and seed; the labels of b follow those of a
    assert set(table["scan"]) == {"a", "b"}
    assert sorted(table.loc[table["scan"] == "b", "disorder"].unique()) == [3, 4, 5, 6]
    assert set(table.loc[table["scan"] == "b", "seed"]) == {2}


def test_pooled_overlap_histograms_average_over_the_disorder_samples_of_every_scan(scans):
    pooled = pool_scans([scans["a"], scans["b"]])
    dens = histogram_densities(lambda: pooled.batches("histograms", HISTOGRAM_READ, batches))
    assert set(dens["n_disorder"]) == {7}
    # the same densities from the per-scan densities, weighted by their disorder counts
    per = []
    for d in (scans["a"], scans["b"]):
        h = load_scan(str(d), tables=("histograms",))["histograms"]
        per.append(histogram_densities(lambda h=h: [h[HISTOGRAM_READ]]))
    keys = ["observable", "n_dim", "t", "q"]
    m = per[0].merge(per[1], on=keys, suffixes=("_a", "_b")).merge(dens, on=keys)
    expected = (m["density_a"] * m["n_disorder_a"] + m["density_b"] * m["n_disorder_b"]) / 7
    np.testing.assert_allclose(m["density"], expected, rtol=1e-12, atol=1e-12)
    assert len(m) == len(dens) > 0


def test_scans_with_one_seed_and_no_common_size_pool(scans):
    pooled = pool_scans([scans["a"], scans["c"]])
    table = pooled.load(("results",))["results"]
    assert sorted(table["n_dim"].unique()) == [8, 16, 32]
    assert int(disorder_summary(table).query("n_dim == 32")["n_disorder"].max()) == 2


def test_the_same_seed_and_size_twice_is_refused_as_the_same_draws(scans):
    with pytest.raises(ValueError, match=r"scan\.seed: .*same seed 1 .*N = \[16\] in common"):
        pool_scans([scans["a"], scans["same_seed"]])


def test_specs_that_differ_beyond_seed_and_sizes_are_refused_naming_the_key(scans):
    with pytest.raises(ValueError, match=r"model\.params\.mu: .*differ \(1\.0 against 1\.5\)"):
        pool_scans([scans["a"], scans["other_mu"]])


def test_fixed_realisations_of_a_random_model_do_not_pool_across_seeds(tmp_path):
    fixed = """
[scan]
name = "{name}"
seed = {seed}
[model]
name = "dataset_gaussian"
n_points = 5
realisation = "fixed"
[process]
name = "VP"
[grid]
n_dim = [4]
t = [0.5]
disorder = 2
source = "point"
[sampler]
method = "exact"
"""
    dirs = []
    for name, seed in (("f1", 1), ("f2", 2)):
        run_scan(parse_spec(fixed.format(name=name, seed=seed)), str(tmp_path / name), progress=False)
        dirs.append(tmp_path / name)
    with pytest.raises(ValueError, match=r"model\.realisation: 'fixed'"):
        pool_scans(dirs)


def test_report_pools_directories_and_names_what_keeps_them_apart(scans):
    out = io.StringIO()
    code = report([str(scans["a"]), str(scans["b"])], plots=False, stream=out)
    text = out.getvalue()
    assert code == 0, text
    assert "scans pooled: 2" in text and "labels 3..6" in text
    assert "up to 7 disorder samples" in text
    out = io.StringIO()
    assert report([str(scans["a"]), str(scans["other_mu"])], plots=False, stream=out) == 2
    assert "model.params.mu" in out.getvalue()
    out = io.StringIO()
    assert report([str(scans["a"]), str(scans["root"] / "missing")], plots=False, stream=out) == 2
    assert "missing" in out.getvalue()
    # one directory: the report of that scan, as before
    out = io.StringIO()
    assert report(str(scans["a"]), plots=False, stream=out) == 0
    assert "scans pooled" not in out.getvalue() and "up to 3 disorder samples" in out.getvalue()


def test_a_directory_without_its_spec_is_refused(scans, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(scans["b"], copy)
    (copy / "spec.toml").unlink()
    with pytest.raises(ValueError, match="has no spec.toml"):
        pool_scans([scans["a"], copy])
    with pytest.raises(ValueError, match="named twice"):
        pool_scans([scans["a"], scans["a"]])


def test_the_command_takes_several_directories(scans):
    from replica.cli import main

    assert main(["report", str(scans["a"]), str(scans["b"]), "--no-plots"]) == 0
