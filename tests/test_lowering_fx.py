"""from_torch on 2-D layers, max pooling and traced (torch.fx) models: exact and equal to torch."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from exactnet.net import Layer, Network, UnsupportedLayerError, from_torch
from exactnet.regions.line import segment_regions
from exactnet.regions.plane import partition


def close(a, b, rtol=1e-10):
    """``a == b`` up to ``rtol`` relative to the largest magnitude of ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.abs(a - b).max(initial=0) <= rtol * max(1.0, np.abs(b).max(initial=0))


def torch_out(model, x):
    with torch.no_grad():
        y = model(torch.as_tensor(x, dtype=torch.float64))
    return y.reshape(len(x), -1).numpy()


def check(model, input_shape, seed=0, n=6, scale=2.0):
    """Lower ``model``; the float network equals torch and the exact network equals the float one."""
    model = model.double().eval()
    net = from_torch(model, input_shape)
    x = np.random.default_rng(seed).normal(size=(n,) + tuple(input_shape)) * scale
    flat = x.reshape(n, -1)
    close(net.forward(flat), torch_out(model, x))
    assert net.layers[-1].is_linear
    for point in flat[:2]:
        close(np.array(net.forward_exact(point), dtype=float), net.forward(point))
    return net


def randomize_batchnorm(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
                m.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 2 + 0.1)
                if m.affine:
                    m.weight.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
                    m.bias.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
    return model


def out_shape(module, shape):
    """Per-sample output shape of ``module``, or None when torch rejects the input or the output is empty
    or infinite (a max-pool window entirely in the padding gives -inf)."""
    try:
        with torch.no_grad():
            y = module.double().eval()(torch.randn((1,) + shape, dtype=torch.float64))
    except RuntimeError:
        return None
    return tuple(y.shape[1:]) if y.numel() and torch.isfinite(y).all() else None


