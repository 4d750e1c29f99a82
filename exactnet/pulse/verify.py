"""Exact verification that a network outputs the radius of every admissible pulse or disk.

A proof by enumeration, not a sample (our formulation, docs/definitions.md and
proofs/pulse_lemmas.md):

* fixed amplitude a: an exact rational forward pass on the pulse (or disk) of every
  radius r; the error is |y - r|;
* amplitude in [a_min, a_max]: for each r the inputs a * pulse_r form a segment of input
  space, and the exact 1-D region engine returns the network's affine pieces along it.
  The network is exact for that r iff there is one piece, constant, equal to r; otherwise
  each piece's worst error is at one of its ends (the map is affine on it), and the
  amplitudes where y != r are reported.

:func:`verify` takes an analytic :class:`~exactnet.pulse.constructions.Construction`, an
exact :class:`~exactnet.net.network.Network` or any torch module that lowers exactly
(a trained network: its float weights are taken exactly). Smooth activations do not lower;
:func:`float_errors` evaluates those in float64 on a grid instead (no proof).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ..extras import require
from ..net.network import Network
from ..net.rational import format_fraction, to_fraction
from .constructions import Construction
from .data import check_geometry, disk_image, pulse_signal

if TYPE_CHECKING:
    import torch

__all__ = ["Failure", "Verdict", "verify", "float_errors", "disk_real_radii"]


@dataclass(frozen=True)
class Failure:
    """Where a network is not exact: radius r, the amplitudes (a_lo, a_hi) of the failing
    piece (a_lo == a_hi for a single amplitude), the output y at the worst amplitude a,
    and the error |y - r| there."""

    r: int
    a_lo: Fraction
    a_hi: Fraction
    a: Fraction
    y: Fraction
    error: Fraction

    def to_json(self) -> dict:
        f = format_fraction
        return {
            "r": self.r,
            "amplitudes": [f(self.a_lo), f(self.a_hi)],
            "a": f(self.a),
            "y": f(self.y),
            "error": f(self.error),
        }


@dataclass
class Verdict:
    """The outcome of :func:`verify`: ``exact`` (y == r on every admissible input),
    ``worst_error`` and ``worst_input`` (r, a), every ``failures`` entry, and what was
    enumerated (``kind``, ``M``, ``radii``, ``amplitude``, ``pieces`` per radius)."""

    name: str
    kind: str
    M: int
    radii: tuple[int, int]
    amplitude: Fraction | tuple[Fraction, Fraction]
    exact: bool
    worst_error: Fraction
    worst_input: tuple[int, Fraction] | None
    failures: list[Failure] = field(default_factory=list)
    pieces: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        f = format_fraction
        amp = [f(a) for a in self.amplitude] if isinstance(self.amplitude, tuple) else f(self.amplitude)
        return {
            "name": self.name,
            "kind": self.kind,
            "M": self.M,
            "radii": list(self.radii),
            "amplitude": amp,
            "verified": self.exact,
            "worst_error": f(self.worst_error),
            "worst_input": None
            if self.worst_input is None
            else {"r": self.worst_input[0], "a": f(self.worst_input[1])},
            "failures": [x.to_json() for x in self.failures],
        }

    def __str__(self) -> str:
        amp = (
            f"a in [{self.amplitude[0]}, {self.amplitude[1]}]"
            if isinstance(self.amplitude, tuple)
            else f"a = {self.amplitude}"
        )
        head = f"{self.name}: {self.kind}, M = {self.M}, r = {self.radii[0]}..{self.radii[1]}, {amp}: "
        if self.exact:
            return head + "EXACT (y = r on every admissible input)"
        assert self.worst_input is not None  # a network that is not exact has a failing input
        r, a = self.worst_input
        return head + (
            f"NOT exact: worst error {self.worst_error} (~{float(self.worst_error):.3g}) at r = {r}, "
            f"a = {a}; fails for {len({x.r for x in self.failures})} radii"
        )


def _as_network(model, kind: str, M: int) -> Network:
    if isinstance(model, Construction):
        return model.network
    if isinstance(model, Network):
        return model
    torch = sys.modules.get("torch")  # a torch model means torch is imported
    if torch is not None and isinstance(model, torch.nn.Module):
        from ..net.lowering import from_torch

        n = 2 * M + 1
        shape = (1, n) if kind == "pulse" else (1, n, n)
        return from_torch(model.eval(), shape)
    raise TypeError(
        f"model must be a Construction, an exactnet.Network or a torch.nn.Module, got {type(model).__name__}"
    )


def verify(
    model: Construction | Network | torch.nn.Module,
    *,
    kind: str | None = None,
    M: int | None = None,
    radii: tuple[int, int] | None = None,
    amplitude: Fraction | float | tuple[Fraction | float, Fraction | float] | None = None,
    name: str | None = None,
) -> Verdict:
    """Decide exactly whether ``model`` outputs r on every admissible input.

    ``kind`` (``"pulse"`` or ``"disk"``), ``M``, ``radii`` (r_lo, r_hi) and ``amplitude``
    (a number, or a pair (a_min, a_max)) default to the construction's own claim when
    ``model`` is a :class:`Construction`; they are required otherwise. Returns a
    :class:`Verdict`; nothing is sampled."""
    if isinstance(model, Construction):
        kind = kind or model.kind
        M = M if M is not None else model.M
        radii = radii if radii is not None else model.radii
        amplitude = amplitude if amplitude is not None else model.amplitude
        name = name or model.name
    if kind is None or M is None or radii is None or amplitude is None:
        raise ValueError(
            "pass kind ('pulse' or 'disk'), M, radii=(r_lo, r_hi) and amplitude (a number or "
            "(a_min, a_max)) to verify a network that is not a Construction"
        )
    if kind not in ("pulse", "disk"):
        raise ValueError(f"kind must be 'pulse' or 'disk', got {kind!r}")
    r_lo, r_hi = (int(v) for v in radii)
    if r_lo > r_hi:
        raise ValueError(f"radii = {radii}: need r_lo <= r_hi")
    check_geometry(M, r_hi, kind=kind)
    check_geometry(M, r_lo, kind=kind)
    if isinstance(amplitude, (tuple, list)):
        a_min, a_max = (to_fraction(v, "amplitude") for v in amplitude)
        if not 0 < a_min <= a_max:
            raise ValueError(f"amplitude range must satisfy 0 < a_min <= a_max, got {amplitude}")
        amp = (a_min, a_max) if a_min < a_max else a_min
    else:
        amp = to_fraction(amplitude, "amplitude")
        if amp <= 0:
            raise ValueError(f"amplitude must be > 0, got {amp}")
    net = _as_network(model, kind, M)
    n = 2 * M + 1
    want_inputs = n if kind == "pulse" else n * n
    if net.input_dim != want_inputs:
        raise ValueError(f"the network takes {net.input_dim} inputs; a {kind} with M = {M} has {want_inputs}")
    if net.output_dim != 1:
        raise ValueError(f"the network has {net.output_dim} outputs; a radius network has one")
    signal = pulse_signal if kind == "pulse" else disk_image
    failures, pieces = [], {}
    worst, worst_at = Fraction(0), None
    radii_list = list(range(r_lo, r_hi + 1))
    if isinstance(amp, tuple):
        from ..regions.line import segment_regions_batch

        a_min, a_max = amp
        starts = [signal(M, r, a_min) for r in radii_list]
        ends = [signal(M, r, a_max) for r in radii_list]
        batch = segment_regions_batch(net, starts, ends, exact=True)
        for r, res in zip(radii_list, batch):
            pieces[r] = res.num_pieces
            for pc in res.pieces:
                ends_t = (pc.t_lo, pc.t_hi)
                errs = [abs(pc.intercept[0] + pc.slope[0] * t - r) for t in ends_t]
                k = int(errs[1] > errs[0])
                if errs[k] > 0:
                    a_of = [a_min + t * (a_max - a_min) for t in ends_t]
                    y = pc.intercept[0] + pc.slope[0] * ends_t[k]
                    failures.append(Failure(r, a_of[0], a_of[1], a_of[k], y, errs[k]))
                    if errs[k] > worst:
                        worst, worst_at = errs[k], (r, a_of[k])
    else:
        for r in radii_list:
            y = net.forward_exact(signal(M, r, amp))[0]
            pieces[r] = 1
            if y != r:
                err = abs(y - r)
                failures.append(Failure(r, amp, amp, amp, y, err))
                if err > worst:
                    worst, worst_at = err, (r, amp)
    return Verdict(
        name or net.name or "network", kind, M, (r_lo, r_hi), amp, not failures, worst, worst_at, failures, pieces
    )


def float_errors(
    module: torch.nn.Module,
    *,
    kind: str,
    M: int,
    radii: tuple[int, int],
    amplitude: Fraction | float | tuple[Fraction | float, Fraction | float] = 1.0,
    amplitudes: int = 33,
) -> dict:
    """Float64 errors |y - r| of any torch module (smooth activations included) on every
    radius and on ``amplitudes`` evenly spaced amplitudes of the range: ``max_error``,
    its input ``(r, a)`` and the error per radius. An evaluation on a grid, not a proof:
    use :func:`verify` for networks that lower exactly."""
    require("torch", "pulse float errors")
    import torch

    from .data import disks, pulses

    r_lo, r_hi = radii
    gen = pulses if kind == "pulse" else disks
    amps = (
        np.linspace(float(amplitude[0]), float(amplitude[1]), amplitudes)
        if isinstance(amplitude, (tuple, list))
        else np.array([float(amplitude)])
    )
    worst, worst_at = 0.0, None
    per_r: dict[int, float] = {}
    module = module.double().eval()
    for a in amps:
        x, r = gen(M, r_hi, r_min=r_lo, amplitude=float(a), dtype=torch.float64)
        with torch.no_grad():
            y = module(x).reshape(-1)
        err = (y - r).abs().numpy()
        for ri, e in zip(r.numpy().astype(int), err):
            per_r[int(ri)] = max(per_r.get(int(ri), 0.0), float(e))
        i = int(err.argmax())
        if err[i] > worst:
            worst, worst_at = float(err[i]), (int(r[i]), float(a))
    return {"max_error": worst, "at": worst_at, "per_radius": per_r}


def disk_real_radii(
    model: Construction | Network | torch.nn.Module, *, M: int, R: int, amplitude: Fraction | float = 1
) -> dict:
    """The error of a disk network over every real radius rho in [0, R].

    The image of the disk of radius rho changes only where rho^2 crosses a sum of two
    squares n = i^2 + j^2, so on [sqrt(n_k), sqrt(n_{k+1})) the output y_k is constant (one
    exact forward pass each) and sup |y_k - rho| is at an end of the interval. No network
    is exact on real radii (proofs/pulse_lemmas.md): the image, hence y, is the same for every rho in an
    interval. Returns ``sup_error`` (float), the interval ``at`` (rho_lo, rho_hi) and its
    output, and ``intervals``: (n_lo, n_hi, y) for each, exact."""
    import math

    check_geometry(M, R, kind="disk")
    net = _as_network(model, "disk", M)
    a = to_fraction(amplitude, "amplitude")
    n_side = 2 * M + 1
    sq = sorted({i * i + j * j for i in range(R + 1) for j in range(R + 1) if i * i + j * j <= R * R})
    d2 = [(i - M) ** 2 + (j - M) ** 2 for i in range(n_side) for j in range(n_side)]
    intervals, worst, at = [], -1.0, None
    for n_lo, n_hi in zip(sq, sq[1:] + [R * R]):  # the last: the single radius rho = R
        x = [a if q <= n_lo else Fraction(0) for q in d2]
        y = net.forward_exact(x)[0]
        lo, hi = math.sqrt(n_lo), math.sqrt(n_hi)
        err = max(abs(float(y) - lo), abs(float(y) - hi))
        intervals.append((n_lo, n_hi, y))
        if err > worst:
            worst, at = err, (lo, hi, y)
    return {"sup_error": worst, "at": at, "intervals": intervals}
