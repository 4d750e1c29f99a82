"""The affinity score: reproduction targets of affinity.md, the exact W2 against POT, the
Gaussian map against POT's Bures-Wasserstein map, Ledoit-Wolf against scikit-learn, and
the properties of the score (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.covariance import LedoitWolf

import exactnet
from exactnet.probe import affinity_score, gaussian_ot_map, ledoit_wolf_covariance, wasserstein2_squared

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _emd2(P, Q):
    n = len(P)
    w = np.full(n, 1.0 / n)
    return ot.emd2(w, w, ot.dist(P, Q), numItermax=10**7)


def _reference_score(X, Y, normalization="sqrt", ridge_mode="absolute"):
    """Independent pipeline with POT: unbiased covariances + lambda I (the reference's
    lambda = 1e-6, or 1e-6 times the larger mean variance of the pair), POT's Gaussian map
    (row convention x -> x A + b), ot.emd2 on the squared distances."""
    d = X.shape[1]
    Cx, Cy = np.cov(X.T).reshape(d, d), np.cov(Y.T).reshape(d, d)
    lam = 1e-6 if ridge_mode == "absolute" else 1e-6 * max(np.trace(Cx), np.trace(Cy)) / d
    Sx = Cx + lam * np.eye(d)
    Sy = Cy + lam * np.eye(d)
    A, b = ot.gaussian.bures_wasserstein_mapping(X.mean(0), Y.mean(0), Sx, Sy)
    w2 = _emd2(X @ A + b, Y)
    ratio = w2 / (2 * np.trace(Sy))
    return 1 - math.sqrt(ratio) if normalization == "sqrt" else 1 - ratio


# --------------------------------------------------------------------------- targets
@pytest.mark.parametrize("k, expected", [(1, 1.0), (3, 0.711), (5, 0.577), (11, 0.399), (21, 0.289), (41, 0.205)])
def test_reproduction_polynomials(k, expected):
    X = np.linspace(-1, 1, 1000).reshape(-1, 1)
    assert affinity_score(X, X**k) == pytest.approx(expected, abs=1e-3)


def test_reproduction_activations_seed_987():
    np.random.seed(987)
    n = 1000
    sqrt_scores, squared_scores = [], []
    for f in (lambda x: np.maximum(x, 0), np.tanh, lambda x: 1 / (1 + np.exp(-x))):
        x = np.random.normal(-1, 2, (n, 1)).astype(np.float32)
        y = f(x)
        sqrt_scores.append(affinity_score(x, y))
        squared_scores.append(affinity_score(torch.from_numpy(x), torch.from_numpy(y), normalization="squared"))
    assert sqrt_scores == pytest.approx([0.4874, 0.6698, 0.7749], abs=1e-3)
    assert squared_scores == pytest.approx([0.74, 0.89, 0.95], abs=5e-3)


def test_top_level_export():
    assert exactnet.affinity_score is affinity_score


# --------------------------------------------------------------------------- exact W2
@SETTINGS
@given(st.data())
def test_w2_equals_pot_emd2(data):
    n = data.draw(st.integers(1, 40))
    d = data.draw(st.integers(1, 4))
    ties = data.draw(st.booleans())
    elements = st.integers(-2, 2).map(float) if ties else st.floats(-10, 10, allow_nan=False, width=64)
    P = data.draw(arrays(np.float64, (n, d), elements=elements))
    Q = data.draw(arrays(np.float64, (n, d), elements=elements))
    assert wasserstein2_squared(P, Q) == pytest.approx(_emd2(P, Q), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("d", [1, 2, 16])
def test_w2_equals_pot_emd2_larger(d):
    rng = np.random.default_rng(d)
    P = rng.standard_normal((500, d))
    Q = np.maximum(P @ rng.standard_normal((d, d)), 0) + 0.1 * rng.standard_normal((500, d))
    assert abs(wasserstein2_squared(P, Q) - _emd2(P, Q)) <= 1e-9
    # torch tensors give the same number
    assert wasserstein2_squared(torch.from_numpy(P), torch.from_numpy(Q)) == pytest.approx(_emd2(P, Q), abs=1e-9)


def test_w2_of_a_permutation_is_zero_and_symmetric():
    rng = np.random.default_rng(3)
    P = rng.standard_normal((300, 5))
    assert wasserstein2_squared(P, P[rng.permutation(300)]) == 0.0
    Q = rng.standard_normal((300, 5))
    assert wasserstein2_squared(P, Q) == pytest.approx(wasserstein2_squared(Q, P), rel=1e-12)


# --------------------------------------------------------------------------- the map
def test_gaussian_map_equals_pot_and_solves_the_equation():
    rng = np.random.default_rng(0)
    for d in (1, 3, 20):
        B = rng.standard_normal((d, d))
        Sx = B @ B.T + 1e-3 * np.eye(d)
        C = rng.standard_normal((d, d + 2))
        Sy = C @ C.T
        A = gaussian_ot_map(Sx, Sy)
        assert isinstance(A, np.ndarray)
        At = gaussian_ot_map(torch.from_numpy(Sx), torch.from_numpy(Sy))
        assert isinstance(At, torch.Tensor) and np.allclose(At.numpy(), A, rtol=1e-12, atol=1e-12)
        assert np.allclose(A, A.T)
        assert np.linalg.eigvalsh(A).min() > 0
        assert np.allclose(A @ Sx @ A, Sy, atol=1e-8 * np.abs(Sy).max())
        A_pot, _ = ot.gaussian.bures_wasserstein_mapping(np.zeros(d), np.zeros(d), Sx, Sy)
        assert np.allclose(A, A_pot, rtol=1e-6, atol=1e-8)


def test_gaussian_map_falls_back_when_cholesky_fails():
    # positive definite but with an eigenvalue below Cholesky's rounding reach
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    Sx = Q @ np.diag([1e8, 1.0, 1.0, 1e-9]) @ Q.T
    Sy = np.eye(4)
    A = gaussian_ot_map(Sx, Sy)
    assert np.allclose(A, A.T)
    assert np.isfinite(A).all()


def test_ledoit_wolf_equals_scikit_learn():
    rng = np.random.default_rng(2)
    for n, d in ((50, 80), (200, 10), (30, 1)):
        Z = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 3
        S, c = ledoit_wolf_covariance(torch.from_numpy(Z), return_shrinkage=True)
        lw = LedoitWolf().fit(Z)
        assert np.allclose(S.numpy(), lw.covariance_, rtol=1e-10, atol=1e-12)
        assert c == pytest.approx(lw.shrinkage_, rel=1e-10, abs=1e-14)


# --------------------------------------------------------------------------- the score
@pytest.mark.parametrize("ridge_mode", ["absolute", "relative"])
@pytest.mark.parametrize("normalization", ["sqrt", "squared"])
def test_score_equals_an_independent_pot_pipeline(normalization, ridge_mode):
    rng = np.random.default_rng(5)
    for d in (1, 2, 8):
        X = rng.normal(-0.5, 1.5, (400, d)) @ rng.standard_normal((d, d))
        for f in (lambda z: np.maximum(z, 0), np.tanh, np.abs):
            ours = affinity_score(X, f(X), normalization=normalization, ridge_mode=ridge_mode)
            assert ours == pytest.approx(_reference_score(X, f(X), normalization, ridge_mode), abs=1e-9)


def _samples(data, max_n=40, max_d=4):
    d = data.draw(st.integers(1, max_d))
    n = data.draw(st.integers(d + 2, max_n))
    X = data.draw(arrays(np.float64, (n, d), elements=st.floats(-5, 5, allow_nan=False, width=64)))
    return X


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "abs": np.abs,
    "square": np.square,
    "step": lambda z: (z > 0).astype(float),
    "leaky": lambda z: np.where(z > 0, z, 0.1 * z),
}


@SETTINGS
@given(st.data())
def test_score_between_zero_and_one(data):
    X = _samples(data)
    Y = ACTIVATIONS[data.draw(st.sampled_from(sorted(ACTIVATIONS)))](X)
    for normalization in ("sqrt", "squared"):
        s = affinity_score(X, Y, normalization=normalization)
        assert -1e-9 <= s <= 1 + 1e-12


@SETTINGS
@given(st.data())
def test_score_one_for_psd_affine_images(data):
    X = _samples(data)
    d = X.shape[1]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    B = rng.standard_normal((d, d))
    P = B @ B.T + 0.5 * np.eye(d)  # symmetric positive definite
    b = rng.standard_normal(d)
    Y = X @ P + b
    if np.linalg.matrix_rank(np.cov(X.T).reshape(d, d)) < d or np.cov(X.T).reshape(d, d).trace() < 1e-3:
        return  # degenerate samples: the ridge dominates
    assert affinity_score(X, Y, ridge=0.0) == pytest.approx(1.0, abs=1e-6)
    assert affinity_score(X, Y) == pytest.approx(1.0, abs=1e-2)


def test_negation_of_a_symmetric_input_scores_one():
    x = np.linspace(-3, 3, 501).reshape(-1, 1)
    assert affinity_score(x, -x) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    half = rng.standard_normal((200, 1))
    sym = np.vstack([half, -half])
    assert affinity_score(sym, -sym) == pytest.approx(1.0, abs=1e-12)


@SETTINGS
@given(st.data())
def test_only_the_marginals_enter(data):
    X = _samples(data)
    Y = ACTIVATIONS[data.draw(st.sampled_from(sorted(ACTIVATIONS)))](X)
    perm = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(len(Y))
    assert affinity_score(X, Y[perm]) == pytest.approx(affinity_score(X, Y), abs=1e-9)


@SETTINGS
@given(st.data())
def test_invariant_to_positive_scaling_and_shifts(data):
    X = _samples(data)
    Y = ACTIVATIONS[data.draw(st.sampled_from(sorted(ACTIVATIONS)))](X)
    s = data.draw(st.floats(0.25, 4))
    c = data.draw(st.floats(-3, 3))
    base = (
        affinity_score(X, Y, ridge=0.0)
        if np.linalg.matrix_rank(np.cov(X.T).reshape(X.shape[1], -1)) == X.shape[1]
        else None
    )
    if base is None or np.cov(Y.T).reshape(Y.shape[1], -1).trace() < 1e-6:
        return
    assert affinity_score(s * X + c, s * Y + c, ridge=0.0) == pytest.approx(base, abs=1e-6)


def test_not_invariant_to_general_linear_maps():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 2))
    Y = np.maximum(X, 0)
    shear = np.array([[1.0, 3.0], [0.0, 1.0]])
    assert abs(affinity_score(X @ shear, Y @ shear) - affinity_score(X, Y)) > 1e-2


@pytest.mark.slow
def test_dimension_bias_of_independent_gaussians():
    """affinity.md: two independent samples of N(0, I), n = 1024, score about 0.97 at d = 1
    and about 0.15 at d = 128 (mean of 5 draws; tolerances cover the draw-to-draw spread)."""
    rng = np.random.default_rng(11)
    s1 = np.mean([affinity_score(rng.standard_normal((1024, 1)), rng.standard_normal((1024, 1))) for _ in range(5)])
    s128 = np.mean(
        [affinity_score(rng.standard_normal((1024, 128)), rng.standard_normal((1024, 128))) for _ in range(2)]
    )
    assert 0.93 <= s1 <= 0.99
    assert 0.12 <= s128 <= 0.19


def test_constant_output_scores_one():
    X = np.random.default_rng(0).standard_normal((50, 3))
    res = affinity_score(X, np.full((50, 3), 2.5), return_details=True)
    assert res.score == 1.0 and res.constant_output


def test_details():
    X = np.random.default_rng(0).standard_normal((100, 3))
    res = affinity_score(X, np.maximum(X, 0), return_details=True)
    assert float(res) == res.score == affinity_score(X, np.maximum(X, 0))
    assert (res.n, res.d) == (100, 3) and res.shrinkage is None
    assert res.score == pytest.approx(1 - math.sqrt(res.w2_squared / (2 * res.trace_cov_y)), abs=1e-15)


# --------------------------------------------------------------------------- d >= n
def test_d_at_least_n_refused_without_shrinkage():
    X = np.random.default_rng(0).standard_normal((20, 20))
    with pytest.raises(ValueError, match="shrinkage='ledoit-wolf'"):
        affinity_score(X, np.maximum(X, 0))


def test_shrinkage_equals_the_reference_with_scikit_learn():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 50)) @ rng.standard_normal((50, 50))
    Y = np.maximum(X, 0)
    res = affinity_score(X, Y, shrinkage="ledoit-wolf", ridge_mode="absolute", return_details=True)
    Sx = LedoitWolf().fit(X).covariance_ + 1e-6 * np.eye(50)
    Sy = LedoitWolf().fit(Y).covariance_ + 1e-6 * np.eye(50)
    A, b = ot.gaussian.bures_wasserstein_mapping(X.mean(0), Y.mean(0), Sx, Sy)
    expected = 1 - math.sqrt(_emd2(X @ A + b, Y) / (2 * np.trace(Sy)))
    assert res.score == pytest.approx(expected, abs=1e-7)
    assert res.shrinkage[1] == pytest.approx(LedoitWolf().fit(Y).shrinkage_)
    assert affinity_score(X, Y, shrinkage=True, ridge_mode="absolute") == res.score


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "X, Y, kwargs, match",
    [
        (np.zeros(10), np.zeros(10), {}, "reshape"),
        (np.zeros((10, 2)), np.zeros((9, 2)), {}, "same samples"),
        (np.zeros((1, 1)), np.zeros((1, 1)), {}, "at least 2"),
        (np.array([[np.nan], [1.0], [2.0]]), np.zeros((3, 1)), {}, "NaN"),
        (np.zeros((5, 1)), np.zeros((5, 1)), {"normalization": "cube"}, "normalization"),
        (np.zeros((5, 1)), np.zeros((5, 1)), {"shrinkage": "oas"}, "shrinkage"),
        (np.zeros((5, 1)), np.zeros((5, 1)), {"ridge": -1.0}, "ridge"),
        (np.zeros((5, 2, 2)), np.zeros((5, 2, 2)), {}, "n_samples, n_features"),
    ],
)
def test_errors_name_the_argument(X, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        affinity_score(X, Y, **kwargs)


def test_non_numeric_input():
    with pytest.raises(TypeError, match="X"):
        affinity_score([["a", "b"], ["c", "d"]], np.zeros((2, 2)))


@pytest.mark.parametrize("ridge_mode", ["relative", "absolute"])
@pytest.mark.parametrize("f", [lambda z: max(z, 0), lambda z: z * z, lambda z: -z, lambda z: 1 if z > 0 else 0])
def test_one_dimensional_score_against_a_50_digit_computation(f, ridge_mode):
    """d = 1 in high precision, independently: the map is x -> sqrt(s_y / s_x)(x - m_x) + m_y
    and W2 matches sorted samples (mpmath, 50 digits); the ridge is 1e-6 (absolute) or 1e-6
    times the larger variance (relative)."""
    import mpmath

    mpmath.mp.dps = 50
    xs = [-3, -1, -1, 0, 2, 5, 7, -4, 1, 3]
    ys = [f(x) for x in xs]
    n = len(xs)
    mx, my = mpmath.mpf(sum(xs)) / n, mpmath.mpf(sum(ys)) / n
    vx = sum((mpmath.mpf(x) - mx) ** 2 for x in xs) / (n - 1)
    vy = sum((mpmath.mpf(y) - my) ** 2 for y in ys) / (n - 1)
    lam = mpmath.mpf("1e-6") * (1 if ridge_mode == "absolute" else max(vx, vy))
    sx, sy = vx + lam, vy + lam
    a = mpmath.sqrt(sy / sx)
    tx = sorted(a * (x - mx) + my for x in xs)
    w2 = sum((t - y) ** 2 for t, y in zip(tx, sorted(mpmath.mpf(y) for y in ys))) / n
    expected = 1 - mpmath.sqrt(w2 / (2 * sy))
    X = np.array(xs, float).reshape(-1, 1)
    Y = np.array(ys, float).reshape(-1, 1)
    assert affinity_score(X, Y, ridge_mode=ridge_mode) == pytest.approx(float(expected), abs=1e-12)


def test_torch_code_path_equals_the_numpy_one(monkeypatch):
    """The torch formulas (what CUDA tensors run) on the CPU give the numpy path's scores."""
    import exactnet.probe.gaussian as aff
    from exactnet.probe import _backend

    rng = np.random.default_rng(8)
    X = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6))
    cases = [
        (X, np.maximum(X, 0), {}),
        (X, np.tanh(X), {"normalization": "squared"}),
        (X[:, :1], np.maximum(X[:, :1], 0), {}),
        (X, np.full_like(X, 3.0), {}),
        (X[:20, :], np.maximum(X[:20, :], 0), {"shrinkage": "ledoit-wolf"}),
        (rng.standard_normal((30, 40)), rng.standard_normal((30, 40)), {"shrinkage": True}),
    ]
    expected = [affinity_score(A, B, return_details=True, **kw) for A, B, kw in cases]
    w2 = wasserstein2_squared(X, np.maximum(X, 0))
    for (A, B, kw), exp in zip(cases, expected):
        got = affinity_score(torch.from_numpy(A), torch.from_numpy(B), backend="torch", return_details=True, **kw)
        assert got.score == pytest.approx(exp.score, abs=1e-12)
        assert got.w2_squared == pytest.approx(exp.w2_squared, rel=1e-12, abs=1e-12)
        assert got.constant_output == exp.constant_output and got.shrinkage == pytest.approx(exp.shrinkage)
    assert wasserstein2_squared(
        torch.from_numpy(X), torch.from_numpy(np.maximum(X, 0)), backend="torch"
    ) == pytest.approx(w2, rel=1e-12)
    # the eigendecomposition fallback (taken when Cholesky fails), in both code paths
    B = rng.standard_normal((5, 5))
    Sx, Sy = B @ B.T + 0.1 * np.eye(5), np.cov(rng.standard_normal((5, 9)))
    A_chol = aff.gaussian_ot_map(Sx, Sy)
    monkeypatch.setattr(_backend, "cholesky_lower", lambda S: None)
    for A in (aff.gaussian_ot_map(Sx, Sy), aff.gaussian_ot_map(Sx, Sy, backend="torch")):
        assert np.allclose(A, A_chol, rtol=1e-8, atol=1e-10)
        assert np.allclose(A @ Sx @ A, Sy, atol=1e-9)
    with pytest.raises(ValueError, match="NaN"):
        affinity_score(torch.tensor([[float("nan")], [1.0], [2.0]]), torch.zeros(3, 1))


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_map_is_accurate_when_cov_x_is_ill_conditioned(backend, monkeypatch):
    """Found by test_score_one_for_psd_affine_images: one input direction with variance
    5e-12 (condition number 1e10) and no ridge. Taking every root from the eigenvalues of
    M = L^T Sy L (squared condition) spoiled A by 0.8 and the score by 1.3e-5; the small
    roots now come from the singular values of a factor of M."""
    import exactnet.probe.gaussian as aff
    from exactnet.probe import _backend

    X = np.zeros((21, 3))
    X[0, 0], X[7, 1], X[20, 2] = 1e-5, 1.0, 1.0
    rng = np.random.default_rng(0)
    B = rng.standard_normal((3, 3))
    P = B @ B.T + 0.5 * np.eye(3)  # symmetric positive definite: T(x) = P x is the map
    Y = X @ P + rng.standard_normal(3)
    Sx, Sy = np.cov(X.T), np.cov(Y.T)
    assert np.linalg.cond(Sx) > 1e9
    A = np.asarray(aff.gaussian_ot_map(Sx, Sy, backend=backend))
    assert np.abs(A - P).max() < 1e-5
    assert affinity_score(X, Y, ridge=0.0, backend=backend) == pytest.approx(1.0, abs=1e-9)
    # the same through the eigendecomposition form of the map and of the factor of Sy
    monkeypatch.setattr(_backend, "cholesky_lower", lambda S: None)
    assert np.abs(np.asarray(aff.gaussian_ot_map(Sx, Sy, backend=backend)) - P).max() < 1e-5


