"""Transition detection (replica.transitions) against theory (replica.theory) and constructions
with a known answer.

* collapse of e^{alpha N} Gaussian points (planted): the N -> infinity extrapolation of the
  crossings of Y = 1/2 agrees with t_C = (1/2) log(1 + 1/(e^{2 alpha} - 1)), while the smallest N
  alone does not (the finite-size shift is real and the extrapolation removes it);
* speciation of the two-class mixture: the crossing of phi = 3/4 per N agrees with the
  one-dimensional integral of replica.theory.cloning_probability, and sits at
  (1/2) log Lambda + O(1) with the same offset for every N;
* unplanted data sets (REM): Y stays random (its disorder variance does not shrink with N) below
  t_C, and E[Y] extrapolates to the Poisson-Dirichlet value 1 - m;
* fragmentation: the Franz-Parisi secondary minimum of Yu & Huang's potential disappears where
  root finding on its derivatives says;
* the locators themselves on curves with a known crossing, and the extrapolation's errors.
"""

import numpy as np
import pandas as pd
import pytest

import mc
import replica
from replica import theory
from replica.transitions import extrapolate, locate, y_statistics


def _rows(model, n_dim, times, values, disorder, observable, **params):
    return [dict(model=model, process="VP", n_dim=n_dim, t=float(t), disorder=disorder, observable=observable,
                 value=float(v), stderr=0.0, method="exact", **params) for t, v in zip(times, values)]


def dataset_y_table(alpha, sizes, times, n_disorder, source, seed):
    """Exact participation ratios Y(t) of Dataset.from_alpha posteriors, one coupled x_t per
    disorder sample (same point and noise at every t), as a long result table."""
    rows = []
    for n_dim in sizes:
        for d in range(n_disorder):
            model = mc.Dataset.from_alpha(alpha, n_dim, seed=1_000_000 * seed + 10_000 * n_dim + d)
            state = mc.draw_quenched(model, mc.VP(), times, seed=seed, disorder=d, key=(n_dim,), source=source)
            ys = [replica.participation_ratio(mc.Posterior(model, mc.VP(), state.x_t[k], t)).value
                  for k, t in enumerate(times)]
            rows += _rows("dataset_alpha", n_dim, times, ys, d, "participation_ratio", alpha=alpha)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- collapse
COLLAPSE_CASES = {  # alpha: sizes with n = e^{alpha N} from about 20 to 8,000 points
    0.1: (30, 40, 50, 60, 70, 80),
    0.2: (15, 20, 25, 30, 35, 40),
    0.3: (10, 14, 18, 22, 26, 30),
}


@pytest.mark.slow
@pytest.mark.parametrize("alpha", sorted(COLLAPSE_CASES))
def test_collapse_extrapolates_to_the_theory_collapse_time(alpha):
    """Planted x_t (from a training point), 500 disorder samples per N, t on a grid of spacing
    0.04 around the prediction. Agreement: |t_inf - t_C| < 4 stderr + the finite-size allowance
    of ``extrapolate`` (other form, smallest N dropped). Negative control: the smallest N alone
    misses t_C by more than 4 of its standard errors."""
    t_c = float(theory.collapse_time(alpha))
    times = np.round(t_c + np.arange(-0.12, 0.281, 0.04), 6)
    table = dataset_y_table(alpha, COLLAPSE_CASES[alpha], times, 500, "point", seed=11)
    found = locate(table, "collapse", criteria=["level", "extrapolation"], n_boot=400, seed=1)
    per_n = found[np.isfinite(found["n_dim"])]
    assert sorted(per_n["n_dim"]) == list(COLLAPSE_CASES[alpha])
    assert (per_n["stderr_method"] == "bootstrap over disorder samples").all()
    limit = found[np.isinf(found["n_dim"])].iloc[0]
    assert "t_inf + b/N" in limit["method"]
    assert 0 < limit["stderr"] < 0.03 and np.isfinite(limit["systematic"])
    assert abs(limit["t_estimate"] - t_c) < 4 * limit["stderr"] + limit["systematic"], (limit.to_dict(), t_c)
    smallest = per_n.sort_values("n_dim").iloc[0]
    assert smallest["t_estimate"] - t_c > 4 * smallest["stderr"], (smallest.to_dict(), t_c)


