"""A compiled program as text (``Compiled.code``): one line per group, in the order the groups run.

The program replays a traced graph over numbered *slots* (``v[k]`` a value, ``g[k]`` its
gradient; the parameters are ``v[0:P]``, read as ``p`` by matrix products, their gradients
``gp``). The listing is written from the same ``Group`` and
``Layer`` objects that ``Program.run`` executes, so what it shows is what runs: the forward
pass level by level, then the backward pass in reverse, where each line multiplies the
upstream gradient by the table's local derivative (``ops.TABLE``, the rule eager mode uses)
and adds it into the operands' gradients (in eager's order of addition: ``sums.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .groups import Group, Layer

if TYPE_CHECKING:
    from .program import Program

SHOWN = 4  # slots listed before "..." in a scattered read


def slots(index: Any, name: str = "v") -> str:
    """``index`` (a slice, one slot, or an array of slots) as ``v[a:b]``, ``v[a]`` or ``v[[a, b, ...]]``."""
    if isinstance(index, slice):
        start, stop = index.start, index.stop
        return f"{name}[{start}]" if stop == start + 1 else f"{name}[{start}:{stop}]"
    flat = np.asarray(index).reshape(-1).tolist()
    if len(flat) == 1:
        return f"{name}[{flat[0]}]"
    if flat == list(range(flat[0], flat[0] + len(flat))):
        return f"{name}[{flat[0]}:{flat[0] + len(flat)}]"
    shown = ", ".join(map(str, flat[:SHOWN])) + (f", ... ({len(flat)} slots)" if len(flat) > SHOWN else "")
    return f"{name}[[{shown}]]"


def _operand(group: Group, k: int, name: str = "v") -> str:
    if group.of_rows:
        return slots(group.operands[:, k], name)
    if k == 1 and group.exponent is not None:
        return repr(group.exponent)
    return slots(group.read[k], name)


def _forward(group: Group | Layer) -> str:
    if isinstance(group, Layer):
        weights = slots(group.block, "p") if group.block is not None else slots(group.weights, "p")
        inputs, out = slots(group.inputs), slots(group.out if group.cells is None else group.cells)
        bias = " + b" if group.bias is not None else ""
        return f"{out} = W @ X{bias}    # W, b: {weights}, X: {inputs} ({len(group.weights)} neurons, one matmul)"
    arity = group.shape[0]
    operands = ", ".join(_operand(group, k) for k in range(arity))
    nodes = group.shape[1]
    return f"{slots(group.out)} = {group.op.key}({operands})" + (f"    # {nodes} nodes" if nodes > 1 else "")


def _backward(group: Group | Layer) -> list[str]:
    if isinstance(group, Layer):
        weights = slots(group.block, "gp") if group.block is not None else slots(group.weights, "gp")
        lines = [f"{weights} += {slots(group.out, 'g')} @ X.T    # W's (and b's) gradients, one matmul"]
        if group.dx:
            lines.append(f"{slots(group.inputs, 'g')} += W.T @ {slots(group.out, 'g')}")
        return lines
    upstream = slots(group.out, "g")
    if group.of_rows:  # one rule for all the operands of an n-ary entry
        if not group.columns:
            return []
        needed = np.concatenate([group.operands[:, k] for k in group.columns])
        return [f"{slots(needed, 'g')} += d{group.op.key}/d(operands) * {upstream}"]
    return [f"{_operand(group, k, 'g')} += d{group.op.key}/d{_letter(k)} * {upstream}" for k in group.columns]


def _letter(k: int) -> str:
    return "abcdefgh"[k] if k < 8 else f"x{k}"


def code(program: Program) -> str:
    """The program's listing: its slots, the forward pass, the backward pass."""
    P, inputs = program.n_params, program.n_inputs
    leaves_end = P + inputs + len(program.leaves)
    head = [f"# slots: parameters v[0:{P}], inputs v[{P}:{P + inputs}], other leaves v[{P + inputs}:{leaves_end}], "
            f"nodes v[{leaves_end}:{program.size}] in {len(program.groups)} groups"
            + ("; each slot a row over the samples" if program.batch else "")]
    forward = ["# forward"] + [_forward(g) for g in program.groups]
    backward = [f"# backward: g[{program.root}] = {'1 / samples' if program.batch else '1'}"]
    for g in reversed(program.groups):
        backward += _backward(g)
    if not program.batch:
        backward.append(f"return v[{program.root}], g[0:{P}]")
    else:
        extra = f" + g[0:{P}] summed over the samples" if program.params_per_sample else ""
        backward.append(f"return mean of v[{program.root}] over the samples, gp{extra}")
    return "\n".join(head + forward + backward)
