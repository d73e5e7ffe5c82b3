"""The documentation site as ``make docs`` builds it (docs/_build/html): complete, offline, alive.

Each notebook has its page with its outputs, the API page documents the public names, no page
loads anything from another host, and each explorer on a course page steps in headless
Chromium: its final gradients are compared with ``backward()`` run in Python on the same
graph, rebuilt from the numbers and operations the page carries (the oracle).

Without a built site the tests skip; CI (``.ci/run``) runs ``make docs`` first, and there a
missing site or browser fails them.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_browser import browser  # noqa: F401  (the explorer tests' headless Chromium, a fixture)

from autograd import Value, ops
from autograd.engine import record

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must check the documentation site: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        _unavailable("the documentation site is not built (make docs)")
    for notebook in NOTEBOOKS:  # the build renders the copy of each notebook that docs/conf.py makes
        copy, page = ROOT / "docs" / "course" / notebook.name, SITE / "course" / (notebook.stem + ".html")
        if not (copy.is_file() and page.is_file() and copy.read_bytes() == notebook.read_bytes()
                and page.stat().st_mtime >= copy.stat().st_mtime):
            _unavailable(f"the documentation site is older than {notebook.name} (make docs rebuilds it)")
    return SITE


class _Resources(HTMLParser):
    """The addresses a page loads by itself: scripts, style sheets, images, frames, media."""

    LOADS = {"script": "src", "img": "src", "iframe": "src", "embed": "src", "source": "src",
             "audio": "src", "video": "src", "link": "href", "object": "data"}

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attribute = self.LOADS.get(tag)
        values = dict(attrs)
        if tag == "link" and (values.get("rel") or "") in ("canonical", "author", "license"):
            return  # a link relation that names a page, not something the browser fetches
        if attribute and values.get(attribute):
            self.loaded.append(values[attribute] or "")


def test_each_notebook_has_a_page_with_its_outputs(site):
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        page = site / "course" / (notebook.stem + ".html")
        assert page.is_file(), f"no page for {notebook.name}"
        html = page.read_text(encoding="utf-8")
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        pictures = sum(1 for o in outputs if {"image/png", "image/svg+xml"} & set(o.get("data", {})))
        explorers = sum(1 for o in outputs if "cr-explorer" in "".join(o.get("data", {}).get("text/html", "")))
        shown = html.count("<img") + len(re.findall(r"<svg[ >]", html))
        assert shown >= pictures, f"{page.name}: {shown} pictures for the notebook's {pictures}"
        assert html.count('class="cr-explorer"') == explorers, page.name
        for text in (o["text"] for o in outputs if o.get("output_type") == "stream"):
            first = "".join(text).strip().splitlines()[:1]
            if first and "<" not in first[0] and "&" not in first[0]:
                assert first[0].strip() in html, f"{page.name} lacks the printed line {first[0]!r}"


API = ["autograd.Value", "autograd.Value.backward", "autograd.grad", "autograd.draw", "autograd.explore",
       "autograd.compile", "autograd.sum", "nn.MLP", "nn.fit", "nn.to_torch", "nn.optim.Adam", "nn.CrossEntropyLoss"]


@pytest.mark.parametrize("name", API)
def test_the_api_page_documents(site, name):
    html = (site / "api.html").read_text(encoding="utf-8")
    match = re.search(rf'<dt class="sig sig-object py" id="{re.escape(name)}">(.*?)</dt>\s*<dd>(.*?)</dd>', html, re.S)
    assert match, f"api.html has no entry for {name}"
    assert len(re.sub(r"<[^>]+>", "", match.group(2)).split()) >= 5, f"{name}'s entry has no docstring"


def test_no_page_loads_anything_from_another_host(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(NOTEBOOKS) + 5
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        remote = [url for url in parser.loaded if re.match(r"(https?:)?//", url)]
        assert not remote, f"{page.relative_to(site)} loads {remote}"


# the oracle: the graph an explorer shows, rebuilt with the engine from its leaves' numbers and
# its operations' names ("**" with a constant exponent is the table's pow_const)
BY_NAME = {op.name: op for op in ops.TABLE.values() if op.key != "pow_const"}


def leaf_number(node: dict) -> float:
    """A leaf's exact number as the page carries it (pages written before the page computed its
    own numbers call it dataFull)."""
    return float(node["value"] if "value" in node else node["dataFull"])


def passes(graph: dict) -> tuple[list[str], list[str]]:
    """The nodes of the forward steps and of the backward steps, in order: recorded by older
    pages, otherwise every operation in topological order and then in reverse."""
    if "forward" in graph:
        return graph["forward"], [step["node"] for step in graph["backward"]]
    forward = [n["id"] for n in graph["nodes"] if not n["leaf"]]
    return forward, forward[::-1]


def rebuilt(graph: dict) -> dict[str, Value] | None:
    """Each node of the page's graph as a Value computed anew, or None if it cannot be rebuilt."""
    values: dict[str, Value] = {}
    for node in graph["nodes"]:  # in topological order, operands first
        if node["leaf"]:
            values[node["id"]] = Value(leaf_number(node))
            continue
        op = BY_NAME.get(node["op"])
        if op is None or any(o not in values for o in node["operands"]):
            return None  # a collapsed module or an operation this check does not know
        operands = [values[o] for o in node["operands"]]
        if op.key == "pow" and graph["nodes_by_id"][node["operands"][1]]["constant"]:
            op = ops.TABLE["pow_const"]
        values[node["id"]] = record(op, *operands)
    return values


