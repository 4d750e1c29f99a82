"""Light import: what each entry point loads, checked in a fresh interpreter, and the
ImportError that names the extra when an optional package is missing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib", "sympy", "sklearn", "hypothesis")
OPTIONAL_AND_CORE = HEAVY + ("numba", "scipy", "networkx", "shapely", "numpy")

TINY_NET = (
    "import numpy as np, exactnet\n"
    "net = exactnet.Network.from_arrays([np.ones((3, 2)), np.ones((1, 3))],\n"
    "                                   [np.array([0.0, -1.0, 1.0]), np.zeros(1)])\n"
)


def loaded_after(code: str, blocked: tuple[str, ...] = ()) -> list[str]:
    """The modules of OPTIONAL_AND_CORE imported by a fresh interpreter running ``code``
    (``blocked`` modules cannot be imported there)."""
    prelude = "".join(f"import sys; sys.modules[{m!r}] = None\n" for m in blocked)
    probe = f"\nimport json, sys\nprint(json.dumps(sorted(m for m in {OPTIONAL_AND_CORE!r} if sys.modules.get(m))))"
    out = subprocess.run([sys.executable, "-c", prelude + code + probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_exactnet_loads_nothing_heavy():
    assert loaded_after("import exactnet") == []


@pytest.mark.parametrize(
    "code",
    [
        TINY_NET + "net.forward(np.zeros((4, 2)))",
        "import exactnet.theory as t; t.serra_thm1_upper(2, [4, 4]); t.minimal_neurons(t.zigzag(3))",
        TINY_NET + "exactnet.segment_regions(net, [0, 0], [1, 1]).smp\n"
        "exactnet.segment_regions(net, [0, 0], [1, 1], exact=True).smp",
        TINY_NET + "from exactnet.regions.plane import partition\n"
        "for e in (False, True):\n"
        "    p = partition(net, exact=e); p.regions; p.graph; p.num_pieces; p.decision_boundary",
        "import numpy as np, exactnet; X = np.random.default_rng(0).standard_normal((50, 2))\n"
        "exactnet.affinity_score(X, np.maximum(X, 0))",
        "from exactnet.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_exact_geometry_and_numpy_scores_load_no_torch_matplotlib_sympy_sklearn_hypothesis(code):
    loaded = loaded_after(code)
    assert not set(loaded) & set(HEAVY), loaded


def test_import_of_weight_arrays_loads_only_numpy():
    assert loaded_after(TINY_NET) == ["numpy"]


def test_torch_and_matplotlib_load_where_they_are_used():
    assert "torch" in loaded_after(
        "import torch.nn as nn, exactnet; exactnet.from_torch(nn.Sequential(nn.Linear(2, 2)))"
    )
    assert "matplotlib" in loaded_after(
        TINY_NET + "from exactnet.plot import plot_segment\nplot_segment(exactnet.segment_regions(net, [0, 0], [1, 1]))"
    )


@pytest.mark.parametrize(
    "module, code, extra",
    [
        ("torch", "from exactnet.probe import capture", "torch"),
        ("torch", "import exactnet.pulse as pulse; pulse.all_constructions(3)", "torch"),
        (
            "matplotlib",
            TINY_NET
            + "from exactnet.plot import plot_segment; plot_segment(exactnet.segment_regions(net, [0, 0], [1, 1]))",
            "plot",
        ),
        ("hypothesis", "import exactnet.strategies", "test"),
        ("sklearn", "from exactnet.probe.data import digits_images; digits_images(4, 8)", "vision"),
    ],
)
def test_a_missing_extra_is_named(module, code, extra):
    wrapped = (
        "from exactnet.extras import MissingExtraError\ntry:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + f"except MissingExtraError as err:\n    assert \"pip install 'exactnet[{extra}]'\" in str(err), str(err)\n"
        + "else:\n    raise AssertionError('no MissingExtraError')\n"
    )
    loaded_after(wrapped, blocked=(module,))
