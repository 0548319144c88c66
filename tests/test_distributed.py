"""One posterior over several MPI ranks (``mc.sample_distributed``).

Parallelism invariance: the same seed gives the same draws, energies, overlaps, acceptance and
exchange counts and round trips, bit for bit, serially and on 2 and 4 ranks (dense SK couplings,
Curie-Weiss, a tabulated lattice and a continuous mixture). The sampled law: energies and
magnetisations of small spin posteriors against exact enumeration, within 5 standard errors
estimated from the spread of independent replicas.
"""
import os
import subprocess
import sys
import sysconfig
import textwrap
import warnings

import numpy as np
import pytest

import mc
from mc.distributed import chain_owners, sample_distributed

#: The posteriors of the invariance test; run in this process and in the MPI program.
SETUP = textwrap.dedent(
    """
    import numpy as np
    import mc

    def posteriors():
        gen = np.random.default_rng(7)
        out = {}
        sk = mc.IsingPrior.sherrington_kirkpatrick(48, beta=1.5, seed=3)
        x0 = np.where(gen.random(48) < 0.5, 1.0, -1.0)
        out["sk"] = (mc.Posterior(sk, mc.VP(), mc.draw_quenched(sk, mc.VP(), 1.0, seed=5, x0=x0).x_t, 1.0),
                     dict(n_replicas=2, n_temperatures=5, n_sweeps=150))
        cw = mc.IsingPrior.curie_weiss(40, beta=1.3)
        x0 = np.ones(40)
        out["cw"] = (mc.Posterior(cw, mc.VP(), mc.draw_quenched(cw, mc.VP(), 1.5, seed=5, x0=x0).x_t, 1.5),
                     dict(n_replicas=3, n_temperatures=3, n_sweeps=150, thin=2, exchange_every=3))
        lat = mc.IsingPrior.lattice(6, beta=0.5)
        out["lattice"] = (mc.Posterior(lat, mc.VP(), mc.draw_quenched(lat, mc.VP(), 2.0, seed=5, x0=np.ones(36)).x_t,
                                       2.0), dict(n_replicas=2, n_temperatures=4, n_sweeps=150, method="metropolis"))
        gm = mc.GaussianMixture.two_class(2.0, variance=0.3, n_dim=6)
        out["mixture"] = (mc.Posterior(gm, mc.VP(), mc.draw_quenched(gm, mc.VP(), 0.8, seed=5).x_t, 0.8),
                          dict(n_replicas=2, n_temperatures=4, n_sweeps=150, burn_in=60))
        return out

    def run_all(comm, names):
        rows = {}
        for name, (post, kw) in posteriors().items():
            if name not in names:
                continue
            res = mc.sample_distributed(post, comm, seed=11, key=(2, 9), store="samples", **kw)
            rows[name] = np.concatenate([a.ravel().astype(np.float64) for a in (
                res.samples, res.energies, res.overlaps, res.projections, res.mean, res.acceptance,
                res.exchange_rate, res.round_trips, res.step_size)])
        return rows
    """
)

PROGRAM = SETUP + textwrap.dedent(
    """
    import warnings
    from mpi4py import MPI

    warnings.simplefilter("ignore")
    comm = MPI.COMM_WORLD
    rows = run_all(comm, {names!r})
    gathered = comm.gather(rows, root=0)
    if comm.rank == 0:
        same = all(np.array_equal(g[name], rows[name]) for g in gathered for name in rows)
        np.savez("{out}", same=np.array(same), size=np.array(comm.size), **rows)
    """
)


def _mpiexec():
    path = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    if not os.path.exists(path):
        pytest.fail(f"no mpiexec next to the interpreter ({path}); the install should provide it (mpich wheel)")
    return path


