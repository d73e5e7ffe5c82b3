"""Pictures of training for the command line and the notebooks (needs matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograd import no_grad

from .layers import Sequential, Sigmoid


def _pyplot() -> Any:
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")  # files only: no window, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("pictures need matplotlib: pip install 'chainrule[train]' (or make setup)") from None
    return plt


def _save(plt: Any, fig: Any, path: str | Path | None) -> None:
    """Write a figure this module made to ``path`` (if given) and free it."""
    if path is not None:
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def loss_curve(history: Any, path: str | Path | None = None, ax: Any = None) -> Any:
    """Plot the loss (and accuracy, when there is one) per epoch; save to ``path`` if given."""
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    epochs = range(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, color="tab:blue", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color="tab:blue")
    if history.accuracy and history.accuracy[0] is not None:
        acc = ax.twinx()
        acc.plot(epochs, history.accuracy, color="tab:orange", label="accuracy")
        acc.set_ylabel("training accuracy", color="tab:orange")
        acc.set_ylim(0, 1.05)
    ax.set_title("Training")
    if own:
        _save(plt, fig, path)
    return ax


def predict_class(model: Any, x: Sequence[float]) -> int:
    """The class a model picks for one sample: the largest output, or output > 0 for one output."""
    with no_grad():
        out = model(x)
    scores = [float(v) for v in (out if isinstance(out, (list, tuple)) else [out])]
    if len(scores) == 1:
        return int(scores[0] > (0.5 if _ends_in_sigmoid(model) else 0.0))  # a probability, or a score
    return max(range(len(scores)), key=scores.__getitem__)


def _ends_in_sigmoid(model: Any) -> bool:
    return isinstance(model, Sequential) and len(model) > 0 and isinstance(model[-1], Sigmoid)


def decision_boundary(model: Any, X: Sequence[Sequence[float]], y: Sequence[int], path: str | Path | None = None,
                      class_names: Sequence[str] = ("0", "1"), resolution: int = 60, ax: Any = None,
                      xlabel: str = "x0", ylabel: str = "x1") -> Any:
    """Colour the plane by the model's predicted class and scatter the 2-D samples on it."""
    plt = _pyplot()
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    pad_x, pad_y = (max(xs) - min(xs)) * 0.1 or 1.0, (max(ys) - min(ys)) * 0.1 or 1.0
    x0, x1, y0, y1 = min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    classes = [[predict_class(model, [gx, gy]) for gx in grid_x] for gy in grid_y]
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5, 4.2), dpi=100)
    ax.contourf(grid_x, grid_y, classes, levels=[-0.5 + k for k in range(len(class_names) + 1)], cmap="coolwarm", alpha=0.3)
    for label, name in enumerate(class_names):
        pts = [p for p, t in zip(X, y) if t == label]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, label=name,
                       color=plt.get_cmap("coolwarm")(label / max(len(class_names) - 1, 1)), edgecolors="k", linewidths=0.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Decision boundary")
    if own:
        _save(plt, fig, path)
    return ax


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
