"""The SMP propagation model (exactnet.probe.smp_model): each rule against a case whose
answer is known independently (distinct kinks through a linear layer; Rice's formula on
stationary Gaussian processes through a ReLU and a max), and the layer-by-layer report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from exactnet.probe.smp import paths_between, sampled_smp
from exactnet.probe.smp_model import (
    LayerStatistics,
    predict_max_pool,
    predict_relu,
    smp_propagation,
    top_pair_probability,
)

MARGIN = 2


def gaussian_processes(paths: int, samples: int, units: int, *, mean: float = 0.0, seed: int = 0):
    """Stationary Gaussian processes in t (random-phase sums of 60 cosines, so nearly
    Gaussian), sampled at t_i = (i - MARGIN) h: values (paths, samples, units), h, and
    their lambda_0 and lambda_2 (analytic)."""
    rng = np.random.default_rng(seed)
    h = 1.0 / (samples - 1 - 2 * MARGIN)
    t = (np.arange(samples) - MARGIN) * h
    omega = rng.uniform(5, 40, 60)
    c = rng.uniform(0.5, 1.5, 60) / np.sqrt(60)
    phase = rng.uniform(0, 2 * np.pi, (paths, units, 60))
    g = np.full((paths, units, samples), mean)
    for m in range(60):
        g += c[m] * np.cos(omega[m] * t + phase[:, :, m, None])
    return g.transpose(0, 2, 1), h, float(np.sum(c**2) / 2), float(np.sum((c * omega) ** 2) / 2)


def measured_smp(values: np.ndarray, h: float) -> float:
    """Mean sampled SMP per (path, unit) of values (paths, samples, units)."""
    rows = np.ascontiguousarray(values.transpose(0, 2, 1))
    return float(sampled_smp(rows, h, t0=-MARGIN * h, window=(0.0, 1.0)).mean())


def test_top_pair_probability_closed_forms():
    assert top_pair_probability(2) == 1.0
    assert top_pair_probability(3) == pytest.approx(0.5, abs=1e-12)
    # two others below a tie: an orthant probability with correlation 1/3
    assert top_pair_probability(4) == pytest.approx(0.25 + math.asin(1 / 3) / (2 * math.pi), abs=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        top_pair_probability(1)


def test_linear_layer_is_exact_when_the_inputs_kinks_are_distinct():
    """After one ReLU layer every hidden unit's kinks are its own (distinct t), so the
    next linear layer's SMP is sum |W| SMP_in exactly, path by path."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 5)).double()
    a, b = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    res = smp_propagation(net, paths_between(a, b, 16384), progress=False)
    relu, linear = res.rows[1], res.rows[2]
    assert relu.measured > 0.2 and relu.parts["keep"] == 0  # the pre-activations are affine in t
    assert linear.predicted == pytest.approx(linear.measured, rel=1e-6)
    assert linear.correlation == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("mean", [0.0, 0.6])
def test_relu_new_kinks_follow_rice(mean):
    """relu of a stationary Gaussian process: the sum of |g'| over its zero crossings
    per unit t is lambda_2 exp(-mu^2 / 2 lambda_0) / sqrt(2 pi lambda_0)."""
    g, h, lam0, lam2 = gaussian_processes(300, 4101, 2, mean=mean, seed=1)
    stats = LayerStatistics(np.zeros(2), np.full(2, mean), np.full(2, lam0), np.full(2, lam2))
    parts = predict_relu(stats)
    predicted = float(parts["smp"].mean())
    assert parts["keep"].sum() == 0
    assert predicted == pytest.approx(measured_smp(np.maximum(g, 0), h), rel=0.06)
    # leaky: new kinks of size (1 - alpha) |g'|
    leaky = predict_relu(stats, 0.25)
    assert float(leaky["new"].mean()) == pytest.approx(0.75 * predicted, rel=1e-12)


@pytest.mark.parametrize(("k", "rectify"), [(2, False), (4, False), (2, True)])
def test_max_pool_switches_follow_rice(k, rectify):
    """max of k independent stationary Gaussian processes (and of rectified ones): the
    measured SMP of the max against keep (0 for smooth inputs; the ReLU kinks for
    rectified ones) plus the switches predicted from the inputs' samples."""
    g, h, _, _ = gaussian_processes(200, 4101, k, seed=2)
    if rectify:
        g = np.maximum(g, 0)
    x = torch.from_numpy(g).unsqueeze(2)  # (paths, samples, channels = 1, length k)
    smp_in = np.array([[measured_smp(g[:, :, [u]], h) for u in range(k)]])
    pred = predict_max_pool(nn.MaxPool1d(k), x, smp_in, MARGIN, h)
    measured = measured_smp(g.max(axis=2, keepdims=True), h)
    assert float(pred["smp"].mean()) == pytest.approx(measured, rel=0.08)
    assert (float(pred["keep"].mean()) > 0) == rectify


def test_propagation_report_on_a_small_cnn(tmp_path):
    """The layer-by-layer report of a 1-D CNN: one row per module, the rules' parts, the
    first linear map of the paths has no kinks, a ReLU's prediction within a factor 1.5,
    JSON and a picture."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(1, 4, 5),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(4, 4, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 10, 2),
    ).double()
    x = torch.randn(32, 1, 28, dtype=torch.float64)
    res = smp_propagation(net, paths_between(x[:16], x[16:], 512), progress=False, name="tiny")
    assert [r.kind for r in res.rows] == ["linear", "relu", "max_pool", "linear", "relu", "linear", "linear"]
    assert res.rows[0].measured == 0 and res.rows[0].predicted == 0
    assert set(res.rows[1].parts) == {"keep", "new"} and set(res.rows[2].parts) == {"keep", "switch"}
    assert 0.67 < res.rows[1].ratio < 1.5 and 0.67 < res.rows[4].ratio < 1.5
    assert res.rows[5].predicted == pytest.approx(res.rows[5].measured, rel=1e-12)  # flatten
    data = json.loads(json.dumps(res.to_json()))
    assert data["layers"][1]["kind"] == "relu" and data["paths"] == 16 and data["steps"] == 512
    assert "predicted" in res.table() and "tiny" in res.table()
    fig = res.plot()
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_propagation_rejects_what_it_does_not_model():
    x = torch.randn(4, 1, 12, dtype=torch.float64)
    paths = paths_between(x[:2], x[2:], 16)
    with pytest.raises(ValueError, match="GELU"):
        smp_propagation(nn.Sequential(nn.Conv1d(1, 2, 3), nn.GELU()).double(), paths, progress=False)
    with pytest.raises(ValueError, match="padding"):
        smp_propagation(nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(2, padding=1)).double(), paths, progress=False)
    with pytest.raises(ValueError, match="nn.Sequential"):
        smp_propagation(nn.Conv1d(1, 2, 3).double(), paths, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 3 inside"):
        smp_propagation(nn.Sequential(nn.ReLU()), paths[:, :5], progress=False)
