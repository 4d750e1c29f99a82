"""The affinity score (non-linearity signature) of Bouniot, Redko et al.

Bouniot, Redko, Mallasto, Laclau, Struckmeier, Arndt, Lamprier, Habrard, "Understanding
deep neural networks through the lens of their non-linearity", arXiv 2310.11439 (CVPR
2025); the definition follows what the authors' code computes (AffScoreDeep,
``src/aff_core.py``, ``rho_aff``), as pinned down in ../shared/spec/affinity.md.

Samples are rows here (``X``, ``Y`` of shape (n_samples, n_features), the convention of
scikit-learn and POT); the spec and the paper write them as columns.

For the input ``X`` of an activation and its output ``Y`` (both n x d):

1. ``m_X, m_Y`` the means, ``Sigma_X = cov(X) + lambda I``, ``Sigma_Y = cov(Y) + lambda I``
   (unbiased covariance, or Ledoit-Wolf shrinkage before the ridge). The reference adds
   the absolute ridge ``lambda = 1e-6``, which makes the score depend on the data's units
   (activations with a standard deviation of 1e-3 or less all score 1, "constant").
   exactnet's default (our formulation) makes the ridge relative to the data:
   ``lambda = 1e-6 s^2`` with ``s^2 = max(tr cov(X), tr cov(Y)) / d``, the larger mean
   variance of the pair, which is the reference's ridge when that variance is 1 and
   leaves the score invariant under ``(X, Y) -> (a X + b, a Y + c)`` for every ``a > 0``.
   ``ridge_mode="absolute"`` gives the reference's behaviour.
2. ``T(x) = A (x - m_X) + m_Y`` with ``A`` the symmetric positive definite solution of
   ``A Sigma_X A = Sigma_Y``, the optimal-transport map between the Gaussians
   ``N(m_X, Sigma_X)`` and ``N(m_Y, Sigma_Y)`` (Knott and Smith 1984; Peyre and Cuturi,
   "Computational Optimal Transport", Remark 2.31):
   ``A = Sigma_X^{-1/2} (Sigma_X^{1/2} Sigma_Y Sigma_X^{1/2})^{1/2} Sigma_X^{-1/2}``.
3. ``W2^2``: the exact squared 2-Wasserstein distance between the empirical measures of
   the rows of ``T(X)`` and of ``Y`` (uniform weights, squared Euclidean cost): a linear
   assignment problem, sort-and-match in 1-D.
4. ``rho_aff = 1 - sqrt(W2^2 / (2 tr Sigma_Y))`` (current definition), or
   ``1 - W2^2 / (2 tr Sigma_Y)`` (``normalization="squared"``, the paper's first version).
   A constant output (``tr Sigma_Y <= 2 lambda d``, i.e. ``tr cov(Y) <= lambda d``) scores
   1; with the relative ridge that is ``tr cov(Y) <= 1e-6 tr cov(X)``, or a spread of
   ``Y`` within the rounding error of centring it (``tr cov(Y) / d <= ((n + 1) u
   max|y|)^2``, ``u = 2^-53``).

Data whose largest magnitude is beyond 2^64 (or below 2^-64) is first multiplied by one
power of two that brings it into [1/2, 1): exact (no rounding), and no square or product
of the data can then overflow or underflow on the way, whatever its units (1e-300 to
1e300).

What runs where: means, covariances, the Ledoit-Wolf estimate, the matrix functions
(Cholesky and a symmetric eigendecomposition in float64) and the cost matrix run on the
tensors' device (CUDA when given CUDA tensors or ``device="cuda"``); the assignment itself
(exact, compiled Jonker-Volgenant) runs on the CPU. On the CPU the n x n cost product is
computed in float32 and the assignment then certified against the float64 costs through
a rigorous bound on the float32 rounding (``_assignment.optimal_matching``); on CUDA it is
computed in float64.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from ._device import checked_device
from ._assignment import certified_assignment, matched_squared_distances, optimal_matching

__all__ = [
    "AffinityResult",
    "affinity_score",
    "gaussian_ot_map",
    "ledoit_wolf_covariance",
    "wasserstein2_squared",
]

RIDGE = 1e-6
# Tests set this to run the torch code path (the one CUDA tensors take) on the CPU.
_TORCH_BACKEND_ON_CPU = False
NORMALIZATIONS = ("sqrt", "squared")
RIDGE_MODES = ("relative", "absolute")


@dataclass(frozen=True)
class AffinityResult:
    """The score and the quantities it is made of (all float64)."""

    score: float
    # W2^2, tr Sigma_Y and lambda are in the data's units: inf (or 0) where they are beyond
    # float64's range (data beyond about 1e154, or below 1e-154); the score is computed in
    # rescaled units and is not affected
    w2_squared: float  # exact W2^2 between the rows of T(X) and of Y
    trace_cov_y: float  # tr Sigma_Y, ridge (and shrinkage) included
    n: int
    d: int
    normalization: str
    shrinkage: tuple[float, float] | None  # Ledoit-Wolf coefficients of (Sigma_X, Sigma_Y); None without
    constant_output: bool  # tr Sigma_Y <= 2 lambda d: A = 0 and the score is 1
    ridge: float = 0.0  # lambda, the multiple of I added to both covariances, in the data's units
    ridge_mode: str = "relative"  # "relative" (lambda = ridge * max mean variance) or "absolute" (the reference)

    def __float__(self) -> float:
        return self.score


# --------------------------------------------------------------------------- validation
def _shape_error(name: str, shape) -> None:
    if len(shape) == 1:
        raise ValueError(f"{name} has shape {tuple(shape)}; pass samples as rows, shape (n_samples, n_features) "
                         f"(a 1-D sample set is {name}.reshape(-1, 1))")
    if len(shape) != 2:
        raise ValueError(f"{name} has shape {tuple(shape)}; expected (n_samples, n_features)")


def _as_samples(name: str, value, device):
    """float64 samples: a numpy array when computing on the CPU, else a torch tensor on
    ``device`` (CUDA). The CPU path runs no torch operation: a torch kernel just before a
    numpy/scipy LAPACK call was measured to cost tens of milliseconds here (two thread
    pools spinning against each other on two cores)."""
    on_cpu = (device is None or torch.device(device).type == "cpu") and not _TORCH_BACKEND_ON_CPU
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_complex() or not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)):
            raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}")
        _shape_error(name, t.shape)
        if on_cpu:
            if t.dtype in (torch.float16, torch.bfloat16) or t.device.type != "cpu":
                t = t.to("cpu", torch.float64)
            a = np.ascontiguousarray(t.numpy(), dtype=np.float64)
        else:
            t = t.to(device or "cpu", torch.float64)
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} holds NaN or infinite values; remove or impute them first")
            return t
    else:
        try:
            a = np.asarray(value)
            if a.dtype.kind not in "biuf":
                raise TypeError
            a = np.ascontiguousarray(a, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numpy array or a torch tensor of real numbers; got "
                            f"{type(value).__name__}" + (f" of dtype {a.dtype}" if isinstance(value, np.ndarray) else "")) from exc
        _shape_error(name, a.shape)
        if not on_cpu:
            return _as_samples(name, torch.from_numpy(a), device)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinite values; remove or impute them first")
    return a


def _device_of(X, device):
    if device is not None:
        return checked_device(device)
    return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")


def _sample_pair(names, A, B, device, why: str):
    """Both sample sets as float64 on one device (that of ``A`` unless ``device`` is given),
    refused when their shapes differ (``why`` says what needs them equal)."""
    dev = _device_of(A, device)
    A = _as_samples(names[0], A, dev)
    B = _as_samples(names[1], B, dev)
    if A.shape != B.shape:
        raise ValueError(f"{names[0]} has shape {tuple(A.shape)} and {names[1]} has {tuple(B.shape)}; {why}")
    return A, B


def _check_pair(X, Y, device):
    X, Y = _sample_pair(("X", "Y"), X, Y, device, "the input and output of an activation must have the same "
                        "samples (rows) and features (columns)")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X and Y have {n} sample(s); the score needs at least 2 (covariances)")
    return X, Y


# --------------------------------------------------------------------------- backends
# The same formulas on numpy arrays (CPU: numpy's and scipy's LAPACK, measured faster and
# steadier here than torch's CPU linear algebra) and on torch tensors (CUDA).
def _eye(d: int, like):
    if isinstance(like, np.ndarray):
        return np.eye(d)
    return torch.eye(d, dtype=torch.float64, device=like.device)


def _trace(S) -> float:
    return float(np.trace(S)) if isinstance(S, np.ndarray) else float(torch.trace(S))


def _sym(S):
    return (S + S.T) / 2


def _eigh(M):
    """Symmetric eigendecomposition in float64, on M's device."""
    if isinstance(M, np.ndarray):
        return np.linalg.eigh(_sym(M))
    return torch.linalg.eigh(_sym(M))


