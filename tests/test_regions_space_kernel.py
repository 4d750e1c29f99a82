"""The n-D engine's compiled kernel (regions/space/_kernel.py) against the Python engine:
the same cells in the same order in fast mode, the same regions and graph as the exact
engine, the fallbacks (a sign the float bound cannot certify: the Python engine on that
cell; an exact zero: the Python engine on everything), more than 64 constraints, leaky and
linear units, polytopes, the region cap, and exact outputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exactnet
from exactnet import Box, Network, Polytope, RegionLimitError
from exactnet.net.network import Layer
from exactnet.regions.space import _compiled, _engine
from exactnet.regions.space._engine import enumerate_cells
from exactnet.regions.space.domain import parse_space_domain, start_polytope
from exactnet.regions.space.source import SpaceSource


def random_net(widths, seed=0, slope=0.0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.normal(size=b) * 0.5 for b in widths[1:]]
    return Network.from_arrays(Ws, bs, negative_slope=slope)


def key(bits) -> bytes:
    return np.packbits(np.asarray(bits, dtype=bool)).tobytes()


def start_of(net, domain):
    n = net.input_dim
    return start_polytope(parse_space_domain(domain, n), n)


def python_graph(cells, eng):
    """(patterns in order, edges as {pattern pair: neuron labels}) of the Python engine."""
    pats = [key(np.concatenate(c.bits)) for c in cells]
    index = {c.cid: i for i, c in enumerate(cells)}
    edges = {}
    for a, nb in eng.adj.items():
        for b in nb:
            x, y = cells[index[a]], cells[index[b]]
            flip = np.flatnonzero(np.concatenate(x.bits) != np.concatenate(y.bits))
            edges[frozenset((pats[index[a]], pats[index[b]]))] = tuple(flip.tolist())
    return pats, edges


def assert_same_as_python(net, domain):
    """The kernel gives the Python fast engine's cells (order, vertices, slots, incidence,
    bits) and graph, and the Python exact engine's regions."""
    start = start_of(net, domain)
    got = _compiled.enumerate_compiled(net, start, None, False)
    assert got is not None
    cells, (pairs, bits) = got
    ref, eng = enumerate_cells(net, start, exact=False, max_regions=None)
    assert len(cells) == len(ref)
    for a, b in zip(cells, ref):
        assert a.slots == b.slots
        assert np.array_equal(a.inc, b.inc)
        assert [x.tolist() for x in a.bits] == [x.tolist() for x in b.bits]
        # both approximate the same exact vertex within their bounds (the same formulas,
        # summed in another order)
        assert (np.abs(a.V - b.V).max(axis=1) <= a.err + b.err).all()
        assert (a.err > 0).all() and (a.err < 1e-6).all()
    # the graph: pairs a < b, sorted, labelled with the flipping neuron
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert [tuple(p) for p in pairs.tolist()] == sorted(tuple(p) for p in pairs.tolist())
    # pattern bit k is neuron net.neurons[k]: its index among all units
    neuron_unit = [sum(lay.out_features for lay in net.layers[:l]) + j for l, j in net.neurons]
    pats = [key(np.concatenate(c.bits)) for c in ref]
    mine = {frozenset((pats[a], pats[b])): (int(neuron_unit[k]),) for (a, b), k in zip(pairs.tolist(), bits.tolist())}
    ref_pats, ref_edges = python_graph(ref, eng)
    assert ref_pats == pats
    assert mine == ref_edges
    exact_cells, _ = enumerate_cells(net, start, exact=True, max_regions=None)
    assert {key(np.concatenate(c.bits)) for c in exact_cells} == set(pats)
    return cells


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 5),
    widths=st.sampled_from([(3,), (6,), (4, 3), (5, 4), (3, 3, 3)]),
    slope=st.sampled_from([0.0, 0.25, -0.5]),
)
def test_kernel_equals_the_python_engine(seed, n, widths, slope):
    net = random_net((n,) + widths + (1,), seed, slope)
    assert_same_as_python(net, Box(-1, 1))


