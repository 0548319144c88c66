"""The generic code reaches models through hooks, never through their concrete classes.

User-defined models that subclass only the abstract bases (``mc.DataModel``, ``mc.ExactPosterior``)
and implement a hook are accepted wherever the built-in models are; a source scan checks that no
module outside ``mc/models`` asks ``isinstance`` (or ``issubclass``) of a concrete model class.
"""
import ast
import inspect
import pathlib

import numpy as np
import pytest

import mc
import mc.models
from mc import dynamics as dyn
from mc.models.base import DataModel, ExactPosterior
from mc.models.ising import SpinKernel
from mc.sampler import continuous_prior
from replica.potentials.franz_parisi import franz_parisi
from replica.overlaps import q_ea
from replica.states import class_responsibilities

ROOT = pathlib.Path(__file__).resolve().parents[1]

MEANS = np.array([[0.5, -1.0, 0.2], [-0.3, 0.8, 1.1]])
VARIANCES = np.array([[0.4, 0.2, 0.9], [0.6, 0.3, 0.5]])
WEIGHTS = np.array([0.35, 0.65])


class UserDiagonalMixture(DataModel):
    """A diagonal Gaussian mixture written from scratch on the abstract base only."""

    def __init__(self, means, variances, weights):
        self.means, self.variances, self.weights = means, variances, weights

    @property
    def n_dim(self):
        return self.means.shape[1]

    def log_prob(self, x0):
        x0 = np.asarray(x0, dtype=np.float64)
        d = x0[..., None, :] - self.means
        comp = np.log(self.weights) - 0.5 * np.sum(np.log(2 * np.pi * self.variances) + d * d / self.variances, axis=-1)
        top = comp.max(axis=-1)
        return top + np.log(np.exp(comp - top[..., None]).sum(axis=-1))

    def sample(self, n, rng):
        gen = np.random.default_rng(rng)
        k = gen.choice(len(self.weights), size=n, p=self.weights)
        return self.means[k] + np.sqrt(self.variances[k]) * gen.standard_normal((n, self.n_dim))

    def mixture_parameters(self):
        return self.means.copy(), self.variances.copy(), np.log(self.weights)

    def gaussian_components(self):
        return self.weights, self.means, self.variances, None


class UserPointPosterior(ExactPosterior):
    """A posterior over a few points, with its decomposition into states and nothing else."""

    def __init__(self, points, weights):
        super().__init__(np.zeros(points.shape[1]), 1.0)
        self.points, self._w = points, weights

    def log_partition(self):
        return 0.0

    def mean(self):
        return self._w @ self.points

    def cov(self):
        d = self.points - self.mean()
        return (d * self._w[:, None]).T @ d

    def sample(self, n, rng):
        return self.points[np.random.default_rng(rng).choice(len(self._w), size=n, p=self._w)]

    def pure_states(self):
        return self._w, np.einsum("ij,ij->i", self.points, self.points) / self.n_dim


def _builtin_twin():
    return mc.GaussianMixture(MEANS, variances=VARIANCES, weights=WEIGHTS)


