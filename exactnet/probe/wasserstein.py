"""The exact squared 2-Wasserstein distance between two empirical measures of equal size:
a linear assignment problem, solved exactly and certified (:mod:`._assignment`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import _backend as bk
from ._assignment import certified_assignment, matched_squared_distances, optimal_matching

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

    _Samples = TypeVar("_Samples", np.ndarray, torch.Tensor)  # both numpy arrays, or both tensors

__all__ = ["wasserstein2_squared", "w2_of_samples"]


def _torch_assignment_cost(P, Q) -> np.ndarray:
    """c_ij = |p_i|^2 / 2 - <p_i, q_j> (half the squared distance less the column constant
    |q_j|^2 / 2, which does not change the optimal assignment; the row term steers the
    solver's column reduction) in float64 on the tensors' device, as a CPU matrix."""
    import torch

    n = P.shape[0]
    Pa = torch.cat([P, 0.5 * (P * P).sum(1, keepdim=True)], dim=1)
    Qa = torch.cat([-Q, torch.ones((n, 1), dtype=Q.dtype, device=Q.device)], dim=1)
    return np.ascontiguousarray((Pa @ Qa.T).cpu().numpy())


def w2_of_samples(P: _Samples, Q: _Samples) -> float:
    """W2^2 of validated float64 samples (numpy arrays, or tensors on one device)."""
    n, d = P.shape
    if d == 1:
        if isinstance(P, np.ndarray):
            return float(((np.sort(P[:, 0]) - np.sort(Q[:, 0])) ** 2).mean())
        return float(((P[:, 0].sort().values - Q[:, 0].sort().values) ** 2).mean())
    if isinstance(P, np.ndarray):
        cols = optimal_matching(P, Q, blas_threads=lambda: bk.blas_threads(None))
        return float(matched_squared_distances(P, Q, cols).sum() / n)
    import torch

    cols = certified_assignment(_torch_assignment_cost(P, Q))
    match = torch.as_tensor(cols, device=P.device)
    return float(((P - Q[match]) ** 2).sum() / n)


def wasserstein2_squared(P: ArrayLike | torch.Tensor, Q: ArrayLike | torch.Tensor, *, backend: str = "auto") -> float:
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
    matched pairs themselves, not from the cost matrix. ``backend`` as in
    :func:`affinity_score`. Equals POT's
    ``ot.emd2(a, b, ot.dist(P, Q))``."""
    P, Q = bk.sample_pair(
        ("P", "Q"),
        P,
        Q,
        None,
        "equal sample counts and dimensions are needed (uniform weights, an assignment problem)",
        backend,
    )
    # P is now a float64 numpy array or tensor (_backend.sample_pair is untyped; P keeps its declared type)
    if P.shape[0] == 0:  # type: ignore[union-attr]
        raise ValueError("P and Q are empty")
    # computed on P, Q times a power of two (exact) where needed, so that no square overflows
    e = bk.common_binary_scale(P, Q)
    return float(np.ldexp(w2_of_samples(bk.ldexp(P, -e), bk.ldexp(Q, -e)), 2 * e))
