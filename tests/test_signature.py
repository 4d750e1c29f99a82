"""The non-linearity signature: scores against an independent POT pipeline on hand-made
channel means, exact answers (affine activations score 1), the table, the plot and the
``exactnet signature`` command."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import ot
import pytest
import torch
from torch import nn

from exactnet.cli import main
from exactnet.probe.data import digits_images, random_images, torchvision_model
from exactnet.probe.nonlinearity import plot_signatures, signature


def _pot_score(X, Y, ridge_mode="absolute"):
    d = X.shape[1]
    Cx, Cy = np.cov(X.T).reshape(d, d), np.cov(Y.T).reshape(d, d)
    lam = 1e-6 if ridge_mode == "absolute" else 1e-6 * max(np.trace(Cx), np.trace(Cy)) / d
    Sx = Cx + lam * np.eye(d)
    Sy = Cy + lam * np.eye(d)
    A, b = ot.gaussian.bures_wasserstein_mapping(X.mean(0), Y.mean(0), Sx, Sy)
    n = len(X)
    w = np.full(n, 1 / n)
    return 1 - math.sqrt(ot.emd2(w, w, ot.dist(X @ A + b, Y), numItermax=10**7) / (2 * np.trace(Sy)))


def _small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(8 * 12 * 12, 10),
        nn.GELU(),
    ).eval()


@pytest.mark.parametrize("ridge_mode", ["relative", "absolute"])
def test_scores_equal_an_independent_pipeline_on_hand_captured_means(ridge_mode):
    model = _small_cnn()
    x = random_images(300, 16, seed=3)
    pairs = []

    def hook(module, inputs, output):
        a, b = inputs[0], output
        if a.ndim == 4:
            a, b = a.mean(dim=(2, 3)), b.mean(dim=(2, 3))
        pairs.append((a.double().numpy(), b.double().numpy()))

    handles = [m.register_forward_hook(hook) for m in model if isinstance(m, (nn.ReLU, nn.Tanh, nn.GELU))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    sig = signature(model, x, samples=300, progress=False, shrinkage=False, ridge_mode=ridge_mode)
    assert sig.options["ridge_mode"] == ridge_mode == sig.to_json()["ridge_mode"]
    assert [layer.type for layer in sig.layers] == ["ReLU", "Tanh", "GELU"]
    assert [(layer.n, layer.d) for layer in sig.layers] == [(300, 6), (300, 8), (300, 10)]
    for layer, (X, Y) in zip(sig.layers, pairs):
        assert layer.score == pytest.approx(_pot_score(X, Y, ridge_mode), abs=1e-6)
        assert not layer.shrinkage


def test_affine_activations_score_one_exactly():
    """ReLU on inputs that are all positive and LeakyReLU(1) are the identity: score 1."""
    lin = nn.Linear(4, 5)
    with torch.no_grad():
        lin.bias.fill_(100.0)
    model = nn.Sequential(lin, nn.ReLU(), nn.Linear(5, 5), nn.LeakyReLU(1.0)).eval()
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    sig = signature(model, x, samples=200, progress=False)
    assert sig.layers[0].score == pytest.approx(1.0, abs=1e-9)
    assert sig.layers[1].score == pytest.approx(1.0, abs=1e-9)
    genuine = signature(nn.Sequential(nn.ReLU()), x, samples=200, progress=False)
    assert genuine.layers[0].score < 0.9  # a ReLU on signed inputs is far from affine
    assert not any(layer.constant_output for layer in sig.layers + genuine.layers)
    dead = signature(
        nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        .eval()
        .apply(lambda m: torch.nn.init.constant_(m.bias, -100.0) if isinstance(m, nn.Linear) else None),
        x,
        samples=200,
        progress=False,
    )
    assert dead.layers[0].constant_output and dead.layers[0].score == 1.0 and "const" in dead.table()


def test_shrinkage_auto_marks_the_layers_with_d_at_least_n():
    model = _small_cnn()
    x = random_images(8, 16, seed=0)
    sig = signature(model, x, samples=8, progress=False)
    assert [layer.shrinkage for layer in sig.layers] == [False, True, True]  # d = 6, 8, 10 with n = 8
    table = sig.table()
    assert table.splitlines()[2].endswith("shrinkage") and not table.splitlines()[1].endswith("shrinkage")
    assert "shrinkage: d >= n, scored with Ledoit-Wolf shrinkage" in table
    with pytest.raises(ValueError, match=r"layer '3'.*shrinkage='ledoit-wolf'"):
        signature(model, x, samples=8, progress=False, shrinkage=False)


def test_table_json_and_plot(tmp_path):
    model = _small_cnn()
    x = random_images(64, 16, seed=1)
    sig = signature(model, x, name="tiny", samples=64, progress=False)
    doc = sig.to_json()
    assert doc["model"] == "tiny" and [entry["name"] for entry in doc["layers"]] == ["1", "3", "6"]
    assert set(doc["layers"][0]) >= {"name", "type", "d", "n", "score", "seconds"}
    assert "tiny" in str(sig) and "Tanh" in sig.table()
    other = dataclasses.replace(sig, model="shifted", layers=sig.layers[:2])
    out = tmp_path / "both.png"
    fig = plot_signatures([sig, other], path=out)
    assert out.stat().st_size > 10_000
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="signatures is empty"):
        plot_signatures([])


def test_data_sources():
    a, b = random_images(4, 32, seed=5), random_images(4, 32, seed=5)
    assert torch.equal(a, b) and a.shape == (4, 3, 32, 32)
    d = digits_images(10, 16)
    assert d.shape == (10, 3, 16, 16)
    grey = [d[:, c] * std + mean for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))]
    assert torch.allclose(grey[0], grey[1], atol=1e-6) and torch.allclose(grey[0], grey[2], atol=1e-6)
    assert float(grey[0].min()) >= -1e-6 and float(grey[0].max()) <= 1 + 1e-6
    with pytest.raises(ValueError, match="1797"):
        digits_images(2000, 16)
    with pytest.raises(ValueError, match="did you mean resnet18"):
        torchvision_model("resnet81")


def _run(capsys, *args):
    code = main(["signature", *args])
    return code, capsys.readouterr().out


def test_cli_json_on_resnet18(capsys, tmp_path):
    code, out = _run(
        capsys,
        "--model",
        "resnet18",
        "--samples",
        "24",
        "--image-size",
        "32",
        "--json",
        "--png",
        str(tmp_path / "sig.png"),
    )
    assert code == 0
    doc = json.loads(out)
    assert len(doc["layers"]) == 17  # stem + 2 call sites in each of 8 BasicBlocks
    assert all({"name", "d", "n", "score"} <= set(layer) for layer in doc["layers"])
    assert [layer["d"] for layer in doc["layers"]][:3] == [64, 64, 64]
    assert all(0 <= layer["score"] <= 1 for layer in doc["layers"])
    assert (tmp_path / "sig.png").stat().st_size > 10_000


def test_cli_weights_file_is_the_model(capsys, tmp_path):
    torch.save(torchvision_model("resnet18", seed=1).state_dict(), tmp_path / "w.pt")
    common = ["--model", "resnet18", "--samples", "20", "--image-size", "32", "--data", "digits", "--json"]
    _, plain = _run(capsys, *common, "--seed", "1")
    _, loaded = _run(capsys, *common, "--seed", "2", "--weights", str(tmp_path / "w.pt"))
    _, other = _run(capsys, *common, "--seed", "2")
    scores = [[layer["score"] for layer in json.loads(text)["layers"]] for text in (plain, loaded, other)]
    assert scores[0] == scores[1]
    assert scores[0] != scores[2]


def test_cli_refuses_pickled_objects(tmp_path):
    torch.save(torchvision_model("resnet18", seed=1), tmp_path / "model.pt")  # a whole pickled module
    with pytest.raises(SystemExit, match="weights_only=True"):
        main(
            [
                "signature",
                "--model",
                "resnet18",
                "--weights",
                str(tmp_path / "model.pt"),
                "--samples",
                "4",
                "--image-size",
                "32",
                "--quiet",
            ]
        )


def test_cli_errors():
    with pytest.raises(SystemExit, match="not a torchvision classifier"):
        main(["signature", "--model", "resnet1800", "--samples", "4", "--image-size", "32", "--quiet"])
    with pytest.raises(SystemExit, match="exactly one --model"):
        main(["signature", "--model", "resnet18,vgg11", "--weights", "x.pt"])
    with pytest.raises(SystemExit, match="project:K"):
        main(["signature", "--reduction", "project:many", "--samples", "4", "--image-size", "32"])
    with pytest.raises(SystemExit, match="--image-size 224"):
        main(["signature", "--model", "vit_b_16", "--samples", "4", "--image-size", "32", "--quiet"])
    with pytest.raises(SystemExit, match="1797"):
        main(["signature", "--data", "digits", "--samples", "2000", "--image-size", "32", "--quiet"])
