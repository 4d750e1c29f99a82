"""The affinity score (non-linearity signature) of Bouniot, Redko et al.

Bouniot, Redko, Mallasto, Laclau, Struckmeier, Arndt, Lamprier, Habrard, "Understanding
deep neural networks through the lens of their non-linearity", arXiv 2310.11439 (CVPR
2025); the definition follows what the authors' code computes (AffScoreDeep,
``src/aff_core.py``, ``rho_aff``), as pinned down in ../shared/spec/affinity.md.

Samples are rows here (``X``, ``Y`` of shape (n_samples, n_features), the convention of
scikit-learn and POT); the spec and the paper write them as columns.

For the input ``X`` of an activation and its output ``Y`` (both n x d):

1. ``m_X, m_Y`` the means, ``Sigma_X = cov(X) + ridge I``, ``Sigma_Y = cov(Y) + ridge I``
   (unbiased covariance, or Ledoit-Wolf shrinkage before the ridge).
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
   A constant output (``tr Sigma_Y <= 2 ridge d``) scores 1.

What runs where: means, covariances, the Ledoit-Wolf estimate, the matrix functions
(Cholesky and a symmetric eigendecomposition in float64) and the cost matrix run on the
tensors' device (CUDA when given CUDA tensors or ``device="cuda"``); the assignment itself
(exact, compiled Jonker-Volgenant) runs on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

from ._assignment import dual_gap, solve_assignment

__all__ = [
    "AffinityResult",
    "affinity_score",
    "gaussian_ot_map",
    "ledoit_wolf_covariance",
    "wasserstein2_squared",
]

RIDGE = 1e-6
NORMALIZATIONS = ("sqrt", "squared")


@dataclass(frozen=True)
class AffinityResult:
    """The score and the quantities it is made of (all float64)."""

    score: float
    w2_squared: float  # exact W2^2 between the rows of T(X) and of Y
    trace_cov_y: float  # tr Sigma_Y, ridge (and shrinkage) included
    n: int
    d: int
    normalization: str
    shrinkage: tuple[float, float] | None  # Ledoit-Wolf coefficients of (Sigma_X, Sigma_Y); None without
    constant_output: bool  # tr Sigma_Y <= 2 ridge d: A = 0 and the score is 1

    def __float__(self) -> float:
        return self.score


# --------------------------------------------------------------------------- validation
def _as_samples(name: str, value, device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numpy array or a torch tensor of real numbers; got {type(value).__name__}") from exc
    if t.is_complex() or not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)):
        raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}")
    if t.ndim == 1:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; pass samples as rows, shape (n_samples, n_features) "
                         f"(a 1-D sample set is {name}.reshape(-1, 1))")
    if t.ndim != 2:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; expected (n_samples, n_features)")
    if device is not None:
        t = t.to(device)
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds NaN or infinite values; remove or impute them first")
    return t


def _check_pair(X, Y, device):
    dev = device
    if dev is None and isinstance(X, torch.Tensor):
        dev = X.device
    X = _as_samples("X", X, dev)
    Y = _as_samples("Y", Y, X.device)
    if X.shape != Y.shape:
        raise ValueError(f"X has shape {tuple(X.shape)} and Y has {tuple(Y.shape)}; the input and output of an "
                         "activation must have the same samples (rows) and features (columns)")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X and Y have {n} sample(s); the score needs at least 2 (covariances)")
    return X, Y


# --------------------------------------------------------------------------- covariances
def _covariance(Z: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance (divide by n - 1) of the rows of Z, symmetrised."""
    C = Z - Z.mean(dim=0)
    S = (C.T @ C) / (Z.shape[0] - 1)
    return (S + S.T) / 2


def ledoit_wolf_covariance(Z, *, return_shrinkage: bool = False):
    """Ledoit-Wolf shrunk covariance of the rows of ``Z`` (n x d), as scikit-learn's
    ``LedoitWolf().fit(Z).covariance_``:

        S = Z_c^T Z_c / n  (biased, Z_c centred),   mu = tr S / d,
        delta = ||S - mu I||_F^2 / d,
        beta = min(delta, (sum_k ||z_k||^4 / n - ||S||_F^2) / (d n)),
        Sigma = (1 - beta/delta) S + (beta/delta) mu I

    (Ledoit and Wolf, "A well-conditioned estimator for large-dimensional covariance
    matrices", J. Multivariate Anal. 88, 2004, Lemmas 3.2-3.4 and Theorem 3.1; shrinkage
    0 when delta = 0)."""
    Z = _as_samples("Z", Z, None) if not isinstance(Z, torch.Tensor) else Z.to(torch.float64)
    n, d = Z.shape
    C = Z - Z.mean(dim=0)
    S = (C.T @ C) / n
    S = (S + S.T) / 2
    mu = torch.trace(S) / d
    frob2 = (S * S).sum()
    delta = (frob2 - 2 * mu * torch.trace(S) + d * mu * mu) / d
    row4 = ((C * C).sum(dim=1) ** 2).sum()
    beta = (row4 / n - frob2) / (d * n)
    beta = torch.minimum(beta, delta)
    shrink = float(beta / delta) if float(delta) > 0 else 0.0
    Sigma = (1 - shrink) * S
    Sigma.diagonal().add_(shrink * mu)
    return (Sigma, shrink) if return_shrinkage else Sigma