# ---------------------------------------------------------------------------- (a) random CNN Sequentials
@st.composite
def layer_2d(draw, shape):
    c = shape[0]
    kind = draw(st.sampled_from(["conv", "conv", "avg", "max", "max", "bn", "relu", "leaky"]))
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
        out = groups * draw(st.integers(1, 2))
        k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = draw(st.sampled_from([0, 1, (0, 1), (1, 0), "valid", "same"]))
        stride = 1 if padding == "same" else draw(st.sampled_from([1, 2, (1, 2), (2, 1)]))
        dil = draw(st.sampled_from([1, 2, (2, 1)]))
        return nn.Conv2d(c, out, k, stride, padding, dil, groups, bias=draw(st.booleans()))
    if kind == "avg":
        k = draw(st.sampled_from([1, 2, 3, (2, 3), (3, 1)]))
        kk = (k, k) if isinstance(k, int) else k
        pad = draw(st.sampled_from([0, (kk[0] // 2, kk[1] // 2)]))
        stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
        override = draw(st.sampled_from([None, None, 3]))
        return nn.AvgPool2d(
            k,
            stride,
            pad,
            ceil_mode=draw(st.booleans()),
            count_include_pad=draw(st.booleans()),
            divisor_override=override,
        )
    if kind == "max":
        k = draw(st.sampled_from([2, 3, (2, 3), (1, 2)]))
        kk = (k, k) if isinstance(k, int) else k
        pad = draw(st.sampled_from([0, (kk[0] // 2, kk[1] // 2)]))
        stride = draw(st.sampled_from([None, 1, 2, (2, 1)]))
        dil = draw(st.sampled_from([1, 2, (1, 2)]))
        return nn.MaxPool2d(k, stride, pad, dil, ceil_mode=draw(st.booleans()))
    if kind == "bn":
        return nn.BatchNorm2d(c, affine=draw(st.booleans()))
    if kind == "relu":
        return nn.ReLU()
    return nn.LeakyReLU(draw(st.sampled_from([0.1, -0.5, 2.0])))


@st.composite
def cnn_sequentials(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(5, 8)), draw(st.integers(5, 8)))
    input_shape, mods = shape, []
    for _ in range(draw(st.integers(1, 4))):
        m = draw(layer_2d(shape))
        new = out_shape(m, shape)
        if new is not None:
            mods.append(m)
            shape = new
    tail = draw(st.sampled_from(["none", "flatten", "flatten-linear", "maxpool1d"]))
    if tail == "flatten":
        mods.append(nn.Flatten())
    elif tail == "flatten-linear":
        mods += [nn.Flatten(), nn.Linear(math.prod(shape), 3)]
    elif tail == "maxpool1d" and shape[1] * shape[2] >= 2:  # (C, H, W) -> (C, H*W) -> max over windows
        mods += [nn.Flatten(2), nn.MaxPool1d(2, draw(st.sampled_from([1, 2])), ceil_mode=draw(st.booleans()))]
    seed = draw(st.integers(0, 2**32 - 1))
    return randomize_batchnorm(nn.Sequential(*mods).double(), seed).eval(), input_shape, seed


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=60, deadline=None)
@given(cnn_sequentials())
def test_random_cnn_sequential_matches_torch(case):
    model, input_shape, seed = case
    check(model, input_shape, seed)


@st.composite
def sequences_1d(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(4, 10)))
    input_shape, mods = shape, []
    for _ in range(draw(st.integers(1, 4))):
        c = shape[0]
        kind = draw(st.sampled_from(["conv", "max", "max", "avg", "relu"]))
        if kind == "conv":
            m = nn.Conv1d(
                c,
                draw(st.integers(1, 2)),
                draw(st.integers(1, 3)),
                draw(st.integers(1, 2)),
                draw(st.sampled_from([0, 1])),
                draw(st.integers(1, 2)),
            )
        elif kind == "max":
            k = draw(st.integers(1, 5))
            m = nn.MaxPool1d(
                k,
                draw(st.sampled_from([None, 1, 2, 3])),
                draw(st.integers(0, k // 2)),
                draw(st.integers(1, 2)),
                ceil_mode=draw(st.booleans()),
            )
        elif kind == "avg":
            k = draw(st.integers(1, 4))
            m = nn.AvgPool1d(
                k,
                draw(st.integers(1, 3)),
                draw(st.integers(0, k // 2)),
                ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()),
            )
        else:
            m = nn.ReLU()
        new = out_shape(m, shape)
        if new is not None:
            mods.append(m)
            shape = new
    return nn.Sequential(*mods).double(), input_shape, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=40, deadline=None)
@given(sequences_1d())
def test_random_1d_sequential_matches_torch(case):
    model, input_shape, seed = case
    check(model, input_shape, seed)


def test_conv2d_dense_matrix_is_exact_and_counts_units():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2).double()
    net = check(nn.Sequential(conv), (2, 7, 6))
    assert net.widths == (84, 4 * 4 * 4)
    w = conv.weight.detach().numpy()
    q = net.layers[0].weight_exact
    # y[o=1, t=(1, 0)] reads input channel 0 (group 0) at (1*2 - 1 + i, 0 + 2 j)
    row = 1 * 16 + 1 * 4 + 0
    assert q[row, 0 * 42 + (2 - 1 + 1) * 6 + 2] == Fraction(float(w[1, 0, 1, 1]))
    assert q[row, 1 * 42 + 2 * 6 + 2] == 0  # the other group


def test_avgpool2d_exact_weights():
    net = from_torch(nn.Sequential(nn.AvgPool2d(3)), (1, 6, 6))
    assert set(net.layers[0].weight_exact.ravel()) == {Fraction(0), Fraction(1, 9)}
    pool = nn.AvgPool2d((2, 3), stride=2, padding=1, count_include_pad=False)
    net = check(nn.Sequential(pool), (2, 5, 5))
    # the corner window covers one real row and two real columns
    assert sorted(set(net.layers[0].weight_exact[0])) == [Fraction(0), Fraction(1, 2)]
    net = check(nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), (1, 4, 4))
    assert max(net.layers[0].weight_exact.ravel()) == Fraction(1, 3)


def test_batchnorm2d_is_folded():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten()).double()
    model = randomize_batchnorm(model, 1)
    net = check(model, (1, 5, 5))
    assert len(net.layers) == 2 and net.hidden_widths == (18,)
    with pytest.raises(ValueError, match=r"'0' \(BatchNorm2d\).*\(1, 5, 5\)"):
        from_torch(nn.Sequential(nn.BatchNorm2d(2).eval()), (1, 5, 5))


# ---------------------------------------------------------------------------- max pooling
def test_maxpool_tournament_depth():
    for k in range(1, 9):
        net = from_torch(nn.Sequential(nn.MaxPool1d(k)), (1, 8))
        depth = len(net.hidden_widths)
        assert depth == math.ceil(math.log2(k)), (k, net)
        assert net.num_neurons == (8 // k) * (k - 1)  # one comparison per element but the winner
    net = check(nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1)), (1, 5, 5))
    assert len(net.hidden_widths) == 4  # 9 elements: ceil(log2 9)


def exact_max_pool2d(x, c, h, w, k, s):
    """Exact MaxPool2d(k, s) without padding of a flat list of Fractions."""
    x = np.array(x, dtype=object).reshape(c, h, w)
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    windows = [x[ci, i * s : i * s + k, j * s : j * s + k] for ci in range(c) for i in range(ho) for j in range(wo)]
    return [max(win.ravel()) for win in windows]


@pytest.mark.parametrize("k, s", [(2, 2), (3, 1), (3, 2)])
def test_maxpool_exact_with_ties_and_rationals(k, s):
    net = from_torch(nn.Sequential(nn.MaxPool2d(k, s)), (2, 6, 5))
    rng = np.random.default_rng(k * 10 + s)
    for trial in range(4):
        if trial % 2 == 0:  # many ties: small integers, some windows constant
            x = [Fraction(int(v)) for v in rng.integers(-1, 2, size=60)]
        else:  # rationals that float64 cannot hold, with repeats
            pool = [Fraction(1, 3), Fraction(-2, 7), Fraction(5, 11), Fraction(1, 3) + Fraction(1, 10**30)]
            x = [pool[i] for i in rng.integers(0, 4, size=60)]
        assert list(net.forward_exact(x)) == exact_max_pool2d(x, 2, 6, 5, k, s)


def test_max_functions_exact():
    class Model(nn.Module):
        def forward(self, x):
            a = torch.amax(x, dim=(2, 3))  # (C,)
            b = x.max(dim=1).values.flatten(1)  # max over channels
            c = torch.min(x, 3, keepdim=True)[0].flatten(1)
            d = torch.maximum(x[:, 0], x[:, 1]).flatten(1)
            return torch.cat([a, b, c, d, F.max_pool2d(x, 2).flatten(1), torch.clamp(x, -0.5, 0.25).flatten(1)], 1)

    net = check(Model(), (2, 3, 4))
    x = [Fraction(int(v), 3) for v in np.random.default_rng(0).integers(-2, 3, size=24)]
    t = np.array(x, dtype=object).reshape(2, 3, 4)
    expected = [max(t[c].ravel()) for c in range(2)]
    expected += list(np.maximum(t[0], t[1]).ravel())
    expected += [min(t[c, i]) for c in range(2) for i in range(3)]
    expected += list(np.maximum(t[0], t[1]).ravel())
    expected += [max(t[c, :2, 2 * j : 2 * j + 2].ravel()) for c in range(2) for j in range(2)]
    expected += [min(max(v, Fraction(-1, 2)), Fraction(1, 4)) for v in t.ravel()]
    assert list(net.forward_exact(x)) == expected


def test_maxpool_padding_is_minus_infinity():
    # all inputs negative: a zero padding would win, -inf padding never does
    pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    net = check(nn.Sequential(pool), (1, 6, 6))
    x = -np.arange(1, 37, dtype=float)
    close(net.forward(x), torch_out(nn.Sequential(pool), x.reshape(1, 1, 6, 6))[0])
    assert max(net.forward(x)) < 0


# ---------------------------------------------------------------------------- (b) traced modules
class ResMLP(nn.Module):
    """Two residual blocks y = x + W2 relu(W1 x), then a Linear."""

    def __init__(self, d=2, h=6, out=1):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, d)) for _ in range(2)])
        self.head = nn.Linear(d, out)

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)


