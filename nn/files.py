"""Model files: JSON holding the architecture and every weight.

A file looks like ``{"format": "chainrule-model", "version": 1, "model": {...}, "state":
{...}}``. ``model`` names built-in module classes and their constructor arguments only, so
loading builds modules from a fixed list and never runs code from the file, and only once the
weights present match the architecture's size, counted from the architecture alone by each
class's ``parameter_count`` (a small file cannot ask for a huge model).
Files are standard JSON: floats are written with ``repr`` and read back bit-exact; the
non-finite weights JSON has no number for are the strings ``"inf"``, ``"-inf"``, ``"nan"`` (or
``"nan:0x..."`` with the bits of any other nan), read back bit-exact too.

A save writes a temporary file beside the target (through a symlink: beside the file it points
to, which is the file updated) and renames it over the target, so it never leaves a half-written
file or a temporary one; a new file gets the mode the umask gives, a replaced one keeps its mode.
Every error names the path the caller gave.
"""

from __future__ import annotations

import errno
import inspect
import json
import math
import numbers
import os
import secrets
import struct
from pathlib import Path
from typing import Any

from . import gpt, layers
from .module import Module

FORMAT = "chainrule-model"
VERSION = 1
MAX_DEPTH = 100  # nested Sequentials a file may hold (JSON nesting is bounded the same way)
NAN_BITS = struct.unpack("<Q", struct.pack("<d", math.nan))[0]
# the classes a file may name: nothing else is ever built from a file
MODULES: dict[str, type[Module]] = {
    cls.__name__: cls
    for cls in (layers.Neuron, layers.Layer, layers.Sigmoid, layers.Tanh, layers.ReLU, layers.Sequential, layers.MLP,
                gpt.Embedding, gpt.RMSNorm, gpt.AttentionHead, gpt.CausalSelfAttention, gpt.Block, gpt.GPT)
}

_SIGNATURES = {name: inspect.signature(cls) for name, cls in MODULES.items()}
_ARGUMENTS = {name: [a for a in signature.parameters if a != "modules"] for name, signature in _SIGNATURES.items()}
_ARGUMENTS["Sequential"] = ["modules"]


def describe(module: Module, depth: int = 0) -> dict[str, Any]:
    """The architecture of a built-in module as JSON-ready data."""
    if depth > MAX_DEPTH:
        raise ValueError(f"save: Sequentials nested more than {MAX_DEPTH} deep cannot be saved")
    kind = type(module).__name__
    if MODULES.get(kind) is not type(module):
        raise TypeError(f"save: cannot describe a {kind}: only nn's built-in modules can be saved whole; "
                        "save its state_dict() instead and rebuild the module in code")
    if isinstance(module, layers.Sequential):
        return {"type": kind, "modules": [describe(m, depth + 1) for m in module]}
    return {"type": kind, **module.config()}


def build(spec: Any, where: str = "model") -> Module:
    """Rebuild a module from ``describe``'s data; ``ValueError`` if the data is not one."""
    return _build(spec, where, 0)


def _build(spec: Any, where: str, depth: int) -> Module:
    kind = _kind(spec, where, depth)
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Sequential":
        parts = args.pop("modules", None)
        if not isinstance(parts, list) or args:
            raise ValueError(f"{where}: a Sequential needs exactly a 'modules' list")
        return layers.Sequential(*(_build(p, f"{where}.modules[{i}]", depth + 1) for i, p in enumerate(parts)))
    try:
        return MODULES[kind](**args)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: cannot build {kind} from {args}: {error}") from None


def _kind(spec: Any, where: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: modules nested more than {MAX_DEPTH} deep")
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"{where} must be an object with a 'type' naming an nn module")
    kind: str = spec["type"]
    if kind not in MODULES:
        raise ValueError(f"{where} names an unknown module type {kind!r}; known: {', '.join(MODULES)}")
    unknown = [k for k in spec if k != "type" and k not in _ARGUMENTS[kind]]
    if unknown:
        raise ValueError(f"{where}: cannot build {kind}: unexpected argument {_short(unknown[0])}; "
                         f"it takes {', '.join(_ARGUMENTS[kind]) or 'none'}")
    return kind


