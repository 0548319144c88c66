"""Train the small denoiser network of ``jobs/digits_clones.toml``, one per training-set size.

For every size n of the spec's ``model.n_points`` the training set is the one the scan itself
builds (``replica.scan.compute.build_model`` at disorder 0: the spec has ``realisation =
"fixed"``, so every task of that size sees these very points), and a
``mc.scores.network`` denoiser (EDM-preconditioned MLP, ``[score] hidden`` and ``depth``) is fit
to it on the CPU over the noise levels the scan visits, ``sigma = sqrt(D_t) / a_t`` from
``t_stop`` times the smallest t to the largest t. The weights go to the spec's ``[score]
weights`` file with ``{n_points}`` replaced by n (safetensors, written atomically), next to the
spec. Then the scan analyses them beside the exact empirical posterior of the same points:

    pip install -e '.[digits,torch]'
    python jobs/make_digits.py                         # -> jobs/data/digits_*.npy
    python jobs/train_digits_score.py                  # -> jobs/data/digits_score_n*.safetensors
    mpiexec -n 2 replica scan jobs/digits_clones.toml --out results/digits_clones
    replica report results/digits_clones

``--steps`` sets the optimiser steps (default 6000: about 1 minute per size on one core).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from replica.scan import load_spec
from replica.scan.compute import build_model, build_process

#: Default spec, next to this script.
DEFAULT_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits_clones.toml")


def noise_range(spec):
    """``(sigma_min, sigma_max)`` of the scan: ``sqrt(D_t) / a_t`` at ``t_stop * min t`` and at ``max t``."""
    process = build_process(spec)
    t_lo = spec.score.t_stop * min(spec.grid.t)
    t_hi = max(spec.grid.t)
    return (math.sqrt(process.D(t_lo)) / process.a(t_lo), math.sqrt(process.D(t_hi)) / process.a(t_hi))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="the clones spec whose [score] weights to train")
    parser.add_argument("--steps", type=int, default=6000, help="optimiser steps per network")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mc.scores.network import train_denoiser
    from mc.scores.registry import expand_file
    from mc.scores.torch_adapter import save_weights

    spec = load_spec(args.spec, score_files=False)  # the weights are what this script writes
    if spec.score is None or spec.score.name != "network":
        raise SystemExit(f"{args.spec}: expected a spec with [score] name = 'network'")
    if spec.model.realisation != "fixed":
        raise SystemExit(f"{args.spec}: model.realisation must be 'fixed' (one training set per size, the one "
                         "trained on)")
    if "weights" not in spec.score.resolved:
        raise SystemExit(f"{args.spec}: [score] needs a weights file")
    p = spec.score.parameters(spec.model.axis_values[0])
    sigma_min, sigma_max = noise_range(spec)
    n_dim = spec.grid.n_dim[0]
    print(f"training {len(spec.model.axis_values)} networks (hidden {p.hidden}, depth {p.depth}) on sigma in "
          f"[{sigma_min:.3g}, {sigma_max:.3g}], {args.steps} steps each", file=sys.stderr)
    for n in spec.model.axis_values:
        model = build_model(spec, n_dim, 0, n)
        start = time.perf_counter()
        net = train_denoiser(model.points, weights=model.prior_weights, hidden=p.hidden, depth=p.depth,
                             sigma_min=sigma_min, sigma_max=sigma_max, steps=args.steps, batch_size=args.batch_size,
                             lr=args.lr, seed=args.seed)
        path = expand_file(spec.score.resolved["weights"], n)
        save_weights(net, path)
        loss = np.asarray(net.loss_history)
        tail = loss[-max(1, len(loss) // 10):].mean()
        print(f"n = {n}: {model.points.shape[0]} distinct points, final loss {tail:.4f}, "
              f"{time.perf_counter() - start:.1f} s -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
