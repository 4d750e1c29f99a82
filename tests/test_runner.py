"""The layer-wise runner: one pass of the data, any per-layer score (pairs, labels, paths),
one result type with a table, JSON and a plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from exactnet.probe import AffinityScore, LayerData, layerwise, plot_layerwise, signature


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).eval()


def _hidden(model, x):
    """The outputs of the two activations, computed directly."""
    with torch.no_grad():
        h1 = model[1](model[0](x))
        h2 = model[3](model[2](h1))
    return {"1": h1.double(), "3": h2.double()}


class CentroidAccuracy:
    """Nearest-class-mean accuracy of a layer's output rows (a labels score)."""

    name = "centroid"
    needs = ("output", "labels")

    def __call__(self, layer: LayerData) -> dict:
        Y, y = layer.output.numpy(), layer.labels.numpy()
        return {"accuracy": _centroid_accuracy(Y, y), "classes": int(len(np.unique(y)))}


def _centroid_accuracy(Y, y):
    classes = np.unique(y)
    means = np.stack([Y[y == c].mean(0) for c in classes])
    guess = classes[np.argmin(((Y[:, None, :] - means[None]) ** 2).sum(-1), axis=1)]
    return float((guess == y).mean())


def test_labels_score_from_batches_and_from_labels():
    model = _mlp()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(120, 4, generator=gen)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    hidden = _hidden(model, x)
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    from_batches = layerwise(model, loader, CentroidAccuracy(), samples=None, progress=False)
    from_labels = layerwise(model, x, CentroidAccuracy(), labels=y.numpy(), samples=None, batch_size=50, progress=False)
    for res in (from_batches, from_labels):
        assert res.score == "centroid" and res.primary == "accuracy"
        assert [row.name for row in res.layers] == ["1", "3"]
        for row in res.layers:
            assert row.values["accuracy"] == pytest.approx(_centroid_accuracy(hidden[row.name].numpy(), y.numpy()))
            assert row.classes == 3 and (row.n, row.d) == (120, hidden[row.name].shape[1])
    assert np.array_equal(from_batches.scores, from_labels.scores)


def test_labels_follow_the_sampled_rows():
    model = _mlp()
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(2))
    y = torch.arange(200) % 7
    seen = {}

    def record(layer: LayerData) -> float:
        seen[layer.name] = (layer.index.clone(), layer.labels.clone())
        return 0.0

    record.needs = ("output", "labels")  # type: ignore[attr-defined]
    res = layerwise(model, DataLoader(TensorDataset(x, y), batch_size=33), record, samples=50, progress=False)
    assert res.score == "record"
    for index, labels in seen.values():
        assert len(index) == 50 and torch.equal(labels, y[index])


def test_paths_score_sees_every_step_in_order():
    """A paths score: the mean |second difference| of the outputs along each path, against
    the same computed from the activations directly."""
    model = _mlp(3)
    gen = torch.Generator().manual_seed(4)
    a, b = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    t = torch.linspace(0, 1, 17)
    paths = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]  # (6 paths, 17 steps, 4)

    def second_differences(layer: LayerData) -> dict:
        P, S = layer.paths
        Y = layer.output.reshape(P, S, -1)
        assert torch.equal(layer.index, torch.arange(P * S))
        return {"mean_abs_d2": float((Y[:, 2:] - 2 * Y[:, 1:-1] + Y[:, :-2]).abs().mean())}

    second_differences.needs = ("output", "paths")  # type: ignore[attr-defined]
    res = layerwise(model, paths, second_differences, samples=10, progress=False)
    hidden = _hidden(model, paths.reshape(-1, 4))
    for row in res.layers:
        Y = hidden[row.name].reshape(6, 17, -1)
        assert row.mean_abs_d2 == pytest.approx(float((Y[:, 2:] - 2 * Y[:, 1:-1] + Y[:, :-2]).abs().mean()))
        assert row.n == 6 * 17  # every row kept, whatever samples= says
    assert res.samples is None


def test_signature_is_the_runner_with_the_affinity_score():
    model = _mlp()
    x = torch.randn(150, 4, generator=torch.Generator().manual_seed(5))
    sig = signature(model, x, samples=100, seed=3, progress=False)
    run = layerwise(model, x, AffinityScore(), samples=100, seed=3, progress=False)
    assert np.array_equal(sig.scores, run.scores) and sig.score == run.score == "affinity"
    assert [row.values for row in sig.layers] == [row.values for row in run.layers]


