"""Inputs and models for the layer-wise scores on a machine without downloads.

* :func:`random_images`: seeded random images, normalised like ImageNet inputs;
  :func:`smooth_signals` and :func:`smooth_images`: seeded Gaussian-smoothed noise, the
  synthetic signals and images of the SMP propagation experiments.
* :func:`digits_images`: scikit-learn's bundled 8 x 8 digits (1,797 images), resized to
  the model's input size, grey replicated to three channels; :func:`digits_data`: the
  same with their labels, or as they are (1 x 8 x 8 in [0, 1]) for the small models.
* :func:`image_data`: labelled images from disk: an image folder (a subfolder per class)
  or torchvision's MNIST, FashionMNIST or KMNIST files under a root (no download).
* :func:`torchvision_model`: a torchvision classifier with random (seeded) weights, or a
  user's own state_dict read with ``torch.load(weights_only=True)`` / safetensors;
  :func:`model_by_name`: that, or one of the small models of :data:`SMALL_MODELS`
  (``digits-cnn``, ``digits-mlp``) for 1 x 8 x 8 digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import require

require("torch", "the probe's datasets")

import torch  # noqa: E402

from ..net.io import read_state_dict  # noqa: E402

__all__ = [
    "SMALL_MODELS",
    "digits_cnn",
    "digits_data",
    "digits_images",
    "digits_mlp",
    "image_data",
    "model_by_name",
    "random_images",
    "smooth_images",
    "smooth_signals",
    "torchvision_model",
]

#: torchvision data sets read from their own files without pickles (``NAME:ROOT``)
TORCHVISION_DATASETS = ("MNIST", "FashionMNIST", "KMNIST")

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


def _gaussian_kernel(width: float) -> torch.Tensor:
    if not width > 0:
        raise ValueError(f"width={width!r}; the smoothing width (in samples) must be positive")
    r = max(1, math.ceil(3 * width))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / width) ** 2)
    return k / k.norm()


def smooth_signals(n: int, length: int = 64, *, width: float = 3.0, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """``n`` synthetic signals (channels, length), float64: seeded white noise convolved
    with a Gaussian of standard deviation ``width`` samples (unit-norm kernel, so each
    sample is N(0, 1))."""
    if n < 1 or length < 2 or channels < 1:
        raise ValueError(f"n={n}, length={length}, channels={channels}; ask for at least one signal of 2 samples")
    k = _gaussian_kernel(width)
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(n * channels, 1, length + len(k) - 1, generator=g, dtype=torch.float64)
    return torch.nn.functional.conv1d(noise, k.view(1, 1, -1)).reshape(n, channels, length)


def smooth_images(n: int, size: int = 24, *, width: float = 2.0, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """``n`` synthetic images (channels, size, size), float64: seeded white noise
    convolved with a 2-D Gaussian of standard deviation ``width`` pixels (unit norm, each
    pixel N(0, 1))."""
    if n < 1 or size < 2 or channels < 1:
        raise ValueError(f"n={n}, size={size}, channels={channels}; ask for at least one image of 2 x 2 pixels")
    k = _gaussian_kernel(width)
    k2 = torch.outer(k, k)
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(n * channels, 1, size + len(k) - 1, size + len(k) - 1, generator=g, dtype=torch.float64)
    out = torch.nn.functional.conv2d(noise, k2.view(1, 1, len(k), len(k)))
    return out.reshape(n, channels, size, size)


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


def _load_weights(model: torch.nn.Module, name: str, weights: str | Path) -> None:
    """The state_dict in ``weights`` (read without pickles) into ``model``, strictly."""
    state = read_state_dict(weights)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights}: does not fit {name}: {str(exc).splitlines()[0]} ...") from None


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
        _load_weights(model, name, weights)
    return model.eval()


def digits_data(*, size: int | None = None, rgb: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 of scikit-learn's bundled digits with their labels ``(x, y)``: ``x`` of
    shape (n, 1, 8, 8) in [0, 1] (float32) as they are, or, with ``rgb=True``, as
    :func:`digits_images` makes them for a torchvision model (``size`` x ``size``, three
    channels, ImageNet-normalised); ``y`` int64 in 0..9."""
    require("sklearn", "the digits data")
    from sklearn.datasets import load_digits

    data = load_digits()
    y = torch.from_numpy(data.target.astype(np.int64))
    if rgb:
        return digits_images(None, size or 224), y
    x = torch.from_numpy(data.images.astype(np.float32) / 16.0).unsqueeze(1)
    if size is not None and size != 8:
        _check_counts(1, size)
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x, y


def _as_rgb(image: Any) -> Any:
    return image.convert("RGB")


