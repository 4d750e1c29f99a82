"""Decision boundaries, pictures, GraphML/GeoJSON exports and the sampling cross-check."""

from __future__ import annotations

import json
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import Network
from exactnet.builtin import benchmark_net
from exactnet.regions.plane import partition
from exactnet.regions.sampling import sample_patterns
from exactnet.strategies import relu_networks


def _seg_cross(p, q, a, b):
    """Do the closed segments pq and ab intersect (exact for Fractions)?"""

    def orient(x, y, z):
        v = (y[0] - x[0]) * (z[1] - x[1]) - (y[1] - x[1]) * (z[0] - x[0])
        return (v > 0) - (v < 0)

    o1, o2, o3, o4 = orient(p, q, a), orient(p, q, b), orient(a, b, p), orient(a, b, q)
    if o1 * o2 <= 0 and o3 * o4 <= 0:
        if o1 == o2 == 0:  # collinear: overlapping projections
            return max(min(p[0], q[0]), min(a[0], b[0])) <= min(max(p[0], q[0]), max(a[0], b[0])) and max(
                min(p[1], q[1]), min(a[1], b[1])
            ) <= min(max(p[1], q[1]), max(a[1], b[1]))
        return True
    return False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_decision_boundary_is_exact_and_complete(data):
    net = data.draw(
        relu_networks(
            input_dim=2, output_dim=data.draw(st.integers(1, 3)), max_hidden_layers=2, max_width=5, kind="dyadic"
        )
    )
    part = partition(net, exact=True)
    n_out = net.output_dim
    for p, q, (i, j) in part.decision_boundary:
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        for x in (p, q, mid):
            y = net.forward_exact(list(x))
            if n_out == 1:
                assert y[0] == 0
            else:
                assert y[i] == y[j] == max(y)
    # complete: a straight path between points of different decisions meets the boundary
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    pts = [(Fraction(int(a), 8), Fraction(int(b), 8)) for a, b in rng.integers(-8, 9, size=(12, 2))]

    def decision(x):
        y = net.forward_exact(list(x))
        if n_out == 1:
            return (y[0] > 0) - (y[0] < 0)
        m = max(y)
        return tuple(k for k in range(n_out) if y[k] == m)

    zero = set(part.zero_regions)
    for a, b in zip(pts, pts[1:]):
        da, db = decision(a), decision(b)
        if da != db and not zero:
            assert any(_seg_cross(a, b, p, q) for p, q, _ in part.decision_boundary), (a, b, da, db)


def test_decision_boundary_float_matches_exact():
    net = benchmark_net("2-32-32-3", 0)  # two classes share the square
    ex, fl = partition(net, exact=True), partition(net)
    assert len(ex.decision_boundary) == len(fl.decision_boundary) > 0
    a = sorted(
        tuple(sorted((round(float(p[0]), 9), round(float(p[1]), 9)) for p in s[:2])) for s in ex.decision_boundary
    )
    b = sorted(tuple(sorted((round(p[0], 9), round(p[1], 9)) for p in s[:2])) for s in fl.decision_boundary)
    assert a == b


def test_zero_regions_of_a_single_output():
    # out = relu(x) - relu(x): identically zero on the half plane x < 0 ... and everywhere
    net = Network.from_arrays([np.array([[1.0, 0]]), np.array([[0.0]])], [np.zeros(1), [0.0]])
    part = partition(net, exact=True)
    assert sorted(part.zero_regions) == [0, 1] and part.decision_boundary == []


