"""Companions of N1 (exactnet.probe.companions): N2, N3 and GDV against brute-force oracles
written from the definitions (dense distances, small n), on random data and on data with
ties and duplicates; N2 and N3 against pymfe and ECoL's iris values where the conventions
agree, and the documented differences where they do not; the synthetic oracles; the linear
probe; the errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from exactnet.probe import companions
from exactnet.probe.companions import gdv, linear_probe, n2, n3

METRICS = ["euclidean", "gower"]


# ------------------------------------------------------------------------- oracles


def distances(X, metric):
    """The n x n distances from the definitions (module docstring)."""
    if metric == "euclidean":
        return cdist(X, X, "euclidean")
    n, d = X.shape
    rng = X.max(axis=0) - X.min(axis=0)
    D = np.zeros((n, n))
    for f in range(d):
        if rng[f] > 0:
            D += np.abs(X[:, f, None] - X[None, :, f]) / rng[f]
    return D / d


def oracle_neighbours(X, y, metric):
    """(intra, extra, nn): each point's distance to its nearest point of its own class
    (other than itself) and of another class, and its nearest point (smallest index on ties)."""
    D = distances(X, metric)
    np.fill_diagonal(D, np.inf)
    same = y[:, None] == y[None, :]
    intra = np.where(same, D, np.inf).min(axis=1)
    extra = np.where(~same, D, np.inf).min(axis=1)
    nn = D.argmin(axis=1)  # the first minimum: the smallest index
    return intra, extra, nn


def oracle_n2(X, y, metric, average="sums"):
    intra, extra, _ = oracle_neighbours(X, y, metric)
    if average == "sums":
        a, b = intra.sum(), extra.sum()
        return a / (a + b) if a + b else math.nan
    with np.errstate(invalid="ignore"):
        return float(np.mean(intra / (intra + extra)))


def oracle_n3(X, y, metric):
    _, _, nn = oracle_neighbours(X, y, metric)
    return float(np.mean(y[nn] != y))


def oracle_gdv(X, y, all_dimensions=False):
    """Schilling et al.'s GDV from its formula; ``all_dimensions``: as the authors' group's
    routine cmpGDV, a constant feature's z-score is 0 and D counts every feature."""
    sd = X.std(axis=0)
    keep = sd > 0 if not all_dimensions else np.ones(X.shape[1], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        Z = (X[:, keep] - X[:, keep].mean(axis=0)) / (2 * sd[keep])
    Z[~np.isfinite(Z)] = 0.0
    classes = np.unique(y)
    intra = []
    for c in classes:
        A = Z[y == c]
        intra.append(cdist(A, A).sum() / (len(A) * (len(A) - 1)))
    inter = [cdist(Z[y == a], Z[y == b]).mean() for i, a in enumerate(classes) for b in classes[i + 1 :]]
    return (np.mean(intra) - np.mean(inter)) / math.sqrt(Z.shape[1])


# ---------------------------------------------------------------------- strategies


@st.composite
def labelled(draw, ties=False, min_class=1, max_n=40):
    """(X, y): random normal features, or (ties) small integers {0, 2, 4}: many equal
    distances and duplicates, and ranges 2 or 4 so that Gower's terms are exact."""
    k = draw(st.integers(2, 3))
    n = draw(st.integers(max(2, k * min_class), max_n))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = np.resize(np.arange(k), n)  # every class has at least min_class points
    rng.shuffle(y)
    X = 2.0 * rng.integers(0, 3, (n, d)) if ties else rng.standard_normal((n, d))
    if draw(st.booleans()):
        X = np.c_[X, np.full(n, 7.0)]  # a constant feature
    return X, y


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows and difference-form chunks of a few pairs, whatever n."""
    monkeypatch.setattr(companions, "_BLOCK_ENTRIES", 64)


# ---------------------------------------------------------------- N2, N3 oracles

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(data=st.one_of(labelled(min_class=2), labelled(ties=True, min_class=2)), metric=st.sampled_from(METRICS))
def test_n2_matches_the_brute_force_oracle(data, metric):
    X, y = data
    for average in ("sums", "points"):
        want = oracle_n2(X, y, metric, average)
        got = n2(X, y, metric=metric, average=average)
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


@FEW
@given(data=st.one_of(labelled(), labelled(ties=True)), metric=st.sampled_from(METRICS))
def test_n3_matches_the_brute_force_oracle_with_its_tie_rule(data, metric):
    X, y = data
    assert n3(X, y, metric=metric) == oracle_n3(X, y, metric)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("ties", [False, True])
def test_many_blocks_and_tiles_match_the_oracle(metric, ties, small_blocks):
    """Row blocks not aligned with the classes, chunked difference forms, several Gower
    tiles and threads: n = 300."""
    rng = np.random.default_rng(3)
    n = 300
    X = 2.0 * rng.integers(0, 3, (n, 3)) if ties else rng.standard_normal((n, 6))
    y = rng.integers(0, 4, n)
    intra, extra, nn = oracle_neighbours(X, y, metric)
    same_idx, same_key, other_idx, other_key = companions._nearest(X, y, metric)
    d = X.shape[1]
    assert np.allclose(companions._key_to_distance(same_key, metric, d), intra, rtol=1e-12, atol=0)
    assert np.allclose(companions._key_to_distance(other_key, metric, d), extra, rtol=1e-12, atol=0)
    D = distances(X, metric)
    assert np.allclose(D[np.arange(n), same_idx], intra, rtol=1e-12, atol=0)
    assert n3(X, y, metric=metric) == float(np.mean(y[nn] != y))
    assert n2(X, y, metric=metric) == pytest.approx(oracle_n2(X, y, metric), rel=1e-12)


def test_the_tie_rule_picks_the_smallest_index():
    # point 0 has two nearest points at distance 1: point 1 (another class), point 2 (its own)
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [4.0, 4.0], [4.0, 3.0]])  # equal ranges: Gower ties too
    y = np.array([0, 1, 0, 1, 0])
    swapped = np.array([0, 0, 1, 1, 0])  # the same geometry, labels of 1 and 2 exchanged
    for metric in METRICS:
        assert n3(X, y, metric=metric) == oracle_n3(X, y, metric) == 0.8
        assert n3(X, swapped, metric=metric) == oracle_n3(X, swapped, metric) == 0.6


def test_an_identical_copy_is_a_neighbour_at_distance_zero():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((10, 3)) * 1e3 + 1e6  # large offset: rounding would show
    X = np.r_[base, base[:1]]
    y = np.r_[np.arange(10) % 2, [1]]  # the copy of point 0 has the other label
    for metric in METRICS:
        same_idx, same_key, other_idx, other_key = companions._nearest(X, y, metric)
        assert other_idx[0] == 10 and other_key[0] == 0.0
        assert other_idx[10] == 0 and other_key[10] == 0.0
        assert n3(X, y, metric=metric) == oracle_n3(X, y, metric)
    # all copies in their own class: every intra distance is 0, so N2 = 0, N3 = 0
    Y = np.r_[base, base]
    z = np.r_[np.arange(10) % 2, np.arange(10) % 2]
    for metric in METRICS:
        assert n2(Y, z, metric=metric) == 0.0
        assert n3(Y, z, metric=metric) == 0.0


def test_n2_is_nan_when_both_sums_vanish():
    X = np.array([[0.0], [0.0], [1.0], [1.0]] * 2)
    y = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    assert math.isnan(n2(X, y))
    assert n3(X, y) == oracle_n3(X, y, "euclidean")


def test_no_ties_no_dependence_on_the_order_of_the_rows():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((120, 5)), rng.integers(0, 3, 120)
    p = rng.permutation(120)
    for metric in METRICS:
        assert n3(X[p], y[p], metric=metric) == n3(X, y, metric=metric)
        assert n2(X[p], y[p], metric=metric) == pytest.approx(n2(X, y, metric=metric), rel=1e-12)
    assert gdv(X[p], y[p]) == pytest.approx(gdv(X, y), rel=1e-12)


# ----------------------------------------------------------------- pymfe and ECoL


def pymfe_n2_n3(X, y, **method_args):
    """pymfe 0.4.4's N2 and N3 (mean over points); ``method_args`` for both."""
    from pymfe.mfe import MFE

    model = MFE(groups=["complexity"], features=["n2", "n3"], summary=["mean"], suppress_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # precomp_groups=None: otherwise a precomputed Gower matrix overrides the metric
        model.fit(X, y, precomp_groups=None, suppress_warnings=True)
        names, values = model.extract(suppress_warnings=True, n2=method_args, n3=method_args)
    out = dict(zip(names, values))
    return out["n2.mean"], out["n3.mean"]


def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def random_data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((80, 4)), rng.integers(0, 3, 80)


@pytest.mark.parametrize("dataset", [iris, random_data])
def test_euclidean_matches_pymfe_on_min_max_scaled_features(dataset):
    """pymfe rescales each feature to [0, 1]; its metric="euclidean" fails with the
    installed scipy (cdist gets p=2), metric="minkowski", p=2 is the Euclidean distance;
    its N2 is the mean over points (average="points")."""
    from sklearn.preprocessing import MinMaxScaler

    X, y = dataset()
    pm_n2, pm_n3 = pymfe_n2_n3(X, y, metric="minkowski", p=2)
    S = MinMaxScaler().fit_transform(X)
    assert abs(n2(S, y, average="points") - pm_n2) < 1e-12
    assert n3(S, y) == pm_n3


@pytest.mark.parametrize("dataset", [iris, random_data])
def test_gower_matches_pymfe_up_to_its_float32_distances(dataset):
    """pymfe's default metric is Gower (the ``gower`` package), with float32 distances."""
    X, y = dataset()
    pm_n2, pm_n3 = pymfe_n2_n3(X, y)
    assert abs(n2(X, y, metric="gower", average="points") - pm_n2) < 1e-6
    assert n3(X, y, metric="gower") == pm_n3


def test_gower_distances_are_those_of_pymfes_gower_package():
    """pymfe's Gower distances (the ``gower`` package on min-max-scaled features, float32):
    a constant feature adds 0 and still counts in d, as here. (N2 and N3 do not depend on
    that divisor; the distances do.)"""
    import gower
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(6)
    X = np.c_[rng.standard_normal((50, 3)), np.full(50, 5.0)]
    y = rng.integers(0, 2, 50)
    D32 = gower.gower_matrix(MinMaxScaler().fit_transform(X))
    same_idx, same_key, other_idx, other_key = companions._nearest(X, y, "gower")
    rows = np.arange(50)
    assert np.allclose(same_key / 4, D32[rows, same_idx], rtol=1e-6, atol=0)
    assert np.allclose(other_key / 4, D32[rows, other_idx], rtol=1e-6, atol=0)
    assert np.allclose(distances(X, "gower"), D32, rtol=1e-6, atol=1e-7)


def test_iris_values_of_ecol():
    """ECoL 0.3.0's tests (tests/testthat/test_neighborhood.R): N2 (mean over points) =
    0.1981444, N3 = 0.06 on iris, Gower distance."""
    X, y = iris()
    assert n2(X, y, metric="gower", average="points") == pytest.approx(0.1981444, abs=5e-8)
    assert n3(X, y, metric="gower") == 0.06


def test_default_n2_is_the_ratio_of_sums_not_pymfes_mean_over_points():
    X, y = iris()
    pm_n2, _ = pymfe_n2_n3(X, y)
    ours = n2(X, y, metric="gower")
    intra, extra, _ = oracle_neighbours(X, y, "gower")
    assert ours == pytest.approx(intra.sum() / (intra.sum() + extra.sum()), rel=1e-12)
    assert abs(ours - pm_n2) > 1e-3  # 0.1579 against 0.1981: a different summary
    assert n2(X, y, metric="gower", average="points") == pytest.approx(pm_n2, abs=1e-6)


# ------------------------------------------------------------------------- GDV


@FEW
@given(data=st.one_of(labelled(min_class=2), labelled(ties=True, min_class=2)))
def test_gdv_matches_its_formula(data):
    X, y = data
    if not (X.max(axis=0) > X.min(axis=0)).any():
        with pytest.raises(ValueError, match=r"\bX\b"):
            gdv(X, y)
        return
    assert gdv(X, y) == pytest.approx(oracle_gdv(X, y), rel=1e-10, abs=1e-13)


def test_gdv_in_blocks_matches_its_formula(small_blocks):
    rng = np.random.default_rng(2)
    X = np.r_[rng.standard_normal((150, 7)), 2.0 * rng.integers(0, 3, (100, 7))]
    X = np.r_[X, X[:20]]  # duplicates
    y = rng.integers(0, 5, len(X))
    assert gdv(X, y) == pytest.approx(oracle_gdv(X, y), rel=1e-10)


def test_gdv_against_the_reference_routine_convention():
    """cmpGDV keeps constant features (z-score 0) in D: its value is ours times
    sqrt(D_used / D_all); without constant features they are the same."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((60, 3)), rng.integers(0, 3, 60)
    assert gdv(X, y) == pytest.approx(oracle_gdv(X, y, all_dimensions=True), rel=1e-12)
    Xc = np.c_[X, np.ones(60), np.zeros(60)]
    assert gdv(Xc, y) == pytest.approx(gdv(X, y), rel=1e-12)
    assert oracle_gdv(Xc, y, all_dimensions=True) == pytest.approx(gdv(X, y) * math.sqrt(3 / 5), rel=1e-12)


# ------------------------------------------------------------ synthetic oracles


def two_clusters(rng, n=200, d=5, gap=100.0):
    X = np.r_[rng.standard_normal((n // 2, d)), rng.standard_normal((n - n // 2, d)) + gap]
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    return X, y


def test_far_apart_classes():
    X, y = two_clusters(np.random.default_rng(0))
    for metric in METRICS:
        assert n3(X, y, metric=metric) == 0.0
        assert n2(X, y, metric=metric) < 0.05
    assert gdv(X, y) < -0.9
    collapsed = np.r_[np.zeros((5, 3)), np.ones((5, 3))]
    assert gdv(collapsed, np.r_[np.zeros(5), np.ones(5)]) == pytest.approx(-1.0, rel=1e-12)


def test_classes_from_one_distribution():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((2000, 5)), rng.integers(0, 2, 2000)
    assert abs(gdv(X, y)) < 0.01
    assert abs(linear_probe(X, y) - 0.5) < 0.06
    assert abs(n3(X, y) - 0.5) < 0.06


def test_linear_probe_on_linearly_separable_data():
    rng = np.random.default_rng(2)
    X, w = rng.standard_normal((400, 10)), rng.standard_normal(10)
    y = (X @ w > 0).astype(int)
    X += np.where(y == 1, 1.0, -1.0)[:, None] * w / np.linalg.norm(w)  # a margin of 2 around x.w = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converges without warnings
        assert linear_probe(X, y) == 1.0
        assert linear_probe(X, np.where(y == 1, "yes", "no"), test_size=0.5, seed=3) == 1.0
    far, labels = two_clusters(rng, n=60)
    assert linear_probe(far, labels) == 1.0


def test_linear_probe_split_is_stratified_and_seeded():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((100, 4)), rng.integers(0, 3, 100)
    assert linear_probe(X, y, seed=1) == linear_probe(X, y, seed=1)
    acc = linear_probe(X, y, test_size=0.2)
    assert acc * 20 == pytest.approx(round(acc * 20))  # 20 test points


# ---------------------------------------------------------------------- errors

ALL = {
    "n2": lambda X, y: n2(X, y),
    "n3": lambda X, y: n3(X, y),
    "gdv": gdv,
    "linear_probe": lambda X, y: linear_probe(X, y),
}


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_named(name):
    f = ALL[name]
    X, y = np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bX\b.*NaN"):
        f(bad, y)
    with pytest.raises(ValueError, match=r"\by\b.*one class"):
        f(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"\bX\b.*at least 2"):
        f(X[:1], y[:1])
    with pytest.raises(ValueError, match=r"\by\b.*rows? of X"):
        f(X, y[:9])
    with pytest.raises(ValueError, match=r"\bX\b.*shape"):
        f(X[:, 0], y)


@pytest.mark.parametrize("name", ["n2", "gdv", "linear_probe"])
def test_a_class_of_one_point_is_named(name):
    X = np.random.default_rng(0).standard_normal((10, 2))
    y = np.r_[np.zeros(9), [1]]
    with pytest.raises(ValueError, match=r"\by\b.*at least 2 points in every class.*class 1\.0 has 1"):
        ALL[name](X, y)


def test_n3_allows_a_class_of_one_point():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    assert n3(X, np.array([0, 0, 0, 1])) == 0.25


def test_bad_options_are_named():
    X, y = np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2
    for f in (n2, n3):
        with pytest.raises(ValueError, match=r"\bmetric\b.*'cosine'"):
            f(X, y, metric="cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\baverage\b"):
        n2(X, y, average="median")  # type: ignore[arg-type]
    for size in (0.0, 1.0, -0.1, 2):
        with pytest.raises(ValueError, match=r"\btest_size\b"):
            linear_probe(X, y, test_size=size)
    with pytest.raises(ValueError, match=r"\btest_size\b.*each split"):
        linear_probe(np.r_[X, X], np.r_[y, y + 2], test_size=0.1)  # 2 test points, 4 classes
    with pytest.raises(ValueError, match=r"\bX\b.*non-constant"):
        gdv(np.ones((10, 3)), y)


def test_the_module_imports_light():
    code = (
        "import sys, json\nimport exactnet.probe.companions\n"
        "print(json.dumps([m for m in ('torch', 'matplotlib', 'sklearn', 'numba', 'scipy', 'hypothesis')"
        " if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_one_neighbour_search_serves_n2_and_n3():
    from exactnet.probe.companions import nearest_neighbours

    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 5))
    y = rng.integers(0, 3, 120)
    for metric in ("euclidean", "gower"):
        nb = nearest_neighbours(X, y, metric=metric)
        assert n2(X, y, metric=metric, neighbours=nb) == n2(X, y, metric=metric)
        assert n3(X, y, metric=metric, neighbours=nb) == n3(X, y, metric=metric)
    with pytest.raises(ValueError, match="search again with nearest_neighbours"):
        n3(X[:60], y[:60], neighbours=nb)
    with pytest.raises(ValueError, match="search again"):
        n2(X, y, metric="euclidean", neighbours=nb)  # nb was searched with gower
