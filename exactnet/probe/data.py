"""Inputs and models for signatures on a machine without downloads.

* :func:`random_images`: seeded random images, normalised like ImageNet inputs.
* :func:`digits_images`: scikit-learn's bundled 8 x 8 digits (1,797 images), resized to
  the model's input size, grey replicated to three channels.
* :func:`torchvision_model`: a torchvision classifier with random (seeded) weights, or a
  user's own state_dict read with ``torch.load(weights_only=True)`` / safetensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..extras import require

require("torch", "the probe's datasets")

import torch  # noqa: E402

from ..net.io import read_state_dict  # noqa: E402

__all__ = ["random_images", "digits_images", "torchvision_model"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _check_counts(n: int, size: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}; ask for at least one image")
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size={size!r}; images need at least 8 x 8 pixels")


def random_images(n: int, size: int = 224, *, seed: int = 0) -> torch.Tensor:
    """``n`` images of shape (3, size, size), pixels uniform in [0, 1) from a seeded generator,
    then normalised with the ImageNet mean and standard deviation (float32)."""
    _check_counts(n, size)
    g = torch.Generator().manual_seed(int(seed))
    return _normalise(torch.rand(n, 3, size, size, generator=g))


def digits_images(n: int | None = None, size: int = 224) -> torch.Tensor:
    """The first ``n`` of scikit-learn's 1,797 bundled digits (8 x 8, 16 grey levels),
    scaled to [0, 1], resized bilinearly to (size, size), replicated to three channels and
    ImageNet-normalised (float32). ``n`` larger than 1,797 raises."""
    require("sklearn", "the digits data")
    from sklearn.datasets import load_digits

    images = load_digits().images
    if n is None:
        n = len(images)
    _check_counts(n, size)
    if n > len(images):
        raise ValueError(
            f"n={n}: the digits data set has {len(images)} images; ask for at most that many, or use random images"
        )
    x = torch.from_numpy(images[:n].astype(np.float32) / 16.0).unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return _normalise(x.repeat(1, 3, 1, 1))


def torchvision_model(name: str, *, seed: int = 0, weights: str | Path | None = None) -> torch.nn.Module:
    """The torchvision classifier ``name`` (e.g. ``"resnet18"``) in eval mode, with random
    weights drawn under ``torch.manual_seed(seed)`` (no download), or with the state_dict in
    ``weights`` (``.pt``/``.pth`` read with ``torch.load(weights_only=True)``, or
    ``.safetensors``), loaded strictly."""
    try:
        import torchvision
    except ImportError as exc:
        raise ImportError("vision models need torchvision: pip install torchvision") from exc
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; choose from {', '.join(sorted(available))}"
        raise ValueError(f"model {name!r} is not a torchvision classifier{hint}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = torchvision.models.get_model(name, weights=None)
    if weights is not None:
        state = read_state_dict(weights)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{weights}: does not fit {name}: {str(exc).splitlines()[0]} ...") from None
    return model.eval()
