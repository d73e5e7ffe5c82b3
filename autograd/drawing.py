"""Drawing computation graphs with Graphviz: ``draw``, the backward stepper, saving frames.

A drawing has a record per Value (label, data, grad) and a small node per operation between
the operands and the result, operands in order. Leaves are coloured by role: parameters
(``Parameter``, what a model learns) green, inputs blue, constants grey; the root has a double
border. Nodes created inside ``nn`` modules sit in nested, labelled clusters ("Layer 1" ›
"Neuron 3"); ``depth=k`` keeps k levels of clusters and collapses each module below into one
box, so a whole network fits on a page. The DOT source is deterministic: the same graph built
twice gives the same bytes (nodes are numbered in topological order, never by ``id``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .engine import Value, backward_steps, topological_order

ROLE_STYLE = {  # fill colours for a learner: what is learned, what is given, what is fixed
    "parameter": "#c7e9c0",
    "input": "#c6dbef",
    "constant": "#eeeeee",
    "result": "#ffffff",
}
HIGHLIGHT = "#fdae6b"
OP_SYMBOL = {"neg": "−", "*": "×", "/": "÷", "sum": "Σ", "dot": "w·x+b"}
INSTALL_HINT = ("install Graphviz's 'dot' program: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS), or run 'make setup'")


class GraphvizMissing(RuntimeError):
    """Graphviz (the Python package or the ``dot`` program) is not installed."""


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes``; collapse modules with ``depth=``."""


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise GraphvizMissing("drawing needs the graphviz Python package: pip install 'chainrule[draw]'") from None
    return graphviz


def _role(v: Value) -> str:
    if v.children:
        return "result"
    if v.is_parameter:
        return "parameter"
    return "constant" if v.is_constant else "input"


def _number(x: Any, fmt: str) -> str:
    return format(float(x), fmt)


class _Layout:
    """Which Values are drawn, in which cluster, and which are collapsed into module boxes."""

    def __init__(self, root: Value, depth: int | None):
        self.order = topological_order(root)
        self.index = {v: i for i, v in enumerate(self.order)}
        consumers: dict[Value, Value] = {}
        for v in self.order:
            for c in v.children:
                consumers.setdefault(c, v)
        self.keys: dict[tuple, str] = {}  # chain of owners -> cluster/box name, by first appearance
        self.names: dict[tuple, str] = {}
        self.group: dict[Value, tuple] = {}
        # operation nodes first, so clusters are numbered in the order the modules ran
        for v in [v for v in self.order if v.children] + [v for v in self.order if not v.children]:
            home = v
            if not v.children and v.is_parameter and v in consumers:
                home = consumers[v]  # a parameter sits with the operation that uses it
            path = home.scope.path()
            key = path  # scopes are kept by their modules: the same module is the same Scope
            for k in range(1, len(path) + 1):
                self._name(key[:k], path[k - 1].name)
            self.group[v] = key
        self.depth = depth

    def _name(self, key: tuple, label: str) -> None:
        if key not in self.keys:
            self.keys[key] = f"cluster_{len(self.keys)}"
            self.names[key] = label

    def box(self, v: Value) -> tuple | None:
        """The module box ``v`` is collapsed into, or None if it is drawn itself."""
        key = self.group[v]
        if self.depth is None or len(key) <= self.depth:
            return None
        return key[: self.depth + 1]


