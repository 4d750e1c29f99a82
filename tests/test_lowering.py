"""from_torch: lowered networks agree with torch, exactly where they should."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from exactnet.net import Network, UnsupportedLayerError, from_torch


def close(a, b, rtol=1e-12):
    """``a == b`` up to ``rtol`` relative to the largest magnitude of ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.abs(a - b).max(initial=0) <= rtol * max(1.0, np.abs(b).max(initial=0))


def torch_out(model, x):
    with torch.no_grad():
        y = model(torch.as_tensor(x, dtype=torch.float64))
    return y.reshape(len(x), -1).numpy()


# ---------------------------------------------------------------------------- random models
@st.composite
def sequentials(draw):
    """A random eval-mode float64 Sequential, its per-sample input shape, and a seed."""
    shape = draw(st.sampled_from([(draw(st.integers(1, 6)),), (draw(st.integers(1, 3)), draw(st.integers(1, 9)))]))
    input_shape, mods = shape, []
    for _ in range(draw(st.integers(1, 6))):
        kinds = ["linear", "relu", "leaky", "dropout", "bn", "avgpool", "identity"]
        if len(shape) == 2:
            kinds += ["conv", "conv", "flatten"]
        kind = draw(st.sampled_from(kinds))
        if kind == "linear":
            out = draw(st.integers(1, 5))
            mods.append(nn.Linear(shape[-1], out, bias=draw(st.booleans())))
            shape = shape[:-1] + (out,)
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "leaky":
            mods.append(nn.LeakyReLU(draw(st.floats(-2, 2, allow_nan=False))))
        elif kind == "dropout":
            mods.append(nn.Dropout(0.5))
        elif kind == "identity":
            mods.append(nn.Identity())
        elif kind == "flatten":
            mods.append(nn.Flatten())
            shape = (shape[0] * shape[1],)
        elif kind == "bn":
            mods.append(nn.BatchNorm1d(shape[0], affine=draw(st.booleans())))
        elif kind == "avgpool":
            n = shape[-1]
            k = draw(st.integers(1, min(4, n)))
            stride = draw(st.integers(1, 3))
            pad = draw(st.integers(0, k // 2))
            mods.append(
                nn.AvgPool1d(k, stride, pad, ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()))
            )
            with torch.no_grad():
                shape = tuple(mods[-1](torch.zeros((1,) + shape)).shape[1:])
        elif kind == "conv":
            c, n = shape
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
            out = groups * draw(st.integers(1, 2))
            k = draw(st.integers(1, 4))
            dil = draw(st.integers(1, 2))
            padding = draw(st.sampled_from([0, 1, 2, "valid", "same"]))
            stride = 1 if padding == "same" else draw(st.integers(1, 3))
            pad = {"valid": 0, "same": n}.get(padding, padding)
            if n + 2 * pad < dil * (k - 1) + 1:  # too short for the kernel
                k, dil = 1, 1
            mods.append(nn.Conv1d(c, out, k, stride, padding, dil, groups, bias=draw(st.booleans())))
            with torch.no_grad():
                shape = tuple(mods[-1](torch.zeros((1,) + shape)).shape[1:])
    if draw(st.booleans()) and len(mods) > 1:  # nest a chunk
        i = draw(st.integers(0, len(mods) - 1))
        mods = mods[:i] + [nn.Sequential(*mods[i : i + 2])] + mods[i + 2 :]
    model = nn.Sequential(*mods).double()
    seed = draw(st.integers(0, 2**32 - 1))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen, dtype=torch.float64))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen, dtype=torch.float64) * 2 + 0.1)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=gen, dtype=torch.float64))
                    m.bias.copy_(torch.randn(m.num_features, generator=gen, dtype=torch.float64))
    return model.eval(), input_shape, seed


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=80, deadline=None)
@given(sequentials())
def test_random_sequential_matches_torch(case):
    model, input_shape, seed = case
    net = from_torch(model, input_shape)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(7,) + input_shape) * 3
    flat = x.reshape(len(x), -1)
    close(net.forward(flat), torch_out(model, x))
    assert net.layers[-1].is_linear
    for point in flat[:2]:
        close(np.array(net.forward_exact(point), dtype=float), net.forward(point))


def test_float32_model_converts_exactly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    net = from_torch(model)
    assert net.widths == (3, 4, 2)
    for layer, lin in zip(net.layers, (model[0], model[2])):
        assert all(
            q == Fraction(float(v)) for q, v in zip(layer.weight_exact.ravel(), lin.weight.detach().numpy().ravel())
        )
    x = np.random.default_rng(1).normal(size=(5, 3))
    close(net.forward(x), torch_out(model.double(), x))


