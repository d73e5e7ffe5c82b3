"""The notebooks run top to bottom on a fresh kernel, as a learner would step through them.

Each is executed with nbclient; any cell that raises fails the test. They are committed with
their outputs (for reading where notebooks are rendered without running); this checks that the
code still runs, that the committed copy has its outputs, and that its printed text is what
the code prints now.

What is compared is the text a cell prints to stdout, joined into one string, and its
plain-text results. Joined, because the kernel sends stdout in pieces cut by a timer: one
``print`` can arrive as "text" and "\n" when the machine is busy (this is what once failed
notebook 5's first cell). stderr is not compared: progress bars and warnings carry timings.
A notebook prints no timings and the same text with or without optional packages (PyTorch).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PUBLIC = {"autograd", "nn", "nn.optim", "nn.data", "random", "math", "time", "matplotlib.pyplot", "IPython.display",
          "torch"}


def test_notebooks_are_numbered_from_0_without_gaps():
    numbers = [int(p.name.split("-")[0]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 6, numbers


def test_the_kernel_is_this_environments_python():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve() or spec.argv[0] == "python", spec.argv


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_with_outputs_and_public_imports_only(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # an exercise cell is the learner's starting code (definitions only): it prints nothing
    silent = [c.source[:40] for c in code if not c.outputs and "exercise" not in c.metadata.get("tags", [])]
    assert code and not silent, f"commit the notebook with every cell's output: {silent}"
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
    """A code cell's stdout as one string, then its plain-text results (not drawings' reprs)."""
    printed = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    results = [o.data.get("text/plain", "") for o in cell.outputs
               if o.output_type == "execute_result" and "image/svg+xml" not in o.data]
    return [printed, *results]


def test_stdout_cut_into_pieces_by_the_kernel_compares_equal():
    # a busy kernel may send one print as "text" and "\n" (what once failed notebook 5's first cell)
    whole = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="1348 images\n")])
    cut = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="1348 images"),
                                             nbformat.v4.new_output("stream", name="stdout", text="\n"),
                                             nbformat.v4.new_output("stream", name="stderr", text="0/3 [00:01]")])
    assert _text(whole) == _text(cut)
    other = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="1349 images\n")])
    assert _text(other) != _text(whole)


@pytest.mark.slow
def test_fit_shows_a_progress_bar_and_a_live_picture_in_a_real_kernel(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import random, nn\nfrom nn import optim\nrandom.seed(0)\nX, y = nn.data.xor(n=30)\n"
                                  "m = nn.MLP(2, [4, 2])\nh = nn.fit(m, X, y, nn.CrossEntropyLoss(), "
                                  "optim.SGD(m.parameters(), lr=0.1), epochs=3)"),
        nbformat.v4.new_code_cell("h = nn.fit(m, X, y, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), "
                                  "epochs=3, live=True, validation=(X[:10], y[:10]))"),
    ])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    bar = "".join(o.text for o in nb.cells[0].outputs if o.output_type == "stream" and o.name == "stderr")
    assert "3/3" in bar, nb.cells[0].outputs
    pictures = [o for o in nb.cells[1].outputs if o.output_type == "display_data"]
    assert len(pictures) == 1 and "image/png" in pictures[0].data  # redrawn in place: one picture, not three
