"""``fit``: the training loop of the tutorials, written once.

    assign initial weights (the model's constructor did)
    repeat for each epoch:
        for each mini-batch:  predict → cost → backward (gradients) → optimizer step
        measure the loss on held-out data (``validation``), if given
    until the epochs run out, or the weights stop changing (``tol``), or the loss does
    (``min_delta``)

Ctrl-C never leaves a step half done: the interrupt is held while the optimizer writes the
weights and released right after, so the model has the weights of the last finished step.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from autograd import no_grad
from autograd.check import whole_number

from .compiled import CompiledSteps
from .losses import Loss
from .module import Module
from .optim import Optimizer
from .steps import EagerSteps, Steps


class Epoch(NamedTuple):
    """One epoch's record in a ``History`` (appended whole, so the lists never disagree)."""

    loss: float
    accuracy: float | None
    max_change: float
    val_loss: float | None = None
    val_accuracy: float | None = None


@dataclass
class History:
    """What ``fit`` did: the loss and accuracy of every epoch, and why it stopped.

    ``stopped`` is one of ``"epochs"`` (ran them all), ``"tol"`` (no weight moved more than
    ``tol`` in an epoch), ``"min_delta"`` (the loss changed less than ``min_delta``) or
    ``"interrupted"`` (Ctrl-C: the model keeps the weights of the last finished step).

    Per epoch, as lists of equal length: ``loss`` (mean training loss over the epoch's
    batches), ``accuracy`` (fraction of training samples predicted right during the epoch;
    ``None`` for losses without classes, such as ``MSELoss``), ``max_change`` (the largest move
    of any weight), and with ``fit(..., validation=...)`` ``val_loss`` and ``val_accuracy``
    (measured on the held-out samples after the epoch's last step; ``None`` without them).
    ``records`` holds the same as one ``Epoch`` per epoch.

    >>> h = History([Epoch(0.9, 0.5, 0.1, 1.0, 0.4), Epoch(0.5, 0.75, 0.05, 0.7, 0.6)], "epochs")
    >>> h.loss, h.val_accuracy, h.epochs
    ([0.9, 0.5], [0.4, 0.6], 2)
    """

    records: list[Epoch] = field(default_factory=list)
    stopped: str = ""
    loss_name: str = ""  # how pictures name the loss, e.g. "cross-entropy"

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def loss(self) -> list[float]:
        return [r.loss for r in self.records]

    @property
    def accuracy(self) -> list[float | None]:
        return [r.accuracy for r in self.records]

    @property
    def max_change(self) -> list[float]:
        return [r.max_change for r in self.records]

    @property
    def val_loss(self) -> list[float | None]:
        return [r.val_loss for r in self.records]

    @property
    def val_accuracy(self) -> list[float | None]:
        return [r.val_accuracy for r in self.records]

    @property
    def has_validation(self) -> bool:
        return bool(self.records) and self.records[0].val_loss is not None

    def __repr__(self) -> str:
        if not self.records:
            return f"History(0 epochs, stopped: {self.stopped})"
        last = self.records[-1]
        text = f"History({self.epochs} epochs, final loss {last.loss:.4g}"
        if last.accuracy is not None:
            text += f", accuracy {last.accuracy:.1%}"
        if last.val_loss is not None:
            text += f", validation loss {last.val_loss:.4g}"
        if last.val_accuracy is not None:
            text += f", validation accuracy {last.val_accuracy:.1%}"
        return text + f", stopped: {self.stopped})"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where output goes to a notebook, not a terminal)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _TextBar:
    """The progress bar without tqdm: one line on stderr, rewritten in place."""

    def __init__(self, total: int):
        self.total, self.n, self.note = total, 0, ""

    def update(self, n: int) -> None:
        self.n += n
        sys.stderr.write(f"\r{self.n}/{self.total} epochs {self.note}")
        sys.stderr.flush()

    def set_postfix_str(self, note: str) -> None:
        self.note = note

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(total: int, enabled: bool) -> Any:
    """A progress bar on a terminal or in a notebook (tqdm's widget when ipywidgets is there)."""
    if not enabled:
        return None
    notebook = in_notebook()
    if not (notebook or sys.stderr.isatty()):
        return None
    try:
        if notebook:
            import importlib.util

            if importlib.util.find_spec("ipywidgets") is None:  # tqdm.auto would warn, then do this
                from tqdm.std import tqdm
            else:
                from tqdm.auto import tqdm
        else:
            from tqdm.auto import tqdm
    except ImportError:  # the bar is a nicety: training works without tqdm
        return _TextBar(total)
    return tqdm(total=total, unit="epoch", leave=True)