def test_pattern_equals_torch_preactivations():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 1)).double()
    net = from_torch(model)
    x = torch.randn(50, 2, dtype=torch.float64)
    with torch.no_grad():
        z1 = model[0](x)
        z2 = model[2](model[1](z1))
    expected = torch.cat([z1 > 0, z2 > 0], dim=1).numpy()
    assert net.num_neurons == 14
    np.testing.assert_array_equal(net.pattern(x.numpy()), expected)


def test_layer_structure():
    lin = nn.Linear(3, 3)
    # activation sets the slope of the preceding linear layer
    assert [tuple(l.negative_slope) for l in from_torch(nn.Sequential(lin, nn.LeakyReLU(0.25))).layers] == [
        (0.25,) * 3,
        (1.0,) * 3,
    ]
    # ReLU first, and two activations in a row, append identity layers
    net = from_torch(nn.Sequential(nn.ReLU(), lin, nn.ReLU(), nn.ReLU()), 3)
    assert len(net.layers) == 4 and np.array_equal(net.layers[0].weight, np.eye(3))
    assert net.hidden_widths == (3, 3, 3)
    # LeakyReLU's float slope is taken exactly
    net = from_torch(nn.Sequential(lin, nn.LeakyReLU(0.1)))
    assert net.layers[0].negative_slope_exact[0] == Fraction(0.1)
    # affine maps are not multiplied together
    assert len(from_torch(nn.Sequential(lin, nn.Linear(3, 2))).layers) == 2
    # nothing affine: the identity
    net = from_torch(nn.Sequential(nn.Dropout().eval()), (2, 3))
    assert net.widths == (6, 6)


def test_batchnorm_fold():
    torch.manual_seed(2)
    lin, bn = nn.Linear(3, 4).double(), nn.BatchNorm1d(4).double()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_()
    folded = nn.Sequential(lin, bn, nn.ReLU()).eval()
    assert len(from_torch(folded).layers) == 2  # Linear+BN with ReLU, read-out
    separate = nn.Sequential(lin, nn.ReLU(), bn).eval()
    net = from_torch(separate)
    assert len(net.layers) == 2 and net.layers[1].is_linear
    assert np.array_equal(net.layers[1].weight, np.diag(np.diag(net.layers[1].weight)))
    x = np.random.default_rng(0).normal(size=(6, 3))
    for model in (folded, separate):
        close(from_torch(model).forward(x), torch_out(model, x))
    # exact definition: scale = gamma / sqrt(var + eps) in float64, then exact rationals
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    w = lin.weight.detach().numpy()
    q = from_torch(folded).layers[0].weight_exact
    assert q[1, 2] == Fraction(float(scale[1])) * Fraction(float(w[1, 2]))


def test_linear_on_channels_is_block_diagonal():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv1d(2, 3, 2), nn.Linear(4, 2)).double()
    net = from_torch(model, (2, 5))
    assert net.widths == (10, 12, 6)
    x = np.random.default_rng(0).normal(size=(4, 2, 5))
    close(net.forward(x.reshape(4, -1)), torch_out(model, x))


def test_avgpool_exact_weights():
    net = from_torch(nn.Sequential(nn.AvgPool1d(3)), (2, 6))
    w = net.layers[0].weight_exact
    assert w.shape == (4, 12)
    assert set(w.ravel()) == {Fraction(0), Fraction(1, 3)}
    assert list(w[1, 3:6]) == [Fraction(1, 3)] * 3 and not net.layers[0].float_is_exact
    # padding excluded from the count: border windows average fewer inputs
    net = from_torch(nn.Sequential(nn.AvgPool1d(4, 2, padding=2, count_include_pad=False)), (1, 5))
    w = net.layers[0].weight_exact
    assert list(w[0, :2]) == [Fraction(1, 2)] * 2
    assert list(w[1, :4]) == [Fraction(1, 4)] * 4
    x = np.random.default_rng(0).normal(size=(3, 1, 5))
    close(net.forward(x.reshape(3, -1)), torch_out(nn.Sequential(nn.AvgPool1d(4, 2, 2, count_include_pad=False)), x))


# ---------------------------------------------------------------------------- errors
class Custom(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize("bad", [nn.Tanh(), nn.Softplus(), nn.GELU(), nn.Sigmoid()], ids=lambda m: type(m).__name__)
def test_unsupported_module_message(bad):
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), bad))
    with pytest.raises(UnsupportedLayerError) as info:
        from_torch(model)
    msg = str(info.value)
    assert type(bad).__name__ in msg and "'1.1'" in msg and "Linear" in msg
    assert isinstance(info.value, ValueError)


