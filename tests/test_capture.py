"""Activation capture: layers and call sites on torchvision models, reductions, channel axes,
in-place activations, projections, the bottom-k sample budget, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from exactnet.probe import LayerCapture, Projection, capture
from exactnet.probe.recording import ACTIVATION_TYPES
from exactnet.probe.sampling import sample_priorities

torchvision = pytest.importorskip("torchvision")

# written independently of ACTIVATION_TYPES: the activations torchvision classifiers use
HANDWRITTEN = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Softmax)


def count_call_sites(model, x):
    """(module name, call index) of every activation call in one forward pass, in order."""
    sites, counts, handles = [], {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, HANDWRITTEN) and "attn" not in name:

            def hook(m, args, name=name):
                j = counts.get(name, 0)
                counts[name] = j + 1
                sites.append((name, j))

            handles.append(mod.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return sites, counts


def no_hooks_left(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


MODELS = [
    pytest.param("alexnet", 64, id="alexnet"),
    pytest.param("vgg11", 32, id="vgg11", marks=pytest.mark.slow),
    pytest.param("resnet18", 32, id="resnet18"),
    pytest.param("resnet50", 32, id="resnet50"),
    pytest.param("convnext_tiny", 32, id="convnext_tiny"),
    pytest.param("swin_t", 32, id="swin_t"),
    pytest.param("vit_b_16", 224, id="vit_b_16", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("arch,size", MODELS)
def test_torchvision_layers_and_call_sites(arch, size):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None).eval()
    x = torch.randn(2, 3, size, size)
    sites, counts = count_call_sites(model, x)
    caps = capture(model, x, progress=False)
    assert no_hooks_left(model)
    assert len(caps) == len(sites) > 0
    expected = [f"{n}#{j}" if counts[n] > 1 else n for n, j in sites]
    assert list(caps) == expected  # forward (first call) order
    for name, cap in caps.items():
        assert isinstance(cap, LayerCapture) and cap.name == name
        assert cap.input.dtype == cap.output.dtype == torch.float64
        assert cap.input.device.type == "cpu"
        assert cap.input.shape == cap.output.shape == (2, cap.d)
        assert cap.n == 2 and cap.seen == 2 and torch.equal(cap.index, torch.arange(2))
        assert cap.shape[0] == 2
        if len(cap.shape) >= 3:
            axis = cap.channel_axis
            assert cap.d == cap.shape[axis]
    if arch.startswith("resnet"):
        # BasicBlock calls self.relu twice, Bottleneck three times: one layer per call site
        per_block = 2 if arch == "resnet18" else 3
        assert f"layer1.0.relu#{per_block - 1}" in caps and f"layer1.0.relu#{per_block}" not in caps
        assert all(c.channel_axis == 1 for c in caps.values() if len(c.shape) == 4)
        a, b = caps["layer1.0.relu#0"], caps["layer1.0.relu#1"]
        assert not torch.equal(a.input, b.input)  # distinct call sites, not mixed
    if arch in ("convnext_tiny", "swin_t"):
        gelus = [c for c in caps.values() if c.type == "GELU"]
        assert gelus and all(c.channel_axis == -1 and len(c.shape) == 4 for c in gelus)
        assert gelus[0].d == 4 * 96 == gelus[0].shape[-1]
    if arch == "vit_b_16":
        assert all(c.channel_axis == -1 and c.d == 3072 and c.shape[1:] == (197, 3072) for c in caps.values())


def test_resnet_relu_commutes_with_gathering_not_with_means():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()  # in-place ReLUs
    x = torch.randn(2, 3, 32, 32)
    for reduction in ("positions", "flatten"):
        caps = capture(model, x, reduction=reduction, max_samples=None, progress=False)
        for cap in caps.values():
            assert torch.equal(cap.output, torch.relu(cap.input)), (reduction, cap.name)
            assert (cap.input < 0).any()  # read before the in-place ReLU overwrote it
    pos = capture(model, x, reduction="positions", max_samples=None, progress=False)["relu"]
    assert pos.shape == (2, 64, 16, 16) and pos.input.shape == (2 * 16 * 16, 64)
    assert torch.equal(pos.position, torch.arange(256).repeat(2))
    means = capture(model, x, reduction="channel_mean", progress=False)
    stem = means["relu"]
    assert not torch.allclose(stem.output, torch.relu(stem.input))  # mean(relu) != relu(mean)
    # the channel means are the means of the positions' rows
    assert torch.allclose(stem.input, pos.input.reshape(2, 256, 64).mean(dim=1))
    assert torch.allclose(stem.output, pos.output.reshape(2, 256, 64).mean(dim=1))


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.conv(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["channel_mean", "flatten", "positions", "reference"])
def test_inplace_relu_input_read_before_modification(dtype, reduction):
    torch.manual_seed(1)
    model = InPlace().to(dtype)
    x = torch.randn(5, 2, 6, 6, dtype=dtype)
    with torch.no_grad():
        pre = model.conv(x)
    cap = capture(model, x, reduction=reduction, max_samples=None, progress=False)["act"]
    assert (cap.input < 0).any()
    if reduction == "flatten":
        assert torch.equal(cap.input, pre.reshape(5, -1).double())
    if reduction == "channel_mean":
        assert torch.allclose(cap.input, pre.mean(dim=(2, 3)).double())


class Mixed(nn.Module):
    """Activations on 4-D, 3-D and 2-D tensors, plus a shared one called twice."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3)
        self.relu = nn.ReLU()
        self.tanh = nn.Tanh()
        self.lin = nn.Linear(5 * 4 * 4, 7)
        self.shared = nn.Sigmoid()
        self.unused = nn.ReLU()

    def forward(self, x):
        a = self.relu(self.conv(x))  # [N, 5, 4, 4]
        b = self.tanh(a.flatten(2))  # [N, 5, 16]
        c = self.shared(self.lin(b.flatten(1)))  # [N, 7]
        return self.shared(c * 2.0)


