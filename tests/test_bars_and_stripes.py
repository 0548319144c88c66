"""Bars and stripes (MacKay 2003) as a registered data set: its images against an independent
construction, and a scan task's exact and sampled values against a direct sum over the images."""
import itertools

import numpy as np
import pytest

from mc.models.bars_and_stripes import BARS, STRIPES, bars_and_stripes
from replica.scan import SpecError, make_tasks, parse_spec
from replica.scan.compute import build_model, build_process, quenched_state, run_task


def images(side):
    """Every non-uniform image constant along rows (stripes) or columns (bars), by brute force
    over all 2^(side^2) images for small sides."""
    out = {BARS: set(), STRIPES: set()}
    for pixels in itertools.product((-1.0, 1.0), repeat=side * side):
        grid = np.array(pixels).reshape(side, side)
        if np.all(grid == grid[0, 0]):
            continue
        if np.all(grid == grid[:, :1]):
            out[STRIPES].add(pixels)
        if np.all(grid == grid[:1, :]):
            out[BARS].add(pixels)
    return out


@pytest.mark.parametrize("side", [2, 3, 4])
def test_images_and_labels_match_a_brute_force_construction(side):
    data = bars_and_stripes(side)
    expected = images(side)
    assert data.n_points == 2 ** (side + 1) - 4 == sum(len(v) for v in expected.values())
    for label in (BARS, STRIPES):
        got = {tuple(p) for p in data.points[data.labels == label]}
        assert got == expected[label]
    assert data.params() == {"n_dim": side * side, "n_points": data.n_points, "image_side": side}


SPEC = """
[scan]
name = "bas"
seed = 11

[model]
name = "bars_and_stripes"

[process]
name = "VP"

[grid]
n_dim = [9]
t = [0.4, 1.2]
disorder = 2

[sampler]
method = "exact"
n_replicas = 3
draws = 300
"""


def test_scan_task_equals_a_direct_sum_over_the_images():
    spec = parse_spec(SPEC)
    assert "cloning_probability" in spec.observables.names  # labelled: the class observables by default
    process = build_process(spec)
    for task in make_tasks(spec):
        rows = run_task(spec, task)["results"]
        model = build_model(spec, task.n_dim, task.disorder)
        state = quenched_state(spec, model, process, task)
        a, d = process.a(task.t), process.D(task.t)
        logits = np.array([-np.sum((state.x_t - a * x) ** 2) / (2 * d) for x in model.points])
        w = np.exp(logits - logits.max())
        w /= w.sum()
        p_class = np.array([w[model.labels == c].sum() for c in (BARS, STRIPES)])
        exact = rows[rows.method == "exact"].set_index("observable")["value"]
        assert exact["participation_ratio"] == pytest.approx(w @ w, rel=1e-10)
        assert exact["cloning_probability"] == pytest.approx(p_class @ p_class, rel=1e-10)
        sampled = rows[rows.method == "samples"].set_index("observable")
        for name, value in (("participation_ratio", w @ w), ("cloning_probability", p_class @ p_class)):
            assert abs(sampled.loc[name, "value"] - value) <= 5 * sampled.loc[name, "stderr"] + 1e-12, (task, name)


def test_grid_must_hold_square_images():
    with pytest.raises(SpecError, match=r"^grid\.n_dim: bars_and_stripes needs square images"):
        parse_spec(SPEC.replace("n_dim = [9]", "n_dim = [9, 10]"))
