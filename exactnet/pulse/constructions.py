"""Analytic networks that output the radius of a centred pulse or disk exactly.

Our formulation (docs/definitions.md; proofs in ``proofs/pulse_lemmas.md``, checked
symbolically by ``proofs/check_pulse_lemmas.py``). Each construction comes twice: as an
exact :class:`~exactnet.net.network.Network` with rational weights (what the verifier
checks) and as a float64 torch module of the paper's architecture (convolution,
activation, global sum pooling, read-out), which lowers to the same network whenever its
weights are floats.

* Lemma 1 (binary pulse, any filter): one Conv1d filter w of length k with bias b, ReLU,
  global sum S, read-out y = alpha S + beta. For (k - 1)/2 <= r <= M - k + 1,
  S(r) = C_edge + (N - 2k - 2r + 1) relu(b) + (2r + 2 - k) relu(sum(w) + b), affine in r
  with slope 2 (relu(sum(w) + b) - relu(b)); alpha = 1 / slope and beta = -alpha S(0)
  (S extended affinely) make y = r: :func:`lemma1_readout` is the whole family.
* Lemma 2 (amplitude a >= a_min unknown): the clamp c(x) = relu(x / a_min) -
  relu(x / a_min - 1) is 0 at 0 and 1 for x >= a_min; S = sum_i c(x_i) = 2r + 1 and
  y = (S - 1) / 2. Two ReLU channels (:func:`lemma2_relu`) or one clamp activation
  (:func:`lemma2_clamp`).
* Disk: clamp, global sum S = L(r) (lattice points in the disk), then a one-hidden-layer
  read-out equal to the interpolant through the points (L(r_k), r_k), built with the
  minimal number of neurons for that function (:func:`exactnet.theory.thresholds.minimal_network`).
  A read-out only required to hit the points can need fewer (proofs/pulse_lemmas.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING

import numpy as np

from ..extras import require
from ..net.network import Layer, Network
from ..net.rational import to_fraction
from ..theory.thresholds import PiecewiseLinear1D, minimal_network, minimal_neurons
from .data import check_geometry, lattice_count

if TYPE_CHECKING:
    import torch
    from numpy.typing import ArrayLike

__all__ = [
    "Construction",
    "GlobalSumPool",
    "lemma1_readout",
    "lemma1_network",
    "lemma1_instance",
    "lemma2_relu",
    "lemma2_clamp",
    "disk_network",
    "disk_readout",
    "all_constructions",
]


def _relu(z: Fraction) -> Fraction:
    return z if z > 0 else Fraction(0)


@dataclass(frozen=True)
class Construction:
    """An analytic radius network and the task it claims to solve exactly.

    ``kind``: ``"pulse"`` (input shape (1, N)) or ``"disk"`` ((1, N, N)), N = 2M + 1;
    ``radii``: the integer radii (r_lo, r_hi) it claims, inclusive; ``amplitude``: a fixed
    Fraction or a range (a_min, a_max); ``network``: the exact network; ``module``: a
    float64 torch module of the same architecture; ``info``: the construction's numbers
    (filter, read-out, neuron counts)."""

    name: str
    kind: str
    M: int
    radii: tuple[int, int]
    amplitude: Fraction | tuple[Fraction, Fraction]
    network: Network
    module: torch.nn.Module = field(repr=False)
    info: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        n = 2 * self.M + 1
        return (1, n) if self.kind == "pulse" else (1, n, n)


def GlobalSumPool(dims: Sequence[int]) -> torch.nn.Module:
    """A torch module summing over the given per-sample dimensions (global sum pooling)."""
    require("torch", "the pulse constructions (torch modules)")
    import torch

    class _GlobalSumPool(torch.nn.Module):
        def __init__(self, dims):
            super().__init__()
            self.dims = tuple(dims)

        def forward(self, x):
            return x.sum(dim=self.dims)

        def extra_repr(self):
            return f"dims={self.dims}"

    return _GlobalSumPool(dims)


def _check_amplitude_range(a_min: Fraction | float, a_max: Fraction | float) -> tuple[Fraction, Fraction]:
    a_min, a_max = to_fraction(a_min, "a_min"), to_fraction(a_max, "a_max")
    if not 0 < a_min <= a_max:
        raise ValueError(f"need 0 < a_min <= a_max, got a_min={a_min}, a_max={a_max}")
    return a_min, a_max


# ---------------------------------------------------------------------------- Lemma 1
def _lemma1_sum(w, b, M, r):
    """S(r) by the window count of Lemma 1 (valid for (k - 1)/2 <= r <= M - k + 1)."""
    k, n = len(w), 2 * M + 1
    edge = sum(
        (_relu(sum(w[k - j :], Fraction(0)) + b) + _relu(sum(w[:j], Fraction(0)) + b) for j in range(1, k)), Fraction(0)
    )
    return edge + (n - 2 * k - 2 * r + 1) * _relu(b) + (2 * r + 2 - k) * _relu(sum(w, Fraction(0)) + b)


def lemma1_readout(
    w: ArrayLike | Sequence[Fraction | float], b: Fraction | float, M: int
) -> tuple[Fraction, Fraction, tuple[int, int]]:
    """The read-out (alpha, beta) that makes conv(w, b), ReLU, sum, alpha S + beta output
    y = r exactly on a binary pulse, and the radii (r_lo, r_hi) where Lemma 1 proves it.

    S(r) = C_edge + (N - 2k - 2r + 1) relu(b) + (2r + 2 - k) relu(sum(w) + b) for
    (k - 1)/2 <= r <= M - k + 1 (every window is all-ones, all-zeros or one of the 2(k - 1)
    edge windows, whose contents do not depend on r), so S(r) = S_0 + s r with slope
    s = 2 (relu(sum(w) + b) - relu(b)); alpha = 1/s, beta = -S_0 / s. Raises when s = 0:
    that filter cannot see the radius (our formulation, proofs/pulse_lemmas.md)."""
    w = tuple(to_fraction(v, f"w[{i}]") for i, v in enumerate(np.asarray(w, dtype=object).reshape(-1)))
    b = to_fraction(b, "b")
    check_geometry(M)
    k = len(w)
    if k < 1:
        raise ValueError("w must have at least one tap")
    r_lo, r_hi = ceil(Fraction(k - 1, 2)), M - k + 1
    if r_lo > r_hi:
        raise ValueError(
            f"a filter of length {k} leaves no radius with (k-1)/2 <= r <= M-k+1 for M = {M}; "
            f"use M >= {k - 1 + ceil(Fraction(k - 1, 2))}"
        )
    slope = 2 * (_relu(sum(w, Fraction(0)) + b) - _relu(b))
    if slope == 0:
        raise ValueError(
            f"relu(sum(w) + b) = relu(b) for w={w}, b={b}: S does not depend on r, no read-out "
            f"can recover it; choose b < 0 < sum(w) + b, for example"
        )
    s0 = _lemma1_sum(w, b, M, 0)  # the affine extension's value at r = 0
    alpha = 1 / slope
    return alpha, -alpha * s0, (r_lo, r_hi)


def _conv1d_matrix(w, N):
    k = len(w)
    rows = []
    for p in range(N - k + 1):
        row = [Fraction(0)] * N
        row[p : p + k] = list(w)
        rows.append(row)
    return np.array(rows, dtype=object)


def _lemma1(name, w, b, alpha, beta, M, radii, info):
    require("torch", "the pulse constructions (torch modules)")
    import torch

    N, k = 2 * M + 1, len(w)
    W1 = _conv1d_matrix(w, N)
    net = Network(
        [
            Layer(W1, np.full(N - k + 1, b, dtype=object)),
            Layer(np.full((1, N - k + 1), alpha, dtype=object), np.array([beta], dtype=object), 1),
        ],
        name=name,
    )
    conv = torch.nn.Conv1d(1, 1, k, dtype=torch.float64)
    head = torch.nn.Linear(1, 1, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[float(v) for v in w]]], dtype=torch.float64))
        conv.bias.fill_(float(b))
        head.weight.fill_(float(alpha))
        head.bias.fill_(float(beta))
    module = torch.nn.Sequential(conv, torch.nn.ReLU(), GlobalSumPool((-1,)), head).double().eval()
    return Construction(name, "pulse", M, radii, Fraction(1), net, module, info)


def lemma1_network(w: ArrayLike | Sequence[Fraction | float], b: Fraction | float, M: int) -> Construction:
    """Lemma 1 for the filter w, bias b: the exact network, radii (k-1)/2 <= r <= M-k+1."""
    alpha, beta, radii = lemma1_readout(w, b, M)
    w = tuple(to_fraction(v, "w") for v in np.asarray(w, dtype=object).reshape(-1))
    b = to_fraction(b, "b")
    info = {"w": w, "b": b, "alpha": alpha, "beta": beta, "slope": 1 / alpha}
    return _lemma1(f"lemma1(w={tuple(str(v) for v in w)}, b={b})", w, b, alpha, beta, M, radii, info)


def lemma1_instance(M: int) -> Construction:
    """The concrete Lemma 1 instance: k = 3, w = (1, 1, 1), b = -2, y = (S + 1)/2.

    Edge windows hold one or two ones and give relu(1 - 2) = relu(2 - 2) = 0, all-zero
    windows relu(-2) = 0, so S = 2r - 1 and y = r for every 1 <= r <= M (the pulse may
    touch the signal's ends). At r = 0 no window is all-ones: S = 0 and y = 1/2, a genuine
    failure of this instance (``radii`` is (1, M); the verifier reports r = 0)."""
    check_geometry(M)
    if M < 2:
        raise ValueError(f"the instance's filter of length 3 needs M >= 2, got {M}")
    w, b = (Fraction(1),) * 3, Fraction(-2)
    alpha, beta = Fraction(1, 2), Fraction(1, 2)
    info = {"w": w, "b": b, "alpha": alpha, "beta": beta, "slope": Fraction(2), "fails_at": {0: Fraction(1, 2)}}
    return _lemma1("lemma1_instance", w, b, alpha, beta, M, (1, M), info)


# ---------------------------------------------------------------------------- Lemma 2
def _clamp_layer(n_pixels, a_min, name):
    """The 2 n units relu(x_i / a_min) (first n) and relu(x_i / a_min - 1) (next n)."""
    W = np.full((2 * n_pixels, n_pixels), Fraction(0), dtype=object)
    inv = 1 / a_min
    for i in range(n_pixels):
        W[i, i] = W[n_pixels + i, i] = inv
    b = np.array([Fraction(0)] * n_pixels + [Fraction(-1)] * n_pixels, dtype=object)
    return Layer(W, b, name=name)


def _lemma2_network(M, a_min, name):
    N = 2 * M + 1
    half = Fraction(1, 2)
    readout = np.array([[half] * N + [-half] * N], dtype=object)
    return Network(
        [
            _clamp_layer(N, a_min, f"{name}.clamp"),
            Layer(readout, np.array([-half], dtype=object), 1, name=f"{name}.readout"),
        ],
        name=name,
    )


def lemma2_relu(M: int, a_min: Fraction | float = 1, a_max: Fraction | float = 4) -> Construction:
    """Lemma 2 with two ReLU channels: conv(1 -> 2, kernel 1) with weights 1/a_min, biases
    (0, -1), ReLU, global sum of each channel (S_1, S_2), y = (S_1 - S_2 - 1)/2.

    S_1 - S_2 = sum_i c(x_i) with c(x) = relu(x/a_min) - relu(x/a_min - 1), which is 0 at
    x = 0 and 1 at every x >= a_min: S_1 - S_2 = 2r + 1 for every amplitude a >= a_min.
    The claim is checked exactly for a in [a_min, a_max]."""
    require("torch", "the pulse constructions (torch modules)")
    import torch

    check_geometry(M)
    a_min, a_max = _check_amplitude_range(a_min, a_max)
    net = _lemma2_network(M, a_min, "lemma2_relu")
    conv, head = torch.nn.Conv1d(1, 2, 1, dtype=torch.float64), torch.nn.Linear(2, 1, dtype=torch.float64)
    with torch.no_grad():
        assert conv.bias is not None and head.bias is not None
        conv.weight.fill_(1 / float(a_min))
        conv.bias.copy_(torch.tensor([0.0, -1.0], dtype=torch.float64))
        head.weight.copy_(torch.tensor([[0.5, -0.5]], dtype=torch.float64))
        head.bias.fill_(-0.5)
    module = torch.nn.Sequential(conv, torch.nn.ReLU(), GlobalSumPool((-1,)), head).double().eval()
    info = {"a_min": a_min, "channels": 2, "clamp": "relu(x/a_min) - relu(x/a_min - 1)"}
    return Construction("lemma2_relu", "pulse", M, (0, M), (a_min, a_max), net, module, info)


def lemma2_clamp(M: int, a_min: Fraction | float = 1, a_max: Fraction | float = 4) -> Construction:
    """Lemma 2 with one channel and a clamp activation: conv(1 -> 1, kernel 1) with weight
    1/a_min, hardtanh clamped to [0, 1], global sum S = 2r + 1, y = (S - 1)/2. (The
    canonical network writes the clamp as relu(z) - relu(z - 1).)"""
    require("torch", "the pulse constructions (torch modules)")
    import torch

    check_geometry(M)
    a_min, a_max = _check_amplitude_range(a_min, a_max)
    net = _lemma2_network(M, a_min, "lemma2_clamp")
    conv, head = torch.nn.Conv1d(1, 1, 1, dtype=torch.float64), torch.nn.Linear(1, 1, dtype=torch.float64)
    with torch.no_grad():
        assert conv.bias is not None and head.bias is not None
        conv.weight.fill_(1 / float(a_min))
        conv.bias.zero_()
        head.weight.fill_(0.5)
        head.bias.fill_(-0.5)
    module = torch.nn.Sequential(conv, torch.nn.Hardtanh(0.0, 1.0), GlobalSumPool((-1,)), head).double().eval()
    info = {"a_min": a_min, "channels": 1, "clamp": "hardtanh(x/a_min, 0, 1)"}
    return Construction("lemma2_clamp", "pulse", M, (0, M), (a_min, a_max), net, module, info)


# ---------------------------------------------------------------------------- the disk
def disk_readout(R: int) -> PiecewiseLinear1D:
    """The 1-D function through (L(r), r), r = 0..R, on [L(0), L(R)] (L: lattice count)."""
    if not isinstance(R, (int, np.integer)) or R < 1:
        raise ValueError(f"R must be an integer >= 1, got {R!r}")
    xs = [lattice_count(r) for r in range(R + 1)]
    return PiecewiseLinear1D.from_points(xs, list(range(R + 1)))


def disk_network(
    M: int, R: int | None = None, a_min: Fraction | float = 1, a_max: Fraction | float = 4
) -> Construction:
    """Clamp (Lemma 2's, per pixel), global sum S = L(r) = #{i^2 + j^2 <= r^2}, then the
    one-hidden-layer ReLU read-out equal to the piecewise-linear interpolant through
    (L(r), r), r = 0..R (R = M - 1 by default), with the fewest neurons that write that
    function. Exact on integer radii and every amplitude a >= a_min; ``info`` holds that
    count (``minimal_neurons``, proofs/neuron_threshold.md). It is minimal among read-outs
    equal to the interpolant (our reading), not among all functions through the
    points: those can be smaller (R = 2: one neuron instead of two; R = 3: two instead of
    three; proofs/pulse_lemmas.md)."""
    require("torch", "the pulse constructions (torch modules)")
    import torch

    R = M - 1 if R is None else R
    check_geometry(M, R, kind="disk")
    a_min, a_max = _check_amplitude_range(a_min, a_max)
    f = disk_readout(R)
    k = minimal_neurons(f)
    ro = minimal_network(f)
    n_pix = (2 * M + 1) ** 2
    clamp = _clamp_layer(n_pix, a_min, "disk.clamp")
    # hidden neurons read S = sum_i (c1_i - c2_i): column blocks +w and -w
    if len(ro.layers) == 2:
        w0, b0 = ro.layers[0].weight_exact[:, 0], ro.layers[0].bias_exact
        W1 = np.concatenate(
            [np.outer(w0, np.ones(n_pix, dtype=object)), np.outer(-w0, np.ones(n_pix, dtype=object))], axis=1
        )
        hidden = Layer(W1, b0, name="disk.readout.hidden")
        out = Layer(ro.layers[1].weight_exact, ro.layers[1].bias_exact, 1, name="disk.readout.out")
        net = Network([clamp, hidden, out], name="disk")
    else:  # R = 1 with an affine read-out
        w0 = ro.layers[0].weight_exact[0, 0]
        W = np.concatenate([np.full((1, n_pix), w0, dtype=object), np.full((1, n_pix), -w0, dtype=object)], axis=1)
        net = Network([clamp, Layer(W, ro.layers[0].bias_exact, 1, name="disk.readout")], name="disk")
    conv = torch.nn.Conv2d(1, 1, 1, dtype=torch.float64)
    with torch.no_grad():
        assert conv.bias is not None
        conv.weight.fill_(1 / float(a_min))
        conv.bias.zero_()
    layers = [conv, torch.nn.Hardtanh(0.0, 1.0), GlobalSumPool((-3, -2, -1))]
    body = torch.nn.Sequential(*layers)
    head = _readout_module(ro)
    module = torch.nn.Sequential(body, _Unsqueeze(), head).double().eval()
    info = {
        "a_min": a_min,
        "R": R,
        "lattice_counts": [lattice_count(r) for r in range(R + 1)],
        "readout_breakpoints": f.num_breakpoints,
        "readout_neurons": k,
        "readout": f,
    }
    return Construction("disk", "disk", M, (0, R), (a_min, a_max), net, module, info)


def _Unsqueeze():
    require("torch", "the pulse constructions (torch modules)")
    import torch

    class Unsqueeze(torch.nn.Module):
        def forward(self, x):
            return x[:, None]

    return Unsqueeze()


def _readout_module(ro: Network):
    require("torch", "the pulse constructions (torch modules)")
    import torch

    mods: list[torch.nn.Module] = []
    for i, layer in enumerate(ro.layers):
        lin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(np.array(layer.weight)))
            lin.bias.copy_(torch.tensor(np.array(layer.bias)))
        mods.append(lin)
        if i < len(ro.layers) - 1:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def all_constructions(M: int, *, a_min: Fraction | float = 1, a_max: Fraction | float = 4) -> list[Construction]:
    """Every analytic construction at half-length M (the disk with R = M - 1)."""
    out = [lemma1_instance(M)]
    if M >= 4:
        out.append(lemma1_network((Fraction(1, 2), Fraction(3, 2), Fraction(-1, 4)), Fraction(-1, 2), M))
    out += [lemma2_relu(M, a_min, a_max), lemma2_clamp(M, a_min, a_max)]
    if M >= 2:
        out.append(disk_network(M, M - 1, a_min, a_max))
    return out
