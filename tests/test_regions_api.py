"""exactnet.regions: one entry point and one result (names, JSON round trip, pictures,
decision boundary, command line) for segments, polygons, boxes and the whole space."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import exactnet
from exactnet import Box, Network, Polygon, Regions, Segment
from exactnet.cli import main
from exactnet.net.io import save_npz
from exactnet.regions.plane import partition


def random_net(widths, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.normal(size=b) * 0.5 for b in widths[1:]]
    return Network.from_arrays(Ws, bs)


NET1 = random_net((1, 8, 8, 1), 1)
NET2 = random_net((2, 10, 10, 3), 2)
NET3 = random_net((3, 6, 6, 2), 3)

CASES = [
    (NET1, Segment((-2,), (2,))),
    (NET1, Box(-2, 2)),
    (NET1, None),
    (NET2, Box(-1, 1)),
    (NET2, Polygon([(-1, -1), (1, -1), (0, 1)])),
    (NET2, Segment((-1, 0), (1, 1))),
    (NET2, None),
    (NET3, Box(-1, 1)),
    (NET3, None),
]


def test_the_package_is_callable_and_is_the_function():
    assert exactnet.regions.regions is exactnet.regions.api.regions
    res = exactnet.regions(NET3, Box(-1, 1))
    assert isinstance(res, Regions)
    from exactnet.regions.plane import Plane  # the package still works as a package

    assert Plane.identity().d1 == (1, 0)
    assert callable(exactnet.regions)


@pytest.mark.parametrize("net,domain", CASES)
@pytest.mark.parametrize("exact", [False, True])
def test_same_names_in_every_dimension_and_json_round_trip(net, domain, exact):
    res = exactnet.regions(net, domain, exact=exact)
    dim = {Segment: 1}.get(type(domain), net.input_dim)
    engine = type(res.engine_result).__name__
    assert engine == {Segment: "SegmentRegions", Polygon: "Partition"}.get(
        type(domain), "Partition" if dim == 2 and isinstance(domain, Box) else "NoneType"
    )
    assert res.dim == dim and res.exact == exact
    assert res.num_regions == len(res.regions) >= 1
    assert res.num_pieces == len(res.pieces) <= res.num_regions
    assert res.num_patterns >= res.num_regions
    number = Fraction if exact else float
    for r in res.regions:
        assert len(r.pattern) == net.num_neurons
        assert len(r.intercept) == net.output_dim and all(len(g) == dim for g in r.gradient)
        assert len(r.interior_point) == dim
        assert all(isinstance(x, number) for x in r.interior_point)
        assert r.contains(r.interior_point)
        if r.bounded:
            assert r.measure > 0
            if exact:
                assert all(r.contains(v) for v in r.vertices)
            else:  # float vertices satisfy the float facets up to rounding
                slack = max(sum(a * x for a, x in zip(row, v)) - b for row, b in r.facets for v in r.vertices)
                assert slack < 1e-9
        else:
            assert r.measure == float("inf")
    G = res.graph
    assert G.number_of_nodes() == res.num_regions and G.number_of_edges() == len(res.edges)
    back = Regions.from_json(res.to_json())
    assert back.to_json() == res.to_json()
    assert (back.num_regions, back.num_pieces, back.num_patterns) == (res.num_regions, res.num_pieces, res.num_patterns)
    assert back.edges == res.edges and back.pieces == res.pieces
    for a, b in zip(back.regions, res.regions):
        assert (a.pattern == b.pattern).all() and a.intercept == b.intercept and a.vertices == b.vertices
        if exact:
            assert a.measure == b.measure and a.facets == b.facets
    summary = json.loads(json.dumps(res.summary()))
    assert {"regions", "pieces", "patterns", "edges"} <= set(summary)


def test_outputs_match_the_network_on_interior_points():
    for net, domain in CASES:
        res = exactnet.regions(net, domain, exact=True)
        for r in res.regions:
            if isinstance(domain, Segment):
                t = r.interior_point[0]
                x = [a + t * (b - a) for a, b in zip(res.engine_result.start, res.engine_result.end)]
            else:
                x = list(r.interior_point)
            assert r.output(r.interior_point) == tuple(net.forward_exact(x))


def test_plane_regions_equal_partition():
    part = partition(NET2, (-1, 1, -1, 1), exact=True)
    res = exactnet.regions(NET2, Box(-1, 1), exact=True)
    assert (res.num_regions, res.num_pieces, res.num_patterns) == (part.num_regions, part.num_pieces, part.num_patterns)
    assert sum(r.measure for r in res.regions) == 4


def test_decision_boundary_in_1d_2d_3d():
    # one output relu(x0) - relu(-x0) - 1/2: zero set x0 = 1/2 in every dimension
    for n in (1, 2, 3):
        W = np.zeros((2, n))
        W[0, 0], W[1, 0] = 1, -1
        net = Network.from_arrays([W, np.array([[1.0, -1.0]])], [np.zeros(2), np.array([-0.5])])
        for exact in (False, True):
            res = exactnet.regions(net, Box(-1, 1), exact=exact)
            pieces = res.decision_boundary
            assert len(pieces) == 1
            _, classes, pts = pieces[0]
            assert classes == (0, 0)
            assert all(p[0] == Fraction(1, 2) for p in pts) and len(pts) == 2 ** (n - 1)
    # three classes in 3-D: every piece's points tie for the maximum
    res = exactnet.regions(NET3, Box(-1, 1), exact=True)
    for region, (i, j), pts in res.decision_boundary:
        r = res.regions[region]
        for p in pts:
            out = r.output(p)
            assert out[i] == out[j] >= max(out)
    # read back from JSON (exact): the same boundary
    back = Regions.from_json(res.to_json())
    assert back.decision_boundary == res.decision_boundary
    # the whole space: the zero set x0 = 1/2 is one unbounded piece (None)
    W = np.array([[1.0, 0, 0], [-1, 0, 0]])
    net = Network.from_arrays([W, np.array([[1.0, -1.0]])], [np.zeros(2), np.array([-0.5])])
    assert [(c, p) for _, c, p in exactnet.regions(net, None, exact=True).decision_boundary] == [((0, 0), None)]
    # relu(x0) + relu(x1) + relu(x2) - relu(x0 + x1 + x2 - 1) - 1/2 vanishes on a bounded
    # triangle inside the bounded region {x >= 0, x0 + x1 + x2 <= 1}, elsewhere on unbounded pieces
    W = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]])
    net = Network.from_arrays([W, np.array([[1.0, 1, 1, -1]])], [np.array([0, 0, 0, -1.0]), np.array([-0.5])])
    pieces = [p for _, _, p in exactnet.regions(net, None, exact=True).decision_boundary if p is not None]
    half = Fraction(1, 2)
    assert [sorted(p) for p in pieces] == [sorted([(half, 0, 0), (0, half, 0), (0, 0, half)])]


def test_plots_1d_2d_and_a_clear_error_in_3d():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = exactnet.regions(NET1, Segment((-2,), (2,))).plot()
    assert len(ax.lines) >= 1
    fig, axes = plt.subplots(1, 3)
    for a, how in zip(axes, ("pattern", "piece", "output")):
        assert exactnet.regions(NET2, Box(-1, 1)).plot(a, color_by=how) is a
        assert len(a.collections) == 1
    # the whole space: unbounded regions drawn cut to a window
    ax = exactnet.regions(NET2, None).plot()
    assert len(ax.collections[0].get_paths()) == exactnet.regions(NET2, None).num_regions
    ax = exactnet.regions(NET1, None, exact=True).plot()
    assert len(ax.lines) == 2 * exactnet.regions(NET1, None).num_regions  # a graph and a boundary line each
    plt.close("all")
    with pytest.raises(ValueError, match="3-D"):
        exactnet.regions(NET3, Box(-1, 1)).plot()


def test_from_json_refuses_other_documents():
    with pytest.raises(ValueError, match="exactnet.regions"):
        Regions.from_json('{"regions": 3}')


def test_cli_regions(tmp_path, capsys):
    path = tmp_path / "net.npz"
    save_npz(NET3, path)
    assert main(["regions", str(path), "--box", "-1,1", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    res = exactnet.regions(NET3, Box(-1, 1))
    assert got["regions"] == res.num_regions and got["pieces"] == res.num_pieces
    assert got["patterns"] == res.num_patterns and len(got["edges"]) == len(res.edges)
    # the whole space, exact, and the full result to a file
    out = tmp_path / "r.json"
    assert main(["regions", str(path), "--exact", "--json", "--out", str(out)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["regions"] == exactnet.regions(NET3, None).num_regions
    assert Regions.from_json(out.read_text()).num_regions == got["regions"]
    # per-axis bounds, and the cap as a one-line error
    assert main(["regions", str(path), "--box", "-1,1,-1,1,0,1"]) == 0
    assert "regions" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="max_regions=3"):
        main(["regions", str(path), "--box", "-1,1", "--max-regions", "3"])
    with pytest.raises(SystemExit, match="--box"):
        main(["regions", str(path), "--box", "-1,1,2"])
    # the 2-D and 1-D commands honour --max-regions too
    p2 = tmp_path / "net2.npz"
    save_npz(NET2, p2)
    with pytest.raises(SystemExit, match="max_regions=2"):
        main(["partition", str(p2), "--max-regions", "2"])
    with pytest.raises(SystemExit, match="max_regions=2"):
        main(["regions1d", str(p2), "--from", "-1,-1", "--to", "1,1", "--max-regions", "2"])


def test_graphml_and_json_files(tmp_path):
    import networkx as nx

    res = exactnet.regions(NET3, Box(-1, 1), exact=True)
    res.write_graphml(tmp_path / "g.graphml")
    G = nx.read_graphml(tmp_path / "g.graphml")
    assert G.number_of_nodes() == res.num_regions and G.number_of_edges() == len(res.edges)
    a, b, labels = res.edges[0]
    assert G.edges[str(a), str(b)]["neurons"] == ";".join(f"{l}:{k}" for l, k in labels)
    res.write_json(tmp_path / "r.json")
    assert Regions.from_json((tmp_path / "r.json").read_text()).to_json() == res.to_json()


def test_2d_same_map_after_the_partition_turns_exact():
    """Two second-layer units with the same weights and output weights 1 and -1: where both
    are on, flipping a first-layer neuron leaves the map unchanged, a zero the float test
    cannot certify, so the 2-D partition switches to its exact source (numbering regions
    its own way) when the same-map flags are read. Regions and edges read before keep their
    numbering; the flags are matched to them by patterns and equal the exact mode's."""
    from exactnet.regions.plane.sources import _ExactSource, _FloatSource

    W1 = np.array([[1.0, 0.3], [-0.4, 1.0], [0.7, -0.9]])
    w = np.array([0.8, -0.6, 0.5])
    net = Network.from_arrays(
        [W1, np.vstack([w, w]), np.array([[1.0, -1.0]])],
        [np.array([0.1, -0.2, 0.05]), np.array([0.3, -0.2]), np.zeros(1)],
    )
    res = exactnet.regions(net, Box(-1, 1))
    regions, edges = res.regions, res.edges
    assert isinstance(res.engine_result._src, _FloatSource)
    same = res.same_map
    assert isinstance(res.engine_result._src, _ExactSource)  # switched while the flags were decided
    exact = exactnet.regions(net, Box(-1, 1), exact=True)
    key = lambda p: np.packbits(p).tobytes()  # noqa: E731
    theirs = {
        frozenset((key(exact.regions[a].pattern), key(exact.regions[b].pattern))): s
        for (a, b, _), s in zip(exact.edges, exact.same_map)
    }
    mine = {frozenset((key(regions[a].pattern), key(regions[b].pattern))): s for (a, b, _), s in zip(edges, same)}
    assert mine == theirs and any(same) and not all(same)
    assert res.num_pieces == exact.num_pieces


def test_a_segment_between_inputs_in_the_models_shape():
    """Segment ends given as images (the model's input shape) are flattened; a batch of
    points where one is expected is refused naming start."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32, 2)
    )
    net = exactnet.from_torch(model, input_shape=(1, 4, 4))
    a, b = torch.randn(1, 4, 4), torch.randn(1, 4, 4)
    shaped = exactnet.regions(net, Segment(a, b))
    flat = exactnet.regions(net, Segment(a.flatten(), b.flatten()))
    assert shaped.num_regions == flat.num_regions and shaped.engine_result.breakpoints == flat.engine_result.breakpoints
    exact = exactnet.segment_regions(net, a.numpy().astype(float), b.numpy().astype(float), exact=True)
    assert exact.num_regions == flat.num_regions
    refused = r"start has shape \(2, 1, 4, 4\) \(32 numbers\) but the network's input dimension is 16"
    with pytest.raises(ValueError, match=refused):
        exactnet.regions(net, Segment(torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)))