def test_more_than_64_constraints_and_neurons():
    # 4 + 80 constraints: two-word incidence bitsets and two-word patterns
    net = random_net((2, 40, 40, 1), seed=3)
    cells = assert_same_as_python(net, Box(-1, 1))
    assert cells.net.n_words == 2 and len(cells) > 100


def test_linear_units_and_a_polytope_domain():
    rng = np.random.default_rng(5)
    W0, W1 = rng.normal(size=(5, 3)), rng.normal(size=(4, 5))
    net = Network(
        [
            Layer(W0, rng.normal(size=5), [0, 0, 1, 0, 0.5]),  # a linear unit and a leaky one
            Layer(W1, rng.normal(size=4), [1, 0, 0, 0]),
            Layer(rng.normal(size=(1, 4)), np.zeros(1), 1),
        ]
    )
    assert_same_as_python(net, Box(-1, 1))
    simplex = Polytope(np.vstack([-np.eye(3), np.ones((1, 3))]), [0, 0, 0, 1])
    assert_same_as_python(net, simplex)


def _near_degenerate(eps):
    """Three planes x_i = 1/4 meeting at one point, and a second-layer neuron whose bent
    plane passes at ``eps`` from it: sum_i relu(x_i - 1/4) - eps."""
    W0 = np.eye(3)
    b0 = -0.25 * np.ones(3)
    W1 = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5]])
    b1 = np.array([-eps, 0.1])
    return Network.from_arrays([W0, W1, np.ones((1, 2))], [b0, b1, np.zeros(1)])


def test_uncertain_sign_runs_the_python_engine_on_that_cell(monkeypatch):
    """1e-30 from a vertex: the float bound cannot tell, the exact sign is not 0. The kernel
    hands that cell to the Python engine and keeps the rest; same result as the exact
    engine."""
    net = _near_degenerate(1e-30)
    calls = []
    real = _engine._Engine.subtree

    def spy(self, cell, layer):
        calls.append(layer)
        return real(self, cell, layer)

    monkeypatch.setattr(_engine._Engine, "subtree", spy)
    assert_same_as_python(net, Box(-1, 1))
    assert calls and all(layer == 1 for layer in calls)


def test_exact_zero_runs_the_python_engine_on_everything():
    """eps = 0: the bent plane passes through the vertex (four constraints on a vertex in
    R^3), so the arrangement is not in general position: the kernel declines, and
    exactnet.regions gives the exact engine's regions."""
    net = _near_degenerate(0.0)
    start = start_of(net, Box(-1, 1))
    assert _compiled.enumerate_compiled(net, start, None, False) is None
    cells, _ = enumerate_cells(net, start, exact=True, max_regions=None)
    res = exactnet.regions(net, Box(-1, 1))
    assert {key(r.pattern) for r in res.regions} == {key(np.concatenate(c.bits)) for c in cells}
    # a plane through a corner of the box: declined too
    corner = Network.from_arrays([np.array([[1.0, 1.0, 1.0]]), np.ones((1, 1))], [np.array([-3.0]), np.zeros(1)])
    assert _compiled.enumerate_compiled(corner, start_of(corner, Box(-1, 1)), None, False) is None


