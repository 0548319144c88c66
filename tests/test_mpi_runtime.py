"""The MPI runtime comes from the project's own install, and seeding does not depend on the rank.

Each rank draws the same planted x_t from the same (root seed, task key) and a different one for
a different key; rank 0 gathers them. A deadlock becomes a failure through the timeout.
"""
import os
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest

import mc

pytestmark = pytest.mark.mpi

PROGRAM = textwrap.dedent(
    """
    import numpy as np
    from mpi4py import MPI
    import mc

    comm = MPI.COMM_WORLD
    model = mc.GaussianMixture.two_class(1.0, variance=0.5, n_dim=8)
    shared = mc.draw_quenched(model, mc.VP(), t=0.7, seed=11, disorder=3, key=(8,)).x_t
    own = mc.draw_quenched(model, mc.VP(), t=0.7, seed=11, disorder=comm.rank, key=(8,)).x_t
    gathered = comm.gather((comm.size, shared, own), root=0)
    if comm.rank == 0:
        np.save("{out}", np.array([[g[0]] + list(g[1]) + list(g[2]) for g in gathered]), allow_pickle=False)
    """
)


def mpiexec():
    path = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    if not os.path.exists(path):
        pytest.fail(f"no mpiexec next to the interpreter ({path}); the install should provide it (mpich wheel)")
    return path


def run_on_two_ranks(tmp_path, program, out, timeout):
    """Write ``program`` (formatted with the output path) and run it under ``mpiexec -n 2``."""
    script = tmp_path / "program.py"
    script.write_text(program.format(out=out.as_posix()))
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr


def test_two_ranks_draw_identical_disorder_for_identical_keys(tmp_path):
    out = tmp_path / "gathered.npy"
    run_on_two_ranks(tmp_path, PROGRAM, out, timeout=120)
    rows = np.load(out, allow_pickle=False)
    assert rows.shape == (2, 1 + 16)
    assert np.all(rows[:, 0] == 2)  # both ranks saw a world of size 2
    shared, own = rows[:, 1:9], rows[:, 9:]
    np.testing.assert_array_equal(shared[0], shared[1])
    assert not np.array_equal(own[0], own[1])
    # and the serial draw is the same as the one made under MPI
    model = mc.GaussianMixture.two_class(1.0, variance=0.5, n_dim=8)
    serial = mc.draw_quenched(model, mc.VP(), t=0.7, seed=11, disorder=3, key=(8,)).x_t
    np.testing.assert_array_equal(serial, shared[0])


SAMPLER_PROGRAM = textwrap.dedent(
    """
    import numpy as np
    from mpi4py import MPI
    import mc

    comm = MPI.COMM_WORLD
    prior = mc.IsingPrior.curie_weiss(32, beta=1.2)
    rows = []
    for disorder in range(comm.rank, 4, comm.size):  # disorder samples split over ranks
        state = mc.draw_quenched(prior, mc.VP(), 1.5, seed=5, disorder=disorder)
        post = mc.Posterior(prior, mc.VP(), state.x_t, 1.5)
        res = mc.sample(post, n_replicas=2, n_sweeps=200, seed=5, key=(disorder,), tempering="hamiltonian",
                        n_temperatures=3, store="summary")
        rows.append(np.concatenate([[disorder], res.energies.ravel()]))
    gathered = comm.gather(rows, root=0)
    if comm.rank == 0:
        table = np.array(sorted((r for part in gathered for r in part), key=lambda r: r[0]))
        np.save("{out}", table, allow_pickle=False)
    """
)


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_monte_carlo_chains_are_identical_on_one_and_two_ranks(tmp_path):
    out = tmp_path / "energies.npy"
    run_on_two_ranks(tmp_path, SAMPLER_PROGRAM, out, timeout=300)
    table = np.load(out, allow_pickle=False)
    assert table.shape == (4, 1 + 2 * 200)
    prior = mc.IsingPrior.curie_weiss(32, beta=1.2)
    for disorder in range(4):
        state = mc.draw_quenched(prior, mc.VP(), 1.5, seed=5, disorder=disorder)
        post = mc.Posterior(prior, mc.VP(), state.x_t, 1.5)
        res = mc.sample(post, n_replicas=2, n_sweeps=200, seed=5, key=(disorder,), tempering="hamiltonian",
                        n_temperatures=3, store="summary")
        np.testing.assert_array_equal(table[disorder, 1:], res.energies.ravel())
