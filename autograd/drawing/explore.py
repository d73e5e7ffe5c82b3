"""``explore``: an interactive page that steps through the forward and backward passes.

Python does everything that needs numbers or layout: Graphviz lays the graph out as SVG, and
every text the page can show (each node's data, each step's "local × incoming =
contribution", each gradient's running sum) is formatted here, exactly as ``draw()`` formats
it. The page's script (``explore.js``) only shows and hides those texts, highlights nodes,
and pans and zooms. Nothing is loaded from the network, so the page works offline, inline in
Jupyter (no ipywidgets, no kernel), in exported notebooks and as a saved file.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
from pathlib import Path
from typing import Any

from ..engine import Value, backward_steps
from . import graphviz_program
from .static import ROLE_MEANING, Layout, checked_layout, dot_source, record_id, role, row, symbol

HERE = Path(__file__).parent
FMT = ".4g"
_serial = itertools.count(1)

def _num(x: float) -> str:
    return format(float(x), FMT)


def _operand_place(layout: str, k: int, count: int) -> tuple[int, int]:
    """Which of a row's ``explain`` rules holds for operand ``k`` of ``count``, and the operand's
    number within its group (see ``ops.Op``); with its partner's index for products."""
    if layout == "halves":  # w1..wn, x1..xn, then maybe one more
        half = count // 2
        return (0, k) if k < half else (1, k - half) if k < 2 * half else (2, 0)
    if layout == "last":  # values, then an index
        return (0, k) if k < count - 1 else (1, 0)
    return k, k


def _partner(v: Value, k: int) -> float:
    """The number operand ``k`` is multiplied with: the other factor (a·b), x_i for w_i (w·x)."""
    half = len(v.children) // 2
    other = 1 - k if len(v.children) == 2 else k + half if k < half else k - half
    return v.children[other].data


def _rule(v: Value, k: int) -> str:
    """The rule for d v / d (operand k), with the numbers put in (from the row's ``explain``)."""
    op = row(v)
    which, place = _operand_place(op.operands, k, len(v.children))
    if not op.explain:
        return f"d {v.op}/d operand {k + 1} = {_num(v.local_grads[k])}"
    text = op.explain[min(which, len(op.explain) - 1)].replace("{k}", str(place))
    if "{partner}" in text:
        text = text.replace("{partner}", _num(_partner(v, k)))
    return text.replace("{local}", _num(v.local_grads[k]))


def _forward_text(v: Value) -> str:
    """The forward computation of ``v`` with its operands' numbers, e.g. ``2 × -3 = -6``."""
    args = [_num(c.data) for c in v.children]
    sym = symbol(v)
    if len(args) == 2 and v.op in ("+", "-", "*", "/", "**"):
        body = f"{args[0]} {'^' if v.op == '**' else sym} {args[1]}"
    elif v.op == "dot":
        n = len(args) // 2
        body = " + ".join(f"{w}·{x}" for w, x in zip(args[:n], args[n : 2 * n])) + (
            f" + {args[-1]}" if len(args) % 2 else "")
    elif v.op == "sum":
        body = " + ".join(args)
    else:
        body = f"{sym}({', '.join(args)})"
    return f"{body} = {_num(v.data)}"


def _name(layout: Layout, v: Value) -> str:
    caption = layout.caption(v)
    if caption:
        return caption
    return f"node {layout.index[v]}" + (f" ({symbol(v)})" if not v.is_leaf else "")


def _payload(layout: Layout) -> dict[str, Any]:
    """Everything the page shows, as ready-made text: nodes, forward steps, backward steps."""
    drawn = set(layout.drawn())
    nodes = []
    for v in layout.order:
        i = layout.index[v]
        kind = role(v)
        nodes.append({
            "id": f"v{i}",
            "shown": record_id(layout, v) if v in drawn or layout.box(v) is not None else None,
            "name": _name(layout, v),
            "kind": ROLE_MEANING[kind],
            "op": v.op,
            "data": _num(v.data),
            "dataFull": repr(float(v.data)),
            "constant": v.is_constant,
            "leaf": v.is_leaf,
            "forward": "" if v.is_leaf else _forward_text(v),
            "rules": [_rule(v, k) for k in range(len(v.children))],
            "operands": [f"v{layout.index[c]}" for c in v.children],
        })
    forward = [f"v{layout.index[v]}" for v in layout.order if not v.is_leaf]
    grads: dict[Value, float] = {layout.root: 1.0}
    backward = []
    for step in backward_steps(layout.root):
        contributions = []
        for operand, local, contribution in step.contributions:
            before = grads.get(operand)
            after = contribution if before is None else before + contribution
            grads[operand] = after
            contributions.append({
                "to": f"v{layout.index[operand]}",
                "text": f"{_num(local)} × {_num(step.grad)} = {_num(contribution)}",
                "sum": "" if before is None else f"{_num(before)} + {_num(contribution)} = {_num(after)}",
                "grad": _num(after), "gradFull": repr(float(after)),
            })
        backward.append({"node": f"v{layout.index[step.node]}", "grad": _num(step.grad), "contributions": contributions})
    return {"root": f"v{layout.index[layout.root]}", "nodes": nodes, "forward": forward, "backward": backward}


