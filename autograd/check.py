"""``gradcheck``: backward's gradients against central finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .backward import grad
from .modes import no_grad
from .value import Value, _check_real


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[float] | float,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check ``fn``'s gradients at the float ``inputs`` against central finite differences.

    ``fn`` is called as ``fn(*values)`` with one Value per input (as ``torch.autograd.gradcheck``
    calls its function) and returns one Value. For each input i the numerical derivative is
    ``(fn(x + eps·e_i) - fn(x - eps·e_i)) / (2·eps)``; the check passes when
    ``|analytic - numerical| <= atol + rtol·|numerical|`` for every input. Returns ``True``, or
    raises ``GradcheckError`` naming the input and both numbers.

    >>> from autograd import gradcheck
    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    if isinstance(inputs, (int, float)):
        inputs = [inputs]
    point = [_check_real(x, f"gradcheck: inputs[{i}]") for i, x in enumerate(inputs)]
    values = [Value(x, label=f"x{i}") for i, x in enumerate(point)]
    out = fn(*values)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: fn must return a Value, got {type(out).__name__}")
    analytic = grad(out, values)

    def at(shifted: list[float]) -> float:
        with no_grad():
            return float(fn(*[Value(x) for x in shifted]))

    for i, a in enumerate(analytic):
        plus, minus = list(point), list(point)
        plus[i] += eps
        minus[i] -= eps
        numerical = (at(plus) - at(minus)) / (2 * eps)
        if not (abs(a - numerical) <= atol + rtol * abs(numerical)) and not (math.isnan(a) and math.isnan(numerical)):
            raise GradcheckError(
                f"gradcheck: gradient with respect to input {i} (= {point[i]!r}) is {a!r} by backward "
                f"but {numerical!r} by central differences (eps={eps}, atol={atol}, rtol={rtol})"
            )
    return True
