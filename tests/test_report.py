"""The report (exactnet.report): one self-contained HTML file with every analysis that
applies, parsed and opened in a real headless browser; the command line; the notebook
displays of the result types."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

import exactnet
from exactnet.builtin import moons_classifier


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    return p


def _check_self_contained(text: str) -> _Collect:
    """Every image a decodable embedded PNG; nothing loaded from elsewhere; no script."""
    from PIL import Image

    doc = _parse(text)
    names = [t for t, _ in doc.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    images = [a for t, a in doc.tags if t == "img"]
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            im.verify()
    for _, attrs in doc.tags:
        for key in ("src", "href"):
            assert not str(attrs.get(key, "")).startswith(("http:", "https:", "//")), attrs
    return doc


@pytest.fixture(scope="module")
def moons_report(tmp_path_factory):
    net, X, y = moons_classifier()
    out = tmp_path_factory.mktemp("report") / "moons.html"
    return net, X, y, exactnet.report(net, X, y, out=out, name="moons")


def test_report_of_a_small_network_is_exact_and_self_contained(moons_report):
    net, X, y, rep = moons_report
    assert rep.path.read_text(encoding="utf-8") == rep.html
    doc = _check_self_contained(rep.html)
    text = " ".join(doc.text)
    assert "Exact linear regions" in text and "Serra" in text and "decision boundary" in text
    assert len([t for t, _ in doc.tags if t == "img"]) == 2  # the partition, and the first chord
    # the first chord's exact regions: input 1 to input 33 (32 chords between 400 inputs)
    assert rep.summary["exact"]["chord 1 regions"] == exactnet.segment_regions(net, X[0], X[32]).num_regions
    assert "Regions along 32 chords between inputs" in text
    # the same partition computed directly: the data's box grown by 15% on each side
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.15 * (hi - lo)
    box = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    direct = exactnet.regions(net, exactnet.Polygon(tuple(float(v) for v in box)))
    assert rep.summary["exact"]["regions"] == direct.num_regions
    assert rep.summary["exact"]["graph edges"] == len(direct.edges)
    assert 0.5 < rep.summary["exact"]["sampling coverage"] <= 1
    assert "Skipped: the per-layer scores run on a torch module" in text
    assert "exact" in rep._repr_html_() and str(rep.path) in rep._repr_html_()


def test_report_of_a_torch_model_has_every_layer_section(tmp_path):
    from exactnet.probe.data import digits_data, digits_mlp

    x, y = digits_data()
    torch.manual_seed(0)
    model = digits_mlp()
    rep = exactnet.report(model, x[:200], y[:200], out=tmp_path / "mlp.html", samples=200, smp_paths=4, smp_steps=64)
    doc = _check_self_contained(rep.html)
    text = " ".join(doc.text)
    for title in ("Affinity score per layer", "SMP per layer", "Class separability per layer", "Regions along"):
        assert title in text, title
    assert set(rep.summary) == {"exact", "affinity", "smp", "separability"}
    assert rep.summary["affinity"]["layers"] == 2 and rep.summary["separability"]["layers"] == 2
    assert 0 <= rep.summary["separability"]["n1 last layer"] <= 1
    assert rep.summary["exact"]["regions per chord (mean)"] >= 1
    # the slice's partition, the first chord and three signatures
    assert len([t for t, _ in doc.tags if t == "img"]) == 5


def test_report_says_what_it_skips_and_refuses_bad_input(tmp_path):
    from exactnet.probe.data import digits_mlp

    rep = exactnet.report(digits_mlp(), out=None)
    assert rep.path is None and "Skipped: the per-layer scores need inputs" in rep.html
    X = np.zeros((6, 64))
    X[1], X[2] = 1.0, 2.0  # the first three inputs on one line: no plane through them
    X[3:] = np.random.default_rng(0).random((3, 64))
    collinear = exactnet.report(digits_mlp(), X, out=None)
    assert "No 2-D slice" in collinear.html and collinear.summary["exact"]["regions per chord (mean)"] >= 1
    mlp2 = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"data has inputs of shape \(3,\), which the model does not take"):
        exactnet.report(mlp2, torch.randn(10, 3), out=None)
    with pytest.raises(ValueError, match=r"the model gives \(1, 1, 2, 2\) for one of them"):
        exactnet.report(mlp2, torch.randn(10, 1, 2, 2), out=None)
    pooled = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(100, 2)
    )
    rep = exactnet.report(pooled, torch.randn(20, 1, 12, 12), torch.arange(20) % 2, out=None, smp_paths=2, smp_steps=32)
    assert "MaxPool2d: max pooling lowers to many coincident hyperplanes" in rep.html and "exact" not in rep.summary
    with pytest.raises(ValueError, match="labels has 3 entries"):
        exactnet.report(digits_mlp(), np.zeros((4, 64)), np.zeros(3), out=None)
    with pytest.raises(ValueError, match="NaN"):
        exactnet.report(digits_mlp(), np.full((4, 64), np.nan), out=None)


def test_report_command(tmp_path, capsys):
    from exactnet.cli import main

    out = tmp_path / "r.html"
    net = tmp_path / "net.npz"
    assert main(["make-net", "2-8-8-1", "--out", str(net)]) == 0
    capsys.readouterr()
    assert main(["report", "--weights", str(net), "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["report"] == str(out) and data["summary"]["exact"]["regions"] > 10
    _check_self_contained(out.read_text(encoding="utf-8"))
    with pytest.raises(SystemExit, match="--data goes with --model"):
        main(["report", "--data", "digits"])
    state = tmp_path / "w.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), state)
    with pytest.raises(SystemExit, match="name its architecture with --model"):
        main(["report", "--weights", str(state)])
    with pytest.raises(SystemExit, match=r"--weights .*missing\.pt: no such file"):
        main(["report", "--model", "digits-mlp", "--weights", str(tmp_path / "missing.pt")])
    with pytest.raises(SystemExit, match=r"--data .*missing\.npz: no such file; give moons, digits, an \.npz"):
        main(["report", "--model", "digits-mlp", "--data", str(tmp_path / "missing.npz")])
    with pytest.raises(SystemExit, match="or one of the small models: digits-cnn, digits-mlp"):
        main(["report", "--model", "no-such-model"])
    with pytest.raises(SystemExit, match="--limit 0"):
        main(["report", "--limit", "0"])


def test_notebook_displays_of_the_result_types():
    from exactnet.probe import layerwise_smp, paths_between
    from exactnet.probe.smp_model import smp_propagation
    from exactnet.training import make_dataset, train_classifier

    net, X, y = moons_classifier()
    for html in (
        exactnet.regions(net, exactnet.Polygon((-1.5, 2.5, -1.0, 1.5)))._repr_html_(),
        train_classifier(make_dataset("moons", 80), widths=(4,), epochs=1, snapshots=2)[1]._repr_html_(),
    ):
        doc = _check_self_contained(html)
        assert any(t == "table" for t, _ in doc.tags) and any(t == "img" for t, _ in doc.tags)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1)).double()
    a, b = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    smp = layerwise_smp(model, paths_between(a, b, 64), progress=False)
    prop = smp_propagation(model, paths_between(a, b, 64), progress=False)
    for html, needle in ((smp._repr_html_(), "smp_mean"), (prop._repr_html_(), "predicted")):
        assert needle in html
        _check_self_contained(html)


def test_report_opens_in_headless_chromium(moons_report, tmp_path, browser):
    """The report loads in a real browser with every image decoded and no console error."""
    from exactnet.probe.data import digits_data, digits_mlp

    x, y = digits_data()
    second = exactnet.report(
        digits_mlp(), x[:120], y[:120], out=tmp_path / "mlp.html", samples=120, smp_paths=3, smp_steps=48
    )
    for rep in (moons_report[3], second):
        images, problems, content = browser.open(rep.path)
        assert images and all(done and width > 0 for done, width in images), images
        assert not problems, problems
        assert "Exact linear regions" in content


def test_the_main_job_reports_on_the_embedded_default(tmp_path, monkeypatch, capsys):
    """`exactnet` with no arguments: one report on the moons classifier and a CNN trained
    on the digits, with the exact part for the first and every per-layer part for both."""
    from exactnet.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert "report (" in printed and "exactnet_report.html" in printed
    html = (tmp_path / "exactnet_report.html").read_text(encoding="utf-8")
    doc = _check_self_contained(html)
    text = " ".join(doc.text)
    assert "the built-in moons classifier" in text and "a small CNN trained on the bundled digits" in text
    accuracy = float(re.search(r"held-out accuracy ([0-9.]+)", text).group(1))
    assert accuracy > 0.9
    # the moons classifier's partition and first chord, and three signatures per network
    assert len([t for t, _ in doc.tags if t == "img"]) == 8


def test_report_of_a_network_with_one_class_everywhere():
    """No boundary is explained, and a sampled grid that misses no region says "none"."""
    net = exactnet.Network.from_arrays([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]], [[0.0, 0.0], [1.0, 0.0]])
    rep = exactnet.report(net, out=None)
    assert rep.summary["exact"]["boundary segments"] == 0 and rep.summary["exact"]["regions"] == 4
    assert "No decision boundary here: one class is predicted on the whole domain." in rep.html
    assert re.search(r"smallest missed region \(area\)</td><td>none</td>", rep.html)


def test_report_takes_class_names_and_refuses_labels_that_are_not_classes():
    """Names and whole-number floats are classes; regression targets and one-hot rows are
    refused naming labels."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    X = torch.randn(40, 3)
    y = torch.randint(0, 2, (40,))
    options = {"out": None, "samples": 40, "smp_paths": 2, "smp_steps": 32}
    by_index = exactnet.report(model, X, y, **options).summary["separability"]
    names = np.where(y.numpy() == 1, "dog", "cat")  # sorted: cat = 0, dog = 1
    assert exactnet.report(model, X, names, **options).summary["separability"] == by_index
    assert exactnet.report(model, X, y.double(), **options).summary["separability"] == by_index
    with pytest.raises(ValueError, match=r"labels holds numbers that are not class indices"):
        exactnet.report(model, X, torch.randn(40), **options)
    with pytest.raises(ValueError, match=r"labels has shape \(40, 2\).*argmax"):
        exactnet.report(model, X, torch.nn.functional.one_hot(y, 2), **options)


