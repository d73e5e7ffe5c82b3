"""``chainrule graph``: evaluate a small expression language with Values, safely.

The expression is parsed with ``ast`` and walked node by node; only numbers, variable names,
``+ - * / **``, unary minus (and plus), parentheses and calls of the engine's functions are
accepted. Anything else (attributes, subscripts, lambdas, comprehensions, other names or
calls, keywords) is refused before anything is evaluated. Nothing is passed to ``eval``.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import autograd
from autograd import Value

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs")
BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow}
FORMATS = ("png", "svg", "pdf", "dot", "html")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_LENGTH = 2000
MAX_DEPTH = 200  # nesting levels: far beyond what anyone types, far below Python's recursion limit


class ExpressionError(ValueError):
    """An expression or binding the command refuses, with the reason."""


def parse(expression: str) -> ast.expr:
    """Parse and check an expression; ``ExpressionError`` names the first thing not allowed."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError as error:
        raise ExpressionError(f"not a valid expression: {error.msg}{_syntax_hint(expression)}") from None
    except (RecursionError, MemoryError):  # Python's own parser gives up on deep nesting
        raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") from None
    if _depth(tree) > MAX_DEPTH:  # checked before anything recursive (ast.unparse in messages) sees it
        raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)")
    for node in ast.walk(tree):
        _check(node)
    return tree


