"""The command line: demo, regions1d (JSON keys, exact strings), make-net, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from exactnet.cli import main


def test_demo_main_job(tmp_path, capsys):
    png = tmp_path / "demo.png"
    assert main(["demo", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "244 regions" in out and "Serra" in out and "coverage" in out and "same regions" in out
    assert png.stat().st_size > 20_000
    assert main(["demo", "--json", "--png", ""]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["regions"] == 244 and d["float_engine_agrees"] and 0.9 < d["sampling"]["coverage"] <= 1


def test_demo1d_writes_table_and_picture(tmp_path, capsys):
    png = tmp_path / "demo1d.png"
    assert main(["demo1d", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "regions" in out and "Serra" in out and "same regions" in out
    assert png.stat().st_size > 10_000


def test_partition_command(tmp_path, capsys):
    path = tmp_path / "net.npz"
    assert main(["make-net", "2-16-16-1", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["partition", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"regions", "pieces", "patterns", "edges", "area"} <= set(d)
    assert d["regions"] == 215 and d["area"] == 4.0 and len(d["edges"]) == 398
    assert main(["partition", str(path), "--exact", "--json", "--domain", "0,1,0,1/2"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["mode"] == "exact" and d["area"] == "1/2"
    png, gml, gj = tmp_path / "p.png", tmp_path / "g.graphml", tmp_path / "g.geojson"
    assert main(["partition", str(path), "--png", str(png), "--graphml", str(gml), "--geojson", str(gj)]) == 0
    assert png.exists() and gml.exists() and gj.exists()
    with pytest.raises(SystemExit, match="four numbers"):
        main(["partition", str(path), "--domain", "0,1,0"])


def test_regions1d_json_exact_and_float(tmp_path, capsys):
    path = tmp_path / "net.npz"
    assert main(["make-net", "2-8-8-1", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["regions1d", str(path), "--from", "-1,-1", "--to", "1,1/3", "--exact", "--json"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert {"regions", "pieces", "patterns", "breakpoints", "smp"} <= set(exact)
    assert all("/" in b for b in exact["breakpoints"])
    assert len(exact["smp"]) == 1
    assert main(["regions1d", str(path), "--from", "-1,-1", "--to", "1,1/3", "--json"]) == 0
    fl = json.loads(capsys.readouterr().out)
    assert fl["regions"] == exact["regions"] and fl["patterns"] == exact["patterns"]
    from fractions import Fraction

    assert fl["breakpoints"] == pytest.approx([float(Fraction(b)) for b in exact["breakpoints"]])


def test_regions1d_torch_checkpoint_needs_widths(tmp_path, capsys):
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(Exception, match="widths"):
        main(["regions1d", str(path), "--from", "0,0", "--to", "1,1"])
    png = tmp_path / "line.png"
    assert main(["regions1d", str(path), "--widths", "2,4,1", "--from", "0,0", "--to", "1,1", "--png", str(png)]) == 0
    assert "regions" in capsys.readouterr().out and png.exists()


def test_regions1d_bad_coordinates(tmp_path):
    path = tmp_path / "net.npz"
    np.savez(path, W0=np.ones((3, 2)), b0=np.zeros(3), W1=np.ones((1, 3)), b1=np.zeros(1))
    with pytest.raises(SystemExit, match="coordinates"):
        main(["regions1d", str(path), "--from", "0,0,0", "--to", "1,1,1"])
    with pytest.raises(SystemExit, match="not a number"):
        main(["regions1d", str(path), "--from", "0,zero", "--to", "1,1"])


def test_a_missing_extra_is_a_one_line_message():
    """exactnet signature without torch: the command names the extra, with no traceback."""
    import subprocess
    import sys

    code = "import sys; sys.modules['torch'] = None\nfrom exactnet.cli import main\nmain(['signature'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "exactnet signature: the signature of a torch model needs torch, which is not installed (import of torch "
        "halted; None in sys.modules); it comes with the 'torch' extra: pip install 'exactnet[torch]'"
    ]