# ----------------------------------------------------------------------------- speciation
SPECIATION_SIZES = (4, 16, 64, 256)


def mixture_table(sizes, n_disorder, seed):
    """Exact cloning probabilities phi = sum_c P(c | x_t)^2 of the two-class mixture (mu = 1 per
    coordinate, |mu|^2 = N, variance 1), planted x_t, on t = (1/2) log Lambda + offsets."""
    offsets = np.linspace(-0.75, 1.5, 10)
    rows = []
    for n_dim in sizes:
        model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=n_dim)
        times = theory.speciation_time(n_dim + 1.0) + offsets
        for d in range(n_disorder):
            state = mc.draw_quenched(model, mc.VP(), times, seed=seed, disorder=d, key=(n_dim,))
            phi = [replica.cloning_probability(mc.Posterior(model, mc.VP(), state.x_t[k], t)).value
                   for k, t in enumerate(times)]
            rows += _rows("two_class_mixture", n_dim, times, phi, d, "cloning_probability")
    return pd.DataFrame(rows)


def test_speciation_crossing_agrees_with_the_cloning_probability_integral():
    """phi(t) crosses 3/4 where the one-dimensional integral says, for every N (4 SE), and that
    time minus (1/2) log Lambda tends to one constant: phi depends on N only through
    N e^{-2t} = e^{-2 (t - (1/2) log N)} (sigma^2 = 1)."""
    from scipy.optimize import brentq

    table = mixture_table(SPECIATION_SIZES, 400, seed=5)
    found = locate(table, "speciation", criteria=["level"], n_boot=400, seed=2)
    assert list(found["method"].unique()) == ["cloning_probability crosses 3/4"]
    offsets = []
    for n_dim in SPECIATION_SIZES:
        row = found[found["n_dim"] == n_dim].iloc[0]
        t_s = float(theory.speciation_time(n_dim + 1.0))
        t_theory = brentq(lambda t: float(theory.cloning_probability(t, n_dim)) - 0.75, 1e-6, t_s + 3)
        assert 0 < row["stderr"] < 0.1
        assert abs(row["t_estimate"] - t_theory) < 4 * row["stderr"], (n_dim, row.to_dict(), t_theory)
        offsets.append(t_theory - t_s)
    # (1/2) log Lambda = (1/2) log(N + 1): the offset converges like (1/2) log(1 + 1/N)
    limit = offsets[-1] + 0.5 * np.log1p(1.0 / SPECIATION_SIZES[-1])
    for n_dim, off in zip(SPECIATION_SIZES, offsets):
        assert off == pytest.approx(limit - 0.5 * np.log1p(1.0 / n_dim), abs=1e-6)
    assert abs(limit) < 0.5  # the criteria differ by O(1) in e^{2t}, here by less than 1/2 in t


def test_speciation_negative_control_wrong_variance_is_rejected():
    """At N = 4 (where the class variance matters against s) the located crossing agrees with the
    integral for the right variance and not for variance 3."""
    from scipy.optimize import brentq

    table = mixture_table((4,), 400, seed=5)
    row = locate(table, "speciation", criteria=["level"], n_boot=400, seed=2).iloc[0]
    right = brentq(lambda t: float(theory.cloning_probability(t, 4)) - 0.75, 1e-6, 4.0)
    wrong = brentq(lambda t: float(theory.cloning_probability(t, 4, variance=3.0)) - 0.75, 1e-6, 4.0)
    assert abs(row["t_estimate"] - right) < 4 * row["stderr"]
    assert abs(row["t_estimate"] - wrong) > 4 * row["stderr"]


# ----------------------------------------------------------------------------- REM / fragmentation
REM_ALPHA = 0.3
REM_SIZES = (12, 18, 24, 30)
REM_TIMES = np.array([0.15, 0.25, 0.7])