def test_reference_reduction_is_the_hand_computation():
    torch.manual_seed(2)
    model = Mixed().eval()
    x = torch.randn(6, 3, 6, 6)
    raw = {}

    def keep(name):
        def hook(m, args, out):
            raw.setdefault(name, []).append((args[0].clone(), out.clone()))

        return hook

    hs = [getattr(model, n).register_forward_hook(keep(n)) for n in ("relu", "tanh", "shared")]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    caps = capture(model, x, reduction="reference", progress=False)
    assert list(caps) == ["relu", "tanh", "shared#0", "shared#1"]
    _, relu_out = raw["relu"][0]
    assert torch.allclose(caps["relu"].output, torch.mean(relu_out, dim=(-2, -1)).double())
    # the reference hook saw the input before ReLU; here the input is the conv output
    with torch.no_grad():
        conv = model.conv(x)
    assert torch.allclose(caps["relu"].input, torch.mean(conv, dim=(-2, -1)).double())
    tanh_in, _ = raw["tanh"][0]
    assert torch.allclose(caps["tanh"].input, torch.mean(tanh_in, dim=-1).double())  # d = 5: mean over the last axis
    assert caps["tanh"].d == 5 and caps["tanh"].channel_axis is None
    for j in (0, 1):
        s_in, s_out = raw["shared"][j]
        assert torch.equal(caps[f"shared#{j}"].input, s_in.double())
        assert torch.equal(caps[f"shared#{j}"].output, s_out.double())


