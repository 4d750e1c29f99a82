"""Streaming data through a model: batches of a tensor, a DataLoader or any iterable,
their inputs (and labels), and the share of a ``torch.distributed`` rank."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..extras import require

require("torch", "streaming data through a model")

import torch  # noqa: E402

__all__ = ["batches", "count_batches", "inputs_of", "rank_and_world"]


def batches(data: torch.Tensor | Iterable[Any], batch_size: int) -> Iterator[Any]:
    """The batches of ``data``: slices of ``batch_size`` rows of a tensor, or whatever a
    DataLoader or other iterable yields."""
    if isinstance(data, torch.Tensor):
        if data.dim() == 0:
            raise ValueError("capture: data is a 0-d tensor; pass a tensor of inputs with the batch on axis 0")
        for s in range(0, data.shape[0], batch_size):
            yield data[s : s + batch_size]
    else:
        try:
            it = iter(data)
        except TypeError:
            raise TypeError(
                f"capture: data must be a tensor, a DataLoader or an iterable of batches, got {type(data).__name__}"
            ) from None
        yield from it


def inputs_of(batch: object, b: int) -> torch.Tensor:
    """The inputs of batch number ``b``: the batch itself, or element 0 of an
    ``(inputs, labels, ...)`` tuple or list."""
    x = batch
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise TypeError(f"capture: batch {b} of data is an empty {type(batch).__name__}")
        x = batch[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"capture: data must yield tensors or (inputs, labels, ...) tuples of tensors; batch {b} gave "
            f"{type(x).__name__}; wrap your data in a DataLoader or a generator of tensors"
        )
    if x.dim() == 0:
        raise ValueError(f"capture: batch {b} of data is a 0-d tensor; the batch must be on axis 0")
    return x


def count_batches(data: torch.Tensor | Iterable[Any], batch_size: int) -> int | None:
    """How many batches :func:`batches` yields, when known (for progress bars)."""
    if isinstance(data, torch.Tensor):
        return -(-data.shape[0] // batch_size) if data.dim() else None
    try:
        return len(data)  # type: ignore[arg-type]  # an iterable without len() raises TypeError
    except TypeError:
        return None


def rank_and_world(distributed: bool | None) -> tuple[int, int]:
    """``(rank, world size)`` under ``torch.distributed`` (``(0, 1)`` when it is not
    initialised or ``distributed=False``; ``distributed=True`` requires it)."""
    ok = torch.distributed.is_available() and torch.distributed.is_initialized()
    if distributed is True and not ok:
        raise ValueError("capture: distributed=True but torch.distributed is not initialised (init_process_group)")
    if distributed is False or not ok:
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()
