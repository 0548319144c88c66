"""Fragmentation of a spin-prior posterior located by the spin-glass susceptibility.

The connected ``chi_SG = (1/N) sum_ij (<s_i s_j> - <s_i><s_j>)^2`` (the ``spin_glass_susceptibility``
row of each disorder sample) stays finite
as N grows in a replica-symmetric posterior and grows like N in a fragmented one; at the
de Almeida-Thouless line it scales as N^(1/3), so the ``chi_SG / N^(1/3)`` curves of different N
cross there (criterion ``spin_glass``). Checked on curves constructed with that scaling form,
with a paramagnetic negative control, and on a Monte Carlo scan of a paramagnetic SK prior in the
field of unplanted noise, where nothing may be found; the theory beside a located row is the
replica-symmetric t_F of ``replica.theory.sk_fragmentation_time``."""
import math

import numpy as np
import pandas as pd
import pytest

from replica import theory
from replica.scan import make_tasks, parse_spec
from replica.scan.compute import run_task
from replica.summary import disorder_summary
from replica.transitions import locate, with_theory

T_GRID = np.linspace(0.5, 1.5, 11)


def constructed(chi_of, sizes=(32, 64, 128), n_disorder=8, noise=0.01, seed=0, t_grid=T_GRID):
    """A result table of spin_glass_susceptibility rows equal to ``chi_of(N, t)``
    plus Gaussian disorder noise, for an SK prior in the field of unplanted noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        for t in t_grid:
            for d in range(n_disorder):
                chi = chi_of(n, t) * (1.0 + noise * rng.standard_normal())
                base = dict(scan="c", model="sk", process="VP", n_dim=n, t=t, disorder=d, stderr=0.0, n_samples=100,
                            tau_int=1.0, method="heat_bath", seed=0, version="x", planted=False, source="noise",
                            beta=1.5, J=1.0, noise_variance=1.0, disorder_seed=1000 + d)
                rows.append({**base, "observable": "q_self", "value": 0.3})
                rows.append({**base, "observable": "spin_glass_susceptibility", "value": chi})
    return pd.DataFrame(rows)


def spin_glass_rows(results):
    found = with_theory(locate(results, "fragmentation"))
    return found[found["method"].str.contains("spin_glass_susceptibility_scaled")]


def test_crossings_of_the_scaled_susceptibility_locate_the_constructed_transition():
    t_f = 1.0
    scaled = constructed(lambda n, t: n ** (1 / 3) * (1.0 + math.tanh((t - t_f) * n ** (1 / 3))))
    summary = disorder_summary(scaled)
    chi = summary[summary.observable == "spin_glass_susceptibility"]
    row = chi[(chi.n_dim == 64) & np.isclose(chi.t, 1.0)].iloc[0]
    assert row.value == pytest.approx(64 ** (1 / 3), rel=0.02)  # disorder-averaged
    found = spin_glass_rows(scaled)
    assert len(found) == 2 and set(found.n_dim_ref) == {32.0, 64.0}
    for _, r in found.iterrows():
        assert abs(r.t_estimate - t_f) < 5 * r.stderr + 0.01, r
    # the theory beside: the RS de Almeida-Thouless time of this prior and noise variance
    assert found.theory.iloc[0] == pytest.approx(theory.sk_fragmentation_time(1.5, 1.0, 1.0, "vp"))


def test_a_replica_symmetric_susceptibility_gives_no_crossing():
    # finite chi_SG at every t (a paramagnet in a field): chi / N^(1/3) falls with N everywhere
    para = constructed(lambda n, t: 2.0 + t)
    assert spin_glass_rows(para).empty


def test_paramagnetic_sk_prior_in_a_noise_field_is_never_fragmented():
    """Monte Carlo negative control: SK at beta J = 0.5 (replica-symmetric at any field, t_F
    undefined) in the field of x_t ~ N(0, I), two sizes, times from 0.3 to 2.5."""
    spec = parse_spec("""