def test_channel_axis_auto_int_and_dict():
    class ChannelsLast(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 8)
            self.act = nn.GELU()
            self.conv1d = nn.Conv1d(8, 6, 1)
            self.act1d = nn.ReLU()

        def forward(self, x):  # x: [N, H, W, 3]
            h = self.act(self.fc(x))  # [N, H, W, 8] channels last
            z = self.conv1d(h.flatten(1, 2).transpose(1, 2))  # [N, 6, H*W] channels first
            return self.act1d(z)

    torch.manual_seed(3)
    model = ChannelsLast()
    x = torch.randn(4, 5, 9, 3)
    caps = capture(model, x, progress=False)
    assert caps["act"].channel_axis == -1 and caps["act"].d == 8
    assert caps["act1d"].channel_axis == 1 and caps["act1d"].d == 6
    forced = capture(model, x, channel_axis=1, progress=False)
    assert forced["act"].d == 5 and forced["act1d"].d == 6
    per = capture(model, x, channel_axis={"act": 2, r"act1.": -1}, progress=False)
    assert per["act"].channel_axis == 2 and per["act"].d == 9
    assert per["act1d"].channel_axis == -1 and per["act1d"].d == 45
    with pytest.raises(ValueError, match="channel_axis=4 is out of range"):
        capture(model, x, channel_axis=4, progress=False)
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        capture(model, x, channel_axis={"act": 0}, progress=False)
    with pytest.raises(ValueError, match="channel_axis"):
        capture(model, x, channel_axis="last", progress=False)


def test_projection_same_matrix_deterministic_and_chunked(monkeypatch):
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 100 * 100, 3), nn.ReLU()
    )
    x = torch.randn(3, 1, 100, 100)
    k = 64  # 16384 rows per chunk: the Tanh's D = 40000 spans three chunks
    flat = capture(model, x, reduction="flatten", progress=False)
    proj = capture(model, x, reduction=("project", k), seed=5, progress=False)
    assert proj["1"].reduction == "project(64)" and proj["1"].input.shape == (3, k)
    for name, cap in proj.items():
        m = Projection(k).matrix(flat[name].d, seed=5, module=cap.module, call=cap.call)
        assert torch.allclose(cap.input, flat[name].input @ m, atol=1e-4, rtol=1e-4)
        assert torch.allclose(cap.output, flat[name].output @ m, atol=1e-4, rtol=1e-4)
    again = capture(model, x, reduction=Projection(k), seed=5, progress=False)
    for n in proj:
        assert torch.equal(again[n].input, proj[n].input) and torch.equal(again[n].output, proj[n].output)
    other = capture(model, x, reduction=Projection(k), seed=6, progress=False)
    assert not torch.allclose(other["1"].input, proj["1"].input)
    # without the cache the chunks are regenerated, identically
    nocache = capture(model, x, reduction=Projection(k, cache_bytes=0), seed=5, progress=False)
    assert all(torch.equal(nocache[n].input, proj[n].input) for n in proj)
    # a budget smaller than the data: batches that bring no candidate rows project nothing
    small = capture(model, x, reduction=Projection(k), max_samples=2, batch_size=1, progress=False)
    means = capture(model, x, reduction="channel_mean", max_samples=2, batch_size=1, progress=False)
    assert small["1"].input.shape == (2, k) and small["1"].seen == 3
    assert torch.equal(small["1"].index, means["1"].index)
    g = Projection(k).matrix(40000, seed=0, module="1")
    assert g.shape == (40000, k) and abs(float(g.pow(2).sum(dim=0).mean()) / 40000 - 1 / k) < 0.1 / k


class PerSample(nn.Module):
    """Runs its module on one sample at a time: bitwise independent of the batch size
    (convolutions are not, even in float64: their kernels depend on the batch size)."""

    def __init__(self, module):
        super().__init__()
        self.m = module

    def forward(self, x):
        return torch.cat([self.m(x[i : i + 1]) for i in range(x.shape[0])])


def small_cnn():
    torch.manual_seed(6)
    # activations that are exact in any kernel path (vectorised or not)
    return nn.Sequential(
        PerSample(nn.Conv2d(2, 6, 3, padding=1)),
        nn.ReLU(),
        PerSample(nn.Conv2d(6, 5, 3, stride=2)),
        nn.LeakyReLU(0.5),
        PerSample(nn.AdaptiveAvgPool2d(2)),
        nn.Flatten(),
        nn.Hardtanh(-0.1, 0.1),
    ).double()


