"""Gaussian covariances and the optimal-transport map between two Gaussians.

* :func:`ledoit_wolf_covariance`: Ledoit and Wolf's shrunk covariance (scikit-learn's
  estimator);
* :func:`gaussian_ot_map`: the symmetric positive definite ``A`` with
  ``A Sigma_X A = Sigma_Y``, the linear part of the optimal-transport map between
  ``N(m_X, Sigma_X)`` and ``N(m_Y, Sigma_Y)``, by one Cholesky factorisation and one
  symmetric eigendecomposition, with the small eigenvalues' roots taken from an unsquared
  factor.

numpy in, numpy out (numpy/scipy on the CPU); torch in, torch out (torch on CUDA, or on
any device with ``backend="torch"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import numpy as np

from . import _backend as bk

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

    _Matrix = TypeVar("_Matrix", np.ndarray, torch.Tensor)  # numpy in, numpy out; torch in, torch out

__all__ = ["covariance", "gaussian_ot_map", "ledoit_wolf_covariance", "map_factors"]


def covariance(C: _Matrix) -> _Matrix:
    """Unbiased covariance ``C^T C / (n - 1)`` of the rows of ``C``, already centred."""
    return bk.sym(C.T @ C) / (C.shape[0] - 1)


@overload
def ledoit_wolf_covariance(Z: torch.Tensor, *, return_shrinkage: Literal[False] = ...) -> torch.Tensor: ...
@overload
def ledoit_wolf_covariance(Z: torch.Tensor, *, return_shrinkage: Literal[True]) -> tuple[torch.Tensor, float]: ...
@overload
def ledoit_wolf_covariance(Z: ArrayLike, *, return_shrinkage: Literal[False] = ...) -> np.ndarray: ...
@overload
def ledoit_wolf_covariance(Z: ArrayLike, *, return_shrinkage: Literal[True]) -> tuple[np.ndarray, float]: ...
@overload
def ledoit_wolf_covariance(
    Z: ArrayLike | torch.Tensor, *, return_shrinkage: bool
) -> np.ndarray | torch.Tensor | tuple[np.ndarray | torch.Tensor, float]: ...
def ledoit_wolf_covariance(
    # the overloads above type Z; the body uses it as whatever _backend.as_samples (untyped) returns
    Z: Any,
    *,
    return_shrinkage: bool = False,
) -> np.ndarray | torch.Tensor | tuple[np.ndarray | torch.Tensor, float]:
    """Ledoit-Wolf shrunk covariance of the rows of ``Z`` (n x d), as scikit-learn's
    ``LedoitWolf().fit(Z).covariance_``:

        S = Z_c^T Z_c / n  (biased, Z_c centred),   mu = tr S / d,
        delta = ||S - mu I||_F^2 / d,
        beta = min(delta, (sum_k ||z_k||^4 / n - ||S||_F^2) / (d n)),
        Sigma = (1 - beta/delta) S + (beta/delta) mu I

    (Ledoit and Wolf, "A well-conditioned estimator for large-dimensional covariance
    matrices", J. Multivariate Anal. 88, 2004, Lemmas 3.2-3.4 and Theorem 3.1; shrinkage
    0 when delta = 0). A numpy array or a torch tensor in, the same kind out."""
    as_torch = bk.is_tensor(Z)
    Z = bk.as_samples("Z", Z, Z.device if as_torch else None)
    n, d = Z.shape
    C = Z - Z.mean(0)
    S = bk.sym(C.T @ C) / n
    trace = bk.trace(S)
    mu = trace / d
    frob2 = float((S * S).sum())
    delta = (frob2 - 2 * mu * trace + d * mu * mu) / d
    row4 = float((((C * C).sum(1)) ** 2).sum())
    beta = min((row4 / n - frob2) / (d * n), delta)
    shrink = beta / delta if delta > 0 else 0.0
    Sigma = (1 - shrink) * S + (shrink * mu) * bk.eye(d, S)
    if as_torch and isinstance(Sigma, np.ndarray):
        import torch

        Sigma = torch.from_numpy(Sigma)
    return (Sigma, shrink) if return_shrinkage else Sigma


# --------------------------------------------------------------------------- the map
# Eigenvalues of M below this fraction of the largest are recomputed from a factor of M
# (eigh fixes them only to about eps * max(w)); the roots of the others are then accurate
# to eps / (2 SMALL_EIGENVALUE), about 1e-8 relative.
SMALL_EIGENVALUE = 1e-8


def map_factors(Sx: _Matrix, Sy: _Matrix) -> tuple[_Matrix, _Matrix]:
    """(W, s) with A = W diag(s) W^T the SPD solution of A Sx A = Sy (see gaussian_ot_map)."""
    L = bk.cholesky_lower(Sx)
    if L is not None:
        # Sx = L L^T, M = L^T Sy L = V diag(w) V^T: A = L^{-T} M^{1/2} L^{-1} = W diag(sqrt w) W^T
        w, V = bk.eigh(bk.congruence(L, Sy))
        s, V = _accurate_roots(w, V, Sy, L)
        return bk.solve_upper_transposed(L, V), s
    w, V = bk.eigh(Sx)
    if float(w.min()) <= 0:
        raise ValueError("cov_x is not positive definite; add a ridge (the score adds 1e-6 I)")
    half = (V * w**0.5) @ V.T
    inv_half = V / w**0.5  # Sx^{-1/2} = inv_half V^T
    wm, U = bk.eigh(half @ Sy @ half)
    s, U = _accurate_roots(wm, U, Sy, half)
    return inv_half @ (V.T @ U), s


def _factor(S):
    """F with F^T F = S for a symmetric positive semi-definite S: the transposed Cholesky
    factor, or diag(sqrt l) V^T from the eigendecomposition when S is singular."""
    L = bk.cholesky_lower(S)
    if L is not None:
        return L.T
    w, V = bk.eigh(S)
    return (V * bk.sqrt_clamped(w)).T


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
    s = bk.sqrt_clamped(w)
    small = w < SMALL_EIGENVALUE * w.max()
    if not bool(small.any()):
        return s, V
    Vc = V[:, small]
    G_Vc = _factor(Sy) @ (R @ Vc)
    if isinstance(G_Vc, np.ndarray):
        _, sigma, Zt = np.linalg.svd(G_Vc, full_matrices=False)
        V, s = V.copy(), s.copy()
    else:
        import torch

        _, sigma, Zt = torch.linalg.svd(G_Vc, full_matrices=False)
        V, s = V.clone(), s.clone()
    V[:, small] = Vc @ Zt.T
    s[small] = sigma
    return s, V


@overload
def gaussian_ot_map(cov_x: torch.Tensor, cov_y: ArrayLike | torch.Tensor, *, backend: str = ...) -> torch.Tensor: ...
@overload
def gaussian_ot_map(cov_x: ArrayLike, cov_y: ArrayLike | torch.Tensor, *, backend: str = ...) -> np.ndarray: ...
def gaussian_ot_map(
    cov_x: ArrayLike | torch.Tensor, cov_y: ArrayLike | torch.Tensor, *, backend: str = "auto"
) -> np.ndarray | torch.Tensor:
    """The symmetric positive definite ``A`` with ``A Sigma_X A = Sigma_Y``: the linear part of
    the optimal-transport (Monge) map ``x -> A (x - m_X) + m_Y`` between ``N(m_X, Sigma_X)``
    and ``N(m_Y, Sigma_Y)`` (Knott and Smith 1984; Peyre and Cuturi 2019, Remark 2.31),

        A = Sigma_X^{-1/2} (Sigma_X^{1/2} Sigma_Y Sigma_X^{1/2})^{1/2} Sigma_X^{-1/2}.

    Computed with one Cholesky factorisation and one symmetric eigendecomposition: with
    ``Sigma_X = L L^T`` and ``L^T Sigma_Y L = V diag(w) V^T``, ``A = W diag(sqrt w) W^T``
    where ``W = L^{-T} V`` (then ``A Sigma_X A = L^{-T} (L^T Sigma_Y L) L^{-1} =
    Sigma_Y``, and the SPD solution is unique). Falls back to the eigendecomposition form
    when ``Sigma_X`` is not numerically positive definite. ``Sigma_X`` must be positive
    definite (add a ridge). numpy in, numpy out (CPU); torch in, torch out (its device).
    ``backend``: "auto" (numpy/scipy on the CPU, torch on CUDA) or "torch" (torch's linear
    algebra on the tensors' device, the CPU included)."""
    if backend not in bk.BACKENDS:
        raise ValueError(f"backend={backend!r}; use one of {bk.BACKENDS}")
    as_torch = bk.is_tensor(cov_x)
    Sx: Any
    Sy: Any
    if as_torch:
        import torch

        Sx = torch.as_tensor(cov_x, dtype=torch.float64)
        Sy = torch.as_tensor(cov_y, dtype=torch.float64, device=Sx.device)
    else:
        Sx = np.asarray(cov_x, dtype=np.float64)
        Sy = bk.to_backend(cov_y, Sx)
    if Sx.ndim != 2 or Sx.shape[0] != Sx.shape[1] or tuple(Sx.shape) != tuple(Sy.shape):
        raise ValueError(f"cov_x {tuple(Sx.shape)} and cov_y {tuple(Sy.shape)} must be square matrices of one size")
    if as_torch and Sx.device.type == "cpu" and backend == "auto":
        A = gaussian_ot_map(Sx.numpy(), Sy.numpy())
        return torch.from_numpy(A)
    if not as_torch and backend == "torch":
        import torch

        return gaussian_ot_map(torch.from_numpy(Sx), torch.from_numpy(Sy), backend="torch").numpy()
    W, s = map_factors(bk.sym(Sx), bk.sym(Sy))
    return bk.sym((W * s) @ W.T)
