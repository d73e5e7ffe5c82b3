"""The ``chainrule`` command under hostile input: one line on stderr, exit status 0, 1 or 2, never a
traceback, never a file outside the -o / --out path given. Each class of issue 10 has a test here,
and a bounded fuzzer (hypothesis) throws generated command lines at both commands."""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import needs_dot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn
from chainrule_cli.main import main


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err and "internal error" not in err


# --- constant parts follow the engine's IEEE rules, not Python's ------------------------------

@pytest.mark.parametrize("expression, value", [
    ("x + 1/0", math.inf),                 # Python: ZeroDivisionError
    ("x * 9**9**9", math.inf),             # Python: a huge int, then OverflowError
    ("x + (-8)**(1/3)", math.nan),         # Python: a complex number; IEEE pow: nan
    ("x - 0/0", math.nan),
    ("x * 1" + "0" * 400, math.inf),       # an integer literal past the float range rounds to inf
    ("x + log(0)", -math.inf),
])
def test_constant_subexpressions_follow_ieee(expression, value, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["graph", expression, "x=2"])
    assert code == 0, err
    shown = float(out.splitlines()[0].rsplit("= ", 1)[1])
    assert (math.isnan(shown) and math.isnan(value)) or shown == value, out
    assert "note: the result is not finite" in out


@pytest.mark.parametrize("expression", [
    "[" + "-" * 1900 + "x]",      # the error message's ast.unparse would recurse
    "-" * 1900 + "x",
    "x" + "+x" * 600,
    "(" * 250 + "x" + ")" * 250,    # Python's parser: too many nested parentheses
    "exp(" * 300 + "x" + ")" * 300,
    "~" * 1900 + "x",
])
def test_deep_nesting_is_refused_in_one_line(expression):
    code, out, err = run(["graph", "--", expression, "x=1"])
    assert code == 2 and out == "" and one_line(err), err


# --- output paths ---------------------------------------------------------------------------

def test_an_existing_directory_as_output_is_refused_and_nothing_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing_dir.png").mkdir()
    code, out, err = run(["graph", "x*2", "x=1", "-o", "existing_dir.png"])
    assert code == 2 and one_line(err) and "is a directory" in err
    assert sorted(os.listdir(tmp_path)) == ["existing_dir.png"] and os.listdir(tmp_path / "existing_dir.png") == []


def test_a_graph_past_the_node_limit_is_one_line_and_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expression = "+".join(f"({'+'.join(['x'] * 20)})" for _ in range(20))  # 400 leaves, shallow
    code, out, err = run(["graph", expression, "x=1", "-o", "sub/g.dot"])
    assert code == 1 and one_line(err) and "max_nodes" in err, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target", ["g.png", "sub/g.svg"])
def test_a_missing_layout_program_leaves_no_stray_file(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHAINRULE_GRAPHVIZ", "no-such-layout-program")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # and no `dot` to be found
    code, out, err = run(["graph", "x*2", "x=1", "-o", target])
    assert code == 1 and one_line(err) and "Graphviz" in err, err
    assert os.listdir(tmp_path) == []  # no DOT source left behind, no folder made


# --- chainrule train: options refused at once -------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (["--samples", "1"], "--samples: expected a whole number from 4"),
    (["--samples", "3", "--data", "xor"], "--samples: expected a whole number from 4"),
    (["--samples", "10000000000"], "--samples: expected a whole number from 4 to 100,000"),
    (["--momentum", "nan"], "--momentum: expected a finite number"),
    (["--momentum", "-0.5"], "--momentum: expected a number >= 0"),
    (["--lr", "inf"], "--lr: expected a finite number"),
    (["--tol", "nan"], "--tol: expected a finite number"),
    (["--epochs", "1000000000000"], "--epochs: expected a whole number from 1 to 100,000"),
    (["--epochs", "9" * 5000], "--epochs: expected a whole number"),
    (["--hidden", "999999999"], "expected sizes from 1 to 10,000"),
    (["--hidden", "5000,5000"], "makes 25,"),
    (["--hidden", ",".join(["2"] * 200)], "at most 100 hidden layers"),
    (["--seed", "1" + "0" * 400], "--seed: expected a whole number"),
    (["--batch-size", "0"], "--batch-size: expected a whole number from 1"),
])
def test_bad_numbers_are_refused_before_anything_runs(options, message, tmp_path):
    code, out, err = run(["train", "--no-progress", "--out", str(tmp_path / "out"), *options])
    assert code == 2 and out == "" and one_line(err) and message in err, err
    assert not (tmp_path / "out").exists()


def test_ctrl_c_in_the_first_epoch_reports_and_writes_nothing(tmp_path, monkeypatch):
    def interrupted(self, outputs, targets):
        raise KeyboardInterrupt
    monkeypatch.setattr(nn.CrossEntropyLoss, "forward", interrupted)
    code, out, err = run(["train", "--samples", "20", "--no-progress", "--out", str(tmp_path / "out")])
    assert code == 130 and "interrupted in the first epoch" in err and "nothing written" in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_out_without_matplotlib_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    code, out, err = run(["train", "--samples", "20", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "o")])
    assert code == 2 and out == "" and one_line(err) and "need matplotlib" in err, err
    assert not (tmp_path / "o").exists()


def test_out_in_an_unwritable_place_is_refused_before_training(tmp_path):
    (tmp_path / "a-file").write_text("x")
    code, out, err = run(["train", "--samples", "20", "--no-progress", "--out", str(tmp_path / "a-file" / "sub")])
    assert code == 2 and out == "" and one_line(err) and "is not a directory" in err, err


