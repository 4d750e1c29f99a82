"""The CUDA paths against the CPU ones: the exact minimum spanning tree of N1, the affinity
score and the non-linearity signature. Skipped on machines without CUDA (they run on a
lent GPU machine: ``python -m pytest -q tests/test_gpu.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exactnet import affinity_score, n1
from exactnet.probe import signature
from exactnet.probe._mst import minimum_spanning_tree

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _point_sets():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((6, 64)) * 4
    clustered = centres[rng.integers(0, 6, 3000)] + rng.standard_normal((3000, 64))
    near = clustered[:400].copy()
    near[200:] = near[:200] + 1e-9 * rng.standard_normal((200, 64))  # near-duplicates
    lattice = rng.integers(-2, 3, (600, 3)).astype(float)  # exact ties and duplicates
    return [rng.standard_normal((2500, 200)), clustered, near, lattice]


def test_cuda_tree_equals_the_cpu_tree():
    for X in _point_sets():
        cpu = minimum_spanning_tree(X)
        gpu = minimum_spanning_tree(X, device=torch.device("cuda"))
        assert gpu.stats["device"].startswith("cuda")
        np.testing.assert_array_equal(gpu.edges, cpu.edges)
        y = np.arange(len(X)) % 3
        assert n1(X, y, device="cuda").exact_value == n1(X, y).exact_value


def test_cuda_affinity_score_equals_the_cpu_score():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 20))
    Y = np.maximum(X @ rng.standard_normal((20, 20)), 0)
    assert affinity_score(X, Y, device="cuda") == pytest.approx(affinity_score(X, Y), rel=1e-9, abs=1e-12)


def test_cuda_signature_equals_the_cpu_signature():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10), torch.nn.ReLU()
    ).double()
    data = torch.randn(300, 3, 16, 16, dtype=torch.float64)
    cpu = signature(model, data, samples=300, progress=False)
    gpu = signature(model, data, samples=300, device="cuda", progress=False)
    assert [r.name for r in gpu.layers] == [r.name for r in cpu.layers]
    np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=1e-7, atol=1e-10)


def test_cuda_separability_equals_the_cpu_one():
    from exactnet.probe import layerwise_separability

    rng = np.random.default_rng(2)
    X = torch.from_numpy(rng.standard_normal((400, 12)))
    y = rng.integers(0, 3, 400)
    model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU())
    model = model.double()
    cpu = layerwise_separability(model, X, labels=y, measures=("n1", "n3"), progress=False)
    gpu = layerwise_separability(model, X, labels=y, measures=("n1", "n3"), device="cuda", progress=False)
    np.testing.assert_array_equal(gpu.values("n1"), cpu.values("n1"))
    np.testing.assert_allclose(gpu.values("n3"), cpu.values("n3"))


def test_cuda_sampled_smp_equals_the_cpu_one():
    from exactnet.probe.smp import layerwise_smp, paths_between, sampled_smp

    rng = np.random.default_rng(3)
    rows = torch.from_numpy(np.maximum(rng.standard_normal((6, 5, 1)) * np.linspace(-1, 1, 300), 0))
    np.testing.assert_allclose(sampled_smp(rows.cuda(), 1 / 299).cpu().numpy(), sampled_smp(rows, 1 / 299).numpy())
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU())
    model = model.double()
    a, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    paths = paths_between(a, b, 200)
    cpu = layerwise_smp(model, paths, progress=False)
    gpu = layerwise_smp(model, paths, device="cuda", progress=False)
    np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=1e-9)


def test_cuda_lazy_paths_and_smooth_rows_equal_the_cpu_ones():
    """Lazy paths computed on the GPU give the dense paths' rows and the same layer-wise
    SMP; rows with smooth stretches (rectified sines) give the CPU kernel's SMP_h."""
    from exactnet.probe.smp import layerwise_smp, paths_between, sampled_smp

    t = np.linspace(-0.01, 1.01, 611)
    rng = np.random.default_rng(4)
    rows = torch.from_numpy(np.maximum(np.sin(rng.uniform(2, 15, (16, 1)) * t) - rng.uniform(0, 0.5, (16, 1)), 0))
    np.testing.assert_allclose(
        sampled_smp(rows.cuda(), t[1] - t[0]).cpu().numpy(), sampled_smp(rows, t[1] - t[0]).numpy()
    )
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU()
    ).double()
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    lazy = paths_between(a.cuda(), b.cuda(), 300, lazy=True)
    np.testing.assert_allclose(lazy.dense().cpu().numpy(), paths_between(a, b, 300).numpy(), rtol=1e-14, atol=1e-15)
    cpu = layerwise_smp(model, paths_between(a, b, 300), progress=False)
    gpu = layerwise_smp(model.cuda(), lazy, batch_size=97, progress=False)
    np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=1e-9)
