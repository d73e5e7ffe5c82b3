"""The ``chainrule`` command, end to end, and what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import needs_dot

import nn
from chainrule_cli.main import main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@needs_dot
def test_train_end_to_end_writes_model_and_pictures(tmp_path, capsys):
    code, out, err = run(["train", "--epochs", "4", "--no-progress", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert "final loss" in out and "train accuracy" in out and "test accuracy" in out
    names = sorted(os.listdir(tmp_path))
    assert names == ["boundary.png", "graph.png", "loss.png", "model.json"]
    for name in names[:3]:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    model = nn.load(tmp_path / "model.json")
    assert isinstance(model, nn.Sequential) and len(model([0.5, 0.5])) == 2


@pytest.mark.parametrize("options", [
    ["--data", "xor", "--loss", "hinge", "--optimizer", "adam", "--hidden", "8,4", "--activation", "tanh"],
    ["--data", "animals", "--loss", "bce", "--tol", "1e-9"],
    ["--data", "moons", "--loss", "mse", "--batch-size", "50"],
])
def test_train_options(options, capsys):
    code, out, err = run(["train", "--epochs", "3", "--no-progress", "--samples", "60", *options], capsys)
    assert code == 0, err
    assert "final loss" in out


def test_linear_activation_adds_no_activation_module(capsys):
    code, out, err = run(["train", "--epochs", "1", "--no-progress", "--samples", "40", "--activation", "linear"], capsys)
    assert code == 0, err
    assert "L1(2→16) → L2(16→2)" in out  # the two layers with nothing between them


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0"], "--epochs: expected a whole number from 1 to 100,000"),
    (["train", "--lr", "fast"], "--lr: expected a number"),
    (["train", "--data", "mnist"], "invalid choice: 'mnist'"),
    (["train", "--hidden", "16,x"], "like 16 or 32,16"),
    (["train", "--test-size", "2"], "fraction between 0 and 1"),
    (["train", "--data", "digits", "--loss", "hinge"], "is for two classes"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "choose a command"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_options_exit_2_with_one_line(args, message, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


@needs_dot
@pytest.mark.parametrize("suffix", [".png", ".svg", ".dot"])
def test_graph_end_to_end(tmp_path, capsys, suffix):
    target = tmp_path / f"neuron{suffix}"
    code, out, err = run(["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "-o", str(target)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "tanh(x*w + b) = 0.706419"
    assert lines[1:4] == ["d out / d x = -1.50292", "d out / d w = 1.00194", "d out / d b = 0.500972"]
    data = target.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    elif suffix == ".svg":
        assert ET.fromstring(data).tag.endswith("svg")
    else:
        assert data.startswith(b"digraph {")


def test_graph_without_output_only_prints(capsys):
    code, out, _ = run(["graph", "x**2 + exp(x) - log(y)/sqrt(y) + relu(-x) + abs(x) + sigmoid(x)", "x=1", "y=4"], capsys)
    assert code == 0 and "d out / d x" in out and "d out / d y" in out


HOSTILE = [
    "__import__('os').system('touch PWNED')",
    "open('PWNED', 'w')",
    "exec('1')",
    "eval('1')",
    "(lambda: 1)()",
    "[x for x in (1, 2)]",
    "{x: 1}",
    "x[0]",
    "x.data",
    "x.__class__.__mro__",
    "globals()",
    "tanh.__globals__",
    "print(x)",
    "exp(x, y)",
    "exp(x=1)",
    "exp(*x)",
    "1 if x else 2",
    "x == 1",
    "x and y",
    "not x",
    "~x",
    "x // y",
    "x % y",
    "x @ y",
    "x << y",
    "'text'",
    "b'bytes'",
    "f'{x}'",
    "True + x",
    "(x := 1)",
    "x, y",
    "...",
    "x; y",
    "import os",
    "",
    "x +",
    "2j * x",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_are_refused_without_running_anything(expression, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["graph", expression, "x=1", "y=2", "-o", "g.png"], capsys)
    assert code == 2 and out == "", (expression, out)
    assert len(err.strip().splitlines()) == 1 and err.startswith("chainrule graph: "), err
    assert os.listdir(tmp_path) == []  # nothing ran, nothing was written


@pytest.mark.parametrize("args, message", [
    (["graph", "x*y", "x=1"], "variable 'y' has no value; pass y=NUMBER"),
    (["graph", "x*2", "x2"], "'x2' is not of the form name=number"),
    (["graph", "x*2", "x=abc"], "'abc' is not a number"),
    (["graph", "x*2", "x=1", "z=3"], "z not used in the expression"),
    (["graph", "x*2", "x=1", "-o", "out.gif"], "unknown output format '.gif'"),
    (["graph", "x*2", "x=1", "-o", "noext"], "unknown output format '(none)'"),
])
def test_graph_input_errors_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(args, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_console_script_and_python_dash_m_run():
    for command in ([os.path.join(os.path.dirname(sys.executable), "chainrule"), "--help"],
                    [sys.executable, "-m", "chainrule_cli", "graph", "x*x", "x=3"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert "d out / d x = 6" in result.stdout


def test_unwritable_outputs_are_one_line_errors(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, out, err = run(["train", "--epochs", "1", "--no-progress", "--samples", "20", "--out", str(blocker)], capsys)
    assert code == 2 and out == "", (out, err)  # refused before training
    assert "is not a directory" in err and len(err.strip().splitlines()) == 1, err
    code, out, err = run(["graph", "x*2", "x=1", "-o", str(blocker / "g.dot")], capsys)
    assert code == 1 and "cannot write" in err and len(err.strip().splitlines()) == 1, err


def test_graph_creates_the_output_folder(tmp_path, capsys):
    code, _, err = run(["graph", "x*2", "x=1", "-o", str(tmp_path / "new" / "g.dot")], capsys)
    assert code == 0 and (tmp_path / "new" / "g.dot").read_text().startswith("digraph"), err


@pytest.mark.parametrize("expression, binding, hint", [
    ("x^2", "x=2", "write x**2"),                      # ^ is exclusive or in Python, a power elsewhere
    ("(x + 1)^(x*2)", "x=2", "write (x + 1)**(x * 2)"),
    ("2x", "x=1", "write 2*x, not 2x"),                 # a number against a name: multiplication meant
    ("1.5x + 1", "x=1", "write 1.5*x"),
    ("3(x + 1)", "x=1", "3*(...)"),
    ("(x + 1)(x - 1)", "x=1", "(x + 1)*(...)"),
    ("sigmod(x)", "x=1", "did you mean sigmoid?"),
])
def test_expression_errors_say_what_to_write(expression, binding, hint, capsys):
    code, out, err = run(["graph", expression, binding], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert hint in err, err
    if "write " in hint and "(...)" not in hint:  # the suggested expression is one the command takes
        suggested = hint.split("write ", 1)[1].split(",")[0]
        assert run(["graph", suggested, binding], capsys)[0] == 0


@pytest.mark.parametrize("args, hint", [
    (["train", "--learning-rate", "0.1"], "did you mean --lr?"),        # the initials of its words
    (["train", "--learning_rate=0.1"], "did you mean --lr?"),
    (["train", "--hiden", "8"], "did you mean --hidden?"),               # a close spelling
    (["train", "--activation", "tahn"], "did you mean 'tanh'?"),         # a close choice
    (["train", "--optimiser", "adam"], "did you mean --optimizer?"),
    (["train", "--loss", "crossentropy"], "did you mean 'cross-entropy'?"),
    (["trian"], "did you mean 'train'?"),
    (["graph", "x", "x=1", "--rankdr", "TB"], "did you mean --rankdir?"),
    (["train", "--hiden", "8", "--batchsize", "3"], "did you mean --hidden (for --hiden), --batch-size (for --batchsize)?"),
])
def test_unknown_options_and_choices_get_a_did_you_mean(args, hint, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert hint in err, err


def test_no_did_you_mean_for_what_resembles_nothing(capsys):
    code, _, err = run(["train", "--zzzz"], capsys)
    assert code == 2 and "unrecognized arguments: --zzzz" in err and "did you mean" not in err, err


def test_version_prints_the_installed_packages_version(capsys):
    from pathlib import Path

    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    code, out, err = run(["--version"], capsys)
    assert code == 0 and err == "", err
    assert out.strip() == f"chainrule {pyproject['project']['version']}"
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "chainrule"), "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == out.strip(), result


def test_a_climbing_loss_is_warned_about_with_a_smaller_lr(capsys):
    code, out, err = run(["train", "--lr", "50", "--epochs", "150", "--no-progress"], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "rose for" in warnings[0] and "try a smaller --lr, e.g. --lr 5" in warnings[0], err


@pytest.mark.parametrize("options", [[], ["--data", "animals"], ["--data", "xor"], ["--optimizer", "adam"],
                                     ["--loss", "mse"], ["--loss", "bce"]])
def test_healthy_training_gets_no_warning(options, capsys):
    code, _, err = run(["train", "--no-progress", *options], capsys)
    assert code == 0 and "warning" not in err, err


def test_rising_loss_warning_needs_several_rises_that_add_up():
    from chainrule_cli.main import RISING_EPOCHS, rising_loss_warning

    climbing = [1.0, 0.4] + [0.4 * 1.3 ** k for k in range(1, RISING_EPOCHS + 1)]   # 3 rises, 0.4 → 0.88
    assert rising_loss_warning(climbing, lr=1.0) is not None
    assert "from 0.4 after epoch 2 to 0.8788 after epoch 5" in rising_loss_warning(climbing, lr=1.0)
    assert rising_loss_warning(climbing[:-1] + [0.3], lr=1.0) is None          # only 2 rises in a row
    assert rising_loss_warning([1.0, 0.4, 0.41, 0.42, 0.43, 0.2], lr=1.0) is None  # 3 rises, +7%: noise
    assert rising_loss_warning([1.0], lr=1.0) is None


@needs_dot
def test_loss_png_shows_the_held_out_loss(tmp_path, capsys, monkeypatch):
    from nn import plots

    drawn = {}
    original = plots.loss_curve

    def spy(history, path=None, **kwargs):
        ax = original(history, path=None, **kwargs)
        drawn["lines"] = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
        drawn["history"] = history
        return original(history, path, **kwargs)

    monkeypatch.setattr(plots, "loss_curve", spy)
    code, out, err = run(["train", "--epochs", "5", "--no-progress", "--samples", "60", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    history = drawn["history"]
    assert drawn["lines"]["training"] == history.loss and drawn["lines"]["test (held out)"] == history.val_loss
    # the held-out loss is the model's loss on the test samples, measured independently here
    model = nn.load(tmp_path / "model.json")
    X, y = nn.data.moons(n=60, seed=0)
    _, X_test, _, y_test = nn.data.train_test_split(X, y, test_size=0.25, seed=0)
    assert abs(nn.CrossEntropyLoss()([model(x) for x in X_test], y_test).data - history.val_loss[-1]) < 1e-12