@pytest.fixture(scope="module")
def rem_table():
    """Unplanted x_t (from the Gaussian population law, not a training point)."""
    return dataset_y_table(REM_ALPHA, REM_SIZES, REM_TIMES, 400, "population", seed=23)


@pytest.mark.slow
def test_unplanted_y_is_not_self_averaging_below_the_condensation(rem_table):
    """Below t_C (= the REM condensation time, replica.theory) the disorder variance of Y does
    not shrink from N = 12 to 30 (ratio within 4 SE of 1 or above); above it (t = 0.7) it does
    (negative control). Ratio errors by the delta method from ``y_statistics``."""
    assert theory.rem_condensation_time(REM_ALPHA) == pytest.approx(theory.collapse_time(REM_ALPHA), rel=1e-10)
    stats = y_statistics(rem_table).set_index(["n_dim", "t"])
    for t in REM_TIMES:
        lo, hi = stats.loc[(REM_SIZES[0], t)], stats.loc[(REM_SIZES[-1], t)]
        ratio = hi["var"] / lo["var"]
        err = ratio * np.hypot(hi["var_err"] / hi["var"], lo["var_err"] / lo["var"])
        if t < theory.collapse_time(REM_ALPHA):
            assert ratio > 1 - 4 * err, (t, ratio, err)
        else:
            assert ratio < 1 - 4 * err, (t, ratio, err)


@pytest.mark.slow
def test_unplanted_mean_y_extrapolates_to_poisson_dirichlet(rem_table):
    """E[Y]_N -> 1 - m with m = rem_parisi_m(t, alpha): extrapolated in log(N)/N (the REM's
    correction), within 4 SE plus the stated finite-size allowance; the finite-N values
    themselves are far off (more than 4 SE at N = 30: the extrapolation carries the test)."""
    stats = y_statistics(rem_table)
    for t in REM_TIMES[REM_TIMES < theory.collapse_time(REM_ALPHA)]:
        part = stats[np.isclose(stats["t"], t)].sort_values("n_dim")
        fit = extrapolate(part["n_dim"], part["mean"], part["mean_err"], form="log(N)/N")
        expected, variance = theory.poisson_dirichlet_y(theory.rem_parisi_m(t, REM_ALPHA))
        assert abs(fit["t_inf"] - expected) < 4 * fit["stderr"] + fit["systematic"], (t, fit, expected)
        last = part.iloc[-1]
        assert last["mean"] - expected > 4 * last["mean_err"]
        assert abs(last["var"] - variance) < 0.25 * variance  # Var Y -> m (1 - m) / 3, slowly


def test_rem_criterion_locates_the_end_of_self_averaging():
    """Synthetic disorder samples whose variance is constant below t* = 0.5 and shrinks like
    e^{-N (t - t*)} above: the variance ratio of the largest to the smallest N crosses 1/2
    between the grid points that bracket its exact crossing."""
    rng = np.random.default_rng(0)
    times = np.linspace(0.2, 1.0, 17)
    rows = []
    for n_dim in (10, 40):
        scale = np.exp(-0.5 * n_dim * np.clip(times - 0.5, 0, None))
        for d in range(4000):
            rows += _rows("m", n_dim, times, 0.5 + 0.2 * scale * rng.standard_normal(times.size), d,
                          "participation_ratio")
    found = locate(pd.DataFrame(rows), "fragmentation", criteria=["rem"], n_boot=200)
    row = found.iloc[0]
    exact = 0.5 + np.log(2.0) / 30.0  # e^{-30 (t - 0.5)} = 1/2
    assert row["n_dim"] == 40 and row["n_dim_ref"] == 10
    assert abs(row["t_estimate"] - exact) < 0.05 + 4 * row["stderr"]  # one grid spacing + noise