def test_pictures_and_exports(tmp_path):
    net = benchmark_net("2-8-8-2", 0)
    part = partition(net)
    for color in ("pattern", "piece", "output", "class"):
        fig = part.plot(color_by=color, path=tmp_path / f"{color}.png", points=np.zeros((3, 2)), labels=[0, 1, 0])
        assert (tmp_path / f"{color}.png").stat().st_size > 5_000
        fig.clf()
    part.plot(path=tmp_path / "p.svg")
    assert (tmp_path / "p.svg").read_text().startswith("<?xml")
    with pytest.raises(ValueError, match="color_by"):
        part.plot(color_by="rainbow")
    part.write_graphml(tmp_path / "g.graphml")
    G = nx.read_graphml(tmp_path / "g.graphml")
    assert G.number_of_nodes() == part.num_regions and G.number_of_edges() == len(part.edges)
    assert set(nx.get_node_attributes(G, "pattern").values()) == {
        "".join("1" if b else "0" for b in r.pattern) for r in part.regions
    }
    part.write_geojson(tmp_path / "r.geojson")
    gj = json.loads((tmp_path / "r.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == part.num_regions
    assert abs(sum(f["properties"]["area"] for f in gj["features"]) - 4.0) < 1e-9


def test_sampling_cross_check():
    net = benchmark_net("2-32-32-1", 0)
    part = partition(net)
    est = sample_patterns(net, n=250_000)
    cmp = est.compare(part)
    # every sampled pattern is a region's (grid points off the boundaries), the largest
    # regions are found, and what is missed is small
    assert cmp["other_patterns"] == 0
    assert 0.9 < cmp["coverage"] < 1.0
    assert cmp["missed_area_fraction"] < 1e-3
    largest = max(part.regions, key=lambda r: r.area)
    assert largest.index not in cmp["missed"]
    rnd = sample_patterns(net, n=50_000, method="random", seed=1)
    assert rnd.patterns <= {np.packbits(r.pattern, bitorder="little").tobytes() for r in part.regions}
    with pytest.raises(ValueError, match="method"):
        sample_patterns(net, n=10, method="sobol")
    # float32 passes find the same patterns here; only grid points within float32
    # rounding of a boundary (a handful of 250,000) land in the neighbouring region
    est32 = sample_patterns(net, n=250_000, precision="float32")
    assert est32.patterns == est.patterns and est32.num_points == est.num_points
    moved = sum(abs(est32.counts[k] - est.counts[k]) for k in est.counts) // 2
    assert moved <= 25
    with pytest.raises(ValueError, match="precision"):
        sample_patterns(net, n=10, precision="float16")


@pytest.mark.parametrize("collide", [False, True])
def test_pattern_hashing_counts_every_pattern(collide, monkeypatch):
    # grouping by hash equals counting the packed rows one by one, also when hashes collide
    from collections import Counter

    import exactnet.regions.sampling as S

    if collide:
        monkeypatch.setattr(S, "_HASH_MULT", np.uint64(0))  # every row hashes to 0
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 4, size=(3000, 11)).astype(np.uint8)  # many repeats, 11 bytes (not a multiple of 8)
    found, counts = set(), {}
    S._count_patterns(rows, found, counts)
    S._count_patterns(rows[:100], found, counts)
    want = Counter(bytes(r) for r in rows) + Counter(bytes(r) for r in rows[:100])
    assert counts == dict(want) and found == set(want)


def test_chain_maps_equal_the_exact_maps_of_every_region():
    """The float maps composed layer by layer for many regions at once (used for faces too
    thin for three float vertices) equal each region's exact map, rounded."""
    from exactnet.regions.plane.sources import _chain_maps

    net = benchmark_net("2-16-16-16-1", 0)
    fast = partition(net)
    exact = {r.pattern.tobytes(): r for r in partition(net, exact=True).regions}
    src = fast._src
    icp, grad = _chain_maps(net, src.plane_float, src.pat_words[: src.num_regions])
    assert icp.shape == (fast.num_regions, 1) and grad.shape == (fast.num_regions, 1, 2)
    for i, r in enumerate(fast.regions):
        ref = exact[r.pattern.tobytes()]
        np.testing.assert_allclose(icp[i], [float(v) for v in ref.intercept], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(grad[i], [[float(a), float(b)] for a, b in ref.gradient], rtol=1e-9, atol=1e-12)
