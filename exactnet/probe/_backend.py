"""Array backends of the probe's scores: the same formulas on numpy arrays (the CPU:
numpy's and scipy's LAPACK, measured faster and steadier here than torch's CPU linear
algebra) and on torch tensors (CUDA, or any device with ``backend="torch"``), without
importing torch unless a tensor is given. Also the validation of sample sets, exact
power-of-two rescaling, and the BLAS thread policy."""

from __future__ import annotations

import contextlib
import sys

import numpy as np
import scipy.linalg

BACKENDS = ("auto", "torch")


# --------------------------------------------------------------------------- validation
def shape_error(name: str, shape) -> None:
    if len(shape) == 1:
        raise ValueError(
            f"{name} has shape {tuple(shape)}; pass samples as rows, shape (n_samples, n_features) "
            f"(a 1-D sample set is {name}.reshape(-1, 1))"
        )
    if len(shape) != 2:
        raise ValueError(f"{name} has shape {tuple(shape)}; expected (n_samples, n_features)")


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (if torch is not imported,
    ``x`` cannot be one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_samples(name: str, value, device, backend: str = "auto"):
    """float64 samples: a numpy array when computing on the CPU, else a torch tensor on
    ``device`` (CUDA, or any device with ``backend="torch"``). The CPU path runs no torch
    operation: a torch kernel just before a numpy/scipy LAPACK call was measured to cost
    tens of milliseconds here (two thread pools spinning against each other on two cores)."""
    on_cpu = (device is None or device.type == "cpu") and backend == "auto"
    if is_tensor(value):
        import torch

        t = value.detach()
        if t.is_complex() or not (
            t.is_floating_point()
            or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)
        ):
            raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}")
        shape_error(name, t.shape)
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
            raise TypeError(
                f"{name} must be a numpy array or a torch tensor of real numbers; got "
                f"{type(value).__name__}" + (f" of dtype {a.dtype}" if isinstance(value, np.ndarray) else "")
            ) from exc
        shape_error(name, a.shape)
        if not on_cpu:
            import torch

            return as_samples(name, torch.from_numpy(a), device, backend)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinite values; remove or impute them first")
    return a


def device_of(X, device):
    """The torch device to compute on (``None``: numpy on the CPU)."""
    if device is not None:
        from ._device import checked_device

        return checked_device(device)
    return X.device if is_tensor(X) else None


def sample_pair(names, A, B, device, why: str, backend: str = "auto"):
    """Both sample sets as float64 on one device (that of ``A`` unless ``device`` is given),
    refused when their shapes differ (``why`` says what needs them equal)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; use one of {BACKENDS}")
    dev = device_of(A, device)
    if dev is None and backend == "torch":
        import torch

        dev = torch.device("cpu")
    A = as_samples(names[0], A, dev, backend)
    B = as_samples(names[1], B, dev, backend)
    if A.shape != B.shape:
        raise ValueError(f"{names[0]} has shape {tuple(A.shape)} and {names[1]} has {tuple(B.shape)}; {why}")
    return A, B


# --------------------------------------------------------------------------- operations
# The same formulas on numpy arrays (CPU: numpy's and scipy's LAPACK, measured faster and
# steadier here than torch's CPU linear algebra) and on torch tensors (CUDA).
def eye(d: int, like):
    if isinstance(like, np.ndarray):
        return np.eye(d)
    import torch

    return torch.eye(d, dtype=torch.float64, device=like.device)


def trace(S) -> float:
    return float(np.trace(S)) if isinstance(S, np.ndarray) else float(S.trace())


def sym(S):
    return (S + S.T) / 2


def eigh(M):
    """Symmetric eigendecomposition in float64, on M's device."""
    if isinstance(M, np.ndarray):
        return np.linalg.eigh(sym(M))
    import torch

    return torch.linalg.eigh(sym(M))


def sqrt_clamped(w):
    """sqrt of eigenvalues, negative rounding values -> 0."""
    return np.sqrt(np.maximum(w, 0)) if isinstance(w, np.ndarray) else w.clamp_min(0).sqrt()


def cholesky_lower(S):
    """Lower Cholesky factor, or None when S is not numerically positive definite."""
    if isinstance(S, np.ndarray):
        try:
            return scipy.linalg.cholesky(S, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return None
    import torch

    L, info = torch.linalg.cholesky_ex(S)
    return L if int(info) == 0 else None


def solve_upper_transposed(L, V):
    """L^{-T} V for lower-triangular L."""
    if isinstance(L, np.ndarray):
        return scipy.linalg.solve_triangular(L, V, trans="T", lower=True, check_finite=False)
    import torch

    return torch.linalg.solve_triangular(L.T, V, upper=True)


def congruence(L, S):
    """L^T S L for lower-triangular L: two triangular products (BLAS trmm, half the
    flops of general products) on the CPU."""
    if isinstance(L, np.ndarray):
        SL = scipy.linalg.blas.dtrmm(1.0, L, S, side=1, lower=1)
        return scipy.linalg.blas.dtrmm(1.0, L, SL, side=0, lower=1, trans_a=1)
    return L.T @ (S @ L)


def ldexp(A, k: int):
    """A * 2^k, exact (barring underflow past the subnormals) for numpy arrays and tensors."""
    if k == 0:
        return A
    if isinstance(A, np.ndarray):
        return np.ldexp(A, k)
    half = k // 2  # two factors, each within float64's range (2^k alone may not be)
    return A * (2.0**half) * (2.0 ** (k - half))


def max_abs(A) -> float:
    return max(float(A.max()), -float(A.min()))  # no |A| temporary


# Data whose largest entry lies within 2^+-SAFE_EXPONENT is not rescaled: no product of up
# to four factors of its size (L^T Sigma_Y L) leaves float64's range, and a rescaling by a
# power of two would not change one bit of the result (IEEE operations commute with it).
SAFE_EXPONENT = 64


def common_binary_scale(*arrays) -> int:
    """An exponent e such that no computation of the score on the arrays times 2^-e
    overflows or underflows: 0 when their largest entry is within 2^+-SAFE_EXPONENT (or all
    are zero), else the e with largest * 2^-e in [1/2, 1)."""
    largest = max(max_abs(A) for A in arrays)
    e = int(np.frexp(largest)[1]) if largest > 0 else 0
    return e if abs(e) > SAFE_EXPONENT else 0


def to_backend(a, like):
    if isinstance(like, np.ndarray):
        return np.asarray(a.detach().cpu().numpy() if is_tensor(a) else a, dtype=np.float64)
    import torch

    return torch.as_tensor(a, dtype=torch.float64, device=like.device)


# --------------------------------------------------------------------------- BLAS threads
_CONTROLLER = None


def blas_threads(n: int | None):
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


def gemm_threads(X):
    """All BLAS threads for a large matrix product on the CPU (see blas_threads)."""
    return blas_threads(None) if isinstance(X, np.ndarray) else contextlib.nullcontext()
