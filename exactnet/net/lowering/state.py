"""The lowering's state: every live tensor as a value over the current hidden vector, the
layers emitted so far, and emitting new ones (fused into the last layer where possible);
broadcasting, linear combinations and rearrangements of values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..rational import fraction_array, to_fraction
from .fusion import _compose, _dense, _stack, _times, _Units
from .tracing import _BATCH, SUPPORTED, UnsupportedLayerError, _target_name
from .values import _ONE, _ZERO, _const, _ints, _leaves, _map, _map_vals, _Val, _vals_in, _zeros


class _State:
    """The lowering's state: the live values, the layers emitted so far, and emitting more."""

    def __init__(self, root, graph, input_shape):
        self.root, self.nodes = root, list(graph.nodes)
        self.pos = {n: i for i, n in enumerate(self.nodes)}
        self.last_use = {n: max((self.pos[u] for u in n.users), default=-1) for n in self.nodes}
        self.hint = ""
        self._validate()
        self.input_shape = self._input_shape(input_shape)
        self.layers: list[list] = []
        self.width = math.prod(self.input_shape)
        self.env: dict = {}
        self.now = -1

    def _label(self, n) -> str:
        if n.op == "call_module":
            return f"module {n.target!r} ({type(self.root.get_submodule(n.target)).__name__})"
        return f"node {n.name!r} ({_target_name(n)})"

    def _unsupported(self, n, why: str = "") -> UnsupportedLayerError:
        where = (
            f"{self._label(n)} (node {n.name!r}, op=call_module)"
            if n.op == "call_module"
            else (f"node {n.name!r} (op={n.op}, target={_target_name(n)})")
        )
        why = f": {why}" if why else ""
        return UnsupportedLayerError(f"{where} is not supported by from_torch{why}. Supported: {SUPPORTED}.")

    def _mismatch(self, label, expected: str, shape) -> ValueError:
        return ValueError(
            f"{label} expects {expected} but receives per-sample shape {tuple(shape)} "
            f"(batched: (batch, {', '.join(map(str, shape))})){self.hint}"
        )

    def _live(self) -> list[_Val]:
        vals: dict[int, _Val] = {}
        for n, value in self.env.items():
            if self.last_use[n] > self.now:
                vals.update((id(v), v) for v in _vals_in(value))
        return list(vals.values())

    def _emit(self, label: str, blocks=(), dense=None) -> list[_Val]:
        """Add units and return their values: ``dense = (W, b)`` (rows over h, linear units), then
        one unit per element of each ``(value, slope)`` block.

        Blocks are fused into the last layer when every unit they read is linear there; otherwise
        a new layer is appended. In both cases every live value stays readable from the new h.
        """
        live = self._live()
        last = self.layers[-1] if self.layers else None
        reads = np.unique(_ints([v.col for v, _ in blocks]))
        fuse = dense is None and last is not None and all(last[2][u] == 1 for u in reads)
        n_dense = 0 if dense is None else len(dense[1])
        if fuse:
            assert last is not None  # fuse requires a last layer
            keep = np.unique(_ints([v.col for v in live]))
            table = _Units(len(keep))
            for p, u in enumerate(keep.tolist()):
                table.index[(_ONE, _ZERO, (u,), (_ONE,)) if last[2][u] == 1 else ("keep", u)] = p
            where = np.full(self.width, -1, dtype=np.int64)
            where[keep] = np.arange(len(keep))
            moved = {id(v): v.with_cols(where[v.col]) for v in live}
        else:
            table = _Units(n_dense)
            moved = {id(v): table.passthrough(v) for v in live}
        outs = [table.add(v, Fraction(slope)) for v, slope in blocks]
        row, col, coef, offset, slopes = table.arrays()
        if fuse:
            assert last is not None
            W, b, s, nm = last
            R, rb = _compose(row, col, coef, offset, W, b)
            slopes = [s[u] for u in keep] + slopes
            self.layers[-1] = [_stack([W[keep], R]), _stack([b[keep], rb]), slopes, f"{nm}, {label}"]
        else:
            parts = [dense] if dense is not None else []
            parts.append((_dense(row, col, coef, (len(offset), self.width)), offset))
            W, b = _stack([p[0] for p in parts]), _stack([p[1] for p in parts])
            self.layers.append([W, b, [_ONE] * n_dense + slopes, label])
        self.width = len(self.layers[-1][2])
        for n in self.env:
            if self.last_use[n] > self.now:
                self.env[n] = _map_vals(self.env[n], lambda v: moved[id(v)])
        if dense is not None:
            outs.insert(0, _Val.plain((n_dense,), np.arange(n_dense)))
        return outs

    def _affine(self, label, x: _Val, W, b, shape) -> _Val:
        """A new layer with the linear units ``W x + b`` (per-sample output ``shape``)."""
        R, rb = _times(W, np.asarray(b), x, self.width)
        return self._emit(label, dense=(R, rb))[0].reshape(shape)

    def _finish(self, v: _Val) -> None:
        """Make the last layer's output exactly ``v``."""
        v = v.canonical()
        if self.layers and v.is_identity(self.width):
            return
        last = self.layers[-1] if self.layers else None
        if last is not None and all(last[2][u] == 1 for u in np.unique(v.col)):
            R, rb = _compose(v.row, v.col, v.coef, v.offset, last[0], last[1])
            self.layers[-1] = [R, rb, [_ONE] * v.size, last[3]]
        else:
            D = _dense(v.row, v.col, v.coef, (v.size, self.width))
            self.layers.append([D, v.offset, [_ONE] * v.size, "output"])

    def _broadcast(self, label, operands):
        """The broadcast per-sample shape, and each operand on it: a value, or a Fraction array for a constant."""
        import torch

        shapes = []
        for B in (2, 3):  # two batch sizes: constants must not depend on the batch
            batched = [(B,) + o.shape if isinstance(o, _Val) else tuple(np.shape(_const(label, o))) for o in operands]
            try:
                out = tuple(torch.broadcast_shapes(*batched))
            except RuntimeError as err:
                raise ValueError(f"{label}: operand shapes {batched} do not broadcast: {err}") from None
            if out[:1] != (B,) or any(isinstance(o, _Val) and len(o.shape) + 1 != len(out) for o in operands):
                raise UnsupportedLayerError(f"{label}: broadcasting {batched} mixes the batch axis with a feature axis")
            shapes.append(out[1:])
        if shapes[0] != shapes[1]:
            raise UnsupportedLayerError(f"{label}: a constant operand depends on the batch size")
        shape = shapes[0]
        res = []
        for o in operands:
            if isinstance(o, _Val):
                same = o.shape == shape
                res.append(o if same else o.take(np.broadcast_to(np.arange(o.size).reshape(o.shape), shape), shape))
            else:
                res.append(fraction_array(np.broadcast_to(_const(label, o), (1,) + shape).reshape(-1), label))
        return shape, res

    def _lincomb(self, label, terms) -> _Val:
        """``sum factor * operand`` over ``(operand, factor)`` pairs, operands values or constants."""
        shape, ops = self._broadcast(label, [t for t, _ in terms])
        out, const = None, _zeros(math.prod(shape))
        for op, (_, f) in zip(ops, terms):
            f = to_fraction(f, f"{label} factor")
            if isinstance(op, _Val):
                out = op.affine(f) if out is None else out.plus(op.affine(f))
            else:
                const = const + op * f
        assert out is not None, f"{label}: a linear combination of constants only"  # callers pass a value
        return out.affine(_ONE, const)

    def _rearrange(self, label, run, args, kwargs):
        """A pure rearrangement (view, cat, indexing, ...): ``run`` is evaluated on integer tensors
        holding each element's id, for two batch sizes; the ids in the result say where each element
        comes from, provided every sample of the result draws from the same sample of the inputs."""
        import torch

        vals = list({id(v): v for v in _vals_in((args, kwargs))}.values())
        if any(isinstance(a, torch.Tensor) for a in _leaves((args, kwargs))):
            raise UnsupportedLayerError(f"{label} mixes a constant tensor into a rearrangement; not supported")
        which = {id(v): j for j, v in enumerate(vals)}
        sizes = np.array([v.size for v in vals])
        base = np.r_[0, np.cumsum(sizes)]
        found = None
        for B in (2, 3):

            def ids(a, B=B):
                if isinstance(a, _Val):
                    j = which[id(a)]
                    return torch.arange(B * base[j], B * base[j + 1]).reshape((B,) + a.shape)
                return B if a is _BATCH else a

            try:
                out = run(*_map(args, ids), **_map(kwargs, ids))
            except Exception as err:
                shapes = [v.shape for v in vals]
                raise UnsupportedLayerError(
                    f"{label} fails on per-sample shapes {shapes}: {type(err).__name__}: {err}"
                ) from None
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            decoded = []
            for t in outs:
                if not (isinstance(t, torch.Tensor) and t.dtype == torch.int64 and t.ndim >= 1 and t.shape[0] == B):
                    raise UnsupportedLayerError(
                        f"{label} does not keep the batch axis first: from_torch supports "
                        f"rearrangements of the per-sample data (the batch axis stays axis 0)"
                    )
                e = t.reshape(B, -1).numpy()
                j = np.searchsorted(B * base, e, side="right") - 1
                sample, elem = np.divmod(e - B * base[j], np.maximum(sizes[j], 1))
                if not ((sample == np.arange(B)[:, None]).all() and (j == j[:1]).all() and (elem == elem[:1]).all()):
                    raise UnsupportedLayerError(
                        f"{label} mixes the samples of a batch (it must keep the batch axis "
                        f"first and the samples apart)"
                    )
                decoded.append((tuple(t.shape[1:]), base[j[0]] + elem[0]))
            if found is not None and any(s != f[0] or not np.array_equal(g, f[1]) for (s, g), f in zip(decoded, found)):
                raise UnsupportedLayerError(f"{label} depends on the batch size")
            found = decoded
        stacked = _Val.concat(vals)
        res = [stacked.take(g, s) for s, g in found]
        return tuple(res) if isinstance(out, (tuple, list)) else res[0]
