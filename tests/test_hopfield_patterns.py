"""Hopfield priors in scans: a loading alpha = P / N, and x_t generated from a stored pattern.

References: the stored patterns themselves (x0 must be one of them, its index recorded), the rule
P = max(1, round(alpha N)), and exact enumeration at N <= 20 for the Monte Carlo rows of a scan
whose x_t comes from a pattern (z within 5 of the exact rows).
"""
import numpy as np
import pandas as pd
import pytest

import mc
from replica.scan import parse_spec
from replica.scan.compute import build_model, run_task
from replica.scan.spec import SpecError
from replica.scan.tasks import make_tasks

SPEC = """
[scan]
name = "hopfield"
seed = 3
[model]
name = "hopfield"
{size}
beta = 2.0
[process]
name = "VP"
[grid]
n_dim = [10, 20]
t = [0.3, 1.5]
disorder = 2
source = "{source}"
[sampler]
{sampler}
[observables]
names = ["q_self", "overlap_truth"]
"""


def text(size="loading = 0.1", source="pattern", sampler='method = "exact"'):
    return SPEC.format(size=size, source=source, sampler=sampler)


def test_pattern_source_plants_a_stored_pattern_and_records_its_index():
    prior = mc.IsingPrior.hopfield(n_dim=12, n_patterns=3, beta=1.0, seed=1)
    seen = set()
    for d in range(12):
        st = mc.draw_quenched(prior, mc.VP(), 0.5, seed=4, disorder=d, source="pattern")
        matches = np.flatnonzero((prior.patterns == st.x0).all(axis=1))
        assert matches.size >= 1 and st.point_index in matches
        assert st.source == "pattern" and not st.planted
        seen.add(st.point_index)
    assert seen == {0, 1, 2}  # drawn uniformly over the patterns
    with pytest.raises(ValueError, match="^source: 'pattern' needs a model with stored patterns"):
        mc.draw_quenched(mc.IsingPrior.curie_weiss(8, beta=0.5), mc.VP(), 0.5, seed=4, source="pattern")


def test_loading_sets_the_number_of_patterns_at_each_n():
    spec = parse_spec(text("loading = 0.15"))
    for n, expected in ((10, 2), (20, 3)):
        model = build_model(spec, n, 0)
        assert model.patterns.shape == (expected, n)
        assert model.params()["n_patterns"] == expected
    with pytest.raises(SpecError, match="^model.*give exactly one of n_patterns and loading"):
        parse_spec(text("loading = 0.1\nn_patterns = 2"))
    with pytest.raises(SpecError, match="^model.*give exactly one of n_patterns and loading"):
        parse_spec(text(""))
    with pytest.raises(SpecError, match=r"^model\.loading: must be > 0"):
        parse_spec(text("loading = -0.1"))


def test_pattern_source_needs_a_model_with_patterns():
    bad = text().replace('name = "hopfield"\nloading = 0.1', 'name = "curie_weiss"')
    with pytest.raises(SpecError, match=r"^grid\.source: 'pattern' sets x0 to a stored pattern.*\['hopfield'\]"):
        parse_spec(bad)


# at t = 0.3 the posterior sits on the pattern (1-2% of flips accepted): the rank-normalised R-hat of
# an energy series made mostly of ties reads 1.07-1.15 on two tasks whose tau_int is 1.8 and whose
# values agree with enumeration; the warning is expected there
@pytest.mark.filterwarnings("ignore::mc.diagnostics.MixingWarning")
def test_monte_carlo_from_a_pattern_agrees_with_enumeration():
    sampler = 'method = "heat_bath"\nn_replicas = 4\nn_sweeps = 4000\ntempering = "hamiltonian"\nn_temperatures = 8'
    spec = parse_spec(text("n_patterns = 2", sampler=sampler))
    frames = [run_task(spec, task)["results"] for task in make_tasks(spec)]
    df = pd.concat(frames, ignore_index=True)
    z = df[df["observable"].str.startswith("z_exact:")]
    assert len(z) == 8 * 4 and z["value"].abs().max() < 5, z[["n_dim", "t", "observable", "value"]]
    m = df[(df["observable"] == "overlap_truth") & (df["method"] == "exact") & (df["t"] == 0.3)]
    assert (m["value"] > 0.8).all()  # a strong field from a pattern retrieves it


def test_retrieval_is_located_per_n_with_the_ags_theory_beside(tmp_path):
    from replica import theory
    from replica.report.printing import located_transitions
    from replica.scan.runner import merge, run_scan

    spec = parse_spec(text().replace('names = ["q_self", "overlap_truth"]', 'names = ["pattern_overlap"]')
                      .replace("n_dim = [10, 20]", "n_dim = [10, 14]")
                      .replace("t = [0.3, 1.5]", "t = [0.1, 0.4, 1.0, 2.0, 3.0]").replace("disorder = 2",
                                                                                          "disorder = 4"))
    run_scan(spec, tmp_path / "out", progress=False)
    merge(tmp_path / "out")
    found = located_transitions(pd.read_parquet(tmp_path / "out" / "merged" / "results.parquet"), n_boot=200)
    rows = found[found["method"] == "pattern_overlap crosses 1/2"]
    assert sorted(rows["n_dim"]) == [10, 14]
    # the theory at the realised loading P / N (P = round(0.1 N): 1 pattern at N = 10 and at N = 14)
    expected = [theory.hopfield_retrieval_time(2.0, 1 / n) for n in rows["n_dim"]]
    assert np.allclose(rows["theory"], expected)
    assert (rows["t_estimate"] > 0.1).all() and (rows["t_estimate"] < 3.0).all()
