"""Pictures of training, shared by the ``chainrule`` command and the notebooks (needs matplotlib).

Every function draws into ``ax`` when one is given (so pictures can be put side by side),
otherwise into a new figure that is written to ``path`` (if given) and returned as the axes.

| function | picture |
| --- | --- |
| ``loss_curve(history)`` | training (and validation) loss per epoch; accuracy beside it |
| ``loss_curves({name: history})`` | several runs side by side on one scale (e.g. learning rates) |
| ``decision_boundary(model, X, y)`` | the plane shaded by the predicted probability, samples on it |
| ``weight_images(layer, (8, 8))`` | each neuron's input weights as a picture |
| ``confusion_matrix(model, X, y)`` | how often class i is taken for class j |
| ``sample_graph(model, x, t, loss_fn, path)`` | one sample's graph, input → loss, with gradients |
| ``LiveView`` | what ``fit(..., live=True)`` redraws in a notebook as training runs |

>>> import random, nn
>>> from nn import plots, optim
>>> random.seed(0)
>>> X, y = nn.data.xor(n=40)
>>> model = nn.MLP(2, [4, 2])
>>> history = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
...                  epochs=3, progress=False)
>>> ax = plots.loss_curve(history)
>>> ax.get_xlabel(), ax.get_ylabel()
('epoch', 'loss (cross-entropy)')
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autograd import no_grad

from .layers import Sequential, Sigmoid

TRAIN_MARKER, TEST_MARKER = "o", "^"
CLASS_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink",
                 "tab:gray", "tab:olive", "tab:cyan")


def _pyplot() -> Any:
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")  # files only: no window, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("pictures need matplotlib: pip install 'chainrule[train]' (or make setup)") from None
    return plt


def _figure(ax: Any, size: tuple[float, float]) -> tuple[Any, Any, bool]:
    """The axes to draw on: ``ax``, or one in a new figure (then the third item is True)."""
    if ax is not None:
        return ax.figure, ax, False
    fig, ax = _pyplot().subplots(figsize=size, dpi=100)
    return fig, ax, True


def _save(fig: Any, path: str | Path | None) -> None:
    """Lay out a figure this module made and, if ``path`` is given, write it and free it."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
        _pyplot().close(fig)


def _loss_name(history: Any) -> str:
    name = getattr(history, "loss_name", "")
    return f"loss ({name})" if name else "loss"


def loss_curve(history: Any, path: str | Path | None = None, ax: Any = None, *, title: str = "Training",
               accuracy: bool = True, epochs: int | None = None, log: bool = False,
               held_out: str = "validation") -> Any:
    """Plot the loss per epoch: training (solid) and, when the history has them, the held-out
    samples' (dashed, labelled ``held_out``: what they are called where they come from).

    In a new figure, accuracy gets a second panel beside the loss (``accuracy=False``: not).
    ``epochs`` fixes the x range (as the live view does); ``log=True`` puts the loss on a log
    scale. Returns the loss axes.
    """
    if ax is None and accuracy and history.records and history.accuracy[0] is not None:
        plt = _pyplot()
        fig, (ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
        own = True
        accuracy_curve(history, ax=acc_ax, epochs=epochs, held_out=held_out)
    else:
        fig, ax, own = _figure(ax, (6, 3.6))
    xs = range(1, history.epochs + 1)
    ax.plot(xs, history.loss, color="tab:blue", label="training")
    if history.has_validation:
        ax.plot(xs, history.val_loss, color="tab:orange", linestyle="--", label=held_out)
    ax.set_xlabel("epoch")
    ax.set_ylabel(_loss_name(history))
    if log:
        ax.set_yscale("log")
    if epochs:
        ax.set_xlim(1, max(epochs, 2))
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    if own:
        _save(fig, path)
    return ax


def accuracy_curve(history: Any, ax: Any = None, *, epochs: int | None = None, held_out: str = "validation") -> Any:
    """Plot the fraction of samples predicted right per epoch (training, and held-out if any)."""
    fig, ax, own = _figure(ax, (5, 3.4))
    xs = range(1, history.epochs + 1)
    ax.plot(xs, [100 * a for a in history.accuracy], color="tab:blue", label="training")
    if history.has_validation and history.val_accuracy[0] is not None:
        ax.plot(xs, [100 * a for a in history.val_accuracy], color="tab:orange", linestyle="--", label=held_out)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 102)
    if epochs:
        ax.set_xlim(1, max(epochs, 2))
    ax.set_title("Accuracy")
    ax.legend(loc="lower right", fontsize=8)
    if own:
        _save(fig, None)
    return ax


