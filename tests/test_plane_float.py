"""The certified float 2-D engine returns the exact partition: same regions (by pattern),
same graph, same counts, vertices and areas within rounding."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import Layer, Network
from exactnet.builtin import benchmark_net
from exactnet.regions.plane import Plane, partition
from exactnet.strategies import relu_networks

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key(pattern) -> bytes:
    return np.packbits(pattern).tobytes()


def assert_same_partition(fl, ex):
    assert not fl.exact and ex.exact
    assert fl.num_regions == ex.num_regions
    assert fl.num_patterns == ex.num_patterns
    assert fl.num_pieces == ex.num_pieces
    by_pat = {_key(r.pattern): r for r in ex.regions}
    assert len(by_pat) == ex.num_regions  # a pattern per region
    total = 0.0
    for r in fl.regions:
        e = by_pat[_key(r.pattern)]
        assert math.isclose(r.area, float(e.area), rel_tol=1e-6, abs_tol=1e-12)
        total += r.area
        # the float map is the exact one rounded (from three vertices of the face)
        for a, b in zip(r.intercept, e.intercept):
            assert math.isclose(a, float(b), rel_tol=1e-6, abs_tol=1e-9)
    assert math.isclose(total, float(ex.area), rel_tol=1e-9)

    # the same graph, with the same labels, up to renumbering
    def edges(part):
        regs = part.regions
        return {
            (frozenset((_key(regs[a].pattern), _key(regs[b].pattern))), tuple(sorted(lab)))
            for a, b, _, lab in part.edges
        }

    assert edges(fl) == edges(ex)


@SETTINGS
@given(st.data())
def test_float_equals_exact_random_and_degenerate(data):
    net = data.draw(relu_networks(input_dim=2, max_hidden_layers=3, max_width=6, linear_units=data.draw(st.booleans())))
    domain = data.draw(
        st.sampled_from(
            [
                None,
                (0, 1, 0, 1),
                [(-2, -1), (2, -1), (0, 3)],
                [(Fraction(-1, 3), 0), (1, -1), (Fraction(3, 2), 1), (0, Fraction(3, 2))],
            ]
        )
    )
    assert_same_partition(partition(net, domain), partition(net, domain, exact=True))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_float_equals_exact_leaky_and_slices(data):
    net = data.draw(relu_networks(input_dim=3, max_hidden_layers=2, max_width=5, leaky=data.draw(st.booleans())))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    a, b, c = (tuple(Fraction(int(k), 2) for k in rng.integers(-3, 4, size=3)) for _ in range(3))
    try:
        plane = Plane.through(a, b, c)
    except ValueError:
        return
    assert_same_partition(
        partition(net, (0, 1, 0, 1), plane=plane), partition(net, (0, 1, 0, 1), plane=plane, exact=True)
    )


@pytest.mark.parametrize("spec", ["2-16-16-1", "2-32-32-1", "2-8-8-8-1"])
def test_benchmark_nets(spec):
    net = benchmark_net(spec, 0)
    assert_same_partition(partition(net), partition(net, exact=True))


def _lines_net(W, b, W2=None):
    W = np.array(W, float)
    W2 = np.ones((1, W.shape[0])) if W2 is None else np.array(W2, float)
    return Network.from_arrays([W, W2], [np.array(b, float), np.zeros(W2.shape[0])])


DEGENERATE = {
    "sixteen concurrent lines": _lines_net(
        np.stack([np.cos(np.arange(16) * np.pi / 16), np.sin(np.arange(16) * np.pi / 16)], 1), np.zeros(16)
    ),
    "duplicated and negated rows": _lines_net([[1, 2], [1, 2], [-1, -2], [2, 4], [0, 1]], [0.5, 0.5, -0.5, 1, 0]),
    "three concurrent lines": _lines_net([[1, 0], [0, 1], [1, 1], [1, -2]], [0, 0, 0, 0.5]),
    "through the corners and along the edges": _lines_net(
        [[1, 1], [1, -1], [0, 1], [1, 0], [1, 0]], [0, 0, -1, 1, -0.25]
    ),
    "dead neurons and zero rows": _lines_net([[0, 0], [1, 1], [-1, -1], [0, 0]], [-1, 0.5, -5, 0]),
    "a tiny region": _lines_net([[1.0, 1e-9], [1.0, -1e-9], [0.0, 1.0]], [0, 0, -0.5]),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_arrangements(name):
    net = DEGENERATE[name]
    assert_same_partition(partition(net), partition(net, exact=True))


def test_second_layer_line_through_first_layer_vertex():
    W1 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    net = Network.from_arrays([W1, np.array([[1.0, -1, 1, -1]]), np.ones((1, 1))], [np.zeros(4), [0.0], [0.0]])
    fl = partition(net)
    assert fl.num_regions == 6
    assert_same_partition(fl, partition(net, exact=True))


def test_linear_units_opening_a_block():
    """A layer whose first unit is linear: its neurons must read this layer's values, not
    the previous layer's (a CI failure: the block buffer was refilled only at unit 0)."""
    first = Layer([[0, 1], [0, 0], [0, 0], [1, 0]], [0, 1, 1, 0], negative_slope=[0, 0, 0, 1])
    second = Layer(np.zeros((6, 4)), np.zeros(6), negative_slope=[1, 0, 0, 0, 1, 1])
    net = Network([first, second, Layer(np.zeros((1, 6)), [0], negative_slope=1)])
    fl = partition(net)
    assert fl.num_regions == 2  # only relu(y) kinks; the second layer is identically zero
    assert_same_partition(fl, partition(net, exact=True))
    wide = Network(
        [
            Layer(np.eye(2)[[0, 1] * 12], np.linspace(-0.9, 0.9, 24), negative_slope=[1] + [0] * 23),
            Layer(np.eye(24)[[0] + list(range(1, 24))], -np.linspace(0, 0.5, 24), negative_slope=[1] * 17 + [0] * 7),
            Layer(np.ones((1, 24)), [0], negative_slope=1),
        ]
    )
    assert_same_partition(partition(wide), partition(wide, exact=True))