def course_graphs() -> list[dict]:
    """The graph of each explorer in the committed notebooks, as its page carries it."""
    graphs = []
    for notebook in NOTEBOOKS:
        for found in re.findall(r'class=\\"cr-data\\">(.*?)</script>', notebook.read_text(encoding="utf-8")):
            graph = json.loads(json.loads(f'"{found}"'))  # the notebook's JSON string holds the page's JSON
            graph["nodes_by_id"] = {n["id"]: n for n in graph["nodes"]}
            graphs.append(graph)
    return graphs


def test_the_oracle_rebuilds_the_course_graphs():
    """rebuilt() recomputes each node's number as the notebook's run did, for most explorers."""
    graphs = course_graphs()
    values = [rebuilt(g) for g in graphs]
    assert graphs and sum(v is not None for v in values) >= len(graphs) / 2
    for graph, rebuilt_values in zip(graphs, values):
        for node in graph["nodes"] if rebuilt_values else []:
            if node["leaf"] or "dataFull" in node:
                assert rebuilt_values[node["id"]].data == leaf_number(node), node["name"]


def course_pages_with_explorers() -> list[str]:
    return [n.stem for n in NOTEBOOKS if "cr-explorer" in n.read_text(encoding="utf-8")]


def test_the_course_has_explorers():
    assert course_pages_with_explorers()


def step_through(page, uid: str, graph: dict) -> dict[str, dict]:
    """Home, then → through both passes (checking the step and the highlighted node), then End:
    each drawn Value's texts and exact gradient as the page then holds them."""
    def status() -> str:
        return page.inner_text(f"#{uid} .cr-status")

    def current() -> list[str]:
        return page.eval_on_selector_all(f"#{uid} g.cr-current[data-node^=v]",
                                         "gs => gs.map(g => g.getAttribute('data-node'))")

    page.focus(f"#{uid}")
    page.keyboard.press("Home")
    assert current() == []
    forward, backward = passes(graph)
    for k, node in enumerate(forward, start=1):
        page.keyboard.press("ArrowRight")
        assert status().startswith(f"forward {k}/{len(forward)}"), status()
        assert current() == [node]
    page.keyboard.press("ArrowRight")  # the root, gradient 1
    for k, step in enumerate(backward, start=1):
        page.keyboard.press("ArrowRight")
        assert status().startswith(f"backward {k}/{len(backward)}"), status()
        assert current() == [step]
    page.keyboard.press("End")
    return page.eval_on_selector_all(f"#{uid} g.node[data-node^=v]", """gs => Object.fromEntries(gs.map(g =>
        [g.getAttribute('data-node'), {grad: g.getAttribute('data-grad'),
         texts: Array.from(g.querySelectorAll('text')).map(t => t.textContent)}]))""")


def python_gradients(graph: dict) -> dict[str, float] | None:
    """d root / d node for each node, by backward() on the graph rebuilt in Python."""
    values = rebuilt(graph)
    if values is None:
        return None
    values[graph["root"]].backward()
    return {node: v.grad for node, v in values.items()}


def recorded_gradients(graph: dict) -> dict[str, float]:
    """Each node's complete gradient as the page's backward steps (from Python) recorded it."""
    grads = {graph["root"]: 1.0}
    for step in graph.get("backward", []):
        for contribution in step["contributions"]:
            grads[contribution["to"]] = float(contribution["gradFull"])  # the running sum: the last is complete
    return grads


@pytest.mark.parametrize("stem", course_pages_with_explorers())
def test_explorers_step_inside_the_course_page(browser, site, stem):  # noqa: F811
    problems: list[str] = []
    page = browser.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: not r.url.startswith(site.as_uri()) and problems.append(f"request: {r.url}"))
    page.goto((site / "course" / f"{stem}.html").as_uri())
    ids = page.eval_on_selector_all(".cr-explorer", "es => es.map(e => e.id)")
    assert ids
    for uid in ids:
        page.wait_for_selector(f"#{uid}[data-ready]")
        graph = json.loads(page.text_content(f"#{uid} script.cr-data") or "")
        graph["nodes_by_id"] = {n["id"]: n for n in graph["nodes"]}
        shown = step_through(page, uid, graph)
        assert not [n for n, s in shown.items() if "grad ?" in s["texts"]], "gradients still unknown after End"
        expected = python_gradients(graph)
        if expected is None:  # a graph this check cannot rebuild: backward_steps' numbers, recorded
            expected = recorded_gradients(graph)  # by the notebook's own run, are the oracle
        for node in graph["nodes"]:
            if not node["constant"] and node["id"] in shown and node["id"] in expected:
                assert float(shown[node["id"]]["grad"]) == expected[node["id"]], (stem, node["name"])
    page.close()
    assert not problems, problems
