"""N1 (exactnet.probe.separability): the minimum spanning tree against a brute-force
Kruskal over exact distances with the same tie rule, the duplicate rule, ECoL's iris value,
the synthetic oracles, pairwise mode and the errors."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet.probe.separability import mst_edges, n1


def exact_distance(a, b, metric, ranges):
    if metric == "euclidean":
        return sum(((Fraction(float(u)) - Fraction(float(v))) ** 2 for u, v in zip(a, b)), Fraction(0))
    terms = [abs(Fraction(float(u)) - Fraction(float(v))) / r for u, v, r in zip(a, b, ranges) if r != 0]
    return sum(terms, Fraction(0)) / len(a)


def kruskal(X, metric):
    """The oracle: every pair's exact distance, edges sorted by (distance, i, j), union-find."""
    n = len(X)
    ranges = [Fraction(float(X[:, f].max())) - Fraction(float(X[:, f].min())) for f in range(X.shape[1])]
    edges = sorted((exact_distance(X[i], X[j], metric, ranges), i, j) for i, j in combinations(range(n), 2))
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    tree = set()
    for _, i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            tree.add((i, j))
    return tree


def oracle_n1(X, y, metric):
    tree = kruskal(X, metric)
    boundary = set()
    for i, j in tree:
        if y[i] != y[j]:
            boundary |= {i, j}
    for i in range(len(X)):  # identical points with mixed labels: all on the boundary
        same = [j for j in range(len(X)) if (X[j] == X[i]).all()]
        if len({y[j] for j in same}) > 1:
            boundary.add(i)
    return Fraction(len(boundary), len(X))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(2, 14), p=st.integers(1, 3), metric=st.sampled_from(["euclidean", "gower"]))
def test_tree_and_n1_equal_brute_force_kruskal(data, n, p, metric):
    """Small integer features: many equal distances and repeated points, so the tie rule
    and the duplicate rule decide; and float features with tiny offsets (near-ties the
    float bound leaves to the exact comparison)."""
    kind = data.draw(st.sampled_from(["ints", "near"]))

    def rows(lo, hi):
        row = st.lists(st.integers(lo, hi), min_size=p, max_size=p)
        return np.array(data.draw(st.lists(row, min_size=n, max_size=n)))

    if kind == "ints":
        X = rows(-2, 2)
    else:
        shift = np.array(data.draw(st.lists(st.sampled_from([0.0, 1e-15, 2e-16]), min_size=n, max_size=n)))
        X = rows(0, 3) / 3 + shift[:, None]
    X = X.astype(float)
    y = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    got = {tuple(e) for e in mst_edges(X, metric).tolist()}
    assert got == kruskal(X, metric)
    if len(set(y.tolist())) > 1:
        res = n1(X, y, metric=metric)
        assert res.exact_value == oracle_n1(X, y, metric)
        assert res.value == float(res.exact_value) and res.n == n and res.d == p