def weight_count(spec: Any, where: str = "model", depth: int = 0) -> int:
    """How many weights the module ``spec`` describes, worked out from the architecture alone
    (each class's ``parameter_count``), without building anything."""
    kind = _kind(spec, where, depth)
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Sequential":
        parts = args.get("modules")
        if not isinstance(parts, list):
            raise ValueError(f"{where}: a Sequential needs exactly a 'modules' list")
        return sum(weight_count(p, f"{where}.modules[{i}]", depth + 1) for i, p in enumerate(parts))
    cls = MODULES[kind]
    try:
        arguments = _SIGNATURES[kind].bind(**args)
        arguments.apply_defaults()
        count: int = cls.parameter_count(**arguments.arguments)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: cannot build {kind} from {_short(args)}: {error}") from None
    return count


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


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
        document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": describe(obj),
                                    "state": _encode_state(obj.state_dict())}
    elif isinstance(obj, dict):
        document = {"format": FORMAT, "version": VERSION, "state": _encode_state(_check_state(obj, "save"))}
    else:
        raise TypeError(f"save: expected an nn module or a state_dict, got {type(obj).__name__}")
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    given = os.fspath(path)
    target = Path(os.path.realpath(given)) if os.path.islink(given) else Path(given)  # a link: update what it points to
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"save: {given} is a directory; give a file name such as "
                                f"{Path(given) / 'model.json'}", given)
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666  # os.open applies the umask
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as error:
        raise _naming(error, given) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(temporary, mode)  # the umask may have narrowed it: keep the replaced file's mode
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, given) from None
        raise


def _naming(error: OSError, given: str) -> OSError:
    """The same kind of error, naming the path the caller gave rather than a temporary file."""
    if error.errno is None:
        return error
    return type(error)(error.errno, error.strerror, given)


def load(path: str | os.PathLike[str]) -> Module | dict[str, float]:
    """Read a file written by ``save``: a module with its weights, or a state_dict.

    Raises ``ValueError`` saying what is wrong when the file is not a chainrule model file,
    is truncated or corrupt, or its weights do not fit its architecture (checked before
    anything is built).
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
    except RecursionError:
        raise ValueError(f"{target} is not a chainrule model file: its JSON is nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise ValueError(f"{target} is not a valid model file: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{target} is not a chainrule model file (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise ValueError(f"{target} has model file version {_short(document.get('version'))}; "
                         f"this chainrule reads version {VERSION}")
    state = _check_state(document.get("state"), str(target))
    if "model" not in document:
        return state
    expected = weight_count(document["model"], f"{target}: model")
    if expected > len(state):  # refused before building: a few bytes may not ask for a huge model
        raise ValueError(f"{target}: the weights do not fit the architecture: it needs {layers.count_text(expected)} weights "
                         f"and the file holds {len(state)}")
    model = build(document["model"], f"{target}: model")
    try:
        model.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{target}: the weights do not fit the architecture: {error}") from None
    return model


def _encode_state(state: dict[str, float]) -> dict[str, Any]:
    return {name: value if math.isfinite(value) else _non_finite(value) for name, value in state.items()}


def _non_finite(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    bits = struct.unpack("<Q", struct.pack("<d", value))[0]
    return "nan" if bits == NAN_BITS else f"nan:{bits:#018x}"


def _decode(value: Any) -> float | None:
    """A weight from the file as a float, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            return None
    if value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, str) and value.startswith("nan:0x") and len(value) == 22:
        try:
            number: float = struct.unpack("<d", struct.pack("<Q", int(value[4:], 16)))[0]
        except ValueError:
            return None
        return number if math.isnan(number) else None
    return None


def _check_state(state: Any, where: str) -> dict[str, float]:
    if not isinstance(state, dict):
        raise ValueError(f"{where}: 'state' must be an object of name -> number")
    out = {}
    for name, value in state.items():
        number = _decode(value)
        if number is None or not isinstance(name, str):
            raise ValueError(f"{where}: weight {_short(name)} is {_short(value)}, not a number")
        out[name] = number
    return out
