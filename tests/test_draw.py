"""Drawing: golden DOT, determinism, module clusters and their order, size limits, files, the
Graphviz programs (graphviz-pure and dot), the stepper and its memory."""

from __future__ import annotations

import os
import random
import re
import shutil
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import needs_dot

import autograd
import nn
from autograd import Value, draw, draw_steps, save_steps, topological_order
from autograd.drawing import graphviz_program

GOLDEN = Path(__file__).parent / "golden"


def neuron():
    """micrograd's neuron example: tanh(x1*w1 + x2*w2 + b)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    n = x1w1 + x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def test_golden_dot_of_micrograds_neuron():
    # reviewed by eye when written (rendered with graphviz-pure): tables (label, data, grad), op
    # circles, operands in order top to bottom, the legend, the output with a double border
    assert draw(neuron()).source == (GOLDEN / "neuron.dot").read_text()


def test_the_same_graph_built_twice_gives_identical_source():
    def build():
        random.seed(5)
        net = nn.MLP(2, [3, 2])
        loss = nn.CrossEntropyLoss()([net([0.3, -0.2])], [1])
        loss.backward()
        return draw(loss).source

    first, second = build(), build()
    assert first == second and "0x" not in first


def mlp_loss():
    random.seed(0)
    net = nn.MLP(2, [3, 2], activation="tanh")
    return nn.CrossEntropyLoss()([net([0.5, -1.0])], [0])


def test_module_groups_are_nested_clusters():
    source = draw(mlp_loss()).source
    for label in ("MLP", "Layer 1", "Layer 2", "Neuron 1", "Neuron 3", "CrossEntropyLoss"):
        assert f'label="{label}"' in source, label
    # Neuron clusters sit inside Layer clusters, Layer clusters inside the MLP's
    paths, stack = set(), []
    for line in source.splitlines():
        if line.strip().startswith("subgraph cluster_"):
            stack.append(None)
        elif line.strip().startswith("graph [label=") and stack:
            stack[-1] = line.split('"')[1]
            paths.add(tuple(stack))
        elif line.strip() == "}" and stack:
            stack.pop()
    assert ("MLP", "Layer 1", "Neuron 1") in paths and ("MLP", "Layer 2", "Neuron 2") in paths
    assert ("CrossEntropyLoss",) in paths and ("MLP", "Layer 2", "Neuron 3") not in paths
    assert source.count("subgraph cluster_") == 1 + 2 + 3 + 2 + 1


def test_depth_collapses_modules_into_boxes():
    loss = mlp_loss()
    full = draw(loss).source
    one = draw(loss, depth=1).source
    zero = draw(loss, depth=0).source
    assert "Neuron 1" not in one and "Layer 1\\n(" in one and one.count("box3d") == 2
    assert zero.count("box3d") == 2 and "MLP\\n(" in zero and "CrossEntropyLoss\\n(" in zero
    assert len(zero) < len(one) < len(full)
    # what a collapsed module hands on is still drawn: the MLP's two outputs (the prediction)
    # next to its box, and the loss itself next to the loss's box
    assert zero.count("prediction") == 2 and zero.count(">loss<") == 1
    assert "cluster_0_box -> v" in zero


def test_large_graphs_are_refused_with_advice_and_never_recurse():
    x = Value(1.0)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0  # 100,000 operation nodes, deeper than any recursion limit
    with pytest.raises(autograd.GraphTooLarge, match="more than max_nodes=300.*raise max_nodes"):
        draw(y)
    assert draw(y, max_nodes=None).source.count("->") == 300_000  # 3 edges per operation
    random.seed(0)
    net = nn.MLP(4, [16, 16, 3])
    with pytest.raises(autograd.GraphTooLarge, match="pass depth="):
        draw(nn.CrossEntropyLoss()([net([0.1, 0.2, 0.3, 0.4])], [1]))


def test_leaf_roles_root_shading_legend_and_no_grad_on_constants():
    w = autograd.Parameter(0.5, label="w")
    x = Value(2.0, label="x")
    y = (w * x + 1.0).relu() + x * 2 + x**2
    y.backward()
    source = draw(y, shade_grad=True).source
    assert 'BGCOLOR="#c7e9c0"' not in source  # shading replaces role colours
    source = draw(y).source
    assert source.count('BGCOLOR="#c7e9c0"') == 2 and source.count('BGCOLOR="#c6dbef"') == 2  # w, x + legend
    assert source.count('STYLE="dashed"') == 3 and 'BORDER="2"' in source  # three constants, the root
    # constants are drawn without a gradient (nothing learns them): the same for x*2 and x**2
    records = [line for line in source.splitlines() if "<TABLE" in line and line.lstrip().startswith("v")]
    constants = [line for line in records if 'STYLE="dashed"' in line]
    assert len(constants) == 3 and not any("grad" in line for line in constants)
    assert all("grad" in line for line in records if line not in constants)
    assert "parameter (learned)" in source and "constant" in source  # the legend
    assert "parameter (learned)" not in draw(y, legend=False).source


def positions(source):
    """Each node's centre from Graphviz's layout ("plain" output; y grows upwards)."""
    found = {}
    for line in graphviz_program.run(source, "plain").decode().splitlines():
        parts = line.split()
        if parts[0] == "node":
            found[parts[1]] = (float(parts[2]), float(parts[3]))
    return found


def needs_graphviz_pure(test):
    present = shutil.which("graphviz-pure") or shutil.which("graphviz-pure", path=str(Path(os.sys.executable).parent))
    return pytest.mark.skipif(not present and not os.environ.get("CI"), reason="graphviz-pure not installed")(test)


@needs_graphviz_pure
def test_neurons_and_weights_are_drawn_in_the_order_they_were_made(monkeypatch):
    # Graphviz reorders clusters to save crossings ("Neuron 3, 2, 1"); the drawing must not
    monkeypatch.setenv("CHAINRULE_GRAPHVIZ", "graphviz-pure")
    random.seed(0)
    net = nn.Sequential(nn.Layer(2, 3), nn.Sigmoid(), nn.Layer(3, 2))
    loss = nn.CrossEntropyLoss()([net([0.5, -1.0])], [0])
    order = autograd.topological_order(loss)
    at = positions(draw(loss).source)
    for layer in (net.modules[0], net.modules[2]):
        neurons = [[p for p in neuron.parameters()] for neuron in layer.neurons]
        heights = [[at[f"v{order.index(p)}"][1] for p in ps] for ps in neurons]
        for hs in heights:  # w1, w2, ..., b from the top down
            assert hs == sorted(hs, reverse=True), hs
        tops = [hs[0] for hs in heights]  # Neuron 1 above Neuron 2 above Neuron 3
        assert tops == sorted(tops, reverse=True), tops


PROGRAMS = [name for name in graphviz_program.PROGRAMS
            if shutil.which(name) or shutil.which(name, path=str(Path(os.sys.executable).parent))]


@needs_dot
@pytest.mark.parametrize("program", PROGRAMS or ["graphviz-pure"])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_render_writes_one_valid_file_with_either_program(tmp_path, monkeypatch, program, fmt):
    monkeypatch.setenv("CHAINRULE_GRAPHVIZ", program)
    path = draw(neuron()).render(tmp_path / "neuron", format=fmt)
    data = Path(path).read_bytes()
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert "grad -1.5" in texts and "o (output)" in texts
    assert os.listdir(tmp_path) == [f"neuron.{fmt}"]  # no DOT file or partial file left behind


def test_no_graphviz_program_gives_one_clear_error_and_dot_text_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(graphviz_program, "PROGRAMS", ("no-such-graphviz-program",))
    with pytest.raises(autograd.GraphvizMissing, match="pip install graphviz-pure"):
        draw(neuron()).render(tmp_path / "x", format="png")
    assert "pip install graphviz-pure" in draw(neuron())._repr_mimebundle_()["text/plain"]
    assert os.listdir(tmp_path) == []
    assert draw(neuron()).source.startswith("digraph {")  # DOT text needs no program
    assert len(list(draw_steps(neuron()))) == 5


def test_stepper_has_one_frame_per_processed_node():
    o = neuron()
    interior = [v for v in autograd.topological_order(o) if v.children]
    frames = list(draw_steps(o))
    assert len(frames) == len(interior) == 5
    # the first frame highlights the root o (its table and its tanh) and knows o's and n's grads
    first = frames[0].source
    highlighted = [line.split()[0] for line in first.splitlines() if "#fdae6b" in line and "TD BGCOLOR" not in line]
    assert highlighted == ["v9", "op9"]
    assert first.count("grad ?") == 8  # the 10 records but o and n
    assert "grad ?" not in frames[-1].source


def test_stepper_ends_with_backwards_gradients():
    o = neuron()  # backward() has run: every .grad holds d o / d node
    order = autograd.topological_order(o)
    steps = list(autograd.backward_steps(o))
    assert [s.node for s in steps] == [v for v in reversed(order) if v.children]
    totals = {o: 1.0}
    for step in steps:
        assert step.grad == totals[step.node]  # complete when it is passed on
        for child, _local, contribution in step.contributions:
            totals[child] = totals.get(child, 0.0) + contribution
    assert [totals[v] for v in order] == [v.grad for v in order]  # backward()'s numbers
    frames = list(draw_steps(o))
    last = frames[-1].source
    for i, v in enumerate(order):
        line = next(line for line in last.splitlines() if line.lstrip().startswith(f"v{i} "))
        assert f"grad {v.grad:.4g}<" in line


@needs_dot
def test_film_strip_frames_share_one_layout_and_one_size():
    frames = list(draw_steps(neuron()))
    layouts = [positions(f.source) for f in frames]
    assert all(layout == layouts[0] for layout in layouts[1:])
    svgs = [ET.fromstring(f.pipe("svg")) for f in frames]
    assert len({(s.get("width"), s.get("height")) for s in svgs}) == 1


def chain(n):
    x = Value(1.0)
    y = x
    for _ in range(n // 2):
        y = y * 1.0
    return y


def test_stepper_checks_the_size_first_and_uses_linear_memory():
    big = chain(10_001)
    tracemalloc.start()
    try:
        with pytest.raises(autograd.GraphTooLarge, match="more than max_nodes=300"):
            draw_steps(big)  # refused at the call, before any frame or snapshot is made
        _, refused = tracemalloc.get_traced_memory()
        peaks = []
        for n in (400, 800):
            tracemalloc.reset_peak()
            frames = draw_steps(chain(n), max_nodes=None)
            for _ in range(3):
                next(frames)
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert refused < 20_000_000  # was 913 MB: every step kept a copy of all gradients known so far
    assert peaks[1] < 2.6 * peaks[0]  # twice the nodes, about twice the memory (quadratic: four times)


@needs_dot
def test_save_steps_writes_numbered_frames_and_a_gif(tmp_path):
    paths = save_steps(neuron(), tmp_path, gif=True)
    names = [p.name for p in paths]
    assert names == ["step_001.png", "step_002.png", "step_003.png", "step_004.png", "step_005.png", "step.gif"]
    assert paths[-1].read_bytes()[:6] in (b"GIF87a", b"GIF89a")


AWKWARD_LABELS = {  # label -> what the drawing shows: as given, or a character that cannot be drawn as Python writes it
    "\\Gamma": "\\Gamma", "C:\\Nodes": "C:\\Nodes", "\\N": "\\N", "\\G\\L\\T\\H\\E": "\\G\\L\\T\\H\\E",
    "a\x00b": "a\\x00b", "\x01\x1b[31m": "\\x01\\x1b[31m", "s\ud800t": "s\\ud800t", "two\nlines": "two\\nlines",
}


@needs_dot
@pytest.mark.parametrize("program", PROGRAMS or ["graphviz-pure"])
def test_labels_scopes_and_module_names_are_drawn_as_given_by_either_program(monkeypatch, program):
    monkeypatch.setenv("CHAINRULE_GRAPHVIZ", program)
    for label, shown in AWKWARD_LABELS.items():
        with autograd.scope(label):
            y = Value(2.0, label=label) * 3
        root = ET.fromstring(draw(y).pipe("svg"))
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert f"{shown} (input)" in texts, (label, texts)
        assert shown in texts, (label, texts)  # the cluster's name


def test_a_layout_that_takes_too_long_is_a_clear_error_naming_the_size(monkeypatch):
    monkeypatch.setattr(graphviz_program, "TIMEOUT", 1e-4)
    with pytest.raises(graphviz_program.LayoutTimeout, match=r"about \d+ shapes in 0.0001 s.*depth="):
        draw(mlp_loss()).pipe("svg")


def test_repr_counts_the_values_drawn_and_the_collapsed_modules():
    random.seed(0)
    model = nn.MLP(2, [3, 1])
    out = model([Value(1.0), Value(2.0)])
    assert repr(draw(out)) == f"<Drawing: {len(topological_order(out))} values>"
    collapsed = draw(out, depth=1)
    shown = len(re.findall(r'<TABLE BORDER="[12]"', collapsed.source))  # a drawn value's record (the legend's is 0)
    assert repr(collapsed) == f"<Drawing: {shown} values, {collapsed.source.count('box3d')} collapsed modules>"
    assert "collapsed modules" in repr(collapsed) and shown < len(topological_order(out))