def test_iris_reproduces_ecol():
    """ECoL's iris value (Gower, one MST): N1 = 16/150 (../shared/spec/separability.md)."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    res = n1(X, y, metric="gower")
    assert (res.boundary, res.n, res.exact_value) == (16, 150, Fraction(16, 150))
    # raw Euclidean: 13 or 14 of 150 depending on the tie-break; ours gives one of them
    assert n1(X, y).boundary in (13, 14)


def test_separated_classes_and_permutations():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 5))
    B = rng.normal(size=(30, 5)) + 100.0  # a gap longer than every within-class edge
    X = np.vstack([A, B])
    y = np.array([0] * 40 + [1] * 30)
    res = n1(X, y)
    assert res.exact_value == Fraction(2, 70)  # the one bridge edge's two ends
    perm = rng.permutation(70)
    assert n1(X[perm], y[perm]).exact_value == res.exact_value  # no ties: order does not matter


def test_duplicates_with_mixed_labels_are_all_boundary():
    X = np.array([[0.0, 0.0]] * 3 + [[5.0, 5.0], [5.0, 6.0]])
    y = np.array([0, 0, 1, 2, 2])
    res = n1(X, y)
    # the three copies (mixed labels), and (5, 5), joined to them by the bridge; (5, 6)
    # meets only (5, 5), of its own label
    assert res.boundary == 4


def test_pairwise_mode():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    res = n1(X, y, metric="gower", multiclass="pairwise")
    M = res.pairwise
    assert M.shape == (3, 3) and np.isnan(np.diag(M)).all() and np.allclose(M, M.T, equal_nan=True)
    for a, b in combinations(range(3), 2):
        mask = (y == a) | (y == b)
        assert M[a, b] == n1(X[mask], y[mask], metric="gower").value
    assert res.value == pytest.approx(np.nanmean(M[np.triu_indices(3, 1)]))


@pytest.mark.parametrize(
    "X,y,match",
    [
        (np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1], "NaN"),
        (np.zeros((3, 2)), [1, 1, 1], "one class"),
        (np.zeros((1, 2)), [0], "at least 2"),
        (np.zeros((3, 2)), [0, 1], "one label per row"),
        (np.zeros(3), [0, 1, 0], "shape"),
    ],
)
def test_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        n1(X, y)
    with pytest.raises(ValueError, match="metric"):
        n1(np.eye(3), [0, 1, 0], metric="cosine")


def test_f1_reproduces_ecol_and_its_limits():
    from sklearn.datasets import load_iris

    from exactnet.probe.separability import f1

    X, y = load_iris(return_X_y=True)
    assert f1(X, y) == pytest.approx(0.05862828, abs=5e-9)  # ECoL's iris value
    # a feature constant within each class and different across them separates them: F1 = 0
    Xs = np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 1.5], [1.0, 0.5]])
    assert f1(Xs, [0, 0, 1, 1]) == 0.0
    # no feature separates anything (a constant one and one with equal class means): F1 = 1
    Xc = np.array([[3.0, 0.0], [3.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    assert f1(Xc, [0, 0, 1, 1]) == 1.0


def test_command_line(tmp_path, capsys):
    import json

    from sklearn.datasets import load_iris

    from exactnet.cli import main

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.npz"
    np.savez(path, X=X, y=y)
    assert main(["n1", str(path), "--metric", "gower", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n1_exact"], out["boundary"], out["n"], out["d"]) == ("8/75", 16, 150, 4)
    assert out["f1"] == pytest.approx(0.05862828, abs=5e-9)
    assert main(["n1", str(path), "--multiclass", "pairwise", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["pairwise"]) == 3
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=X, labels=y)
    with pytest.raises(SystemExit, match="arrays named X and y"):
        main(["n1", str(bad)])
    one = tmp_path / "one.npz"
    np.savez(one, X=X, y=np.zeros(150))
    with pytest.raises(SystemExit, match="one class"):
        main(["n1", str(one)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(2, 40),
    p=st.integers(1, 4),
    k=st.integers(1, 4),
    metric=st.sampled_from(["euclidean", "gower"]),
)
def test_short_lists_force_every_path_of_the_engine(data, n, p, k, metric):
    """Lists of 1 to 4 neighbours: components run out of listed edges, rows are recomputed
    against the points outside their component, and the tree is still Kruskal's.
    Degenerate sets too: all points equal, collinear points, a lattice with many ties."""
    from exactnet.probe._mst import minimum_spanning_tree

    kind = data.draw(st.sampled_from(["normal", "lattice", "collinear", "equal"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if kind == "normal":
        X = rng.standard_normal((n, p))
    elif kind == "lattice":
        X = rng.integers(-1, 2, (n, p)).astype(float)
    elif kind == "collinear":
        X = np.outer(rng.integers(0, 6, n), rng.standard_normal(p))
    else:
        X = np.ones((n, p))
    tree = minimum_spanning_tree(X, metric, k=k)
    assert {tuple(e) for e in tree.edges.tolist()} == kruskal(X, metric)
    assert len(tree.edges) == n - 1


def test_near_duplicates_beyond_float32_go_to_the_float64_pass():
    """Two clusters 2,000 apart of 30 points within 1e-9 of each other: the float32 products
    cannot tell a cluster's points apart, every row overflows its candidates, and the
    float64 pass decides."""
    from exactnet.probe._mst import minimum_spanning_tree

    rng = np.random.default_rng(3)
    X = np.repeat([[1e3] * 3, [-1e3] * 3], 30, axis=0) + 1e-9 * rng.standard_normal((60, 3))
    tree = minimum_spanning_tree(X, k=1)
    assert tree.stats["float64_rows"] > 0
    assert {tuple(e) for e in tree.edges.tolist()} == kruskal(X, "euclidean")


def test_larger_sets_against_scipy():
    """3,000 points without ties or duplicates (scipy's MST is then unambiguous), with the
    numpy and the torch (CPU) matrix products; both equal scipy's tree."""
    import torch
    from scipy.sparse.csgraph import minimum_spanning_tree as scipy_mst
    from scipy.spatial.distance import cdist

    from exactnet.probe._mst import minimum_spanning_tree

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((5, 16)) * 3
    X = centres[rng.integers(0, 5, 3000)] + rng.standard_normal((3000, 16))
    ref = scipy_mst(np.triu(cdist(X, X), 1)).tocoo()
    expected = np.array(sorted(zip(ref.row.tolist(), ref.col.tolist())))
    for device in (None, torch.device("cpu")):
        tree = minimum_spanning_tree(X, k=4, device=device)
        np.testing.assert_array_equal(tree.edges, expected)
        assert tree.weight == pytest.approx(ref.sum(), rel=1e-12)


def test_spread_outside_float64_range_is_refused():
    with pytest.raises(ValueError, match="rescale X"):
        n1(np.array([[0.0], [1e200]]), [0, 1])


def all_mst_boundary_counts(X, y, metric):
    """The oracle of the tie range: every spanning tree of the complete graph (subsets of
    n - 1 edges without a cycle), those of least exact weight, the N1 count of each. The
    minimum trees depend only on the order of the edge lengths, so the exact squared
    Euclidean distances serve as weights."""
    n = len(X)
    ranges = [Fraction(float(X[:, f].max())) - Fraction(float(X[:, f].min())) for f in range(X.shape[1])]
    pairs = list(combinations(range(n), 2))
    length = {(i, j): exact_distance(X[i], X[j], metric, ranges) for i, j in pairs}
    mixed = set()
    for i in range(n):
        same = [j for j in range(n) if (X[j] == X[i]).all()]
        if len({y[j] for j in same}) > 1:
            mixed.add(i)
    best, counts = None, set()
    for sub in combinations(pairs, n - 1):
        parent = list(range(n))

        def find(a, parent=parent):
            while parent[a] != a:
                a = parent[a]
            return a

        ok = True
        for i, j in sub:
            ri, rj = find(i), find(j)
            if ri == rj:
                ok = False
                break
            parent[ri] = rj
        if not ok:
            continue
        w = sum(length[e] for e in sub)
        if best is not None and w > best:
            continue
        if best is None or w < best:
            best, counts = w, set()
        counts.add(len(mixed | {v for i, j in sub if y[i] != y[j] for v in (i, j)}))
    return min(counts), max(counts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(3, 7), metric=st.sampled_from(["euclidean", "gower"]))
def test_tie_range_equals_every_minimum_tree(data, n, metric):
    """Points on a small lattice (ties and copies everywhere): the range equals the least
    and greatest N1 over every minimum spanning tree, found by brute force."""
    row = st.lists(st.integers(0, 2), min_size=2, max_size=2)
    X = np.array(data.draw(st.lists(row, min_size=n, max_size=n)), dtype=float)
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if len(set(y.tolist())) < 2:
        y[0] = 1 - y[1]
    res = n1(X, y, metric=metric, tie_range=True)
    assert res.range_exact
    low, high = all_mst_boundary_counts(X, y, metric)
    assert res.range == (Fraction(low, n), Fraction(high, n))
    assert res.range[0] <= res.exact_value <= res.range[1]


def test_tie_range_on_iris():
    """Raw Euclidean iris: 13/150 under one tie-break and 14/150 under another
    (../shared/spec/separability.md): the range holds both. Without ties it is one value."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    tenths = np.round(X * 10)  # the decimal values: their ties are exact (N1 is scale-free)
    res = n1(tenths, y, tie_range=True)
    assert res.range[0] <= Fraction(13, 150) and Fraction(14, 150) <= res.range[1]
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((300, 5))
    labels = rng.integers(0, 3, 300)
    plain = n1(Z, labels, tie_range=True)
    assert plain.range == (plain.exact_value, plain.exact_value) and plain.range_exact
    with pytest.raises(ValueError, match="multiclass='global'"):
        n1(Z, labels, multiclass="pairwise", tie_range=True)


def test_gower_n1_equals_pymfe():
    """pymfe's N1 (Gower distances, one tree) on iris (16/150) and on random data."""
    from pymfe.mfe import MFE
    from sklearn.datasets import load_iris

    def pymfe_n1(X, y):
        mfe = MFE(groups=["complexity"], features=["n1"], suppress_warnings=True)
        mfe.fit(X, y, suppress_warnings=True)
        names, values = mfe.extract(suppress_warnings=True)
        return values[names.index("n1")]

    rng = np.random.default_rng(5)
    for X, y in [load_iris(return_X_y=True), (rng.standard_normal((300, 7)), rng.integers(0, 3, 300))]:
        assert n1(X, y, metric="gower").value == pymfe_n1(X, y)
