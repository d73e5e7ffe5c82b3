"""Static drawings of computation graphs: ``draw``, the backward film strip, saving frames.

A drawing has a record per Value (label, data, grad; constants show no grad, since nothing
learns them) and a small node per operation between the operands and the result, operands in
order. Leaves are coloured by role: parameters (what a model learns) green, inputs blue,
constants grey; the root has a double border; a legend says so. Nodes created inside ``nn``
modules sit in nested, labelled clusters ("Layer 1" › "Neuron 3") kept in the order the modules
ran; ``depth=k`` keeps k levels of clusters and collapses each module below into one box, with
the values it hands on still drawn. The DOT source is deterministic: the same graph built
twice gives the same bytes (nodes are numbered in topological order, never by ``id``).

Only the engine's public node API is used here: ``.data .grad .label .op .children
.local_grads .is_leaf .is_constant .is_parameter .scope``, ``topological_order`` and
``backward_steps``, and each node's row of the operation table (``row``), which says how the
operation is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import ops
from ..engine import Value, backward_steps, topological_order
from . import graphviz_program
from .graphviz_program import GraphvizMissing

ROLE_STYLE = {  # fill colours for a learner: what is learned, what is given, what is fixed
    "parameter": "#c7e9c0",
    "input": "#c6dbef",
    "constant": "#eeeeee",
    "result": "#ffffff",
}
ROLE_MEANING = {"parameter": "parameter (learned)", "input": "input", "constant": "constant",
                "result": "computed"}
HIGHLIGHT = "#fdae6b"
BOX_FILL = "#fff5eb"
FONT = "Helvetica"

__all__ = ["Drawing", "GraphTooLarge", "GraphvizMissing", "draw", "draw_steps", "save_steps"]


# The most Value records a graph laid out at once (an explorer page) may have, whatever its
# max_nodes (None too): graphviz-pure takes about 90 s for 16,000 and its time grows with the
# square of the size, so past this no layout finishes within graphviz_program.TIMEOUT (300 s).
# Refusing at once saves minutes of waiting for a LayoutTimeout; raise it for a faster program.
MAX_LAYOUT_NODES = 25_000


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes`` (or ``MAX_LAYOUT_NODES``); collapse modules with ``depth=``."""


def role(v: Value) -> str:
    """``"parameter"``, ``"input"``, ``"constant"`` or ``"result"`` (made by an operation)."""
    if not v.is_leaf:
        return "result"
    if v.is_parameter:
        return "parameter"
    return "constant" if v.is_constant else "input"