class ResCNN(nn.Module):
    def __init__(self, c=2):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(c * 9, 3)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        out = self.relu(out)
        return self.fc(torch.flatten(self.pool(out), 1))


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.b = nn.Linear(3, 2)
        self.out = nn.Linear(6, 2)
        self.register_buffer("shift", torch.tensor([0.5, -1.0], dtype=torch.float64))

    def forward(self, x):
        left = self.a(x) * 0.5
        right = F.relu(self.b(x) - self.shift) + 2 * F.leaky_relu(x[:, :2], 0.1)
        y = torch.cat([left, right], dim=1)
        return self.out(y.view(x.size(0), -1)) / 3 - 1


def test_residual_mlp_matches_torch():
    torch.manual_seed(0)
    model = ResMLP(d=3, h=5, out=2)
    net = check(model, (3,))
    assert net.hidden_widths == (5, 5)  # the skip connections are linear pass-through units
    assert net.widths == (3, 8, 6, 8, 6, 2)


def test_residual_cnn_matches_torch():
    torch.manual_seed(1)
    model = randomize_batchnorm(ResCNN().double(), 2)
    net = check(model, (2, 6, 6))
    # conv1+bn1+relu (x passed through), conv2+bn2+add+relu (fused), two max rounds, head
    assert len(net.layers) == 5 and net.hidden_widths == (72, 72, 36, 18)


