"""Compile mode on XLA (``backend="jax"``): the program of step 4, emitted as ``jax.numpy`` and
jitted by JAX.

The same traced, grouped program (``program.Program``: groups of nodes over numbered slots)
becomes one pure function ``loss(theta, inputs, captured)``: each group runs its table row with
``jax.numpy`` (the namespace ``JaxArrays``, the jnp twin of ``arrays.Arrays``), each matrix
product (``Layer``) is one ``@``. JAX differentiates that function; every elementwise row keeps
**the table's own derivative rule** (a ``jax.custom_jvp`` built from ``op.derivative``), so
relu'(0) = 0, masked zeros and BCE's clamp are eager's. XLA fuses the whole step into one native
program.

What differs from the NumPy replay: sums and products add in XLA's order, not eager's, so the
numbers equal eager's to rounding (the compile contract: 1e-9 relative over a fit), not bit for
bit; XLA's exp, log and tanh may differ from the C library's in the last bit; and XLA on CPU
flushes subnormal numbers (below 2.2e-308) to zero. So, as with a batch replay
(``sums.TAME``), a call whose numbers come near overflow (where the order of adding could
decide between inf and a finite number) or hold an inf or a nan, or whose parameters, inputs or
constants are subnormal, is computed eagerly instead (a result that underflows into the subnormal range
inside the program becomes 0). A bad ``pick`` or ``nll`` index raises ``PickIndexError``
after the call (a jitted function cannot raise).

Float64 is switched on only while chainrule's functions trace and run (``jax.enable_x64``): a
user's other JAX code keeps its own setting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from .arrays import Masked
from .groups import Group, Layer
from .sums import TAME

JAX_HINT = "pip install 'jax[cpu]' (or: pip install 'chainrule[jax]')"


def jax_modules() -> tuple[Any, Any]:
    """``jax`` and ``jax.numpy``, or an error that says how to install them."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as error:
        raise ModuleNotFoundError(
            f"compile mode's backend 'jax' needs JAX, which is not installed: {JAX_HINT}; "
            "or use the default NumPy backend"
        ) from error
    return jax, jnp


