"""Numba kernels: plain functions of arrays, no objects, no I/O, no global random state.

``rng`` (xoshiro256** streams), ``spins`` (Metropolis / heat-bath sweeps, Curie-Weiss, dense and
sparse couplings), ``lattice`` (hypercubic lattices with bonds of one magnitude: integer local
sums and tabulated acceptances), ``continuous`` (RWM, MALA, HMC) with ``priors``, ``sphere`` (moves on the
hypersphere), ``points`` (finite data sets) and ``tempering`` (replica exchange). The driver is
``mc.sampler``.
"""