def test_two_branch_cat_matches_torch():
    torch.manual_seed(2)
    check(TwoBranch(), (3,))


def test_inferred_input_shape_and_name():
    torch.manual_seed(3)
    net = from_torch(ResMLP(d=2).double(), name="res")
    assert net.input_dim == 2 and net.name == "res"


def test_rearrangements_and_functional_layers():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 4)
            self.w = nn.Parameter(torch.randn(4, 3, dtype=torch.float64))

        def forward(self, x):  # x: (C=2, L=6)
            y = x.transpose(1, 2).reshape(x.shape[0], 12)
            y = torch.relu(self.fc(y)).unsqueeze(1).expand(-1, 2, -1)  # (2, 4)
            z = F.avg_pool1d(x, 2) - torch.flip(x, [2])[:, :, ::2]  # (2, 3)
            z = z @ self.w.T + F.linear(z, self.w, None).relu()
            a, b = torch.chunk(torch.stack([y, z], dim=1), 2, dim=2)
            return -torch.cat([a, b], dim=2).permute(0, 3, 1, 2).contiguous()

    torch.manual_seed(4)
    check(Model(), (2, 6))


def test_more_modules_and_functions():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(2, 3, 3, padding="same"),
                nn.Hardtanh(-0.5, 0.75),
                nn.Dropout2d(0.3),
                nn.AdaptiveMaxPool2d((2, 3)),
            )
            self.avg = nn.AdaptiveAvgPool2d(3)
            self.unflat = nn.Unflatten(1, (3, 6))
            self.act = nn.ReLU6()

        def forward(self, x, scale=0.25):  # x: (2, 5, 7)
            a = self.features(x).flatten(1)
            b = self.avg(x).reshape(x.size(0), -1)
            c = self.act(3 * self.unflat(a) - 1).flatten(1, x.dim() - 2)
            d = F.avg_pool2d(x, 2, ceil_mode=True, divisor_override=3).view(-1, 24)
            e = F.adaptive_avg_pool1d(x.flatten(2), 4).flatten(1) * scale
            return torch.cat([a, b, c, d, torch.clip(e, max=0.1), torch.minimum(a, -a)], dim=-1)

    torch.manual_seed(9)
    check(Model(), (2, 5, 7))


def test_float32_model_is_lowered_exactly():
    torch.manual_seed(10)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)).eval()
    net = from_torch(model, (1, 6, 6))
    w = model[0].weight.detach().numpy()
    assert net.layers[0].weight_exact[0, 0] == Fraction(float(w[0, 0, 0, 0]))
    x = np.random.default_rng(0).normal(size=(3, 1, 6, 6))
    close(net.forward(x.reshape(3, -1)), torch_out(model.double(), x))


def test_residual_shares_pass_through_units():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x):
            h = self.fc(x)
            return torch.cat([F.relu(h), h, x, x], dim=1)

    torch.manual_seed(5)
    net = check(Model(), (2,))
    assert net.widths == (2, 8, 10)  # x, h and relu(h) once each in the hidden layer