def draw(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    fmt: str = ".4g",
    depth: int | None = None,
    max_nodes: int | None = 300,
    shade_grad: bool = False,
    highlight: Value | None = None,
    grads: dict[Value, Any] | None = None,
) -> Any:
    """A ``graphviz.Digraph`` of everything ``root`` depends on.

    Displays inline in Jupyter (SVG); ``.render(path, format="png")`` writes a file.

    * ``rankdir``: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).
    * ``show_grad``: show each node's ``.grad`` under its data; ``fmt``: the number format.
    * ``depth``: keep this many levels of module clusters, collapse deeper modules into boxes.
    * ``max_nodes``: refuse (``GraphTooLarge``) a drawing with more Value records than this.
    * ``shade_grad``: shade each record by the magnitude of its gradient (darker = larger).
    * ``highlight``, ``grads``: mark one node and show these gradients instead of ``.grad``
      (the backward stepper uses them).

    >>> from autograd import Value, draw
    >>> x = Value(2.0, label="x")
    >>> y = (x * 3).tanh()
    >>> print(draw(y).source.splitlines()[0])
    digraph {
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw: expected a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"draw: rankdir must be 'LR' or 'TB', got {rankdir!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"draw: depth must be a whole number >= 0 or None, got {depth!r}")
    graphviz = _graphviz()
    layout = _Layout(root, depth)
    drawn = [v for v in layout.order if layout.box(v) is None]
    if max_nodes is not None and len(drawn) > max_nodes:
        deepest = max((len(k) for k in layout.group.values()), default=0)
        hint = (f"pass depth={max(deepest - 2, 0)} (or smaller) to collapse modules into boxes, or "
                if deepest else "")
        raise GraphTooLarge(f"draw: the graph has {len(drawn)} nodes to draw, more than max_nodes={max_nodes}; "
                            f"{hint}raise max_nodes")
    shown = grads if grads is not None else {v: v.grad for v in layout.order}
    biggest = max((abs(float(g)) for g in shown.values()), default=0.0) or 1.0

    g = _Drawing(graphviz, graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"},
                 node_attr={"fontname": "Helvetica", "fontsize": "10"}, edge_attr={"arrowsize": "0.6"})
    clusters: dict[tuple, list[str]] = {}

    def place(key: tuple, line: str) -> None:
        clusters.setdefault(key, []).append(line)

    def record_id(v: Value) -> str:
        box = layout.box(v)
        return layout.keys[box] + "_box" if box is not None else f"v{layout.index[v]}"

    boxes: dict[tuple, int] = {}
    for v in layout.order:
        box = layout.box(v)
        if box is not None:
            boxes[box] = boxes.get(box, 0) + 1
    for box, count in boxes.items():
        place(box[:-1], _node_line(layout.keys[box] + "_box", {
            "label": f"{layout.names[box]}\\n({count} nodes)", "shape": "box3d", "style": "filled",
            "fillcolor": "#fff5eb"}))

    edges: list[tuple[str, str]] = []
    for v in drawn:
        i = layout.index[v]
        parts = [v.label] if v.label else []
        parts.append(f"data {_number(v.data, fmt)}")
        if show_grad:
            parts.append(f"grad {_number(shown[v], fmt)}" if v in shown else "grad ?")
        role = _role(v)
        attrs = {"label": "{ " + " | ".join(_escape(p) for p in parts) + " }", "shape": "record", "style": "filled",
                 "fillcolor": ROLE_STYLE[role]}
        if shade_grad and v in shown:
            attrs["fillcolor"] = _shade(abs(float(shown[v])) / biggest)
        if role == "constant":
            attrs["style"] = "filled,dashed"
        if v is root:
            attrs["peripheries"] = "2"
        if v is highlight:
            attrs["fillcolor"] = HIGHLIGHT
            attrs["penwidth"] = "2"
        place(layout.group[v], _node_line(f"v{i}", attrs))
        if v.children:
            place(layout.group[v], _node_line(f"op{i}", {"label": _escape(OP_SYMBOL.get(v.op, v.op)), "shape": "circle"
                  if len(OP_SYMBOL.get(v.op, v.op)) <= 4 else "ellipse", "width": "0.3", "margin": "0.02",
                  "fillcolor": HIGHLIGHT if v is highlight else "white", "style": "filled"}))
            edges.append((f"op{i}", f"v{i}"))
            for c in v.children:
                edges.append((record_id(c), f"op{i}"))
    for v in layout.order:  # edges out of collapsed boxes into drawn nodes, and between boxes
        if layout.box(v) is not None:
            for c in v.children:
                if record_id(c) != record_id(v):
                    edges.append((record_id(c), record_id(v)))

    _emit_clusters(g, clusters, layout)
    seen: set[tuple[str, str]] = set()
    for tail, head in edges:
        if (tail, head) not in seen:
            seen.add((tail, head))
            g.edge(tail, head)
    return g


def _emit_clusters(g: Any, clusters: dict[tuple, list[str]], layout: _Layout) -> None:
    """Write the nested clusters, outermost first, each in order of first appearance."""
    children: dict[tuple, list[tuple]] = {}
    for key in layout.keys:
        children.setdefault(key[:-1], []).append(key)

    def emit(target: Any, key: tuple) -> None:
        for line in clusters.get(key, []):
            target.body.append(line)
        for sub in children.get(key, []):
            if layout.depth is not None and len(sub) > layout.depth:
                continue  # collapsed: its box was placed in the parent
            with target.subgraph(name=layout.keys[sub]) as c:
                c.attr(label=layout.names[sub], style="rounded,filled", fillcolor=_cluster_fill(len(sub)),
                       color="#9e9e9e", fontsize="10")
                emit(c, sub)

    emit(g, ())


def _cluster_fill(level: int) -> str:
    return ["#fafafa", "#f3f3f3", "#ebebeb", "#e3e3e3"][min(level - 1, 3)]


def _shade(fraction: float) -> str:
    level = int(255 - 140 * min(max(fraction, 0.0), 1.0))
    return f"#ff{level:02x}{level:02x}"


def _escape(text: str) -> str:
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _node_line(name: str, attrs: dict[str, str]) -> str:
    inner = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return f"\t{name} [{inner}]\n"


_drawing_class: Any = None


def _Drawing(graphviz: Any, **kwargs: Any) -> Any:
    """A ``graphviz.Digraph`` whose rendering explains a missing ``dot`` program in one line."""
    global _drawing_class
    if _drawing_class is None:

        class Drawing(graphviz.Digraph):
            def render(self, *args: Any, **kw: Any) -> Any:
                try:
                    return super().render(*args, **kw)
                except graphviz.ExecutableNotFound:
                    raise GraphvizMissing(f"cannot render the drawing: {INSTALL_HINT}") from None

            def pipe(self, *args: Any, **kw: Any) -> Any:
                try:
                    return super().pipe(*args, **kw)
                except graphviz.ExecutableNotFound:
                    raise GraphvizMissing(f"cannot render the drawing: {INSTALL_HINT}") from None

            def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kw: Any) -> Any:
                try:
                    return super()._repr_mimebundle_(include, exclude, **kw)
                except GraphvizMissing as error:
                    return {"text/plain": str(error)}

        _drawing_class = Drawing
    return _drawing_class(**kwargs)


def draw_steps(root: Value, **options: Any) -> Iterator[Any]:
    """Backpropagation as a film strip: one drawing per step of the backward pass.

    Steps follow the reverse topological order that ``backward()`` uses. Each frame shows the
    gradients known so far (nodes not reached yet show ``grad ?``) and highlights the node
    that just passed its gradient on to its operands. ``.grad`` is not touched. Options are
    those of ``draw``.

    >>> from autograd import Value, draw_steps
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> frames = list(draw_steps((a * b).tanh()))
    >>> len(frames)        # tanh, then *: one frame per operation node
    2
    """
    grads: dict[Value, float] = {root: 1.0}
    for step in backward_steps(root):  # the gradients known once ``step.node`` has passed its own on
        for child, _, contribution in step.contributions:
            grads[child] = grads.get(child, 0.0) + contribution
        yield draw(root, highlight=step.node, grads=grads, **options)


def save_steps(root: Value, directory: str | Path, *, prefix: str = "step", format: str = "png",
               gif: bool = False, **options: Any) -> list[Path]:
    """Write the backward stepper's frames as numbered files (``step_001.png``, ...).

    With ``gif=True`` (and Pillow installed) also writes ``{prefix}.gif``, an animation of
    the frames. Returns the paths written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, drawing in enumerate(draw_steps(root, **options), start=1):
        stem = directory / f"{prefix}_{k:03d}"
        drawing.render(stem, format=format, cleanup=True)
        paths.append(stem.with_suffix("." + format))
    if gif and format == "png" and paths:
        try:
            from PIL import Image
        except ImportError:
            raise RuntimeError("gif=True needs Pillow: pip install pillow") from None
        images = [Image.open(p).convert("RGB") for p in paths]
        width, height = max(i.width for i in images), max(i.height for i in images)
        frames = []
        for image in images:
            canvas = Image.new("RGB", (width, height), "white")
            canvas.paste(image, (0, 0))
            frames.append(canvas)
        target = directory / f"{prefix}.gif"
        frames[0].save(target, save_all=True, append_images=frames[1:], duration=900, loop=0)
        paths.append(target)
    return paths
