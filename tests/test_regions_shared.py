"""The machinery the region engines share: one cache of per-network data kept outside the
network (freed with it), one float flattening, one pattern encoding, and ``max_regions``
honoured by the compiled exact 2-D kernel without changing the engine."""

from __future__ import annotations

import gc
import weakref
from fractions import Fraction

import numpy as np
import pytest

from exactnet import Layer, Network, segment_regions, segment_regions_batch
from exactnet.builtin import benchmark_net
from exactnet.regions import _flat
from exactnet.regions._common import RegionLimitError
from exactnet.regions._flat import FlatNetwork, cached_kinds, engine_data
from exactnet.regions._patterns import int_to_words, pack, unpack_bytes, unpack_int, unpack_words, words_to_int
from exactnet.regions.plane import COMPILED_EXACT_MIN_NEURONS, Plane, partition
from exactnet.regions.plane import compute as plane_compute

#: the compiled exact 2-D kernel runs for this one (96 neurons); a small box keeps it quick
WIDE = "2-48-48-1"
BOX = (0, 0.25, 0, 0.25)


def _no_engine_data(net: Network) -> None:
    leaked = [
        k
        for k, v in vars(net).items()
        if k.startswith("_exactnet") or type(v).__module__.startswith("exactnet.regions")
    ]
    assert leaked == []


