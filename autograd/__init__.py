"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + 1).tanh()
>>> y.backward()
>>> round(x.grad, 6)
0.000726
"""

from .backward import Step, backward_steps, grad, topological_order, zero_grad
from .check import GradcheckError, gradcheck
from .modes import Scope, current_scope, detect_anomaly, enable_grad, gc_paused, is_grad_enabled, no_grad, scope
from .value import Parameter, Value, constant, dot, sum

__all__ = [
    "Value", "Parameter", "backward_steps", "Step", "constant", "sum", "dot", "grad", "topological_order",
    "zero_grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "scope", "Scope", "current_scope", "gc_paused",
    "gradcheck", "GradcheckError", "draw", "draw_steps", "save_steps", "explore",
]

__version__ = "0.1.0"


def __getattr__(name: str):  # the drawing package loads only when a drawing is asked for
    if name in ("draw", "draw_steps", "save_steps", "explore", "GraphTooLarge", "GraphvizMissing"):
        from . import drawing as _draw_module

        return getattr(_draw_module, name)
    raise AttributeError(f"module 'autograd' has no attribute {name!r}")
