"""Drawing: golden DOT, determinism, module clusters, size limits, files, the stepper."""

from __future__ import annotations

import os
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import needs_dot

import autograd
import nn
from autograd import Value, draw, draw_steps, save_steps

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
    # reviewed by eye when written: records (label | data | grad), op circles, operands in order
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
        assert f"label=\"{label}\"" in source or f"label={label}" in source.replace('"', ""), label
    # Neuron clusters sit inside Layer clusters: the first Neuron's cluster opens after Layer 1's
    assert source.index("Layer 1") < source.index("Neuron 1") < source.index("Layer 2")
    assert source.count("subgraph cluster_") == 1 + 2 + 3 + 2 + 1


def test_depth_collapses_modules_into_boxes():
    loss = mlp_loss()
    full = draw(loss).source
    one = draw(loss, depth=1).source
    zero = draw(loss, depth=0).source
    assert "Neuron 1" not in one and "Layer 1\\n(" in one and one.count("box3d") == 2
    assert zero.count("box3d") == 2 and "MLP\\n(" in zero and "CrossEntropyLoss\\n(" in zero
    assert len(zero) < len(one) < len(full)


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


def test_leaf_roles_root_and_shading():
    w = autograd.Parameter(0.5, label="w")
    x = Value(2.0, label="x")
    y = (w * x + 1.0).relu()
    y.backward()
    source = draw(y, shade_grad=True).source
    assert "#c7e9c0" not in source  # shading replaces role colours
    source = draw(y).source
    assert source.count("#c7e9c0") == 1 and source.count("#c6dbef") == 1  # one parameter, one input
    assert "dashed" in source and "peripheries" in source  # the constant 1.0, the root


@needs_dot
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_render_writes_a_valid_file(tmp_path, fmt):
    path = draw(neuron()).render(tmp_path / "neuron", format=fmt, cleanup=True)
    data = Path(path).read_bytes()
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert ET.fromstring(data).tag.endswith("svg")
    assert os.listdir(tmp_path) == [f"neuron.{fmt}"]


def test_missing_dot_binary_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    with pytest.raises(autograd.GraphvizMissing, match="apt-get install graphviz"):
        draw(neuron()).render(tmp_path / "x", format="png")
    assert "apt-get install graphviz" in draw(neuron())._repr_mimebundle_()["text/plain"]


def test_stepper_has_one_frame_per_processed_node():
    o = neuron()
    interior = [v for v in autograd.topological_order(o) if v.children]
    frames = list(draw_steps(o))
    assert len(frames) == len(interior) == 5
    # the first frame highlights the root o (its record and its tanh) and knows o's and n's grads
    first = frames[0].source
    highlighted = [line.split()[0] for line in first.splitlines() if "#fdae6b" in line]
    assert highlighted == ["v9", "op9"]
    assert first.count("grad ?") == 8  # the 10 records but o and n
    assert "grad ?" not in frames[-1].source


def test_stepper_steps_follow_backward_and_end_with_its_gradients():
    o = neuron()  # backward() has run: every .grad holds d o / d node
    order_of_o = autograd.topological_order(o)
    steps = list(autograd.backward_steps(o))
    assert [s.node for s in steps] == [v for v in reversed(order_of_o) if v.children]
    totals = {o: 1.0}
    for step in steps:
        assert step.grad == totals[step.node]  # complete when it is passed on
        for child, local, contribution in step.contributions:
            totals[child] = totals.get(child, 0.0) + contribution
    assert [totals[v] for v in order_of_o] == [v.grad for v in order_of_o]  # backward()'s numbers
    frames = list(draw_steps(o))
    assert "grad ?" not in frames[-1].source and frames[-1].source.count("grad -1.5") == 1


@needs_dot
def test_save_steps_writes_numbered_frames_and_a_gif(tmp_path):
    paths = save_steps(neuron(), tmp_path, gif=True)
    names = [p.name for p in paths]
    assert names == ["step_001.png", "step_002.png", "step_003.png", "step_004.png", "step_005.png", "step.gif"]
    assert paths[-1].read_bytes()[:6] in (b"GIF87a", b"GIF89a")
