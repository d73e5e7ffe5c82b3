"""Model files against hostile content and awkward paths: refused cheaply, standard JSON, bit-exact,
umask modes, symlinks, no temporary files left, errors naming the path given."""

from __future__ import annotations

import json
import math
import os
import random
import struct
import time

import pytest

import nn
from nn import layers
from nn.files import MODULES, describe, weight_count


def _header(model: str, state: str = "{}") -> str:
    return f'{{"format": "chainrule-model", "version": 1, "model": {model}, "state": {state}}}'


@pytest.fixture
def nothing_built(monkeypatch):
    """Fails the test if loading builds anything holding weights (every weight is in a Neuron or an Embedding)."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"a {type(self).__name__} was built from a file whose weights cannot fill it")
    monkeypatch.setattr(layers.Neuron, "__init__", refuse)
    monkeypatch.setattr(nn.Embedding, "__init__", refuse)


@pytest.mark.parametrize("model", [
    '{"type": "Layer", "nin": 100000000, "nout": 100000000}',
    '{"type": "MLP", "nin": 3, "nouts": [100000000, 2]}',
    '{"type": "Sequential", "modules": [{"type": "Neuron", "nin": 1000000000}]}',
    '{"type": "GPT", "vocab_size": 100000, "block_size": 16, "n_embd": 16, "n_head": 4, "n_layer": 1}',
    '{"type": "GPT", "vocab_size": 1000000, "block_size": 1000000, "n_embd": 1000000, "n_head": 1, "n_layer": 1}',
    '{"type": "Embedding", "num": 1000, "dim": 1000}',
    '{"type": "Block", "n_embd": 1000, "n_head": 10}',
    '{"type": "CausalSelfAttention", "n_embd": 1000, "n_head": 10}',
    '{"type": "AttentionHead", "n_embd": 1000, "head_size": 1000}',
    '{"type": "Layer", "nin": 1' + "0" * 4000 + ', "nout": 1' + "0" * 4000 + '}',  # a count of 8,000 digits
])
def test_a_small_file_cannot_ask_for_a_huge_model(tmp_path, model, nothing_built):
    path = tmp_path / "huge.json"
    path.write_text(_header(model))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="needs .* weights and the file holds 0"):
        nn.load(path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("make", [
    lambda: nn.Neuron(3), lambda: nn.Layer(3, 4, "tanh"), lambda: nn.MLP(3, [5, 2, 1]), lambda: nn.Embedding(7, 3),
    lambda: nn.RMSNorm(4), lambda: nn.AttentionHead(6, 3), lambda: nn.CausalSelfAttention(6, 2),
    lambda: nn.Block(4, 2), lambda: nn.GPT(vocab_size=11, block_size=5, n_embd=4, n_head=2, n_layer=2),
    lambda: nn.Sequential(nn.Layer(2, 3), nn.Tanh(), nn.Sequential(nn.MLP(3, [2]), nn.ReLU())),
])
def test_the_weights_counted_from_the_architecture_are_the_built_modules(make):
    model = make()
    assert weight_count(describe(model)) == len(model.parameters())


def test_every_module_a_file_may_name_has_its_weights_counted():
    """A class added to the list without a count would let a small file build it whole."""
    uncounted = [name for name, cls in MODULES.items() if name != "Sequential" and not hasattr(cls, "parameter_count")]
    assert uncounted == []


@pytest.mark.parametrize("model, message", [
    ('{"type": "GPT", "n_embd": "16"}', "GPT\\(n_embd\\) must be a whole number"),
    ('{"type": "GPT", "n_embd": 6}', "n_embd=6 must be a multiple of n_head=4"),
    ('{"type": "Embedding", "num": 0, "dim": 3}', "Embedding\\(num\\) must be a whole number"),
    ('{"type": "Layer", "nin": 2}', "cannot build Layer.*missing a required argument: 'nout'"),
    ('{"type": "MLP", "nin": 2, "nouts": 5}', "expected a non-empty list of layer sizes"),
])
def test_an_architecture_that_cannot_be_built_is_refused_before_counting(tmp_path, model, message, nothing_built):
    path = tmp_path / "bad.json"
    path.write_text(_header(model))
    with pytest.raises(ValueError, match=message):
        nn.load(path)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_deeply_nested_json_is_a_value_error(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="nested too deeply"):
        nn.load(path)


def test_deeply_nested_sequentials_are_a_value_error(tmp_path):
    model = '{"type": "Sigmoid"}'
    for _ in range(150):
        model = f'{{"type": "Sequential", "modules": [{model}]}}'
    path = tmp_path / "deep.json"
    path.write_text(_header(model))
    with pytest.raises(ValueError, match="nested more than 100 deep"):
        nn.load(path)


@pytest.mark.parametrize("content", [
    '{"format": "chainrule-model", "version": 1, "state": {"w": 1' + "0" * 400 + "}}",
    '{"format": "chainrule-model", "version": 1' + "0" * 400 + ', "state": {}}',
    _header('{"type": "Layer", "nin": 1' + "0" * 400 + ', "nout": 1}'),
    '{"format": "chainrule-model", "version": 1, "state": {"w": 1' + "0" * 5000 + "}}",
])
def test_huge_integers_are_a_value_error_not_an_overflow(tmp_path, content):
    path = tmp_path / "big.json"
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        nn.load(path)
    assert str(path) in str(info.value) and len(str(info.value)) < 300


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON literal {name}")
    return json.loads(text, parse_constant=refuse)


def test_files_are_standard_json_and_non_finite_weights_round_trip_bit_exact(tmp_path):
    random.seed(1)
    model = nn.Sequential(nn.Layer(3, 3), nn.Tanh(), nn.Layer(3, 1))
    negative_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
    payload_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF800000000BEEF))[0]
    special = [math.nan, math.inf, -math.inf, -0.0, 5e-324, negative_nan, payload_nan, 1e308, -1 / 3]
    for p, v in zip(model.parameters(), special):
        p.data = v
    path = tmp_path / "model.json"
    nn.save(model, path)
    _strict(path.read_text())  # no NaN / Infinity literals
    loaded = nn.load(path)
    assert [_bits(p.data) for p in loaded.parameters()] == [_bits(p.data) for p in model.parameters()]
    nn.save(model.state_dict(), tmp_path / "state.json")
    _strict((tmp_path / "state.json").read_text())
    assert [_bits(v) for v in nn.load(tmp_path / "state.json").values()] == [_bits(p.data) for p in model.parameters()]


@pytest.mark.parametrize("value", ['"nan:0x7ff0000000000000"', '"nan:0xzz"', '"Infinity"', '"inf "', "true"])
def test_strings_other_than_the_non_finite_names_are_not_weights(tmp_path, value):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "chainrule-model", "version": 1, "state": {"w": ' + value + "}}")
    with pytest.raises(ValueError, match="not a number"):
        nn.load(path)


def test_a_new_file_gets_the_umasks_mode_and_a_replaced_one_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        nn.save(nn.Layer(1, 1), tmp_path / "m.json")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    os.chmod(tmp_path / "m.json", 0o640)
    nn.save(nn.Layer(1, 1), tmp_path / "m.json")
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o640


def test_saving_through_a_symlink_updates_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "model.json"
    nn.save(nn.Layer(1, 1), real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    model = nn.Layer(2, 1)
    nn.save(model, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert nn.load(real).state_dict() == model.state_dict()
    assert sorted(os.listdir(tmp_path / "real")) == ["model.json"] and sorted(os.listdir(tmp_path)) == ["link.json", "real"]


def test_errors_name_the_path_given_and_leave_no_temporary_file(tmp_path):
    given = str(tmp_path / "missing-folder" / "m.json")
    with pytest.raises(FileNotFoundError) as info:
        nn.save(nn.Layer(1, 1), given)
    assert info.value.filename == given
    with pytest.raises(FileNotFoundError) as info:
        nn.load(given)
    assert info.value.filename == given
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    try:
        if os.access(tmp_path / "ro", os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(PermissionError) as info:
            nn.save(nn.Layer(1, 1), tmp_path / "ro" / "m.json")
        assert info.value.filename == str(tmp_path / "ro" / "m.json")
    finally:
        os.chmod(tmp_path / "ro", 0o700)
    assert os.listdir(tmp_path / "ro") == []


def test_saving_onto_a_directory_names_it(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory") as info:
        nn.save(nn.Layer(1, 1), tmp_path)
    assert info.value.filename == str(tmp_path) and os.listdir(tmp_path) == []
