"""Planted disorder beyond exact prior draws: x0 drawn from a spin prior by Monte Carlo.

The check is the Nishimori identity, which holds exactly when x0 is a draw from the prior the
posterior uses (Bayes-optimal, planted): averaged over disorder, the overlap between two
replicas equals the overlap of a replica with x0, E[<q_ab>] = E[<q_a0>]. At N = 24 the SK prior
(beta J = 1.2) cannot be enumerated by the package (N > 20), so x0 comes from the scan's own
heat-bath sampler run on the prior; a wrong x0 (uniform random spins instead of prior draws)
breaks the identity by many standard errors (the negative control)."""
import numpy as np
import pytest

from replica.scan import compute, make_tasks, parse_spec

pytestmark = pytest.mark.slow

SPEC = """
[scan]
name = "planted_mc"
seed = 3
[model]
name = "sherrington_kirkpatrick"
beta = 1.2
[process]
name = "VP"
[grid]
n_dim = 24
t = [0.8]
disorder = 32
[sampler]
method = "heat_bath"
n_replicas = 4
n_sweeps = 1500
[observables]
names = ["q_self", "overlap_truth"]
"""


def _nishimori_z(spec):
    """Disorder average of <q_ab> - <q_a0> over its standard error, and the task rows."""
    rows = [compute.run_task(spec, task)["results"].set_index("observable") for task in make_tasks(spec)]
    diff = np.array([r.loc["q_self", "value"] - r.loc["overlap_truth", "value"] for r in rows])
    return diff.mean() / (diff.std(ddof=1) / np.sqrt(diff.size)), rows


def test_monte_carlo_planted_x0_satisfies_the_nishimori_identity_and_a_wrong_x0_does_not(monkeypatch):
    spec = parse_spec(SPEC)
    assert compute.needs_monte_carlo_prior_draw(spec, 24)
    z, rows = _nishimori_z(spec)
    assert abs(z) < 5.0, z
    for r in rows:  # the draw's own check is recorded, and folded into the task's mixed row
        assert {"prior_draw_rhat_max", "prior_draw_mixed"} <= set(r.index)
        assert r.loc["mixed", "value"] <= r.loc["prior_draw_mixed", "value"]
        assert bool(r["planted"].iloc[0]) and r["source"].iloc[0] == "prior"
    # the same x0 at every t of a disorder sample, and on any rank (it depends on the seed key only)
    model = compute.build_model(spec, 24, 5)
    first = compute.planted_by_monte_carlo(spec, model, 24, 5)[0]
    compute._PRIOR_DRAWS.clear()
    assert np.array_equal(compute.planted_by_monte_carlo(spec, model, 24, 5)[0], first)
    assert set(np.unique(first)) <= {-1.0, 1.0}

    def uniform_spins(spec, model, n_dim, disorder):  # not a prior draw
        rng = np.random.default_rng(1000 + disorder)
        return 2.0 * rng.integers(0, 2, n_dim) - 1.0, {}, True

    monkeypatch.setattr(compute, "planted_by_monte_carlo", uniform_spins)
    z_wrong, _ = _nishimori_z(spec)
    assert z_wrong > 5.0, z_wrong
