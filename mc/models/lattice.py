"""Ising priors with sparse couplings on hypercubic lattices (ferromagnet and Edwards-Anderson).

``log p0(sigma) = (beta / 2) sigma^T W sigma + b . sigma`` as for :class:`~mc.models.ising.IsingPrior`,
with ``W`` stored as neighbour lists (CSR: ``indptr``, ``indices``, ``weights``; symmetric, no
self-loops), so that a Monte Carlo attempt costs O(degree) and no N x N matrix is formed. Each
nearest-neighbour bond ``<ij>`` appears as ``W_ij = W_ji = J_ij``, so the pair term is
``beta sum_<ij> J_ij sigma_i sigma_j``.

* Ferromagnet: ``J_ij = J`` (2D: Onsager's critical point ``beta_c J = log(1 + sqrt 2) / 2``).
* Edwards-Anderson spin glass (Edwards & Anderson 1975): ``J_ij`` i.i.d. standard normal times
  ``J`` (``"gaussian"``) or ``+-J`` with equal probability (``"bimodal"``).

Sites are numbered in C order of the lattice coordinates ``(i_0, ..., i_{d-1})``; boundaries are
periodic (a side ``L = 2`` with periodic boundaries would double bonds, so ``L >= 3`` is required
then) or open.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse

from .._validation import as_generator, as_positive_int, as_scalar
from .ising import MAX_ENUMERATION_DIM, IsingPrior, SpinKernel, _readonly

__all__ = ["LatticeIsingPrior", "lattice_bonds"]

#: Largest N for which ``couplings`` builds the dense matrix on request.
MAX_DENSE_DIM = 4096


def lattice_bonds(side, lattice_dim, periodic=True):
    """Nearest-neighbour bonds ``(i, j)`` (``i`` < ``j`` not implied) of a ``side^lattice_dim`` lattice."""
    side = as_positive_int(side, "side", minimum=2)
    dim = as_positive_int(lattice_dim, "lattice_dim")
    if periodic and side < 3:
        raise ValueError(f"side: periodic boundaries need side >= 3 (got {side}); use periodic=False")
    n = side**dim
    idx = np.arange(n).reshape((side,) * dim)
    pairs = []
    for axis in range(dim):
        nxt = np.roll(idx, -1, axis=axis)
        if periodic:
            pairs.append(np.stack([idx.ravel(), nxt.ravel()], axis=1))
        else:
            keep = [slice(None)] * dim
            keep[axis] = slice(0, side - 1)
            pairs.append(np.stack([idx[tuple(keep)].ravel(), nxt[tuple(keep)].ravel()], axis=1))
    return np.concatenate(pairs, axis=0)


class LatticeIsingPrior(IsingPrior):
    """Ising prior on a ``side^lattice_dim`` hypercubic lattice with bond couplings ``J_ij``.

    Parameters
    ----------
    side : int
        Linear size L (N = L^lattice_dim).
    lattice_dim : int
        Lattice dimension (2 and 3 are the usual ones).
    bond_couplings : array, shape (n_bonds,)
        ``J_ij`` of the bonds in the order of :func:`lattice_bonds`.
    beta, field : as for :class:`IsingPrior`.
    periodic : bool

    Use the constructors :meth:`ferromagnet` and :meth:`edwards_anderson`.
    """

    name = "lattice_ising"

    def __init__(self, side, lattice_dim, bond_couplings, beta=1.0, field=0.0, periodic=True):
        bonds = lattice_bonds(side, lattice_dim, periodic)
        j = np.asarray(bond_couplings, dtype=np.float64)
        if j.shape != (bonds.shape[0],):
            raise ValueError(f"bond_couplings: expected shape ({bonds.shape[0]},), got {j.shape}")
        if not np.isfinite(j).all():
            raise ValueError("bond_couplings: contains non-finite values")
        self.side = int(side)
        self.lattice_dim = int(lattice_dim)
        self.periodic = bool(periodic)
        n = self.side**self.lattice_dim
        rows = np.concatenate([bonds[:, 0], bonds[:, 1]])
        cols = np.concatenate([bonds[:, 1], bonds[:, 0]])
        vals = np.concatenate([j, j])
        mat = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
        mat.sum_duplicates()
        mat.sort_indices()
        self.sparse_couplings = mat
        self.bonds = _readonly(bonds)
        self.bond_couplings = _readonly(j.copy())
        self._dense = None
        self._init_common(n, beta, field)
        self._extra_params = {"side": self.side, "lattice_dim": self.lattice_dim, "periodic": self.periodic}

    def spin_kernel(self):
        """:class:`~mc.models.ising.SpinKernel` of kind ``"sparse"``: ``beta W`` as CSR arrays
        ``indptr``, ``indices`` (int64) and ``data = beta J_ij`` (float64), for the neighbour-list
        kernels (O(degree) per attempt)."""
        mat = self.sparse_couplings
        return SpinKernel(
            "sparse",
            indptr=np.ascontiguousarray(mat.indptr, dtype=np.int64),
            indices=np.ascontiguousarray(mat.indices, dtype=np.int64),
            data=np.ascontiguousarray(mat.data * self.beta, dtype=np.float64),
        )

    @classmethod
    def ferromagnet(cls, side, lattice_dim=2, J=1.0, beta=1.0, field=0.0, periodic=True):
        """Nearest-neighbour ferromagnet ``J_ij = J``."""
        J = as_scalar(J, "J")
        n_bonds = lattice_bonds(side, lattice_dim, periodic).shape[0]
        out = cls(side, lattice_dim, np.full(n_bonds, J), beta=beta, field=field, periodic=periodic)
        out.name = "lattice_ising"
        out._extra_params["J"] = J
        return out

    @classmethod
    def edwards_anderson(cls, side, lattice_dim=2, J=1.0, beta=1.0, field=0.0, periodic=True, bonds="gaussian", *,
                         seed):
        """Edwards-Anderson spin glass: ``J_ij = J g_ij`` with ``g`` Gaussian or ``+-1`` (``bonds``)."""
        J = as_scalar(J, "J", nonnegative=True)
        gen = as_generator(seed, "seed")
        n_bonds = lattice_bonds(side, lattice_dim, periodic).shape[0]
        if bonds == "gaussian":
            g = gen.standard_normal(n_bonds)
        elif bonds == "bimodal":
            g = 2.0 * gen.integers(0, 2, size=n_bonds) - 1.0
        else:
            raise ValueError(f"bonds: expected 'gaussian' or 'bimodal', got {bonds!r}")
        out = cls(side, lattice_dim, J * g, beta=beta, field=field, periodic=periodic)
        out.name = "edwards_anderson"
        out._extra_params.update({"J": J, "bonds": bonds})
        if isinstance(seed, numbers.Integral):
            out._extra_params["disorder_seed"] = int(seed)
        return out

    @property
    def couplings(self):
        """Dense W (built on request, only for N <= 4096; the sampler uses the neighbour lists)."""
        if self._dense is None:
            if self._n > MAX_DENSE_DIM:
                raise ValueError(
                    f"couplings: N = {self._n} is too large for a dense matrix (limit {MAX_DENSE_DIM}); "
                    "use sparse_couplings"
                )
            self._dense = _readonly(self.sparse_couplings.toarray())
        return self._dense

    def _coupling_operator(self):
        return self.sparse_couplings

    def _pair_energy(self, spins):
        return 0.5 * self.beta * np.einsum("ij,ij->i", np.asarray((self.sparse_couplings @ spins.T).T), spins)

    def params(self):
        out = super().params()
        out.setdefault("n_bonds", int(self.bonds.shape[0]))
        return out





# ------------------------------------------------------------------ scan specs (mc.models.registry)
from typing import Literal  # noqa: E402

from . import registry as _reg  # noqa: E402  (after the classes it builds)
from .ising import _SpinEntry  # noqa: E402


def lattice_side(n_dim, lattice_dim):
    """The side L with ``L^lattice_dim = n_dim``, or ``None`` when N is not such a power."""
    side = round(n_dim ** (1.0 / lattice_dim))
    for guess in (side - 1, side, side + 1):
        if guess >= 1 and guess**lattice_dim == n_dim:
            return guess
    return None


class _LatticeEntry(_SpinEntry):
    """Hypercubic lattices: the grid's N must be a power L^lattice_dim."""

    columns = ("beta", "field", "field_mean", "J", "side", "lattice_dim", "periodic", "n_bonds")

    def check(self, p, n_dims, max_gib):
        minimum = 3 if p.periodic else 2
        for n in n_dims:
            side = lattice_side(n, p.lattice_dim)
            if side is None or side < minimum:
                raise _reg.ModelSpecError(
                    f"grid.n_dim: model {self.name!r} needs N = L^lattice_dim with side L >= {minimum}"
                    f"{' (periodic)' if p.periodic else ''} and lattice_dim = {p.lattice_dim}, got N = {n}; e.g. "
                    f"{[k**p.lattice_dim for k in range(minimum, minimum + 4)]}"
                )

    def memory(self, p, n_dim):  # CSR couplings: 2 d N entries (value and index)
        return [("grid.n_dim", "the sparse couplings", 32.0 * p.lattice_dim * n_dim)]


