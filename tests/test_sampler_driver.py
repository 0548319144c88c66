"""The sampler driver: determinism, replica streams, checkpoints, storage modes and bad input."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mc
from mc import sampler

# These tests check the driver's mechanics (shapes, seeds, checkpoints, bad input) on deliberately
# short runs; no assertion here uses an error bar, which is what ShortChainWarning qualifies.
pytestmark = pytest.mark.filterwarnings("ignore::mc.diagnostics.ShortChainWarning")


def _spin_posterior(n=24):
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=1.2, seed=3)
    x_t = np.random.default_rng(1).standard_normal(n)  # N > 20: no exact prior draw
    return mc.Posterior(prior, mc.VP(), x_t, 1.0)


def _gmm_posterior(n=6):
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=n)
    state = mc.draw_quenched(model, mc.VP(), 1.0, seed=1)
    return mc.Posterior(model, mc.VP(), state.x_t, 1.0)


def _odd_gmm_posterior():
    """N = 5: an odd number of normals per move, so a replica's spare polar normal is often full."""
    return _gmm_posterior(5)


def _sphere_posterior():
    model = mc.Hypersphere(7)
    state = mc.draw_quenched(model, mc.VP(), 0.8, seed=2)
    return mc.Posterior(model, mc.VP(), state.x_t, 0.8)


@pytest.mark.parametrize("make,extra", [
    (_spin_posterior, {}),
    (_spin_posterior, {"tempering": "hamiltonian", "n_temperatures": 3}),
    (_gmm_posterior, {"method": "hmc"}),
    (_gmm_posterior, {"tempering": "likelihood", "n_temperatures": 3}),
    (_odd_gmm_posterior, {}),
    (_sphere_posterior, {"tempering": "likelihood", "n_temperatures": 3}),
])
def test_same_seed_same_numbers_and_replicas_independent_of_their_number(make, extra):
    post = make()
    a = mc.sample(post, n_replicas=4, n_sweeps=300, seed=9, key=(2, 5), **extra)
    b = mc.sample(post, n_replicas=4, n_sweeps=300, seed=9, key=(2, 5), **extra)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.energies, b.energies)
    # replica r is the same chain whether 2 or 4 replicas run (what makes MPI layouts irrelevant)
    two = mc.sample(post, n_replicas=2, n_sweeps=300, seed=9, key=(2, 5), **extra)
    np.testing.assert_array_equal(two.samples, a.samples[:2])
    # different replicas, seeds and keys give different chains
    assert not np.array_equal(a.samples[0], a.samples[1])
    other = mc.sample(post, n_replicas=2, n_sweeps=300, seed=10, key=(2, 5), **extra)
    assert not np.array_equal(other.samples, two.samples)
    other_key = mc.sample(post, n_replicas=2, n_sweeps=300, seed=9, key=(2, 6), **extra)
    assert not np.array_equal(other_key.samples, two.samples)


@pytest.mark.parametrize("make,thin", [(_spin_posterior, 2), (_gmm_posterior, 2), (_odd_gmm_posterior, 1)])
def test_interrupted_run_resumes_to_the_same_numbers(make, thin, tmp_path, monkeypatch):
    post = make()
    kwargs = dict(n_replicas=3, n_sweeps=400, burn_in=100, thin=thin, seed=4, tempering="hamiltonian",
                  n_temperatures=3)
    full = mc.sample(post, **kwargs)
    path = tmp_path / "chain.npz"
    family = sampler._SpinFamily if post.model.state_space == "spins" else sampler._ContinuousFamily
    # production runs several draws per call (run_draws); interrupt after its third call
    original = family.run_draws
    calls = {"n": 0}

    def flaky(self, *args):
        calls["n"] += 1
        out = original(self, *args)
        if calls["n"] == 3:  # inside production, after burn-in: as if Ctrl-C were pressed here
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(family, "run_draws", flaky)
    with pytest.raises(KeyboardInterrupt):
        mc.sample(post, checkpoint=path, **kwargs)
    monkeypatch.setattr(family, "run_draws", original)
    with np.load(path) as data:  # stopped part-way through production
        assert 100 < json.loads(str(data["meta"]))["sweeps_done"] < 500
    assert path.exists()
    if make is _odd_gmm_posterior:  # 3 rungs x 5 normals per sweep: every spare is full here
        with np.load(path) as data:
            assert np.isfinite(data["state_normal_spare"]).all()
    resumed = mc.sample(post, checkpoint=path, resume=True, **kwargs)
    np.testing.assert_array_equal(resumed.samples, full.samples)
    np.testing.assert_array_equal(resumed.energies, full.energies)
    np.testing.assert_array_equal(resumed.exchange_rate, full.exchange_rate)
    np.testing.assert_array_equal(resumed.step_size, full.step_size)


