"""Learned scores: the torch adapter, weights files, the denoiser network and its registry entry."""
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import mc  # noqa: E402
from mc.scores import GaussianScore, registry  # noqa: E402
from mc.scores.network import make_denoiser_mlp, train_denoiser  # noqa: E402
from mc.scores.torch_adapter import TorchScore, load_weights, save_weights  # noqa: E402

PROCESSES = [(mc.VP(), (0.03, 0.4, 2.0)), (mc.VE(2.0), (0.01, 0.3, 4.0)), (mc.VPLinear(), (0.005, 0.1, 0.6))]


# ------------------------------------------------------------------------------------------------
# the Gaussian (Wiener) score as torch modules, in every conditioning and output
class GaussianModule(torch.nn.Module):
    """Exact quantities of N(m, C) in float64, C = U diag(lam) U^T.

    sigma conditioning (y = x0 + sigma eps): denoiser m + C (C + sigma^2)^-1 (y - m), score of y
    -(C + sigma^2)^-1 (y - m), noise (y - denoiser) / sigma. time conditioning (x = a x0 + sqrt(D) eps):
    denoiser m + a C (a^2 C + D)^-1 (x - a m), score -(a^2 C + D)^-1 (x - a m), noise -sqrt(D) score.
    """

    def __init__(self, mean, cov, conditioning, output, process=None):
        super().__init__()
        lam, U = np.linalg.eigh(cov)
        self.register_buffer("m", torch.tensor(mean, dtype=torch.float64))
        self.register_buffer("lam", torch.tensor(lam, dtype=torch.float64))
        self.register_buffer("U", torch.tensor(U, dtype=torch.float64))
        self.conditioning, self.output, self.process = conditioning, output, process
        self.calls = []

    def forward(self, z, cond):
        self.calls.append(z.shape[0])
        assert cond.shape == (z.shape[0],) and torch.all(cond == cond[0])
        if self.conditioning == "sigma":
            a, D = torch.ones_like(cond), cond**2
        else:
            t = float(cond[0])
            a = torch.full_like(cond, self.process.a(t))
            D = torch.full_like(cond, self.process.D(t))
        a, D = a[:, None], D[:, None]
        u = (z - a * self.m) @ self.U
        var = a * a * self.lam + D
        if self.output == "denoiser":
            return self.m + (a * self.lam / var * u) @ self.U.T
        score = -(u / var) @ self.U.T
        return score if self.output == "score" else -D.sqrt() * score


@pytest.fixture
def gaussian(rng):
    n_dim = 3
    A = rng.normal(size=(n_dim, n_dim))
    return rng.normal(size=n_dim), A @ A.T / n_dim + 0.1 * np.eye(n_dim)


@pytest.mark.parametrize("conditioning", ["sigma", "time"])
@pytest.mark.parametrize("output", ["denoiser", "score", "noise"])
def test_gaussian_module_matches_gaussian_score(gaussian, rng, conditioning, output):
    mean, cov = gaussian
    for process, times in PROCESSES:
        module = GaussianModule(mean, cov, conditioning, output, process)
        wrapped = TorchScore(module, 3, process, output=output, conditioning=conditioning, batch_size=8,
                             device="cpu")
        exact = GaussianScore(mean, cov, process)
        assert wrapped.dtype == torch.float64
        for t in times:
            a, D = process.a(t), process.D(t)
            x = a * (mean + rng.normal(size=(37, 3))) + math.sqrt(D) * rng.normal(size=(37, 3))
            module.calls.clear()
            for got, want in ((wrapped.score(x, t), exact.score(x, t)), (wrapped.denoise(x, t), exact.denoise(x, t))):
                assert got.dtype == np.float64 and got.shape == x.shape
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max(),
                                           err_msg=f"{process.name} t={t} {conditioning} {output}")
            assert module.calls == [8, 8, 8, 8, 5] * 2  # batches of batch_size rows


def test_torch_score_defaults_and_checks(gaussian, rng):
    mean, cov = gaussian
    module = GaussianModule(mean, cov, "sigma", "denoiser").float()
    wrapped = TorchScore(module, 3, mc.VP())
    assert wrapped.dtype == torch.float32 and wrapped.device.type in ("cpu", "cuda") and not module.training
    x = rng.normal(size=(5, 3))
    out = wrapped.denoise(x, 0.5)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, GaussianScore(mean, cov, mc.VP()).denoise(x, 0.5), rtol=1e-4, atol=1e-5)
    assert wrapped.denoise(np.zeros((0, 3)), 0.5).shape == (0, 3)
    for kwargs, key in (({"output": "eps"}, "output"), ({"conditioning": "t"}, "conditioning"),
                        ({"batch_size": 0}, "batch_size"), ({"dtype": "int32"}, "dtype")):
        with pytest.raises(ValueError, match=f"^{key}: "):
            TorchScore(module, 3, mc.VP(), **kwargs)
    with pytest.raises(ValueError, match="^module: "):
        TorchScore(lambda y, s: y, 3, mc.VP())
    with pytest.raises(ValueError, match="^x: "):
        wrapped.denoise(np.zeros((2, 4)), 0.5)


