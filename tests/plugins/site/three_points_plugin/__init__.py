"""A third-party plug-in as a user would write it: one model and one observable.

``three_points``: a data set of the three points -d 1, 0, +d 1 in R^N (``spacing`` d), equal
prior weights. ``mean_projection``: E[x0] . 1 / N, the posterior mean projected on the diagonal.
Registered through the entry points of ``three_points_plugin-0.1.dist-info`` (what
``pip install`` writes), nothing else.
"""
import numpy as np

import mc
from mc.models import registry
from replica.scan.observables import Observable
from replica.stats import replica_mean


class ThreePoints(registry.ModelEntry):
    name = "three_points"
    space = "points"
    doc = "three points -d 1, 0, +d 1 with equal weights"
    provides = frozenset({"points"})
    columns = ("n_points",)

    class Parameters(registry.Parameters):
        spacing: registry.Length = 1.0

    def build(self, p, n_dim, *, seed, max_bytes):
        ones = np.ones(n_dim)
        return mc.Dataset(np.stack([-p.spacing * ones, 0.0 * ones, p.spacing * ones]))

    def n_points(self, p, n_dim):
        return 3.0


def _exact_projection(post, inputs):
    from replica.stats import Estimate

    return Estimate(float(post.mean().mean()), 0.0, method="exact")


def _sampled_projection(x, inputs):
    # per replica and draw: x . 1 / N; errors over replicas as chains
    proj = x.mean(axis=-1)
    return replica_mean(lambda keep: proj[keep].mean(axis=0), proj.shape[0], warn=inputs.warn,
                        n=proj.size)


MEAN_PROJECTION = Observable(
    "mean_projection", ("points", "continuous", "spins"), "E[x0] . 1 / N",
    exact=_exact_projection, samples=_sampled_projection,
)
