"""``chainrule graph``: evaluate a small expression language with Values, safely.

The expression is parsed with ``ast`` and walked node by node; only numbers, variable names,
``+ - * / **``, unary minus (and plus), parentheses and calls of the engine's functions are
accepted. Anything else (attributes, subscripts, lambdas, comprehensions, other names or
calls, keywords) is refused before anything is evaluated. Nothing is passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from pathlib import Path
from typing import Any

import autograd
from autograd import Value

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs")
BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
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
        raise ExpressionError(f"not a valid expression: {error.msg}") from None
    except (RecursionError, MemoryError):  # Python's own parser gives up on deep nesting
        raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") from None
    if _depth(tree) > MAX_DEPTH:  # checked before anything recursive (ast.unparse in messages) sees it
        raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)")
    for node in ast.walk(tree):
        _check(node)
    return tree


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check(node: ast.AST) -> None:
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Load)) or type(node) in BINARY:
        if isinstance(node, ast.BinOp) and type(node.op) not in BINARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed; use + - * / **")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed; only unary minus")
        if isinstance(node, ast.Name) and not NAME.match(node.id):
            raise ExpressionError(f"name {node.id!r} is not allowed")
        return
    if isinstance(node, (ast.USub, ast.UAdd)):
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"constant {node.value!r} is not allowed; only numbers")
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(f"call of {what!r} is not allowed; functions: {', '.join(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"{node.func.id}() takes exactly one argument")
        return
    raise ExpressionError(f"{type(node).__name__.lower()} is not allowed in an expression ({ast.unparse(node)!r})")


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
        parts = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand] if isinstance(
            node, ast.UnaryOp) else list(node.args) if isinstance(node, ast.Call) else []
        if not ready and parts:
            stack.append((node, True))
            stack.extend((p, False) for p in parts)
            continue
        if isinstance(node, ast.Constant):
            # a Value from the start, so constant parts such as 1/0, 9**9**9 or (-8)**(1/3) follow
            # the engine's IEEE rules (inf, inf, nan) instead of Python's (errors, complex numbers)
            results[id(node)] = autograd.constant(_number(node.value))
        elif isinstance(node, ast.Name):
            if node.id not in env:
                raise ExpressionError(f"variable {node.id!r} has no value; pass {node.id}=NUMBER")
            results[id(node)] = env[node.id]
        elif isinstance(node, ast.BinOp):
            results[id(node)] = BINARY[type(node.op)](results[id(node.left)], results[id(node.right)])
        elif isinstance(node, ast.UnaryOp):
            value = results[id(node.operand)]
            results[id(node)] = -value if isinstance(node.op, ast.USub) else value
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            arg = results[id(node.args[0])]
            results[id(node)] = abs(arg) if node.func.id == "abs" else getattr(arg, node.func.id)()
    out: Value = results[id(tree)]
    return out


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
        if output is not None:
            fmt = output.suffix.lstrip(".").lower()
            if fmt not in FORMATS:
                raise ExpressionError(f"unknown output format {output.suffix or '(none)'!r} for {output}; "
                                      f"use one of {', '.join('.' + f for f in FORMATS)}")
            if output.is_dir():
                raise ExpressionError(f"-o {output} is a directory; give a file name such as {output / ('graph.' + fmt)}")
        tree = parse(args.expression)
        env = parse_bindings(args.bindings)
        names = variables(tree)
        unused = [n for n in env if n not in names]
        if unused:
            raise ExpressionError(f"{', '.join(unused)} not used in the expression")
        values = {name: Value(env[name], label=name) for name in names if name in env}
        out = evaluate(tree, values)
    except ExpressionError as error:
        raise ExpressionError(f"chainrule graph: {error}") from None
    out.label = "out"
    out.backward()
    print(f"{args.expression.strip()} = {out.data:.6g}")
    for name, v in values.items():
        print(f"d out / d {name} = {v.grad:.6g}")
    if not math.isfinite(out.data):
        print("note: the result is not finite")
    if output is not None:
        try:  # everything is made in memory first, so a failure leaves no file or folder behind
            if fmt == "html":  # the interactive explorer: a page that steps through both passes
                page = autograd.explore(out)
            else:  # DOT text needs no Graphviz program; the other formats are laid out from it
                drawing = autograd.draw(out, rankdir=args.rankdir)
                data = drawing.source.encode("utf-8") if fmt == "dot" else drawing.pipe(format=fmt)
            output.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "html":
                page.save(output)
            else:
                output.write_bytes(data)
        except (autograd.GraphvizMissing, autograd.GraphTooLarge, RuntimeError) as error:
            print(f"chainrule graph: {error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"chainrule graph: cannot write {output}: {error.strerror or error}", file=sys.stderr)
            return 1
        print(f"wrote {output}")
    return 0