def test_result_table_json_and_one_figure_for_several(tmp_path):
    x = torch.randn(80, 4, generator=torch.Generator().manual_seed(6))
    y = (x[:, 0] > 0).long()
    results = [
        layerwise(_mlp(seed), x, CentroidAccuracy(), labels=y, samples=None, progress=False, name=f"net {seed}")
        for seed in (0, 1, 2)
    ]
    doc = json.loads(json.dumps(results[0].to_json()))
    assert doc["score"] == "centroid" and doc["model"] == "net 0"
    assert [set(layer) for layer in doc["layers"]] == [{"name", "type", "d", "n", "accuracy", "classes", "seconds"}] * 2
    table = results[0].table()
    assert "accuracy" in table.splitlines()[0] and len(table.splitlines()) == 3
    out = tmp_path / "three.png"
    fig = plot_layerwise(results, path=out, labels=["epoch 0", "epoch 1", "epoch 2"])
    assert out.stat().st_size > 5_000 and len(fig.axes[0].lines) == 3
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["epoch 0", "epoch 1", "epoch 2"]
    assert results[1].plot(key="classes").axes[0].get_ylabel() == "centroid: classes"


def test_clear_errors():
    model = _mlp()
    x = torch.randn(20, 4)
    with pytest.raises(ValueError, match="needs labels"):
        layerwise(model, x, CentroidAccuracy(), progress=False)
    with pytest.raises(ValueError, match="labels has 3 entries but data has 20"):
        layerwise(model, x, CentroidAccuracy(), labels=[0, 1, 2], progress=False)

    def on_paths(layer):
        return 0.0

    on_paths.needs = ("output", "paths")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"needs paths: pass data as a tensor of shape \(paths, steps"):
        layerwise(model, x, on_paths, progress=False)

    def odd(layer):
        return "high"

    with pytest.raises(TypeError, match="returns a number or a dict"):
        layerwise(model, x, odd, progress=False)
    odd.needs = ("gradients",)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="score.needs"):
        layerwise(model, x, odd, progress=False)
    with pytest.raises(TypeError, match="score must be callable"):
        layerwise(model, x, "affinity", progress=False)


def test_plots_on_an_axes_of_a_subfigure(tmp_path):
    """An Axes of a matplotlib SubFigure: its figure has no tight_layout nor savefig."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from exactnet import Network, segment_regions
    from exactnet.plot import plot_segment

    fig = plt.figure()
    left, right = fig.subfigures(1, 2)
    net = Network.from_arrays([[[1.0, -1.0], [0.5, 1.0]], [[1.0, 1.0]]], [[0.0, 0.25], [0.0]])
    assert plot_segment(segment_regions(net, [-1, -1], [1, 1]), ax=left.subplots(), path=tmp_path / "a.png") is fig
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(7))
    res = layerwise(_mlp(), x, CentroidAccuracy(), labels=(x[:, 0] > 0).long(), samples=None, progress=False)
    assert plot_layerwise([res], ax=right.subplots(), path=tmp_path / "b.png") is fig
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000


def test_the_capture_bar_knows_how_many_batches_come(capsys):
    """The runner streams batches into capture through a generator; the progress bar
    still shows the total, for a tensor and for lazy paths."""
    from exactnet.probe.smp import layerwise_smp, paths_between

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    signature(model, torch.randn(100, 4), samples=100, batch_size=32, progress=True)
    assert "4/4" in capsys.readouterr().err  # 100 rows in batches of 32
    paths = paths_between(torch.randn(3, 4), torch.randn(3, 4), 60, lazy=True)  # 3 x 64 rows with the margins
    layerwise_smp(model, paths, batch_size=50, progress=True)
    assert f"{-(-paths.n_rows // 50)}/{-(-paths.n_rows // 50)}" in capsys.readouterr().err


def test_labels_may_be_class_names():
    """Class names are numbered in sorted order, as exactnet.n1 numbers them: the same
    scores as the integer labels."""
    from exactnet.probe import layerwise_separability

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(60, 4)
    y = (x[:, 0] > 0).long()
    names = np.where(y.numpy() == 1, "dog", "cat")
    by_index = layerwise_separability(model, x, labels=y, measures=("n1", "n3"))
    by_name = layerwise_separability(model, x, labels=names, measures=("n1", "n3"))
    assert [r.values for r in by_name.layers] == [r.values for r in by_index.layers]
    with pytest.raises(ValueError, match="labels mixes kinds of values"):
        layerwise_separability(model, x, labels=np.array(["a", 1] * 30, dtype=object))
