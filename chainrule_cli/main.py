"""The ``chainrule`` command (also ``python -m chainrule_cli``): the application on top of ``nn``.

``chainrule train`` trains the seed network "L1 → sigmoid → L2" with softmax cross-entropy
and SGD on a built-in data set and prints its loss and accuracy; ``--out DIR`` also writes the
model file and pictures. ``chainrule graph EXPR name=value ...`` evaluates an expression with
Values, prints the gradients and draws the graph. Bad options exit with status 2 and one line.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nn
from autograd import CompileError, GraphTooLarge, GraphvizMissing, no_grad
from nn import optim, plots

from .expr import ExpressionError, run_graph_command

DATASETS = ("moons", "xor", "animals", "digits")
LOSSES = ("cross-entropy", "mse", "hinge", "bce")
OPTIMIZERS = ("sgd", "adam")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


class UsageError(Exception):
    """A bad command line: printed as one line, exit status 2."""


class TrainingFailed(Exception):
    """Training could not go on (diverged weights, say): printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one clear line instead of usage + traceback
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


# Upper bounds: a typo such as --epochs 10**12 or --hidden 999999999 is refused at once instead
# of running for days or exhausting memory. Each is far beyond what this pure-Python trainer is for.
MAX_EPOCHS = 100_000
MAX_SAMPLES = 100_000
MAX_WIDTH = 10_000
MAX_LAYERS = 100
MAX_WEIGHTS = 1_000_000
MIN_SAMPLES = 4  # xor needs one sample per cluster; the split keeps a training and a test sample


def _whole(text: str, least: int, most: int) -> int:
    try:
        value = int(text) if len(text) <= 30 else None
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {_short(text)}")
    if not least <= value <= most:
        raise argparse.ArgumentTypeError(f"expected a whole number from {least} to {most:,}, got {_short(text)}")
    return value


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:20] + "...") + f" ({len(text)} characters)"


def _bounded(least: int, most: int) -> Any:
    def parse(text: str) -> int:
        return _whole(text, least, most)
    parse.__name__ = "whole number"
    return parse


def _positive_int(text: str) -> int:
    return _whole(text, 1, 10**9)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_short(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {_short(text)}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {_short(text)}")
    return value


def _nonnegative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {_short(text)}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {_short(text)}")
    return value


def _sizes(text: str) -> list[int]:
    parts = text.split(",")
    if len(parts) > MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_LAYERS} hidden layers, got {len(parts)}")
    try:
        return [_whole(part.strip(), 1, MAX_WIDTH) for part in parts]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected sizes from 1 to {MAX_WIDTH:,} like 16 or 32,16, got {_short(text)}") from None


def _train_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train the seed network L1 → sigmoid → L2 on built-in data",
        description="Train the seed network L1 → activation → L2 (→ ... ) on a built-in data set and report "
        "its loss and accuracy. With --out, also write model.json, loss.png, boundary.png (2-D data) and "
        "graph.png (one sample's computation graph).",
    )
    p.add_argument("--data", choices=DATASETS, default="moons", help="data set (default: moons)")
    p.add_argument("--samples", type=_bounded(MIN_SAMPLES, MAX_SAMPLES), default=200, help="samples to generate for moons/xor/animals (default: 200)")
    p.add_argument("--hidden", type=_sizes, default=[16], help="hidden layer sizes, comma-separated (default: 16)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid", help="hidden activation (default: sigmoid)")
    p.add_argument("--loss", choices=LOSSES, default="cross-entropy", help="cost function (default: cross-entropy)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="optimizer (default: sgd)")
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: 0.5 for sgd, 0.01 for adam)")
    p.add_argument("--momentum", type=_nonnegative_float, default=0.9, help="SGD momentum (default: 0.9)")
    p.add_argument("--epochs", type=_bounded(1, MAX_EPOCHS), default=150, help="passes over the training data (default: 150)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="mini-batch size (default: 16)")
    p.add_argument("--tol", type=_positive_float, default=None, help="stop once no weight moves more than this in an epoch")
    p.add_argument("--test-size", type=_fraction, default=0.25, help="fraction held out for testing (default: 0.25)")
    p.add_argument("--seed", type=_bounded(-(2**63), 2**63 - 1), default=0, help="seed for data, weights and shuffling (default: 0)")
    p.add_argument("--out", type=Path, default=None, help="directory for model.json and the PNG pictures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--compile", action="store_true",
                   help="replay each training step with NumPy (autograd.compile): same losses, much faster")


def _graph_parser(sub: Any) -> None:
    p = sub.add_parser(
        "graph",
        help="evaluate an expression, print its gradients and draw its graph",
        description="Evaluate EXPR with Values bound to the given name=value pairs, run backward, print each "
        "variable's gradient and write the computation graph (format from the -o extension: png, svg, pdf, dot, or html for the interactive explorer page). "
        "EXPR may use numbers, variable names, + - * / **, unary minus, parentheses and exp, log, sqrt, tanh, "
        "sigmoid, relu, abs; nothing else is accepted, and nothing is ever passed to eval.",
    )
    p.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    p.add_argument("bindings", nargs="*", metavar="name=value", help="a number for each variable, e.g. x=2 w=-3 b=6.88")
    p.add_argument("-o", "--output", type=Path, default=None, help="file to write the drawing to (e.g. neuron.png)")
    p.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="layout direction (default: LR)")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description="Train and draw neural networks built on a scalar autograd engine.")
    sub = parser.add_subparsers(dest="command", metavar="{train,graph}", parser_class=_Parser)
    _train_parser(sub)
    _graph_parser(sub)
    return parser