def _sqrt_clamped(w):
    """sqrt of eigenvalues, negative rounding values -> 0."""
    return np.sqrt(np.maximum(w, 0)) if isinstance(w, np.ndarray) else w.clamp_min(0).sqrt()


def _cholesky_lower(S):
    """Lower Cholesky factor, or None when S is not numerically positive definite."""
    if isinstance(S, np.ndarray):
        try:
            return scipy.linalg.cholesky(S, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return None
    L, info = torch.linalg.cholesky_ex(S)
    return L if int(info) == 0 else None


def _solve_upper_transposed(L, V):
    """L^{-T} V for lower-triangular L."""
    if isinstance(L, np.ndarray):
        return scipy.linalg.solve_triangular(L, V, trans="T", lower=True, check_finite=False)
    return torch.linalg.solve_triangular(L.T, V, upper=True)


def _congruence(L, S):
    """L^T S L for lower-triangular L: two triangular products (BLAS trmm, half the
    flops of general products) on the CPU."""
    if isinstance(L, np.ndarray):
        SL = scipy.linalg.blas.dtrmm(1.0, L, S, side=1, lower=1)
        return scipy.linalg.blas.dtrmm(1.0, L, SL, side=0, lower=1, trans_a=1)
    return L.T @ (S @ L)


def _ldexp(A, k: int):
    """A * 2^k, exact (barring underflow past the subnormals) for numpy arrays and tensors."""
    if k == 0:
        return A
    if isinstance(A, np.ndarray):
        return np.ldexp(A, k)
    half = k // 2  # two factors, each within float64's range (2^k alone may not be)
    return A * (2.0**half) * (2.0 ** (k - half))


def _max_abs(A) -> float:
    return max(float(A.max()), -float(A.min()))  # no |A| temporary


# Data whose largest entry lies within 2^+-SAFE_EXPONENT is not rescaled: no product of up
# to four factors of its size (L^T Sigma_Y L) leaves float64's range, and a rescaling by a
# power of two would not change one bit of the result (IEEE operations commute with it).
SAFE_EXPONENT = 64


def _common_binary_scale(*arrays) -> int:
    """An exponent e such that no computation of the score on the arrays times 2^-e
    overflows or underflows: 0 when their largest entry is within 2^+-SAFE_EXPONENT (or all
    are zero), else the e with largest * 2^-e in [1/2, 1)."""
    largest = max(_max_abs(A) for A in arrays)
    e = int(np.frexp(largest)[1]) if largest > 0 else 0
    return e if abs(e) > SAFE_EXPONENT else 0


def _to_backend(a, like):
    if isinstance(like, np.ndarray):
        return np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    return torch.as_tensor(a, dtype=torch.float64, device=like.device)


# --------------------------------------------------------------------------- covariances
def _covariance(C):
    """Unbiased covariance (divide by n - 1) of the rows of C, already centred."""
    return _sym(C.T @ C) / (C.shape[0] - 1)


def ledoit_wolf_covariance(Z, *, return_shrinkage: bool = False):
    """Ledoit-Wolf shrunk covariance of the rows of ``Z`` (n x d), as scikit-learn's
    ``LedoitWolf().fit(Z).covariance_``:

        S = Z_c^T Z_c / n  (biased, Z_c centred),   mu = tr S / d,
        delta = ||S - mu I||_F^2 / d,
        beta = min(delta, (sum_k ||z_k||^4 / n - ||S||_F^2) / (d n)),
        Sigma = (1 - beta/delta) S + (beta/delta) mu I

    (Ledoit and Wolf, "A well-conditioned estimator for large-dimensional covariance
    matrices", J. Multivariate Anal. 88, 2004, Lemmas 3.2-3.4 and Theorem 3.1; shrinkage
    0 when delta = 0). A numpy array or a torch tensor in, the same kind out."""
    as_torch = isinstance(Z, torch.Tensor)
    Z = _as_samples("Z", Z, Z.device if as_torch else None)
    n, d = Z.shape
    C = Z - Z.mean(0)
    S = _sym(C.T @ C) / n
    trace = _trace(S)
    mu = trace / d
    frob2 = float((S * S).sum())
    delta = (frob2 - 2 * mu * trace + d * mu * mu) / d
    row4 = float((((C * C).sum(1)) ** 2).sum())
    beta = min((row4 / n - frob2) / (d * n), delta)
    shrink = beta / delta if delta > 0 else 0.0
    Sigma = (1 - shrink) * S + (shrink * mu) * _eye(d, S)
    if as_torch and isinstance(Sigma, np.ndarray):
        Sigma = torch.from_numpy(Sigma)
    return (Sigma, shrink) if return_shrinkage else Sigma


# --------------------------------------------------------------------------- the map
# Eigenvalues of M below this fraction of the largest are recomputed from a factor of M
# (eigh fixes them only to about eps * max(w)); the roots of the others are then accurate
# to eps / (2 SMALL_EIGENVALUE), about 1e-8 relative.
SMALL_EIGENVALUE = 1e-8


def _map_factors(Sx, Sy):
    """(W, s) with A = W diag(s) W^T the SPD solution of A Sx A = Sy (see gaussian_ot_map)."""
    L = _cholesky_lower(Sx)
    if L is not None:
        # Sx = L L^T, M = L^T Sy L = V diag(w) V^T: A = L^{-T} M^{1/2} L^{-1} = W diag(sqrt w) W^T
        w, V = _eigh(_congruence(L, Sy))
        s, V = _accurate_roots(w, V, Sy, L)
        return _solve_upper_transposed(L, V), s
    w, V = _eigh(Sx)
    if float(w.min()) <= 0:
        raise ValueError("cov_x is not positive definite; add a ridge (the score adds 1e-6 I)")
    half = (V * w**0.5) @ V.T
    inv_half = V / w**0.5  # Sx^{-1/2} = inv_half V^T
    wm, U = _eigh(half @ Sy @ half)
    s, U = _accurate_roots(wm, U, Sy, half)
    return inv_half @ (V.T @ U), s


def _factor(S):
    """F with F^T F = S for a symmetric positive semi-definite S: the transposed Cholesky
    factor, or diag(sqrt l) V^T from the eigendecomposition when S is singular."""
    L = _cholesky_lower(S)
    if L is not None:
        return L.T
    w, V = _eigh(S)
    return (V * _sqrt_clamped(w)).T


def _accurate_roots(w, V, Sy, R):
    """Square roots of the eigenvalues w of M = R^T Sy R (eigenvectors V), accurate also
    for the small ones. A symmetric eigensolver is normwise backward stable: each
    eigenvalue is off by up to about eps * max(w), so an eigenvalue far below max(w) is
    lost and its square root is off by up to sqrt(eps * max(w)); multiplied by
    R^{-T} R^{-1} (large when Sx is ill-conditioned) that spoiled A by O(1) on inputs with
    a 1e-10 condition number (found by a property test). On the subspace of the
    eigenvalues below SMALL_EIGENVALUE * max(w), M^{1/2} is instead taken from a factor
    of M that is not squared: with F^T F = Sy and G = F R (so M = G^T G), the singular
    value decomposition G V_c = U diag(sigma) Z^T gives V_c^T M V_c = Z diag(sigma^2) Z^T,
    so the basis V_c Z and the roots sigma, with errors of about eps * sqrt(max(w)) (the
    symmetric polar factor of G, Higham, "Functions of Matrices", 2008, Theorem 8.1).
    Returns (s, V)."""
    s = _sqrt_clamped(w)
    small = w < SMALL_EIGENVALUE * w.max()
    if not bool(small.any()):
        return s, V
    Vc = V[:, small]
    G_Vc = _factor(Sy) @ (R @ Vc)
    if isinstance(G_Vc, np.ndarray):
        _, sigma, Zt = np.linalg.svd(G_Vc, full_matrices=False)
    else:
        _, sigma, Zt = torch.linalg.svd(G_Vc, full_matrices=False)
    V = V.clone() if isinstance(V, torch.Tensor) else V.copy()
    s = s.clone() if isinstance(s, torch.Tensor) else s.copy()
    V[:, small] = Vc @ Zt.T
    s[small] = sigma
    return s, V


def gaussian_ot_map(cov_x, cov_y):
    """The symmetric positive definite ``A`` with ``A Sigma_X A = Sigma_Y``: the linear part of
    the optimal-transport (Monge) map ``x -> A (x - m_X) + m_Y`` between ``N(m_X, Sigma_X)``
    and ``N(m_Y, Sigma_Y)`` (Knott and Smith 1984; Peyre and Cuturi 2019, Remark 2.31),

        A = Sigma_X^{-1/2} (Sigma_X^{1/2} Sigma_Y Sigma_X^{1/2})^{1/2} Sigma_X^{-1/2}.

    Computed with one Cholesky factorisation and one symmetric eigendecomposition: with
    ``Sigma_X = L L^T`` and ``L^T Sigma_Y L = V diag(w) V^T``, ``A = W diag(sqrt w) W^T``
    where ``W = L^{-T} V`` (then ``A Sigma_X A = L^{-T} (L^T Sigma_Y L) L^{-1} =
    Sigma_Y``, and the SPD solution is unique). Falls back to the eigendecomposition form
    when ``Sigma_X`` is not numerically positive definite. ``Sigma_X`` must be positive
    definite (add a ridge). numpy in, numpy out (CPU); torch in, torch out (its device)."""
    as_torch = isinstance(cov_x, torch.Tensor)
    Sx = torch.as_tensor(cov_x, dtype=torch.float64) if as_torch else np.asarray(cov_x, dtype=np.float64)
    Sy = _to_backend(cov_y, Sx) if not as_torch else torch.as_tensor(cov_y, dtype=torch.float64, device=Sx.device)
    if Sx.ndim != 2 or Sx.shape[0] != Sx.shape[1] or tuple(Sx.shape) != tuple(Sy.shape):
        raise ValueError(f"cov_x {tuple(Sx.shape)} and cov_y {tuple(Sy.shape)} must be square matrices of one size")
    if as_torch and Sx.device.type == "cpu" and not _TORCH_BACKEND_ON_CPU:
        A = gaussian_ot_map(Sx.numpy(), Sy.numpy())
        return torch.from_numpy(A)
    W, s = _map_factors(_sym(Sx), _sym(Sy))
    return _sym((W * s) @ W.T)


# --------------------------------------------------------------------------- BLAS threads
_CONTROLLER = None


def _blas_threads(n: int | None):
    """Limit the BLAS thread pools of numpy and scipy to ``n`` threads (``None``: their
    default) for a ``with`` block. The score runs its LAPACK steps (Cholesky, the symmetric
    eigendecomposition, triangular products and solves) on one thread and its large
    products (covariances, the map applied to X, the n x n cost) on all. Measured on these
    2-vCPU machines: a multithreaded eigendecomposition is slower than a single-threaded
    one, at times five times slower (its many small level-2 steps each synchronise the
    threads), from d = 64 to d = 1024, while the products gain close to 2x from the
    second thread (ResNet-18, d = 512: 175 ms -> 140 ms per layer).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController().select(user_api="blas")
        default = max([lib["num_threads"] for lib in controller.info()] or [1])
        _CONTROLLER = (controller, default)
    controller, default = _CONTROLLER
    return controller.limit(limits=default if n is None else n)


def _gemm_threads(X):
    """All BLAS threads for a large matrix product on the CPU (see _blas_threads)."""
    return _blas_threads(None) if isinstance(X, np.ndarray) else contextlib.nullcontext()


# --------------------------------------------------------------------------- exact W2
def _torch_assignment_cost(P, Q) -> np.ndarray:
    """c_ij = |p_i|^2 / 2 - <p_i, q_j> (half the squared distance less the column constant
    |q_j|^2 / 2, which does not change the optimal assignment; the row term steers the
    solver's column reduction) in float64 on the tensors' device, as a CPU matrix."""
    n = P.shape[0]
    Pa = torch.cat([P, 0.5 * (P * P).sum(1, keepdim=True)], dim=1)
    Qa = torch.cat([-Q, torch.ones((n, 1), dtype=Q.dtype, device=Q.device)], dim=1)
    return np.ascontiguousarray((Pa @ Qa.T).cpu().numpy())


def _w2_samples(P, Q) -> float:
    n, d = P.shape
    if d == 1:
        if isinstance(P, np.ndarray):
            return float(((np.sort(P[:, 0]) - np.sort(Q[:, 0])) ** 2).mean())
        return float(((torch.sort(P[:, 0]).values - torch.sort(Q[:, 0]).values) ** 2).mean())
    if isinstance(P, np.ndarray):
        cols = optimal_matching(P, Q, blas_threads=lambda: _blas_threads(None))
        return float(matched_squared_distances(P, Q, cols).sum() / n)
    cols = certified_assignment(_torch_assignment_cost(P, Q))
    match = torch.as_tensor(cols, device=P.device)
    return float(((P - Q[match]) ** 2).sum() / n)


def wasserstein2_squared(P, Q) -> float:
    """Exact squared 2-Wasserstein distance between the empirical measures of the rows of
    ``P`` and ``Q`` (n x d each, uniform weights 1/n, cost ``|p - q|^2``):

        W2^2 = min over permutations s of (1/n) sum_i |p_i - q_s(i)|^2.

    With equal sample counts and uniform weights the optimal plan is a permutation
    (Birkhoff-von Neumann), so this is a linear assignment problem on the costs
    ``|p_i|^2 / 2 - <p_i, q_j>`` (half the squared distance less ``|q_j|^2 / 2``, which is
    constant over permutations), solved exactly by the Jonker-Volgenant shortest
    augmenting path method (compiled; Computing 38, 1987) and certified optimal by its
    dual prices (else solved again by ``scipy.optimize.linear_sum_assignment``). On the
    CPU the costs are first computed in float32 and the solution certified, and repaired
    where needed, against the float64 costs (:func:`~exactnet.probe._assignment.optimal_matching`). In 1-D
    the monotone (sorted) matching is optimal. The distance is then summed from the
    matched pairs themselves, not from the cost matrix. Equals POT's
    ``ot.emd2(a, b, ot.dist(P, Q))``."""
    P, Q = _sample_pair(("P", "Q"), P, Q, None, "equal sample counts and dimensions are needed (uniform "
                        "weights, an assignment problem)")
    if P.shape[0] == 0:
        raise ValueError("P and Q are empty")
    # computed on P, Q times a power of two (exact) where needed, so that no square overflows
    e = _common_binary_scale(P, Q)
    return float(np.ldexp(_w2_samples(_ldexp(P, -e), _ldexp(Q, -e)), 2 * e))


# --------------------------------------------------------------------------- the score
def affinity_score(X, Y, *, normalization: str = "sqrt", shrinkage: bool | str = False, ridge: float = RIDGE,
                   ridge_mode: str = "relative", device=None, return_details: bool = False):
    """Affinity score ``rho_aff`` of an activation with input samples ``X`` and output
    samples ``Y`` (rows are samples: shape (n_samples, n_features), numpy or torch):

        rho_aff = 1 - sqrt(W2^2(T#X, Y) / (2 tr Sigma_Y)),   T(x) = A (x - m_X) + m_Y,

    with ``A`` the Gaussian optimal-transport map between ``N(m_X, Sigma_X)`` and
    ``N(m_Y, Sigma_Y)`` (:func:`gaussian_ot_map`), ``Sigma = cov + lambda I`` and ``W2^2``
    the exact empirical distance (:func:`wasserstein2_squared`). Bouniot, Redko et al.,
    arXiv 2310.11439 (CVPR 2025), Definition of the affinity score; reference code
    AffScoreDeep ``rho_aff``. A constant output (``tr cov(Y) <= lambda d``) scores 1.

    Parameters
    ----------
    normalization : "sqrt" (current definition, default) or "squared"
        (``1 - W2^2 / (2 tr Sigma_Y)``, the paper's first version).
    shrinkage : False, True or "ledoit-wolf"
        Ledoit-Wolf shrinkage of both covariances before the ridge (scikit-learn's
        estimator, 1/n normalisation, as the reference's ``correctCov=True``). Needed when
        ``d >= n``: without it such inputs are refused.
    ridge : the ridge coefficient (default 1e-6).
    ridge_mode : "relative" (default; our formulation) or "absolute" (the reference's).
        Relative: ``lambda = ridge * max(tr cov(X), tr cov(Y)) / d``, the ridge times the
        larger mean variance of the pair. The score, the ridge's effect and the
        constant-output test (``tr cov(Y) <= ridge tr cov(X)``) are then the same in any
        units: invariant under ``(X, Y) -> (a X + b, a Y + c)``, ``a > 0``, and equal to the
        reference's when the larger mean variance is 1; a spread of ``Y`` within the
        rounding error of centring it also counts as constant. Absolute: ``lambda = ridge`` as
        AffScoreDeep adds it, so that data with variances of 1e-6 or less scores 1.
    device : where to compute (default: the device of ``X`` when it is a tensor, else CPU).
        On the CPU the linear algebra runs in numpy/scipy (float64), on CUDA in torch
        (float64); the assignment always runs on the CPU.
    return_details : return an :class:`AffinityResult` instead of the float.

    The score is 1 when ``Y`` is a symmetric positive semi-definite affine image of ``X``
    and decreases as the activation acts less affinely; it is biased by dimension
    (compare scores at equal ``d`` and ``n`` only).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization={normalization!r}; use one of {NORMALIZATIONS}")
    if shrinkage not in (False, True, "ledoit-wolf", None):
        raise ValueError(f"shrinkage={shrinkage!r}; use False or 'ledoit-wolf' (True means 'ledoit-wolf')")
    shrink = shrinkage in (True, "ledoit-wolf")
    if not (ridge >= 0 and np.isfinite(ridge)):
        raise ValueError(f"ridge={ridge!r} must be a finite number >= 0")
    if ridge_mode not in RIDGE_MODES:
        raise ValueError(f"ridge_mode={ridge_mode!r}; use one of {RIDGE_MODES}")
    X, Y = _check_pair(X, Y, device)
    n, d = X.shape
    if d >= n and not shrink:
        raise ValueError(f"d = {d} features >= n = {n} samples: the sample covariances are singular and the score "
                         "is not meaningful; pass shrinkage='ledoit-wolf', use more samples (n > d), or reduce the "
                         "features (e.g. the channel-mean or a random-projection reduction of the capture)")
    if isinstance(X, np.ndarray):
        # LAPACK (Cholesky, eigh, triangular solves) on one BLAS thread, the large products on all
        with _blas_threads(1):
            return _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details)
    return _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details)


def _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details):
    n, d = X.shape
    # work on X, Y times 2^-e (exact), so that no square or product overflows or underflows
    e = _common_binary_scale(X, Y)
    X, Y = _ldexp(X, -e), _ldexp(Y, -e)
    m_x, m_y = X.mean(0), Y.mean(0)
    Xc = X - m_x  # centred once: the covariance and the map both use it
    coefficient = None
    with _gemm_threads(X):
        if shrink:
            Sx, cx = ledoit_wolf_covariance(X, return_shrinkage=True)
            Sy, cy = ledoit_wolf_covariance(Y, return_shrinkage=True)
            coefficient = (cx, cy)
        else:
            Sx, Sy = _covariance(Xc), _covariance(Y - m_y)
    trace_cov_y = _trace(Sy)
    if ridge_mode == "relative":
        lam = ridge * max(_trace(Sx), trace_cov_y) / d  # in the rescaled units
        # a spread within the rounding error of centring Y (|fl(y - m) - (y - m)| <= (n + 1) u max|y|)
        # is no spread: constant, where the relative ridge alone would score rounding noise
        rounding = ((n + 1) * 2.0**-53 * _max_abs(Y)) ** 2
        constant = trace_cov_y <= max(lam, rounding) * d
    else:
        with np.errstate(over="ignore"):  # inf for tiny data: then constant below, as the reference has it
            lam = float(np.ldexp(ridge, -2 * e))  # the absolute ridge in the rescaled units
        constant = trace_cov_y <= lam * d  # tr Sigma_Y <= 2 lambda d
    trace_y = trace_cov_y + lam * d
    if constant:
        score = 1.0  # A = 0: every sample is mapped to the output's mean
        w2 = _w2_samples(m_y + 0 * X, Y)
    else:
        eye = _eye(d, X)
        W, s = _map_factors(Sx + lam * eye, Sy + lam * eye)
        with _gemm_threads(X):
            A = (W * s) @ W.T
            TX = Xc @ _sym(A) + m_y
        w2 = _w2_samples(TX, Y)
        if normalization == "sqrt":
            score = 1.0 - float(np.sqrt(w2 / (2 * trace_y)))
        else:
            score = 1.0 - w2 / (2 * trace_y)
    if not return_details:
        return score
    with np.errstate(over="ignore"):  # back in the data's units: inf beyond float64's range
        w2_data, trace_cov_data = (float(np.ldexp(v, 2 * e)) for v in (w2, trace_cov_y))
        lam_data = float(np.ldexp(lam, 2 * e)) if ridge_mode == "relative" else float(ridge)
        trace_data = trace_cov_data + lam_data * d
    return AffinityResult(score=score, w2_squared=w2_data, trace_cov_y=trace_data, n=n, d=d,
                          normalization=normalization, shrinkage=coefficient, constant_output=constant,
                          ridge=lam_data, ridge_mode=ridge_mode)
