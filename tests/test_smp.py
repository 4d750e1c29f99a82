"""SMP (exactnet.probe.smp): the sampled SMP's properties (affine, one kink, scaling,
additivity, smooth units), the exact SMP of every unit against the 1-D engine and against
sampling at a fine step, and the layer-wise sampled SMP of a torch model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from exactnet import from_torch, segment_regions
from exactnet.builtin import benchmark_net
from exactnet.probe.smp import exact_smp, layerwise_smp, paths_between, sampled_smp

STEPS = 4097
T = np.linspace(0, 1, STEPS)
H = 1 / (STEPS - 1)


def relu(x):
    return np.maximum(x, 0)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.05, 20) | st.floats(-20, -0.05),
    kink=st.floats(0.01, 0.99),
    c=st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3),
    slope=st.floats(-3, 3),
)
def test_sampled_smp_of_kinks(a, kink, c, slope):
    """0 for an affine map; |a| for relu(a (t - kink)) plus any affine part; |c| times
    under scaling; additive over two kinks far apart."""
    affine = slope * T + 0.3
    assert sampled_smp(affine, H) == 0
    one = relu(a * (T - kink)) + affine
    assert sampled_smp(one, H) == pytest.approx(abs(a), rel=1e-9)
    assert sampled_smp(c * one, H) == pytest.approx(abs(c * a), rel=1e-9)
    other = 0.5 if abs(kink - 0.5) > 0.05 else 0.9
    two = one + relu(-2.0 * (T - other))
    assert sampled_smp(two, H) == pytest.approx(abs(a) + 2.0, rel=1e-9)


def test_smooth_units_tend_to_zero_and_batches_are_rows():
    """GELU, softplus and a sine along the path: SMP_h falls towards 0 as h shrinks
    (their curvature is not zero, their non-smoothness is); a batch of rows gives each
    row's value, in numpy and in torch."""
    values = []
    for steps in (65, 257, 1025, 4097):
        t = torch.linspace(0, 1, steps, dtype=torch.float64)
        rows = torch.stack(
            [
                torch.nn.functional.gelu(8 * (t - 0.4)),
                torch.nn.functional.softplus(6 * (t - 0.5)),
                torch.sin(9 * t),
                torch.relu(3 * (t - 0.55)),
            ]
        )
        out = sampled_smp(rows, 1 / (steps - 1))
        assert isinstance(out, torch.Tensor) and out.shape == (4,)
        np.testing.assert_allclose(sampled_smp(rows.numpy(), 1 / (steps - 1)), out.numpy())
        values.append(out.numpy())
    values = np.array(values)
    assert np.all(values[-1, :3] < 1e-3) and np.all(values[-1, :3] <= values[0, :3] + 1e-12)
    assert values[-1, 3] == pytest.approx(3.0, rel=1e-9)
    with pytest.raises(ValueError, match="at least 3"):
        sampled_smp(np.zeros(2), 0.5)


def test_exact_smp_of_every_unit():
    net = benchmark_net("2-8-8-1", 3)
    start, end = [Fraction(-1), Fraction(-1, 2)], [Fraction(1), Fraction(3, 4)]
    res = exact_smp(net, start, end)
    seg = segment_regions(net, start, end, exact=True)
    assert res.outputs == seg.smp and res.exact and res.breakpoints == len(seg.breakpoints)
    assert [len(layer.post) for layer in res.layers] == [8, 8, 1]
    # the first layer's pre-activations are affine along the segment: no kinks
    assert all(v == 0 for v in res.layers[0].pre)
    # a first-layer unit after ReLU: |slope| = |w . d| if its zero crossing is inside
    W, b = net.layers[0].weight_exact, net.layers[0].bias_exact
    d = [e - s for s, e in zip(start, end)]
    for j in range(8):
        z0 = sum(w * x for w, x in zip(W[j], start)) + b[j]
        z1 = sum(w * x for w, x in zip(W[j], end)) + b[j]
        inside = (z0 > 0) != (z1 > 0)
        assert res.layers[0].post[j] == (abs(sum(w * x for w, x in zip(W[j], d))) if inside else 0)
    floats = exact_smp(net, start, end, exact=False)
    np.testing.assert_allclose([float(v) for v in floats.layers[1].post], [float(v) for v in res.layers[1].post])
    assert "layer 2" in res.table()


