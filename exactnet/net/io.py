"""Reading and writing plain ReLU networks from weight files.

A file holds the weights ``W_0, b_0, ..., W_{L-1}, b_{L-1}`` (``W`` of shape (out, in),
torch's convention) of ``x -> W_{L-1} relu(... relu(W_0 x + b_0) ...) + b_{L-1}``
(leaky ReLU with ``negative_slope``). Stored floats convert to rationals exactly.

Formats: ``.npz`` (arrays ``W0, b0, W1, b1, ...``), torch checkpoints ``.pt``/``.pth``
(a state_dict of an ``nn.Sequential`` of Linear layers with ReLU between, read only with
``torch.load(weights_only=True)``: no arbitrary unpickling) and ``.safetensors`` (the same
state_dict).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..extras import require
from .network import Network

if TYPE_CHECKING:
    from .rational import RealLike

__all__ = ["load_network", "read_state_dict", "save_npz"]

FORMATS = ".npz (arrays W0, b0, W1, b1, ...), .pt/.pth (torch state_dict), .safetensors"


def load_network(
    path: str | os.PathLike[str], widths: Sequence[int] | None = None, *, negative_slope: RealLike = 0.0
) -> Network:
    """Load a ReLU network (ReLU, or leaky ReLU with ``negative_slope``, after every layer but the last).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz``, ``.pt``/``.pth`` or ``.safetensors`` file.
    widths : sequence of int, optional
        ``(n_0, n_1, ..., n_L)``. Required for torch and safetensors files (a state_dict
        holds tensors, not the architecture); checked against the weights when given.
    negative_slope : float
        Slope of the activation on negative inputs (0 for ReLU).
    """
    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix == ".npz":
        weights, biases = _read_npz(path)
    elif suffix in (".pt", ".pth"):
        weights, biases = _from_state_dict(_read_torch(path), path, widths)
    elif suffix == ".safetensors":
        weights, biases = _from_state_dict(_read_safetensors(path), path, widths)
    else:
        raise ValueError(f"{path}: unknown extension {path.suffix!r}; supported formats: {FORMATS}")
    if widths is not None:
        _check_widths(weights, widths, path)
    return Network.from_arrays(weights, biases, negative_slope=negative_slope, name=path.stem)


def save_npz(net: Network, path: str | os.PathLike[str]) -> None:
    """Write ``net`` as ``W0, b0, W1, b1, ...`` float64 arrays (numpy adds ``.npz`` if missing).

    Only plain ReLU networks fit the format. Warns when a weight is a rational that float64
    cannot hold (the file then stores its nearest float64).
    """
    arrays = net.to_npz_dict()
    if not net.float_is_exact:
        warnings.warn(
            "the network has rational weights that float64 cannot hold; the .npz stores them rounded", stacklevel=2
        )
    np.savez(os.fspath(path), **arrays)  # type: ignore[arg-type]  # numpy's stubs miss **arrays


def _not_valid(path: Path, kind: str, err: Exception) -> ValueError:
    return ValueError(
        f"{path}: not a valid weights file: it cannot be read as {kind} ({type(err).__name__}: {err}); "
        f"it may be truncated or corrupt, so save or copy it again"
    )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A torch state_dict from a ``.pt``/``.pth``/``.bin`` checkpoint, read only with
    ``torch.load(weights_only=True)`` (no arbitrary unpickling), or from a ``.safetensors``
    file; a truncated or corrupt file, or one holding other Python objects, is refused
    with an error naming it."""
    path = Path(os.fspath(path))
    if not path.exists():
        raise ValueError(f"weights file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return _read_safetensors(path)
    if suffix in (".pt", ".pth", ".bin"):
        return _read_torch(path)
    raise ValueError(f"weights file {path}: use a .pt/.pth state_dict (read with weights_only=True) or .safetensors")


# ---------------------------------------------------------------------------- npz
# what numpy's zip reading raises on a truncated or corrupt archive
_BAD_ARCHIVE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def _read_npz(path: Path):
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except ValueError as err:
        raise ValueError(f"{path}: could not read it as a .npz archive of numeric arrays ({err})") from err
    except _BAD_ARCHIVE as err:
        raise _not_valid(path, "a .npz archive", err) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a plain .npy file renamed
        raise ValueError(
            f"{path}: not a valid weights file: it holds a single array, not a .npz archive of W0, b0, ..."
        )
    with archive:
        keys = list(archive.files)
        bad = [k for k in keys if not re.fullmatch(r"[Wb](0|[1-9]\d*)", k)]
        if bad:
            raise ValueError(f"{path}: unexpected keys {bad}; a network .npz holds exactly W0, b0, W1, b1, ...")
        n = len({k[1:] for k in keys})
        expected = {f"{p}{i}" for i in range(n) for p in "Wb"}
        if set(keys) != expected:
            missing = sorted(expected - set(keys), key=lambda k: (int(k[1:]), k))
            extra = sorted(set(keys) - expected, key=lambda k: (int(k[1:]), k))
            raise ValueError(
                f"{path}: keys must be W0, b0, ..., W{n - 1}, b{n - 1} without gaps; "
                f"missing {missing}" + (f", unexpected {extra}" if extra else "")
            )
        arrays = {}
        for k in keys:
            try:
                a = archive[k]
            except ValueError as err:  # object arrays need pickle, which is refused
                raise ValueError(f"{path}: array {k!r} is not numeric ({err})") from err
            except _BAD_ARCHIVE as err:
                raise _not_valid(path, "a .npz archive", err) from err
            if a.dtype.kind not in "fiu":
                raise ValueError(f"{path}: array {k!r} has dtype {a.dtype}; weights must be real numbers")
            arrays[k] = a.astype(float) if a.dtype.kind == "f" else a
    weights = [arrays[f"W{i}"] for i in range(n)]
    biases = [arrays[f"b{i}"] for i in range(n)]
    _check_chain(weights, biases, [f"W{i}" for i in range(n)], [f"b{i}" for i in range(n)], path)
    return weights, biases


def _check_chain(weights, biases, wnames, bnames, path) -> None:
    """Every W is 2-D, every b 1-D of matching length, consecutive layers compose."""
    for i, (w, b) in enumerate(zip(weights, biases)):
        if w.ndim != 2:
            raise ValueError(f"{path}: {wnames[i]} has shape {tuple(w.shape)}; expected (out, in)")
        if b.ndim != 1 or b.shape[0] != w.shape[0]:
            raise ValueError(
                f"{path}: {bnames[i]} has shape {tuple(b.shape)}; expected ({w.shape[0]},) to match {wnames[i]}"
            )
        if i and w.shape[1] != weights[i - 1].shape[0]:
            raise ValueError(
                f"{path}: {wnames[i]} has shape {tuple(w.shape)} (out, in) but {wnames[i - 1]} outputs "
                f"{weights[i - 1].shape[0]} values; expected in = {weights[i - 1].shape[0]}"
            )


def _check_widths(weights, widths, path) -> None:
    widths = tuple(int(w) for w in widths)
    actual = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
    if widths != actual:
        raise ValueError(f"{path}: widths={widths} given, but the weights have widths {actual}")


# ---------------------------------------------------------------------------- torch / safetensors
def _read_torch(path: Path) -> dict:
    require("torch", "reading torch checkpoints")
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except RuntimeError as err:  # torch's zip reader on a truncated or corrupt file
        raise _not_valid(path, "a torch checkpoint", err) from err
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path}: refused to load. The checkpoint contains Python objects other than tensors and "
            f"containers, and exactnet reads torch files only with torch.load(weights_only=True), because "
            f"unpickling arbitrary objects can run code. Save the weights instead: "
            f"torch.save(model.state_dict(), path).{_unpickler_detail(err)}"
        ) from err
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(
            f"{path}: holds a {type(obj).__name__}; expected a state_dict (or a dict with key 'state_dict')"
        )
    return obj