def _svg(layout: Layout, uid: str) -> str:
    """Graphviz's SVG of the drawing, with its ids made unique to this explorer."""
    svg = graphviz_program.run(dot_source(layout, ranksep=0.9), "svg").decode("utf-8")  # room for the notes on edges
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r' id="(graph|node|edge|clust)\d+"', "", svg)  # not needed, and unique only within one SVG
    svg = re.sub(r'\bid="', f'id="{uid}-', svg)
    svg = re.sub(r'(xlink:href|href)="#', rf'\1="#{uid}-', svg)
    # the common text style once, on the <svg> (explore.css), instead of on each of ~1,000 texts
    svg = svg.replace(' xml:space="preserve"', "").replace(' font-family="Helvetica,sans-Serif" font-size="10.00"', "")
    return re.sub(r">\s+<", "><", svg)


class Explorer:
    """An interactive view of a graph: ``_repr_html_`` shows it in Jupyter, ``save`` writes a page.

    Built by ``autograd.explore``; see there.
    """

    def __init__(self, root: Value, depth: int | None = None, max_nodes: int | None = 500):
        self.layout = checked_layout("explore", root, "LR", depth, max_nodes, laid_out=True)
        payload = json.dumps(_payload(self.layout), separators=(",", ":"), ensure_ascii=False)
        self._uid = "cr" + hashlib.sha1(payload.encode()).hexdigest()[:8] + f"n{next(_serial)}"
        self._svg = _svg(self.layout, self._uid)
        self._payload = payload.replace("<", "\\u003c")  # inert inside <script>: no "</script>", no "<!--"

    def __repr__(self) -> str:
        return f"<Explorer: {len(self.layout.order)} nodes; save(path) writes a page>"

    def _repr_html_(self) -> str:
        style = (HERE / "explore.css").read_text(encoding="utf-8").replace("#ROOT", f"#{self._uid}")
        script = (HERE / "explore.js").read_text(encoding="utf-8")
        return (f'<div class="cr-explorer" id="{self._uid}" tabindex="0">'
                f"<style>{style}</style>"
                '<div class="cr-bar">'
                '<button class="cr-forward" title="go to the start of the forward pass">forward</button>'
                '<button class="cr-backward" title="go to the start of the backward pass">backward</button>'
                '<button class="cr-first" title="first step (Home)">|◀</button>'
                '<button class="cr-prev" title="previous step (←)">◀</button>'
                '<button class="cr-play" title="play / pause">▶ play</button>'
                '<button class="cr-next" title="next step (→)">▶</button>'
                '<button class="cr-last" title="last step (End)">▶|</button>'
                '<input class="cr-slider" type="range" min="0" value="0" aria-label="step">'
                '<button class="cr-fit" title="fit the whole graph">fit</button>'
                '<span class="cr-status"></span></div>'
                f'<div class="cr-main"><div class="cr-view">{self._svg}</div>'
                '<div class="cr-side"><div class="cr-step"></div><div class="cr-info">'
                "Hover or click a node for its operation and derivative.</div></div></div>"
                '<div class="cr-help">keys: → ← one step, Home / End first / last; drag to pan, '
                "wheel (after a click in the drawing) or +/− to zoom</div>"
                f'<script type="application/json" class="cr-data">{self._payload}</script>'
                f"<script>{script}\n;chainruleExplorer({json.dumps(self._uid)});</script></div>")

    def html(self, title: str = "chainrule explorer") -> str:
        """A standalone page: no network request, everything inline."""
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(title)}</title>"
                '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
                "</head><body style=\"margin:8px;font-family:Helvetica,Arial,sans-serif\">"
                f"{self._repr_html_()}"
                f"<script>document.getElementById({json.dumps(self._uid)}).focus();</script>"
                "</body></html>\n")

    def save(self, path: str | Path) -> Path:
        """Write the standalone page to ``path`` (whole, never half a file) and return the path."""
        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")
        try:
            partial.write_text(self.html(), encoding="utf-8")
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path


def explore(root: Value, *, depth: int | None = None, max_nodes: int | None = 500) -> Explorer:
    """An interactive view of everything ``root`` depends on, stepping through both passes.

    In Jupyter the result displays inline (self-contained HTML and JavaScript: no widgets, no
    kernel round trip, no network); ``.save("page.html")`` writes the same view as a page.
    The forward pass fills in each node's data, one operation per step; the backward pass
    processes one node per step, showing on each edge to an operand "local × incoming =
    contribution" and each operand's gradient building up (``?`` until known). Controls:
    prev / next / play / a slider, keys ``→ ← Home End``; hover or click a node for its rule
    of differentiation with the numbers put in. ``depth=k`` collapses modules below k levels
    into boxes; ``max_nodes`` (500) refuses larger pages (``GraphTooLarge``) before any work;
    ``max_nodes=None`` lifts it up to the 25,000 nodes a layout program finishes in time
    (``autograd.drawing.static.MAX_LAYOUT_NODES``), past which a page is refused too.
    Needs a Graphviz layout program (``pip install graphviz-pure``).

    >>> from autograd import Value, explore
    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> page = explore((x * w).tanh())     # shows inline in a notebook
    >>> "<svg" in page._repr_html_()        # the layout, the texts and the script, all inline
    True
    """
    return Explorer(root, depth, max_nodes)