# --- the fuzzer: generated command lines for both commands ----------------------------------

NUMBERS = st.sampled_from(["0", "1", "-1", "2.5", "1e999", "-1e999", "nan", "inf", "1/0", "9**9**9", "1" + "0" * 400,
                           "0.0", "-0.0", "1e-320", "3", "10"])
ATOMS = st.one_of(NUMBERS, st.sampled_from(["x", "y", "w", "_", "x1", "1x", "x.data", "'s'", "None", "True"]))


@st.composite
def expressions(draw, depth=0):
    if depth > 4 or draw(st.integers(0, 3)) == 0:
        return draw(ATOMS)
    kind = draw(st.sampled_from(["bin", "unary", "call", "paren", "junk"]))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "/", "**", "//", "%", "@", "<", "and", ","]))
        return f"{draw(expressions(depth + 1))} {op} {draw(expressions(depth + 1))}"
    if kind == "unary":
        return draw(st.sampled_from(["-", "+", "~", "not ", "--"])) + draw(expressions(depth + 1))
    if kind == "call":
        name = draw(st.sampled_from(["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "open", "eval", "x"]))
        args = draw(st.lists(expressions(depth + 1), max_size=2))
        return f"{name}({', '.join(args)})"
    if kind == "paren":
        return f"({draw(expressions(depth + 1))})"
    return draw(st.text(max_size=12))


BINDINGS = st.lists(st.one_of(st.builds(lambda n, v: f"{n}={v}", st.sampled_from(["x", "y", "w", "exp", "1x", ""]),
                                        NUMBERS), st.text(max_size=8)), max_size=4)
GRAPH_OUTPUTS = st.sampled_from([[], ["-o", "g.dot"], ["-o", "sub/g.dot"], ["-o", "g.gif"], ["-o", "g"],
                                 ["-o", "taken.png"], ["-o", "g.svg"], ["-o", ""], ["--rankdir", "XY"], ["-o"]])


def _run_in_fresh_folder(argv, allowed):
    """Run ``argv`` in an empty folder holding one directory ``taken.png``; check the contract."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            os.mkdir("taken.png")
            code, out, err = run(argv)
            written = {str(p.relative_to(".")) for p in Path(".").rglob("*")} - {"taken.png"}
        finally:
            os.chdir(before)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        assert len(err.strip().splitlines()) == 1, (argv, err)
    stray = {w for w in written if not any(w == a or w.startswith(a + os.sep) or a.startswith(w + os.sep)
                                           for a in allowed)}
    assert not stray, (argv, stray)


@needs_dot
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), bindings=BINDINGS, output=GRAPH_OUTPUTS)
def test_fuzz_graph_command(expression, bindings, output):
    allowed = [output[1]] if len(output) == 2 and output[0] == "-o" and output[1] else []
    _run_in_fresh_folder(["graph", "--", expression, *bindings, *output] if output == [] else
                         ["graph", *output, "--", expression, *bindings], allowed)


TRAIN_OPTIONS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["--samples", "--epochs", "--batch-size", "--seed"]),
              st.sampled_from(["0", "1", "3", "4", "7", "-5", "1e3", "10**12", "99999999999", "1" + "0" * 40, "x", ""])),
    st.tuples(st.sampled_from(["--lr", "--momentum", "--tol", "--test-size"]),
              st.sampled_from(["0", "0.5", "1", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "x", "0.99"])),
    st.tuples(st.just("--hidden"), st.sampled_from(["2", "3,2", "0", "999999999", "2,,2", "2," * 150 + "2", "a", ""])),
    st.tuples(st.sampled_from(["--data", "--loss", "--optimizer", "--activation"]),
              st.sampled_from(["moons", "xor", "animals", "cross-entropy", "mse", "hinge", "bce", "sgd", "adam",
                               "relu", "linear", "digits!", "../etc"])),
    st.tuples(st.just("--out"), st.sampled_from(["out", "taken.png", "taken.png/x", "a/b"])),
    st.tuples(st.sampled_from(["--bogus", "-x", "--no-progress"]), st.just("")),
), max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=TRAIN_OPTIONS)
def test_fuzz_train_command(options):
    argv = ["train"]
    for name, value in options:
        argv += [name] if name == "--no-progress" else [name, value]
    argv += ["--epochs", "1", "--samples", "12", "--no-progress"]  # the last ones win: every run stays quick
    allowed = [value for name, value in options if name == "--out"]
    _run_in_fresh_folder(argv, allowed)


def test_weights_that_blow_up_stop_training_in_one_line(monkeypatch):
    def diverged(self, outputs, targets):  # what BCELoss says once the weights are inf/nan
        raise ValueError("BCELoss: output 0 is nan, not a probability in [0, 1]")
    monkeypatch.setattr(nn.BCELoss, "forward", diverged)
    code, out, err = run(["train", "--loss", "bce", "--samples", "20", "--epochs", "2", "--no-progress"])
    assert code == 1 and one_line(err) and "training stopped" in err and "smaller --lr" in err, err


def test_dot_output_needs_neither_graphviz_package_nor_program(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # a plain `pip install`: no extras
    monkeypatch.setenv("CHAINRULE_GRAPHVIZ", "no-such-layout-program")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = run(["graph", "tanh(x*w)", "x=2", "w=-3", "-o", "n.dot"])
    assert code == 0, err
    assert (tmp_path / "n.dot").read_text().startswith("digraph") and os.listdir(tmp_path) == ["n.dot"]
