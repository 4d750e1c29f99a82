"""Linear regions through training (exactnet.training): snapshots equal fresh partitions of
their saved weights, the counts near the data and elsewhere add up, the decision
boundary's length on a network whose boundary is known, the data's graded intricacy and
the trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import exactnet
from exactnet import from_torch
from exactnet.training import intricacy, load_run, make_dataset, mlp, snapshot_epochs, track, train_classifier
from exactnet.training.tracking import _boundary


@pytest.fixture(scope="module")
def moons_run():
    X, y = make_dataset("moons", 200, seed=0)
    Xt, yt = make_dataset("moons", 200, seed=1)
    model, run = train_classifier((X, y), test=(Xt, yt), widths=(8, 8), epochs=12, snapshots=4, name="moons")
    return model, run


def test_snapshots_equal_fresh_partitions_of_their_saved_weights(moons_run, tmp_path):
    model, run = moons_run
    assert [s.step for s in run.snapshots] == [0, 4, 8, 12]
    path = run.save(tmp_path / "run.npz")
    with np.load(path, allow_pickle=False) as f:  # numbers and one JSON string, no pickles
        assert "meta" in f.files
    back = load_run(path)
    assert back.name == "moons" and back.domain == run.domain and back.radius == run.radius
    np.testing.assert_array_equal(back.train[0], run.train[0])
    for old, new in zip(run.snapshots, back.snapshots):
        assert new.values() == old.values()
        fresh = new.regions()  # recomputed from the saved weights
        assert fresh is not old.regions()
        assert fresh.num_regions == old.num_regions
        assert _boundary(fresh) == (old.boundary_pieces, pytest.approx(old.boundary_length, rel=1e-12))
    # the last snapshot is the trained model itself
    last = exactnet.regions(from_torch(model), exactnet.Box(run.domain[::2], run.domain[1::2]))
    assert last.num_regions == run.snapshots[-1].num_regions
    assert run.snapshots[-1].train_accuracy > run.snapshots[0].train_accuracy


def test_counts_near_the_data_and_elsewhere_add_up(moons_run):
    model, run = moons_run
    X, y = run.train
    counts = {}
    for radius in (0.0, 0.05, 0.2, 100.0):
        s = track(model, train=(X, y), radius=radius).snapshot()
        assert s.near + s.elsewhere == s.num_regions
        counts[radius] = s.near
    assert counts[0.0] <= counts[0.05] <= counts[0.2] <= counts[100.0] == s.num_regions
    # radius 0: exactly the regions whose closure holds a training point
    sub = track(model, train=(X[:40], y[:40]), radius=0.0, domain=run.domain).snapshot()
    holding = {r.index for r in sub.regions().regions for x in X[:40] if r.contains(x)}
    assert sub.near == len(holding) > 1
    hull = track(model, train=(X, y), near="hull").snapshot()
    assert 0 < hull.near < hull.num_regions and hull.near + hull.elsewhere == hull.num_regions


def test_decision_boundary_length_of_a_known_network():
    """out0 - out1 = x - 0.3 on [-1, 1]^2, and a hidden unit relu(y) splits the square at
    y = 0: the boundary is the segment x = 0.3, length 2, in 2 pieces (one per region)."""
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        model[0].bias.copy_(torch.tensor([2.0, 0.0]))
        model[2].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        model[2].bias.copy_(torch.tensor([-2.3, 0.0]))
    X = np.array([[-0.5, 0.2], [0.8, -0.4], [0.5, 0.5], [-0.9, -0.9]])
    y = np.array([1, 0, 0, 1])  # class 0 where x > 0.3
    s = track(model, domain=(-1, 1, -1, 1), train=(X, y)).snapshot()
    assert s.num_regions == 2 and s.boundary_pieces == 2
    assert s.boundary_length == pytest.approx(2.0, rel=1e-12)
    assert s.regions().decision_boundary_length == pytest.approx(2.0, rel=1e-12)
    assert s.train_accuracy == 1.0


def test_tracker_refuses_bad_input():
    model = mlp((4,), seed=0)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        track(model, train=(np.zeros(5), np.zeros(5, int)))
    with pytest.raises(ValueError, match="test has 3"):
        track(model, train=(np.zeros((5, 2)), np.zeros(5, int)), test=(np.zeros((5, 3)), np.zeros(5, int)))
    with pytest.raises(ValueError, match="NaN"):
        track(model, train=(np.full((5, 2), np.nan), np.zeros(5, int)))
    with pytest.raises(ValueError, match="near="):
        track(model, train=(np.zeros((5, 2)), np.zeros(5, int)), near="close")
    with pytest.raises(ValueError, match="train="):
        track(model)
    with pytest.raises(ValueError, match="u0 < u1"):
        track(model, domain=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="3 inputs but the tracker was set up for 2"):
        track(mlp((4,), inputs=3), domain=(0, 1, 0, 1)).snapshot()
    with pytest.raises(ValueError, match="radius and near apply to models with 2 inputs"):
        track(mlp((4,), inputs=5), train=(np.random.rand(9, 5), np.arange(9) % 2), radius=0.1)
    with pytest.raises(ValueError, match="chords=0, slices=0"):
        track(mlp((4,), inputs=5), train=(np.random.rand(9, 5), np.arange(9) % 2), chords=0, slices=0)
    with pytest.raises(ValueError, match="not an exactnet training run"):
        bad = np.savez
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            bad(f"{d}/x.npz", meta=np.array('{"format": "other"}'))
            load_run(f"{d}/x.npz")


def test_trainer_is_repeatable_and_checks_its_arguments():
    X, y = make_dataset("circles", 120, seed=2)
    _, a = train_classifier((X, y), widths=(6,), epochs=3, snapshots=[0, 3], seed=5)
    _, b = train_classifier((X, y), widths=(6,), epochs=3, snapshots=[0, 3], seed=5)
    assert [s.values() | {"seconds": 0} for s in a.snapshots] == [s.values() | {"seconds": 0} for s in b.snapshots]
    assert snapshot_epochs(100, 11) == list(range(0, 101, 10)) and snapshot_epochs(5, 1) == [5]
    with pytest.raises(ValueError, match="one class"):
        train_classifier((X, np.zeros(len(X), int)), epochs=1)
    with pytest.raises(ValueError, match="widths"):
        train_classifier((X, y), widths=(), epochs=1)
    with pytest.raises(ValueError, match="epochs must lie"):
        train_classifier((X, y), epochs=2, snapshots=[0, 5])


def test_data_of_graded_intricacy():
    """Balanced, seeded, and N1 rising with the spirals' turns and the checkerboard's
    frequency, highest for random labels."""
    for name in ("moons", "circles", "quantiles", "spirals", "checker", "random"):
        X, y = make_dataset(name, 300, seed=3)
        assert X.shape == (300, 2) and set(np.unique(y)) == {0, 1}
        assert abs(y.mean() - 0.5) < 0.1
        np.testing.assert_array_equal(make_dataset(name, 300, seed=3)[0], X)
    spiral = [intricacy(*make_dataset("spirals", 400, level=t, seed=0)) for t in (1, 2, 3)]
    checker = [intricacy(*make_dataset("checker", 400, level=f, seed=0)) for f in (2, 4, 8)]
    assert spiral[0] < spiral[1] < spiral[2] and checker[0] < checker[1] < checker[2]
    assert intricacy(*make_dataset("random", 400, seed=0)) > max(spiral + checker)
    assert intricacy(*make_dataset("moons", 400, seed=0)) < 0.05
    with pytest.raises(ValueError, match="use one of"):
        make_dataset("swiss roll")
    with pytest.raises(ValueError, match="turns"):
        make_dataset("spirals", level=0)


def test_pictures_and_the_command_line(tmp_path, capsys):
    """exactnet train-regions writes the run, a grid, the curves (JSON and picture) and a
    GIF with one frame per snapshot; the run read back matches the printed curves."""
    import json

    from PIL import Image

    from exactnet.cli import main

    out = tmp_path / "run"
    args = ["train-regions", "--data", "checker", "--level", "2", "--points", "80", "--widths", "6,6"]
    assert main(args + ["--epochs", "4", "--snapshots", "3", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["curves"]["epoch"] == [0.0, 2.0, 4.0] and printed["widths"] == [6, 6]
    run = load_run(printed["files"]["run"])
    assert [s.num_regions for s in run.snapshots] == printed["curves"]["num_regions"]
    assert json.loads((out / "curves.json").read_text())["curves"] == printed["curves"]
    with Image.open(out / "training.gif") as gif:
        assert gif.n_frames == 3
    for name in ("snapshots.png", "curves.png"):
        assert (out / name).stat().st_size > 10_000
    with pytest.raises(SystemExit, match="use one of"):
        main(["train-regions", "--data", "swirl"])
    with pytest.raises(SystemExit, match="--widths"):
        main(["train-regions", "--widths", "a,b"])
    with pytest.raises(ValueError, match="GIF"):
        run.animate(tmp_path / "x.mp4")
    from exactnet.training.pictures import plot_curves

    with pytest.raises(ValueError, match="labels"):
        plot_curves([run, run], labels=["one"])


def test_models_with_more_inputs_along_chords_and_slices(tmp_path):
    """An MLP on 64-pixel digits: each snapshot's chords have the regions of the exact
    1-D engine and the class changes of a dense sampling along them; its slice has the
    regions of a fresh partition of the plane through its three inputs; the counts
    survive a save and reload."""
    from sklearn.datasets import load_digits

    from exactnet import Polygon, segment_regions_batch
    from exactnet.regions.plane.domain import Plane

    d = load_digits()
    X, y = d.data[:300] / 16.0, d.target[:300]
    model, run = train_classifier(
        (X[:200], y[:200]), test=(X[200:], y[200:]), widths=(8,), epochs=2, snapshots=[0, 2], name="digits"
    )
    assert not run.view.planar and run.view.slice_points.shape == (2, 3, 64)
    snap = run.snapshots[-1]
    net = from_torch(model)
    batch = segment_regions_batch(net, run.view.chord_starts, run.view.chord_ends)
    assert snap.chord_regions == tuple(int(v) for v in batch.num_regions) and len(snap.chord_regions) == 32
    with torch.no_grad():
        for k in range(4):
            t = torch.linspace(0, 1, 20001, dtype=torch.float64)[:, None]
            a, b = (torch.as_tensor(v[k]) for v in (run.view.chord_starts, run.view.chord_ends))
            cls = model.double()(a + t * (b - a)).argmax(dim=1)
            assert snap.chord_crossings[k] == int((cls[1:] != cls[:-1]).sum())
    model.float()
    a, b, c = run.view.slice_points[1]
    fresh = exactnet.regions(net, Polygon(run.domain, plane=Plane.through(a, b, c)))
    assert snap.regions(1).num_regions == fresh.num_regions
    assert snap.num_regions == sum(p.num_regions for p in snap.partitions()) and 0 < snap.near < snap.num_regions
    back = load_run(run.save(tmp_path / "digits.npz"))
    np.testing.assert_array_equal(back.view.slice_labels, run.view.slice_labels)
    again = back.snapshots[-1]
    assert again.values() == snap.values()
    assert [p.num_regions for p in again.partitions()] == [p.num_regions for p in snap.partitions()]
    assert "chord regions" in back.table()
    assert {"chord_regions_mean", "chord_crossings_mean"} <= set(back.curves())
    back.plot_grid(path=tmp_path / "grid.png", count=2)
    assert (tmp_path / "grid.png").stat().st_size > 10_000