def _run_on_ranks(tmp_path, n_ranks, names, timeout=240):
    out = tmp_path / f"rows{n_ranks}.npz"
    script = tmp_path / "program.py"
    script.write_text(PROGRAM.replace("{out}", out.as_posix()).replace("{names!r}", repr(names)))
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([_mpiexec(), "-n", str(n_ranks), sys.executable, str(script)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(out, allow_pickle=False))


@pytest.fixture(scope="module")
def serial_rows():
    namespace = {}
    exec(SETUP, namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return namespace["run_all"](None, ["sk", "cw", "lattice", "mixture"])


# every kind of kernel on 2 ranks; on 4 (on a 2-core machine each process takes seconds to load
# its kernels) the two whose chains do not divide evenly: 10 chains as 3, 3, 2, 2, and 9 as 3, 2, 2, 2
@pytest.mark.mpi
@pytest.mark.parametrize("n_ranks, names", [(2, ["sk", "cw", "lattice", "mixture"]), (4, ["sk", "cw"])])
def test_results_do_not_depend_on_the_number_of_ranks(tmp_path, serial_rows, n_ranks, names):
    rows = _run_on_ranks(tmp_path, n_ranks, names)
    assert int(rows.pop("size")) == n_ranks
    assert bool(rows.pop("same")), "ranks returned different results"
    assert sorted(rows) == sorted(names)
    for name in names:
        np.testing.assert_array_equal(rows[name], serial_rows[name], err_msg=name)


def test_chains_dealt_round_robin_and_errors_name_the_argument():
    np.testing.assert_array_equal(chain_owners(6, 2), [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(chain_owners(10, 4), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    with pytest.raises(ValueError, match="comm: 3 ranks for 2 chains"):
        chain_owners(2, 3)

    class FakeComm:  # only asked its size before anything is communicated
        def Get_size(self):
            return 5

        def Get_rank(self):
            return 0

        def Allgatherv(self, *args):
            raise AssertionError("no communication expected")

    prior = mc.IsingPrior.curie_weiss(8, beta=0.5)
    post = mc.Posterior(prior, mc.VP(), np.ones(8), 1.0)
    with pytest.raises(ValueError, match=r"comm: 5 ranks for 4 chains \(n_replicas 2 x 2 rungs\)"):
        sample_distributed(post, FakeComm(), n_replicas=2, n_temperatures=2, n_sweeps=10)
    with pytest.raises(ValueError, match="comm: expected an mpi4py communicator"):
        sample_distributed(post, object(), n_sweeps=10)
    with pytest.raises(ValueError, match="tempering: 'adaptive'"):
        sample_distributed(post, tempering="adaptive", n_sweeps=10)


def _check_against_enumeration(post, res):
    """Mean energy and magnetisation per replica against the exact posterior: |mean - exact| within
    5 standard errors of the mean over independent replicas."""
    states, probs = post.enumerate()
    exact_e = float(probs @ post.energy(states))
    exact_m = probs @ states
    r = res.n_replicas
    e_rep = res.energies.mean(axis=1)
    se_e = e_rep.std(ddof=1) / np.sqrt(r)
    assert abs(e_rep.mean() - exact_e) <= 5 * se_e, (e_rep.mean(), exact_e, se_e)
    m_rep = res.mean
    se_m = m_rep.std(axis=0, ddof=1) / np.sqrt(r)
    dev = np.abs(m_rep.mean(axis=0) - exact_m) / np.maximum(se_m, 1e-12)
    assert dev.max() <= 5.0, (dev.max(), m_rep.mean(axis=0), exact_m)


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_sk_posterior_against_exact_enumeration():
    prior = mc.IsingPrior.sherrington_kirkpatrick(10, beta=2.0, seed=4)
    state = mc.draw_quenched(prior, mc.VP(), 2.0, seed=8)
    post = mc.Posterior(prior, mc.VP(), state.x_t, 2.0)
    res = sample_distributed(post, None, n_replicas=10, n_temperatures=4, n_sweeps=3000, seed=2, store="summary")
    assert res.n_chains == 40 and res.n_ranks == 1
    # every rung exchanges, and configurations travel the whole ladder
    assert np.all(res.exchange_rate > 0.05) and np.all(res.round_trips > 0)
    # the energies recorded are those of the configurations at rung 0
    _check_against_enumeration(post, res)


@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_bimodal_curie_weiss_posterior_against_exact_enumeration():
    # beta J = 3 with a weak field: two modes of equal weight that single flips do not cross in
    # the run (without a ladder the replicas keep the mode they started in: the spread of their
    # magnetisations is about 0.8); the ladder joins them
    prior = mc.IsingPrior.curie_weiss(16, beta=3.0)
    post = mc.Posterior(prior, mc.VP(), 0.05 * np.ones(16), 3.0)
    states, probs = post.enumerate()
    assert 0.4 < float(probs @ (states.mean(axis=1) > 0)) < 0.6
    res = sample_distributed(post, None, n_replicas=10, n_temperatures=6, lowest_beta=0.2, n_sweeps=3000, seed=3,
                             store="summary")
    assert np.all(res.round_trips > 50)
    assert res.mean.mean(axis=1).std(ddof=1) < 0.2  # the replicas agree on the magnetisation
    _check_against_enumeration(post, res)


def test_sample_is_serial_without_a_communicator():
    prior = mc.IsingPrior.curie_weiss(12, beta=0.8)
    post = mc.Posterior(prior, mc.VP(), 0.3 * np.ones(12), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = sample_distributed(post, n_replicas=2, n_temperatures=3, n_sweeps=100, seed=1, store="samples")
        b = mc.sample_distributed(post, None, n_replicas=2, n_temperatures=3, n_sweeps=100, seed=1, store="samples")
        c = mc.sample_distributed(post, None, n_replicas=2, n_temperatures=3, n_sweeps=100, seed=2, store="samples")
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    np.testing.assert_allclose(a.energies, post.energy(a.samples.reshape(-1, 12)).reshape(2, -1), atol=1e-10)
    assert a.comm_time == 0.0 and a.samples.shape == (2, 100, 12)


# ----------------------------------------------------------------------------- scans
SCAN_SPEC = """
[scan]
name = "sk_chains"
seed = 5

[model]
name = "sherrington_kirkpatrick"
beta = 1.5

[process]
name = "VP"

[grid]
n_dim = [12]
t = [1.0, 2.5]
disorder = 2

[sampler]
method = "heat_bath"
n_replicas = 2
n_sweeps = 200
tempering = "hamiltonian"
n_temperatures = 4
driver = "chains"
ranks_per_task = {per_task}
"""


def _spec(per_task=1, **changes):
    """The scan spec with ``ranks_per_task`` and ``[sampler]`` keys changed (``None``: removed)."""
    import re

    from replica.scan import parse_spec

    text = SCAN_SPEC.format(per_task=per_task)
    for key, value in changes.items():
        text = re.sub(rf"(?m)^{key} = .*\n", "", text)
        if value is not None:
            text = text.replace("[sampler]\n", f"[sampler]\n{key} = {value}\n")
    return parse_spec(text)


def test_scan_spec_checks_the_driver_and_ranks_per_task():
    from replica.scan.spec import SpecError

    assert _spec(1).hash == _spec(2).hash  # the results do not depend on ranks_per_task
    assert _spec(1).hash != _spec(1, driver='"replicas"').hash
    with pytest.raises(SpecError, match="sampler.ranks_per_task: spreading a task over 2 ranks needs sampler.driver"):
        _spec(2, driver='"replicas"')
    with pytest.raises(SpecError, match="sampler.ranks_per_task: 9 ranks for the 8 chains"):
        _spec(9)
    with pytest.raises(SpecError, match="sampler.tempering: 'adaptive'"):
        _spec(1, tempering='"adaptive"', n_temperatures=4)
    with pytest.raises(SpecError, match="sampler.driver: 'chains' drives Monte Carlo chains"):
        _spec(1, method='"exact"', tempering='"none"', n_temperatures=None)
    with pytest.raises(SpecError, match="sampler.driver"):
        _spec(1, driver='"ranks"')


def test_scan_refuses_ranks_per_task_that_does_not_divide_the_ranks(tmp_path):
    from replica.scan.runner import run_scan
    from replica.scan.spec import SpecError

    with pytest.raises(SpecError, match=r"sampler.ranks_per_task: 2 does not divide the 1 rank\(s\)"):
        run_scan(_spec(2), tmp_path / "out", progress=False)


@pytest.mark.mpi
@pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")
def test_scan_tasks_on_groups_of_two_ranks_equal_the_serial_scan(tmp_path):
    import json

    from conftest import ROOT, assert_same_tables, merged_tables, scan_env
    from replica.cli import EXIT_OK, main

    (tmp_path / "one.toml").write_text(SCAN_SPEC.format(per_task=1))
    (tmp_path / "two.toml").write_text(SCAN_SPEC.format(per_task=2))
    assert main(["scan", str(tmp_path / "one.toml"), "--out", str(tmp_path / "one"), "--quiet"]) == EXIT_OK
    # 4 ranks in 2 groups of 2: each task's 8 chains over the 2 ranks of a group
    proc = subprocess.run([_mpiexec(), "-n", "4", sys.executable, "-m", "replica.cli", "scan",
                           str(tmp_path / "two.toml"), "--out", str(tmp_path / "two"), "--quiet"], env=scan_env(),
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    metas = [json.loads(p.read_text()) for p in (tmp_path / "two" / "tasks").glob("*.meta.json")]
    assert len(metas) == 4
    assert {m["rank"] for m in metas} == {0, 2}  # the first rank of each group writes
    assert all(m["ranks_per_task"] == 2 and m["n_ranks"] == 4 for m in metas)
    one, two = merged_tables(tmp_path / "one"), merged_tables(tmp_path / "two")
    assert_same_tables(one, two)
    rows = one["results"]
    assert {"exact", "heat_bath"} <= set(rows["method"])  # Monte Carlo rows beside the exact ones