KILLED_PROGRAM = textwrap.dedent(
    """
    import os
    import signal
    import sys
    import numpy as np
    import mc
    from mc import run_control

    save = run_control.save_checkpoint

    def save_then_sigterm(path, arrays):
        # SLURM's SIGTERM arrives right after the run's first periodic checkpoint: an event of the
        # run itself, not a moment on the clock
        save(path, arrays)
        if not save_then_sigterm.sent:
            save_then_sigterm.sent = True
            os.kill(os.getpid(), signal.SIGTERM)

    save_then_sigterm.sent = False
    run_control.save_checkpoint = save_then_sigterm
    prior = mc.IsingPrior.curie_weiss(64, beta=1.1)
    post = mc.Posterior(prior, mc.VP(), np.linspace(-1, 1, 64), 1.0)
    mc.sample(post, n_replicas=2, n_sweeps=600_000, thin=200, seed=3, tempering=None, checkpoint=sys.argv[1],
              checkpoint_every=0.01, resume=True)
    """
)


@pytest.mark.slow
def test_sigterm_saves_the_state_and_the_resumed_run_gives_the_uninterrupted_numbers(tmp_path):
    """SLURM's SIGTERM during a checkpointed run: the process stops at a chunk boundary with the
    state saved; resuming gives exactly the numbers of a run that was never interrupted."""
    script = tmp_path / "long_run.py"
    script.write_text(KILLED_PROGRAM)
    path = tmp_path / "chain.npz"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=120)  # the program signals itself at its first checkpoint
    assert path.exists(), "no checkpoint was written"
    assert proc.returncode != 0 and "SIGTERM" in err, err[-2000:]
    with np.load(path, allow_pickle=False) as data:
        meta = data["meta"]
    assert '"sweeps_done"' in str(meta)
    prior = mc.IsingPrior.curie_weiss(64, beta=1.1)
    post = mc.Posterior(prior, mc.VP(), np.linspace(-1, 1, 64), 1.0)
    kwargs = dict(n_replicas=2, n_sweeps=600_000, thin=200, seed=3, tempering=None)
    resumed = mc.sample(post, checkpoint=path, resume=True, **kwargs)
    full = mc.sample(post, **kwargs)
    np.testing.assert_array_equal(resumed.samples, full.samples)
    np.testing.assert_array_equal(resumed.energies, full.energies)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    post = _spin_posterior()
    path = tmp_path / "chain.npz"
    mc.sample(post, n_replicas=2, n_sweeps=50, seed=1, checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint"):
        mc.sample(post, n_replicas=2, n_sweeps=50, seed=2, checkpoint=path, resume=True)
    # a finished checkpoint of the same run is simply returned again
    again = mc.sample(post, n_replicas=2, n_sweeps=50, seed=1, checkpoint=path, resume=True)
    fresh = mc.sample(post, n_replicas=2, n_sweeps=50, seed=1)
    np.testing.assert_array_equal(again.samples, fresh.samples)


def test_summary_storage_keeps_moments_and_series_but_not_draws():
    post = _spin_posterior()
    full = mc.sample(post, n_replicas=2, n_sweeps=200, seed=1, store="samples")
    small = mc.sample(post, n_replicas=2, n_sweeps=200, seed=1, store="summary")
    assert small.samples is None
    np.testing.assert_array_equal(small.energies, full.energies)
    np.testing.assert_allclose(small.mean, full.samples.mean(axis=1))
    np.testing.assert_allclose(small.second_moment, (full.samples**2).mean(axis=1))
    auto = mc.sample(post, n_replicas=2, n_sweeps=200, seed=1, max_bytes=1000)
    assert auto.samples is None


def test_result_carries_diagnostics_with_documented_shapes():
    post = _spin_posterior()
    res = mc.sample(post, n_replicas=3, n_sweeps=400, thin=2, seed=1, tempering="hamiltonian", n_temperatures=4)
    assert res.samples.shape == (3, 200, post.n_dim)
    assert res.energies.shape == res.overlaps.shape == res.projections.shape == (3, 200)
    assert res.acceptance.shape == (3, 4) and res.exchange_rate.shape == (3, 3)
    assert set(res.tau_int) == {"energy", "overlap", "projection"}
    assert all(v.shape == (3,) for v in res.tau_int.values())
    assert set(res.rhat) == {"energy", "projection", "overlap"}  # three replicas: overlaps too
    assert res.mode_changes.shape == (3, 4)
    np.testing.assert_allclose(res.overlaps[0], np.sum(res.samples[0] * res.samples[1], axis=1) / post.n_dim)
    assert "exchange rates" in res.summary()


def test_progress_bar_runs(capsys):
    mc.sample(_spin_posterior(), n_replicas=1, n_sweeps=50, seed=1, progress=True)
    assert "sweep" in capsys.readouterr().err


def test_r_hat_flags_replicas_stuck_in_different_modes():
    n = 128
    prior = mc.IsingPrior.curie_weiss(n, beta=1.5)
    post = mc.Posterior(prior, mc.VP(), np.zeros(n), 3.0)
    init = np.stack([np.ones(n), -np.ones(n), np.ones(n), -np.ones(n)])
    res = mc.sample(post, n_replicas=4, n_sweeps=2000, seed=1, init=init)
    # x_t = 0: the projection direction is the uniform vector, i.e. the projection is sqrt(N) m
    assert res.rhat["projection"] > 1.5
    m = res.samples.mean(axis=(1, 2))
    assert np.all(np.sign(m) == np.array([1, -1, 1, -1]))
    same_mode = mc.sample(post, n_replicas=4, n_sweeps=2000, seed=1, init=np.ones((4, n)))
    assert same_mode.rhat["projection"] < 1.05  # R-hat only sees what the replicas disagree on


@pytest.mark.parametrize("kwargs,field", [
    ({"n_replicas": 0}, "n_replicas"),
    ({"n_sweeps": -1}, "n_sweeps"),
    ({"thin": 500, "n_sweeps": 100}, "thin"),
    ({"method": "hmc"}, "method"),
    ({"method": "gibbs"}, "method"),
    ({"tempering": "time"}, "tempering"),
    ({"temperatures": [1.0, 0.5]}, "tempering"),
    ({"tempering": "hamiltonian", "temperatures": [0.9, 0.5]}, "temperatures"),
    ({"tempering": "hamiltonian", "temperatures": [1.0, 1.5]}, "temperatures"),
    ({"tempering": "hamiltonian", "temperatures": [1.0, 0.0]}, "temperatures"),
    ({"init": np.zeros((2, 3))}, "init"),
    ({"init": np.zeros((2, 24))}, "init"),
    ({"init": "middle"}, "init"),
    ({"order": "spiral"}, "order"),
    ({"store": "disk"}, "store"),
    ({"step_size": 0.1}, "step_size"),
    ({"checkpoint": "run.txt"}, "checkpoint"),
    ({"seed": -1}, "seed"),
    ({"key": (1, -2)}, "key"),
])
def test_bad_input_names_the_offending_argument(kwargs, field):
    args = {"n_replicas": 2, "n_sweeps": 100, **kwargs}
    with pytest.raises(ValueError, match=field):
        mc.sample(_spin_posterior(), **args)


def test_bad_posterior_and_model_without_prior_function():
    with pytest.raises(ValueError, match="posterior"):
        mc.sample("not a posterior")
    with pytest.raises(ValueError, match="step_size"):
        mc.sample(_gmm_posterior(), n_replicas=1, n_sweeps=10, step_size=-1.0)


def test_checkpoint_in_a_missing_directory_is_refused_before_any_sampling(tmp_path, monkeypatch):
    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started before the checkpoint path was checked")

    monkeypatch.setattr(sampler, "_init_states", no_sampling)
    missing = tmp_path / "missing_dir" / "run.npz"
    with pytest.raises(ValueError, match=r"^checkpoint: directory .*missing_dir.* does not exist"):
        mc.sample(_spin_posterior(), n_replicas=2, n_sweeps=100, checkpoint=missing)
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match=r"^checkpoint: .* is a directory"):
        mc.sample(_spin_posterior(), n_replicas=2, n_sweeps=100, checkpoint=tmp_path / "dir.npz", resume=True)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into any directory")
def test_checkpoint_in_a_read_only_directory_is_refused(tmp_path):
    locked = tmp_path / "read_only"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match=r"^checkpoint: directory .* is not writable"):
        mc.sample(_spin_posterior(), n_replicas=2, n_sweeps=100, checkpoint=locked / "run.npz")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_checkpoint_file_mode_follows_the_umask(tmp_path, umask, mode):
    path = tmp_path / "chain.npz"
    old = os.umask(umask)
    try:
        mc.sample(_spin_posterior(), n_replicas=2, n_sweeps=50, seed=1, checkpoint=path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