[scan]
name = "sk_para"
seed = 2
[model]
name = "sherrington_kirkpatrick"
beta = 0.5
[process]
name = "VP"
[grid]
n_dim = [16, 32]
t = [0.3, 1.0, 2.5]
disorder = 6
source = "noise"
[sampler]
method = "heat_bath"
n_replicas = 4
n_sweeps = 600
[observables]
names = ["q_self", "spin_glass_susceptibility"]
""")
    results = pd.concat([run_task(spec, task)["results"] for task in make_tasks(spec)], ignore_index=True)
    summary = disorder_summary(results)
    chi = summary[summary.observable == "spin_glass_susceptibility"].set_index(["n_dim", "t"])["value"]
    assert (chi > 0).all() and (chi < 5).all()  # finite, of order one, at every N
    assert spin_glass_rows(results).empty
    assert math.isnan(theory.sk_fragmentation_time(0.5, 1.0, 1.0, "vp"))


def test_planted_rows_get_no_unplanted_theory():
    planted = constructed(lambda n, t: n ** (1 / 3) * (1.0 + math.tanh((t - 1.0) * n ** (1 / 3))))
    planted = planted.drop(columns=["noise_variance"]).assign(source="prior", planted=True)
    found = spin_glass_rows(planted)
    assert not found.empty and found.theory.isna().all()


def test_binder_crossings_of_a_glassy_prior_are_not_called_speciation():
    """Binder curves that cross between sizes: a speciation row for a Curie-Weiss prior, none for
    SK (no symmetry to split into in the random field; the spin_glass criterion reads chi_SG)."""
    rng = np.random.default_rng(1)
    rows = []
    for n in (32, 64):
        for t in T_GRID:
            g = 0.5 + 0.5 * math.tanh((1.0 - t) * n ** 0.5)  # crosses 1/2 at t = 1 for every N
            for d in range(8):
                q2 = 0.3 * (1 + 0.01 * rng.standard_normal())
                base = dict(scan="c", process="VP", n_dim=n, t=t, disorder=d, stderr=0.0, n_samples=100,
                            tau_int=1.0, method="heat_bath", seed=0, version="x", planted=False, source="noise",
                            beta=1.5, J=1.0, noise_variance=1.0, disorder_seed=1000 + d)
                rows.append({**base, "observable": "q2", "value": q2})
                rows.append({**base, "observable": "q4", "value": (3.0 - 2.0 * g) * q2 * q2})
    table = pd.DataFrame(rows)
    for model, expected in (("curie_weiss", 1), ("sk", 0)):
        found = locate(table.assign(model=model), "speciation")
        assert (found["method"].str.contains("binder")).sum() == expected, model


def test_hopfield_rows_get_the_ags_replicon_time():
    scaled = constructed(lambda n, t: n ** (1 / 3) * (1.0 + math.tanh((t - 0.7) * n ** (1 / 3))))
    hopfield = scaled.drop(columns=["J", "noise_variance"]).assign(model="hopfield", source="pattern", planted=True,
                                                                 beta=2.0, loading=0.15)
    found = spin_glass_rows(hopfield)
    assert not found.empty
    assert found.theory.iloc[0] == pytest.approx(theory.hopfield_fragmentation_time(2.0, 0.15))
    assert "AGS replicon" in found.theory_criterion.iloc[0]


def test_crossings_drifting_as_n_to_the_minus_two_thirds_extrapolate_to_the_transition():
    """Curves ``chi / N^(1/3) = 1 + tanh((t - t_F - b N^(-2/3)) N^(1/3))`` (a correction to scaling
    of relative order N^(-1/3)): the crossing of N and 2N sits at ``t_F - 0.79 b N^(-2/3)``, 0.25
    below t_F for 16/32. The ``spin_glass_extrapolation`` row over the four pairs 16/32 ...
    128/256 lands on t_F within 4 of its errors and five times closer than the largest pair alone,
    which is more than 10 of its errors off; with two pairs there is no extrapolation row."""
    t_f, b = 1.0, 2.0
    sizes = (16, 32, 64, 128, 256)
    grid = np.linspace(0.3, 1.5, 25)

    def chi(n, t):
        return n ** (1 / 3) * (1.0 + math.tanh((t - t_f - b * n ** (-2 / 3)) * n ** (1 / 3)))

    table = constructed(chi, sizes=sizes, t_grid=grid)
    found = spin_glass_rows(table)
    pairs = found[np.isfinite(found.n_dim)].sort_values("n_dim")
    assert pairs.n_dim_ref.tolist() == [16.0, 32.0, 64.0, 128.0]
    for _, r in pairs.iterrows():
        expected = t_f - 0.794 * b * r.n_dim_ref ** (-2 / 3)
        assert abs(r.t_estimate - expected) < 5 * r.stderr + 0.01, r
    largest = pairs.iloc[-1]
    assert abs(largest.t_estimate - t_f) > 10 * largest.stderr
    inf = found[~np.isfinite(found.n_dim)]
    assert len(inf) == 1
    row = inf.iloc[0]
    assert "t_inf + b N^(-2/3) over N = 32, 64, 128, 256" in row.method
    assert abs(row.t_estimate - t_f) < 4 * row.stderr
    assert abs(row.t_estimate - t_f) < 0.2 * abs(largest.t_estimate - t_f)
    assert row.systematic > 0 and row.theory == pytest.approx(theory.sk_fragmentation_time(1.5, 1.0, 1.0, "vp"))
    # two pairs only: crossings, no extrapolation
    few = spin_glass_rows(constructed(chi, sizes=(32, 64, 128), t_grid=grid))
    assert np.isfinite(few.n_dim).all() and len(few) == 2


def test_franz_parisi_fragmentation_of_a_hopfield_posterior_gets_the_ags_time():
    """The fraction of pattern sets with a Franz-Parisi secondary minimum is compared with the
    AGS replicon time of the Hopfield posterior; a data set keeps its REM condensation time."""
    hopfield = dict(model="hopfield", process="VP", n_dim=64.0, t_estimate=1.0, transition="fragmentation",
                    observable="fp_fragmented", source="pattern", planted=True, beta=2.0, loading=0.15)
    data_set = dict(model="dataset_alpha", process="VP", n_dim=10.0, t_estimate=1.0, transition="fragmentation",
                    observable="fp_fragmented", alpha=0.25, variance=1.0)
    out = with_theory(pd.DataFrame([hopfield, data_set]))
    assert out.theory.iloc[0] == pytest.approx(theory.hopfield_fragmentation_time(2.0, 0.15))
    assert "AGS replicon" in out.theory_criterion.iloc[0]
    assert out.theory.iloc[1] == pytest.approx(0.5 * np.log(1 + 1 / (np.exp(0.5) - 1)))
    assert out.theory_criterion.iloc[1].startswith("REM condensation")
