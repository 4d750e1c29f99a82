"""The one check of a requested torch device, shared by capture, the score and the signature."""

from __future__ import annotations

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