def image_data(
    source: str | Path, *, size: int = 224, rgb: bool = True, limit: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Labelled images from disk, never downloaded: ``(x, y, class names)``.

    ``source``: a folder with one subfolder of images per class (torchvision's
    ``ImageFolder``), or ``NAME:ROOT`` for torchvision's ``MNIST``, ``FashionMNIST`` or
    ``KMNIST`` files under ROOT (its test split, ``download=False``; formats that unpickle,
    such as CIFAR's, are refused: convert them to an image folder). Images are resized
    and centre-cropped to ``size`` x ``size``; ``rgb=True`` gives three ImageNet-normalised
    channels (for torchvision models), ``rgb=False`` one grey channel in [0, 1].
    ``limit``: at most that many images, a seeded random subset."""
    try:
        import torchvision
        from torchvision import transforms
    except ImportError as exc:
        raise ImportError("image data needs torchvision: pip install torchvision") from exc
    _check_counts(1, size)
    steps: list[Any] = [transforms.Resize(size), transforms.CenterCrop(size)]
    # three channels keep a colour image's colours (and repeat a grey one); one is its grey
    steps.append(transforms.Lambda(_as_rgb) if rgb else transforms.Grayscale(1))
    steps.append(transforms.ToTensor())
    if rgb:
        steps.append(transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    transform = transforms.Compose(steps)
    text = str(source)
    name, sep, root = text.partition(":")
    if sep and name in dir(torchvision.datasets) and not Path(text).exists():
        if name not in TORCHVISION_DATASETS:
            raise ValueError(
                f"data {text!r}: torchvision's {name} is not read here (its files may need unpickling); use one of "
                f"{', '.join(TORCHVISION_DATASETS)}, or save the images as a folder with a subfolder per class"
            )
        try:
            dataset = getattr(torchvision.datasets, name)(root, train=False, download=False, transform=transform)
        except RuntimeError as exc:
            why = str(exc).split(" You can use download=True")[0]  # nothing is downloaded here
            raise ValueError(f"data {text!r}: {why} (nothing is downloaded: put {name}'s files under {root})") from None
        classes = [str(c) for c in dataset.classes]
    else:
        folder = Path(text)
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ValueError(
                f"data {text!r} {what}; pass a folder with a subfolder of images per class, or NAME:ROOT "
                f"with NAME one of {', '.join(TORCHVISION_DATASETS)}"
            )
        try:
            dataset = torchvision.datasets.ImageFolder(str(folder), transform=transform)
        except (FileNotFoundError, RuntimeError) as exc:
            raise ValueError(f"data {text!r}: {exc}") from None
        classes = list(dataset.classes)
    order = np.arange(len(dataset))
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit={limit!r}; ask for at least one image")
        if limit < len(order):
            order = np.sort(np.random.default_rng(seed).choice(len(order), size=limit, replace=False))
    xs, ys = [], []
    for i in order.tolist():
        img, label = dataset[i]
        xs.append(img)
        ys.append(int(label))
    if not xs:
        raise ValueError(f"data {text!r} holds no images")
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), classes


def digits_cnn(width: int = 16, classes: int = 10) -> torch.nn.Module:
    """A small CNN for 1 x 8 x 8 digits: conv 3x3 (``width``) - ReLU - conv 3x3
    (2 ``width``) - ReLU - max-pool 2 - linear 64 - ReLU - linear ``classes``."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * 16, 64),
        nn.ReLU(),
        nn.Linear(64, classes),
    )


def digits_mlp(hidden: tuple[int, ...] = (128, 64), classes: int = 10) -> torch.nn.Module:
    """A small MLP for 1 x 8 x 8 digits: flatten - (linear - ReLU) per ``hidden`` width -
    linear ``classes``."""
    nn = torch.nn
    layers: list[torch.nn.Module] = [nn.Flatten()]
    width = 64
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


#: exactnet's small models (for 1 x 8 x 8 inputs such as :func:`digits_data`)
SMALL_MODELS: dict[str, Callable[[], torch.nn.Module]] = {"digits-cnn": digits_cnn, "digits-mlp": digits_mlp}


def model_by_name(name: str, *, seed: int = 0, weights: str | Path | None = None) -> torch.nn.Module:
    """A model of :data:`SMALL_MODELS` (initialised under ``torch.manual_seed(seed)``) or
    a torchvision classifier (:func:`torchvision_model`), in eval mode, with the
    state_dict in ``weights`` (read without pickles) when given."""
    if name not in SMALL_MODELS:
        try:
            return torchvision_model(name, seed=seed, weights=weights)
        except ValueError as exc:
            if "is not a torchvision classifier" not in str(exc):
                raise
            raise ValueError(f"{exc} (or one of the small models: {', '.join(SMALL_MODELS)})") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = SMALL_MODELS[name]()
    if weights is not None:
        _load_weights(model, name, weights)
    return model.eval()