def test_franz_parisi_fragmentation_disappears_at_the_yu_huang_spinodal():
    """fp_fragmented from FranzParisi fits of Yu & Huang's V(Q) (one deterministic curve per t,
    N = 10^4 so that the 0.5 barrier threshold is negligible) switches off between the grid
    points that bracket yu_huang_disappearance_time (root finding on dV/dQ, d2V/dQ2)."""
    t_d = replica.yu_huang_disappearance_time().t
    times = np.round(np.arange(0.16, 0.265, 0.01), 6)
    q = np.linspace(1e-4, 6.0, 1500)
    rows = []
    for t in times:
        curve = pd.DataFrame({"q": q, "V": replica.yu_huang_potential(q, t), "stderr": 0.0, "n_dim": 10_000})
        fragmented = float(replica.FranzParisi().fit(curve).fragmented_)
        rows += _rows("yu_huang", 1, [t], [fragmented], 0, "fp_fragmented")
    found = locate(pd.DataFrame(rows), "fragmentation", criteria=["franz_parisi"])
    row = found.iloc[0]
    assert row["stderr_method"] == "exact curve"
    assert abs(row["t_estimate"] - t_d) <= 0.01, (row.to_dict(), t_d)


# ----------------------------------------------------------------------------- locators
def test_crossing_of_two_sizes_on_curves_through_a_common_point():
    """Y_N(t) = 1 / (1 + exp(sqrt(N) (t - 0.6))) all pass through 1/2 at t = 0.6 and grow
    steeper with N; the two-size crossing finds 0.6 (exact curves) and the level criterion
    finds it for each N."""
    times = np.linspace(0.3, 1.0, 15)
    rows = []
    for n_dim in (16, 64, 256):
        y = 1 / (1 + np.exp(np.sqrt(n_dim) * (times - 0.6)))
        rows += _rows("m", n_dim, times, y + 1e-3, 0, "participation_ratio")
        rows += _rows("m", n_dim, times, y - 1e-3, 1, "participation_ratio")
    found = locate(pd.DataFrame(rows), "collapse", criteria=["crossing", "level"])
    pairs = found[found["method"].str.startswith("crossing")]
    assert list(zip(pairs["n_dim_ref"], pairs["n_dim"])) == [(16.0, 64.0), (64.0, 256.0)]
    assert np.allclose(pairs["t_estimate"], 0.6, atol=1e-9)
    level = found[found["method"] == "participation_ratio crosses 1/2"]
    assert np.allclose(level["t_estimate"], 0.6, atol=1e-9)


def test_extrapolation_errors_are_calibrated():
    """t_N = 0.4 + 0.9 / N + noise of known sd: over 400 seeds the pulls (t_inf - 0.4) / stderr
    have mean square within [0.8, 1.25] (its own 4-SE band for 400 chi2(1) draws is about
    +-0.28) and the log(N)/N form is recovered from data made with it."""
    rng = np.random.default_rng(7)
    sizes = np.array([10, 15, 20, 30, 40])
    err = 0.004 * np.sqrt(40 / sizes)
    pulls = []
    for _ in range(400):
        t = 0.4 + 0.9 / sizes + err * rng.standard_normal(sizes.size)
        fit = extrapolate(sizes, t, err)
        pulls.append((fit["t_inf"] - 0.4) / fit["stderr"])
    assert 0.8 < np.mean(np.square(pulls)) < 1.25
    t = 0.3 + 1.1 * np.log(sizes) / sizes
    fit = extrapolate(sizes, t, form="log(N)/N")
    assert fit["t_inf"] == pytest.approx(0.3, abs=1e-12) and fit["systematic"] > 0.01
    # the spin-glass crossing forms, each recovered exactly, the other giving the allowance
    for form, power in (("N^(-2/3)", 2 / 3), ("N^(-1/3)", 1 / 3)):
        t = 0.9 - 0.8 * sizes ** (-power)
        fit = extrapolate(sizes, t, form=form)
        assert fit["t_inf"] == pytest.approx(0.9, abs=1e-12) and fit["systematic"] > 0.01, form


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: locate(pd.DataFrame({"t": [1.0]}), "collapse"), "df"),
        (lambda: locate("table", "collapse"), "df"),
        (lambda: locate(pd.DataFrame(_rows("m", 4, [1.0, 2.0], [1, 0], 0, "participation_ratio")), "melting"),
         "transition"),
        (lambda: locate(pd.DataFrame(_rows("m", 4, [1.0, 2.0], [1, 0], 0, "participation_ratio")), "collapse",
                        criteria=["peak"]), "criteria"),
        (lambda: locate(pd.DataFrame(_rows("m", 4, [1.0, 2.0], [1, 0], 0, "participation_ratio")), "collapse",
                        n_boot=1), "n_boot"),
        (lambda: extrapolate([10, 20], [0.5, 0.4]), "n_dim"),
        (lambda: extrapolate([10, 20, 30], [0.5, 0.4]), "n_dim, t_estimate"),
        (lambda: extrapolate([10, 20, 30], [0.5, 0.4, 0.3], form="1/N^2"), "form"),
        (lambda: y_statistics(pd.DataFrame({"t": [1.0]})), "df"),
        (lambda: y_statistics(pd.DataFrame(_rows("m", 4, [1.0], [1], 0, "q_self"))), "observable"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_readme_transitions_example_runs(tmp_path):
    """The README's transitions block, run as a script: the extrapolated collapse time is within
    4 SE plus the finite-size allowance of t_C (60 disorder samples, so a loose check)."""
    import os
    import re
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "with_theory" in b)
    check = ("\nlim = found[np.isinf(found.n_dim)].iloc[0]"
             "\nassert abs(lim.t_estimate - lim.theory) < 4 * lim.stderr + lim.systematic, lim.to_dict()\nprint('ok')\n")
    script = tmp_path / "readme_transitions.py"
    script.write_text(block + check)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok"