def _torch_net(seed, widths=(2, 12, 12, 1)):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods).double().eval()


def test_sampled_converges_to_exact_for_relu_networks():
    """Every hidden unit of a ReLU network along a path: the sampled SMP at the finest
    default step (4,096 steps) agrees with the exact one to 1e-6 relative, where the
    unit's kinks are more than 2h apart and h away from the ends; the error shrinks with h."""
    model = _torch_net(0)
    net = from_torch(model)
    a = torch.tensor([[-1.0, -0.7]], dtype=torch.float64)
    b = torch.tensor([[1.0, 0.9]], dtype=torch.float64)
    ex = exact_smp(net, a[0].tolist(), b[0].tolist())
    seg = segment_regions(net, a[0].tolist(), b[0].tolist(), exact=True)
    bps = [float(t) for t in seg.breakpoints]
    errors = []
    for steps in (17, 65, 257, 4097):
        res = layerwise_smp(model, paths_between(a, b, steps), reduction="flatten", progress=False)
        assert [row.name for row in res.layers] == ["1", "3"]
        h = 1 / (steps - 1)
        gaps_ok = min(np.diff(bps)) > 2 * h and min(bps) > h and max(bps) < 1 - h
        for row, layer in zip(res.layers, ex.layers):
            exact_mean = layer.mean_post
            errors.append((steps, abs(row.values["smp_mean"] - exact_mean) / exact_mean))
            if steps == 4097:
                assert gaps_ok
                assert row.values["smp_mean"] == pytest.approx(exact_mean, rel=1e-6)
                assert row.values["pre_mean"] == pytest.approx(
                    ex.layers[0 if row.name == "1" else 1].mean_pre, rel=1e-6
                )
    coarse = max(e for s, e in errors if s == 17)
    fine = max(e for s, e in errors if s == 4097)
    assert fine < 1e-6 < coarse  # 16 steps: kinks closer than 2h merge or fall outside the peaks


def test_paths_between_and_bad_input():
    a, b = torch.zeros(2, 3), torch.ones(2, 3)
    p = paths_between(a, b, 5)
    assert p.shape == (2, 9, 3)
    assert torch.allclose(p[0, 2], a[0]) and torch.allclose(p[0, 6], b[0]) and torch.allclose(p[0, 0], -0.5 * b[0])
    with pytest.raises(ValueError, match="same shape"):
        paths_between(a, torch.ones(3, 3), 5)
    with pytest.raises(ValueError, match="at least 3 inside"):
        layerwise_smp(_torch_net(1), paths_between(a[:, :2], b[:, :2], 3, margin=1), margin=3, progress=False)
    with pytest.raises(ValueError, match="at least 3"):
        paths_between(a, b, 2)


def test_paths_around():
    from exactnet.probe.smp import paths_around

    x = torch.randn(3, 2, 4, dtype=torch.float64)
    p = paths_around(x, 9, radius=0.5, seed=1)
    assert p.shape == (3, 13, 2, 4)
    centre = p[:, 6]  # t = 1/2 of a path from x - r u to x + r u
    assert torch.allclose(centre, x)
    ends = (p[:, 10] - p[:, 2]).reshape(3, -1).norm(dim=1)
    assert torch.allclose(ends, torch.full((3,), 1.0, dtype=torch.float64))
    assert torch.equal(paths_around(x, 9, radius=0.5, seed=1), p)


