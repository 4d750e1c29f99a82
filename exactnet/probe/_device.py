"""The one check of a requested torch device, shared by capture, the score and the
signature, and the switch that keeps CUDA float32 arithmetic in float32."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..extras import require

require("torch", "choosing a torch device")

import torch  # noqa: E402


def checked_device(device, argument: str = "device") -> torch.device:
    """``torch.device(device)``, refusing with a clear message a CUDA device that this torch
    cannot use (no driver, a CPU-only build, or an index past the visible devices)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{argument}={device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:K'") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{argument}={device!r} but torch sees no CUDA device (torch.cuda.is_available() is "
                "False); use device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{argument}={device!r} but torch sees {torch.cuda.device_count()} CUDA device(s); "
                f"use an index below {torch.cuda.device_count()}"
            )
    return dev


@contextmanager
def full_float32() -> Iterator[None]:
    """Within the block, CUDA matrix products and cuDNN convolutions of float32 tensors
    are computed in float32, not TF32 (whose 10-bit mantissa would put rounding noise of
    about 1e-3 relative on every product: far above what exact bounds assume, and what
    second differences can tell from kinks); the previous settings are restored after."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
