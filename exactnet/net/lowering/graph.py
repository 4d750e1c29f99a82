"""The driver: validating a traced graph (supported nodes, eval mode, one input and output,
safe in-place operations), the per-sample input shape, and walking the nodes in order."""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from ..network import Layer, Network
from .functions import _FunctionRules
from .modules import _check_module
from .tracing import _COPIES, UnsupportedLayerError, _Batch, _entry, _leaf_kind, _Opaque, _target_name
from .values import _leaves, _Val, _vals_in

_Call = namedtuple("_Call", "label node args kwargs p run extra")


class _Lowering(_FunctionRules):
    """Walks a traced graph and accumulates layers ``[weight, bias, slopes, name]``."""

    def _validate(self) -> None:
        """Unsupported modules, training mode, extra inputs, several outputs and unsafe in-place ops."""
        from torch import fx

        inputs = [n for n in self.nodes if n.op == "placeholder"]
        if not inputs:
            raise UnsupportedLayerError("the model's forward takes no input")
        for n in inputs[1:]:
            if not n.args:
                raise UnsupportedLayerError(
                    f"forward takes a second input {n.target!r}; from_torch lowers models of one input tensor"
                )
        for n in self.nodes:
            if n.op == "call_module":
                m = self.root.get_submodule(n.target)
                kind = _leaf_kind(m)
                if kind is None:
                    raise self._unsupported(n)
                _check_module(self._label(n), m, kind)
            elif n.op == "output" and not isinstance(n.args[0], fx.Node):
                raise UnsupportedLayerError(
                    f"the model returns {type(n.args[0]).__name__} {n.args[0]!r}; from_torch supports a single "
                    f"output tensor (several outputs are not supported)"
                )
        self._check_inplace()

    def _inplace(self, n) -> bool:
        if n.op == "call_module":
            return bool(getattr(self.root.get_submodule(n.target), "inplace", False))
        if n.op == "call_method":
            return n.target.endswith("_") and not n.target.endswith("__")
        entry = _entry(n)
        if n.op != "call_function" or entry is None:
            return False
        import torch
        import torch.nn.functional as F

        if n.target in (torch.relu_, F.relu_, F.leaky_relu_):
            return True
        p = dict(zip(entry[1].split(), n.args[1:]))
        p.update(n.kwargs)
        return bool(p.get("inplace", False))

    def _is_view(self, n) -> bool:
        if n.op == "call_module":
            return _leaf_kind(self.root.get_submodule(n.target)) in (
                "Identity",
                "Flatten",
                "Unflatten",
                "Dropout",
                "Dropout1d",
                "Dropout2d",
            )
        entry = _entry(n)
        name = n.target if n.op == "call_method" else getattr(n.target, "__name__", "")
        return entry is not None and entry[0] in ("rearrange", "getitem", "identity", "dropout") and name not in _COPIES

    def _check_inplace(self) -> None:
        """An in-place op is lowered as its out-of-place form: allowed only when no tensor sharing the
        modified memory (a view chain) is read after it."""
        from torch import fx

        group = {n: n for n in self.nodes}

        def find(n):
            while group[n] is not n:
                n = group[n]
            return n

        for n in self.nodes:
            if (self._inplace(n) or self._is_view(n)) and n.args and isinstance(n.args[0], fx.Node):
                group[find(n)] = find(n.args[0])
        for n in self.nodes:
            if not (self._inplace(n) and n.args and isinstance(n.args[0], fx.Node)):
                continue
            root = find(n)
            for a in self.nodes:
                late = [u.name for u in a.users if self.pos[u] > self.pos[n]]
                if find(a) is root and self.pos[a] < self.pos[n] and late:
                    raise self._unsupported(
                        n,
                        f"it modifies {n.args[0].name!r} in place while {a.name!r}, which shares its memory, is still "
                        f"read later by {', '.join(late)}; use the out-of-place form",
                    )

    def _input_shape(self, input_shape) -> tuple[int, ...]:
        if input_shape is not None:
            shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
            ok = all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape)
            if not shape or not ok:
                raise ValueError(
                    f"input_shape must be the per-sample shape, positive ints such as (n,), (channels, length) or "
                    f"(channels, height, width); got {input_shape!r}"
                )
            return tuple(int(s) for s in shape)
        for n in self.nodes:
            if n.op != "call_module":
                continue
            m = self.root.get_submodule(n.target)
            kind = _leaf_kind(m)
            if kind == "Linear":
                self.hint = (
                    f" (input_shape was inferred as ({m.in_features},) from {self._label(n)}; pass input_shape if "
                    f"the model takes another per-sample shape)"
                )
                return (m.in_features,)
            if kind is not None and kind.startswith(("Conv", "AvgPool", "MaxPool", "Adaptive", "BatchNorm2d")):
                raise ValueError(
                    f"input_shape (the per-sample shape, e.g. (channels, length) or (channels, height, width)) is "
                    f"required: the first affine module {n.target!r} is {type(m).__name__}, whose dense matrix "
                    f"depends on the input size"
                )
        raise ValueError("input_shape is required: the model has no Linear layer to infer the input size from")

    def run(self, name) -> Network:
        needed = set()  # nodes the output depends on; the others are skipped
        stack = [n for n in self.nodes if n.op == "output"]
        while stack:
            n = stack.pop()
            if n not in needed:
                needed.add(n)
                stack.extend(n.all_input_nodes)
        first_input = next(n for n in self.nodes if n.op == "placeholder")
        for i, n in enumerate(self.nodes):
            self.now = i
            if n.op == "output":
                return self._output(n, name)
            if n not in needed:
                continue
            if n is first_input:
                self.env[n] = _Val.plain(self.input_shape, np.arange(self.width))
            elif n.op == "placeholder":
                self.env[n] = n.args[0]  # an argument with a default value
            elif n.op == "get_attr":
                self.env[n] = functools.reduce(getattr, n.target.split("."), self.root)
            elif n.op == "call_module":
                x = self.env[n.args[0]] if n.args else None
                if not isinstance(x, _Val) or len(n.args) + len(n.kwargs) != 1:
                    raise self._unsupported(n, "a layer must be called on one tensor computed from the input")
                m = self.root.get_submodule(n.target)
                self.env[n] = self._module(self._label(n), m, _leaf_kind(m), x)
            else:
                self.env[n] = self._call(n)
            for a in list(self.env):
                if self.last_use[a] <= i:
                    del self.env[a]
        raise AssertionError("graph without output")

    def _output(self, n, name) -> Network:
        out = self.env.get(n.args[0])
        if not isinstance(out, _Val):
            raise UnsupportedLayerError(
                f"the model's output {n.args[0].name!r} is {out!r}, not a single tensor computed from the input"
            )
        self._finish(out)
        return Network([Layer(w, b, s, name=nm) for w, b, s, nm in self.layers], name=name)

    def _call(self, n):
        from torch.fx.node import map_arg

        args = map_arg(n.args, self.env.__getitem__)
        kwargs = map_arg(n.kwargs, self.env.__getitem__)
        entry = _entry(n)
        data = bool(_vals_in((args, kwargs)))
        if entry is None:
            if data:
                raise self._unsupported(n)
            return self._fold(n, args, kwargs)
        kind, names, extra = entry
        if not data and kind == "getitem" and isinstance(args[0], tuple):  # x.shape[0], x.size()[1:]
            return args[0][args[1]]
        if not data:
            return self._fold(n, args, kwargs)
        p = dict(zip(names.split(), args[1:]))
        p.update(kwargs)
        if n.op == "call_method":
            method = n.target if kind != "rearrange" else n.target.rstrip("_")

            def run(*a, **k):
                return getattr(a[0], method)(*a[1:], **k)

        else:
            run = n.target
        c = _Call(self._label(n), n, args, kwargs, p, run, extra)
        data_anywhere = ("add", "sub", "mul", "maximum", "minimum", "getattr", "getitem", "rearrange")
        if kind not in data_anywhere and not isinstance(args[0], _Val):
            raise self._unsupported(n, "its first argument must be a tensor computed from the input")
        return getattr(self, "_op_" + kind)(c)

    def _fold(self, n, args, kwargs):
        """Evaluate a node that does not read the input (constants, shape arithmetic)."""
        odd = [a for a in _leaves((args, kwargs)) if isinstance(a, (_Batch, _Opaque))]
        if odd:
            raise self._unsupported(n, f"it computes with {odd[0]!r}")
        name = _target_name(n)
        if any(w in name for w in ("rand", "normal", "bernoulli", "dropout")):
            raise self._unsupported(n, "it is random")
        try:
            if n.op == "call_method":
                return getattr(args[0], n.target)(*args[1:], **kwargs)
            return n.target(*args, **kwargs)
        except Exception as err:
            raise self._unsupported(n, f"evaluating it on constants raised {type(err).__name__}: {err}") from None