def test_command_line(tmp_path, capsys):
    import json

    from exactnet.cli import main

    assert main(["smp", "--paths", "3", "--steps", "40", "--json", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["paths"] == 3 and doc["steps"] == 40 and [row["name"] for row in doc["layers"]] == ["1", "3", "7"]
    assert all(row["smp_mean"] >= 0 and 0 <= row["kinked"] <= 1 for row in doc["layers"])
    net = tmp_path / "net.npz"
    assert main(["make-net", "2-6-6-1", "--out", str(net)]) == 0
    capsys.readouterr()
    png = tmp_path / "smp.png"
    assert main(["smp", "--exact", "--weights", str(net), "--paths", "4", "--json", "--png", str(png)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["exact"] and [row["units"] for row in doc["layers"]] == [6, 6, 1]
    assert doc["layers"][0]["pre_mean"] == 0  # affine along a segment: no kinks before the first ReLU
    assert png.stat().st_size > 5_000
    with pytest.raises(SystemExit, match="--exact needs --weights"):
        main(["smp", "--exact"])
    with pytest.raises(SystemExit, match="--steps 2"):
        main(["smp", "--steps", "2"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), width=st.integers(1, 5), windowed=st.booleans())
def test_compiled_cpu_pass_equals_the_torch_operations(seed, width, windowed):
    """The CPU kernel and the torch code (what CUDA runs) agree, on kinked, smooth and
    noisy rows, with and without the window."""
    from exactnet.probe.smp import _smp_torch

    rng = np.random.default_rng(seed)
    t = np.linspace(-0.05, 1.05, 221)
    rows = np.concatenate(
        [
            relu(rng.normal(size=(5, 1)) * (t - rng.uniform(-0.1, 1.1, (5, 1)))),
            np.sin(rng.uniform(1, 30, (3, 1)) * t),
            rng.normal(size=(2, 221)),
        ]
    )
    h = t[1] - t[0]
    window = (0.0, 1.0) if windowed else None
    got = sampled_smp(rows, h, max_width=width, t0=t[0], window=window)
    g = torch.from_numpy(rows)
    want = _smp_torch(g, h, 10.0, width, 2.0**-52, g.abs().amax(dim=1), float(t[0]), window).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_rectified_smooth_units_keep_their_kinks():
    """relu(sin(9 t) - 0.6) is 0 on more than half the path: the curvature level comes
    from its smooth stretches, so the kinks where it leaves 0 are counted: SMP = the sum
    of |9 cos(9 t*)| over the zero crossings t* of sin(9 t) - 0.6 in (0, 1)."""
    roots = [r for k in range(-1, 3) for r in (np.arcsin(0.6) + 2 * np.pi * k, np.pi - np.arcsin(0.6) + 2 * np.pi * k)]
    exact = sum(abs(9 * np.cos(r)) for r in roots if 0 < r / 9 < 1)  # 4 crossings, 9 x 0.8 each
    errors = []
    for steps in (8193, 32769):
        t = np.linspace(0, 1, steps)
        g = np.maximum(np.sin(9 * t) - 0.6, 0) + 0.3 * t
        assert np.mean(g == 0.3 * t) > 0.5 and exact > 20
        errors.append(abs(sampled_smp(g, 1 / (steps - 1)) / exact - 1))
    # the shares of a kink's peak below the curvature threshold are left out: fewer as h shrinks
    assert exact == pytest.approx(28.8) and errors[0] < 2e-3 and errors[1] < errors[0] / 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["smooth", "rectified", "kinks", "noise"]))
def test_torch_pass_equals_the_compiled_pass(seed, kind):
    """The torch operations (the CUDA path, run here on the CPU) and the compiled kernel
    give the same SMP_h on smooth, rectified smooth, piecewise-linear and noisy rows."""
    from exactnet.probe.smp import _smp_torch

    rng = np.random.default_rng(seed)
    t = np.linspace(-0.01, 1.01, 611)
    freq, phase = rng.uniform(2, 15, (8, 1)), rng.uniform(0, 6.3, (8, 1))
    rows = np.sin(freq * t + phase)
    if kind == "rectified":
        rows = np.maximum(rows - rng.uniform(0, 0.5, (8, 1)), 0)
    elif kind == "kinks":
        rows = sum(rng.normal(size=(8, 1)) * np.maximum(t - rng.uniform(0, 1, (8, 1)), 0) for _ in range(5))
    elif kind == "noise":
        rows = rows + rng.normal(scale=1e-9, size=rows.shape)
    h = t[1] - t[0]
    window = (0.0, 1.0)
    compiled = sampled_smp(rows, h, t0=t[0], window=window)
    scales = torch.from_numpy(np.abs(rows).max(axis=1))
    torched = _smp_torch(torch.from_numpy(rows), h, 10.0, 4, 2.0**-52, scales, t[0], window)
    np.testing.assert_allclose(torched.numpy(), compiled, rtol=1e-12, atol=1e-12)