def loss_curves(histories: Mapping[str, Any], path: str | Path | None = None, *, log: bool = False,
                ylim: tuple[float, float] | None = None) -> Any:
    """Several trainings side by side, one panel each, on the same loss scale; returns the axes.

    The way to compare settings (learning rates, optimizers) on one problem: the shared y
    axis makes "too slow" and "blew up" visible at a glance.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(histories), figsize=(3.2 * len(histories), 3.0), dpi=100, sharey=True,
                             squeeze=False)
    for ax, (name, history) in zip(axes[0], histories.items()):
        loss_curve(history, ax=ax, title=name, log=log)
        if ylim is not None:
            ax.set_ylim(*ylim)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    _save(fig, path)
    return axes[0]


def probabilities(model: Any, x: Sequence[float]) -> list[float]:
    """The model's class probabilities for one sample.

    Several outputs are scores: their softmax. One output is a probability when the model ends
    in ``Sigmoid`` and otherwise a score, which the sigmoid turns into one (>0 means class 1).

    >>> import nn
    >>> from autograd import Value
    >>> class Scores(nn.Module):
    ...     def forward(self, x):
    ...         return [Value(0.0), Value(math.log(3.0))]
    >>> [round(p, 6) for p in probabilities(Scores(), [0.0])]
    [0.25, 0.75]
    """
    with no_grad():
        out = model(x)
    scores = [float(v) for v in (out if isinstance(out, (list, tuple)) else [out])]
    if len(scores) == 1:
        p = scores[0] if _ends_in_sigmoid(model) else _sigmoid(scores[0])
        return [1.0 - p, p]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    return [e / sum(exps) for e in exps]


def _sigmoid(s: float) -> float:
    return 1.0 / (1.0 + math.exp(-s)) if s >= 0 else math.exp(s) / (1.0 + math.exp(s))


def predict_class(model: Any, x: Sequence[float]) -> int:
    """The class a model picks for one sample: the most probable one (see ``probabilities``)."""
    probs = probabilities(model, x)
    return max(range(len(probs)), key=probs.__getitem__)


def _ends_in_sigmoid(model: Any) -> bool:
    return isinstance(model, Sequential) and len(model) > 0 and isinstance(model[-1], Sigmoid)


def decision_boundary(model: Any, X: Sequence[Sequence[float]], y: Sequence[int], path: str | Path | None = None,
                      class_names: Sequence[str] = ("0", "1"), resolution: int = 60, ax: Any = None,
                      xlabel: str = "x0", ylabel: str = "x1", *,
                      test: tuple[Sequence[Sequence[float]], Sequence[int]] | None = None,
                      scale: Sequence[float] = (1.0, 1.0), title: str = "Decision boundary",
                      colorbar: bool = True, held_out: str = "test") -> Any:
    """Shade the plane by the model's predicted probability and put the 2-D samples on it.

    Two classes: blue where the model says class 0, red where it says class 1, paler where it
    is unsure, and a black line where it is 50/50. More classes: each region in its class's
    colour. Training samples are circles; ``test=(X_test, y_test)`` adds held-out samples as
    triangles, labelled ``held_out`` in the legend (what they are called where they come from,
    e.g. ``"validation"``).
    The grid covers every sample with a margin. ``scale`` multiplies the model's inputs into
    the units on the axes (e.g. ``(10, 50)`` for inputs given in tens of kg and fifties of
    cm, with ``xlabel="weight (kg)"``): the model is still asked about its own units.
    """
    fig, ax, own = _figure(ax, (5.6, 4.4))
    sx, sy = float(scale[0]), float(scale[1])
    points = [list(p) for p in X] + ([list(p) for p in test[0]] if test is not None else [])
    (x0, x1), grid_x = _axis([p[0] * sx for p in points], resolution)
    (y0, y1), grid_y = _axis([p[1] * sy for p in points], resolution)
    probs = [[probabilities(model, [gx / sx, gy / sy]) for gx in grid_x] for gy in grid_y]
    n_classes = _shade(ax, grid_x, grid_y, probs, class_names, colorbar)
    sets = [("train" if test is not None else "", X, y, TRAIN_MARKER, 16)]
    if test is not None:
        sets.append((held_out, test[0], test[1], TEST_MARKER, 30))
    for kind, xs, ys, marker, size in sets:
        _samples(ax, xs, ys, class_names, n_classes, (sx, sy), kind=kind, marker=marker, size=size)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    if own:
        _save(fig, path)
    return ax


def _shade(ax: Any, grid_x: list[float], grid_y: list[float], probs: list[list[list[float]]],
           class_names: Sequence[str], colorbar: bool) -> int:
    """Colour the grid by the predicted classes; returns how many classes there are."""
    n_classes = max(len(class_names), len(probs[0][0]))
    if n_classes == 2:
        p1 = [[p[1] for p in row] for row in probs]
        shading = ax.contourf(grid_x, grid_y, p1, levels=[k / 10 for k in range(11)], cmap="RdBu_r", alpha=0.55,
                              vmin=0, vmax=1)
        ax.contour(grid_x, grid_y, p1, levels=[0.5], colors="k", linewidths=1.2)
        if colorbar:
            ax.figure.colorbar(shading, ax=ax, label=f"P({class_names[1]})", ticks=[0, 0.25, 0.5, 0.75, 1])
        return n_classes
    from matplotlib.colors import ListedColormap

    best = [[max(range(len(p)), key=p.__getitem__) for p in row] for row in probs]
    ax.contourf(grid_x, grid_y, best, levels=[k - 0.5 for k in range(n_classes + 1)],
                cmap=ListedColormap(list(CLASS_COLOURS[:n_classes])), alpha=0.3)
    return n_classes


def _samples(ax: Any, X: Sequence[Sequence[float]], y: Sequence[int], class_names: Sequence[str], n_classes: int,
             scale: tuple[float, float], *, kind: str, marker: str, size: int) -> None:
    """Put the samples on the plane, one colour per class, labelled "name (kind)" for the legend."""
    for label in range(n_classes):
        name = class_names[label] if label < len(class_names) else str(label)
        pts = [p for p, t in zip(X, y) if t == label]
        if pts:
            ax.scatter([p[0] * scale[0] for p in pts], [p[1] * scale[1] for p in pts], s=size, marker=marker,
                       color=CLASS_COLOURS[label % len(CLASS_COLOURS)],
                       edgecolors="k" if marker == TRAIN_MARKER else "w", linewidths=0.5,
                       label=f"{name} ({kind})" if kind else name)


def _axis(values: Sequence[float], resolution: int) -> tuple[tuple[float, float], list[float]]:
    """The range that covers ``values`` with a margin of 8% (1 when they are all equal) and
    ``resolution`` evenly spaced points across it."""
    pad = (max(values) - min(values)) * 0.08 or 1.0
    low, high = min(values) - pad, max(values) + pad
    return (low, high), [low + (high - low) * i / (resolution - 1) for i in range(resolution)]


def weight_images(layer: Any, shape: tuple[int, int], path: str | Path | None = None, *, columns: int = 8,
                  title: str = "What each first-layer neuron looks for") -> Any:
    """Show each neuron's input weights as an image of ``shape`` (rows, columns of pixels).

    Red pixels push the neuron up, blue pixels push it down (one colour scale for all, centred
    on 0). Returns the figure.
    """
    plt = _pyplot()
    neurons = layer.neurons
    rows_, cols_ = shape
    if len(neurons[0].w) != rows_ * cols_:
        raise ValueError(f"weight_images: a neuron has {len(neurons[0].w)} weights, not {rows_}×{cols_}")
    grids = [[[n.w[r * cols_ + c].data for c in range(cols_)] for r in range(rows_)] for n in neurons]
    top = max(abs(v) for g in grids for row in g for v in row) or 1.0
    rows = (len(grids) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.1 + 0.4), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, grid) in enumerate(zip(axes.flat, grids)):
        ax.imshow(grid, cmap="RdBu_r", vmin=-top, vmax=top)
        ax.set_title(f"neuron {k}", fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
    return fig


def confusion_matrix(model: Any, X: Sequence[Any], y: Sequence[int], class_names: Sequence[str] | None = None,
                     path: str | Path | None = None, ax: Any = None, *, draw: bool = True) -> list[list[int]]:
    """Count, for every true class i (row) and predicted class j (column), the samples of i taken
    for j; draw the table (``draw=False``: only count). The diagonal holds the right answers.

    >>> from autograd import Value
    >>> import nn
    >>> class Says(nn.Module):
    ...     def forward(self, x):
    ...         return [Value(-x[0]), Value(x[0])]     # class 1 if x > 0
    >>> confusion_matrix(Says(), [[1.0], [-1.0], [2.0]], [1, 1, 0], draw=False)
    [[0, 1], [1, 1]]
    """
    predictions = [predict_class(model, x) for x in X]
    n = max([*y, *predictions]) + 1 if class_names is None else len(class_names)
    counts = [[0] * n for _ in range(n)]
    for t, p in zip(y, predictions):
        counts[t][p] += 1
    if not draw:
        return counts
    names = list(class_names) if class_names is not None else [str(k) for k in range(n)]
    fig, ax, own = _figure(ax, (0.36 * n + 1.6, 0.36 * n + 1.2))
    ax.imshow(counts, cmap="Blues")
    top = max(max(row) for row in counts) or 1
    for i in range(n):
        for j in range(n):
            if counts[i][j]:
                ax.text(j, i, str(counts[i][j]), ha="center", va="center", fontsize=8,
                        color="white" if counts[i][j] > top / 2 else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    if own:
        _save(fig, path)
    return counts


class LiveView:
    """A picture of training that redraws itself in place in a notebook: loss curves and, when a
    ``model`` with 2-D inputs is given, its decision boundary. ``fit(..., live=True)`` makes one.

    ``boundary``: keywords for ``decision_boundary`` (class names, axis names, scale).
    ``update(history)`` redraws at most once per ``min_interval`` seconds, and waits at least
    three times as long as the last drawing took (``final=True`` always redraws): watching
    costs at most about a quarter of the training time, however fast the epochs are.
    """

    def __init__(self, epochs: int, model: Any, X: Sequence[Any], y: Sequence[Any],
                 validation: tuple[Sequence[Any], Sequence[Any]] | None = None, *, min_interval: float = 0.5,
                 clock: Callable[[], float] | None = None, resolution: int = 30,
                 boundary: Mapping[str, Any] | None = None):
        import time

        self.epochs, self.model, self.X, self.y, self.validation = epochs, model, X, y, validation
        self.min_interval = min_interval
        self.boundary = {"resolution": resolution, "title": "what the model says now", "held_out": "validation",
                         **(boundary or {})}  # the held-out samples are fit's validation data
        self.clock = clock or time.monotonic
        self.last = -math.inf
        self.cost = 0.0  # seconds the last drawing took
        self.handle: Any = None

    def figure(self, history: Any) -> Any:
        """The current picture as a matplotlib Figure (not shown by pyplot)."""
        from matplotlib.figure import Figure

        panels = 2 if self.model is not None else 1
        fig = Figure(figsize=(4.6 * panels + (0.8 if panels == 2 else 0), 3.5), dpi=90)
        axes = fig.subplots(1, panels, squeeze=False)[0]
        last = history.records[-1] if history.records else None
        status = f"epoch {history.epochs}/{self.epochs}"
        if last is not None:
            status += f": loss {last.loss:.3f}" + (f", validation {last.val_loss:.3f}" if last.val_loss is not None else "")
        loss_curve(history, ax=axes[0], title=status, epochs=self.epochs)
        if self.model is not None:
            decision_boundary(self.model, self.X, self.y, ax=axes[1], test=self.validation, **self.boundary)
        fig.tight_layout()
        return fig

    def update(self, history: Any, final: bool = False) -> None:
        now = self.clock()
        if not final and now - self.last < max(self.min_interval, 3 * self.cost):
            return
        from IPython.display import Image, display

        buffer = io.BytesIO()
        self.figure(history).savefig(buffer, format="png")
        image = Image(data=buffer.getvalue(), format="png")  # type: ignore[no-untyped-call, unused-ignore]
        self.last = self.clock()
        self.cost = self.last - now
        if self.handle is None:
            self.handle = display(image, display_id=True)  # type: ignore[no-untyped-call, unused-ignore]
        else:
            self.handle.update(image)


def sample_graph(model: Any, x: Sequence[float], target: Any, loss_fn: Any, path: str | Path) -> Path | None:
    """Draw one sample's whole graph, input → model → loss, with gradients, to ``path`` (PNG).

    Large models are drawn with their modules collapsed (``depth``) so the picture stays
    readable. Returns the path written, or None (with a note) when Graphviz is missing.
    """
    from autograd import GraphTooLarge, GraphvizMissing, draw

    out = model(x)
    loss = loss_fn([out], [target])
    loss.backward()
    path = Path(path)
    for depth in (None, 2, 1, 0):  # the most detail that still reads as one picture
        try:
            drawing = draw(loss, depth=depth, max_nodes=60)
            break
        except GraphTooLarge:
            continue
    else:
        return None
    try:
        drawing.render(path.with_suffix(""), format=path.suffix.lstrip(".") or "png", cleanup=True)
    except GraphvizMissing as error:
        print(f"note: {error}")
        return None
    return path