def test_accurate_roots_only_touch_the_small_eigenvalues():
    import exactnet.probe.gaussian as aff

    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    Sx = (Q * np.array([1.0, 2.0, 3.0, 1e-9, 2e-9, 1.0])) @ Q.T
    Sy = np.cov(rng.standard_normal((6, 40))) + 1e-3 * np.eye(6)
    L = np.linalg.cholesky(Sx)
    w, V = np.linalg.eigh(L.T @ Sy @ L)
    s, V2 = aff._accurate_roots(w, V, Sy, L)
    large = w >= aff.SMALL_EIGENVALUE * w.max()
    assert (~large).sum() == 2
    assert np.array_equal(s[large], np.sqrt(w[large])) and np.array_equal(V2[:, large], V[:, large])
    # the recomputed roots solve the equation: A Sx A = Sy
    W = np.linalg.solve(L.T, V2)
    A = (W * s) @ W.T
    assert np.allclose(A @ Sx @ A, Sy, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_score_one_for_affine_images_of_ill_conditioned_inputs(data):
    """Inputs whose covariance has a condition number of 1e4 to 1e12 (no ridge): a PSD
    affine image still scores 1 to 2e-9 (under 1e-10 measured; up to 1e-7 before the small
    roots were taken from the unsquared factor)."""
    d = data.draw(st.integers(2, 7))
    n = data.draw(st.integers(d + 2, 60))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    log_cond = data.draw(st.floats(4, 12))
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (rng.standard_normal((n, d)) * 10 ** (-log_cond * rng.random(d) / 2)) @ rotation.T
    B = rng.standard_normal((d, d))
    Y = X @ (B @ B.T + 0.5 * np.eye(d)) + rng.standard_normal(d)
    assert affinity_score(X, Y, ridge=0.0) == pytest.approx(1.0, abs=2e-9)


# --------------------------------------------------------------------------- units of the data
def _relu_pair(seed=0, n=400, d=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    return X, np.maximum(X, 0)


def test_small_scale_activations_are_not_constant():
    """Activations with a standard deviation of 1e-3 or less used to score exactly 1
    ("constant output") because the absolute ridge 1e-6 dwarfed their variance."""
    X, Y = _relu_pair()
    base = affinity_score(X, Y)
    assert base < 0.9
    for s in (1e-3, 1e-6, 1e-12):
        res = affinity_score(s * X, s * Y, return_details=True)
        assert not res.constant_output and res.score == pytest.approx(base, rel=1e-9)
    # the reference's absolute ridge is still there, on request, with its behaviour
    assert affinity_score(1e-4 * X, 1e-4 * Y, ridge_mode="absolute", return_details=True).constant_output
    assert affinity_score(X, Y, ridge_mode="absolute") == pytest.approx(base, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(-12, 12),
    st.floats(1, 10),
    st.floats(-1e3, 1e3),
    st.sampled_from(sorted(ACTIVATIONS)),
    st.integers(0, 2**31),
)
def test_invariant_under_scaling_from_1e_minus_12_to_1e12(exponent, mantissa, shift, activation, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 3))
    Y = ACTIVATIONS[activation](X)
    s = mantissa * 10.0**exponent
    base = affinity_score(X, Y, return_details=True)
    got = affinity_score(s * X + shift * s, s * Y - shift * s, return_details=True)
    assert got.constant_output == base.constant_output
    assert got.score == pytest.approx(base.score, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("s", [1e-300, 1e-200, 1e100, 1e154, 1e200, 1e300])
def test_extreme_magnitudes_give_the_unit_score(s):
    """Data at 1e100-1e300 overflowed its covariances ("Eigenvalues did not converge"); it is
    now rescaled by a power of two first, exactly, in both ridge modes and on the torch path."""
    X, Y = _relu_pair(1)
    for mode in ("relative", "absolute"):
        res = affinity_score(s * X, s * Y, ridge_mode=mode, return_details=True)
        if mode == "relative":
            assert res.score == pytest.approx(affinity_score(X, Y), rel=1e-9)
        elif s < 1:  # the reference: a variance below the absolute ridge is a constant output
            assert res.constant_output and res.score == 1.0
        else:  # the absolute ridge is negligible at this scale
            assert res.score == pytest.approx(affinity_score(X, Y, ridge=0.0), rel=1e-9)
    res = affinity_score(s * X, s * Y, return_details=True)
    unit = affinity_score(X, Y, return_details=True)
    if s <= 1e150:  # W2^2 and tr Sigma_Y in the data's units, when float64 holds them
        assert res.w2_squared == pytest.approx(unit.w2_squared * s * s, rel=1e-9)
        assert res.trace_cov_y == pytest.approx(unit.trace_cov_y * s * s, rel=1e-9)
    else:
        assert res.w2_squared == res.trace_cov_y == math.inf
    assert wasserstein2_squared(1e150 * X, 1e150 * Y) == pytest.approx(1e300 * wasserstein2_squared(X, Y), rel=1e-12)


def test_extreme_magnitudes_on_the_torch_path():
    X, Y = _relu_pair(2)
    base = affinity_score(X, Y)
    for s in (1e-300, 1e-3, 1e200, 1e300):
        got = affinity_score(torch.from_numpy(s * X), torch.from_numpy(s * Y), backend="torch")
        assert got == pytest.approx(base, rel=1e-9)


def test_rounding_noise_is_a_constant_output():
    """Identical rows whose mean is not representable: centring leaves rounding noise,
    which the relative ridge must not score as a spread."""
    X = np.full((9, 1), -1.0655227571e-94)
    res = affinity_score(X, np.abs(X), return_details=True)
    assert res.constant_output and res.score == 1.0
    X = np.full((7, 3), 0.1) + np.array([0.0, 1e-17, 2e-17])
    assert affinity_score(X, 3 * X, return_details=True).constant_output


def test_ridge_mode_is_validated_and_reported():
    X, Y = _relu_pair()
    with pytest.raises(ValueError, match="ridge_mode"):
        affinity_score(X, Y, ridge_mode="scaled")
    res = affinity_score(X, Y, return_details=True)
    d = X.shape[1]
    larger = max(np.trace(np.cov(X.T)), np.trace(np.cov(Y.T))) / d
    assert res.ridge_mode == "relative" and res.ridge == pytest.approx(1e-6 * larger, rel=1e-12)
    assert affinity_score(X, Y, ridge_mode="absolute", return_details=True).ridge == 1e-6