# --------------------------------------------------------------------------- the map
def _psd_sqrt(M: torch.Tensor) -> torch.Tensor:
    """Symmetric square root by eigendecomposition, negative rounding eigenvalues -> 0."""
    w, V = torch.linalg.eigh((M + M.T) / 2)
    return (V * w.clamp_min(0).sqrt()) @ V.T


def gaussian_ot_map(cov_x, cov_y) -> torch.Tensor:
    """The symmetric positive definite ``A`` with ``A Sigma_X A = Sigma_Y``: the linear part of
    the optimal-transport (Monge) map ``x -> A (x - m_X) + m_Y`` between ``N(m_X, Sigma_X)``
    and ``N(m_Y, Sigma_Y)`` (Knott and Smith 1984; Peyre and Cuturi 2019, Remark 2.31),

        A = Sigma_X^{-1/2} (Sigma_X^{1/2} Sigma_Y Sigma_X^{1/2})^{1/2} Sigma_X^{-1/2}.

    Computed with one Cholesky factorisation and one symmetric eigendecomposition: with
    ``Sigma_X = L L^T`` and ``M = L^T Sigma_Y L``, ``A = L^{-T} M^{1/2} L^{-1}`` (then
    ``A Sigma_X A = L^{-T} M L^{-1} = Sigma_Y``, and the SPD solution is unique). Falls
    back to the eigendecomposition form when ``Sigma_X`` is not numerically positive
    definite. ``Sigma_X`` must be positive definite (add a ridge)."""
    Sx = torch.as_tensor(cov_x, dtype=torch.float64)
    Sy = torch.as_tensor(cov_y, dtype=torch.float64, device=Sx.device)
    if Sx.ndim != 2 or Sx.shape[0] != Sx.shape[1] or Sx.shape != Sy.shape:
        raise ValueError(f"cov_x {tuple(Sx.shape)} and cov_y {tuple(Sy.shape)} must be square matrices of one size")
    Sx = (Sx + Sx.T) / 2
    Sy = (Sy + Sy.T) / 2
    L, info = torch.linalg.cholesky_ex(Sx)
    if int(info) == 0:
        eye = torch.eye(Sx.shape[0], dtype=Sx.dtype, device=Sx.device)
        Linv = torch.linalg.solve_triangular(L, eye, upper=False)
        root = _psd_sqrt(L.T @ Sy @ L)
        A = Linv.T @ root @ Linv
    else:
        w, V = torch.linalg.eigh(Sx)
        if float(w.min()) <= 0:
            raise ValueError("cov_x is not positive definite; add a ridge (the score adds 1e-6 I)")
        half = (V * w.sqrt()) @ V.T
        inv_half = (V / w.sqrt()) @ V.T
        A = inv_half @ _psd_sqrt(half @ Sy @ half) @ inv_half
    return (A + A.T) / 2