def printable(text: str) -> str:
    """``text`` as drawn: every character as given, but for the ones that cannot be drawn
    (control characters such as NUL, ESC or a newline; lone surrogates), which are written as
    Python writes them in a string (``\\x00``, ``\\x1b``, ``\\n``, ``\\ud800``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def row(v: Value) -> ops.Op:
    """The row of the operation table that made ``v`` (a leaf's pseudo-operation for a leaf)."""
    op: ops.Op = v._info.op  # (the one read of a node's private field)
    return op


def symbol(v: Value) -> str:
    """What the drawing writes in the circle of ``v``'s operation: its row's symbol."""
    return row(v).symbol_of(len(v.children))


class Layout:
    """Which Values are drawn, in which cluster, which are collapsed into module boxes, and
    what the reader should call the input, the prediction and the loss."""

    def __init__(self, root: Value, depth: int | None):
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
            raise ValueError(f"depth must be a whole number >= 0 or None, got {depth!r}")
        self.root = root
        self.depth = depth
        self.order = topological_order(root)
        self.index = {v: i for i, v in enumerate(self.order)}
        self.consumers: dict[Value, list[Value]] = {}
        for v in self.order:
            for c in v.children:
                self.consumers.setdefault(c, []).append(v)
        self.keys: dict[tuple[Any, ...], str] = {}  # chain of scopes -> cluster name, by first appearance
        self.names: dict[tuple[Any, ...], str] = {}
        self.group: dict[Value, tuple[Any, ...]] = {}
        self._short: dict[Value, str] | None = None
        # operation nodes first, so clusters are numbered in the order the modules ran
        for v in [v for v in self.order if not v.is_leaf] + [v for v in self.order if v.is_leaf]:
            self.group[v] = self._cluster_of(v)

    def _cluster_of(self, v: Value) -> tuple[Any, ...]:
        """The chain of scopes ``v`` is drawn in (a parameter sits with the operation that uses
        it), numbering the clusters it opens."""
        home = self.consumers[v][0] if v.is_parameter and v in self.consumers else v
        path = home.scope.path()
        for k in range(1, len(path) + 1):
            if path[:k] not in self.keys:
                self.keys[path[:k]] = f"cluster_{len(self.keys)}"
                self.names[path[:k]] = printable(path[k - 1].name)
        return path

    def box(self, v: Value) -> tuple[Any, ...] | None:
        """The module box ``v`` is collapsed into, or None if it is drawn inside its cluster."""
        key = self.group[v]
        if self.depth is None or len(key) <= self.depth:
            return None
        return key[: self.depth + 1]

    def hands_on(self, v: Value) -> bool:
        """True for a value of a collapsed box that is used outside it (drawn next to the box)."""
        box = self.box(v)
        return box is not None and (v is self.root or any(self.box(c) != box for c in self.consumers.get(v, ())))

    def drawn(self) -> list[Value]:
        """The Values drawn as records: all but those hidden inside collapsed boxes."""
        return [v for v in self.order if self.box(v) is None or self.hands_on(v)]

    def check_size(self, max_nodes: int | None, who: str, laid_out: bool = False) -> None:
        """A GraphTooLarge past ``max_nodes``, or when ``laid_out`` (now) past ``MAX_LAYOUT_NODES``."""
        count = len(self.drawn())
        deepest = max((len(k) for k in self.group.values()), default=0)
        hint = f"pass depth={max(deepest - 2, 0)} (or smaller) to collapse modules into boxes, or " if deepest else ""
        if max_nodes is not None and count > max_nodes:
            raise GraphTooLarge(f"{who}: the graph has {count} nodes to draw, more than max_nodes={max_nodes}; "
                                f"{hint}raise max_nodes")
        if laid_out and count > MAX_LAYOUT_NODES:
            raise GraphTooLarge(f"{who}: the graph has {count:,} nodes to draw, more than a layout program finishes "
                                f"within {graphviz_program.TIMEOUT} s (autograd.drawing.static.MAX_LAYOUT_NODES = "
                                f"{MAX_LAYOUT_NODES:,}, whatever max_nodes says); {hint}explore a smaller part of the "
                                "graph (a Value nearer the inputs)")

    def name(self, v: Value) -> str:
        """What the drawing and the explorer call ``v``: its caption, else a short id (``n3``,
        numbered in the order the values were computed); "" for an unlabelled constant, which
        is called by its number."""
        caption = self.caption(v)
        if caption or (v.is_constant and v.is_leaf):
            return caption
        if self._short is None:
            unnamed = (u for u in self.order if not (u.is_constant and u.is_leaf) and not self.caption(u))
            self._short = {u: f"n{k}" for k, u in enumerate(unnamed, start=1)}
        return self._short[v]

    def caption(self, v: Value) -> str:
        """What a reader should call ``v``: its label, and "input", "prediction" or "loss"."""
        if v is self.root:
            word = "loss" if any("loss" in s.name.lower() for s in v.scope.path()) else "output"
        elif v.is_leaf and role(v) == "input":
            word = "input"
        elif self._is_prediction(v):
            word = "prediction"
        else:
            return printable(v.label)
        label = printable(v.label)
        return f"{label} ({word})" if label and label != word else word

    def _is_prediction(self, v: Value) -> bool:
        top = self.group[v][:1]
        if not top or "loss" in top[0].name.lower():
            return False
        users = self.consumers.get(v, ())
        return any(self.group[c][:1] != top and any("loss" in s.name.lower() for s in self.group[c][:1])
                   for c in users)


def node_line(name: str, attrs: dict[str, str]) -> str:
    inner = " ".join(f"{k}={v}" if v.startswith("<") else f'{k}="{v}"' for k, v in attrs.items())
    return f"\t{name} [{inner}]\n"


def escape(text: str) -> str:
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _html(text: str) -> str:
    """``text`` inside an HTML-like label: ``& < >`` as entities, and ``\\`` doubled (Graphviz reads
    ``\\N``, ``\\G`` as escapes even there, entities included)."""
    return text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _legend(roles: set[str], shaded: bool) -> str:
    cells = "".join(f'<TD BGCOLOR="{ROLE_STYLE[r]}" BORDER="1"> {ROLE_MEANING[r]} </TD>'
                    for r in ROLE_STYLE if r in roles)
    if shaded:
        cells = f'<TD BGCOLOR="{_shade(1.0)}" BORDER="1"> the darker, the larger |grad| </TD>'

    return (f'<<TABLE BORDER="0" CELLSPACING="4"><TR>{cells}<TD>double border: the output'
            '  ·  circles: operations</TD></TR></TABLE>>')


def _cluster_fill(level: int) -> str:
    return ["#fafafa", "#f3f3f3", "#ebebeb", "#e3e3e3"][min(level - 1, 3)]


def _shade(fraction: float) -> str:
    level = int(255 - 140 * min(max(fraction, 0.0), 1.0))
    return f"#ff{level:02x}{level:02x}"


def record_id(layout: Layout, v: Value) -> str:
    """The DOT node that stands for ``v``: its record, or the box it is hidden in."""
    box = layout.box(v)
    if box is None or layout.hands_on(v):
        return f"v{layout.index[v]}"
    return layout.keys[box] + "_box"


def dot_source(
    layout: Layout,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    fmt: str = ".4g",
    shade_grad: bool = False,
    highlight: Value | None = None,
    grads: dict[Value, Any] | None = None,
    legend: bool = True,
    sizes: dict[str, tuple[float, float]] | None = None,
    ranksep: float = 0.3,
) -> str:
    """The DOT text of a drawing (see ``draw``); needs no Graphviz. ``sizes`` pins node sizes
    (the film strip keeps its layout still that way); ``ranksep``: inches between ranks."""
    writer = _Dot(layout, show_grad, fmt, shade_grad, highlight, grads, sizes)
    writer.add_boxes()
    for v in layout.drawn():
        writer.add_value(v)
    writer.add_box_edges()
    graph = {"rankdir": rankdir, "fontname": FONT, "fontsize": "11", "nodesep": "0.12", "ranksep": f"{ranksep:g}",
             "mclimit": "0.01"}  # see _emit_clusters
    lines = ["digraph {\n", "\tgraph [" + " ".join(f'{k}="{v}"' for k, v in graph.items()) + "]\n",
             f'\tnode [fontname="{FONT}" fontsize="10" height="0.3"]\n', '\tedge [arrowsize="0.6"]\n']
    if legend:
        lines.append(f"\tgraph [labelloc=b labeljust=l label={_legend(writer.roles, shade_grad)}]\n")
    _emit_clusters(lines, writer.clusters, layout, flip=rankdir == "LR")
    lines += [f"\t{tail} -> {head}\n" for tail, head in dict.fromkeys(writer.edges)]  # each edge once, in order
    lines.append("}\n")
    return "".join(lines)


class _Dot:
    """The nodes (by cluster) and edges of a drawing, as ``dot_source`` collects them."""

    def __init__(self, layout: Layout, show_grad: bool, fmt: str, shade_grad: bool, highlight: Value | None,
                 grads: dict[Value, Any] | None, sizes: dict[str, tuple[float, float]] | None):
        self.layout, self.show_grad, self.fmt, self.shade_grad = layout, show_grad, fmt, shade_grad
        self.highlight, self.sizes = highlight, sizes
        self.shown = grads if grads is not None else {v: v.grad for v in layout.order}
        self.biggest = max((abs(float(g)) for v, g in self.shown.items() if not v.is_constant), default=0.0) or 1.0
        self.clusters: dict[tuple[Any, ...], list[str]] = {}
        self.edges: list[tuple[str, str]] = []
        self.roles: set[str] = set()

    def place(self, key: tuple[Any, ...], name: str, attrs: dict[str, str]) -> None:
        if self.sizes and name in self.sizes:
            width, height = self.sizes[name]
            attrs = {**attrs, "width": f"{width:.3f}", "height": f"{height:.3f}", "fixedsize": "true"}
        self.clusters.setdefault(key, []).append(node_line(name, attrs))

    def add_boxes(self) -> None:
        """One box per collapsed module, saying how many nodes it hides."""
        layout, highlight = self.layout, self.highlight
        boxes: dict[tuple[Any, ...], int] = {}
        for v in layout.order:
            box = layout.box(v)
            if box is not None:
                boxes[box] = boxes.get(box, 0) + 1
        lit = layout.box(highlight) if highlight is not None and not layout.hands_on(highlight) else None
        for box, count in boxes.items():
            self.place(box[:-1], layout.keys[box] + "_box", {
                "label": f"{escape(layout.names[box])}\\n({count} nodes)", "shape": "box3d", "style": "filled",
                "fillcolor": HIGHLIGHT if lit == box else BOX_FILL})

    def add_value(self, v: Value) -> None:
        """A value's record (caption, data, grad) and, for a computed value, its operation's
        circle with the edges from its operands."""
        layout, i = self.layout, self.layout.index[v]
        box = layout.box(v)
        home = layout.group[v] if box is None else box[:-1]
        self.place(home, f"v{i}", self.record(v))
        if box is not None:  # a value handed on by a collapsed box
            self.edges.append((layout.keys[box] + "_box", f"v{i}"))
        elif not v.is_leaf:
            sym = symbol(v)
            self.place(home, f"op{i}", {
                "label": escape(sym), "shape": "circle" if len(sym) <= 4 else "ellipse", "width": "0.3",
                "margin": "0.02", "fillcolor": HIGHLIGHT if v is self.highlight else "white", "style": "filled"})
            self.edges.append((f"op{i}", f"v{i}"))
            self.edges += [(record_id(layout, c), f"op{i}") for c in v.children]

    def record(self, v: Value) -> dict[str, str]:
        kind = role(v)
        self.roles.add(kind)
        caption = self.layout.name(v)
        parts = [caption] if caption else []
        parts.append(f"data {format(float(v.data), self.fmt)}")
        if self.show_grad and not v.is_constant:
            parts.append(f"grad {format(float(self.shown[v]), self.fmt)}" if v in self.shown else "grad ?")
        fill = ROLE_STYLE[kind]
        if self.shade_grad and v in self.shown and not v.is_constant:
            fill = _shade(abs(float(self.shown[v])) / self.biggest)
        lit = v is self.highlight
        table = {"BORDER": "2" if v is self.layout.root else "1", "CELLBORDER": "0", "CELLSPACING": "0",
                 "CELLPADDING": "2", "BGCOLOR": HIGHLIGHT if lit else fill, "COLOR": "#e6550d" if lit else "black"}
        if kind == "constant":
            table["STYLE"] = "dashed"
        rows = "<HR/>".join(f"<TR><TD>{_html(p)}</TD></TR>" for p in parts)
        head = " ".join(f'{k}="{val}"' for k, val in table.items())
        return {"label": f"<<TABLE {head}>{rows}</TABLE>>", "shape": "none", "margin": "0"}

    def add_box_edges(self) -> None:
        """Edges into and between collapsed boxes."""
        layout = self.layout
        for v in layout.order:
            box = layout.box(v)
            if box is not None and not v.is_leaf:
                head = layout.keys[box] + "_box"
                self.edges += [(tail, head) for tail in (record_id(layout, c) for c in v.children) if tail != head]


def _emit_clusters(lines: list[str], clusters: dict[tuple[Any, ...], list[str]], layout: Layout, flip: bool) -> None:
    """Write the nested clusters, outermost first. With ``mclimit`` low, Graphviz keeps the
    order it is given (instead of reordering "Neuron 3, 2, 1" to save a crossing); left to
    right it stacks that order bottom up, so ``flip`` writes it reversed: first on top."""
    children: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for key in layout.keys:
        children.setdefault(key[:-1], []).append(key)
    stack: list[tuple[tuple[Any, ...], int]] = [((), 0)]
    while stack:  # iterative: scopes may nest deeply
        key, state = stack.pop()
        indent = "\t" * (len(key) + 1)
        if state == 1:
            lines.append(indent[:-1] + "}\n")
            continue
        if key:
            lines.append(f"{indent[:-1]}subgraph {layout.keys[key]} {{\n")
            lines.append(f'{indent}graph [label="{escape(layout.names[key])}" style="rounded,filled" '
                         f'fillcolor="{_cluster_fill(len(key))}" color="#9e9e9e" fontsize="10"]\n')
            stack.append((key, 1))
        body = clusters.get(key, [])
        lines.extend(indent + line.lstrip("\t") for line in (body[::-1] if flip and key else body))
        subs = [s for s in children.get(key, []) if layout.depth is None or len(s) <= layout.depth]
        stack.extend((s, 0) for s in (subs if flip else reversed(subs)))


try:  # API.md: draw returns a graphviz.Digraph (the graphviz package, from the draw extra)
    from graphviz import Digraph as _Base
except ImportError:  # without it drawings still give their DOT text and render the same way
    _Base = object


class Drawing(_Base):  # type: ignore[misc,unused-ignore]  # graphviz.Digraph (untyped) or object
    """A drawing: a ``graphviz.Digraph`` (when the graphviz package is installed) that shows
    inline in Jupyter (SVG) and renders to files with the Graphviz program found here.

    ``.source`` is the DOT text; ``.pipe(format="svg")`` returns the rendered bytes;
    ``.render("graph", format="png")`` writes ``graph.png`` and returns its path. Rendering
    runs ``graphviz-pure`` (from PyPI) or, failing that, the system ``dot``.
    """

    def __init__(self, source: str):
        if _Base is object:
            self._text = source
        else:  # a Digraph whose body is the lines between "digraph {" and "}": same source
            super().__init__(body=[line + "\n" for line in source.splitlines()[1:-1]])

    if _Base is object:
        @property
        def source(self) -> str:
            return self._text

    def __repr__(self) -> str:
        records = len(re.findall(r"^\s*v\d+ \[", self.source, re.MULTILINE))  # the values' nodes: v0, v1, ...
        boxes = self.source.count('shape="box3d"')
        return f"<Drawing: {records} values" + (f", {boxes} collapsed modules>" if boxes else ">")

    def pipe(self, format: str = "svg", *args: Any, encoding: str | None = None, **kw: Any) -> Any:  # noqa: A002
        data = graphviz_program.run(self.source, format)
        return data if encoding is None else data.decode(encoding)

    def render(self, filename: str | Path | None = None, directory: str | Path | None = None, view: bool = False,
               cleanup: bool = True, format: str = "png", **kw: Any) -> str:  # noqa: A002 (graphviz's names)
        """Write ``filename`` + ``.format`` (a suffix already there is kept) and return its path."""
        path = Path(directory or ".") / Path(filename or "graph")
        if path.suffix.lstrip(".").lower() != format:
            path = path.with_name(path.name + "." + format)
        return str(graphviz_program.write(self.source, path, format))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kw: Any) -> dict[str, str]:
        try:
            return {"image/svg+xml": self.pipe("svg").decode("utf-8")}
        except GraphvizMissing as error:
            return {"text/plain": str(error)}


