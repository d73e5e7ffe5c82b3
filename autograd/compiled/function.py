"""The compiled function (see ``autograd.compiled``): what ``autograd.compile`` returns. It
traces the function, keeps a program per shape of arguments, checks on later calls that the
function still builds the same graph (the guard), and runs the calls.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..engine import Value, grad
from ..engine import sum as engine_sum
from ..modes import enable_grad, gc_paused, modes
from . import CHECKED_SAMPLES, CompileError, Result
from .program import Program
from .sums import Overflowing, check_tame
from .trace import Trace, other_leaves, parameter_kinds, read_graph, same_numbers, split_result, trace, values_for


class Compiled:
    """A function of Values compiled by ``autograd.compile``: call it with numbers."""

    def __init__(self, fn: Callable[..., Any], parameters: Sequence[Value], batch: bool, penalty: Any, check_every: int,
                 backend: str = "numpy"):
        self.fn = fn
        self.backend = backend  # "numpy" (Program.run) or "jax" (xla.run)
        self.parameters = list(parameters)
        self.kinds = parameter_kinds(self.parameters)  # for the guard's fingerprints
        self.batch = batch
        self.check_every = check_every
        self.programs: dict[Any, Program] = {}
        self.calls: dict[Any, int] = {}
        self._last: Program | None = None  # the program of the last call (how a batch's aux is shaped; code)
        self.penalty = None if penalty is None else Compiled(penalty, parameters, False, None, check_every, backend)

    def __repr__(self) -> str:
        return (f"Compiled({getattr(self.fn, '__name__', 'fn')}, {len(self.parameters)} parameters, "
                f"batch={self.batch}, backend={self.backend!r}, {len(self.programs)} program(s))")

    @property
    def code(self) -> str:
        """The program of the last call, one line per group of nodes, as it runs: a NumPy
        operation over a slice of the value slots ``v`` forward, then the gradients ``g``
        backward (see ``autograd.compiled.listing``).

        >>> import autograd
        >>> from autograd import Parameter
        >>> w = Parameter(2.0)
        >>> step = autograd.compile(lambda x: (w * x).tanh(), [w])
        >>> _ = step(0.5)
        >>> print(step.code)
        # slots: parameters v[0:1], inputs v[1:2], other leaves v[2:2], nodes v[2:4] in 2 groups
        # forward
        v[2] = mul(v[0], v[1])
        v[3] = tanh(v[2])
        # backward: g[3] = 1
        g[2] += dtanh/da * g[3]
        g[0] += dmul/da * g[2]
        return v[3], g[0:1]
        """
        if self._last is None:
            raise CompileError("no program yet: call the compiled function once, then read its code")
        from .listing import code

        return code(self._last)

    def _trace(self, args: Sequence[Any]) -> Trace:
        if not modes().grad_enabled:
            raise CompileError("autograd.compile cannot trace under no_grad(): call the compiled function outside it")
        return trace(self.fn, args)

    def __call__(self, *args: Any, create_graph: bool = False) -> Result:
        """The function's value and the gradients of the parameters at these numbers."""
        if create_graph:
            raise CompileError("create_graph is not supported in compiled mode (it returns numbers, not a graph): "
                               "call the function on Values and use backward(create_graph=True) eagerly")
        if modes().anomaly:
            raise CompileError("detect_anomaly is not supported in compiled mode: call the function on Values and "
                               "run backward() eagerly inside detect_anomaly() to find where a nan or inf appears")
        value, grads, aux = self.evaluate(args, np.array([p.data for p in self.parameters], dtype=float))
        if self.batch and aux is not None:  # one entry per sample, numbers as the user's function gave them
            aux = [_aux_numbers(self._last, row) for row in aux] if self._last is not None else None
        return Result(float(value), grads.tolist(), aux)

    def evaluate(self, args: Sequence[Any], params: Any) -> tuple[float, Any, Any]:
        """The value, the gradients (an array) and the aux numbers at parameter values
        ``params`` (an array): what a compiled training loop calls, its parameters kept in
        one array. With ``batch=True`` the aux numbers are an array, one row per sample."""
        with np.errstate(all="ignore"):  # infinities and nans are results, as in eager mode
            try:
                if not self.batch:
                    return self._whole_call(args, params)
                value, grads, aux = self._batch_call(args, params)
                if self.penalty is not None:
                    extra, extra_grads, _ = self.penalty._whole_call((), params)
                    check_tame(extra_grads)  # (added to the samples' gradients in another order than eager's)
                    value, grads = value + extra, grads + extra_grads
            except Overflowing:  # numbers near overflow (see TAME): this call eagerly, where eager's order decides
                return self._eager_call(args, params)
        return value, grads, aux

    def _program(self, key: Any, samples: Callable[[], Sequence[Sequence[Any]]], params: Any) -> Program:
        """The cached program for ``key``, traced on the first of ``samples()`` the first time.
        On checked calls the function is traced again on the samples and must build the same
        graph (``samples`` is only called then: most calls need none). A trace runs the function
        on the parameter Values: their ``.data`` holds ``params`` (the live numbers during
        compiled training) meanwhile, so a structure that depends on them is seen as it is."""
        calls = self.calls[key] = self.calls.get(key, 0) + 1
        program = self.programs.get(key)
        if program is not None and not (calls <= 2 or (self.check_every and calls % self.check_every == 0)):
            return program
        try:
            with self._parameters_at(params):
                return self._traced(key, program, samples())
        except BaseException:  # (a bad index, a different graph, an interruption) this call counts for nothing:
            # the next one makes the check it missed (or, without a program, traces afresh as a first call)
            self.calls[key] = calls - 1 if key in self.programs else 0
            raise

    def _traced(self, key: Any, program: Program | None, to_check: Sequence[Sequence[Any]]) -> Program:
        if program is None:
            program = self.programs[key] = Program(self._trace(to_check[0]), self.parameters, self.batch)
            to_check = to_check[1:]
        for sample in to_check:
            trace = self._trace(sample)
            known = set(self.parameters).union(trace.inputs)
            if read_graph(trace, self.kinds).fingerprint != program.fingerprint or not same_numbers(
                    [v.data for v in other_leaves(trace.order, known)], [v.data for v in program.leaves]):
                del self.programs[key]  # a later call traces afresh, and is checked again
                raise CompileError(
                    "the function built a different graph on other numbers of the same shape (its structure "
                    "depends on the data, e.g. `if v.data > 0:` or a number read from .data): a replayed graph "
                    "would give wrong results. Express the branch with operations (relu, abs, where-free "
                    "arithmetic) or run it eagerly"
                )
        return program

    def _whole_call(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        program = self._program(_shape(args) if args else (), lambda: [args], params)
        self._last = program
        value, grads, aux = self._replay(program, params, np.array(_numbers(args), dtype=float), None)
        return value, grads, _aux_numbers(program, aux)

    def _batch_call(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        if not args:
            raise TypeError("compile(batch=True): call it with one or more arguments, each a list over the samples")
        sizes = {len(a) if isinstance(a, (list, tuple)) or hasattr(a, "shape") else -1 for a in args}
        if len(sizes) != 1 or min(sizes) < 1:
            raise ValueError("compile(batch=True): every argument must be a non-empty list over the same samples")
        (width,) = sizes
        columns = [np.asarray(a, dtype=float).reshape(width, -1) for a in args]
        inputs = np.concatenate(columns, axis=1).T  # (inputs of one sample, samples)
        key = tuple(c.shape[1] for c in columns)
        calls = self.calls.get(key, 0)
        if calls < 2:  # the first two calls check up to CHECKED_SAMPLES samples picked at random (seeded)
            picks = random.Random(calls).sample(range(width), min(width, CHECKED_SAMPLES))
        else:  # later checked calls: one sample, at random (seeded): any position of the batch in time
            picks = [random.Random(calls).randrange(width)]
        program = self._program(key, lambda: [[_as_lists(a[i]) for a in args] for i in picks], params)
        self._last = program
        value, grads, aux = self._replay(program, params, inputs, width)
        return value, grads, None if aux is None or program.aux is None else aux.T

    def _replay(self, program: Program, params: Any, inputs: Any, width: int | None) -> tuple[Any, Any, Any]:
        """The program on these numbers: its value (the mean over ``width`` samples), the
        gradients and the aux values (a row per aux Value), on this function's backend."""
        if self.backend == "jax":
            from . import xla

            captured = np.array([v.data for v in program.captured], dtype=float)
            value, grads, aux, bad, tame = xla.run(program, params, inputs, captured)
            if bad:  # the NumPy replay raises the PickIndexError eager mode would
                program.run(params, inputs, 1.0 if width is None else 1.0 / width, width)
            if not tame:
                raise Overflowing
            return value, grads, aux
        out, grads, aux = program.run(params, inputs, 1.0 if width is None else 1.0 / width, width)
        return (out if width is None else out.sum() / width), grads, aux

    def replayed(self, args: Sequence[Any], n: int, params: Any) -> None:
        """Count ``n`` batch calls of ``args``'s shape replayed elsewhere in one go (``fit``'s XLA
        epochs run many steps per call); when the guard's check falls due among them, it is made
        now, on one sample of ``args`` at the parameter values ``params``."""
        key = tuple(np.asarray(a, dtype=float).reshape(len(a), -1).shape[1] for a in args)
        calls = self.calls.get(key, 0)
        self.calls[key] = calls + n
        if self.check_every and (calls + n) // self.check_every > calls // self.check_every:
            i = random.Random(calls + n).randrange(len(args[0]))
            with self._parameters_at(params):
                self._traced(key, self.programs[key], [[_as_lists(a[i]) for a in args]])

    def _eager_call(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        """A call (after ``_whole_call`` or ``_batch_call`` made its program) computed eagerly."""
        if self.batch:
            return self._eager_batch(args, params)
        with self._parameters_at(params), gc_paused(), enable_grad():
            result, aux = split_result(self.fn(*values_for(list(args))[1]))
            grads = np.array(grad(result, self.parameters), dtype=float)
        return result.data, grads, None if aux is None else aux.data if isinstance(aux, Value) else [v.data for v in aux]

    def _eager_batch(self, args: Sequence[Any], params: Any) -> tuple[Any, Any, Any]:
        """A batch call (after ``_batch_call`` made its program) computed eagerly: the mean of
        ``fn`` over the samples (left to right, as ``autograd.sum``) plus ``penalty()``, and its
        gradients by ``backward``; aux as the replay gives it."""
        with_aux = self._last is not None and self._last.aux is not None
        with self._parameters_at(params), gc_paused(), enable_grad():  # (a replay may run under no_grad)
            results = [split_result(self.fn(*values_for([_as_lists(a[i]) for a in args])[1])) for i in range(len(args[0]))]
            total = engine_sum([out for out, _ in results]) / len(results)
            if self.penalty is not None:
                total = total + self.penalty.fn()
            grads = np.array(grad(total, self.parameters), dtype=float)
        aux = [[v.data for v in ([a] if isinstance(a, Value) else a)] for _, a in results] if with_aux else None
        return total.data, grads, None if aux is None else np.array(aux, dtype=float)

    @contextlib.contextmanager
    def _parameters_at(self, params: Any) -> Iterator[None]:
        """The parameter Values hold ``params`` (the live numbers of a compiled training loop)
        meanwhile, and get their own numbers back after (the loop syncs them when it ends)."""
        held = [v.data for v in self.parameters]
        try:
            for v, x in zip(self.parameters, params.tolist()):
                v.data = x
            yield
        finally:
            for v, x in zip(self.parameters, held):
                v.data = x


def _numbers(structure: Any) -> list[float]:
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _numbers(item)]
    return [float(structure)]


def _shape(structure: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return tuple(_shape(s) for s in structure)
    return None


def _aux_numbers(program: Program, aux: Any) -> Any:
    if aux is None or program.aux is None:
        return None
    return float(aux[0]) if program.aux[0] else aux.tolist()


def _as_lists(x: Any) -> Any:
    return x.tolist() if hasattr(x, "tolist") else x
