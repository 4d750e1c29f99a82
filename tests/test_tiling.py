"""Tiled partitions through executors equal untiled ones."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import Network
from exactnet.builtin import benchmark_net
from exactnet.regions.plane import partition
from exactnet.regions.tiling import partition_tiled, tile_domain
from exactnet.strategies import relu_networks


def _key(p):
    return np.packbits(p, bitorder="little").tobytes()


def _graph(part):
    regs = part.regions
    return {(frozenset((_key(regs[a].pattern), _key(regs[b].pattern))), labels) for a, b, _, labels in part.edges}


def assert_same(tiled, whole):
    assert tiled.num_regions == whole.num_regions
    assert tiled.num_pieces == whole.num_pieces
    assert tiled.num_patterns == whole.num_patterns
    a = {_key(r.pattern): r for r in tiled.regions}
    b = {_key(r.pattern): r for r in whole.regions}
    assert a.keys() == b.keys()
    for k, r in a.items():
        if whole.exact:
            assert set(r.vertices) == set(b[k].vertices) and r.area == b[k].area
            assert r.intercept == b[k].intercept and r.gradient == b[k].gradient
        else:
            assert abs(r.area - b[k].area) <= 1e-9 * (1 + b[k].area)
    assert _graph(tiled) == _graph(whole)


def test_tiles_cover_the_domain():
    from exactnet.regions.plane import parse_domain
    from exactnet.regions.plane.region import area2

    for domain in (None, [(0, 0), (3, 0), (1, 2)]):
        tiles = tile_domain(domain, (3, 2))
        assert sum(area2(t) for t in tiles) == area2(parse_domain(domain))


@pytest.mark.parametrize("exact", [True, False])
def test_process_pool_equals_untiled(exact):
    net = benchmark_net("2-16-16-1", 0)
    with ProcessPoolExecutor(2) as ex:
        tiled = partition_tiled(net, tiles=(3, 2), executor=ex, exact=exact)
    assert_same(tiled, partition(net, exact=exact))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tiled_equals_untiled_random_and_degenerate(data):
    net = data.draw(relu_networks(input_dim=2, max_hidden_layers=2, max_width=5))
    tiles = data.draw(st.sampled_from([(1, 1), (2, 2), (3, 1), (2, 3), 4]))
    exact = data.draw(st.booleans())
    domain = data.draw(st.sampled_from([None, [(-2, -1), (2, -1), (0, 3)]]))
    with ThreadPoolExecutor(2) as ex:
        tiled = partition_tiled(net, domain, tiles=tiles, executor=ex, exact=exact)
    assert_same(tiled, partition(net, domain, exact=exact))


def test_tile_borders_through_degenerate_points():
    # lines through the origin, where a 2x2 grid puts its tile corner
    angles = np.arange(6) * np.pi / 6
    W = np.stack([np.cos(angles), np.sin(angles)], 1)
    net = Network.from_arrays([W, np.ones((1, 6))], [np.zeros(6), [0.0]])
    for exact in (True, False):
        assert_same(partition_tiled(net, tiles=(2, 2), exact=exact), partition(net, exact=exact))


def test_float_stitching_decides_near_coincident_lines_and_maps_exactly():
    """Float coordinates cannot tell nearly coincident lines or nearly equal maps apart
    (found by hypothesis): across tile borders, a side that two neurons with different
    exact lines seem to share, and maps that differ by 3e-279, are decided in rationals."""
    from fractions import Fraction

    from exactnet import Layer

    tiny = Fraction(886824045606075, 2**975)  # 2.8e-279
    zero = [0, 0, 0, 0, 0]
    maps_differ = Network(
        [
            Layer([[0, 0], [0, 0], [0, 0], [0, 0], [0, 1]], zero),
            Layer([[0, 0, 0, 0, tiny], zero], [0, 0]),
            Layer([[1, 0]], [0], 1),
        ]
    )
    skew = Fraction(7924293648516521, 2**748)  # 5.4e-210: the line x + skew y = 0 next to x = 0
    lines_differ = Network(
        [
            Layer([[0, 0], [0, 0], [1, skew], [0, 0], [1, 0]], zero),
            Layer([zero, zero], [0, 0]),
            Layer([[0, 0]], [0], 1),
        ]
    )
    for net in (maps_differ, lines_differ):
        whole = partition(net, exact=True)
        tiled = partition_tiled(net, tiles=(2, 2))
        assert (tiled.num_regions, tiled.num_pieces) == (whole.num_regions, whole.num_pieces)
        assert _graph(tiled) == _graph(whole)
