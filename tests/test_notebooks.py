"""The notebooks run top to bottom on a fresh kernel, as a learner would step through them.

Each is executed with nbclient; any cell that raises fails the test. They are committed with
their outputs (for reading where notebooks are rendered without running); this checks that the
code still runs, that the committed copy has its outputs, and that its printed text is what
the code prints now.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PUBLIC = {"autograd", "nn", "nn.optim", "nn.data", "random", "math", "time", "matplotlib.pyplot", "IPython.display",
          "torch"}


def test_there_are_six_numbered_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["1-", "2-", "3-", "4-", "5-", "6-"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_with_outputs_and_public_imports_only(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs for c in code), "commit the notebook with every cell's output"
    for cell in code:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom):
                assert node.module in PUBLIC, node.module
                assert not any(alias.name.startswith("_") for alias in node.names)
            elif isinstance(node, ast.Import):
                assert all(alias.name in PUBLIC for alias in node.names), [a.name for a in node.names]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    committed = [_text(c) for c in nb.cells if c.cell_type == "code"]
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # what a reader sees as text (prints, values) is what the code prints now; pictures may
    # differ in bytes between library versions, so they are only required to exist (above)
    fresh = [_text(c) for c in nb.cells if c.cell_type == "code"]
    stale = [i for i, (old, new) in enumerate(zip(committed, fresh)) if old != new]
    assert not stale, f"code cells {stale} print something else now: re-run the notebook and commit it"


def _text(cell) -> list[str]:
    """A code cell's printed text and plain-text results."""
    out = []
    for o in cell.outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type == "execute_result" and "image/svg+xml" not in o.data:
            out.append(o.data.get("text/plain", ""))
    return out