def _load_data(args: argparse.Namespace) -> tuple[list, list, int, list[str]]:
    if args.data == "digits":
        X, y = nn.data.digits()
        return X, y, 10, [str(d) for d in range(10)]
    if args.data == "animals":
        X, y = nn.data.animals(n=args.samples, seed=args.seed)
        X = [[w / 10.0, length / 50.0] for w, length in X]  # kg/10 and cm/50: inputs near 1
        return X, y, 2, list(nn.data.ANIMAL_CLASSES)
    X, y = getattr(nn.data, args.data)(n=args.samples, seed=args.seed)
    return X, y, 2, ["0", "1"]


def train(args: argparse.Namespace) -> int:
    if args.loss in ("hinge", "bce") and args.data == "digits":
        raise UsageError(f"chainrule train: --loss {args.loss} is for two classes; digits has 10 (use cross-entropy or mse)")
    if args.out is not None:
        _check_can_write(args.out)  # before training: a long run must not end in "cannot write"
    X, y, n_classes, class_names = _load_data(args)
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=args.test_size, seed=args.seed)
    random.seed(args.seed)
    binary = args.loss in ("hinge", "bce")
    n_out = 1 if binary else n_classes
    sizes = [len(X[0]), *args.hidden, n_out]
    weights = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
    if weights > MAX_WEIGHTS:
        raise UsageError(f"chainrule train: --hidden {','.join(map(str, args.hidden))} makes {weights:,} weights; "
                         f"at most {MAX_WEIGHTS:,} (this trainer works one scalar at a time)")
    parts: list[nn.Module] = []  # L1, activation, L2, ...
    for i in range(len(sizes) - 1):
        parts.append(nn.Layer(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 and args.activation != "linear":
            parts.append(_ACTIVATION_MODULES[args.activation]())
    if args.loss == "bce":
        parts.append(nn.Sigmoid())
    model = nn.Sequential(*parts)
    loss_fn, to_target = _loss(args.loss)
    params = model.parameters()
    lr = args.lr if args.lr is not None else (0.5 if args.optimizer == "sgd" else 0.01)
    optimizer = optim.SGD(params, lr=lr, momentum=args.momentum) if args.optimizer == "sgd" else optim.Adam(params, lr=lr)

    layer_number = {id(m): k for k, m in enumerate((m for m in model if isinstance(m, nn.Layer)), start=1)}
    arrow = " → ".join(f"L{layer_number[id(m)]}({m.nin}→{m.nout})" if isinstance(m, nn.Layer) else type(m).__name__
                       for m in model)
    print(f"data: {args.data}, {len(X_train)} training and {len(X_test)} test samples, {n_classes} classes")
    print(f"network: {arrow} → {args.loss} loss; {args.optimizer} lr={lr}, {len(params)} weights")
    untrained = copy.deepcopy(model)  # graph.png shows the start: large gradients, before they shrink
    started = time.perf_counter()
    try:
        history = nn.fit(model, X_train, [to_target(t) for t in y_train], loss_fn, optimizer, epochs=args.epochs,
                         batch_size=args.batch_size, tol=args.tol, seed=args.seed, progress=not args.no_progress,
                         compile=args.compile)
    except ValueError as error:  # e.g. weights blown up to inf/nan give BCELoss no probabilities
        raise TrainingFailed(f"chainrule train: training stopped: {error}; "
                             "if the weights diverged, try a smaller --lr") from None
    seconds = time.perf_counter() - started
    if not history.loss:  # Ctrl-C before the first epoch ended: there is nothing to report or keep
        print(f"interrupted in the first epoch after {seconds:.1f} s: nothing trained, nothing written", file=sys.stderr)
        return 130

    train_acc = _accuracy(model, loss_fn, X_train, y_train, to_target)
    test_acc = _accuracy(model, loss_fn, X_test, y_test, to_target)
    print(f"trained {history.epochs} epochs in {seconds:.1f} s (stopped: {_STOPS[history.stopped]})")
    print(f"final loss {history.loss[-1]:.4f}; train accuracy {train_acc:.1%}; test accuracy {test_acc:.1%}")
    if args.out is not None:  # after an interruption too: the model holds the last finished step's weights
        _write_outputs(args.out, model, untrained, history, X, y, loss_fn, to_target, class_names)
    return 0 if history.stopped != "interrupted" else 130


OUTPUT_NAMES = ("model.json", "loss.png", "boundary.png", "graph.png")


def _check_can_write(out: Path) -> None:
    """Refuse now what would fail after training: no matplotlib, or an output folder that cannot
    be written. Creates nothing."""
    try:
        import matplotlib  # noqa: F401  (the pictures need it; the model file does not)
    except ImportError:
        raise UsageError("chainrule train: --out writes pictures, which need matplotlib: "
                         "pip install 'chainrule[train]' (or run without --out)") from None
    existing = out
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise UsageError(f"chainrule train: --out {out}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"chainrule train: --out {out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"chainrule train: --out {out}: no permission to write in {existing}")
    if existing == out:
        for name in OUTPUT_NAMES:
            if (out / name).is_dir():
                raise UsageError(f"chainrule train: --out {out}: {out / name} is a directory")


_STOPS = {"epochs": "ran every epoch", "tol": "the weights stopped changing", "min_delta": "the loss stopped changing",
          "interrupted": "interrupted"}
_ACTIVATION_MODULES: dict[str, Any] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class OneHotMSELoss(nn.MSELoss):
    """½·MSE against one-hot targets from class indices; the largest output is the prediction."""

    def target_numbers(self, i: int, target: Any, width: int) -> list[float]:
        (index,) = nn.CrossEntropyLoss().target_numbers(i, target, width)  # a class index, checked
        return [1.0 if k == index else 0.0 for k in range(width)]

    def correct(self, output: Any, target: Any) -> bool:
        return nn.CrossEntropyLoss().correct(output, target)

    def count_correct(self, outputs: Any, targets: Any) -> int:
        return nn.CrossEntropyLoss().count_correct(outputs, targets.argmax(axis=1)[:, None])


def _loss(name: str) -> tuple[nn.Loss, Any]:
    """The loss and how a class index becomes its target."""
    if name == "cross-entropy":
        return nn.CrossEntropyLoss(), int
    if name == "mse":
        return OneHotMSELoss(half=True), int
    if name == "hinge":
        return nn.HingeLoss(), lambda t: 1.0 if t else -1.0
    return nn.BCELoss(), float


def _accuracy(model: Any, loss_fn: Any, X: Sequence, y: Sequence, to_target: Any) -> float:
    with no_grad():
        return sum(bool(loss_fn.correct(model(x), to_target(t))) for x, t in zip(X, y)) / len(X)


def _write_outputs(out: Path, model: Any, untrained: Any, history: Any, X: list, y: list, loss_fn: Any,
                   to_target: Any, class_names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    nn.save(model, out / "model.json")
    written = [out / "model.json"]
    plots.loss_curve(history, out / "loss.png")
    written.append(out / "loss.png")
    if len(X[0]) == 2:
        plots.decision_boundary(model, X, y, out / "boundary.png", class_names=class_names)
        written.append(out / "boundary.png")
    try:
        graph = plots.sample_graph(untrained, X[0], to_target(y[0]), loss_fn, out / "graph.png")
    except GraphvizMissing as error:  # the drawing is a nicety: the rest is written
        print(f"note: no graph.png: {error}")
        graph = None
    if graph is not None:
        written.append(graph)
    print("wrote " + ", ".join(str(p) for p in written))


def graph(args: argparse.Namespace) -> int:
    return run_graph_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = make_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("chainrule: choose a command, train or graph (see 'chainrule --help')")
        return train(args) if args.command == "train" else graph(args)
    except (UsageError, ExpressionError) as error:
        print(error, file=sys.stderr)
        return 2
    except CompileError as error:  # --compile on a model or loss whose graph depends on the data
        print(f"chainrule train --compile: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # an output path that cannot be written: one line, no traceback
        where = f" {error.filename}" if error.filename else ""
        print(f"chainrule: cannot write{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    except (GraphTooLarge, GraphvizMissing, TrainingFailed) as error:
        print(f"chainrule: {error}" if not str(error).startswith("chainrule") else error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line, never a traceback (tests fail on this text)
        print(f"chainrule: internal error, please report it: {type(error).__name__}: {str(error)[:200]}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