def test_parameters_fixed_by_n_do_not_split_sizes_apart():
    """A column such as n_points = round(e^{alpha N}) takes one value per N: curves that differ
    only in it and N are one system, so crossings between sizes and the N -> infinity row exist,
    and they equal those of the same table without that column."""
    times = np.linspace(0.3, 1.0, 15)
    rows = []
    for n_dim in (16, 64, 256):
        y = 1 / (1 + np.exp(np.sqrt(n_dim) * (times - 0.6 - 1.0 / n_dim)))
        for d, shift in enumerate((1e-3, -1e-3)):
            rows += _rows("m", n_dim, times, y + shift, d, "participation_ratio", n_points=int(np.exp(0.2 * n_dim)))
    with_column = locate(pd.DataFrame(rows), "collapse")
    without = locate(pd.DataFrame(rows).drop(columns="n_points"), "collapse")
    assert np.isinf(with_column["n_dim"]).sum() == 1 and (np.isfinite(with_column["n_dim_ref"])).sum() == 2
    assert np.allclose(with_column["t_estimate"].to_numpy(), without["t_estimate"].to_numpy())


# ----------------------------------------------------------------------------- criterion registry
def test_every_criterion_reads_observables_that_a_scan_can_make():
    """Each registered criterion's observables (and the panels and levels it draws) are
    registered observables, or curves whose origin the registry states (``DERIVED_CURVES``),
    themselves made from a registered observable when they name one; its name prefixes match a
    registered observable."""
    from replica import criteria as cr
    from replica.scan.observables import observables

    known = observables()
    table = cr.criteria()
    assert {kind for kind, _ in table} == set(cr.TRANSITIONS)
    for (kind, name), c in table.items():
        assert c.transition == kind and c.name == name and c.statement
        for obs in (*c.observables, *c.panels, *c.levels):
            assert obs in known or obs in cr.DERIVED_CURVES, (kind, name, obs)
            source = cr.DERIVED_CURVES.get(obs, (None, ""))[0]
            assert source is None or source in known, (kind, name, obs, source)
        for prefix in c.prefixes:
            assert any(o.startswith(prefix) for o in known), (kind, name, prefix)


def test_the_module_docstring_tables_every_built_in_criterion():
    import re

    import replica.transitions as tr
    from replica import criteria as cr

    for kind, name in cr.criteria():  # the built-in ones (no plug-in installed here)
        assert re.search(rf"^{kind}\s+``{name}``", tr.__doc__, flags=re.M), (kind, name)
    assert dict(tr.CRITERIA) == cr.criterion_names()


