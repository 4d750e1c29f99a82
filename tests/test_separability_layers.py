"""Class separability through a network's layers: the score against the measures called
directly, skipped measures, the table across runs, the data loaders (an image folder and
MNIST files the test writes), the small models and the command line."""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pytest
import torch

from exactnet.probe import companions, layerwise_table
from exactnet.probe.data import SMALL_MODELS, digits_data, image_data, model_by_name
from exactnet.probe.separability import MEASURES, SeparabilityScore, f1, layerwise_separability, n1


def _blobs(n=240, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.abs(rng.standard_normal((n, d)) + 1.5 * np.eye(3, d)[y])  # non-negative: ReLU keeps it
    return X, y


def test_each_layer_gets_the_measures_of_its_rows():
    """A ReLU on non-negative inputs returns them: the layer's values are the measures of
    the inputs themselves, called directly."""
    X, y = _blobs()
    model = torch.nn.Sequential(torch.nn.ReLU()).double()
    res = layerwise_separability(
        model, torch.from_numpy(X), labels=y, reduction="flatten", samples=None, progress=False
    )
    inp, row = res.layers
    assert (inp.name, inp.type) == ("input", "input") and inp.values == row.values
    assert (row.n, row.d) == (240, 6)
    assert row.values["n1"] == n1(X, y).value
    assert row.values["f1"] == pytest.approx(f1(X, y), rel=1e-12)
    assert row.values["n2"] == pytest.approx(companions.n2(X, y), rel=1e-12)
    assert row.values["n3"] == companions.n3(X, y)
    assert row.values["probe"] == companions.linear_probe(X, y)
    assert row.values["gdv"] == pytest.approx(companions.gdv(X, y), rel=1e-12)
    assert row.values["skipped"] is False
    assert res.primary == "n1" and res.to_json()["layers"][1]["n1"] == row.values["n1"]
    # a sample of the rows: the input row measures the same inputs the layer kept
    sub = layerwise_separability(model, torch.from_numpy(X), labels=y, reduction="flatten", samples=50, progress=False)
    assert sub.layers[0].n == sub.layers[1].n == 50 and sub.layers[0].values == sub.layers[1].values
    assert sub.layers[1].values != row.values
    assert "n1" in res.table() and res.options["measures"] == list(MEASURES)


def test_measures_subset_order_and_bad_options():
    X, y = _blobs(90)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4), torch.nn.ReLU())
    res = layerwise_separability(model.double(), torch.from_numpy(X), labels=y, measures=("n3", "n1"), progress=False)
    assert res.primary == "n3" and [r.name for r in res.layers] == ["input", "1", "3"]
    assert set(res.layers[1].values) == {"n3", "n1", "skipped"}
    with pytest.raises(ValueError, match="unknown \\['n9'\\]"):
        SeparabilityScore(measures=("n1", "n9"))
    with pytest.raises(ValueError, match="metric"):
        SeparabilityScore(metric="cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty tuple"):
        SeparabilityScore(measures="n1")  # type: ignore[arg-type]


def test_a_measure_that_cannot_be_computed_is_nan_flagged_and_warned():
    X, y = _blobs(40)
    y[:] = 0
    y[:20] = 1
    y[0] = 2  # class 2 has one row: N2 and the probe need two
    model = torch.nn.Sequential(torch.nn.ReLU()).double()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = layerwise_separability(model, torch.from_numpy(X), labels=y, samples=None, progress=False)
    row = res.layers[1]
    assert np.isnan(row.values["n2"]) and np.isnan(row.values["probe"]) and row.values["skipped"] is True
    assert 0 <= row.values["n1"] <= 1
    assert any("n2 skipped" in str(w.message) for w in caught)
    assert "skipped:" in res.table()


