"""load_network / save_npz: round trips and refusals."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from exactnet.net import Network, from_torch, load_network, save_npz


def benchmark_net(widths, seed=0):
    """The spec's benchmark construction (numpy, PyTorch's default init), torch layout."""
    rng = np.random.default_rng(seed)
    ws, bs = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        k = 1 / np.sqrt(fan_in)
        ws.append(rng.uniform(-k, k, size=(fan_in, fan_out)).T)
        bs.append(rng.uniform(-k, k, size=(fan_out,)))
    return Network.from_arrays(ws, bs)


def same_weights(a: Network, b: Network):
    assert a.widths == b.widths
    for la, lb in zip(a.layers, b.layers):
        assert (la.weight_exact == lb.weight_exact).all() and (la.bias_exact == lb.bias_exact).all()
        assert (la.negative_slope_exact == lb.negative_slope_exact).all()


# ---------------------------------------------------------------------------- npz
@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), st.integers(0, 1000))
def test_npz_round_trip(tmp_path_factory, widths, seed):
    net = benchmark_net(widths, seed)
    path = tmp_path_factory.mktemp("npz") / "net.npz"
    save_npz(net, path)
    loaded = load_network(path)
    same_weights(net, loaded)
    assert load_network(path, widths=widths).widths == tuple(widths)


def test_npz_negative_slope(tmp_path):
    net = benchmark_net((2, 3, 1))
    save_npz(net, tmp_path / "n.npz")
    leaky = load_network(tmp_path / "n.npz", negative_slope=0.5)
    assert list(leaky.layers[0].negative_slope) == [0.5] * 3 and leaky.layers[1].is_linear


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(W0=np.ones((2, 2)), b0=np.ones(2), foo=np.ones(1)), "unexpected keys"),
        (dict(W0=np.ones((2, 2)), b0=np.ones(2), W1=np.ones((1, 2))), r"missing \['b1'\]"),
        (dict(W0=np.ones((2, 2)), b0=np.ones(2), W2=np.ones((1, 2)), b2=np.ones(1)), "without gaps"),
        (dict(W0=np.ones((2, 2)), b0=np.ones(2), W01=np.ones((1, 2)), b01=np.ones(1)), "unexpected keys"),
        (dict(W0=np.ones((3, 2)), b0=np.ones(3), W1=np.ones((1, 2)), b1=np.ones(1)), r"W1 has shape \(1, 2\)"),
        (dict(W0=np.ones((3, 2)), b0=np.ones(2)), r"b0 has shape \(2,\)"),
        (dict(W0=np.ones(3), b0=np.ones(3)), r"W0 has shape \(3,\)"),
        (dict(W0=np.array([["a", "b"]]), b0=np.ones(1)), "dtype"),
        (dict(W0=np.ones((1, 2), dtype=bool), b0=np.ones(1)), "dtype"),
        (dict(W0=np.array([[1, None]], dtype=object), b0=np.ones(1)), "not numeric"),
    ],
)
def test_bad_npz(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        load_network(write(tmp_path / "bad.npz", **arrays))


def test_npz_widths_checked(tmp_path):
    save_npz(benchmark_net((2, 3, 1)), tmp_path / "n.npz")
    with pytest.raises(ValueError, match=r"widths=\(2, 4, 1\)"):
        load_network(tmp_path / "n.npz", widths=(2, 4, 1))


def test_save_npz_refuses_non_relu(tmp_path):
    net = from_torch(nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(0.1), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="ReLU"):
        save_npz(net, tmp_path / "n.npz")


def test_unknown_extension(tmp_path):
    (tmp_path / "net.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=r"\.npz.*\.pt.*\.safetensors"):
        load_network(tmp_path / "net.h5")


# ---------------------------------------------------------------------------- torch
def torch_model(widths, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(widths) - 2 else [])
    return nn.Sequential(*mods)


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_torch_round_trip(tmp_path, suffix):
    model = torch_model((3, 5, 4, 2))
    torch.save(model.state_dict(), tmp_path / f"m{suffix}")
    net = load_network(tmp_path / f"m{suffix}", widths=(3, 5, 4, 2))
    same_weights(net, from_torch(model))
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / f"wrapped{suffix}")
    same_weights(load_network(tmp_path / f"wrapped{suffix}", widths=(3, 5, 4, 2)), net)
    x = np.random.default_rng(0).normal(size=(4, 3))
    with torch.no_grad():
        expected = model.double()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-12, atol=1e-14)


def test_torch_needs_matching_widths(tmp_path):
    torch.save(torch_model((3, 5, 2)).state_dict(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"widths=.*required.*'0.weight': \(5, 3\)"):
        load_network(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"does not match widths=\(3, 4, 2\)"):
        load_network(tmp_path / "m.pt", widths=(3, 4, 2))
    with pytest.raises(ValueError, match="does not match"):
        load_network(tmp_path / "m.pt", widths=(3, 5, 2, 1))


def test_torch_bad_state_dict(tmp_path):
    state = torch_model((2, 3, 1)).state_dict()
    state["extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="unexpected entry 'extra'"):
        load_network(tmp_path / "m.pt", widths=(2, 3, 1))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="state_dict"):
        load_network(tmp_path / "list.pt", widths=(2, 3, 1))


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


class Custom:
    pass


@pytest.mark.parametrize("obj", [Custom(), Payload(), "model"], ids=["custom", "reduce", "whole-model"])
def test_torch_refuses_pickled_objects(tmp_path, obj, capsys):
    if obj == "model":
        obj = torch_model((2, 3, 1))
    torch.save({"weights": obj}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights_only=True"):
        load_network(tmp_path / "evil.pt", widths=(2, 3, 1))
    assert "must never run" not in capsys.readouterr().out


# ---------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = torch_model((2, 6, 1), seed=4)
    safetensors_torch.save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    net = load_network(tmp_path / "m.safetensors", widths=(2, 6, 1))
    same_weights(net, from_torch(model))
    with pytest.raises(ValueError, match="widths"):
        load_network(tmp_path / "m.safetensors")


# ----------------------------------------------------------------- truncated and corrupt files
def _cut(src, dst, keep):
    data = src.read_bytes()
    dst.write_bytes(data[:keep] if isinstance(keep, int) else keep(data))


@pytest.mark.parametrize("how", ["half", "tail", "header", "empty", "crc"])
def test_truncated_or_corrupt_npz_named(tmp_path, how):
    good = tmp_path / "good.npz"
    save_npz(benchmark_net((2, 4, 1)), good)
    size = good.stat().st_size
    bad = tmp_path / "bad.npz"

    def corrupt(data):  # the bytes of the first member's data changed: its CRC no longer matches
        return data[:60] + bytes(b ^ 0xFF for b in data[60:80]) + data[80:]

    _cut(good, bad, {"half": size // 2, "tail": size - 10, "header": 10, "empty": 0, "crc": corrupt}[how])
    with pytest.raises(ValueError, match=r"bad\.npz: not a valid weights file"):
        load_network(bad)


def test_npy_renamed_to_npz(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(ValueError, match="not a valid weights file: it holds a single array"):
        load_network(path)


def test_truncated_torch_and_safetensors_named(tmp_path):
    from safetensors.torch import save_file

    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    torch.save(model.state_dict(), tmp_path / "m.pt")
    save_file(model.state_dict(), tmp_path / "m.safetensors")
    for name in ("m.pt", "m.safetensors"):
        src = tmp_path / name
        bad = tmp_path / f"bad_{name}"
        _cut(src, bad, src.stat().st_size // 2)
        with pytest.raises(ValueError, match=rf"bad_{name}: not a valid weights file"):
            load_network(bad, widths=(2, 4, 1))