def test_region_cap_in_the_kernel():
    net = random_net((3, 10, 10, 1), seed=1)
    total = exactnet.regions(net, Box(-1, 1)).num_regions
    with pytest.raises(RegionLimitError) as err:
        exactnet.regions(net, Box(-1, 1), max_regions=total // 2)
    assert total // 2 < err.value.count <= total
    assert exactnet.regions(net, Box(-1, 1), max_regions=total).num_regions == total


def test_exact_mode_reports_exact_vertices_volumes_and_maps():
    net = random_net((3, 5, 4, 1), seed=7)
    start = start_of(net, Box(-1, 1))
    res = exactnet.regions(net, Box(-1, 1), exact=True)
    assert isinstance(res._src.cells, _compiled.CompiledCells)  # the compiled path
    ref, eng = enumerate_cells(net, start, exact=True, max_regions=None)
    by_pattern = {key(np.concatenate(c.bits)): c for c in ref}
    for r in res.regions:
        c = by_pattern[key(r.pattern)]
        want = {tuple(Fraction(int(a), int(d)) for a in row) for row, d in zip(c.V, c.d)}
        assert set(r.vertices) == want
        assert all(isinstance(v, Fraction) for p in r.vertices for v in p)
        assert all(isinstance(v, Fraction) for v in r.intercept)
    assert sum(r.measure for r in res.regions) == 8
    # the graph and its same-map flags are the Python exact engine's
    ref_src = SpaceSource(net, ref, eng, "box", {})
    pats = [key(r.pattern) for r in res.regions]
    ref_pats = [key(ref_src.pattern(c)) for c in ref]
    mine = {frozenset((pats[a], pats[b])): (nr, s) for (a, b, nr), s in zip(res.edges, res.same_map)}
    theirs = {
        frozenset((ref_pats[a], ref_pats[b])): (nr, s) for (a, b, nr), s in zip(ref_src.edges(), ref_src.same_map())
    }
    assert mine == theirs and len(mine) > 10


@settings(max_examples=200, deadline=None)
@given(data=st.data(), m=st.integers(1, 7), extra=st.integers(0, 3))
def test_solve_vertex_recovers_the_point(data, m, extra):
    """Fraction-free elimination: the exact point from m or more consistent integer rows
    (extra rows are dependent, as at a degenerate vertex), reduced with d > 0."""
    import math

    from exactnet.regions.space._maps import solve_vertex

    small = st.integers(-6, 6)
    x = [Fraction(data.draw(st.integers(-60, 60)), data.draw(st.integers(1, 40))) for _ in range(m)]
    rows = []
    while len(rows) < m + extra:
        a = [data.draw(small) for _ in range(m)]
        c = -sum((Fraction(ai) * xi for ai, xi in zip(a, x)), Fraction(0))
        rows.append(np.array([ai * c.denominator for ai in a] + [c.numerator], dtype=object))
    coeffs = np.array([[int(v) for v in r[:m]] for r in rows], dtype=float)
    if np.linalg.matrix_rank(coeffs) < m:
        with pytest.raises(ArithmeticError, match="do not determine"):
            solve_vertex(rows, m)
        return
    N, d = solve_vertex(rows, m)
    assert [Fraction(int(v), d) for v in N] == x
    assert d > 0 and math.gcd(d, *(int(v) for v in N)) == 1
    # an inconsistent extra row is refused
    bad = rows + [rows[0].copy()]
    bad[-1][m] += 1
    with pytest.raises(ArithmeticError, match="inconsistent"):
        solve_vertex(bad, m)


def test_one_layer_and_a_linear_first_layer():
    """A network without hidden layers (one region) and one whose first layer has no
    neuron: the compiled path handles both (the first layer's cells are then final, or
    the kernel's batches start from one uncut cell)."""
    rng = np.random.default_rng(2)
    flat = Network.from_arrays([rng.normal(size=(2, 3))], [rng.normal(size=2)])
    start = start_of(flat, Box(-1, 1))
    cells, (pairs, _) = _compiled.enumerate_compiled(flat, start, None, False)
    assert len(cells) == 1 and len(pairs) == 0 and cells[0].V.shape == (8, 3)
    res = exactnet.regions(flat, Box(-1, 1), exact=True)
    assert res.num_regions == 1 and res.regions[0].measure == 8
    linear_first = Network(
        [
            Layer(rng.normal(size=(4, 3)), rng.normal(size=4), 1),  # linear units only
            Layer(rng.normal(size=(6, 4)), rng.normal(size=6), 0),
            Layer(rng.normal(size=(1, 6)), np.zeros(1), 1),
        ]
    )
    assert_same_as_python(linear_first, Box(-1, 1))
