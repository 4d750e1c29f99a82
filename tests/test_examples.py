"""The example scripts run and write their figures."""

import json
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_regions_along_lines_quick(tmp_path, monkeypatch, capsys):
    out = tmp_path / "fig.png"
    monkeypatch.setattr(sys, "argv", ["regions_along_lines.py", "--quick", "--out", str(out)])
    runpy.run_path(str(EXAMPLES / "regions_along_lines.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert "sawtooth [4, 4, 4]: 125 regions" in text
    assert out.stat().st_size > 10_000


def test_train_moons_classifier_quick_and_the_shipped_file(tmp_path, monkeypatch, capsys):
    """--quick trains and writes a loadable file; the full run reproduces the shipped
    weights (one thread, fixed seeds)."""
    import re

    import numpy as np
    import torch

    threads = torch.get_num_threads()
    quick, full = tmp_path / "quick.npz", tmp_path / "full.npz"
    monkeypatch.setattr(sys, "argv", ["train_moons_classifier.py", "--quick", "--out", str(quick)])
    runpy.run_path(str(EXAMPLES / "train_moons_classifier.py"), run_name="__main__")
    assert torch.get_num_threads() == threads  # the example restores the thread count
    accuracy = float(re.search(r"training accuracy ([0-9.]+)", capsys.readouterr().out).group(1))
    assert accuracy > 0.85
    written = np.load(quick)
    assert [written[f"W{i}"].shape for i in range(3)] == [(16, 2), (16, 16), (2, 16)]
    assert written["X"].shape == (400, 2)
    monkeypatch.setattr(sys, "argv", ["train_moons_classifier.py", str(full)])
    runpy.run_path(str(EXAMPLES / "train_moons_classifier.py"), run_name="__main__")
    shipped = np.load(EXAMPLES.parent / "exactnet" / "data" / "moons_classifier.npz")
    fresh = np.load(full)
    assert sorted(fresh.files) == sorted(shipped.files)
    for key in shipped.files:
        np.testing.assert_allclose(fresh[key], shipped[key], atol=1e-4, err_msg=key)


def test_regions_exact_quick(tmp_path, monkeypatch, capsys):
    """The exact partitions in 2-D and 3-D: the rational engine agrees, the slice and the
    chords see only 3-D patterns (the script asserts both), and sampling finds fewer
    regions than the exact count, more with more points."""
    import re

    out = tmp_path / "regions.png"
    monkeypatch.setattr(sys, "argv", ["regions_exact.py", "--quick", "--out", str(out)])
    runpy.run_path(str(EXAMPLES / "regions_exact.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert "244 regions" in text and "(the rational engine agrees)" in text
    assert "show only patterns of the 3-D partition" in text
    exact3 = int(re.search(r"3-12-12-1 \(He, seed 0\) on \[-1, 1\]\^3: (\d+) regions", text).group(1))
    rows = re.findall(r"^\s+([\d,]+)\s+(\d+)\s+([0-9.]+)\s+\S+\s+(\d+)\s+(\d+)$", text, flags=re.M)
    assert [int(r[0].replace(",", "")) for r in rows] == [100, 1000, 10000]
    found2 = [int(r[1]) for r in rows]
    found3 = [int(r[3]) for r in rows]
    assert found2 == sorted(found2) and found2[-1] <= 244
    assert found3 == sorted(found3) and found3[-1] < exact3 == int(rows[0][4])
    assert out.stat().st_size > 20_000


def test_bounds_and_thresholds_quick(tmp_path, monkeypatch, capsys):
    """Random counts under the upper bound, sawtooth networks at Thm 5's maximum, and the
    two functions needing n and n + 1 neurons (the script asserts the exact checks)."""
    import re

    out = tmp_path / "theory.png"
    monkeypatch.setattr(sys, "argv", ["bounds_and_thresholds.py", "--quick", "--out", str(out)])
    runpy.run_path(str(EXAMPLES / "bounds_and_thresholds.py"), run_name="__main__")
    text = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d)\s+(\d+) /\s+[0-9.]+ /\s+(\d+)\s+([\d,]+)", text, flags=re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    assert rows[0][1] == rows[0][2] == rows[0][3] == "37"  # one layer: Zaslavsky's maximum, every seed
    assert all(int(r[2]) <= int(r[3].replace(",", "")) for r in rows)
    assert int(rows[2][2]) < int(rows[2][3].replace(",", "")) // 10  # far below it when deep
    assert re.findall(r"sawtooth (\d+), Thm 5 (\d+)", text) == [("5", "5"), ("25", "25"), ("125", "125")]
    assert "zig-zag (5 breakpoints): 5 breakpoints, 5 neurons" in text
    assert "5 breakpoints, no subset: 5 breakpoints, 6 neurons" in text
    assert out.stat().st_size > 20_000


def test_pulse_training_quick(tmp_path, monkeypatch, capsys):
    import re

    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "pulse.png"
    monkeypatch.setattr(sys, "argv", ["pulse_training.py", "--quick", "--out", str(out), "--seed", "0"])
    runpy.run_path(str(EXAMPLES / "pulse_training.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert out.stat().st_size > 10_000
    assert torch.get_num_threads() == threads  # the example restores the thread count
    rows = [line for line in text.splitlines() if re.match(r"(L1|L2|CNN) conv", line)]
    # every architecture, with and without noise
    for arch, act in [
        ("L1 conv1x3", "relu"),
        ("L1 conv1x3", "softplus"),
        ("L2 conv2x1", "relu"),
        ("L2 conv1x1", "hardtanh"),
        ("L2 conv1x1", "sigmoid"),
        ("CNN conv4x3", "relu"),
        ("CNN conv4x3", "softplus"),
    ]:
        mine = [line for line in rows if re.match(rf"{arch}\s+{act}\s", line)]
        assert len(mine) == 2, (arch, act, text)
        if act in ("softplus", "sigmoid"):  # the exact engine does not take smooth activations
            assert all(line.count("n/a (smooth)") == 2 for line in mine)
        else:
            assert all(re.search(r"(yes|no \([0-9.e+-]+\))\s+(yes|no) \(D", line) for line in mine)
    # Lemma 1 with ReLU: the float model is not exactly exact, but the rounded filter with
    # the read-out solved by lemma1_readout is, whatever its (nonzero) slope
    l1 = next(line for line in rows if re.match(r"L1 conv1x3\s+relu\s+0\s", line))
    assert re.search(r"yes \(D=\d+\)\s*$", l1), l1
    l1_noisy = next(line for line in rows if re.match(r"L1 conv1x3\s+relu\s+0\.1\s", line))
    assert re.search(r"yes \(D=\d+\)\s*$", l1_noisy), l1_noisy


def test_nonlinearity_signature_quick(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sig.png"
    monkeypatch.setattr(sys, "argv", ["nonlinearity_signature.py", "--quick", "--out", str(out)])
    runpy.run_path(str(EXAMPLES / "nonlinearity_signature.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert "squeezenet1_1: 26 activations" in text  # stem, 8 Fire modules x 3, classifier
    assert "resnet18: 17 activations" in text
    assert out.stat().st_size > 20_000


def test_separability_digits_quick(tmp_path, monkeypatch, capsys):
    import json

    import torch

    threads = torch.get_num_threads()
    out, doc = tmp_path / "sep.png", tmp_path / "sep.json"
    monkeypatch.setattr(sys, "argv", ["separability_digits.py", "--quick", "--out", str(out), "--json", str(doc)])
    runpy.run_path(str(EXAMPLES / "separability_digits.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert out.stat().st_size > 20_000 and torch.get_num_threads() == threads
    for arch in ("digits-cnn", "digits-mlp"):
        assert f"{arch}, 100% of the training data: through training" in text
        assert f"{arch}, epoch 6: with fewer training samples" in text
    runs = json.loads(doc.read_text())
    assert set(runs) == {"digits-cnn 10%", "digits-cnn 100%", "digits-mlp 10%", "digits-mlp 100%"}
    cnn = runs["digits-cnn 100%"]
    assert cnn["test_accuracy"] > 0.9 and runs["digits-cnn 10%"]["test_accuracy"] < cnn["test_accuracy"]
    layers = cnn["epochs"]["6"]["layers"]
    assert [layer["name"] for layer in layers] == ["input", "1", "3", "7"]
    assert all(0 <= layer["n1"] < 1 and 0 <= layer["probe"] <= 1 for layer in layers)
    # training separates the classes at the last hidden layer: N1 falls from initialisation
    assert layers[-1]["n1"] < cnn["epochs"]["0"]["layers"][-1]["n1"]


def test_smp_forensics_quick(monkeypatch, capsys, tmp_path):
    import re

    png = tmp_path / "forensics.png"
    monkeypatch.setattr(sys, "argv", ["smp_forensics.py", "--quick", "--png", str(png)])
    runpy.run_path(str(EXAMPLES / "smp_forensics.py"), run_name="__main__")
    text = capsys.readouterr().out
    held_out = [float(v) for v in re.findall(r"held-out accuracy ([0-9.]+)", text)]
    assert len(held_out) == 2 and min(held_out) >= 0.9, text
    # the smooth networks have no kinks at all; the ReLU ones keep most of the slope's variation in kinks
    assert re.search(r"GELU\s+feature \(held-out\) median 0,", text)
    relu = float(re.search(r"ReLU\s+feature \(held-out\) median ([0-9.]+)", text).group(1))
    assert relu > 0.3
    assert png.stat().st_size > 10_000


def test_smp_propagation_quick(monkeypatch, capsys, tmp_path):
    """The propagation experiment: the linear rule is exact right after the first ReLU
    (its inputs' kinks are distinct), the ReLU and max-pooling rules within 35%, and the
    linear rule over-predicts deeper (shared kinks cancel), as docs/smp.md states."""
    out = tmp_path / "prop.json"
    png = tmp_path / "prop.png"
    monkeypatch.setattr(sys, "argv", ["smp_propagation.py", "--quick", "--json", str(out), "--png", str(png)])
    runpy.run_path(str(EXAMPLES / "smp_propagation.py"), run_name="__main__")
    assert "predicted / measured, by kind of layer" in capsys.readouterr().out
    runs = json.loads(out.read_text())
    assert set(runs) == {"1-D CNN", "2-D CNN, pool then ReLU", "2-D CNN, ReLU then pool"}
    for res in runs.values():
        layers = res["layers"]
        assert layers[0]["measured"] == 0 and layers[0]["predicted"] == 0  # the paths are straight
        for layer in layers:
            if layer["kind"] in ("relu", "max_pool") and layer["measured"] > 0:
                assert 0.75 < layer["ratio"] < 1.35, (res["model"], layer)
        deep = [layer for layer in layers if layer["name"].endswith("Linear") or layer["name"].endswith("Conv2d")]
        assert max(layer["ratio"] for layer in deep if layer["ratio"]) > 1.4
    second_conv = runs["1-D CNN"]["layers"][2]
    assert second_conv["ratio"] == pytest.approx(1.0, abs=0.05)
    assert png.stat().st_size > 10_000


def test_regions_intricacy_quick(monkeypatch, capsys, tmp_path):
    """Exact region counts after training on data of graded intricacy: random labels (the
    highest N1) end with the fewest regions, and both figures are written."""
    import re

    monkeypatch.setattr(sys, "argv", ["regions_intricacy.py", "--quick", "--png-dir", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "regions_intricacy.py"), run_name="__main__")
    text = capsys.readouterr().out
    rows = dict(re.findall(r"^(moons|random)\s+([0-9.]+)", text, flags=re.M))
    assert float(rows["random"]) > 0.5 > 0.05 > float(rows["moons"])
    counts = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^(moons|random)\s+\S+ \(\S+\)\s+(\d+)", text, flags=re.M)
    }
    assert counts["random"] < counts["moons"]
    assert (tmp_path / "intricacy_partitions.png").stat().st_size > 10_000
    assert (tmp_path / "intricacy_counts.png").stat().st_size > 10_000


def test_regions_training_quick(monkeypatch, capsys, tmp_path):
    """Snapshots through training on two moons: the accuracy rises, the boundary exists
    after training, and the grid, curves, GIF and run are written."""
    from exactnet import load_run

    monkeypatch.setattr(sys, "argv", ["regions_training.py", "--quick", "--out", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "regions_training.py"), run_name="__main__")
    assert "snapshot time: median" in capsys.readouterr().out
    run = load_run(tmp_path / "training_moons.npz")
    assert [s.epoch for s in run.snapshots] == [0, 5, 10, 15, 20]
    assert run.snapshots[-1].train_accuracy > run.snapshots[0].train_accuracy
    assert run.snapshots[-1].boundary_pieces > 0 and run.snapshots[-1].boundary_length > 1
    for name in ("training_moons_grid.png", "training_moons_curves.png", "training_moons.gif"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_regions_training_digits_quick(monkeypatch, capsys, tmp_path):
    """The digits MLP tracked along chords and slices: the class changes along the
    chords appear with training, and the figures are written."""
    import re

    monkeypatch.setattr(sys, "argv", ["regions_training.py", "--data", "digits", "--quick", "--out", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "regions_training.py"), run_name="__main__")
    text = capsys.readouterr().out
    before, after = (float(v) for v in re.search(r"class changes ([0-9.]+), then ([0-9.]+)", text).groups())
    assert before < 0.5 < after
    assert (tmp_path / "training_digits_grid.png").stat().st_size > 10_000