def test_report_on_models_the_sections_do_not_apply_to():
    """A model without activation modules (an LSTM) gets a page that says why the
    per-layer scores are skipped; an unsupported layer's reason is one sentence."""

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(4, 8, batch_first=True)
            self.out = torch.nn.Linear(8, 2)

        def forward(self, x):
            return self.out(self.lstm(x)[0][:, -1])

    rep = exactnet.report(Recurrent(), torch.randn(30, 5, 4), torch.randint(0, 2, (30,)), out=None, samples=30)
    text = " ".join(_check_self_contained(rep.html).text)
    assert "Skipped: the model has no activation module" in text
    reason = re.search(r"Skipped: no exact analysis here \((.*?lists what lowers exactly)\)", text).group(1)
    assert "(LSTM)" in reason and "SUPPORTED" in reason and len(reason) < 250

    sigmoid = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 2))
    rep = exactnet.report(sigmoid, torch.randn(40, 3), torch.randint(0, 2, (40,)), out=None, samples=32, smp_paths=2)
    text = " ".join(_check_self_contained(rep.html).text)
    assert "Computed on the first 32 of the 40 inputs (samples=32)" in text
    assert "Columns: d: the features per input" in text and "constant_output:" in text


def test_report_leaves_out_chords_between_equal_inputs():
    net, X, y = moons_classifier()
    X = X.copy()
    X[32] = X[0]  # the first chord joins input 1 to an equal input
    rep = exactnet.report(net, X, y, out=None)
    assert "1 of the 32 chords join equal inputs and are left out." in rep.html
    assert "Regions along 31 chords between inputs" in rep.html
    assert rep.summary["exact"]["chord 1 regions"] == exactnet.segment_regions(net, X[1], X[33]).num_regions
