"""Unplanted disorder independent of the prior: ``grid.source = "noise"``, x_t ~ N(0, v I).

For a spin prior the posterior is then the prior in the random field h = a_t x_t / D_t of
variance a_t^2 v / D_t^2 (the setting of the Sherrington-Kirkpatrick de Almeida-Thouless line
in diffusion time); there is no clean x0."""
import numpy as np
import pytest

import mc
from replica.scan import make_tasks, parse_spec
from replica.scan.compute import build_model, build_process, quenched_state, run_task


def test_noise_disorder_is_a_fixed_gaussian_draw_without_x0():
    model = mc.IsingPrior.sherrington_kirkpatrick(10, beta=1.5, seed=3)
    times = np.array([0.2, 1.0, 3.0])
    state = mc.draw_quenched(model, mc.VP(), times, seed=7, disorder=2, key=(0, 0, 10), source="noise",
                             noise_variance=2.5)
    assert state.source == "noise" and not state.planted and np.isnan(state.x0).all()
    assert np.array_equal(state.x_t[0], state.x_t[2])  # the same x_t at every t: only the field changes
    assert np.allclose(state.x_t[1], np.sqrt(2.5) * state.noise)
    again = mc.draw_quenched(model, mc.VE(), 1.0, seed=7, disorder=2, key=(0, 0, 10), source="noise",
                             noise_variance=2.5)
    assert np.array_equal(again.x_t, state.x_t[1])  # independent of the process and of the prior
    other = mc.draw_quenched(model, mc.VP(), 1.0, seed=7, disorder=3, key=(0, 0, 10), source="noise")
    assert not np.array_equal(other.noise, state.noise)
    with pytest.raises(ValueError, match="noise_variance"):
        mc.draw_quenched(model, mc.VP(), 1.0, seed=7, source="noise", noise_variance=0.0)
    # the empirical variance over many coordinates is v
    big = mc.draw_quenched(mc.IsingPrior.curie_weiss(20000, beta=0.5), mc.VP(), 1.0, seed=1, source="noise",
                           noise_variance=2.5)
    assert abs(big.x_t.var() - 2.5) < 5 * 2.5 * np.sqrt(2.0 / 20000)


def test_monte_carlo_in_the_random_field_of_noise_disorder_matches_enumeration():
    """SK at beta J = 1.5, N = 12, in the field of an unplanted x_t ~ N(0, 2 I) at three times:
    heat-bath Monte Carlo rows (every observable the spec records) against the enumerated exact
    posterior of the same task, within 5 standard errors, and the run flagged as mixed."""
    text = """
[scan]
name = "noise_sk"
seed = 4
[model]
name = "sherrington_kirkpatrick"
beta = 1.5
[process]
name = "VP"
[grid]
n_dim = 12
t = [0.3, 1.0, 2.5]
disorder = 1
source = "noise"
noise_variance = 2.0
[sampler]
method = "heat_bath"
n_replicas = 4
n_sweeps = 3000
exact_reference = true
[observables]
names = ["q_self", "susceptibility"]
"""
    spec = parse_spec(text)
    worst, checked = 0.0, 0
    for task in make_tasks(spec):
        rows = run_task(spec, task)["results"]
        assert set(rows.source) == {"noise"} and not rows.planted.any()
        assert set(rows.noise_variance) == {2.0}
        assert rows.loc[rows.observable == "mixed", "value"].iloc[0] == 1.0
        z = rows[rows.observable.str.startswith("z_exact:")]
        assert len(z) == 4  # q_self, q2, q4, susceptibility
        worst = max(worst, float(np.abs(z.value).max()))
        checked += len(z)
        # the field of this task: h = a_t x_t / D_t, as the posterior sees it
        model = build_model(spec, 12, 0)
        process = build_process(spec)
        state = quenched_state(spec, model, process, task)
        post = mc.Posterior(model, process, state.x_t, task.t)
        assert np.allclose(post.field, process.a(task.t) * state.x_t / process.D(task.t))
    assert checked == 12 and worst < 5.0, worst