# a number written against a name or a parenthesis, as in 2x or 3(x + 1): multiplication by juxtaposition
_JUXTAPOSED = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?)([A-Za-z_]\w*|\()")


def _syntax_hint(expression: str) -> str:
    """What to write instead, for the mistakes people make most (``2x``), or nothing."""
    match = _JUXTAPOSED.search(expression)
    if match is None:
        return ""
    number, after = match.groups()
    return f"; multiplication needs a *: write {number}*{after}, not {number}{after}"


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


_SYMBOLS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
            ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not"}


def _check(node: ast.AST) -> None:
    """Refuse ``node`` unless the expression language has it (its children are checked on their own)."""
    check = _CHECKS.get(type(node))
    if check is not None:
        check(node)
    elif not isinstance(node, (ast.Load, ast.USub, ast.UAdd)) and type(node) not in BINARY:
        raise ExpressionError(f"{type(node).__name__.lower()} is not allowed in an expression ({ast.unparse(node)!r})")


def _check_binop(node: ast.BinOp) -> None:
    if type(node.op) in BINARY:
        return
    symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
    if isinstance(node.op, ast.BitXor):  # x^2: a power in most notations, exclusive or in Python's
        power = ast.unparse(ast.BinOp(node.left, ast.Pow(), node.right)).replace(" ** ", "**")
        raise ExpressionError(f"^ is not a power here (in Python it is exclusive or); for a power write "
                              f"{power if len(power) <= 60 else 'a**b'}")
    raise ExpressionError(f"operator {symbol} is not allowed; use + - * / ** (power)")


def _check_unaryop(node: ast.UnaryOp) -> None:
    if not isinstance(node.op, (ast.USub, ast.UAdd)):
        raise ExpressionError(f"operator {_SYMBOLS.get(type(node.op), type(node.op).__name__)} is not allowed; "
                              "only unary minus")


def _check_name(node: ast.Name) -> None:
    if not NAME.match(node.id):
        raise ExpressionError(f"name {node.id!r} is not allowed")


def _check_constant(node: ast.Constant) -> None:
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        raise ExpressionError(f"constant {node.value!r} is not allowed; only numbers")


def _check_call(node: ast.Call) -> None:
    functions = ", ".join(FUNCTIONS)
    if not isinstance(node.func, ast.Name):  # (x + 1)(x - 1): two factors without a * between them
        factor = ast.unparse(node.func)
        left = factor if isinstance(node.func, ast.Constant) else f"({factor})"
        raise ExpressionError(f"call of {factor!r} is not allowed; functions: {functions}; "
                              f"to multiply write a * between the factors: {left}*(...)")
    if node.func.id not in FUNCTIONS:
        close = difflib.get_close_matches(node.func.id, FUNCTIONS, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; functions: {functions}"
        raise ExpressionError(f"call of {node.func.id!r} is not allowed{hint}")
    if node.keywords or len(node.args) != 1 or any(isinstance(a, ast.Starred) for a in node.args):
        raise ExpressionError(f"{node.func.id}() takes exactly one argument")


_CHECKS: dict[type, Callable[[Any], None]] = {ast.BinOp: _check_binop, ast.UnaryOp: _check_unaryop,
                                               ast.Name: _check_name, ast.Constant: _check_constant,
                                               ast.Call: _check_call}


def variables(tree: ast.expr) -> list[str]:
    """The variable names an expression uses, in order of first appearance."""
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = sorted((n.col_offset, n.id) for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls)
    return list(dict.fromkeys(name for _, name in found))


def evaluate(tree: ast.expr, env: dict[str, Value]) -> Value:
    """Evaluate a checked tree with Values; iterative, so deep nesting is no problem."""
    results: dict[int, Any] = {}
    stack: list[tuple[ast.expr, bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        parts = _operands(node)
        if not ready and parts:
            stack.append((node, True))
            stack.extend((p, False) for p in parts)
        else:
            results[id(node)] = _apply(node, [results[id(p)] for p in parts], env)
    out: Value = results[id(tree)]
    return out


def _operands(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    return list(node.args) if isinstance(node, ast.Call) else []


def _apply(node: ast.expr, operands: list[Value], env: dict[str, Value]) -> Value:
    """The Value of one checked node, given the Values of its operands."""
    if isinstance(node, ast.Constant):
        # a Value from the start, so constant parts such as 1/0, 9**9**9 or (-8)**(1/3) follow
        # the engine's IEEE rules (inf, inf, nan) instead of Python's (errors, complex numbers)
        return autograd.constant(_number(node.value))
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExpressionError(f"variable {node.id!r} has no value; pass {node.id}=NUMBER")
        return env[node.id]
    if isinstance(node, ast.BinOp):
        result: Value = BINARY[type(node.op)](*operands)
        return result
    if isinstance(node, ast.UnaryOp):
        return -operands[0] if isinstance(node.op, ast.USub) else operands[0]
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    called: Value = abs(operands[0]) if node.func.id == "abs" else getattr(operands[0], node.func.id)()
    return called


def _number(literal: Any) -> float:
    assert isinstance(literal, (int, float)) and not isinstance(literal, bool)  # parse() refused the rest
    try:
        return float(literal)
    except OverflowError:  # an integer literal beyond the float range rounds to inf, as in IEEE
        return math.inf


def parse_bindings(pairs: list[str]) -> dict[str, float]:
    """``["x=2", "w=-3"]`` → ``{"x": 2.0, "w": -3.0}``; ``ExpressionError`` for a bad pair."""
    env: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not NAME.match(name.strip()):
            raise ExpressionError(f"binding {pair!r} is not of the form name=number")
        try:
            value = float(text)
        except ValueError:
            raise ExpressionError(f"binding {pair!r}: {text!r} is not a number") from None
        if name.strip() in FUNCTIONS:
            raise ExpressionError(f"binding {pair!r}: {name.strip()} is a function name")
        env[name.strip()] = value
    return env


def run_graph_command(args: Any) -> int:
    """What ``chainrule graph`` does; returns the exit status (a refused input raises ``ExpressionError``)."""
    output: Path | None = args.output
    try:
        fmt = _output_format(output) if output is not None else None
        out, values = _evaluated(args.expression, args.bindings)
    except ExpressionError as error:
        raise ExpressionError(f"chainrule graph: {error}") from None
    out.label = "out"
    out.backward()
    print(f"{args.expression.strip()} = {out.data:.6g}")
    for name, v in values.items():
        print(f"d out / d {name} = {v.grad:.6g}")
    if not math.isfinite(out.data):
        print("note: the result is not finite")
    if output is None or fmt is None:
        return 0
    return _write_drawing(out, output, fmt, args.rankdir)


def _output_format(output: Path) -> str:
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ExpressionError(f"unknown output format {output.suffix or '(none)'!r} for {output}; "
                              f"use one of {', '.join('.' + f for f in FORMATS)}")
    if output.is_dir():
        raise ExpressionError(f"-o {output} is a directory; give a file name such as {output / ('graph.' + fmt)}")
    return fmt


def _evaluated(expression: str, bindings: list[str]) -> tuple[Value, dict[str, Value]]:
    """The expression's result and the variables' Values (leaves, in order of appearance)."""
    tree = parse(expression)
    env = parse_bindings(bindings)
    names = variables(tree)
    unused = [n for n in env if n not in names]
    if unused:
        raise ExpressionError(f"{', '.join(unused)} not used in the expression")
    values = {name: Value(env[name], label=name) for name in names if name in env}
    return evaluate(tree, values), values


def _write_drawing(out: Value, output: Path, fmt: str, rankdir: str) -> int:
    try:  # everything is made in memory first, so a failure leaves no file or folder behind
        if fmt == "html":  # the interactive explorer: a page that steps through both passes
            data = autograd.explore(out).html().encode("utf-8")
        else:  # DOT text needs no Graphviz program; the other formats are laid out from it
            drawing = autograd.draw(out, rankdir=rankdir)
            data = drawing.source.encode("utf-8") if fmt == "dot" else drawing.pipe(format=fmt)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except (autograd.GraphvizMissing, autograd.GraphTooLarge, RuntimeError) as error:
        print(f"chainrule graph: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"chainrule graph: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
