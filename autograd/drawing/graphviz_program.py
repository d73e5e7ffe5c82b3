"""Running a Graphviz layout program: ``graphviz-pure`` from PyPI first, the system ``dot`` second.

``graphviz-pure`` (a port of Graphviz 16.1.0 to Rust, one self-contained program, installed by
``pip install 'chainrule[draw]'``) needs no root and writes the same bytes on every platform,
so it is the default; the ``dot`` program from the operating system is the fallback. Set
``CHAINRULE_GRAPHVIZ`` to a program's name or path to choose one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROGRAMS = ("graphviz-pure", "dot")
TIMEOUT = 300  # seconds a layout may take (Graphviz's time grows faster than the graph)
FORMATS = ("svg", "png", "pdf", "json", "plain")
INSTALL_HINT = ("install a Graphviz layout program: pip install graphviz-pure (no root needed; "
                "'pip install \"chainrule[draw]\"' includes it), or the system's 'dot' "
                "(sudo apt-get install graphviz, brew install graphviz)")


class GraphvizMissing(RuntimeError):
    """No Graphviz layout program (``graphviz-pure`` or ``dot``) was found."""


class LayoutTimeout(RuntimeError):
    """The layout program did not finish within ``TIMEOUT`` seconds."""


def find_program(fmt: str = "svg") -> str:
    """The path of the layout program to run; ``GraphvizMissing`` when there is none.

    Besides ``PATH``, the folder of the running Python is searched, so a virtual
    environment's ``graphviz-pure`` is found without activating the environment. PDF is
    asked of ``dot`` first, since ``graphviz-pure`` writes none.
    """
    chosen = os.environ.get("CHAINRULE_GRAPHVIZ")
    names = (chosen,) if chosen else PROGRAMS[::-1] if fmt == "pdf" else PROGRAMS
    here = str(Path(sys.executable).parent)
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=here)
        if found:
            return found
    if chosen:
        raise GraphvizMissing(f"CHAINRULE_GRAPHVIZ={chosen!r} is not a program on PATH; unset it or {INSTALL_HINT}")
    raise GraphvizMissing(f"cannot lay out the drawing: {INSTALL_HINT}")


def run(source: str, fmt: str) -> bytes:
    """Lay out DOT ``source`` and return the ``fmt`` output (``svg``, ``png``, ``json``, ...)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown drawing format {fmt!r}; use one of {', '.join(FORMATS)}")
    program = find_program(fmt)
    try:
        done = subprocess.run([program, f"-T{fmt}", "-q"], input=source.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT, check=False)
    except OSError as error:
        raise GraphvizMissing(f"cannot run {program}: {error}; {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        shapes = len(re.findall(r"^\s*\w+ \[label=", source, re.M))
        raise LayoutTimeout(f"{Path(program).name} did not finish laying out a drawing of about {shapes} shapes in "
                            f"{TIMEOUT} s; draw a smaller graph, or collapse modules into boxes with depth=") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = " (graphviz-pure writes no pdf: use png or svg, or install the system 'dot')" if fmt == "pdf" else ""
        raise RuntimeError(f"{Path(program).name} -T{fmt} failed{hint}: {message[-1] if message else 'no output'}")
    return done.stdout


def write(source: str, path: str | Path, fmt: str) -> Path:
    """Lay out ``source`` and write the ``fmt`` output to ``path`` whole (never half a file)."""
    data = run(source, fmt)
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
