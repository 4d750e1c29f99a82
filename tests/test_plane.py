"""The exact 2-D engine: invariants on random and degenerate networks, known counts."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import Network
from exactnet.builtin import benchmark_net
from exactnet.regions.plane import Plane, parse_domain, partition
from exactnet.strategies import relu_networks
from exactnet.theory.bounds import serra_thm1_upper, zaslavsky

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

domains = st.sampled_from(
    [
        None,
        (0, 1, 0, 1),
        [(-2, -1), (2, -1), (0, 3)],  # a triangle
        [(Fraction(-1, 2), 0), (1, -1), (Fraction(3, 2), 1), (0, Fraction(3, 2)), (-1, 1)],  # a pentagon
    ]
)


def _inside(reg, u, v, strict=False):
    """Exact point-in-convex-polygon (vertices CCW), closed or open."""
    pts = reg.vertices
    n = len(pts)
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        side = (x2 - x1) * (v - y1) - (y2 - y1) * (u - x1)
        if side < 0 or (strict and side == 0):
            return False
    return True


def _check_invariants(net: Network, part, plane: Plane, rng_points):
    regs = part.regions
    # areas sum exactly to the domain's area, every region has positive area
    assert sum(r.area for r in regs) == part.area
    assert all(r.area > 0 for r in regs)
    # network value and pattern at interior points and vertices
    for r in regs:
        x = plane.point(*r.interior_point)
        assert np.array_equal(net.pattern_exact(x), r.pattern)
        assert tuple(net.forward_exact(x)) == r.output(*r.interior_point)
        for u, v in r.vertices:
            assert tuple(net.forward_exact(plane.point(u, v))) == r.output(u, v)
    # every sample point lies in some region; inside one, it has that region's pattern
    for u, v in rng_points:
        assert any(_inside(r, u, v) for r in regs), (u, v)
        pat = net.pattern_exact(plane.point(u, v))
        for r in regs:
            if _inside(r, u, v, strict=True):
                assert np.array_equal(pat, r.pattern)
    # interiors disjoint: no region's interior point lies in another region
    for r in regs:
        u, v = r.interior_point
        assert _inside(r, u, v, strict=True)
        assert sum(_inside(q, u, v) for q in regs) == 1
    # adjacency: symmetric graph, edges join regions with different patterns along a
    # segment lying on both boundaries
    G = part.graph
    assert G.number_of_nodes() == part.num_regions
    for a, b, data in G.edges(data=True):
        assert data["neurons"], "adjacent regions differ in at least one neuron"
        flipped = {net.neurons.index(n) for n in data["neurons"]}
        diff = set(np.flatnonzero(regs[a].pattern != regs[b].pattern))
        assert flipped == diff
        p, q = data["segment"]
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        for r in (regs[a], regs[b]):
            assert _inside(r, *p) and _inside(r, *q) and _inside(r, *mid)
    # counts
    assert 1 <= part.num_pieces <= part.num_regions <= part.num_patterns
    if net.hidden_widths:
        assert part.num_regions <= serra_thm1_upper(2, net.hidden_widths)


@SETTINGS
@given(st.data())
def test_invariants_random_and_degenerate(data):
    net = data.draw(relu_networks(input_dim=2, max_hidden_layers=2, max_width=5))
    domain = data.draw(domains)
    part = partition(net, domain, exact=True)
    verts = parse_domain(domain)
    # sample points: vertices of the domain and random rational combinations of them
    rnd = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    pts = []
    for _ in range(12):
        w = rnd.integers(0, 5, size=len(verts))
        if w.sum() == 0:
            continue
        pts.append(tuple(sum(Fraction(int(wi)) * p[k] for wi, p in zip(w, verts)) / int(w.sum()) for k in range(2)))
    _check_invariants(net, part, Plane.identity(), pts)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_invariants_on_a_slice(data):
    net = data.draw(relu_networks(input_dim=3, max_hidden_layers=2, max_width=4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    a, b, c = (tuple(Fraction(int(k), 2) for k in rng.integers(-3, 4, size=3)) for _ in range(3))
    try:
        plane = Plane.through(a, b, c)
    except ValueError:  # collinear draw
        return
    part = partition(net, (0, 1, 0, 1), plane=plane, exact=True)
    _check_invariants(net, part, plane, [(Fraction(1, 3), Fraction(1, 2))])


# ----------------------------------------------------------------- known counts
def test_benchmark_net_519_regions():
    part = partition(benchmark_net("2-32-32-1", 0), exact=True)
    assert part.num_regions == 519
    assert part.area == 4


def test_sixteen_lines_through_one_point():
    angles = np.arange(16) * np.pi / 16
    W = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    net = Network.from_arrays([W, np.ones((1, 16))], [np.zeros(16), np.zeros(1)])
    part = partition(net, exact=True)
    assert part.num_regions == 32
    assert part.num_patterns == 32  # the origin's pattern (all off) is a region's too
    assert part.graph.number_of_edges() == 32


@pytest.mark.parametrize("m", [3, 8, 12])
def test_generic_lines_give_zaslavsky(m):
    rng = np.random.default_rng(m)
    W, b = rng.normal(size=(m, 2)), rng.normal(size=m)
    net = Network.from_arrays([W, rng.normal(size=(1, m))], [b, [0.0]])
    # a domain containing every intersection point of the arrangement
    pts = [np.linalg.solve(W[[i, j]], -b[[i, j]]) for i in range(m) for j in range(i + 1, m)]
    R = float(np.abs(pts).max()) + 1
    part = partition(net, (-R, R, -R, R), exact=True)
    assert part.num_regions == zaslavsky(m, 2)


def test_degenerate_arrangements():
    # duplicated row, negated row, lines through the corners and along the domain's edges,
    # three concurrent lines, a dead neuron and a zero row
    W = [[1, 0], [1, 0], [-1, 0], [1, 1], [1, -1], [0, 1], [0, 0], [1, 1]]
    b = [0, 0, 0, 0, 0, -1, 0, -10]
    net = Network.from_arrays([np.array(W, float), np.ones((1, 8))], [np.array(b, float), [0.0]])
    part = partition(net, exact=True)
    # x = 0 and the two diagonals through the origin make 6 regions; y = 1 is the top edge
    assert part.num_regions == 6
    _check_invariants(net, part, Plane.identity(), [(Fraction(1, 3), Fraction(-1, 5))])


def test_second_layer_line_through_a_first_layer_vertex():
    # layer 1: x = 0 and y = 0 (each twice, +/-) meet at the origin; layer 2:
    # relu(x) - relu(-x) + relu(y) - relu(-y) = x + y passes through that vertex and cuts
    # the two quadrants where x and y have opposite signs
    W1 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    net = Network.from_arrays([W1, np.array([[1.0, -1, 1, -1]]), np.ones((1, 1))], [np.zeros(4), [0.0], [0.0]])
    part = partition(net, exact=True)
    assert part.num_regions == 6
    _check_invariants(net, part, Plane.identity(), [(Fraction(-1, 2), Fraction(1, 2))])
    # with relu(y) alone, layer 2 is x + relu(y): x + y above the x axis, x (an existing
    # line) below it, so only one quadrant is cut
    W1 = np.array([[1.0, 0], [-1, 0], [0, 1]])
    net = Network.from_arrays([W1, np.array([[1.0, -1, 1]]), np.ones((1, 1))], [np.zeros(3), [0.0], [0.0]])
    assert partition(net).num_regions == 5


@pytest.mark.parametrize("scale", [Fraction(1, 10**6), Fraction(1), Fraction(10**6)])
def test_weight_scales(scale):
    # scaling layer l's weights by s and its bias by s^l scales z_l by s^l (s > 0):
    # every zero line, hence the partition, is unchanged
    base = benchmark_net("2-8-8-1", 3)
    from exactnet import Layer

    layers = [
        Layer(layer.weight_exact * scale, layer.bias_exact * scale ** (i + 1), layer.negative_slope_exact)
        for i, layer in enumerate(base.layers)
    ]
    scaled = partition(Network(layers), exact=True)
    ref = partition(base, exact=True)
    assert scaled.num_regions == ref.num_regions
    assert [r.vertices for r in scaled.regions] == [r.vertices for r in ref.regions]


def test_tiny_region():
    # two lines through the origin at a relative angle of 2e-9 and a horizontal line:
    # seven regions, the thinnest wedge's part above y = 1/2 has area ~1e-9 of the box's
    eps = 1e-9
    W = np.array([[1.0, eps], [1.0, -eps], [0.0, 1.0]])
    net = Network.from_arrays([W, np.ones((1, 3))], [np.array([0.0, 0.0, -0.5]), [0.0]])
    part = partition(net, exact=True)
    areas = sorted(r.area for r in part.regions)
    assert part.num_regions == 7
    assert 0 < areas[0] < Fraction(4, 10**9)
    _check_invariants(net, part, Plane.identity(), [])


def test_errors():
    net = benchmark_net("2-4-1", 0)
    with pytest.raises(ValueError, match="not convex"):
        partition(net, [(0, 0), (2, 0), (1, 1), (2, 2), (0, 2)])
    with pytest.raises(ValueError, match="zero area"):
        partition(net, [(0, 0), (1, 1), (2, 2)])
    with pytest.raises(ValueError, match="plane="):
        partition(benchmark_net("3-4-1", 0))
    with pytest.raises(ValueError, match="parallel"):
        Plane((0, 0, 0), (1, 1, 1), (2, 2, 2))
    with pytest.raises(RuntimeError, match="max_regions"):
        partition(benchmark_net("2-32-32-1", 0), max_regions=100)


def test_json_summary_and_pieces():
    # a dead second neuron downstream: its line splits regions but not pieces
    net = Network.from_arrays([np.array([[1.0, 0], [0, 1]]), np.array([[1.0, 0]])], [np.zeros(2), [0.0]])
    part = partition(net, exact=True)
    assert (part.num_regions, part.num_pieces) == (4, 2)
    d = json.loads(json.dumps(part.to_dict()))
    assert d["regions"] == 4 and d["pieces"] == 2 and d["area"] == "4" and len(d["edges"]) == 4


# ----------------------------------------------------------------- domains that are not convex polygons
def _regular(n, k=1):
    """The vertices of a regular n-gon visited with step k: a convex polygon for k = 1,
    the star polygon {n/k} (winding k times) otherwise."""
    pts = [(np.cos(2 * np.pi * j / n + 0.3), np.sin(2 * np.pi * j / n + 0.3)) for j in range(n)]
    return [pts[(j * k) % n] for j in range(n)]


@pytest.mark.parametrize("exact", [False, True])
def test_pentagram_is_refused_in_both_modes(exact):
    # every turn of the pentagram 0, 2, 4, 1, 3 is to the left, but its boundary winds twice:
    # it used to pass the convexity test (fast mode: "inconsistent face"; exact: 3 wrong regions)
    net = benchmark_net("2-4-1", 0)
    for star in (_regular(5, 2), _regular(5, 2)[::-1]):
        with pytest.raises(ValueError, match="winds around 2 times"):
            partition(net, star, exact=exact)


@pytest.mark.parametrize("n,k", [(5, 2), (7, 2), (7, 3), (8, 3), (9, 4)])
def test_star_polygons_refused(n, k):
    with pytest.raises(ValueError, match=f"winds around {k} times"):
        parse_domain(_regular(n, k))


def test_degenerate_vertex_lists():
    # the square traversed twice: every turn left, winding 2
    with pytest.raises(ValueError, match="winds around 2 times"):
        parse_domain([(0, 0), (1, 0), (1, 1), (0, 1)] * 2)
    # a spike: the boundary goes out along a line and back
    with pytest.raises(ValueError, match="spike"):
        parse_domain([(0, 0), (1, 0), (2, 0), (1, 0), (1, 1)])
    with pytest.raises(ValueError, match="spike"):
        parse_domain([(0, 0), (2, 0), (1, 0), (1, 1)])
    # consecutive repeats, a closing copy of the first vertex and straight-through vertices are dropped
    assert parse_domain([(0, 0), (0, 0), (1, 0), (2, 0), (2, 2), (0, 2), (0, 0)]) == [(0, 0), (2, 0), (2, 2), (0, 2)]


def test_box_bounds_in_order():
    with pytest.raises(ValueError, match="u0 < u1 and v0 < v1"):
        parse_domain((1, -1, -1, 1))
    with pytest.raises(ValueError, match="u0 < u1 and v0 < v1"):
        partition(benchmark_net("2-4-1", 0), (-1, 1, 1, -1))
    assert parse_domain((-1, 1, 0, 2)) == [(-1, 0), (1, 0), (1, 2), (-1, 2)]


def test_shapely_polygon_with_a_hole_refused():
    from shapely.geometry import Polygon

    ring = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    hole = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    with pytest.raises(ValueError, match="holes"):
        parse_domain(Polygon(ring, [hole]))
    assert len(parse_domain(Polygon(ring))) == 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), min_size=3, max_size=12, unique=True),
    st.integers(0, 11),
    st.booleans(),
    st.booleans(),
)
def test_convex_polygons_accepted_in_any_listing(points, shift, reverse, pad):
    """The convex hull of random lattice points, listed from any vertex in either orientation,
    with midpoints of edges and repeated vertices inserted, gives back the hull (CCW)."""
    from shapely.geometry import MultiPoint

    hull = MultiPoint(points).convex_hull
    if hull.geom_type != "Polygon":
        return
    ring = [(Fraction(int(x)), Fraction(int(y))) for x, y in list(hull.exterior.coords)[:-1]]
    listing = ring[::-1] if reverse else list(ring)
    s = shift % len(listing)
    listing = listing[s:] + listing[:s]
    if pad:
        padded = []
        for a, b in zip(listing, listing[1:] + listing[:1]):
            padded += [a, a, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)]
        listing = padded
    verts = parse_domain(listing)
    assert set(verts) == set(ring) and len(verts) == len(ring)
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(verts, verts[1:] + verts[:1]))
    assert area2 > 0


@pytest.mark.parametrize(
    "bad, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("100", TypeError),
        (np.float64(10), TypeError),
    ],
)
@pytest.mark.parametrize("exact", [False, True])
def test_max_regions_validated_at_the_boundary(bad, error, exact):
    """0, -1, 1.5 and True used to be accepted (and fail later, confusingly); a string gave
    a TypeError deep in the exact kernel."""
    with pytest.raises(error, match="max_regions must be a positive integer or None"):
        partition(benchmark_net("2-8-8-1", 0), max_regions=bad, exact=exact)


@pytest.mark.parametrize("exact", [False, True])
def test_max_regions_accepts_integers(exact):
    net = benchmark_net("2-4-1", 0)
    full = partition(net, exact=exact).num_regions
    assert partition(net, max_regions=np.int64(full), exact=exact).num_regions == full
    with pytest.raises(RuntimeError, match=f"max_regions={full - 1}"):
        partition(net, max_regions=full - 1, exact=exact)


def test_he_network_is_seeded_he_initialisation_and_checks_its_spec():
    from exactnet.builtin import he_network

    a, b = he_network("3-400-2", seed=5), he_network([3, 400, 2], seed=5)
    assert a.widths == (3, 400, 2) and a.name == "3-400-2 (He, seed 5)"
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
    assert not np.array_equal(a.layers[0].weight, he_network("3-400-2", seed=6).layers[0].weight)
    # He: weight variance 2 / fan_in (fan_in 400 in the second layer, 800 weights), bias std 0.3
    assert np.std(a.layers[1].weight) == pytest.approx(np.sqrt(2 / 400), rel=0.1)
    assert np.std(a.layers[0].bias) == pytest.approx(0.3, rel=0.15)
    assert np.all(he_network("2-8-1", bias_std=0).layers[0].bias == 0)
    with pytest.raises(ValueError, match="needs an input and an output width"):
        he_network([3])
    with pytest.raises(ValueError, match="bias_std"):
        he_network("2-8-1", bias_std=-1)
