"""MBAR for harmonic umbrella windows (``replica.mbar``, used by ``replica.umbrella.mbar_bins``)
against ``pymbar`` (an independent implementation of the same estimator, a test dependency).

* Window free energies, bin log-probabilities normalised over all samples and over the grid, their
  standard errors and covariances, MBAR's overlap matrix and scalar agree with ``pymbar.MBAR`` and
  ``compute_perturbed_free_energies`` to 1e-7 (absolute, on quantities of order 1-30) on: a
  double well sampled exactly in 16 windows; unequal stiffnesses and sample counts with the
  centres out of order and samples outside the grid; a single window; two windows far apart
  (overlap near 0).
* The solution satisfies the MBAR equations ``sum_n W_nk = 1``; bad input names the argument.
"""
import contextlib
import io
import logging

import numpy as np
import pytest

from replica import mbar as rm
from replica import umbrella as um
from test_umbrella import _double_well_windows


def _pymbar_bins(q_by_window, centres, kappas, n_dim, edges):
    """The bin estimates by ``pymbar`` (reduced potentials ``u_kn`` as a dense array, bins as
    perturbed states with infinite energy outside the bin)."""
    log = logging.getLogger("pymbar")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(divide="ignore", over="ignore", under="ignore"):
            import pymbar

            q = np.concatenate(q_by_window)
            n_k = np.array([len(x) for x in q_by_window])
            u_kn = 0.5 * n_dim * np.asarray(kappas)[:, None] * (q[None, :] - np.asarray(centres)[:, None]) ** 2
            idx = np.digitize(q, edges) - 1
            inside = (idx >= 0) & (idx < len(edges) - 1)
            occupied = np.flatnonzero(np.bincount(idx[inside], minlength=len(edges) - 1) > 0)
            mbar = pymbar.MBAR(u_kn, n_k, initialize="zeros",
                               relative_tolerance=1e-12)
            u_ln = np.full((2 + occupied.size, q.size), np.inf)
            u_ln[0] = 0.0
            u_ln[1, inside] = 0.0
            for j, b in enumerate(occupied):
                u_ln[2 + j, idx == b] = 0.0
            pert = mbar.compute_perturbed_free_energies(u_ln)
            w = np.asarray(mbar.W_nk)
    finally:
        log.setLevel(level)
    return np.asarray(mbar.f_k), pert, occupied, (w.T @ w) * n_k[None, :]


def _compare(q_by_window, centres, kappas, n_dim, edges, tol=1e-7):
    out = um.mbar_bins(q_by_window, centres, kappas, n_dim, edges)
    f, pert, occupied, overlap = _pymbar_bins(q_by_window, centres, kappas, n_dim, edges)
    np.testing.assert_allclose(out["f"], f - f[0], atol=tol, rtol=0)
    np.testing.assert_allclose(out["overlap_matrix"], overlap, atol=tol, rtol=0)
    d = np.asarray(pert["dDelta_f"])
    for name, ref in (("", 0), ("_grid", 1)):
        np.testing.assert_allclose(out["log_p" + name][occupied], -pert["Delta_f"][ref, 2:], atol=tol, rtol=0)
        np.testing.assert_allclose(out["log_p" + name + "_stderr"][occupied], d[ref, 2:], atol=tol, rtol=0)
        cov = 0.5 * (d[ref, 2:][:, None] ** 2 + d[ref, 2:][None, :] ** 2 - d[2:, 2:] ** 2)
        np.testing.assert_allclose(out["log_p" + name + "_cov"][np.ix_(occupied, occupied)], cov, atol=tol, rtol=0)
    if len(q_by_window) > 1:
        eig = np.sort(np.real(np.linalg.eigvals(overlap)))[::-1]
        assert out["overlap"] == pytest.approx(1.0 - eig[1], abs=tol)
    return out


def _double_well(seed):
    qs, centres, kappas, n, _, _ = _double_well_windows(seed, n=40, n_samples=400)
    return qs, centres, kappas, n


def test_double_well_agrees_with_pymbar():
    qs, centres, kappas, n = _double_well(0)
    out = _compare(qs, centres, kappas, n, np.linspace(-0.9, 0.9, 19))
    assert np.all(out["counts"] > 0)


def test_unequal_windows_out_of_order_agree_with_pymbar():
    rng = np.random.default_rng(3)
    centres = np.array([0.3, -0.5, 0.0, 0.6, -0.2])
    kappas = np.array([20.0, 5.0, 12.0, 30.0, 8.0])
    n = 30
    sizes = [150, 400, 90, 250, 310]
    # each window a Gaussian around its centre, shifted so that the windows disagree slightly
    qs = [c + 0.05 * np.sin(7 * c) + rng.standard_normal(m) / np.sqrt(n * k) for c, k, m in zip(centres, kappas, sizes)]
    _compare(qs, centres, kappas, n, np.linspace(-0.6, 0.6, 13))


def test_single_window_agrees_with_pymbar():
    rng = np.random.default_rng(5)
    qs = [0.1 + 0.2 * rng.standard_normal(500)]
    out = _compare(qs, np.array([0.1]), np.array([1.0]), 25, np.linspace(-0.4, 0.6, 11))
    assert out["f"].tolist() == [0.0]


def test_barely_overlapping_windows_agree_with_pymbar():
    rng = np.random.default_rng(7)
    centres = np.array([-0.5, 0.5])
    qs = [c + 0.08 * rng.standard_normal(300) for c in centres]
    out = _compare(qs, centres, np.array([8.0, 8.0]), 20, np.linspace(-0.8, 0.8, 9), tol=1e-6)
    assert out["overlap"] < 0.01


def test_solution_satisfies_the_mbar_equations():
    qs, centres, kappas, n = _double_well(1)
    res = rm.mbar_harmonic(qs, centres, kappas, n)
    q = np.concatenate(qs)
    n_k = np.array([len(x) for x in qs])
    log_w = res.f[:, None] - 0.5 * n * kappas[:, None] * (q[None, :] - centres[:, None]) ** 2 - res.log_denominator
    np.testing.assert_allclose(np.exp(log_w).sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.exp(log_w).T @ n_k, 1.0, atol=1e-12)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="q_by_window: windows \\[1\\] have no samples"):
        rm.mbar_harmonic([np.zeros(3), np.zeros(0)], [0.0, 1.0], [1.0, 1.0], 10)
    with pytest.raises(ValueError, match="centres, kappas"):
        rm.mbar_harmonic([np.zeros(3), np.zeros(3)], [0.0], [1.0, 1.0], 10)
    with pytest.raises(ValueError, match="q_by_window: samples must be finite"):
        rm.mbar_harmonic([np.array([0.0, np.nan])], [0.0], [1.0], 10)