def checked_layout(who: str, root: Any, rankdir: str, depth: Any, max_nodes: int | None,
                   laid_out: bool = False) -> Layout:
    """The layout of ``root``'s graph, after checking the arguments and the size (before any
    work); ``laid_out``: the caller lays it out at once, so it must not pass ``MAX_LAYOUT_NODES``."""
    if not isinstance(root, Value):
        raise TypeError(f"{who}: expected a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"{who}: rankdir must be 'LR' or 'TB', got {rankdir!r}")
    try:
        layout = Layout(root, depth)
    except ValueError as error:
        raise ValueError(f"{who}: {error}") from None
    layout.check_size(max_nodes, who, laid_out)
    return layout


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
    legend: bool = True,
) -> Drawing:
    """A drawing of everything ``root`` depends on.

    Displays inline in Jupyter (SVG); ``.render(path, format="png")`` writes a file and
    ``.source`` is the DOT text.

    * ``rankdir``: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).
    * ``show_grad``: show each node's ``.grad`` under its data; ``fmt``: the number format.
    * ``depth``: keep this many levels of module clusters, collapse deeper modules into boxes.
    * ``max_nodes``: refuse (``GraphTooLarge``) a drawing with more Value records than this.
    * ``shade_grad``: shade each record by the magnitude of its gradient (darker = larger).
    * ``highlight``, ``grads``: mark one node and show these gradients instead of ``.grad``
      (the backward stepper uses them); ``legend``: explain the colours under the drawing.

    >>> from autograd import Value, draw
    >>> x = Value(2.0, label="x")
    >>> y = (x * 3).tanh()
    >>> print(draw(y).source.splitlines()[0])
    digraph {
    """
    layout = checked_layout("draw", root, rankdir, depth, max_nodes)
    return Drawing(dot_source(layout, rankdir=rankdir, show_grad=show_grad, fmt=fmt, shade_grad=shade_grad,
                              highlight=highlight, grads=grads, legend=legend))


