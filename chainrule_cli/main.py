"""The ``chainrule`` command (also ``python -m chainrule_cli``): the application on top of ``nn``.

``chainrule train`` trains the seed network "L1 → sigmoid → L2" with softmax cross-entropy
and SGD on a built-in data set and prints its loss and accuracy; ``--out DIR`` also writes the
model file and pictures. ``chainrule graph EXPR name=value ...`` evaluates an expression with
Values, prints the gradients and draws the graph. Bad options exit with status 2 and one line.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import importlib.metadata
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
    commands: dict[str, argparse.ArgumentParser]  # the subcommands' parsers, by name (set by make_parser)

    def error(self, message: str) -> Any:  # one clear line instead of usage + traceback
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value outside ``choices``: say which choice was probably meant (``tahn``: ``tanh``)."""
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}; {hint}(choose from {', '.join(choices)})")


def suggest_option(unknown: str, parser: argparse.ArgumentParser) -> str | None:
    """The option of ``parser`` that ``unknown`` (say ``--learning-rate``) probably meant, or None.

    Tried in turn: a spelling close to an option's name (``--epoch``: ``--epochs``), the
    initials of its words (``--learning-rate``: ``--lr``), its words in an option's help text.
    """
    name = unknown.split("=", 1)[0]
    actions = [a for a in parser._actions if a.option_strings]
    options = [o for a in actions for o in a.option_strings if o.startswith("--")]
    words = [w for w in name.lstrip("-").replace("_", "-").lower().split("-") if w]
    initials = "--" + "".join(w[0] for w in words)
    guesses = [*difflib.get_close_matches(name, options, n=1), *([initials] if len(words) > 1 and initials in options else []),
               *_described_by(" ".join(words), actions)]
    return guesses[0] if guesses else None


def _described_by(phrase: str, actions: list[argparse.Action]) -> list[str]:
    """The options whose help text holds ``phrase`` (``learning rate``: ``--lr``)."""
    return [a.option_strings[-1] for a in actions if phrase and a.help and phrase in a.help.lower()]


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


def _train_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "train",
        help="train the seed network L1 → sigmoid → L2 on built-in data",
        description="Train the seed network L1 → activation → L2 (→ ... ) on a built-in data set and report "
        "its loss and accuracy. With --out, also write model.json, loss.png (training and test loss per epoch), "
        "boundary.png (2-D data) and graph.png (one sample's computation graph).",
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
    return p


def _graph_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
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
    return p


def version() -> str:
    """The installed package's version (from its metadata: pyproject.toml's, once installed)."""
    try:
        return importlib.metadata.version("chainrule")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e . in the source tree)"


def make_parser() -> _Parser:
    parser = _Parser(prog="chainrule", description="Train and draw neural networks built on a scalar autograd engine.")
    parser.add_argument("--version", action="version", version=f"chainrule {version()}")
    sub = parser.add_subparsers(dest="command", metavar="{train,graph}", parser_class=_Parser)
    parser.commands = {"train": _train_parser(sub), "graph": _graph_parser(sub)}
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line as options; ``UsageError`` (with a "did you mean") for unknown ones."""
    parser = make_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        where = parser.commands.get(args.command, parser)
        guesses = {e.split("=", 1)[0]: g for e in extras if e.startswith("-") and (g := suggest_option(e, where))}
        meant = [g if len(guesses) == 1 else f"{g} (for {e})" for e, g in guesses.items()]
        hint = f"; did you mean {', '.join(meant)}?" if meant else ""
        where.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def _load_data(args: argparse.Namespace) -> tuple[list[list[float]], list[int], int, list[str]]:
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
    model = _build_model(args, len(X[0]), 1 if args.loss in ("hinge", "bce") else n_classes)
    loss_fn, to_target = _loss(args.loss)
    optimizer, lr = _optimizer(args, model.parameters())
    print(f"data: {args.data}, {len(X_train)} training and {len(X_test)} test samples, {n_classes} classes")
    print(f"network: {_arrow(model)} → {args.loss} loss; {args.optimizer} lr={lr}, {len(model.parameters())} weights")
    untrained = copy.deepcopy(model)  # graph.png shows the start: large gradients, before they shrink
    # the test loss per epoch is for loss.png: measured only when it is drawn (eagerly, it costs
    # about a seventh more time; beside --compile's replay, more than the training itself)
    held_out = (X_test, [to_target(t) for t in y_test]) if args.out is not None else None
    started = time.perf_counter()
    try:
        history = nn.fit(model, X_train, [to_target(t) for t in y_train], loss_fn, optimizer, epochs=args.epochs,
                         batch_size=args.batch_size, tol=args.tol, seed=args.seed, progress=not args.no_progress,
                         compile=args.compile, validation=held_out)
    except ValueError as error:  # e.g. weights blown up to inf/nan give BCELoss no probabilities
        raise TrainingFailed(f"chainrule train: training stopped: {error}; "
                             "if the weights diverged, try a smaller --lr") from None
    seconds = time.perf_counter() - started
    if not history.loss:  # Ctrl-C before the first epoch ended: there is nothing to report or keep
        print(f"interrupted in the first epoch after {seconds:.1f} s: nothing trained, nothing written", file=sys.stderr)
        return 130
    warning = rising_loss_warning(history.loss, lr)
    if warning:
        print(warning, file=sys.stderr)
    print(f"trained {history.epochs} epochs in {seconds:.1f} s (stopped: {_STOPS[history.stopped]})")
    print(f"final loss {history.loss[-1]:.4f}; train accuracy {_accuracy(model, loss_fn, X_train, y_train, to_target):.1%}; "
          f"test accuracy {_accuracy(model, loss_fn, X_test, y_test, to_target):.1%}")
    if args.out is not None:  # after an interruption too: the model holds the last finished step's weights
        _write_outputs(args.out, model, untrained, history, X, y, loss_fn, to_target, class_names)
    return 0 if history.stopped != "interrupted" else 130


def _build_model(args: argparse.Namespace, n_in: int, n_out: int) -> nn.Sequential:
    """L1, activation, L2, ... as the options say (``UsageError`` when it has too many weights)."""
    sizes = [n_in, *args.hidden, n_out]
    weights = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
    if weights > MAX_WEIGHTS:
        raise UsageError(f"chainrule train: --hidden {','.join(map(str, args.hidden))} makes {weights:,} weights; "
                         f"at most {MAX_WEIGHTS:,} (this trainer works one scalar at a time)")
    parts: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        parts.append(nn.Layer(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 and args.activation != "linear":
            parts.append(_ACTIVATION_MODULES[args.activation]())
    if args.loss == "bce":
        parts.append(nn.Sigmoid())
    return nn.Sequential(*parts)


def _optimizer(args: argparse.Namespace, params: list[Any]) -> tuple[optim.Optimizer, float]:
    """The optimizer the options name, and its learning rate (--lr, or the optimizer's default)."""
    lr = args.lr if args.lr is not None else (0.5 if args.optimizer == "sgd" else 0.01)
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=args.momentum), lr
    return optim.Adam(params, lr=lr), lr