def _unpickler_detail(err: Exception) -> str:
    """The offending object, e.g. ``Unsupported global: GLOBAL torch.nn...Sequential``, if torch names it."""
    m = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
    return f" The file contains an object of type {m.group(1)}." if m else ""


def _read_safetensors(path: Path) -> dict:
    try:
        require("safetensors", "reading .safetensors files")
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError as err:
        raise ImportError(f"reading {path} needs the safetensors package: pip install safetensors") from err
    try:
        return load_file(os.fspath(path), device="cpu")
    except SafetensorError as err:
        raise _not_valid(path, "a safetensors file", err) from err


def _from_state_dict(state: dict, path: Path, widths):
    """Weights and biases of an ``nn.Sequential`` of Linear layers from its state_dict.

    Keys are ``{prefix}{index}.weight`` / ``.bias`` (one common prefix, e.g. ``""`` or
    ``"module."``), taken in index order; a missing bias is zero.
    """
    import torch

    shapes = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__ for k, v in state.items()}
    if widths is None:
        raise ValueError(
            f"{path}: widths=(n_0, n_1, ..., n_L) is required for torch and safetensors files, since a "
            f"state_dict holds tensors but not the architecture. Pass the input size and every Linear "
            f"layer's width, e.g. load_network(path, widths=(2, 16, 16, 1)). The file holds {shapes}"
        )
    parsed = {}
    for key, value in state.items():
        m = re.fullmatch(r"(.*?)(\d+)\.(weight|bias)", key)
        if m is None or not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path}: unexpected entry {key!r} ({shapes[key]}); expected the state_dict of an "
                f"nn.Sequential of Linear layers (keys '0.weight', '0.bias', '2.weight', ...)"
            )
        if not (value.is_floating_point() and torch.isfinite(value).all()):
            raise ValueError(f"{path}: {key!r} must hold finite floating-point numbers (dtype {value.dtype})")
        parsed[key] = (m.group(1), int(m.group(2)), m.group(3), value.detach().to(torch.float64).numpy())
    prefixes = {p for p, _, _, _ in parsed.values()}
    if len(prefixes) > 1:
        raise ValueError(f"{path}: keys have different prefixes {sorted(prefixes)}; expected one nn.Sequential")
    indices = sorted({i for _, i, _, _ in parsed.values()})
    prefix = prefixes.pop() if prefixes else ""
    entries = {(i, kind): a for _, i, kind, a in parsed.values()}
    wnames = [f"{prefix}{i}.weight" for i in indices]
    bnames = [f"{prefix}{i}.bias" for i in indices]
    if any((i, "weight") not in entries for i in indices):
        raise ValueError(f"{path}: every layer needs a weight; got keys {sorted(state)}")
    weights = [entries[(i, "weight")] for i in indices]
    biases = [entries.get((i, "bias"), np.zeros(w.shape[0] if w.ndim else 0)) for i, w in zip(indices, weights)]
    widths = tuple(int(w) for w in widths)
    expected = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    actual = [tuple(w.shape) for w in weights]
    if actual != expected:
        raise ValueError(
            f"{path}: the state_dict does not match widths={widths}: its weights {wnames} have shapes "
            f"{actual}, widths need (out, in) shapes {expected}"
        )
    _check_chain(weights, biases, wnames, bnames, path)
    if not weights:
        raise ValueError(f"{path}: the state_dict is empty")
    return weights, biases
