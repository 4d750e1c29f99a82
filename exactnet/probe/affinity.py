"""The affinity score (non-linearity signature) of Bouniot, Redko et al.

Bouniot, Redko, Mallasto, Laclau, Struckmeier, Arndt, Lamprier, Habrard, "Understanding
deep neural networks through the lens of their non-linearity", arXiv 2310.11439 (CVPR
2025); the definition follows what the authors' code computes (AffScoreDeep,
``src/aff_core.py``, ``rho_aff``); see docs/definitions.md, "The affinity score".

Samples are rows here (``X``, ``Y`` of shape (n_samples, n_features), the convention of
scikit-learn and POT); the paper writes them as columns.

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from . import _backend as bk
from .gaussian import covariance, gaussian_ot_map, ledoit_wolf_covariance, map_factors
from .wasserstein import w2_of_samples, wasserstein2_squared

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

__all__ = [
    "AffinityResult",
    "affinity_score",
    "gaussian_ot_map",
    "ledoit_wolf_covariance",
    "wasserstein2_squared",
]

RIDGE = 1e-6
NORMALIZATIONS = ("sqrt", "squared")
RIDGE_MODES = ("relative", "absolute")
BACKENDS = bk.BACKENDS


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
def _check_pair(X, Y, device, backend) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]:
    X, Y = bk.sample_pair(
        ("X", "Y"),
        X,
        Y,
        device,
        "the input and output of an activation must have the same samples (rows) and features (columns)",
        backend,
    )
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X and Y have {n} sample(s); the score needs at least 2 (covariances)")
    return X, Y


# --------------------------------------------------------------------------- the score
@overload
def affinity_score(
    X: ArrayLike | torch.Tensor,
    Y: ArrayLike | torch.Tensor,
    *,
    normalization: str = ...,
    shrinkage: bool | str = ...,
    ridge: float = ...,
    ridge_mode: str = ...,
    device: str | torch.device | None = ...,
    backend: str = ...,
    return_details: Literal[False] = ...,
) -> float: ...
@overload
def affinity_score(
    X: ArrayLike | torch.Tensor,
    Y: ArrayLike | torch.Tensor,
    *,
    normalization: str = ...,
    shrinkage: bool | str = ...,
    ridge: float = ...,
    ridge_mode: str = ...,
    device: str | torch.device | None = ...,
    backend: str = ...,
    return_details: Literal[True],
) -> AffinityResult: ...
@overload
def affinity_score(
    X: ArrayLike | torch.Tensor,
    Y: ArrayLike | torch.Tensor,
    *,
    normalization: str = ...,
    shrinkage: bool | str = ...,
    ridge: float = ...,
    ridge_mode: str = ...,
    device: str | torch.device | None = ...,
    backend: str = ...,
    return_details: bool,
) -> float | AffinityResult: ...
def affinity_score(
    X: ArrayLike | torch.Tensor,
    Y: ArrayLike | torch.Tensor,
    *,
    normalization: str = "sqrt",
    shrinkage: bool | str = False,
    ridge: float = RIDGE,
    ridge_mode: str = "relative",
    device: str | torch.device | None = None,
    backend: str = "auto",
    return_details: bool = False,
) -> float | AffinityResult:
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
    backend : "auto" (default: numpy/scipy on the CPU, torch on CUDA) or "torch" (torch's
        float64 linear algebra on the device, the CPU included: the code path CUDA runs).
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
    X, Y = _check_pair(X, Y, device, backend)
    n, d = X.shape
    if d >= n and not shrink:
        raise ValueError(
            f"d = {d} features >= n = {n} samples: the sample covariances are singular and the score "
            "is not meaningful; pass shrinkage='ledoit-wolf', use more samples (n > d), or reduce the "
            "features (e.g. the channel-mean or a random-projection reduction of the capture)"
        )
    if isinstance(X, np.ndarray):
        # LAPACK (Cholesky, eigh, triangular solves) on one BLAS thread, the large products on all
        with bk.blas_threads(1):
            return _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details)
    return _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details)


def _score(X, Y, normalization, shrink, ridge, ridge_mode, return_details):
    n, d = X.shape
    # work on X, Y times 2^-e (exact), so that no square or product overflows or underflows
    e = bk.common_binary_scale(X, Y)
    X, Y = bk.ldexp(X, -e), bk.ldexp(Y, -e)
    m_x, m_y = X.mean(0), Y.mean(0)
    Xc = X - m_x  # centred once: the covariance and the map both use it
    coefficient = None
    with bk.gemm_threads(X):
        if shrink:
            Sx, cx = ledoit_wolf_covariance(X, return_shrinkage=True)
            Sy, cy = ledoit_wolf_covariance(Y, return_shrinkage=True)
            coefficient = (cx, cy)
        else:
            Sx, Sy = covariance(Xc), covariance(Y - m_y)
    trace_cov_y = bk.trace(Sy)
    if ridge_mode == "relative":
        lam = ridge * max(bk.trace(Sx), trace_cov_y) / d  # in the rescaled units
        # a spread within the rounding error of centring Y (|fl(y - m) - (y - m)| <= (n + 1) u max|y|)
        # is no spread: constant, where the relative ridge alone would score rounding noise
        rounding = ((n + 1) * 2.0**-53 * bk.max_abs(Y)) ** 2
        constant = trace_cov_y <= max(lam, rounding) * d
    else:
        with np.errstate(over="ignore"):  # inf for tiny data: then constant below, as the reference has it
            lam = float(np.ldexp(ridge, -2 * e))  # the absolute ridge in the rescaled units
        constant = trace_cov_y <= lam * d  # tr Sigma_Y <= 2 lambda d
    trace_y = trace_cov_y + lam * d
    if constant:
        score = 1.0  # A = 0: every sample is mapped to the output's mean
        w2 = w2_of_samples(m_y + 0 * X, Y)
    else:
        eye = bk.eye(d, X)
        W, s = map_factors(Sx + lam * eye, Sy + lam * eye)
        with bk.gemm_threads(X):
            A = (W * s) @ W.T
            TX = Xc @ bk.sym(A) + m_y
        w2 = w2_of_samples(TX, Y)
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
    return AffinityResult(
        score=score,
        w2_squared=w2_data,
        trace_cov_y=trace_data,
        n=n,
        d=d,
        normalization=normalization,
        shrinkage=coefficient,
        constant_output=constant,
        ridge=lam_data,
        ridge_mode=ridge_mode,
    )