def direct_bottom_k(full: LayerCapture, k: int, seed: int):
    idx = full.index.numpy()
    pos = None if full.position is None else full.position.numpy()
    prio = sample_priorities(seed, idx, pos)
    keys = (pos if pos is not None else np.zeros_like(idx), idx, prio)
    order = np.sort(np.lexsort(keys)[:k])
    return torch.from_numpy(order)


@pytest.mark.parametrize("reduction", ["channel_mean", "positions"])
def test_budget_independent_of_batch_size_and_equal_to_direct_bottom_k(reduction):
    model = small_cnn()
    data = torch.randn(41, 2, 7, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    k = 10
    a = capture(model, data, reduction=reduction, max_samples=k, batch_size=3, seed=11, progress=False)
    b = capture(model, data, reduction=reduction, max_samples=k, batch_size=7, seed=11, progress=False)
    full = capture(model, data, reduction=reduction, max_samples=None, batch_size=41, seed=11, progress=False)
    assert list(a) == list(b) == list(full) == ["1", "3", "6"]
    for name in a:
        assert a[name].n == k and a[name].seen == full[name].seen == full[name].n
        for f in ("input", "output", "index"):
            assert torch.equal(getattr(a[name], f), getattr(b[name], f)), (name, f)
        sel = direct_bottom_k(full[name], k, seed=11)
        assert torch.equal(a[name].index, full[name].index[sel])
        assert torch.equal(a[name].input, full[name].input[sel])
        assert torch.equal(a[name].output, full[name].output[sel])
        if reduction == "positions":
            assert torch.equal(a[name].position, full[name].position[sel])
    if reduction == "channel_mean":
        # one row per input: every layer keeps the same inputs
        assert torch.equal(a["1"].index, a["3"].index) and torch.equal(a["1"].index, a["6"].index)
        assert torch.all(a["1"].index[1:] > a["1"].index[:-1])
    else:
        assert a["1"].seen == 41 * 49 and full["6"].seen == 41
    # fewer samples than the budget: everything, in input order
    small = capture(model, data[:9], reduction=reduction, max_samples=10_000, batch_size=4, progress=False)
    assert torch.equal(small["6"].index, torch.arange(9))
    other_seed = capture(model, data, reduction=reduction, max_samples=k, batch_size=3, seed=12, progress=False)
    assert not torch.equal(other_seed["6"].index, a["6"].index)


def test_max_inputs_and_data_forms():
    model = small_cnn()
    data = torch.randn(30, 2, 7, 7, dtype=torch.float64)
    labels = torch.arange(30)
    ref = capture(model, data[:20], max_samples=8, batch_size=5, progress=False)
    cut = capture(model, data, max_samples=8, batch_size=7, max_inputs=20, progress=False)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, labels), batch_size=5)
    from_loader = capture(model, loader, max_samples=8, max_inputs=20, progress=False)
    gen = capture(model, (data[i : i + 4] for i in range(0, 20, 4)), max_samples=8, progress=False)
    lists = capture(model, [[data[i : i + 10], labels[i : i + 10]] for i in (0, 10)], max_samples=8, progress=False)
    for other in (cut, from_loader, gen, lists):
        assert list(other) == list(ref)
        for n in ref:
            assert other[n].seen == 20
            assert torch.equal(other[n].index, ref[n].index)
            assert torch.equal(other[n].input, ref[n].input)
    # float32 data is cast to the model's dtype
    f32 = capture(model, data[:20].float(), max_samples=8, progress=False)
    assert f32["1"].input.shape == ref["1"].input.shape