def node_sizes(source: str) -> dict[str, tuple[float, float]]:
    """Each node's laid-out width and height in inches (Graphviz's ``plain`` output)."""
    sizes = {}
    for line in graphviz_program.run(source, "plain").decode("utf-8").splitlines():
        parts = line.split()
        if parts and parts[0] == "node":
            sizes[parts[1].strip('"')] = (float(parts[4]), float(parts[5]))
    return sizes


def draw_steps(root: Value, **options: Any) -> Iterator[Drawing]:
    """Backpropagation as a film strip: one drawing per step of the backward pass.

    Steps follow the reverse topological order that ``backward()`` uses. Each frame shows the
    gradients known so far (nodes not reached yet show ``grad ?``) and highlights the node
    that just passed its gradient on to its operands. ``.grad`` is not touched. Options are
    those of ``draw``. The size limit is checked before anything else, memory stays linear in
    the graph (frames are made one at a time), and every frame has the same node sizes, so the
    layout stands still from frame to frame (when a Graphviz program is installed).

    >>> from autograd import Value, draw_steps
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> frames = list(draw_steps((a * b).tanh()))
    >>> len(frames)        # tanh, then *: one frame per operation node
    2
    """
    layout = checked_layout("draw_steps", root, options.get("rankdir", "LR"), options.pop("depth", None),
                            options.pop("max_nodes", 300))
    return _frames(layout, options)


