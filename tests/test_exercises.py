"""Every exercise's checking cell says "not yet" to the notebook's starting code and "right" to
the solution in notebooks/solutions/ (so a checking cell can tell the two apart).

The cells are run as the notebook has them, in a fresh namespace: the exercise cell (or the
solution block in its place), then the checking cell; what they print is the verdict."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent / "notebooks"


def _exercises():
    found = []
    for path in sorted(ROOT.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(cells):
            if "exercise" in cell.metadata.get("tags", []):
                following = cells[i + 1]
                assert "check" in following.metadata.get("tags", []), f"{path.name}: exercise {i} has no check cell"
                found.append(pytest.param(path, cell.metadata["exercise"], cell.source, following.source,
                                          id=f"{path.stem[:2]}{cell.metadata['exercise']}"))
    return found


def _solutions(path: Path) -> dict[str, str]:
    text = (ROOT / "solutions" / (path.stem + ".py")).read_text(encoding="utf-8")
    blocks = re.split(r"^# %% (\w+)\n", text, flags=re.M)
    return dict(zip(blocks[1::2], blocks[2::2]))


def _verdict(*sources: str) -> str:
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for source in sources:
            exec(compile(source, "<cell>", "exec"), namespace)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, lines  # one verdict, nothing else
    return lines[0]


EXERCISES = _exercises()


def test_every_notebook_ends_with_exercises():
    assert {p.values[0].name for p in EXERCISES} == {p.name for p in ROOT.glob("*.ipynb")
                                                      if p.name[0] in "012345"}


@pytest.mark.parametrize("path, name, starting_code, checking_cell", EXERCISES)
def test_checking_cell_fails_the_starting_code_and_passes_the_solution(path, name, starting_code, checking_cell):
    assert _verdict(starting_code, checking_cell).startswith("not yet: ")
    solution = _solutions(path)[name]
    assert _verdict(solution, checking_cell).startswith("right"), _verdict(solution, checking_cell)


@pytest.mark.parametrize("wrong, why", [
    ("def softplus_rule(x):\n    import math\n    return math.exp(x)", "at x = -3"),   # forgot the 1 + e^x
    ("def softplus_rule(x):\n    raise ValueError('todo')", "ValueError: todo"),    # an error is a verdict
])
def test_a_wrong_derivative_rule_is_named_with_the_point_it_fails_at(wrong, why):
    verdict = _verdict(wrong, "from nn import exercises\nexercises.check_softplus_rule(softplus_rule)")
    assert verdict.startswith("not yet: ") and why in verdict


@pytest.mark.parametrize("order", [["b", "a", "c", "d", "e"], ["a", "b", "c", "d", "e"]])
def test_every_valid_order_is_accepted(order):
    assert _verdict(f"order = {order!r}", "from nn import exercises\nexercises.check_order(order)").startswith("right")


@pytest.mark.parametrize("order", [["e", "d", "c", "b", "a"], ["e", "d", "c", "a", "b"]])
def test_the_order_backward_processes_is_refused_as_reversed(order):
    verdict = _verdict(f"order = {order!r}", "from nn import exercises\nexercises.check_order(order)")
    assert verdict.startswith("not yet: ") and "other way round, inputs first" in verdict


@pytest.mark.parametrize("rate, verdict", [(0.05, "not yet"), (0.5, "right"), (1.0, "right"), (1.5, "not yet")])
def test_learning_rates_too_small_and_too_large_are_both_refused(rate, verdict):
    assert _verdict(f"from nn import exercises\nexercises.check_learning_rate({rate!r})").startswith(verdict)
