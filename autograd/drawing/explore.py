"""``explore``: an interactive page that steps through the forward and backward passes.

Graphviz lays the graph out as SVG (in Python, here); the page's script (``explore.js``)
computes every number: the forward pass and the local derivatives from each leaf's exact value,
with the operation table's JavaScript forms (``Op.js``, ``Op.js_derivative``, written into the
page once per operation), then the backward pass in ``backward()``'s order. So a leaf changed
in the page (typed in, or by a gradient step) changes every number, step text and highlight
after it. Numbers are written as ``draw()`` writes them (``.4g``). Nothing is loaded from the
network, so the page works offline, inline in Jupyter (no ipywidgets, no kernel), in exported
notebooks and as a saved file.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
from pathlib import Path
from typing import Any

from .. import ops
from ..engine import Value
from . import graphviz_program
from .static import ROLE_MEANING, Layout, checked_layout, dot_source, printable, record_id, role, row, symbol

HERE = Path(__file__).parent
_serial = itertools.count(1)

def _number(x: float) -> str:
    """A float as ``repr`` writes it (``inf``, ``-0.0`` included): the page reads it back exactly."""
    return repr(float(x))


def _payload(layout: Layout) -> dict[str, Any]:
    """What the page needs to compute and show the graph: each node's leaf value (exactly) or
    operation, its operands and what it is called; each operation's rules of explanation."""
    drawn = set(layout.drawn())
    nodes = []
    for v in layout.order:
        op = row(v)
        nodes.append({
            "id": f"v{layout.index[v]}",
            "shown": record_id(layout, v) if v in drawn or layout.box(v) is not None else None,
            "name": layout.name(v), "label": printable(v.label), "kind": ROLE_MEANING[role(v)],
            "op": v.op, "key": op.key, "symbol": symbol(v),
            "leaf": v.is_leaf, "constant": v.is_constant, "parameter": v.is_parameter,
            "value": _number(v.data) if v.is_leaf else None,
            "operands": [f"v{layout.index[c]}" for c in v.children],
        })
    rules = {key: {"explain": list(op.explain), "operands": op.operands}
             for key, op in ops.TABLE.items() if any(n["key"] == key for n in nodes)}
    return {"root": f"v{layout.index[layout.root]}", "nodes": nodes, "rules": rules}


def operations_script(keys: list[str]) -> str:
    """The forward pass and local derivatives of the operations ``keys`` as JavaScript, from
    the rows of the operation table (``Op.js``, ``Op.js_derivative``): a function of explore.js's
    helpers ``F`` and masked zero ``Z`` that returns them by key."""
    entries = []
    for key in keys:
        op = ops.TABLE[key]
        entries.append(f"{json.dumps(key)}: {{f: function (x, a, b) {{ return {op.js}; }}, "
                       f"d: function (x, a, b, out) {{ return {op.js_derivative}; }}}}")
    constants = {"bceEpsilon": ops.BCE_EPSILON, "bceLogFloor": ops.BCE_LOG_FLOOR}
    return (f"function chainruleOperations(F, Z) {{\n  return {{{', '.join(entries)}}};\n}}\n"
            f"var chainruleConstants = {json.dumps(constants)};\n")


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
        data = _payload(self.layout)
        self._operations = operations_script(sorted(data["rules"]))
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
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
                '<label class="cr-train" title="move every parameter by −lr × grad">lr '
                '<input class="cr-lr" type="text" value="0.1" size="4" aria-label="learning rate"></label>'
                '<button class="cr-descend" title="move every parameter by −lr × grad and recompute">'
                "gradient step</button>"
                '<span class="cr-status"></span></div>'
                f'<div class="cr-main"><div class="cr-view">{self._svg}</div>'
                '<div class="cr-side"><div class="cr-step"></div>'
                '<label class="cr-edit" hidden><span class="cr-edit-name"></span> = '
                '<input class="cr-value" type="text" size="12" aria-label="value"></label>'
                '<div class="cr-info">'
                "Hover or click a node for its operation and derivative; click a leaf to change its value."
                "</div></div></div>"
                '<div class="cr-help">keys: → ← one step, Home / End first / last; drag to pan, '
                "wheel (after a click in the drawing) or +/− to zoom; click a leaf, type a number, Enter</div>"
                f'<script type="application/json" class="cr-data">{self._payload}</script>'
                f"<script>{self._operations}{script}\n;chainruleExplorer({json.dumps(self._uid)});</script></div>")

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
    of differentiation with the numbers put in; click a leaf to type a new value (Enter), or
    press "gradient step" to move every parameter by ``−lr × grad``: the page recomputes both
    passes and shows the loss change. ``depth=k`` collapses modules below k levels
    into boxes; ``max_nodes`` (500) refuses larger pages (``GraphTooLarge``) before any work;
    ``max_nodes=None`` lifts it up to the 25,000 nodes a layout program finishes in time
    (``autograd.drawing.static.MAX_LAYOUT_NODES``), past which a page is refused too.
    Needs a Graphviz layout program (``pip install graphviz-pure``).

    Scripting hook (for tests and embedding): each explorer on a page registers itself, in
    page order, in ``window.chainrule.explorers``, as an object with ``nodes()``, a list of
    ``{id, label, op, data, grad}`` (the current numbers; ``op`` is "" for a leaf), and
    ``set(id, value)``, which changes a leaf as typing does and recomputes (an Error for an id
    that is not a leaf, a value that is not a number, or an index that is not whole)::

        const ex = window.chainrule.explorers[0];
        ex.set("v0", 1.5);                               // ids as in nodes()
        ex.nodes().find(n => n.id === "v0").grad         // d root / d v0 at the new value

    >>> from autograd import Value, explore
    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> page = explore((x * w).tanh())     # shows inline in a notebook
    >>> "<svg" in page._repr_html_()        # the layout, the texts and the script, all inline
    True
    """
    return Explorer(root, depth, max_nodes)
