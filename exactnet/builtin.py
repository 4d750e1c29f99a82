"""Built-in networks: the benchmark nets (docs/definitions.md, "Networks"), random
networks at He initialisation and the demo's trained classifier, reproducible without
downloads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .net.network import Network

__all__ = ["benchmark_net", "he_network", "parse_widths", "moons_classifier", "MOONS_DOMAIN"]

#: the demo's window on the two moons (u0, u1, v0, v1)
MOONS_DOMAIN = (-1.5, 2.5, -1.0, 1.5)


def parse_widths(spec: str) -> list[int]:
    """``"2-32-32-1"`` or ``"2-32x8-1"`` (eight hidden layers of 32) -> list of widths."""
    widths: list[int] = []
    for part in str(spec).split("-"):
        try:
            if "x" in part:
                w, n = part.split("x")
                widths.extend([int(w)] * int(n))
            else:
                widths.append(int(part))
        except ValueError as err:
            raise ValueError(f"network spec {spec!r} is not like '2-32-32-1' or '2-32x8-1'") from err
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"network spec {spec!r} needs an input and an output width, all >= 1")
    return widths


def benchmark_net(spec: str = "2-32-32-1", seed: int = 0) -> Network:
    """The benchmark network ``d-w1-...-1`` (docs/definitions.md, "Networks").

    With ``rng = np.random.default_rng(seed)``, for each layer in order
    ``k = 1/sqrt(fan_in)``, ``W = rng.uniform(-k, k, size=(fan_in, fan_out))`` then
    ``b = rng.uniform(-k, k, size=(fan_out,))`` (PyTorch's default init drawn with numpy,
    so that every tool sees the same float64 weights). ReLU after every layer but the last.
    """
    widths = parse_widths(spec)
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        k = 1.0 / np.sqrt(fan_in)
        W = rng.uniform(-k, k, size=(fan_in, fan_out))
        b = rng.uniform(-k, k, size=(fan_out,))
        weights.append(W.T)  # torch convention (out, in)
        biases.append(b)
    return Network.from_arrays(weights, biases, name=f"benchmark {spec} seed {seed}")


def he_network(spec: str | Sequence[int], seed: int = 0, *, bias_std: float = 0.3) -> Network:
    """A random ReLU network ``d-w1-...-out`` at He initialisation with Gaussian biases:
    the random networks of the region-counting studies (Hanin & Rolnick, ICML 2019).

    ``spec``: ``"3-16-16-1"`` (see :func:`parse_widths`) or the list of widths, input and
    output included. With ``rng = np.random.default_rng(seed)``, for each layer in order
    ``W = rng.normal(0, sqrt(2 / fan_in), size=(fan_out, fan_in))`` (He et al., ICCV 2015)
    then ``b = rng.normal(0, bias_std, size=fan_out)``; nonzero biases move the
    hyperplanes off the origin. ReLU after every layer but the last."""
    widths = parse_widths(spec) if isinstance(spec, str) else [int(w) for w in spec]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"spec {spec!r} needs an input and an output width, all >= 1")
    if not bias_std >= 0:
        raise ValueError(f"bias_std must be >= 0, got {bias_std}")
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        weights.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)))
        biases.append(rng.normal(0.0, bias_std, size=fan_out))
    name = "-".join(map(str, widths))
    return Network.from_arrays(weights, biases, name=f"{name} (He, seed {seed})")


def moons_classifier() -> tuple[Network, np.ndarray, np.ndarray]:
    """The built-in trained 2-D classifier: a 2-16-16-2 ReLU MLP trained on 400 points of
    two moons (``examples/train_moons_classifier.py``), with its training points.

    Returns (network, X (400, 2), y (400,)). The float32 weights convert exactly."""
    from importlib.resources import files

    with files("exactnet.data").joinpath("moons_classifier.npz").open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        n = sum(1 for k in data.files if k.startswith("W"))
        weights = [data[f"W{i}"].astype(np.float64) for i in range(n)]
        biases = [data[f"b{i}"].astype(np.float64) for i in range(n)]
        X, y = data["X"].astype(np.float64), data["y"]
    return Network.from_arrays(weights, biases, name="moons classifier 2-16-16-2"), X, y
