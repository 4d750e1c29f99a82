"""The n-D engine scaled out (exactnet.regions.space.tiles): a box cut into tiles, one job per
tile through an executor (none, a process pool, a real dask.distributed cluster), stitched
into exactly the single-process result: patterns, edges with their labels, counts, exact
vertices, facets, volumes and decision boundary; hyperplanes lying on tile planes; caps."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction

import numpy as np
import pytest

import exactnet
from exactnet import Box, Network, RegionLimitError
from exactnet.regions.result import Regions
from exactnet.regions.space.tiles import MAX_TILES, space_tiled, tile_box


def random_net(widths, seed=0, bias=0.5, integer=False):
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for a, b in zip(widths[:-1], widths[1:]):
        if integer:  # small integers: hyperplanes through tile planes, corners and each other
            Ws.append(rng.integers(-2, 3, size=(b, a)).astype(float))
            bs.append(rng.integers(-1, 2, size=b).astype(float))
        else:
            Ws.append(rng.normal(size=(b, a)) / np.sqrt(a))
            bs.append(rng.normal(size=b) * bias)
    return Network.from_arrays(Ws, bs)


def key(p) -> bytes:
    return np.packbits(np.asarray(p, dtype=bool)).tobytes()


def box(n, lo=-1, hi=1):
    return (Fraction(lo),) * n, (Fraction(hi),) * n


def tiled(net, tiles=2, executor=None, exact=False, max_regions=None, lo=-1, hi=1):
    a, b = box(net.input_dim, lo, hi)
    return Regions(
        space_tiled(net, a, b, tiles=tiles, executor=executor, exact=exact, max_regions=max_regions), network=net
    )


def single(net, exact, lo=-1, hi=1):
    """The single-process n-D engine (also for 1- and 2-input networks)."""
    from exactnet.regions.api import _space

    return _space(net, Box(lo, hi), exact, None, False)


def assert_same(res: Regions, ref: Regions, geometry: bool = True):
    pats = [key(r.pattern) for r in res.regions]
    ref_pats = [key(r.pattern) for r in ref.regions]
    assert len(set(pats)) == len(pats) == res.num_regions
    assert set(pats) == set(ref_pats)
    edges = {(frozenset((pats[a], pats[b])), labels) for a, b, labels in res.edges}
    ref_edges = {(frozenset((ref_pats[a], ref_pats[b])), labels) for a, b, labels in ref.edges}
    assert edges == ref_edges
    assert all(a < b for a, b, _ in res.edges) and res.edges == sorted(res.edges)
    assert (res.num_regions, res.num_pieces, res.num_patterns) == (ref.num_regions, ref.num_pieces, ref.num_patterns)
    same = {frozenset((pats[a], pats[b])): s for (a, b, _), s in zip(res.edges, res.same_map)}
    ref_same = {frozenset((ref_pats[a], ref_pats[b])): s for (a, b, _), s in zip(ref.edges, ref.same_map)}
    assert same == ref_same
    if not geometry:
        return
    mine = {key(r.pattern): r for r in res.regions}
    for r in ref.regions:
        t = mine[key(r.pattern)]
        assert (t.intercept, t.gradient) == (r.intercept, r.gradient)
        if res.exact:
            assert set(t.vertices) == set(r.vertices)
            assert set(t.facets) == set(r.facets)
            assert t.measure == r.measure
            assert t.interior_point == r.interior_point
        else:
            assert t.measure == pytest.approx(r.measure, rel=1e-9, abs=1e-12)
            assert len(t.vertices) == len(r.vertices)
    if res.exact:
        vol = 1
        for a, b in zip(res.domain["lo"], res.domain["hi"]):
            vol *= Fraction(b) - Fraction(a)
        assert sum(r.measure for r in res.regions) == vol


@pytest.mark.parametrize("exact", [False, True])
def test_in_process_equals_single_process(exact):
    net = random_net((3, 8, 8, 1), seed=0)
    ref = exactnet.regions(net, Box(-1, 1), exact=exact)
    res = tiled(net, tiles=2, exact=exact)  # 8 tiles
    assert_same(res, ref)
    assert res.domain == ref.domain
    # other cuts: 3 x 2 and 5 slabs along x0 only
    assert_same(tiled(net, tiles=(3, 2), exact=exact), ref)
    assert_same(tiled(net, tiles=(5,), exact=exact), ref)


def test_decision_boundary_and_json_match():
    net = random_net((3, 6, 6, 2), seed=4)
    ref = exactnet.regions(net, Box(-1, 1), exact=True)
    res = tiled(net, tiles=2, exact=True)
    assert_same(res, ref)

    def pieces(r):
        pats = [key(x.pattern) for x in r.regions]
        return {(pats[i], pair, frozenset(pts)) for i, pair, pts in r.decision_boundary}

    # pieces on a facet shared by two regions are listed once, under either region
    got, want = pieces(res), pieces(ref)
    assert {(p, f) for _, p, f in got} == {(p, f) for _, p, f in want}
    back = Regions.from_json(res.to_json())
    assert (back.num_regions, back.num_pieces, back.num_patterns) == (ref.num_regions, ref.num_pieces, ref.num_patterns)


def _on_tile_planes_net():
    """Neurons on the tile planes of Box(-1, 1) cut in 4 (x = -1/2, 0, 1/2): x0 = 0 (twice,
    once negated), x1 = 1/2, x2 = -1/2, a second-layer neuron relu(x0) - relu(-x0) = x0 on
    x0 = 0, and generic ones."""
    rng = np.random.default_rng(7)
    W1 = np.vstack([[[1.0, 0, 0], [-2.0, 0, 0], [0, 1, 0], [0, 0, 2], [1, 0, 0]], rng.normal(size=(3, 3))])
    b1 = np.concatenate([[0.0, 0, -0.5, 1, 0], rng.normal(size=3) * 0.3])
    W2 = np.vstack([[[1.0, 0, 0, 0, 0, 0, 0, 0], [1.0, 0.5, 0, 0, 0, 0, 0, 0]], rng.normal(size=(3, 8))])
    b2 = np.concatenate([[0.0, 0.0], rng.normal(size=3) * 0.3])
    W3 = rng.normal(size=(1, 5))
    return Network.from_arrays([W1, W2, W3], [b1, b2, np.zeros(1)])


@pytest.mark.parametrize("exact", [False, True])
def test_hyperplanes_on_tile_planes(exact):
    net = _on_tile_planes_net()
    ref = exactnet.regions(net, Box(-1, 1), exact=exact)
    # the planes x0 = 0 etc. are region boundaries: edges labelled with those neurons
    assert any((0, 0) in labels for _, _, labels in ref.edges)
    for tiles in (2, 4):
        res = tiled(net, tiles=tiles, exact=exact)
        assert_same(res, ref)
        # no tile is cut by x0 = 0: its edges come from pieces meeting across the tile plane
        assert any((0, 0) in labels and (1, 0) in labels for _, _, labels in res.edges)
        assert res._src._across_planes(set())


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_degenerate_integer_nets(n, exact):
    for seed in range(3):
        net = random_net((n, 5, 4, 1), seed=seed, integer=True)
        ref = single(net, exact)
        assert_same(tiled(net, tiles=2, exact=exact), ref)
        # planes at x0 = -1, 0, 1 and x1 = 0 (integer hyperplanes lie on them)
        assert_same(tiled(net, tiles=(4, 2)[:n], exact=exact, lo=-2, hi=2), single(net, exact, lo=-2, hi=2))


@pytest.mark.parametrize("exact", [False, True])
def test_process_pool(exact):
    net = random_net((3, 8, 8, 1), seed=1)
    ref = exactnet.regions(net, Box(-1, 1), exact=exact)
    with ProcessPoolExecutor(2) as ex:
        assert_same(tiled(net, tiles=2, executor=ex, exact=exact), ref)
        assert_same(
            tiled(_on_tile_planes_net(), tiles=2, executor=ex, exact=exact), single(_on_tile_planes_net(), exact)
        )
        with pytest.raises(RegionLimitError) as info:
            tiled(net, tiles=2, executor=ex, exact=exact, max_regions=3)
        assert info.value.max_regions == 3 and info.value.count > 3


def test_dask_distributed_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    net = random_net((3, 8, 8, 1), seed=2)
    refs = {exact: exactnet.regions(net, Box(-1, 1), exact=exact) for exact in (False, True)}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        for exact, ref in refs.items():
            assert_same(tiled(net, tiles=2, executor=executor, exact=exact), ref)
        with pytest.raises(RegionLimitError):
            tiled(net, tiles=2, executor=executor, max_regions=3)


@pytest.mark.parametrize("exact", [False, True])
def test_max_regions_in_tiles_and_stitched(exact):
    net = random_net((3, 8, 8, 1), seed=0)
    full = exactnet.regions(net, Box(-1, 1), exact=exact).num_regions
    assert tiled(net, exact=exact, max_regions=full).num_regions == full
    # a cap below a tile's count: the tile's engine raises
    with pytest.raises(RegionLimitError) as info:
        tiled(net, exact=exact, max_regions=2)
    assert info.value.max_regions == 2 and 2 < info.value.count <= full
    # a cap every tile meets but the whole box does not: the stitched count raises
    src = space_tiled(net, *box(3), tiles=2, exact=exact)
    largest = max(len(r["cells"]) for r in src.results)
    assert largest < full
    with pytest.raises(RegionLimitError) as info:
        tiled(net, exact=exact, max_regions=largest)
    assert (info.value.count, info.value.max_regions) == (full, largest)


def test_tile_layout_and_arguments():
    lo, hi = box(8)
    # an int splits the leading axes while the count stays within MAX_TILES
    assert len(tile_box(lo, hi, 2)) == 64 == MAX_TILES
    assert {idx[6:] for idx, _, _ in tile_box(lo, hi, 2)} == {(0, 0)}
    assert len(tile_box(lo, hi, 4)) == 64
    assert len(tile_box(lo, hi, 100)) == 100  # one axis at least
    assert len(tile_box(box(3)[0], box(3)[1], 3)) == 27
    tiles = tile_box((Fraction(0), Fraction(0)), (Fraction(1), Fraction(3)), (2, 3))
    assert len(tiles) == 6
    assert tiles[-1] == ((1, 2), (Fraction(1, 2), Fraction(2)), (Fraction(1), Fraction(3)))
    net = random_net((3, 4, 1))
    with pytest.raises(ValueError, match="tiles"):
        space_tiled(net, *box(3), tiles=0)
    with pytest.raises(ValueError, match="tiles"):
        space_tiled(net, *box(3), tiles=(2, 2, 2, 2))
    with pytest.raises(ValueError, match="lo\\[1\\]"):
        space_tiled(net, (Fraction(-1), Fraction(1), Fraction(-1)), box(3)[1])
    with pytest.raises(ValueError, match="3 entries"):
        space_tiled(net, *box(2))
    with pytest.raises(ValueError, match="max_regions"):
        space_tiled(net, *box(3), max_regions=0)


def test_exactnet_regions_takes_an_executor_in_n_d():
    """The public entry point: exactnet.regions(net, Box, executor=...) equals the single
    process result; a Polytope with an executor is refused with a clear error."""
    from concurrent.futures import ThreadPoolExecutor

    import exactnet
    from exactnet import Box, Network, Polytope

    rng = np.random.default_rng(4)
    net = Network.from_arrays([rng.normal(size=(6, 3)), rng.normal(size=(1, 6))], [rng.normal(size=6), np.zeros(1)])
    single = exactnet.regions(net, Box(-1, 1), exact=True)
    with ThreadPoolExecutor(2) as ex:
        tiled = exactnet.regions(net, Box(-1, 1), exact=True, executor=ex, tiles=2)
        assert (tiled.num_regions, tiled.num_pieces, tiled.num_patterns) == (
            single.num_regions,
            single.num_pieces,
            single.num_patterns,
        )
        assert {r.pattern.tobytes() for r in tiled.regions} == {r.pattern.tobytes() for r in single.regions}
        with pytest.raises(ValueError, match="executor"):
            exactnet.regions(net, Polytope(np.vstack([np.eye(3), -np.eye(3)]), np.ones(6)), executor=ex)
