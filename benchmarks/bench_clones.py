"""Throughput of clones of the generative process (``mc.clone_replicas``) at N = 64.

For each score model, one run of ``clones`` reverse trajectories of ``--steps`` Heun steps from one
x_t (half-step check off, so that every step is one fine step with two score calls), best of
``--repeat``, prints:

* path steps per second (trajectories x steps / wall time) and microseconds per path step;
* the share of the wall time spent in the score model (``CloneResult.score_share``), so the rest
  is the integrator's own cost (noise, drift, bookkeeping);
* the score's cost per call and path.

Scores: the closed forms (``empirical``, ``gaussian``, ``smoothed``) of n training points drawn
from a Gaussian in N = 64, and with torch installed (extra ``torch``), the package's denoiser
network (``mc.scores.network``, hidden 256, depth 3, untrained: the cost does not depend on the
weights) on the CPU in float32. A second table varies the number of clones (the batch) for the
empirical score and the network.

    python benchmarks/bench_clones.py [--quick] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import mc
from mc.scores import EmpiricalScore, GaussianScore, SmoothedScore
from timing import best_of

N_DIM = 64


def score_models(n_points, rng):
    points = rng.standard_normal((n_points, N_DIM))
    yield f"empirical (n = {n_points})", EmpiricalScore(points, mc.VP())
    yield f"smoothed h = 0.5 (n = {n_points})", SmoothedScore(points, mc.VP(), 0.5)
    yield "gaussian", GaussianScore.from_points(points, mc.VP())
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    from mc.scores.network import make_denoiser_mlp
    from mc.scores.torch_adapter import TorchScore

    net = make_denoiser_mlp(N_DIM, hidden=256, depth=3, sigma_data=1.0)
    yield "network (MLP 256 x 3, float32)", TorchScore(net, N_DIM, mc.VP(), output="denoiser", conditioning="sigma",
                                                       device="cpu")


def run(score, clones, steps, repeat):
    x_t = np.zeros(N_DIM)
    last = {}

    def once():
        last["res"] = mc.clone_replicas(score, x_t, 1.0, n_replicas=clones, seed=0, n_steps=steps, scheme="heun",
                                        check_steps=False, batch_size=clones)

    once()  # warm-up: compilation of the noise kernel, torch's first call
    seconds = best_of(once, repeat)
    res = last["res"]
    path_steps = clones * steps
    calls = res.score_calls
    return {"steps_per_s": path_steps / seconds, "us_per_step": 1e6 * seconds / path_steps,
            "share": res.score_share, "us_per_call_path": 1e6 * res.score_seconds / (calls * clones)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    steps = 20 if args.quick else 100
    clones = 256
    rng = np.random.default_rng(0)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"clones of the reverse SDE, N = {N_DIM}, {clones} clones x {steps} Heun steps (2 score calls per step), "
          f"best of {args.repeat}; OMP_NUM_THREADS = {threads}")
    print(f"{'score':<36} {'path steps/s':>13} {'us/step':>9} {'score share':>12} {'us/call/path':>13}")
    sizes = (300,) if args.quick else (300, 1497, 10000)
    seen = set()
    for n in sizes:
        for name, score in score_models(n, rng):
            if name in seen:
                continue
            seen.add(name)
            r = run(score, clones, steps, args.repeat)
            print(f"{name:<36} {r['steps_per_s']:>13.3g} {r['us_per_step']:>9.2f} {r['share']:>12.2f} "
                  f"{r['us_per_call_path']:>13.2f}")
    print()
    print("batch size (clones integrated together):")
    print(f"{'score':<36} {'clones':>7} {'path steps/s':>13} {'score share':>12}")
    picks = [s for s in score_models(1497, rng) if s[0].startswith(("empirical", "network"))]
    for name, score in picks:
        for c in ((16, 256) if args.quick else (16, 64, 256, 1024)):
            r = run(score, c, steps, args.repeat)
            print(f"{name:<36} {c:>7} {r['steps_per_s']:>13.3g} {r['share']:>12.2f}")


if __name__ == "__main__":
    main()
