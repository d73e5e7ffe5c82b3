"""Model files: JSON holding the architecture and every weight.

A file looks like ``{"format": "chainrule-model", "version": 1, "model": {...}, "state":
{...}}``. ``model`` names built-in module classes and their constructor arguments only, so
loading builds modules from a fixed list and never runs code from the file. Floats are
written with ``repr`` and read back bit-exact. A save writes a temporary file beside the
target and renames it over the target, so it never leaves a half-written file.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

from . import gpt, layers
from .module import Module

FORMAT = "chainrule-model"
VERSION = 1
# the classes a file may name: nothing else is ever built from a file
MODULES: dict[str, type[Module]] = {
    cls.__name__: cls
    for cls in (layers.Neuron, layers.Layer, layers.Sigmoid, layers.Tanh, layers.ReLU, layers.Sequential, layers.MLP,
                gpt.Embedding, gpt.RMSNorm, gpt.AttentionHead, gpt.CausalSelfAttention, gpt.Block, gpt.GPT)
}


def describe(module: Module) -> dict[str, Any]:
    """The architecture of a built-in module as JSON-ready data."""
    kind = type(module).__name__
    if MODULES.get(kind) is not type(module):
        raise TypeError(f"save: cannot describe a {kind}: only nn's built-in modules can be saved whole; "
                        "save its state_dict() instead and rebuild the module in code")
    if isinstance(module, layers.Sequential):
        return {"type": kind, "modules": [describe(m) for m in module]}
    return {"type": kind, **module.config()}


def build(spec: Any, where: str = "model") -> Module:
    """Rebuild a module from ``describe``'s data; ``ValueError`` if the data is not one."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"{where} must be an object with a 'type' naming an nn module")
    kind = spec["type"]
    if kind not in MODULES:
        raise ValueError(f"{where} names an unknown module type {kind!r}; known: {', '.join(MODULES)}")
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Sequential":
        parts = args.pop("modules", None)
        if not isinstance(parts, list) or args:
            raise ValueError(f"{where}: a Sequential needs exactly a 'modules' list")
        return layers.Sequential(*(build(p, f"{where}.modules[{i}]") for i, p in enumerate(parts)))
    try:
        return MODULES[kind](**args)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: cannot build {kind} from {args}: {error}") from None


def save(obj: Module | dict[str, float], path: str | os.PathLike[str]) -> None:
    """Write a model (architecture and weights) or a ``state_dict`` to a JSON file.

    >>> import nn, random, tempfile, os
    >>> random.seed(0)
    >>> model = nn.MLP(2, [4, 1])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> nn.save(model, path)
    >>> nn.load(path).state_dict() == model.state_dict()
    True
    """
    if isinstance(obj, Module):
        document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": describe(obj), "state": obj.state_dict()}
    elif isinstance(obj, dict):
        document = {"format": FORMAT, "version": VERSION, "state": _check_state(obj, "save")}
    else:
        raise TypeError(f"save: expected an nn module or a state_dict, got {type(obj).__name__}")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"save: {target} is a directory; give a file name such as {target / 'model.json'}")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path: str | os.PathLike[str]) -> Module | dict[str, float]:
    """Read a file written by ``save``: a module with its weights, or a state_dict.

    Raises ``ValueError`` saying what is wrong when the file is not a chainrule model file,
    is truncated or corrupt, or its weights do not fit its architecture.
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{target} is not a chainrule model file (not UTF-8 text)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{target} is not a valid model file: broken JSON at line {error.lineno} "
                         f"column {error.colno} ({error.msg}); was it truncated?") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{target} is not a chainrule model file (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise ValueError(f"{target} has model file version {document.get('version')!r}; this chainrule reads version {VERSION}")
    state = _check_state(document.get("state"), str(target))
    if "model" not in document:
        return state
    model = build(document["model"], f"{target}: model")
    try:
        model.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{target}: the weights do not fit the architecture: {error}") from None
    return model


def _check_state(state: Any, where: str) -> dict[str, float]:
    if not isinstance(state, dict):
        raise ValueError(f"{where}: 'state' must be an object of name -> number")
    for name, value in state.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not isinstance(name, str):
            raise ValueError(f"{where}: weight {name!r} is {value!r}, not a number")
    return {name: float(value) for name, value in state.items()}