# ---------------------------------------------------------------------------- (d) errors
def test_unsupported_node_is_named():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(torch.sigmoid(x))

    with pytest.raises(UnsupportedLayerError) as info:
        from_torch(Model())
    msg = str(info.value)
    assert "'sigmoid'" in msg and "call_function" in msg and "torch.sigmoid" in msg and "Supported" in msg

    class Gelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.Sequential(nn.Linear(2, 2), nn.GELU())

        def forward(self, x):
            return self.act(x) + x

    with pytest.raises(UnsupportedLayerError, match=r"module 'act.1' \(GELU\).*Linear"):
        from_torch(Gelu())


@pytest.mark.parametrize(
    "forward, match",
    [
        (lambda self, x: self.fc(x) * self.fc(x), "multiplies two tensors"),
        (lambda self, x: (self.fc(x), x), "single output"),
        (lambda self, x: self.fc(x) if x.sum() > 0 else x, "control flow"),
        (lambda self, x: torch.softmax(self.fc(x), 1), "softmax"),
        (lambda self, x: self.fc(x) @ self.fc(x).T, "matmul"),
        (lambda self, x: torch.max(self.fc(x)), "batch axis"),
        (lambda self, x: self.fc(x).view(1, -1), "batch"),
        (lambda self, x: torch.flatten(self.fc(x)), "batch"),
        (lambda self, x: self.fc(x) / self.fc(x), "division by a constant"),
        (lambda self, x: self.fc(x).sum(), "sum"),
        (lambda self, x: torch.max(self.fc(x), 1)[1], "indices"),
    ],
)
def test_unsupported_graphs(forward, match):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

    Model.forward = forward
    with pytest.raises(UnsupportedLayerError, match=match):
        from_torch(Model())


def test_unsafe_inplace_rejected_and_safe_inplace_lowered():
    class Unsafe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            h = self.fc(x)
            r = h.relu_()  # torch also changes h
            return r + h.view(-1, 2)

    with pytest.raises(UnsupportedLayerError, match="in place"):
        from_torch(Unsafe())

    class Safe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            h = self.fc(x)
            h += x
            return self.act(h)

    torch.manual_seed(6)
    check(Safe(), (2,))


def test_missing_input_shape_and_bad_modules():
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 1))
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(cnn)
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\).*in_channels=1.*\(2, 5, 5\)"):
        from_torch(cnn, (2, 5, 5))
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\).*at least \(3, 3\)"):
        from_torch(cnn, (1, 2, 5))
    with pytest.raises(UnsupportedLayerError, match="return_indices"):
        from_torch(nn.Sequential(nn.MaxPool2d(2, return_indices=True)), (1, 4, 4))
    with pytest.raises(UnsupportedLayerError, match="padding_mode='reflect'"):
        from_torch(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")), (1, 4, 4))
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        from_torch(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)).train(), (1, 3, 3))
    with pytest.raises(ValueError, match=r"'0' \(MaxPool2d\).*torch raises"):
        from_torch(nn.Sequential(nn.MaxPool2d(2, padding=2)), (1, 4, 4))


# ---------------------------------------------------------------------------- (e) regions of a lowered residual net
def residual_net(seed):
    torch.manual_seed(seed)
    return from_torch(ResMLP(d=2, h=4, out=2).double())


def merge_linear_layers(net):
    """The same function and neurons, with every all-linear hidden layer multiplied into the next one (exact)."""
    layers, carry = [], None
    for i, layer in enumerate(net.layers):
        w, b = layer.weight_exact, layer.bias_exact
        if carry is not None:
            w, b = w.dot(carry[0]), w.dot(carry[1]) + b
        carry = (w, b) if layer.is_linear and i < len(net.layers) - 1 else None
        if carry is None:
            layers.append(Layer(w, b, layer.negative_slope_exact))
    return Network(layers)


