"""The n-D engine (exactnet.regions on boxes, polytopes and the whole space): against the 2-D
engine, the arrangement counts of Zaslavsky, Serra's bound, degenerate arrangements,
sampled points, exact volumes, and fast against exact."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exactnet
from exactnet import Box, Network, Polygon, Polytope, RegionLimitError
from exactnet.regions.space._engine import enumerate_cells
from exactnet.regions.space.domain import parse_space_domain, start_polytope
from exactnet.strategies import points, relu_networks
from exactnet.theory.bounds import serra_thm1_upper


def random_net(widths, seed=0, bias=0.5):
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for a, b in zip(widths[:-1], widths[1:]):
        Ws.append(rng.normal(size=(b, a)) / np.sqrt(a))
        bs.append(rng.normal(size=b) * bias)
    return Network.from_arrays(Ws, bs)


def pattern_key(p) -> bytes:
    return np.packbits(np.asarray(p, dtype=bool)).tobytes()


def space_regions(net, domain, exact):
    """The n-D engine itself, also for 2-input networks (which exactnet.regions sends to the
    2-D engine)."""
    n = net.input_dim
    cells, eng = enumerate_cells(net, start_polytope(parse_space_domain(domain, n), n), exact=exact, max_regions=None)
    units = [np.flatnonzero(layer.is_neuron) for layer in net.layers]
    pats = [np.concatenate([b[u] for b, u in zip(c.bits, units) if len(u)] or [np.zeros(0, bool)]) for c in cells]
    index = {c.cid: i for i, c in enumerate(cells)}
    edges = {
        frozenset((pattern_key(pats[index[a]]), pattern_key(pats[index[b]]))) for a, nb in eng.adj.items() for b in nb
    }
    return {pattern_key(p) for p in pats}, edges, len(cells)


def summary(res):
    pats = [pattern_key(r.pattern) for r in res.regions]
    edges = {frozenset((pats[a], pats[b])) for a, b, _ in res.edges}
    return set(pats), edges


# ---------------------------------------------------------------------- against the 2-D engine
@pytest.mark.parametrize("widths", [(2, 8, 1), (2, 12, 12, 1), (2, 10, 10, 10, 2)])
@pytest.mark.parametrize("exact", [False, True])
def test_space_engine_equals_plane_engine(widths, exact):
    net = random_net(widths, seed=3)
    plane = exactnet.regions(net, Box(-1, 1), exact=True)
    assert plane._src.__class__.__name__ == "_PlaneSource"
    pats, edges, count = space_regions(net, Box(-1, 1), exact)
    assert count == plane.num_regions
    assert (pats, edges) == summary(plane)


def _case_a(n_dirs=16, lift=0):
    """Case A of the spec: n_dirs lines through the origin (in 2 + lift dimensions, the
    lifted hyperplanes all contain the extra axes)."""
    ang = np.pi * np.arange(n_dirs) / n_dirs
    W = np.zeros((n_dirs, 2 + lift))
    W[:, 0], W[:, 1] = np.cos(ang), np.sin(ang)
    return Network.from_arrays([W, np.ones((1, n_dirs))], [np.zeros(n_dirs), np.zeros(1)])


@pytest.mark.parametrize("exact", [False, True])
def test_degenerate_case_a_in_2d_3d_4d(exact):
    for lift in (0, 1, 2):
        net = _case_a(16, lift)
        pats, _, count = space_regions(net, Box(-1, 1), exact)
        assert count == 32 == len(pats)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("exact", [False, True])
def test_degenerate_duplicates_negations_dead_faces_corners(exact, n):
    rng = np.random.default_rng(5)
    W = rng.normal(size=(6, n))
    b = rng.normal(size=6) * 0.3
    net1 = Network.from_arrays([W, np.ones((1, 6))], [b, np.zeros(1)])
    base = exactnet.regions(net1, Box(-1, 1), exact=True)
    assert base.num_regions == space_regions(net1, Box(-1, 1), True)[2]  # the Python exact engine
    # the same rows twice, and negated, and a dead neuron: the same arrangement
    W2 = np.vstack([W, W[:2], -W[2:4], np.zeros((1, n))])
    b2 = np.concatenate([b, b[:2], -b[2:4], [0.0]])
    net2 = Network.from_arrays([W2, np.ones((1, len(b2)))], [b2, np.zeros(1)])
    res = exactnet.regions(net2, Box(-1, 1), exact=exact)
    assert res.num_regions == base.num_regions
    # planes along the box's faces, through its corners and along its edges: no new region
    # for the faces, the true count for the others (checked against the exact engine)
    e = np.eye(n)
    W3 = np.array([e[0], e[1], np.ones(n), e[0] + e[1], e[0] - e[1]])
    b3 = np.array([-1.0, 1, -n, 0, 0])  # x0 = 1, x1 = -1 (faces), sum x = n (corner), x0 = +-x1 (edges)
    net3 = Network.from_arrays([W3, np.ones((1, 5))], [b3, np.zeros(1)])
    res3 = exactnet.regions(net3, Box(-1, 1), exact=exact)
    assert res3.num_regions == 4  # only the planes x0 = x1 and x0 = -x1 cut the cube: 4 wedges
    assert sum(r.measure for r in res3.regions) == pytest.approx(2**n)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("exact", [False, True])
def test_many_hyperplanes_through_one_line(exact, n):
    """k hyperplanes a x0 + b x1 = 0 share the (n - 2)-flat x0 = x1 = 0 (a line in R^3):
    2k regions, on the box and on the whole space, and two more layers of neurons through
    the same flat (bent there) keep every region a wedge around it."""
    k = 7
    angles = np.linspace(0, np.pi, k, endpoint=False) + 0.1
    W = np.zeros((k, n))
    W[:, 0], W[:, 1] = np.cos(angles), np.sin(angles)
    net = Network.from_arrays([W, np.ones((1, k))], [np.zeros(k), np.zeros(1)])
    for domain in (Box(-1, 1), None):
        res = exactnet.regions(net, domain, exact=exact)
        assert res.num_regions == 2 * k
        assert all(len(nr) == 1 for _, _, nr in res.edges) and len(res.edges) == 2 * k
    # a second layer through the same flat: relu of wedge-wise linear functions vanishing on it
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(4, k))
    deep = Network.from_arrays([W, W1, np.ones((1, 4))], [np.zeros(k), np.zeros(4), np.zeros(1)])
    res = exactnet.regions(deep, Box(-1, 1), exact=exact)
    pats, edges, count = space_regions(deep, Box(-1, 1), True)
    assert res.num_regions == count and summary(res) == (pats, edges)
    assert all(r.contains([Fraction(0)] * n) for r in res.regions)  # every region touches the flat


def test_central_arrangement_of_planes_through_one_point():
    rng = np.random.default_rng(11)
    for n, m in [(3, 8), (4, 6)]:
        W = rng.normal(size=(m, n))
        net = Network.from_arrays([W, np.ones((1, m))], [np.zeros(m), np.zeros(1)])
        central = 2 * sum(comb(m - 1, j) for j in range(n))  # generic central arrangement
        for exact in (False, True):
            assert exactnet.regions(net, None, exact=exact).num_regions == central
            assert exactnet.regions(net, Box(-1, 1), exact=exact).num_regions == central


@pytest.mark.parametrize("n,m", [(3, 10), (4, 7), (5, 6)])
def test_zaslavsky_one_hidden_layer_whole_space(n, m):
    net = random_net((n, m, 1), seed=n + m)
    expected = sum(comb(m, j) for j in range(n + 1))
    res = exactnet.regions(net, None)
    assert res.num_regions == expected
    # bounded regions of a generic arrangement: C(m - 1, n) (Zaslavsky)
    assert sum(r.bounded for r in res.regions) == comb(m - 1, n)
    assert all(r.measure == float("inf") for r in res.regions if not r.bounded)


@pytest.mark.parametrize("widths", [(3, 3, 3, 1), (3, 4, 4, 1), (4, 5, 3, 1)])
def test_counts_never_exceed_serra_bound(widths):
    for seed in range(4):
        net = random_net(widths, seed=seed, bias=1.5)
        res = exactnet.regions(net, None)
        assert res.num_regions <= serra_thm1_upper(widths[0], list(widths[1:-1]))


# ---------------------------------------------------------------------- properties
def _small_net(draw_seed: int, n: int, widths: tuple[int, ...], integer: bool):
    rng = np.random.default_rng(draw_seed)
    dims = (n,) + widths + (2,)
    Ws, bs = [], []
    for a, b in zip(dims[:-1], dims[1:]):
        if integer:  # small integers: many coincidences (degenerate arrangements)
            Ws.append(rng.integers(-2, 3, size=(b, a)).astype(float))
            bs.append(rng.integers(-1, 2, size=b).astype(float))
        else:
            Ws.append(rng.normal(size=(b, a)))
            bs.append(rng.normal(size=b) * 0.5)
    return Network.from_arrays(Ws, bs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(3, 4),
    widths=st.sampled_from([(4,), (5,), (3, 3), (4, 3)]),
    integer=st.booleans(),
)
def test_fast_equals_exact_and_volumes_and_samples(seed, n, widths, integer):
    net = _small_net(seed, n, widths, integer)
    fast = exactnet.regions(net, Box(-1, 1))
    exact = exactnet.regions(net, Box(-1, 1), exact=True)
    assert summary(fast) == summary(exact) == space_regions(net, Box(-1, 1), True)[:2]  # the Python exact engine
    assert (fast.num_regions, fast.num_pieces, fast.num_patterns) == (
        exact.num_regions,
        exact.num_pieces,
        exact.num_patterns,
    )
    assert sum(r.measure for r in exact.regions) == 2**n  # exact volumes tile the box
    # the pattern of every sample point is the pattern of a region containing it
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1, 1, size=(30, n))
    by_pattern = {pattern_key(r.pattern): r for r in exact.regions}
    for x, p in zip(pts, net.pattern(pts)):
        region = by_pattern[pattern_key(p)]
        xq = [Fraction(v) for v in x]
        assert region.contains(xq)
        # and its interior point has its pattern
        assert (net.pattern_exact(region.interior_point) == region.pattern).all()


def test_polytope_domain_and_whole_space_agree_with_box():
    net = random_net((3, 6, 6, 1), seed=2)
    box = exactnet.regions(net, Box(-1, 1), exact=True)
    A = np.vstack([np.eye(3), -np.eye(3)])
    poly = exactnet.regions(net, Polytope(A, np.ones(6)), exact=True)
    assert summary(poly) == summary(box)
    # a simplex: exact volume 1/6
    simplex = exactnet.regions(net, Polytope(np.vstack([-np.eye(3), np.ones((1, 3))]), [0, 0, 0, 1]), exact=True)
    assert sum(r.measure for r in simplex.regions) == Fraction(1, 6)
    # the whole space contains every pattern of the box
    whole = exactnet.regions(net, None, exact=True)
    assert summary(box)[0] <= summary(whole)[0]


# ---------------------------------------------------------------------- errors and caps
def test_bad_domains_are_refused():
    net = random_net((3, 4, 1))
    with pytest.raises(ValueError, match="lo\\[1\\]"):
        exactnet.regions(net, Box([-1, 1, -1], [1, 1, 1]))
    with pytest.raises(ValueError, match="3 inputs"):
        exactnet.regions(net, Box([-1, -1], [1, 1]))
    with pytest.raises(ValueError, match="unbounded"):
        exactnet.regions(net, Polytope(np.eye(3), np.ones(3)))
    with pytest.raises(ValueError, match="empty"):
        exactnet.regions(net, Polytope(np.array([[1.0, 0, 0], [-1, 0, 0]]), [-1, -1]))
    with pytest.raises(ValueError, match="no interior"):
        A = np.vstack([np.eye(3), -np.eye(3), [[1.0, 0, 0], [-1, 0, 0]]])
        exactnet.regions(net, Polytope(A, [1, 1, 1, 1, 1, 1, 0, 0]))
    with pytest.raises(TypeError, match="domain must be"):
        exactnet.regions(net, (-1, 1))
    with pytest.raises(TypeError, match="exactnet.Network"):
        exactnet.regions("net", Box(-1, 1))


@pytest.mark.parametrize(
    "net,domain",
    [
        (random_net((3, 12, 12, 1)), Box(-1, 1)),
        (random_net((3, 12, 12, 1)), None),
        (random_net((2, 16, 16, 1)), Box(-1, 1)),
        (random_net((2, 16, 16, 1)), Polygon((-1, 1, -1, 1))),
        (random_net((2, 16, 16, 1)), exactnet.Segment((-1, -1), (1, 1))),
    ],
)
@pytest.mark.parametrize("exact", [False, True])
def test_max_regions_raises_with_the_count_in_every_engine(net, domain, exact):
    full = exactnet.regions(net, domain, exact=exact).num_regions
    assert exactnet.regions(net, domain, exact=exact, max_regions=full).num_regions == full
    with pytest.raises(RegionLimitError) as info:
        exactnet.regions(net, domain, exact=exact, max_regions=full // 3)
    assert full // 3 < info.value.count <= full
    assert info.value.max_regions == full // 3
    with pytest.raises(ValueError, match="max_regions"):
        exactnet.regions(net, domain, max_regions=0)


def _sawtooth(layers: int) -> Network:
    """The tent map t = relu(2x) - relu(4x - 2) composed ``layers`` times on [0, 1]: 2^layers
    regions (each layer breaks where the previous tent is 1/2)."""
    W0, b0 = np.array([[2.0], [4.0]]), np.array([0.0, -2.0])
    W, b = np.array([[2.0, -2.0], [4.0, -4.0]]), np.array([0.0, -2.0])
    Ws = [W0] + [W] * (layers - 1) + [np.array([[1.0, -1.0]])]
    return Network.from_arrays(Ws, [b0] + [b] * (layers - 1) + [np.zeros(1)])


@pytest.mark.parametrize("exact", [False, True])
def test_max_regions_stops_a_segment_early(exact):
    """2^16 regions on a segment: the 1-D engines stop once a layer passes the cap (the
    count reached is far below the total), in float and exact mode, and in batches."""
    from exactnet.regions.line import segment_regions_batch

    net = _sawtooth(16)
    assert exactnet.regions(_sawtooth(8), exactnet.Segment([0.0], [1.0]), exact=exact).num_regions == 2**8
    with pytest.raises(RegionLimitError) as info:
        exactnet.regions(net, exactnet.Segment([0.0], [1.0]), exact=exact, max_regions=100)
    assert 100 < info.value.count < 2**10
    with pytest.raises(RegionLimitError):
        segment_regions_batch(net, [[0.0]] * 40, [[1.0]] * 40, exact=exact, max_regions=100)


def test_max_regions_in_tiling():
    from concurrent.futures import ThreadPoolExecutor

    net = random_net((2, 16, 16, 1))
    full = exactnet.regions(net, Box(-1, 1)).num_regions
    with ThreadPoolExecutor(2) as ex:
        res = exactnet.regions(net, Box(-1, 1), executor=ex, tiles=2)
        assert res.num_regions == full
        with pytest.raises(RegionLimitError):
            exactnet.regions(net, Box(-1, 1), executor=ex, tiles=2, max_regions=full - 1)


def test_progress_bar(capsys):
    net = random_net((3, 6, 6, 1))
    exactnet.regions(net, Box(-1, 1), progress=True)
    assert "regions: layer" in capsys.readouterr().err


def test_interrupt_stops_cleanly(monkeypatch):
    """Ctrl-C during an enumeration propagates as KeyboardInterrupt (no partial result) and
    leaves the progress bar closed: in the Python engine (the whole space) and between the
    compiled kernel's batches (a box)."""
    import exactnet.regions.space._compiled as compiled
    import exactnet.regions.space._engine as engine

    net = random_net((3, 8, 8, 1))
    for module, name, domain in ((engine._Engine, "split", None), (compiled, "run_kernel", Box(-1, 1))):
        calls = {"n": 0}
        real = getattr(module, name)

        def interrupted(*args, real=real, calls=calls, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, interrupted)
        with pytest.raises(KeyboardInterrupt):
            exactnet.regions(net, domain, progress=True)
        assert calls["n"] == 3
        monkeypatch.setattr(module, name, real)
        assert exactnet.regions(net, domain).num_regions > 0