# -- hooks are the route ----------------------------------------------------------------------------
def test_user_data_model_with_mixture_parameters_is_accepted_by_the_dynamics():
    user = UserDiagonalMixture(MEANS, VARIANCES, WEIGHTS)
    assert not isinstance(user, mc.GaussianMixture)
    means, var, log_w = dyn.mixture_parameters(user)
    ref = dyn.mixture_parameters(_builtin_twin())
    for got, want in zip((means, var, log_w), ref):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    x = np.array([[0.1, 0.2, -0.3], [1.0, -0.5, 0.4]])
    for got, want in zip(dyn.score_terms(user, mc.VP(), x, 0.3), dyn.score_terms(_builtin_twin(), mc.VP(), x, 0.3)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    # one short generative run: the same drift, hence the same trajectories as the built-in twin
    kw = dict(n_trajectories=8, seed=5, n_steps=10, init="prior")
    tr_user = dyn.reverse(user, mc.VP(), 1.0, 0.2, **kw)
    tr_ref = dyn.reverse(_builtin_twin(), mc.VP(), 1.0, 0.2, **kw)
    np.testing.assert_allclose(tr_user.x_end, tr_ref.x_end, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr_user.log_density, tr_ref.log_density, rtol=1e-12, atol=1e-12)


def test_default_hooks_say_not_available_with_the_established_errors():
    class Bare(DataModel):
        n_dim = 2

        def log_prob(self, x0):
            return np.zeros(np.shape(x0)[:-1])

        def sample(self, n, rng):
            return np.zeros((n, 2))

    bare = Bare()
    with pytest.raises(ValueError, match="^model: no exact Numba score for Bare"):
        dyn.mixture_parameters(bare)
    with pytest.raises(ValueError, match="^model: expected a data model, got list"):
        dyn.mixture_parameters([1.0, 2.0])
    assert bare.numba_log_prior() is None and bare.gaussian_components() is None
    with pytest.raises(ValueError, match="^log_prior_grad: Bare has no built-in Numba prior"):
        continuous_prior(bare)
    with pytest.raises(ValueError, match="^classes: expected a GaussianMixture"):
        class_responsibilities(np.zeros((3, 2)), bare)
    post = mc.Posterior(mc.Hypersphere(3), mc.VE(), np.ones(3), 0.5).exact
    assert post.franz_parisi_route is None
    with pytest.raises(NotImplementedError):
        post.pure_states()
    with pytest.raises(ValueError, match="^source: .* has no decomposition into states"):
        q_ea(post)


def test_user_hooks_for_class_responsibilities_and_edwards_anderson_overlap():
    user = UserDiagonalMixture(MEANS, VARIANCES, WEIGHTS)
    x = np.random.default_rng(2).standard_normal((5, 3))
    np.testing.assert_allclose(class_responsibilities(x, user), class_responsibilities(x, _builtin_twin()),
                               rtol=1e-13, atol=1e-15)
    pts = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 0.0]])
    w = np.array([0.5, 0.3, 0.2])
    got = q_ea(UserPointPosterior(pts, w))
    sq = (pts * pts).sum(axis=1) / 3
    assert got.value == pytest.approx(float((w * w) @ sq / (w * w).sum()), rel=1e-14)
    # the built-in data set gives the same through its own hook
    builtin = mc.Dataset(pts).exact_posterior(np.array([0.3, 0.1, -0.2]), 0.7)
    wb, qb = builtin.pure_states()
    np.testing.assert_array_equal(wb, builtin.weights)
    np.testing.assert_allclose(qb, sq, rtol=1e-15)


def test_numba_log_prior_hook_of_the_mixture_is_what_the_sampler_uses():
    model = mc.GaussianMixture(MEANS, variances=VARIANCES, weights=WEIGHTS)
    f, params = continuous_prior(model)
    f2, params2 = model.numba_log_prior()
    assert f is f2 and len(params) == len(params2) == 4
    x = np.array([0.2, -0.1, 0.4])
    grad = np.empty(3)
    assert f(x, params, grad) == pytest.approx(float(model.log_prob(x)), rel=1e-12)
    np.testing.assert_allclose(grad, model.grad_log_prob(x), rtol=1e-10, atol=1e-12)
    singular = mc.GaussianMixture(MEANS, variances=0.0)
    with pytest.raises(ValueError, match="^method: .*non-singular"):
        singular.numba_log_prior()


def test_spin_kernel_hooks_describe_the_kernel_families():
    sk = mc.IsingPrior.sherrington_kirkpatrick(6, beta=0.7, seed=1)
    dense = sk.spin_kernel()
    assert isinstance(dense, SpinKernel) and dense.kind == "dense"
    np.testing.assert_array_equal(dense.couplings, sk.couplings * 0.7)
    assert dense.couplings.flags.c_contiguous and dense.couplings.dtype == np.float64
    cw = mc.IsingPrior.curie_weiss(8, J=1.5, beta=0.6).spin_kernel()
    assert cw.kind == "mean_field" and cw.coupling == 0.6 * 1.5 / 8 and cw.couplings is None
    lat = mc.IsingPrior.lattice(3, 2, J=0.5, beta=2.0)
    sp = lat.spin_kernel()
    assert sp.kind == "sparse" and sp.indptr.dtype == sp.indices.dtype == np.int64
    mat = lat.sparse_couplings
    np.testing.assert_array_equal(sp.indptr, mat.indptr)
    np.testing.assert_array_equal(sp.indices, mat.indices)
    np.testing.assert_array_equal(sp.data, mat.data * 2.0)
    with pytest.raises(AttributeError):
        sp.kind = "dense"  # frozen