class JaxArrays:
    """The functions of ``ops.FLOATS`` on ``jax.numpy`` arrays, in the forms ``arrays.Arrays``
    uses (PyTorch's special powers, sigmoid's two forms, masked zeros as ``Masked``). One
    instance per traced function: it collects the index checks of ``pick`` and ``nll``
    (``bad``), which the function returns, since a jitted function cannot raise."""

    add, sub, mul, neg = (staticmethod(f) for f in (operator.add, operator.sub, operator.mul, operator.neg))

    def __init__(self, jax: Any, jnp: Any):
        self.jax, self.jnp = jax, jnp
        self.bad: list[Any] = []
        for name in ("exp", "log", "log1p", "sqrt", "tanh", "abs"):
            setattr(self, name, getattr(jnp, name))
        self.div, self.pow = jnp.true_divide, jnp.power

    def pow_const(self, a: Any, b: float) -> Any:
        jnp = self.jnp
        special = {2.0: lambda: a * a, 3.0: lambda: a * a * a, -1.0: lambda: 1.0 / a, -2.0: lambda: 1.0 / (a * a),
                   0.5: lambda: jnp.sqrt(a), -0.5: lambda: 1.0 / jnp.sqrt(a)}.get(b)
        return jnp.power(a, b) if special is None else special()

    def sigmoid(self, a: Any) -> Any:
        jnp = self.jnp
        e = jnp.exp(jnp.where(a >= 0, -a, a))
        return jnp.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def relu(self, a: Any) -> Any:
        return self.jnp.where(a < 0, 0.0, a)

    def sign(self, a: Any) -> Any:
        jnp = self.jnp
        return jnp.where(a > 0, 1.0, jnp.where(a < 0, -1.0, 0.0))

    def step(self, y: Any) -> Masked:
        return Masked(y <= 0, 1.0)

    def number(self, x: Any) -> Any:
        return x

    def where(self, condition: Any, value: Any, rule: Callable[[], Any]) -> Any:
        if value is ops.MASKED_ZERO:
            return Masked(condition, rule())
        return self.jnp.where(condition, value, rule())

    def bce(self, p: Any, y: Any) -> Any:
        jnp = self.jnp
        return (y - 1.0) * jnp.maximum(jnp.log1p(-p), ops.BCE_LOG_FLOOR) - y * jnp.maximum(jnp.log(p),
                                                                                           ops.BCE_LOG_FLOOR)

    # n-ary rows: ``rows`` is (operands, nodes[, samples]); JAX differentiates these forms itself
    # (their derivatives are 1, the other half of a dot, a one-hot, none, and nll's, as the table's)
    def sum_of_rows(self, rows: Any) -> Any:
        return self.jnp.sum(rows, axis=0)

    def dot_of_rows(self, rows: Any) -> Any:
        n = len(rows) // 2
        total = self.jnp.sum(rows[:n] * rows[n : 2 * n], axis=0)
        return total + rows[-1] if len(rows) % 2 else total

    def _hits(self, index: Any, n: int) -> Any:
        """A one-hot (n, *index.shape) of ``index``, whose check (a whole number from 0 to n - 1,
        as ``ops.index_of``) goes into ``self.bad``."""
        jnp = self.jnp
        self.bad.append(jnp.any((index != jnp.floor(index)) | (index < 0) | (index >= n) | (index != index)))
        return jnp.arange(n).reshape((n,) + (1,) * index.ndim) == index

    def pick_of_rows(self, rows: Any) -> Any:
        return self.jnp.sum(self.jnp.where(self._hits(rows[-1], len(rows) - 1), rows[:-1], 0.0), axis=0)

    def detached_max_of_rows(self, rows: Any) -> Any:
        return self.jax.lax.stop_gradient(self.jnp.max(rows, axis=0))  # nan if one is nan, as ops.largest

    def nll_of_rows(self, rows: Any) -> Any:
        jnp = self.jnp
        n = len(rows) // 2
        exps, shifted = rows[:n], rows[n : 2 * n]
        hits = self._hits(rows[-1], n)
        total = (jnp.sum(jnp.where(hits, exps, 0.0), axis=0) - 1.0) + jnp.sum(jnp.where(hits, 0.0, exps), axis=0)
        return jnp.log1p(total) - jnp.sum(jnp.where(hits, shifted, 0.0), axis=0)

    def with_table_rule(self, op: ops.Op, exponent: float | None) -> Callable[..., Any]:
        """``op`` on arrays, differentiated by JAX with the table's derivative rule (a masked
        zero stays 0 times any tangent, inf and nan included)."""
        jax, jnp = self.jax, self.jnp

        def operands(rows: tuple[Any, ...]) -> tuple[Any, ...]:
            return rows if exponent is None else (rows[0], exponent)

        def forward(*rows: Any) -> Any:
            return op.forward(self, *operands(rows))

        rule = jax.custom_jvp(forward)

        def jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
            out = forward(*primals)
            total = None
            for local, tangent in zip(op.derivative(self, out, *operands(primals)), tangents):
                if type(tangent) is jax.custom_derivatives.SymbolicZero or local is ops.MASKED_ZERO:
                    continue
                if isinstance(local, Masked):  # (masked twice: the transposed product, too, is 0 there, not 0 * nan)
                    term = jnp.where(local.mask, 0.0, jnp.where(local.mask, 0.0, local.values) * tangent)
                else:
                    term = local * tangent
                total = term if total is None else total + term
            return out, jnp.zeros_like(out) if total is None else jnp.broadcast_to(total, jnp.shape(out))

        rule.defjvp(jvp, symbolic_zeros=True)
        differentiated: Callable[..., Any] = rule
        return differentiated


class _Slots:
    """The slots' values while the function runs, as blocks in slot order (the leaves, then each
    group's nodes): no array of every slot is ever written, each group reads its operands from
    the blocks that hold them."""

    def __init__(self, jnp: Any, blocks: list[Any]):
        self.jnp = jnp
        self.blocks = blocks
        self.starts = list(np.cumsum([0] + [b.shape[0] for b in blocks[:-1]]))
        self.end = int(sum(b.shape[0] for b in blocks))

    def add(self, block: Any) -> None:
        self.starts.append(self.end)
        self.blocks.append(block)
        self.end += block.shape[0]

    def read(self, slots: Any) -> Any:
        """The values at ``slots`` (an integer array of any shape), shaped ``slots.shape + (samples,)``."""
        flat = np.asarray(slots, dtype=np.intp).reshape(-1)
        which = np.searchsorted(self.starts, flat, side="right") - 1
        used = np.unique(which).tolist()
        parts = [self.blocks[b] for b in used]
        trailing = np.broadcast_shapes(*(p.shape[1:] for p in parts))
        if len(parts) > 1:
            offsets = np.cumsum([0] + [p.shape[0] for p in parts[:-1]])
            local = flat - np.asarray(self.starts)[which] + offsets[np.searchsorted(used, which)]
            source = self.jnp.concatenate([self.jnp.broadcast_to(p, p.shape[:1] + trailing) for p in parts])
        else:
            local, source = flat - self.starts[used[0]], parts[0]
        if local.size and np.array_equal(local, np.arange(local[0], local[0] + local.size)):
            picked = source[int(local[0]) : int(local[0]) + local.size]  # consecutive: a slice
        else:
            picked = source[local]
        return picked.reshape(np.shape(slots) + source.shape[1:])


def _slots_of(index: Any) -> Any:
    return np.arange(index.start, index.stop) if isinstance(index, slice) else np.asarray(index)