class _HeldInterrupt:
    """Ctrl-C arriving during ``held()`` is kept and raised as soon as the block ends.

    Only the main thread receives signals, so elsewhere (and when SIGINT is not Python's
    default handler, e.g. ignored) this changes nothing. ``install()`` sets the handler,
    ``restore()`` puts the previous one back.
    """

    def __init__(self) -> None:
        self.holding = False
        self.pending = False
        self.previous: Any = None

    def install(self) -> None:
        """Hold Ctrl-C during ``held()`` from now on, until ``restore()``."""
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self.previous = current
                signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum: int, frame: Any) -> None:
        if self.holding:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def fit(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    loss_fn: Loss,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int | None = None,
    tol: float | None = None,
    min_delta: float | None = None,
    seed: int = 0,
    progress: bool = True,
    validation: tuple[Sequence[Any], Sequence[Any]] | None = None,
    live: bool | dict[str, Any] = False,
    compile: bool | str = False,
) -> History:
    """Train ``model`` on ``X``, ``y`` and return a ``History``.

    Each epoch shuffles the samples (seeded by ``seed``) into mini-batches of ``batch_size``
    (``None``: the whole set in one batch) and for each batch runs the model, the loss,
    ``backward()`` and ``optimizer.step()``. Stops after ``epochs``, or once no weight moved
    by more than ``tol`` during an epoch ("until the weights stop changing"), or once the
    epoch loss changed by less than ``min_delta``.

    ``validation=(X_val, y_val)``: after every epoch the model is run on these held-out
    samples (no graph, no update) and the history records ``val_loss`` and ``val_accuracy``:
    the numbers that show overfitting, which the training loss hides.

    ``progress``: a progress bar on a terminal or in a Jupyter notebook (tqdm if installed,
    else one line of text). ``live=True``: in a notebook, the loss curves (and for 2-D inputs
    with classes, the decision boundary) redrawn in place as training runs, at most about
    twice a second plus once at the end (needs matplotlib); elsewhere the same as ``progress``.
    ``live`` may also be a dict of ``plots.decision_boundary`` keywords for the picture, e.g.
    ``{"class_names": ("cat", "dog"), "xlabel": "weight (kg)", "scale": (10, 50)}``.

    Ctrl-C stops cleanly and returns the history so far (``stopped == "interrupted"``): an
    optimizer step is never half applied, and the model keeps the weights of the last
    finished step; an unfinished epoch is not recorded.

    ``compile=True`` replays each step with NumPy (``nn.compiled.CompiledSteps``): the same
    batches and updates, the same losses to rounding, much faster. The samples must be numbers
    of one shape, and the model's graph must not depend on their values: it is traced again on
    16 samples in the first two steps and on one every 1000 steps, and a ``CompileError`` stops
    training if it differs. Meanwhile the weights live in one array: the parameters' ``.data``
    and ``.grad`` (and the optimizer's state) are brought up to date when ``fit`` returns, when
    it is interrupted, and before each validation or live-view update. ``compile="jax"`` runs
    the same program jitted by JAX (``nn.xla.JaxSteps``): the optimizer's update inside the
    jitted step, each epoch one XLA call, the same losses to rounding, after a one-off compile
    of a second or more (see docs/compile.md, "Compile mode on XLA"). Needs JAX.

    >>> import random, nn
    >>> from nn import optim
    >>> random.seed(0)
    >>> X, y = nn.data.xor(n=60)
    >>> X_train, X_val, y_train, y_val = nn.data.train_test_split(X, y, test_size=0.25)
    >>> model = nn.MLP(2, [8, 2], activation="tanh")
    >>> history = nn.fit(model, X_train, y_train, nn.CrossEntropyLoss(),
    ...                  optim.Adam(model.parameters(), lr=0.05), epochs=60, progress=False,
    ...                  validation=(X_val, y_val))
    >>> history.accuracy[-1] > 0.9, history.val_accuracy[-1] > 0.8, history.stopped
    (True, True, 'epochs')
    >>> len(history.loss) == len(history.val_loss) == history.epochs == 60
    True
    """
    epochs, size = _check_arguments(X, y, loss_fn, epochs, batch_size, validation)
    interrupt = _HeldInterrupt()
    steps = _steps(compile)(model, loss_fn, optimizer, X, y, hold=interrupt.held)
    history = History(loss_name=next((_LOSS_NAMES[c.__name__] for c in type(loss_fn).__mro__
                                        if c.__name__ in _LOSS_NAMES), ""))
    view = _live_view(model, X, y, loss_fn, epochs, validation, live) if live and in_notebook() else None
    bar = _progress(epochs, progress or bool(live)) if view is None else None
    interrupt.install()
    try:
        _train(steps, history, epochs, list(range(len(X))), size, random.Random(seed), validation, tol, min_delta,
               bar, view)
    except KeyboardInterrupt:
        history.stopped = "interrupted"
    finally:
        interrupt.restore()
        if bar is not None:
            bar.close()
        steps.finish(interrupted=history.stopped == "interrupted")  # also after an error: .data is never stale
        if view is not None:
            view.update(history, final=True)
    return history