def test_sides_modes_hooks_and_selection():
    model = Mixed()
    model.train()
    model.lin.eval()
    x = torch.randn(4, 3, 6, 6)
    out_only = capture(model, x, sides="output", progress=False)
    assert out_only["relu"].input is None and out_only["relu"].output.shape == (4, 5)
    assert out_only["relu"].d == 5
    assert model.training and model.conv.training and not model.lin.training  # modes restored
    assert no_hooks_left(model)
    by_type = capture(model, x, modules=[nn.Tanh, nn.Sigmoid], progress=False)
    assert list(by_type) == ["tanh", "shared#0", "shared#1"]
    by_regex = capture(model, x, modules=r"^(relu|lin)$", progress=False)
    assert list(by_regex) == ["relu", "lin"]
    assert by_regex["lin"].d == 80 and by_regex["lin"].output.shape == (4, 7)
    by_name = capture(model, x, modules=["tanh"], progress=False)
    assert list(by_name) == ["tanh"]
    with pytest.warns(UserWarning, match="never called"):
        capture(model, x, modules=["relu", "lin", "unused"], progress=False)


def test_attention_blocks_are_skipped_by_default():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=-1))
            self.mha = nn.MultiheadAttention(4, 2, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))

        def forward(self, x):
            x = x + self.attn(x) + self.mha(x, x, x)[0]
            return x + self.mlp(x)

    model = Block()
    x = torch.randn(3, 5, 4)
    caps = capture(model, x, progress=False)
    assert list(caps) == ["mlp.1"] and caps["mlp.1"].d == 8
    assert list(capture(model, x, modules=[nn.Softmax], progress=False)) == ["attn.1"]
    tok = capture(model, x, reduction="tokens", max_samples=None, progress=False)["mlp.1"]
    assert tok.input.shape == (15, 8) and torch.equal(tok.index, torch.arange(3).repeat_interleave(5))
    assert set(ACTIVATION_TYPES) >= {nn.ReLU, nn.GELU, nn.Softmax, nn.PReLU, nn.Threshold}
    assert nn.MultiheadAttention not in ACTIVATION_TYPES


def test_errors_name_the_argument():
    model = Mixed()
    x = torch.randn(4, 3, 6, 6)
    with pytest.raises(ValueError, match="unknown reduction='mean'"):
        capture(model, x, reduction="mean", progress=False)
    with pytest.raises(ValueError, match="k must be a positive int"):
        capture(model, x, reduction=("project", 0), progress=False)
    with pytest.raises(ValueError, match="reduction="):
        capture(model, x, reduction=3, progress=False)
    with pytest.raises(ValueError, match="'tokens' expects 3-D"):
        capture(model, x, reduction="tokens", progress=False)
    with pytest.raises(TypeError, match="data must yield tensors"):
        capture(model, [np.zeros((2, 3, 6, 6))], progress=False)
    with pytest.raises(TypeError, match="data must yield tensors"):
        capture(model, [("a", "b")], progress=False)
    with pytest.raises(ValueError, match="data is empty"):
        capture(model, [], progress=False)
    with pytest.raises(ValueError, match="data is empty"):
        capture(model, torch.empty(0, 3, 6, 6), progress=False)
    with pytest.raises(ValueError, match=r"no module named 'relu2'.*close matches: \['relu'"):
        capture(model, x, modules=["relu2"], progress=False)
    with pytest.raises(ValueError, match="no module name matches"):
        capture(model, x, modules=r"^nothing$", progress=False)
    with pytest.raises(ValueError, match="no module of type GELU"):
        capture(model, x, modules=[nn.GELU], progress=False)
    with pytest.raises(ValueError, match="no activation module"):
        capture(nn.Linear(3, 2), torch.randn(2, 3), progress=False)
    with pytest.raises(ValueError, match="max_samples"):
        capture(model, x, max_samples=0, progress=False)
    with pytest.raises(ValueError, match="sides"):
        capture(model, x, sides=("in",), progress=False)
    with pytest.raises(TypeError, match="modules="):
        capture(model, x, modules=[nn.ReLU, "tanh"], progress=False)
    with pytest.raises(ValueError, match="batch axis is axis 0"):
        capture(nn.Sequential(nn.Flatten(0), nn.ReLU()), torch.randn(3, 4), progress=False)
    assert no_hooks_left(model)