def _arrow(model: nn.Sequential) -> str:
    """``L1(2→16) → Sigmoid → L2(16→2)``: the network as the tutorials draw it."""
    layer_number = {id(m): k for k, m in enumerate((m for m in model if isinstance(m, nn.Layer)), start=1)}
    return " → ".join(f"L{layer_number[id(m)]}({m.nin}→{m.nout})" if isinstance(m, nn.Layer) else type(m).__name__
                      for m in model)


RISING_EPOCHS = 3  # rises in a row that count as climbing; fewer happen in healthy mini-batch training
RISING_FACTOR = 2.0  # ... and by how much the loss must have grown over them (healthy runs: below 1.7)


def rising_loss_warning(losses: Sequence[float], lr: float) -> str | None:
    """A warning when the loss climbed for ``RISING_EPOCHS`` epochs in a row and at least doubled
    doing so (the steps overshoot: the learning rate is too large), else None.

    >>> rising_loss_warning([1.0, 0.5, 0.6, 0.9, 1.4, 1.0], lr=0.5)[:90]
    'warning: the training loss rose for 3 epochs in a row (from 0.5 after epoch 2 to 1.4 after'
    >>> rising_loss_warning([1.0, 0.5, 0.6, 0.7, 0.8, 0.4], lr=0.5) is None
    True
    """
    climbs, worst, start = 0, None, 0
    for i in range(1, len(losses) + 1):
        if i < len(losses) and losses[i] > losses[i - 1]:
            continue
        rises = i - 1 - start  # epochs start+1 .. i-1 each rose
        if rises >= RISING_EPOCHS and losses[i - 1] >= RISING_FACTOR * losses[start]:
            climbs += 1
            if worst is None or losses[i - 1] / losses[start] > losses[worst[1]] / losses[worst[0]]:
                worst = (start, i - 1)
        start = i
    if worst is None:
        return None
    first, last = worst
    again = f", {climbs} times in all" if climbs > 1 else ""
    return (f"warning: the training loss rose for {last - first} epochs in a row (from {losses[first]:.4g} "
            f"after epoch {first + 1} to {losses[last]:.4g} after epoch {last + 1}){again}; the steps overshoot: "
            f"try a smaller --lr, e.g. --lr {lr / 10:g}")


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

    def count_correct(self, outputs: Any, targets: Any) -> int:
        if hasattr(targets, "shape"):  # compiled: one-hot rows; eager: class indices
            targets = targets.argmax(axis=1)[:, None]
        return nn.CrossEntropyLoss().count_correct(outputs, targets)


def _loss(name: str) -> tuple[nn.Loss, Any]:
    """The loss and how a class index becomes its target."""
    if name == "cross-entropy":
        return nn.CrossEntropyLoss(), int
    if name == "mse":
        return OneHotMSELoss(half=True), int
    if name == "hinge":
        return nn.HingeLoss(), lambda t: 1.0 if t else -1.0
    return nn.BCELoss(), float


def _accuracy(model: Any, loss_fn: Any, X: Sequence[Any], y: Sequence[Any], to_target: Any) -> float:
    with no_grad():
        return float(loss_fn.count_correct([model(x) for x in X], [to_target(t) for t in y])) / len(X)


def _write_outputs(out: Path, model: Any, untrained: Any, history: Any, X: list[Any], y: list[Any], loss_fn: Any,
                   to_target: Any, class_names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    nn.save(model, out / "model.json")
    written = [out / "model.json"]
    plots.loss_curve(history, out / "loss.png", held_out="test (held out)")
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
        args = parse(argv)
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
    except SystemExit as done:  # --help and --version: argparse printed them
        return done.code if isinstance(done.code, int) else 0
    except Exception as error:  # a bug: still one line, never a traceback (tests fail on this text)
        print(f"chainrule: internal error, please report it: {type(error).__name__}: {str(error)[:200]}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