def _train(steps: Steps, history: History, epochs: int, order: list[int], size: int, rng: random.Random,
           validation: tuple[Sequence[Any], Sequence[Any]] | None, tol: float | None, min_delta: float | None,
           bar: Any, view: Any) -> None:
    """``fit``'s loop: ``epochs`` epochs of ``steps`` over the samples in ``order``, shuffled
    into batches of ``size``, one ``Epoch`` appended to ``history`` after each, until a stopping
    rule holds."""
    for _ in range(epochs):
        before = steps.weights()
        rng.shuffle(order)
        loss, right = steps.epoch(order, size)
        record = Epoch(loss, right, steps.max_change(before),
                       *(steps.evaluate(*validation) if validation is not None else ()))
        history.records.append(record)  # one append: the per-epoch lists always agree
        if bar is not None:
            bar.set_postfix_str(_summary(record))
            bar.update(1)
        if view is not None:
            steps.sync()  # the view runs the model: its .data must be up to date
            view.update(history)
        history.stopped = _stop(history, tol, min_delta)
        if history.stopped:
            return
    history.stopped = "epochs"


def _steps(compile: Any) -> Any:
    """The steps ``fit(compile=...)`` asks for: eager, replayed with NumPy, or on XLA."""
    if compile is False:
        return EagerSteps
    if compile is True or compile == "numpy":
        return CompiledSteps
    if compile == "jax":
        from .xla import JaxSteps

        return JaxSteps
    raise ValueError(f"fit: compile must be False, True (NumPy, the same as 'numpy') or 'jax', got {compile!r}")


def _stop(history: History, tol: float | None, min_delta: float | None) -> str:
    """Why training stops after the last epoch of ``history`` ("" to go on)."""
    record = history.records[-1]
    if tol is not None and record.max_change <= tol:
        return "tol"
    if min_delta is not None and len(history.records) > 1 and abs(history.records[-2].loss - record.loss) < min_delta:
        return "min_delta"
    return ""


def _check_arguments(X: Sequence[Any], y: Sequence[Any], loss_fn: Any, epochs: Any, batch_size: Any,
                     validation: Any) -> tuple[int, int]:
    """A clear error for what ``fit`` cannot train with; the epochs and the batch size."""
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} samples but {len(y)} targets")
    if not len(X):
        raise ValueError("fit: no training samples")
    epochs = whole_number(epochs, "fit: epochs", least=1)
    size = len(X) if batch_size is None else whole_number(batch_size, "fit: batch_size (or None)", least=1)
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"fit: loss_fn must be an nn loss such as nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("fit: validation must be a pair (X_val, y_val)")
        if len(validation[0]) != len(validation[1]) or not len(validation[0]):
            raise ValueError(f"fit: validation has {len(validation[0])} samples and {len(validation[1])} targets; "
                             "give the same positive number of each")
    return epochs, size


_LOSS_NAMES = {"CrossEntropyLoss": "cross-entropy", "BCELoss": "binary cross-entropy",
               "MSELoss": "mean squared error", "HingeLoss": "hinge"}


def _summary(record: Epoch) -> str:
    text = f"loss {record.loss:.4f}"
    if record.val_loss is not None:
        text += f", validation {record.val_loss:.4f}"
    return text


def _live_view(model: Module, X: Sequence[Any], y: Sequence[Any], loss_fn: Loss, epochs: int,
               validation: tuple[Sequence[Any], Sequence[Any]] | None, live: Any) -> Any:
    from . import plots

    with no_grad():
        two_d = len(X[0]) == 2 and loss_fn.count_correct([model(X[0])], [y[0]]) is not None
    options = dict(live) if isinstance(live, dict) else {}
    return plots.LiveView(epochs, model if two_d else None, X, y, validation, min_interval=0.5, clock=time.monotonic,
                          boundary=options)
