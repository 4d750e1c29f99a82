"""Compiled kernels: one specialisation serves every network, ``exactnet warmup`` compiles
everything, and numba's cache works where the package folder cannot be written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

import exactnet
from exactnet import Layer, Network, segment_regions, segment_regions_batch
from exactnet.builtin import benchmark_net
from exactnet.cli import main
from exactnet.compiled import compiled_signatures, warmup
from exactnet.regions.plane import COMPILED_EXACT_MIN_NEURONS, Plane, partition


def _other_networks():
    """Networks unlike the warm-up's: other widths and depths, leaky and linear units,
    rational weights, three inputs."""
    rng = np.random.default_rng(5)
    leaky = Network.from_arrays(
        [rng.standard_normal((7, 2)), rng.standard_normal((5, 7)), rng.standard_normal((3, 5))],
        [rng.standard_normal(7), rng.standard_normal(5), rng.standard_normal(3)],
        negative_slope=Fraction(1, 10),
    )
    mixed = Network(
        [
            Layer(rng.standard_normal((6, 3)), rng.standard_normal(6), [0, 1, 0, 0.5, 0, 1]),
            Layer([[Fraction(1, 3)] * 6], [Fraction(2, 7)]),
        ]
    )
    return [benchmark_net("2-12-12-12-1", 3), leaky, mixed]


def test_one_specialisation_serves_every_network():
    warmup(report=None)
    before = compiled_signatures()
    assert sum(before.values()) >= 10
    rng = np.random.default_rng(0)
    for net in _other_networks():
        n0 = net.input_dim
        segment_regions(net, [-1] * n0, [1] * n0)
        starts, ends = rng.uniform(-1, 1, (40, n0)), rng.uniform(-1, 1, (40, n0))
        segment_regions_batch(net, starts, ends)
        segment_regions_batch(net, starts, ends, exact=True)
        plane = None if n0 == 2 else Plane.through([0] * n0, [1] + [0] * (n0 - 1), [0, 1] + [0] * (n0 - 2))
        fast = partition(net, plane=plane)
        assert fast.num_regions == len(fast.regions) and fast.num_pieces >= 1 and fast.edges is not None
    wide = benchmark_net(f"2-{COMPILED_EXACT_MIN_NEURONS + 8}-3", 1)  # the compiled exact 2-D kernel
    assert partition(wide, (0, 0.05, 0, 0.05), exact=True).num_regions >= 1
    X = rng.standard_normal((200, 5))
    exactnet.affinity_score(X, np.tanh(X))
    assert compiled_signatures() == before


def test_warmup_command(capsys):
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    for engine in ("1-D certified float engine", "1-D exact kernel", "2-D certified float engine", "2-D exact kernel"):
        assert engine in out
    assert "kernels ready" in out


_RUN = """
import json, exactnet
from exactnet.builtin import benchmark_net
import exactnet.regions.line._float_kernel as lf
exactnet.segment_regions(benchmark_net("2-6-1", 0), [-1, -1], [1, 1])
print(json.dumps({"hits": sum(lf._run.stats.cache_hits.values()), "misses": sum(lf._run.stats.cache_misses.values()),
                  "module": exactnet.__file__}))
"""


def test_cache_in_the_user_folder_when_the_package_folder_cannot_be_written(tmp_path):
    """A copy of the package whose ``__pycache__`` folders cannot be created (a plain file
    sits in their place: what a read-only installation looks like to numba, even to root):
    the first process compiles and stores the kernel in $XDG_CACHE_HOME/numba, the
    second loads it from there."""
    src = Path(exactnet.__file__).parent
    dst = tmp_path / "site" / "exactnet"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [dst, *(p for p in dst.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("not a folder")
    env = dict(
        os.environ,
        PYTHONPATH=str(tmp_path / "site"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("NUMBA_CACHE_DIR", None)

    def run():
        out = subprocess.run(
            [sys.executable, "-c", _RUN], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run()
    assert first["module"].startswith(str(dst))
    assert first["hits"] == 0 and first["misses"] == 1
    assert any((tmp_path / "cache" / "numba").rglob("*.nbi"))
    second = run()
    assert second["hits"] == 1 and second["misses"] == 0