@pytest.mark.parametrize("scale", [Fraction(1, 10**6), Fraction(10**6)])
def test_weight_scales(scale):
    base = benchmark_net("2-8-8-1", 3)
    layers = [
        Layer(layer.weight_exact * scale, layer.bias_exact * scale ** (i + 1), layer.negative_slope_exact)
        for i, layer in enumerate(base.layers)
    ]
    net = Network(layers)
    assert_same_partition(partition(net), partition(net, exact=True))
    assert partition(net).num_regions == partition(base).num_regions


def test_pieces_differ_from_regions_in_float_mode():
    net = Network.from_arrays([np.array([[1.0, 0], [0, 1]]), np.array([[1.0, 0]])], [np.zeros(2), [0.0]])
    fl = partition(net)
    assert (fl.num_regions, fl.num_pieces) == (4, 2)


def test_bulk_regions_and_edges_equal_single_ones():
    # Partition.regions is built with array operations: the same values region(i) gives
    part = partition(benchmark_net("2-16-16-1", 0))
    src = part._src
    for bulk, one in zip(part.regions, (src.region(i) for i in range(part.num_regions))):
        assert (bulk.index, bulk.vertices, bulk.intercept, bulk.gradient, bulk.area) == (
            one.index,
            one.vertices,
            one.intercept,
            one.gradient,
            one.area,
        )
        assert np.array_equal(bulk.pattern, one.pattern)
        assert np.allclose(bulk.interior_point, one.interior_point, rtol=1e-12, atol=1e-15)
    assert len(part.edges) == part.graph.number_of_edges() > part.num_regions


# ----------------------------------------------------------------- values beyond float64's range
def _rounded(q):
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


@pytest.mark.parametrize("scales", [(1e200, 1e200), (1e308, 1.0), (1e300, 1e10, 1e-20)])
def test_huge_weights_maps_equal_the_rounded_exact_ones(scales):
    """With weights of 1e200 in two layers the fast mode's output maps used to come out NaN
    (overflowing float compositions) where the exact maps are finite; now every map is
    finite and close to the exact one, or the exact one rounded (+-inf beyond float64's
    range, with a warning)."""
    rng = np.random.default_rng(7)
    widths = [2] + [4] * (len(scales) - 1) + [1]
    ws = [
        rng.choice([-1.0, 1.0], (o, i)) * rng.uniform(0.5, 1.7, (o, i)) * s
        for i, o, s in zip(widths[:-1], widths[1:], scales)
    ]
    net = Network.from_arrays(ws, [rng.standard_normal(o) for o in widths[1:]])
    ex = partition(net, exact=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fl = partition(net)
        fast = {_key(r.pattern): r for r in fl.regions}
    assert_same_partition(fl, ex)
    exact_maps = [
        [_rounded(q) for q in r.intercept + tuple(g for grad in r.gradient for g in grad)] for r in ex.regions
    ]
    overflow = any(math.isinf(v) for m in exact_maps for v in m)
    assert overflow == any("beyond float64's range" in str(w.message) for w in caught)
    for r, exact in zip(ex.regions, exact_maps):
        got = list(fast[_key(r.pattern)].intercept) + [g for grad in fast[_key(r.pattern)].gradient for g in grad]
        assert not any(math.isnan(v) for v in got)
        for g, e in zip(got, exact):
            if math.isinf(e) or math.isinf(g):
                assert g == e
            else:
                assert g == pytest.approx(
                    e, rel=1e-6, abs=1e-9 * max(1.0, max(abs(v) for v in exact if math.isfinite(v)))
                )
    assert overflow or scales[0] != 1e200


def test_tiny_face_gets_its_exact_map_rounded():
    """Three lines bounding a triangle 1e-12 wide: three float vertices that close would
    give its gradient to 1e-4 only, so its map is composed from the layers."""
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([-0.3, -0.3, -(0.6 + 1e-12)])
    # outputs near 1.25 on the triangle: their rounding (1e-16) over its height (1e-12)
    net = Network.from_arrays([W, np.array([[0.5, -0.75, 1.25]])], [b, np.array([1.25])])
    fl, ex = partition(net), partition(net, exact=True)
    assert min(r.area for r in fl.regions) < 1e-22
    assert_same_partition(fl, ex)


def test_vertices_the_float_values_cannot_place_are_solved_exactly():
    """A neuron of slope -3.9e-258 and bias 5e-324 (the least float) against the line v = 0:
    their crossing's float values underflow, so the kernel decides the signs exactly and
    knows only the edge the vertex lies on. Its coordinates (and the outputs there) are then
    solved exactly: the areas and maps equal the exact partition's, not the edge's midpoint
    (found by hypothesis: the float areas were 0.625 and 0 where the exact ones are 0.5)."""
    tiny_slope, least = Fraction(-4208699341235563, 2**907), Fraction(1, 2**1074)
    net = Network(
        [
            Layer(
                [[-2, 0], [tiny_slope, 1], [0, 0], [0, 1], [0, 0], [1, 0]],
                [1, least, 1, 0, 1, 0],
            ),
            Layer([[1, -1, 2, 0, 1, 3]], [0], 1),
        ]
    )
    assert_same_partition(partition(net), partition(net, exact=True))