def test_custom_module_in_sequential_is_traced():
    # (MaxPool1d, Conv2d and custom modules used to be rejected; they are lowered now)
    lin = nn.Linear(2, 3)
    net = from_torch(nn.Sequential(lin, nn.Sequential(nn.ReLU(), Custom())))
    x = np.random.default_rng(0).normal(size=(4, 2))
    close(net.forward(x), torch_out(nn.Sequential(lin, nn.ReLU()).double(), x), rtol=1e-6)


def test_non_sequential_and_non_module():
    lin = nn.Linear(2, 2).double()
    net = from_torch(lin)  # a bare layer is lowered like nn.Sequential(layer)
    x = np.random.default_rng(0).normal(size=(3, 2))
    assert net.widths == (2, 2)
    close(net.forward(x), torch_out(lin, x))
    with pytest.raises(TypeError):
        from_torch([nn.Linear(2, 2)])


def test_padding_mode_and_flatten_batch_rejected():
    with pytest.raises(UnsupportedLayerError, match="padding_mode='circular'"):
        from_torch(nn.Sequential(nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular")), (1, 5))
    with pytest.raises(UnsupportedLayerError, match="batch"):
        from_torch(nn.Sequential(nn.Flatten(0), nn.Linear(2, 1)))


@pytest.mark.parametrize("mod", [nn.BatchNorm1d(2), nn.Dropout(0.1)], ids=["bn", "dropout"])
def test_training_mode_rejected(mod):
    model = nn.Sequential(nn.Linear(2, 2), mod).train()
    with pytest.raises(ValueError, match=r"model\.eval\(\)") as info:
        from_torch(model)
    assert "'1'" in str(info.value) and type(mod).__name__ in str(info.value)


def test_nan_weights_named():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        model[2].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"'2' \(Linear\): weight\[0, 1\] is nan"):
        from_torch(model)
    bn = nn.BatchNorm1d(2).eval()
    with torch.no_grad():
        bn.running_var[0] = float("inf")
    with pytest.raises(ValueError, match="running_var"):
        from_torch(nn.Sequential(nn.Linear(2, 2), bn).eval())


def test_shape_errors():
    conv = nn.Sequential(nn.Conv1d(2, 3, 3))
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(conv)
    with pytest.raises(ValueError, match=r"'0' \(Conv1d\).*in_channels=2.*\(3, 10\)"):
        from_torch(conv, (3, 10))
    with pytest.raises(ValueError, match=r"'0' \(Conv1d\).*\(5,\)"):
        from_torch(conv, 5)
    with pytest.raises(ValueError, match="at least 3"):
        from_torch(conv, (2, 2))
    with pytest.raises(ValueError, match=r"'1' \(Linear\).*in_features=5.*\(4,\)"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)))
    with pytest.raises(ValueError, match=r"'0' \(Linear\).*\(2, 7\)"):
        from_torch(nn.Sequential(nn.Linear(3, 4)), (2, 7))
    with pytest.raises(ValueError, match=r"'1' \(BatchNorm1d\)"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(3)).eval())
    for bad in [(2, 0), ("a",), (), (2, -1)]:
        with pytest.raises(ValueError, match="input_shape must be"):
            from_torch(nn.Sequential(nn.Linear(3, 4)), bad)


def test_output_is_network():
    assert isinstance(from_torch(nn.Sequential(nn.Linear(2, 1)), name="tiny"), Network)
    assert from_torch(nn.Sequential(nn.Linear(2, 1)), name="tiny").name == "tiny"


# ----------------------------------------------------------------- complex numbers are refused
def test_complex_tensors_refused_like_complex_arrays():
    """Complex torch tensors used to lose their imaginary part silently (only torch's
    casting warning); numpy complex arrays were already refused."""
    W = torch.tensor([[1 + 2j, 0.5], [0.0, -1j]], dtype=torch.complex128)
    b = torch.zeros(2, dtype=torch.complex64)
    with pytest.raises(TypeError, match="complex"):
        Network.from_arrays([np.array([[1 + 2j, 0.5]])], [np.zeros(1)])
    with pytest.raises(TypeError, match=r"W0/b0\.weight is a complex tensor"):
        Network.from_arrays([W], [torch.zeros(2)])
    with pytest.raises(TypeError, match=r"W0/b0\.bias is a complex tensor"):
        Network.from_arrays([W.real], [b])
    lin = nn.Linear(2, 2, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"module '0' \(Linear\): (weight|bias) is a complex tensor"):
        from_torch(nn.Sequential(lin))
    net = Network.from_arrays([W.real], [torch.zeros(2)])  # the real part, taken explicitly
    assert net.layers[0].weight_exact[0, 1] == Fraction(1, 2)
    with pytest.raises(TypeError, match="complex"):
        net.forward(torch.tensor([1 + 1j, 0j]))