def test_volumes_in_5d_and_the_graph_in_8d():
    net5 = random_net((5, 6, 1), seed=1)
    assert sum(r.measure for r in exactnet.regions(net5, Box(-1, 1), exact=True).regions) == 2**5
    net = random_net((8, 6, 1), seed=1)
    res = exactnet.regions(net, Box(-1, 1), exact=True)
    assert res.num_regions == len(summary(exactnet.regions(net, Box(-1, 1)))[0])
    G = res.graph
    assert G.number_of_nodes() == res.num_regions
    import networkx as nx

    assert nx.is_connected(G)
    for a, b, data in G.edges(data=True):
        flipped = np.flatnonzero(G.nodes[a]["pattern"] != G.nodes[b]["pattern"])
        assert len(flipped) >= 1 and tuple(net.neurons[k] for k in flipped) == data["neurons"]


def test_box_corners_exact_vertices():
    net = Network.from_arrays([np.array([[1.0, 1.0, 1.0]]), np.ones((1, 1))], [np.array([-0.5]), np.zeros(1)])
    res = exactnet.regions(net, Box(0, 1), exact=True)
    assert res.num_regions == 2
    small = min(res.regions, key=lambda r: r.measure)
    assert small.measure == Fraction(1, 48)  # the corner simplex x + y + z <= 1/2
    assert sorted(small.vertices) == sorted(
        [(0, 0, 0), (Fraction(1, 2), 0, 0), (0, Fraction(1, 2), 0), (0, 0, Fraction(1, 2))]
    )
    assert len(small.facets) == 4
    for p in itertools.product((0, 1), repeat=3):
        assert res.regions[res.locate(p)].contains(p)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    net=relu_networks(input_dim=3, max_hidden_layers=2, max_width=4, leaky=True, linear_units=True),
    data=st.data(),
)
def test_degenerate_leaky_and_linear_units_fast_equals_exact(net, data):
    """Drawn by exactnet.strategies (duplicated, negated, zero rows, zero biases, small
    integers, leaky slopes, pass-through units): fast equals exact, exact volumes tile the
    box, and exact points of the box have the pattern of a region containing them."""
    fast = exactnet.regions(net, Box(-2, 2))
    exact = exactnet.regions(net, Box(-2, 2), exact=True)
    assert summary(fast) == summary(exact) == space_regions(net, Box(-2, 2), True)[:2]  # the Python exact engine
    assert (fast.num_pieces, fast.num_patterns) == (exact.num_pieces, exact.num_patterns)
    assert sum(r.measure for r in exact.regions) == 64
    by_pattern = {pattern_key(r.pattern): r for r in exact.regions}
    for _ in range(5):
        x = data.draw(points(3, kind="dyadic", bound=2))
        p = pattern_key(net.pattern_exact(x))
        if p in by_pattern:  # a point inside a region (not only on a lower-dimensional face)
            assert by_pattern[p].contains(x)
        else:  # a point on a face: some region's closure contains it
            assert any(r.contains(x) for r in exact.regions)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(net=relu_networks(input_dim=2, max_hidden_layers=2, max_width=5, leaky=True, linear_units=True))
def test_n_d_engine_equals_2d_engine_on_degenerate_networks(net):
    """Region for region, edge for edge, and the same pieces and non-empty patterns (counted
    on every face) as the 2-D engine, on networks drawn with forced degeneracies."""
    from exactnet.regions.api import _space

    plane = exactnet.regions(net, Box(-2, 2), exact=True)
    for exact in (False, True):
        space = _space(net, Box(-2, 2), exact, None, False)
        assert summary(space) == summary(plane)
        assert (space.num_pieces, space.num_patterns) == (plane.num_pieces, plane.num_patterns)
        assert sum(r.measure for r in space.regions) == pytest.approx(16)