def test_franz_parisi_routes_are_declared_by_the_exact_posteriors():
    y = np.array([0.4, -0.2, 0.1, 0.3])
    assert mc.Dataset(np.eye(4)).exact_posterior(y, 1.0).franz_parisi_route == "points"
    assert mc.TwoDeltas(np.ones(4)).exact_posterior(y, 1.0).franz_parisi_route == "points"
    assert mc.GaussianMixture.two_class(np.ones(4)).exact_posterior(y, 1.0).franz_parisi_route == "mixture"
    assert mc.IsingPrior(np.zeros((4, 4))).exact_posterior(y, 1.0).franz_parisi_route == "spins"
    assert mc.IsingPrior.curie_weiss(4).exact_posterior(y, 1.0).franz_parisi_route == "spins"
    n_big = mc.models.MAX_ENUMERATION_DIM + 1
    assert mc.IsingPrior.curie_weiss(n_big).exact_posterior(np.zeros(n_big), 1.0).franz_parisi_route is None


def test_curie_weiss_exact_franz_parisi_route_matches_the_dense_couplings():
    n, J, beta = 10, 1.3, 0.9
    rng = np.random.default_rng(11)
    field = 0.2 * rng.standard_normal(n)
    x_t = rng.standard_normal(n)
    w = np.full((n, n), J / n)
    np.fill_diagonal(w, 0.0)
    ref = np.where(rng.random((2, n)) < 0.5, -1.0, 1.0)
    cw = mc.Posterior(mc.IsingPrior.curie_weiss(n, J=J, beta=beta, field=field), mc.VP(), x_t, 0.6)
    dense = mc.Posterior(mc.IsingPrior(w, beta=beta, field=field), mc.VP(), x_t, 0.6)
    v_cw = franz_parisi(cw, reference=ref)
    v_dense = franz_parisi(dense, reference=ref)
    np.testing.assert_allclose(v_cw["V"], v_dense["V"], rtol=1e-10, atol=1e-12)
    big = mc.Posterior(mc.IsingPrior.curie_weiss(25), mc.VP(), np.zeros(25), 0.6)
    with pytest.raises(ValueError, match="^method: no exact Franz-Parisi route for CurieWeissPosterior"):
        franz_parisi(big, reference=np.ones(25))


# -- source scan -----------------------------------------------------------------------------------
def _concrete_model_classes():
    names = set()
    for name in mc.models.__all__:
        obj = getattr(mc.models, name)
        if inspect.isclass(obj) and name not in ("DataModel", "ExactPosterior"):
            names.add(name)
    return names


def _class_names(node, aliases):
    """Identifiers named by the class argument of isinstance (a name, attribute or tuple of them)."""
    if isinstance(node, ast.Tuple):
        return [n for elt in node.elts for n in _class_names(elt, aliases)]
    if isinstance(node, ast.Name):
        return [aliases.get(node.id, node.id)]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    return []


def test_no_isinstance_on_concrete_model_classes_outside_mc_models():
    concrete = _concrete_model_classes()
    assert {"Dataset", "GaussianMixture", "CurieWeissPrior", "DiscretePosterior"} <= concrete
    files = [p for top in ("mc", "replica") for p in sorted((ROOT / top).rglob("*.py"))]
    files = [p for p in files if (ROOT / "mc" / "models") not in p.parents]
    assert len(files) > 10
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases = {a.asname: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for a in node.names if a.asname}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2):
                hits = sorted(set(_class_names(node.args[1], aliases)) & concrete)
                if hits:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.id}(..., {', '.join(hits)})")
    assert not offenders, "isinstance on concrete model classes (use a model hook):\n" + "\n".join(offenders)