# --------------------------------------------------------------------------- exact W2
def wasserstein2_squared(P, Q) -> float:
    """Exact squared 2-Wasserstein distance between the empirical measures of the rows of
    ``P`` and ``Q`` (n x d each, uniform weights 1/n, cost ``|p - q|^2``):

        W2^2 = min over permutations s of (1/n) sum_i |p_i - q_s(i)|^2.

    With equal sample counts and uniform weights the optimal plan is a permutation
    (Birkhoff-von Neumann), so this is a linear assignment problem on the costs
    ``-<p_i, q_j>`` (the terms ``|p_i|^2`` and ``|q_j|^2`` are constant over
    permutations), solved exactly by the Jonker-Volgenant shortest-augmenting-path method
    (compiled; Computing 38, 1987) and certified optimal by its dual prices (else solved
    again by ``scipy.optimize.linear_sum_assignment``). In 1-D the monotone
    (sorted) matching is optimal. The distance is then summed from the matched pairs
    themselves, not from the cost matrix. Equals POT's ``ot.emd2(a, b, ot.dist(P, Q))``."""
    P = _as_samples("P", P, None if not isinstance(P, torch.Tensor) else P.device)
    Q = _as_samples("Q", Q, P.device)
    if P.shape != Q.shape:
        raise ValueError(f"P has shape {tuple(P.shape)} and Q has {tuple(Q.shape)}; equal sample counts and "
                         "dimensions are needed (uniform weights, an assignment problem)")
    n, d = P.shape
    if n == 0:
        raise ValueError("P and Q are empty")
    if d == 1:
        p = torch.sort(P[:, 0]).values
        q = torch.sort(Q[:, 0]).values
        return float(((p - q) ** 2).mean())
    cost = (-(P @ Q.T)).cpu().numpy()  # maximise sum <p_i, q_s(i)>
    cols, prices = solve_assignment(cost)
    # certify optimality from the dual prices; fall back to scipy if rounding spoiled it
    if dual_gap(cost, cols, prices) > 1e-9 * (float(np.abs(cost).max()) + 1.0):
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        cols = cols[np.argsort(rows)]
    match = torch.as_tensor(cols, device=P.device)
    return float(((P - Q[match]) ** 2).sum() / n)


# --------------------------------------------------------------------------- the score
def affinity_score(X, Y, *, normalization: str = "sqrt", shrinkage: bool | str = False, ridge: float = RIDGE,
                   device=None, return_details: bool = False):
    """Affinity score ``rho_aff`` of an activation with input samples ``X`` and output
    samples ``Y`` (rows are samples: shape (n_samples, n_features), numpy or torch):

        rho_aff = 1 - sqrt(W2^2(T#X, Y) / (2 tr Sigma_Y)),   T(x) = A (x - m_X) + m_Y,

    with ``A`` the Gaussian optimal-transport map between ``N(m_X, Sigma_X)`` and
    ``N(m_Y, Sigma_Y)`` (:func:`gaussian_ot_map`), ``Sigma = cov + ridge I`` and ``W2^2``
    the exact empirical distance (:func:`wasserstein2_squared`). Bouniot, Redko et al.,
    arXiv 2310.11439 (CVPR 2025), Definition of the affinity score; reference code
    AffScoreDeep ``rho_aff``.

    Parameters
    ----------
    normalization : "sqrt" (current definition, default) or "squared"
        (``1 - W2^2 / (2 tr Sigma_Y)``, the paper's first version).
    shrinkage : False, True or "ledoit-wolf"
        Ledoit-Wolf shrinkage of both covariances before the ridge (scikit-learn's
        estimator, 1/n normalisation, as the reference's ``correctCov=True``). Needed when
        ``d >= n``: without it such inputs are refused.
    ridge : the ``1e-6 I`` added to both covariances.
    device : where to compute (default: the device of ``X`` when it is a tensor, else CPU).
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
    X, Y = _check_pair(X, Y, device)
    n, d = X.shape
    if d >= n and not shrink:
        raise ValueError(f"d = {d} features >= n = {n} samples: the sample covariances are singular and the score "
                         "is not meaningful; pass shrinkage='ledoit-wolf', use more samples (n > d), or reduce the "
                         "features (e.g. the channel-mean or a random-projection reduction of the capture)")
    m_x, m_y = X.mean(dim=0), Y.mean(dim=0)
    coefficient = None
    if shrink:
        Sx, cx = ledoit_wolf_covariance(X, return_shrinkage=True)
        Sy, cy = ledoit_wolf_covariance(Y, return_shrinkage=True)
        coefficient = (cx, cy)
    else:
        Sx, Sy = _covariance(X), _covariance(Y)
    eye = torch.eye(d, dtype=torch.float64, device=X.device)
    Sx = Sx + ridge * eye
    Sy = Sy + ridge * eye
    trace_y = float(torch.trace(Sy))
    constant = trace_y <= 2 * ridge * d
    if constant:
        TX = m_y.expand(n, d)  # A = 0: every sample is mapped to the output's mean
    else:
        A = gaussian_ot_map(Sx, Sy)
        TX = (X - m_x) @ A + m_y
    w2 = wasserstein2_squared(TX, Y)
    if constant:
        score = 1.0
    elif normalization == "sqrt":
        score = 1.0 - float(np.sqrt(w2 / (2 * trace_y)))
    else:
        score = 1.0 - w2 / (2 * trace_y)
    if not return_details:
        return score
    return AffinityResult(score=score, w2_squared=w2, trace_cov_y=trace_y, n=n, d=d, normalization=normalization,
                          shrinkage=coefficient, constant_output=constant)