@_reg.register
class _LatticeFerromagnetEntry(_LatticeEntry):
    name = "lattice"
    doc = "nearest-neighbour Ising ferromagnet J_ij = J on a side^lattice_dim hypercubic lattice (N = side^lattice_dim)"

    class Parameters(_reg.Parameters):
        lattice_dim: Literal[1, 2, 3, 4] = 2
        J: _reg.Float = 1.0
        beta: _reg.NonNegativeFloat = 1.0
        field: _reg.Float = 0.0
        periodic: bool = True

    def build(self, p, n_dim, *, seed, max_bytes):
        return LatticeIsingPrior.ferromagnet(lattice_side(n_dim, p.lattice_dim), p.lattice_dim, J=p.J, beta=p.beta,
                                             field=p.field, periodic=p.periodic)


@_reg.register
class _EdwardsAndersonEntry(_LatticeEntry):
    name = "edwards_anderson"
    doc = "Edwards-Anderson spin glass on a side^lattice_dim lattice, J_ij = J g_ij with Gaussian or +-1 g"
    random = True
    columns = (*_LatticeEntry.columns, "bonds", "disorder_seed")

    class Parameters(_reg.Parameters):
        lattice_dim: Literal[1, 2, 3, 4] = 2
        J: _reg.NonNegativeFloat = 1.0
        beta: _reg.NonNegativeFloat = 1.0
        field: _reg.Float = 0.0
        periodic: bool = True
        bonds: Literal["gaussian", "bimodal"] = "gaussian"

    def build(self, p, n_dim, *, seed, max_bytes):
        return LatticeIsingPrior.edwards_anderson(lattice_side(n_dim, p.lattice_dim), p.lattice_dim, J=p.J,
                                                  beta=p.beta, field=p.field, periodic=p.periodic, bonds=p.bonds,
                                                  seed=seed)