def check_segment(net, reference):
    """Exact regions of ``net`` along a segment agree with ``reference`` (the same function) point by point."""
    start, end = np.array([-1.5, -0.5]), np.array([1.25, 1.0])
    res = segment_regions(net, start, end, exact=True)
    assert res.num_regions >= 2
    s, e = [Fraction(float(v)) for v in start], [Fraction(float(v)) for v in end]
    for region in res.regions:
        t = (region.t_lo + region.t_hi) / 2
        point = [a + t * (b - a) for a, b in zip(s, e)]
        assert tuple(region.output(t)) == reference.forward_exact(point)
        assert np.array_equal(region.pattern, reference.pattern_exact(point))
    # brute force: along a fine grid the pattern changes only next to a breakpoint
    ts = np.linspace(0, 1, 2001)
    pats = reference.pattern(start + ts[:, None] * (end - start))
    changes = ts[1:][np.any(pats[1:] != pats[:-1], axis=1)]
    bps = np.array([float(b) for b in res.breakpoints])
    assert len(changes) and all(np.abs(bps - c).min() <= 1e-3 for c in changes)


def test_segment_regions_of_residual_net():
    net = residual_net(7)
    assert any(layer.is_linear for layer in net.layers[:-1])  # W2 x + b2 with x passed through
    merged = merge_linear_layers(net)
    assert merged.num_neurons == net.num_neurons and len(merged.layers) < len(net.layers)
    check_segment(merged, net)


def test_segment_regions_of_residual_net_unmerged():
    net = residual_net(7)
    check_segment(net, net)


def test_partition_of_residual_net():
    net = residual_net(8)
    exact, fast = partition(net, exact=True), partition(net)
    assert exact.num_regions == fast.num_regions == partition(merge_linear_layers(net), exact=True).num_regions >= 2


def test_partition_of_a_conv_net_through_three_images():
    # a 2-D slice of image space through three images, for a Conv2d / MaxPool2d / AvgPool2d
    # network: float and exact partitions agree, and every region's exact affine map is
    # the torch model's output at its interior point
    from exactnet.regions.plane import Plane

    torch.manual_seed(3)
    model = (
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
        .double()
        .eval()
    )
    net = from_torch(model, (1, 6, 6))
    images = [torch.randn(1, 6, 6, dtype=torch.float64) for _ in range(3)]
    plane = Plane.through(*images)
    exact, fast = partition(net, plane=plane, exact=True), partition(net, plane=plane)
    assert exact.num_regions == fast.num_regions >= 2
    for region in exact.regions[:40]:
        u, v = region.interior_point
        x = images[0] + float(u) * (images[1] - images[0]) + float(v) * (images[2] - images[0])
        want = model(x[None]).detach().numpy()[0]
        got = np.array([float(y) for y in region.output(u, v)])
        assert np.allclose(got, want, rtol=1e-9, atol=1e-9)


class _SumPoolNet(nn.Module):
    """Conv, ReLU, global sum pooling over the length, a read-out; plus a mean skip."""

    def __init__(self):
        super().__init__()
        self.conv, self.out = nn.Conv2d(1, 3, 2), nn.Linear(3, 2)

    def forward(self, x):
        pooled = torch.relu(self.conv(x)).sum(dim=(2, 3))
        return self.out(pooled) + x.mean(dim=-1).sum(dim=(1, 2))[:, None]


def test_sum_and_mean_reductions_are_exact():
    model = _SumPoolNet()
    net = check(model, (1, 5, 5))  # (converts the model to float64, eval mode)
    # the sum of a 4x4 map is 16 terms with coefficient 1 (exact), the mean's 1/5 exact too
    x = [Fraction(k, 7) for k in range(25)]
    exact = net.forward_exact(x)
    with torch.no_grad():
        want = model(torch.tensor([float(v) for v in x], dtype=torch.float64).reshape(1, 1, 5, 5))[0]
    close(np.array(exact, dtype=float), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "forward",
    [lambda x: x.sum(), lambda x: torch.sum(x), lambda x: x.mean(), lambda x: x.sum(dim=1, dtype=torch.float32)],
)
def test_sum_without_dim_or_with_dtype_is_rejected(forward):
    class F(nn.Module):
        def forward(self, x):
            return forward(x)

    with pytest.raises(UnsupportedLayerError, match="sum|mean"):
        from_torch(F(), (3,))