def _small_net(seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    return Network.from_arrays(
        [rng.standard_normal((6, 2)), rng.standard_normal((5, 6)), rng.standard_normal((1, 5))],
        [rng.standard_normal(6), rng.standard_normal(5), rng.standard_normal(1)],
    )


def test_engines_keep_no_data_in_the_network_object():
    net = _small_net()
    before = dict(vars(net))
    segment_regions(net, [-1, -1], [1, 1])
    segment_regions(net, [-1, -1], [1, 1], exact=True)
    rng = np.random.default_rng(1)
    starts, ends = rng.uniform(-1, 1, (40, 2)), rng.uniform(-1, 1, (40, 2))
    segment_regions_batch(net, starts, ends)
    segment_regions_batch(net, starts, ends, exact=True)  # the compiled exact 1-D kernel (>= 32 segments)
    fast = partition(net)
    assert fast.num_pieces >= 1 and fast.edges is not None  # the certified same-map test ran
    partition(net, exact=True)
    wide = benchmark_net(WIDE, 0)
    assert wide.num_neurons >= COMPILED_EXACT_MIN_NEURONS
    wide_before = dict(vars(wide))
    partition(wide, BOX, exact=True)
    assert partition(wide, BOX).num_pieces >= 1
    _no_engine_data(net)
    _no_engine_data(wide)
    # cached_property values of the network itself (neurons, ...) may appear; nothing else
    assert set(vars(net)) - set(before) <= {"neurons", "float_is_exact"}
    assert set(vars(wide)) - set(wide_before) <= {"neurons", "float_is_exact"}
    assert cached_kinds(net) == {"float", "exact"}
    assert cached_kinds(wide) == {"float", "exact"}


def test_cache_is_freed_with_the_network():
    net = _small_net(2)
    rng = np.random.default_rng(3)
    segment_regions_batch(net, rng.uniform(-1, 1, (40, 2)), rng.uniform(-1, 1, (40, 2)), exact=True)
    assert partition(net).num_regions >= 1
    key = id(net)
    assert key in _flat._CACHE and cached_kinds(net) == {"float", "exact"}
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None
    assert key not in _flat._CACHE


def test_engine_data_is_built_once_and_rejects_unknown_kinds():
    net = _small_net(4)
    flat = engine_data(net, "float")
    assert engine_data(net, "float") is flat
    assert engine_data(net, "exact") is engine_data(net, "exact")
    with pytest.raises(ValueError, match="kind"):
        engine_data(net, "other")  # type: ignore[call-overload]


def test_one_float_flattening():
    rng = np.random.default_rng(6)
    net = Network(
        [
            Layer(rng.standard_normal((6, 3)), rng.standard_normal(6), [0, 1, 0, 0.5, 0, 1]),
            Layer(rng.standard_normal((4, 6)), rng.standard_normal(4), Fraction(1, 10)),
            Layer([[Fraction(1, 3)] * 4], [Fraction(2, 7)]),
        ]
    )
    flat = FlatNetwork.of(net)
    assert flat.dims.tolist() == list(net.widths)
    assert flat.num_neurons == net.num_neurons and flat.nwords == 1 and flat.n_out == 1
    for l, layer in enumerate(net.layers):
        w0, w1 = flat.w_off[l], flat.w_off[l + 1]
        u0, u1 = flat.u_off[l], flat.u_off[l + 1]
        assert np.array_equal(flat.weights[w0:w1].reshape(layer.weight.shape), layer.weight)
        assert np.array_equal(flat.wt[w0:w1].reshape(layer.weight.T.shape), layer.weight.T)
        assert np.array_equal(flat.bias[u0:u1], layer.bias)
        assert np.array_equal(flat.slope[u0:u1], layer.negative_slope)
        assert np.array_equal(flat.is_neuron[u0:u1], layer.is_neuron)
        assert np.array_equal(flat.rowabs[u0:u1], np.abs(layer.weight).sum(axis=1))
    bits = flat.neuron_bit[flat.neuron_bit >= 0]
    assert bits.tolist() == list(range(net.num_neurons))
    assert list(zip(flat.bit_layer.tolist(), flat.bit_unit.tolist())) == list(net.neurons)
    for arr in (flat.dims, flat.w_off, flat.weights, flat.wt, flat.neuron_bit, flat.gammas):
        assert arr.flags.c_contiguous


def test_pattern_encodings_round_trip():
    rng = np.random.default_rng(7)
    for n in (0, 1, 7, 8, 63, 64, 65, 130):
        pat = rng.random(n) < 0.5
        bits = sum(1 << k for k in range(n) if pat[k])
        assert np.array_equal(unpack_int(bits, n), pat) and unpack_int(bits, n).dtype == bool
        assert np.array_equal(unpack_bytes(pack(pat), n), pat)
        assert pack(pat) == np.packbits(pat, bitorder="little").tobytes()
        nwords = max(1, (n + 63) // 64)
        words = int_to_words(bits, nwords)
        assert words.dtype == np.uint64 and words_to_int(words) == bits
        assert np.array_equal(unpack_words(words, n), pat)
        rows = np.stack([words, int_to_words(~bits & ((1 << n) - 1), nwords)])
        assert np.array_equal(unpack_words(rows, n), np.stack([pat, ~pat]))
    assert unpack_int(0b1011, 3).tolist() == [True, True, False]  # bits from n on are ignored


@pytest.fixture
def no_python_exact_engine(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the Python exact 2-D engine ran")

    monkeypatch.setattr(plane_compute, "exact_plane", refuse)


def test_compiled_exact_kernel_honours_max_regions(no_python_exact_engine):
    net = benchmark_net(WIDE, 0)
    assert net.num_neurons >= COMPILED_EXACT_MIN_NEURONS
    full = partition(net, BOX, exact=True)  # the compiled kernel (the Python engine refuses)
    n = full.num_regions
    assert n > 4
    cap = n // 3
    with pytest.raises(RegionLimitError) as info:
        partition(net, BOX, exact=True, max_regions=cap)
    assert info.value.max_regions == cap and info.value.count > cap
    capped = partition(net, BOX, exact=True, max_regions=n)  # the cap is not reached
    assert capped.num_regions == n
    assert capped.num_patterns == full.num_patterns and capped.num_pieces == full.num_pieces
    for a, b in zip(full.regions, capped.regions):
        assert a.vertices == b.vertices and np.array_equal(a.pattern, b.pattern)
        assert a.intercept == b.intercept and a.gradient == b.gradient
    with pytest.raises(RegionLimitError) as info:
        partition(net, BOX, exact=True, max_regions=n - 1)
    assert info.value.count == n


def test_compiled_exact_kernel_cap_directly():
    from exactnet.regions.plane._exact_kernel import run_plane_exact
    from exactnet.regions.plane.domain import _domain_integers, parse_domain

    net = benchmark_net(WIDE, 1)
    hv, lines = _domain_integers(parse_domain(BOX))
    ints = Plane.identity().integers()
    n = len(run_plane_exact(net, *ints, hv, lines))
    with pytest.raises(RegionLimitError) as info:
        run_plane_exact(net, *ints, hv, lines, max_regions=1)
    assert info.value.count == 2 and info.value.max_regions == 1
    assert len(run_plane_exact(net, *ints, hv, lines, max_regions=10**30)) == n


@pytest.mark.parametrize("domain_dim", [1, 2, 3])
def test_the_region_graph_is_a_plain_networkx_graph(domain_dim):
    """``Regions.graph`` (written straight into networkx's dicts) equals the graph built
    with networkx's own add_nodes_from/add_edges_from, and stays a working graph."""
    import networkx as nx

    import exactnet
    from exactnet import Box, Segment

    net = benchmark_net({1: "2-8-8-1", 2: "2-16-16-1", 3: "3-6-6-1"}[domain_dim], 0)
    domain = Segment((-1, -1), (1, 1)) if domain_dim == 1 else Box(-1, 1)
    res = exactnet.regions(net, domain)
    G = res.graph
    H = nx.Graph()
    H.add_nodes_from((r.index, {"pattern": r.pattern}) for r in res.regions)
    H.add_edges_from((a, b, {"neurons": nr, "same_map": s}) for (a, b, nr), s in zip(res.edges, res.same_map))
    assert sorted(G.nodes) == sorted(H.nodes) == list(range(res.num_regions))
    assert G.adj == H.adj  # neighbours and edge attributes
    assert G.number_of_edges() == len(res.edges) > 0
    for r in res.regions:
        data = G.nodes[r.index]
        assert data["pattern"] is r.pattern and data["vertices"] is r.vertices
    assert nx.is_connected(G)
    assert G[res.edges[0][0]][res.edges[0][1]] is G[res.edges[0][1]][res.edges[0][0]]  # one dict per edge
    G.add_edge(0, res.num_regions, neurons=())  # a working graph: networkx's own methods on it
    assert G.number_of_nodes() == res.num_regions + 1 and nx.has_path(G, res.num_regions, res.num_regions - 1)
