"""The example scripts run and write their figures."""

import runpy
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_regions_along_lines(tmp_path, monkeypatch, capsys):
    out = tmp_path / "fig.png"
    monkeypatch.setattr(sys, "argv", ["regions_along_lines.py", str(out)])
    runpy.run_path(str(EXAMPLES / "regions_along_lines.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert "sawtooth [4, 4, 4]: 125 regions" in text
    assert out.stat().st_size > 10_000