def test_table_across_runs():
    X, y = _blobs(120)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU())
    a = layerwise_separability(model.double(), torch.from_numpy(X), labels=y, measures=("n1",), progress=False)
    b = layerwise_separability(model.double(), torch.from_numpy(X * 2), labels=y, measures=("n1",), progress=False)
    text = layerwise_table({"epoch 0": a, "epoch 1": b})
    lines = text.splitlines()
    assert lines[0] == "n1 per layer" and "epoch 0" in lines[1] and "epoch 1" in lines[1]
    assert len(lines) == 5 and lines[2].startswith("input") and f"{a.layers[1].values['n1']:.4f}" in lines[3]
    other = layerwise_separability(
        torch.nn.Sequential(torch.nn.ReLU()).double(), torch.from_numpy(X), labels=y, progress=False
    )
    with pytest.raises(ValueError, match="other layers"):
        layerwise_table([a, other])


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    Image.fromarray(np.full((10, 12, 3), [255, 0, 0], dtype=np.uint8)).save(tmp_path / "cat" / "0.png")  # red
    x, y, classes = image_data(tmp_path, size=8)
    assert x.shape == (6, 3, 8, 8) and y.tolist() == [0, 0, 0, 1, 1, 1] and classes == ["cat", "dog"]
    red = x[0] * torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1) + torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    assert torch.allclose(red[0], torch.ones(8, 8)) and torch.allclose(red[1:], torch.zeros(2, 8, 8), atol=1e-6)
    g, _, _ = image_data(tmp_path, size=8, rgb=False, limit=4, seed=1)
    assert g.shape == (4, 1, 8, 8) and 0 <= float(g.min()) and float(g.max()) <= 1
    with pytest.raises(ValueError, match="does not exist"):
        image_data(tmp_path / "nothing")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        image_data(tmp_path / "a_file")
    with pytest.raises(ValueError, match="limit"):
        image_data(tmp_path, limit=0)


def _write_mnist(root, n=5):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    for split in ("train", "t10k"):  # torchvision looks for both splits
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    return images, labels


def test_torchvision_dataset_on_disk(tmp_path):
    images, labels = _write_mnist(tmp_path)
    x, y, classes = image_data(f"MNIST:{tmp_path}", size=28, rgb=False)
    assert x.shape == (5, 1, 28, 28) and y.tolist() == labels.tolist() and len(classes) == 10
    assert torch.allclose(x[:, 0] * 255, torch.from_numpy(images).float(), atol=1e-3)
    with pytest.raises(ValueError, match="nothing is downloaded"):
        image_data(f"FashionMNIST:{tmp_path}")
    with pytest.raises(ValueError, match="unpickling"):
        image_data(f"CIFAR10:{tmp_path}")


def test_small_models_and_their_weights(tmp_path):
    from safetensors.torch import save_file

    x, y = digits_data()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,) and float(x.max()) == 1.0
    for name in SMALL_MODELS:
        model = model_by_name(name, seed=3)
        assert model(x[:4]).shape == (4, 10)
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
        again = model_by_name(name, seed=99, weights=path)
        assert torch.equal(again(x[:4]), model(x[:4]))
    with pytest.raises(ValueError, match="does not fit digits-mlp"):
        model_by_name("digits-mlp", weights=tmp_path / "digits-cnn.safetensors")


def test_command_line(tmp_path, capsys):
    from exactnet.cli import main

    assert main(["separability", "--measures", "n1,n3", "--samples", "300", "--json", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "digits-cnn" and doc["inputs"] == 1797 and doc["measures"] == ["n1", "n3"]
    assert doc["reduction"] == "flatten" and doc["layers"][1]["d"] == 16 * 8 * 8  # every feature of a small model
    assert len(doc["layers"]) == 4 and all(0 <= layer["n1"] <= 1 and layer["n"] == 300 for layer in doc["layers"])
    png = tmp_path / "sep.png"
    _write_mnist(tmp_path, n=20)  # two images per class
    args = ["separability", "--model", "digits-mlp", "--data", f"MNIST:{tmp_path}", "--measures", "n1,gdv"]
    assert main(args + ["--png", str(png), "--quiet"]) == 0
    assert png.stat().st_size > 5_000 and "n1" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--measures"):
        main(["separability", "--measures", "n1,n7"])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["separability", "--data", str(tmp_path / "none")])
