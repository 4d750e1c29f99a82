"""Lazy input paths (exactnet.probe.smp.LazyPaths): the rows computed on demand are
bitwise the dense tensor's, and the layer-wise SMP along them equals the dense one."""

from __future__ import annotations

import pytest
import torch

from exactnet.probe import LazyPaths as ExportedLazyPaths
from exactnet.probe.runner import layerwise
from exactnet.probe.smp import LazyPaths, SMPScore, layerwise_smp, paths_around, paths_between


def _ends(n: int = 3, shape: tuple[int, ...] = (2, 5), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn((n, *shape), generator=g, dtype=torch.float64)
    b = torch.randn((n, *shape), generator=g, dtype=torch.float64)
    return a, b


def _check_rows(lazy: LazyPaths, dense: torch.Tensor) -> None:
    flat = dense.reshape((-1, *dense.shape[2:]))
    n = flat.shape[0]
    assert lazy.shape == tuple(dense.shape) and len(lazy) == dense.shape[0]
    assert lazy.n_paths * lazy.samples_per_path == n
    assert lazy.dtype == dense.dtype and lazy.device == dense.device
    assert torch.equal(lazy.dense(), dense)
    per = lazy.samples_per_path
    for batch_size in (1, 3, 7, per, per + 1, 2 * per - 1, n, n + 5):
        blocks = list(lazy.batches(batch_size))
        assert len(blocks) == -(-n // batch_size)
        assert all(len(b) == batch_size for b in blocks[:-1])
        assert torch.equal(torch.cat(blocks), flat), batch_size
    for lo, hi in ((0, 0), (5, 5), (1, n - 1), (per - 1, 2 * per + 1), (n - 2, n + 10)):
        assert torch.equal(lazy.rows(lo, hi), flat[lo:hi]), (lo, hi)
    for p in range(-len(lazy), len(lazy)):
        assert torch.equal(lazy[p], dense[p])
    assert torch.equal(torch.stack(list(lazy)), dense)
    with pytest.raises(IndexError):
        lazy[len(lazy)]


@pytest.mark.parametrize("margin", [0, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lazy_paths_between_rows_equal_the_dense_rows(margin, dtype):
    a, b = (x.to(dtype) for x in _ends())
    lazy = paths_between(a, b, 9, margin=margin, lazy=True)
    dense = paths_between(a, b, 9, margin=margin)
    assert isinstance(lazy, LazyPaths) and isinstance(dense, torch.Tensor)
    assert ExportedLazyPaths is LazyPaths
    assert lazy.shape == (3, 9 + 2 * margin, 2, 5) and lazy.samples_per_path == 9 + 2 * margin
    _check_rows(lazy, dense)
    # the formula: x_p(t_i) = a_p + t_i (b_p - a_p), t_i = i / (steps - 1), i from -margin
    assert torch.allclose(lazy[1][margin], a[1]) and torch.allclose(lazy[1][margin + 8], b[1])


@pytest.mark.parametrize("margin", [0, 2])
def test_lazy_paths_around_rows_equal_the_dense_rows(margin):
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    lazy = paths_around(x, 11, radius=0.3, seed=5, margin=margin, lazy=True)
    dense = paths_around(x, 11, radius=0.3, seed=5, margin=margin)
    assert isinstance(lazy, LazyPaths)
    _check_rows(lazy, dense)
    other = paths_around(x, 11, radius=0.3, seed=6, margin=margin, lazy=True)
    assert isinstance(other, LazyPaths) and not torch.equal(other.dense(), dense)


def test_bad_input_raises_for_lazy_paths_too():
    a, b = _ends()
    with pytest.raises(ValueError, match="same shape"):
        paths_between(a, b[:2], 5, lazy=True)
    with pytest.raises(ValueError, match="at least 3"):
        paths_between(a, b, 2, lazy=True)
    with pytest.raises(ValueError, match="at least 3"):
        paths_around(a, 2, lazy=True)
    with pytest.raises(ValueError, match="same shape"):
        LazyPaths(a, b[:, :1], 5)
    lazy = paths_between(a, b, 5, lazy=True)
    assert isinstance(lazy, LazyPaths)
    with pytest.raises(ValueError, match="at least one row"):
        next(lazy.batches(0))
    with pytest.raises(ValueError, match="non-negative"):
        lazy.rows(-1, 3)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6, 5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 1),
    ).double()


def test_layerwise_smp_is_the_same_along_lazy_and_dense_paths():
    model = _model()
    a, b = _ends(n=3, shape=(1, 8), seed=1)
    steps, margin = 40, 2
    dense = paths_between(a, b, steps, margin=margin)
    lazy = paths_between(a, b, steps, margin=margin, lazy=True)
    rows = 3 * (steps + 2 * margin)
    batch_size = 17
    assert rows % batch_size != 0
    res_dense = layerwise_smp(model, dense, margin=margin, batch_size=batch_size, progress=False)
    res_lazy = layerwise_smp(model, lazy, margin=margin, batch_size=batch_size, progress=False)
    assert [r.name for r in res_lazy.layers] == [r.name for r in res_dense.layers] == ["1", "4"]
    for rd, rl in zip(res_dense.layers, res_lazy.layers):
        assert rl.values == rd.values and rl.n == rd.n == rows
    assert res_lazy.options == res_dense.options
    assert any(r.values["smp_mean"] > 0 for r in res_lazy.layers)  # kinks were seen
    with pytest.raises(ValueError, match="at least 3 inside"):
        layerwise_smp(model, paths_between(a, b, 3, margin=1, lazy=True), margin=3, progress=False)


def test_lazy_paths_with_labels_or_a_score_without_paths_is_an_error():
    model = _model()
    a, b = _ends(n=2, shape=(1, 8), seed=2)
    lazy = paths_between(a, b, 5, lazy=True)
    score = SMPScore(h=0.25)
    with pytest.raises(ValueError, match="labels= goes with data given as a tensor; data is a LazyPaths"):
        layerwise(model, lazy, score, labels=torch.zeros(lazy.n_rows), progress=False)

    def on_rows(layer):
        return float(layer.output.mean())

    with pytest.raises(ValueError, match="LazyPaths .* does not use paths"):
        layerwise(model, lazy, on_rows, progress=False)


def test_a_score_needing_paths_names_lazy_paths_in_its_error():
    model = _model()
    with pytest.raises(ValueError, match=r"or a LazyPaths \(paths_between\(\.\.\., lazy=True\)\)"):
        layerwise(model, torch.zeros(4, 8, dtype=torch.float64), SMPScore(h=0.25), progress=False)
