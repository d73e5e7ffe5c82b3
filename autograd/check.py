"""``gradcheck``: backward's gradients against central finite differences; ``whole_number``,
the check of every count and size argument in the library."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, cast

from .engine import Value, grad
from .modes import no_grad

# what ``autograd`` exports from here
__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


def gradcheck(fn: Callable[..., Value], inputs: Sequence[Any] | float, *,
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check ``fn``'s gradients at the float ``inputs`` against central finite differences.

    ``fn`` is called as ``fn(*values)`` with one Value per input (as ``torch.autograd.gradcheck``
    calls its function) and returns one Value. For each input i the numerical derivative is
    ``(fn(x + eps·e_i) - fn(x - eps·e_i)) / (2·eps)``; the check passes when
    ``|analytic - numerical| <= atol + rtol·|numerical|`` for every input. Returns ``True``, or
    raises ``GradcheckError`` naming the input and both numbers; a gradient that is nan or
    infinite on either side is a failure (nothing can be compared). Inputs may be numbers or
    Values (their ``.data`` is used).

    >>> from autograd import gradcheck
    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    for name, number in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < math.inf:
            raise ValueError(f"gradcheck: {name} must be a finite number >= 0, got {number!r}")
    if eps == 0:
        raise ValueError("gradcheck: eps must be > 0 (the step of the central differences)")
    listed = [inputs] if isinstance(inputs, (numbers.Real, Value)) else list(cast(Sequence[Any], inputs))
    point = [_number(x, i) for i, x in enumerate(listed)]
    values = [Value(x, label=f"x{i}") for i, x in enumerate(point)]
    out = fn(*values)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: fn must return a Value, got {type(out).__name__}")

    def at(i: int, step: float) -> float:  # fn with input i moved by step, building no graph
        with no_grad():
            return float(fn(*[Value(x + step if j == i else x) for j, x in enumerate(point)]))

    for i, analytic in enumerate(grad(out, values)):
        numerical = (at(i, eps) - at(i, -eps)) / (2 * eps)
        if not abs(analytic - numerical) <= atol + rtol * abs(numerical):  # (False for nan and inf)
            raise GradcheckError(
                f"gradcheck: gradient with respect to input {i} (= {point[i]!r}) is {analytic!r} by backward "
                f"but {numerical!r} by central differences (eps={eps}, atol={atol}, rtol={rtol})"
                + ("; fn's value there is not finite" if not math.isfinite(out.data) else "")
            )
    return True


def _number(x: Any, i: int) -> float:
    if isinstance(x, Value) or (isinstance(x, numbers.Real) and not isinstance(x, bool)):
        return float(x)
    raise TypeError(f"gradcheck: inputs[{i}] must be a number or a Value, got {type(x).__name__}")


def whole_number(value: Any, what: str, least: int | None = None, most: int | None = None) -> int:
    """``value`` as an int if it is a whole number from ``least`` to ``most`` (each bound only
    when given), else a ValueError saying so. Python ints and NumPy integers are whole numbers;
    ``True``, ``2.0`` and ``"2"`` are not.

    >>> import numpy as np
    >>> whole_number(np.int64(3), "epochs", least=1)
    3
    >>> whole_number(0, "fit: epochs", least=1)
    Traceback (most recent call last):
    ...
    ValueError: fit: epochs must be a positive whole number, got 0
    """
    if not isinstance(value, bool) and isinstance(value, numbers.Integral):
        number = int(value)
        if (least is None or number >= least) and (most is None or number <= most):
            return number
    if least == 1 and most is None:
        wanted = "a positive whole number"
    elif most is None:
        wanted = "a whole number" + ("" if least is None else f" >= {least}")
    elif least is None:
        wanted = f"a whole number <= {most:,}"
    else:
        wanted = f"a whole number from {least} to {most:,}"
    text = repr(value)
    shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
    raise ValueError(f"{what} must be {wanted}, got {shown}")