class _Bad(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, y, sigma):
        if self.kind == "shape":
            return y[:, :1]
        if self.kind == "tuple":
            return (y,)
        return y * float("nan")


@pytest.mark.parametrize("kind,match", [("shape", r"_Bad returned \(4, 1\)"), ("tuple", "_Bad returned tuple"),
                                        ("nan", "_Bad returned a non-finite value")])
def test_torch_score_refuses_bad_outputs(kind, match):
    wrapped = TorchScore(_Bad(kind), 2, mc.VP(), device="cpu")
    with pytest.raises(ValueError, match=f"^module: {match}"):
        wrapped.score(np.ones((4, 2)), 0.3)


# ------------------------------------------------------------------------------------------------
# weights files
def _same_outputs(m1, m2):
    y, s = torch.randn(6, 3, dtype=torch.float32), torch.full((6,), 0.7)
    with torch.no_grad():
        return torch.equal(m1(y, s), m2(y, s))


def test_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    net = make_denoiser_mlp(3, hidden=16, depth=2, sigma_data=0.7)
    path = save_weights(net, tmp_path / "net.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["net.safetensors"]  # no temporary file left
    fresh = load_weights(make_denoiser_mlp(3, hidden=16, depth=2), path)
    assert float(fresh.sigma_data) == pytest.approx(0.7) and _same_outputs(net, fresh)
    torch.save(net.state_dict(), tmp_path / "net.pt")
    fresh = load_weights(make_denoiser_mlp(3, hidden=16, depth=2), str(tmp_path / "net.pt"))
    assert float(fresh.sigma_data) == pytest.approx(0.7) and _same_outputs(net, fresh)
    with pytest.raises(ValueError, match="^path: "):
        save_weights(net, tmp_path / "net.pt")


def test_weights_refusals(tmp_path):
    net = make_denoiser_mlp(3, hidden=16, depth=2)
    pkl = tmp_path / "net.pkl"
    torch.save(net.state_dict(), pkl)
    with pytest.raises(ValueError, match=r"^score\.weights: .*net\.pkl: unsupported file type '\.pkl'"):
        load_weights(net, pkl)
    with pytest.raises(ValueError, match=r"^score\.weights: .*missing\.safetensors: no such file"):
        load_weights(net, tmp_path / "missing.safetensors")
    save_weights(make_denoiser_mlp(3, hidden=8, depth=2), tmp_path / "small.safetensors")
    with pytest.raises(ValueError, match=r"^score\.weights: .*small\.safetensors does not fit DenoiserMLP: .*size"):
        load_weights(net, tmp_path / "small.safetensors")
    save_weights(make_denoiser_mlp(3, hidden=16, depth=3), tmp_path / "deep.safetensors")
    with pytest.raises(ValueError, match=r"^score\.weights: .*deep\.safetensors does not fit .*Unexpected key"):
        load_weights(net, tmp_path / "deep.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"^score\.weights: .*junk\.safetensors: not a readable safetensors"):
        load_weights(net, tmp_path / "junk.safetensors")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"^score\.weights: .*list\.pt: expected a state dict"):
        load_weights(net, tmp_path / "list.pt")
    torch.save({"model": net.state_dict()}, tmp_path / "nested.pth")
    with pytest.raises(ValueError, match=r"^score\.weights: .*nested\.pth: expected a flat state dict .*'model'"):
        load_weights(net, tmp_path / "nested.pth")


class _Payload:
    """Unpickling it would call ``open(marker, "w")``: creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("payload", ["function", "object"])
def test_weights_never_unpickle_code(tmp_path, payload):
    marker = tmp_path / "executed"
    value = math.sqrt if payload == "function" else _Payload(marker)
    path = tmp_path / "evil.pt"
    torch.save({"net.0.weight": torch.zeros(2), "extra": value}, path)
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"^score\.weights: .*evil\.pt: not a file of tensors"):
        load_weights(make_denoiser_mlp(3, hidden=16, depth=2), path)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------
# the denoiser network and the "network" score
POINTS = np.array([[1.0, 1.0], [-1.0, -1.0]])


@pytest.fixture(scope="module")
def trained():
    return train_denoiser(POINTS, hidden=32, depth=2, sigma_min=0.01, sigma_max=10.0, steps=300, batch_size=256,
                          lr=3e-3, seed=0)


def test_train_denoiser_learns_two_points(trained):
    assert not trained.training and trained.loss_history.shape == (300,)
    assert trained.loss_history[-50:].mean() < trained.loss_history[:50].mean()
    assert float(trained.sigma_data) == pytest.approx(1.0)  # root mean square coordinate of +-(1, 1)
    with torch.no_grad():
        near = trained(torch.tensor([[0.97, 1.04]]), torch.tensor([0.02])).numpy()[0]
        far = trained(torch.tensor([[0.97, 1.04], [-1.0, -1.0]]), torch.full((2,), 5.0)).numpy()
    assert np.abs(near - 1.0).max() < 0.2
    assert np.abs(far).max() < 0.3  # exact: tanh(y . (1, 1) / 25) (1, 1), about 0.08


def test_train_denoiser_is_reproducible_and_leaves_global_rng(trained):
    state = torch.random.get_rng_state()
    again = train_denoiser(POINTS, hidden=32, depth=2, sigma_min=0.01, sigma_max=10.0, steps=5, batch_size=16,
                           lr=3e-3, seed=0, weights=[0.25, 0.75])
    twice = train_denoiser(POINTS, hidden=32, depth=2, sigma_min=0.01, sigma_max=10.0, steps=5, batch_size=16,
                           lr=3e-3, seed=0, weights=[0.25, 0.75])
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(again.state_dict().values(), twice.state_dict().values()))
    for key, value in (("sigma_min", 0.0), ("steps", 0), ("lr", -1.0), ("hidden", 1.5)):
        kwargs = dict(hidden=4, depth=1, sigma_min=0.1, sigma_max=1.0, steps=2, batch_size=2, lr=1e-3, seed=0)
        kwargs[key] = value
        with pytest.raises(ValueError, match=f"^{key}: "):
            train_denoiser(POINTS, **kwargs)
    with pytest.raises(ValueError, match="^sigma_max: "):
        train_denoiser(POINTS, hidden=4, depth=1, sigma_min=1.0, sigma_max=0.1, steps=2, batch_size=2, lr=1e-3, seed=0)


def test_network_entry_builds_from_weights(trained, tmp_path, rng):
    entry = registry.get("network")
    assert entry.learned and entry.files == ("weights",) and entry.doc
    path = save_weights(trained, tmp_path / "net.safetensors")
    data = SimpleNamespace(points=POINTS, prior_weights=None)
    p = registry.parse(entry, {"weights": str(path), "hidden": 32, "depth": 2, "batch_size": 7})
    for process in (mc.VP(), mc.VE(2.0)):
        score = entry.build(p, data, process)
        assert isinstance(score, TorchScore) and score.name == "network" and score.batch_size == 7
        x, t = rng.normal(size=(20, 2)), 0.3
        a, D = process.a(t), process.D(t)
        with torch.no_grad():
            want = trained(torch.tensor(x / a, dtype=torch.float32), torch.full((20,), math.sqrt(D) / a)).double()
        np.testing.assert_allclose(score.denoise(x, t), want.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(score.score(x, t), (a * want.numpy() - x) / D, rtol=1e-4, atol=1e-5)


def test_network_entry_errors(trained, tmp_path):
    entry = registry.get("network")
    data = SimpleNamespace(points=POINTS, prior_weights=None)
    missing = registry.parse(entry, {"weights": str(tmp_path / "none.safetensors"), "hidden": 32, "depth": 2})
    with pytest.raises(ValueError, match=r"^score\.weights: .*none\.safetensors: no such file"):
        entry.build(missing, data, mc.VP())
    path = save_weights(trained, tmp_path / "net.safetensors")
    wrong = registry.parse(entry, {"weights": str(path)})  # default hidden = 256, depth = 3
    with pytest.raises(ValueError, match=r"^score\.weights: .*net\.safetensors does not fit DenoiserMLP"):
        entry.build(wrong, data, mc.VP())
    for table, match in (({"weights": ""}, r"^score\.weights: "), ({}, r"^score\.weights: required"),
                         ({"weights": "w.pt", "hidden": 0}, r"^score\.hidden: "),
                         ({"weights": "w.pt", "width": 3}, r"^score\.width: ")):
        with pytest.raises(registry.ScoreSpecError, match=match):
            registry.parse(entry, table)


# ------------------------------------------------------------------------------------------------
# torch stays optional
def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_mc_does_not_import_torch():
    proc = _run("import mc, mc.scores, sys; mc.scores.scores(); assert 'torch' not in sys.modules, 'torch imported'")
    assert proc.returncode == 0, proc.stderr


def test_network_entry_registers_without_torch():
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'safetensors'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import mc, mc.scores\n"
        "from types import SimpleNamespace\n"
        "import numpy as np\n"
        "entry = mc.scores.get('network')\n"
        "p = mc.scores.registry.parse(entry, {'weights': 'w.safetensors'})\n"
        "try:\n"
        "    entry.build(p, SimpleNamespace(points=np.zeros((2, 2))), mc.VP())\n"
        "except ImportError as exc:\n"
        "    assert \"pip install 'diffusion-replicas[torch]'\" in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('built without torch')\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
