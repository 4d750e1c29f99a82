"""The n-D engine's fast path: the compiled kernel (:mod:`._kernel`) run in batches over the
cells of the first layer (a progress bar, Ctrl-C between batches, the region cap), the
Python engine on any cell where the float bound leaves a sign undecided (it decides such
signs exactly), and the whole enumeration back to the Python engine when an exact sign is
0 (the arrangement is not in general position). The cells come out as ``._engine.Cell``
objects built on first access, exact ones in exact mode.

Both modes take this path on a box or a polytope: every decision in it is exact (certified
by its bound, or decided in rationals), so the regions, the graph and the counts are the
exact ones; in exact mode every coordinate and map reported is computed in rationals from
the exact rows of the constraints, when first read.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import overload

import numpy as np

from ...net.network import Network
from .._common import RegionLimitError
from .._flat import engine_data
from ._engine import Cell, Polytope0, _Engine, _float_map, enumerate_cells
from ._kernel import _TINY, LIMIT, KernelCells, SpaceNet, region_edges, run_kernel, space_net
from ._maps import UNIT_ROUNDOFF, solve_vertex

__all__ = ["CompiledCells", "enumerate_compiled", "enumerate_space"]


def _slots_of(present: np.ndarray, bits: np.ndarray, net: SpaceNet) -> list[tuple]:
    """The slots of a cell (``._engine`` names) for the global constraint numbers
    ``present`` (increasing), given its on-bits over every unit."""
    slots: list[tuple] = []
    for g in present.tolist():
        if g < net.n_dom:
            slots.append(("domain", g))
        else:
            u = g - net.n_dom
            l = int(np.searchsorted(net.u_off, u, side="right")) - 1
            slots.append((l, u - int(net.u_off[l]), 1 if bits[u] else -1))
    return slots


def _cell(kc: KernelCells, i: int, net: SpaceNet, layers_done: int) -> Cell:
    """Cell i of ``kc`` as an ``._engine.Cell`` (with the on-bits of its first
    ``layers_done`` layers)."""
    a, b = int(kc.starts[i]), int(kc.starts[i + 1])
    bools = np.unpackbits(kc.I[a:b].astype("<u8").view(np.uint8), axis=1, bitorder="little").astype(bool)
    present = np.flatnonzero(bools.any(axis=0))
    bits = [kc.bits[i, net.u_off[l] : net.u_off[l + 1]].copy() for l in range(layers_done)]
    k = b - a
    return Cell(
        i, kc.V[a:b].copy(), None, kc.E[a:b].copy(), np.full(k, None, dtype=object), bools[:, present],
        _slots_of(present, kc.bits[i], net), bits,
    )  # fmt: skip


class CompiledCells(Sequence):
    """The kernel's cells as :class:`._engine.Cell` objects, each built on first access
    (its slots are the constraints its vertices touch, in the global order)."""

    def __init__(self, cells: KernelCells, net: SpaceNet, exact_engine: _Engine | None = None):
        self.kc = cells
        self.net = net
        #: an exact engine: the cells are then built in exact form (homogeneous integer
        #: vertices, each solved from its tight constraints' exact rows)
        self.exact_engine = exact_engine
        self._made: dict[int, Cell] = {}

    def __len__(self) -> int:
        return len(self.kc.starts) - 1

    @overload
    def __getitem__(self, i: int) -> Cell: ...
    @overload
    def __getitem__(self, i: slice) -> list[Cell]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        got = self._made.get(i)
        if got is None:
            got = _cell(self.kc, i, self.net, len(self.net.rows))
            if self.exact_engine is not None:
                got = _exact_cell(got, self.exact_engine)
            self._made[i] = got
        return got


def _exact_cell(cell: Cell, eng: _Engine) -> Cell:
    """The cell with exact homogeneous integer vertices (N, d), each solved from the exact
    rows of the constraints tight at it."""
    k, m = cell.V.shape
    N = np.empty((k, m), dtype=object)
    d = np.empty(k, dtype=object)
    rows = [eng.slot_row(cell, s) for s in cell.slots]
    for i in range(k):
        N[i], d[i] = solve_vertex([r for r, t in zip(rows, cell.inc[i]) if t], m)
    return Cell(cell.cid, N, d, None, None, cell.inc, cell.slots, cell.bits)


def _from_python(cells: list[Cell], net: SpaceNet, eng: _Engine) -> KernelCells:
    """Cells of the Python engine (in general position) in the kernel's pooled form."""
    L = len(net.rows)
    fmaps: dict = {}
    V, E, I, bits, maps = [], [], [], [], []
    for c in cells:
        gids = np.array(
            [s[1] if s[0] == "domain" else net.n_dom + int(net.u_off[s[0]]) + s[1] for s in c.slots], dtype=np.int64
        )
        inc = np.zeros((len(c.V), net.n_words), dtype=np.uint64)
        for col, g in enumerate(gids.tolist()):
            inc[c.inc[:, col], g // 64] |= np.uint64(1) << np.uint64(g % 64)
        V.append(c.V)
        E.append(c.err)
        I.append(inc)
        bits.append(np.concatenate(c.bits))
        maps.append(_float_map(eng.net, L - 1, c.bits, fmaps))
    starts = np.concatenate([[0], np.cumsum([len(v) for v in V])]).astype(np.int64)
    return KernelCells(
        np.concatenate(V), np.concatenate(E), np.concatenate(I), starts, np.array(bits, dtype=np.bool_),
        np.array([f.A for f in maps]), np.array([f.c for f in maps]),
        np.array([f.eA for f in maps]), np.array([f.ec for f in maps]),
    )  # fmt: skip


def _take(kc: KernelCells, i: int, j: int) -> KernelCells:
    """Cells i..j-1 of ``kc``."""
    a, b = int(kc.starts[i]), int(kc.starts[j])
    return KernelCells(
        kc.V[a:b], kc.E[a:b], kc.I[a:b], kc.starts[i : j + 1] - a, kc.bits[i:j],
        kc.A[i:j], kc.c[i:j], kc.eA[i:j], kc.ec[i:j],
    )  # fmt: skip


def enumerate_compiled(
    net: Network, start: Polytope0, max_regions: int | None, progress: bool
) -> tuple[CompiledCells, tuple[np.ndarray, np.ndarray]] | None:
    """The fast mode's cells and region graph from the compiled kernel, or None when the
    arrangement is not in general position (a sign decided exactly to be 0, or a starting
    vertex on more than n constraints): the caller then runs the Python engine on all of
    it. A subtree (below a cell of the first layer) where the float bound leaves a sign
    undecided is cut by the Python engine, which decides it exactly. Raises
    :class:`RegionLimitError` past ``max_regions``. With ``progress``, a tqdm bar over the
    cells of the first layer (the kernel runs on them in batches, so Ctrl-C stops it
    between batches)."""
    m = start.N.shape[1]
    if (start.inc.sum(axis=1) != m).any():
        return None
    sn = space_net(net, start.inc.shape[1])
    k = start.N.shape[0]
    V0 = np.array([[float(Fraction(int(a), int(dd))) for a in row] for row, dd in zip(start.N, start.d)])
    E0 = np.abs(V0).max(axis=1) * (2 * UNIT_ROUNDOFF) + _TINY
    I0 = np.zeros((k, sn.n_words), dtype=np.uint64)
    for g in range(start.inc.shape[1]):
        I0[start.inc[:, g], g // 64] |= np.uint64(1) << np.uint64(g % 64)
    U = len(sn.b)
    n_layers = len(sn.rows)
    seeds = KernelCells(
        V0, E0, I0, np.array([0, k], dtype=np.int64), np.zeros((1, U), dtype=np.bool_),
        np.zeros((1, 0, m)), np.zeros((1, 0)), np.zeros((1, 0, m)), np.zeros((1, 0)),
    )  # fmt: skip
    limit = -1 if max_regions is None else int(max_regions)
    status, count, first, failed = run_kernel(sn, seeds, 0, min(1, n_layers), limit, 0)
    if failed:
        return None  # a sign undecided on the first layer: the Python engine for all of it
    if status == LIMIT:
        raise RegionLimitError(count, limit)
    python_engine: _Engine | None = None
    n_first = len(first.starts) - 1
    parts: list[KernelCells] = []
    found = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_first, desc="regions: layer-1 cells", unit="cell")
    try:
        step = max(1, n_first // 100)
        # (a network of one layer is done: its cells are the first layer's)
        for s in range(0, n_first if n_layers > 1 else 0, step):
            e = min(n_first, s + step)
            status, count, got, failed = run_kernel(sn, _take(first, s, e), 1, n_layers, limit, found + n_first - e)
            if status == LIMIT:
                raise RegionLimitError(count, limit)
            done = 0
            for at, layer, cell in failed:
                # the kernel's cells before this one, then the Python engine's for it
                if at > done:
                    parts.append(_take(got, done, at))
                done = at
                if python_engine is None:
                    python_engine = _Engine(net, start, False, None, None)
                sub = python_engine.subtree(_cell(cell, 0, sn, layer), layer)
                if python_engine.exact_zeros:
                    return None  # not in general position: the Python engine for all of it
                parts.append(_from_python(sub, sn, python_engine))
            if len(got.starts) - 1 > done:
                parts.append(_take(got, done, len(got.starts) - 1))
            found = sum(len(p.starts) - 1 for p in parts)
            if limit >= 0 and found + n_first - e > limit:
                raise RegionLimitError(found + n_first - e, limit)
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    cells = _concat(parts) if n_layers > 1 else first
    edges = region_edges(cells, sn, engine_data(net, "float").neuron_bit)
    if edges is None:
        return None
    return CompiledCells(cells, sn), edges


def _concat(parts: list[KernelCells]) -> KernelCells:
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [int(p.starts[-1]) for p in parts])
    starts = np.concatenate([parts[0].starts[:1]] + [p.starts[1:] + o for p, o in zip(parts, offsets)])
    return KernelCells(
        np.concatenate([p.V for p in parts]),
        np.concatenate([p.E for p in parts]),
        np.concatenate([p.I for p in parts]),
        starts,
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("bits", "A", "c", "eA", "ec")),
    )


def enumerate_space(
    net: Network,
    start: Polytope0,
    *,
    exact: bool,
    max_regions: int | None,
    progress: bool = False,
    whole_space: bool = False,
    keep_slots: frozenset = frozenset(),
) -> tuple[Sequence[Cell], _Engine, tuple[np.ndarray, np.ndarray] | None]:
    """The cells of ``start`` cut by ``net``: (cells, engine, graph). The compiled path
    unless the arrangement is not in general position or ``whole_space`` (homogenised: every
    hyperplane passes through the origin), then the Python engine; ``graph`` is the
    compiled path's edge arrays, None when the region graph is the engine's ``adj``."""
    if not whole_space:
        got = enumerate_compiled(net, start, max_regions, progress)
        if got is not None:
            cells, graph = got
            eng = _Engine(net, start, exact, max_regions, None)  # exact rows and vertices on demand
            if exact:
                cells.exact_engine = eng
            return cells, eng, graph
    py_cells, eng = enumerate_cells(
        net, start, exact=exact, max_regions=max_regions, progress=progress, keep_slots=keep_slots
    )
    return py_cells, eng, None
