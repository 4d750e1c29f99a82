"""The one check of a requested torch device, shared by capture, the score and the
signature; the switch that keeps CUDA float32 arithmetic in float32; and one forward pass
of a model in evaluation mode on inputs cast to its parameters' dtype and device."""

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


def parameter_dtype_device(model: torch.nn.Module) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of the model's first parameter: what its inputs are cast to
    (float32 on the CPU for a model without floating-point parameters)."""
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    return dtype, device


def eval_forward(model: torch.nn.Module, x) -> torch.Tensor:
    """``model(x)`` once, in evaluation mode and without gradients, with ``x`` (an array or
    a tensor) cast to the model's parameter dtype and device; the model's training mode is
    restored afterwards, also when the call raises."""
    dtype, device = parameter_dtype_device(model)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=dtype, device=device))
    finally:
        model.train(was)


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