def test_a_registered_criterion_is_run_by_locate_and_then_removed():
    """A plug-in's level crossing of q_self at 1/2: ``locate`` finds the crossing of
    q = 1.2 - t at t = 0.7 (between grid points), ``with_theory`` reads its theory, and
    unregistering restores the registry."""
    import replica.transitions as tr
    from replica import criteria as cr
    from replica.transitions import with_theory

    before = dict(cr.criteria())
    names = dict(tr.CRITERIA)
    times = np.linspace(0.05, 1.05, 11)
    rows = []
    for d, shift in enumerate((0.01, -0.01)):
        rows += _rows("m", 8, times, 1.2 - times + shift, d, "q_self")
        rows += _rows("m", 8, times, np.full(times.size, 0.9), d, "participation_ratio")  # never crosses 1/2
    custom = cr.Criterion("collapse", "q_half", ("q_self",), "q_self crosses 1/2 (test)",
                          tr.level_rule({"q_self": (0.5, "1/2")}), theory=lambda row: (0.75, "made up"))
    cr.register_criterion(custom)
    try:
        assert tr.CRITERIA["collapse"] == (*names["collapse"], "q_half")
        with pytest.raises(ValueError, match="already registered"):
            cr.register_criterion(custom)
        found = with_theory(locate(pd.DataFrame(rows), "collapse", criteria=["q_half"], n_boot=50))
        assert list(found["method"]) == ["q_self crosses 1/2"]
        assert found["t_estimate"].iloc[0] == pytest.approx(0.7, abs=1e-12)
        assert found["theory"].iloc[0] == 0.75 and found["theory_criterion"].iloc[0] == "made up"
        assert list(locate(pd.DataFrame(rows), "collapse", n_boot=50)["method"]) == ["q_self crosses 1/2"]
    finally:
        cr.unregister_criterion("collapse", "q_half")
    assert cr.criteria() == before and dict(tr.CRITERIA) == names
    with pytest.raises(ValueError, match="^criteria"):
        locate(pd.DataFrame(rows), "collapse", criteria=["q_half"])


def test_with_theory_gives_the_collapse_time_only_to_rows_with_alpha():
    """A Hopfield row (its loading P / N, no ``alpha``) gets no theory, as collapse or as
    fragmentation; a data set of e^{alpha N} points gets t_C, named as the REM condensation time
    for fragmentation; a speciation row of the mixture gets (1/2) log Lambda."""
    from replica.transitions import with_theory

    hopfield = dict(model="hopfield", process="VP", n_dim=9.0, t_estimate=1.0, observable="participation_ratio",
                    loading=2 / 9, n_patterns=2, beta=1.5)
    data_set = dict(model="dataset_alpha", process="VP", n_dim=10.0, t_estimate=1.0,
                    observable="participation_ratio", alpha=0.25, variance=1.0)
    rows = pd.DataFrame([{**hopfield, "transition": "fragmentation"}, {**hopfield, "transition": "collapse"},
                         {**data_set, "transition": "collapse"}, {**data_set, "transition": "fragmentation"},
                         {**data_set, "transition": "collapse", "process": "VE"},
                         dict(model="two_class_mixture", process="VP", n_dim=8.0, mu=1.0, transition="speciation",
                              observable="class_magnetisation_variance")])
    out = with_theory(rows)
    t_c = 0.5 * np.log(1 + 1 / (np.exp(0.5) - 1))
    assert np.isnan(out["theory"].iloc[0]) and np.isnan(out["theory"].iloc[1]) and np.isnan(out["theory"].iloc[4])
    assert list(out["theory_criterion"].iloc[[0, 1, 4]]) == ["", "", ""]
    assert out["theory"].iloc[2] == pytest.approx(t_c) and out["theory"].iloc[3] == pytest.approx(t_c)
    assert out["theory_criterion"].iloc[2].startswith("t_C = ")
    assert out["theory_criterion"].iloc[3].startswith("REM condensation (= t_C)")
    assert out["theory"].iloc[5] == pytest.approx(0.5 * np.log(9.0))
