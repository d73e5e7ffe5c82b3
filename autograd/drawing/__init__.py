"""Seeing graphs: static Graphviz drawings (``draw``, ``draw_steps``, ``save_steps``) and the
interactive explorer (``explore``), a self-contained page that steps through both passes.

This package is a bounded part of the engine: it reads graphs only through the public node
API (``.data .grad .label .op .children .local_grads .is_leaf .is_constant .is_parameter
.scope``, ``topological_order``, ``backward_steps``) and the operation table's rows
(``autograd.ops``: each operation's symbol, explanation and browser formulas). Layout is done by ``graphviz-pure``
(from PyPI) or the system ``dot`` (see ``graphviz_program``).
"""

from .explore import Explorer, explore
from .graphviz_program import GraphvizMissing
from .static import Drawing, GraphTooLarge, draw, draw_steps, save_steps

__all__ = ["Drawing", "Explorer", "GraphTooLarge", "GraphvizMissing", "draw", "draw_steps", "explore", "save_steps"]