def _frames(layout: Layout, options: dict[str, Any]) -> Iterator[Drawing]:
    steps = backward_steps(layout.root)
    sizes = None
    try:  # the final frame's node sizes hold the widest numbers: pin every frame to them
        sizes = node_sizes(dot_source(layout, **options))
    except GraphvizMissing:
        pass
    grads: dict[Value, float] = {layout.root: 1.0}
    for step in steps:
        for operand, _local, contribution in step.contributions:
            grads[operand] = grads.get(operand, 0.0) + contribution
        yield Drawing(dot_source(layout, highlight=step.node, grads=grads, sizes=sizes, **options))


def save_steps(root: Value, directory: str | Path, *, prefix: str = "step", format: str = "png",  # noqa: A002
               gif: bool = False, **options: Any) -> list[Path]:
    """Write the backward stepper's frames as numbered files (``step_001.png``, ...).

    With ``gif=True`` (and Pillow installed) also writes ``{prefix}.gif``, an animation of
    the frames. Returns the paths written.
    """
    if gif and format == "png":
        try:
            from PIL import Image
        except ImportError:
            raise RuntimeError("gif=True needs Pillow: pip install pillow") from None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, drawing in enumerate(draw_steps(root, **options), start=1):
        paths.append(Path(drawing.render(directory / f"{prefix}_{k:03d}", format=format)))
    if gif and format == "png" and paths:
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
