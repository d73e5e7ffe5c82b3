"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + 1).tanh()
>>> y.backward()
>>> round(x.grad, 6)
0.000726

The modules, in the order to read them: ``ops`` (the table of operations: each forward pass
and derivative, written once), ``modes`` (no_grad, detect_anomaly, naming scopes), ``engine``
(``Value``, recording nodes, the chain rule), ``check`` (gradcheck), ``drawing``, ``compiled``
(compile mode: a traced graph replayed with NumPy). ``from autograd import *`` brings the
names below, without ``sum`` and ``compile``, so that Python's own are not replaced (use
``autograd.sum``, ``autograd.compile``).
"""

from . import check, engine, modes
from .check import *
from .compiled import CompileError
from .compiled import compile as compile  # not in __all__: it would shadow Python's compile
from .drawing import GraphTooLarge, GraphvizMissing, draw, draw_steps, explore, save_steps
from .engine import *
from .engine import sum as sum  # not in __all__: "import *" keeps Python's sum
from .modes import *

__all__ = [*engine.__all__, *modes.__all__, *check.__all__,
           "draw", "draw_steps", "save_steps", "explore", "GraphTooLarge", "GraphvizMissing", "CompileError"]

__version__ = "0.1.0"