class JaxProgram:
    """A ``Program`` as one jitted function of the parameters, the inputs and the captured
    Values' numbers: ``(mean or value, gradients, aux, bad index, tame)``. ``loss`` is the pure
    function (before differentiation), for callers that jit more around it (a training step
    with its optimizer, an epoch)."""

    def __init__(self, program: Any):
        self.jax, self.jnp = jax_modules()
        self.program = program
        self.rules: dict[Any, Callable[..., Any]] = {}
        with self.jax.enable_x64(True):
            self.constants = self.jnp.asarray(program.constants, dtype=self.jnp.float64)
            self.call = self.jax.jit(self.jax.value_and_grad(self.loss, has_aux=True))

    def loss(self, theta: Any, inputs: Any, captured: Any) -> tuple[Any, tuple[Any, Any, Any]]:
        """The program's output (the mean over the samples with a batch axis) and
        ``(aux values, any bad index, tame)``; ``inputs`` is (inputs,) or (inputs, samples)."""
        jnp, program = self.jnp, self.program
        f = JaxArrays(self.jax, jnp)
        column = inputs.shape[1:]
        ones = (1,) * len(column)
        slots = _Slots(jnp, [theta.reshape((-1,) + ones), inputs, self.constants.reshape((-1,) + ones),
                             captured.reshape((-1,) + ones)])
        for g in program.groups:
            slots.add(self._layer(g, theta, slots) if isinstance(g, Layer) else self._group(f, g, slots))
        root = slots.read(np.array([program.root]))[0]
        value = jnp.mean(jnp.broadcast_to(root, column)) if column else root
        aux = None if program.aux is None else slots.read(program.aux[1])
        bad = jnp.any(jnp.array(f.bad)) if f.bad else jnp.array(False)
        return value, (aux, bad, tame(jnp, slots.blocks))

    def _group(self, f: JaxArrays, g: Group, slots: _Slots) -> Any:
        rows = slots.read(g.operands.T)  # (arity, nodes[, samples])
        if g.op.on_rows:
            return getattr(f, g.op.on_rows)(rows)
        key = (g.op, g.exponent)
        if key not in self.rules:
            self.rules[key] = f.with_table_rule(g.op, g.exponent)
        rule = self.rules[key]
        return rule(rows[0]) if g.exponent is not None else rule(*rows)

    def _layer(self, g: Layer, theta: Any, slots: _Slots) -> Any:
        """``W @ X (+ b)``: the neurons' weights from the parameters, the inputs from their slots."""
        X = slots.read(g.inputs if not isinstance(g.inputs, slice) else _slots_of(g.inputs))
        n, column = g.n, X.shape[1:]
        X = X.reshape(n, -1)
        if g.block is not None:  # [W | b] is a block of the parameters: a slice, no gather (nor scatter back)
            block = theta[g.block].reshape(len(g.weights), -1)
            Y = block[:, :n] @ X
            if g.bias is not None:
                Y = Y + block[:, n:]
        else:
            Y = theta[g.weights] @ X
            if g.bias is not None:
                Y = Y + theta[g.bias][:, None]
        if g.cells is None:
            return Y.reshape((len(g.weights),) + column)
        order = np.argsort(g.cells.reshape(-1), kind="stable")  # the results in slot order
        return Y.reshape((g.cells.size,) + column[1:])[order]

    def __call__(self, params: Any, inputs: Any, captured: Any) -> tuple[float, Any, Any, bool, bool]:
        with self.jax.enable_x64(True):
            (value, (aux, bad, ok)), grads = self.call(params, inputs, captured)
            return (float(value), np.asarray(grads), None if aux is None else np.asarray(aux), bool(bad),
                    bool(ok) and bool(np.abs(grads).max(initial=0.0) < TAME))


def tame(jnp: Any, arrays: list[Any]) -> Any:
    """Whether every number of ``arrays`` is finite and below ``TAME`` (see ``sums``), inside a
    jitted function: one pass over each array. A call with an inf or a nan is not tame either,
    and is computed the NumPy way (whose check tells the finite numbers apart) or eagerly."""
    return jnp.all(jnp.array([jnp.max(jnp.abs(a), initial=0.0) < TAME for a in arrays]))


def subnormal(*arrays: Any) -> bool:
    """Whether any of ``arrays`` holds a subnormal number (nonzero, below 2.2e-308), which XLA
    on CPU flushes to zero (as all of JAX does there) where eager computes with it."""
    return any(bool(((a != 0) & (np.abs(a) < np.finfo(float).tiny)).any()) for a in arrays)


def run(program: Any, params: Any, inputs: Any, captured: Any) -> tuple[float, Any, Any, bool, bool]:
    """``program`` on XLA (jitted the first time, kept on the program): see ``JaxProgram``.
    The last flag, ``tame``, is False for numbers near overflow or subnormal ones: the caller
    then computes the call eagerly."""
    if program.xla is None:
        program.xla = JaxProgram(program)
    value, grads, aux, bad, tame = program.xla(params, inputs, captured)
    return value, grads, aux, bad, tame and not subnormal(params, inputs, captured, program.constants)
