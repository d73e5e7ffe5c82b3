"""Built-in data sets and model files."""

from __future__ import annotations

import os
import random
import statistics

import pytest

import nn


@pytest.mark.parametrize("make", [nn.data.moons, nn.data.xor, nn.data.animals])
def test_generated_sets_are_deterministic_lists(make):
    X, y = make(n=60, seed=4)
    assert (X, y) == make(n=60, seed=4) and (X, y) != make(n=60, seed=5)
    assert len(X) == len(y) == 60 and all(len(row) == 2 for row in X)
    assert sorted(set(y)) == [0, 1] and isinstance(X[0][0], float)


def test_animals_are_plausible_overlapping_cats_and_dogs():
    X, y = nn.data.animals(n=400)
    cats = [x for x, t in zip(X, y) if t == 0]
    dogs = [x for x, t in zip(X, y) if t == 1]
    assert 3.5 < statistics.mean(w for w, _ in cats) < 5.5 and 9 < statistics.mean(w for w, _ in dogs) < 13
    assert statistics.mean(length for _, length in cats) < statistics.mean(length for _, length in dogs)
    heaviest_cat = max(w for w, _ in cats)
    assert any(w < heaviest_cat for w, _ in dogs), "the classes should overlap"
    assert nn.data.ANIMAL_CLASSES == ("cat", "dog")


def test_digits_ship_with_the_package():
    X, y = nn.data.digits()
    assert len(X) == len(y) == 1797 and all(len(row) == 64 for row in X)
    assert sorted(set(y)) == list(range(10)) and min(map(min, X)) == 0.0 and max(map(max, X)) == 1.0
    raw, _ = nn.data.digits(scale=False)
    assert max(map(max, raw)) == 16.0 and raw[0][2] == 16 * X[0][2]


def test_train_test_split():
    X, y = list(range(100)), [i % 2 for i in range(100)]
    X_train, X_test, y_train, y_test = nn.data.train_test_split(X, y, test_size=0.2, seed=1)
    assert len(X_test) == 20 and len(X_train) == 80 and sorted(X_train + X_test) == X
    assert all(t == x % 2 for x, t in zip(X_test, y_test))
    with pytest.raises(ValueError, match="test_size"):
        nn.data.train_test_split(X, y, test_size=1.5)


def _model():
    random.seed(2)
    return nn.Sequential(nn.Layer(3, 4, activation="tanh"), nn.Sigmoid(), nn.Layer(4, 2))


def test_save_and_load_round_trip_bit_exact(tmp_path):
    model = _model()
    special = [0.1 + 0.2, 5e-324, -0.0, 1e308, 1 / 3]
    for p, v in zip(model.parameters(), special):
        p.data = v
    path = tmp_path / "model.json"
    nn.save(model, path)
    loaded = nn.load(path)
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    for (name, a), (name2, b) in zip(model.named_parameters(), loaded.named_parameters()):
        assert name == name2 and a.data.hex() == b.data.hex()
    assert loaded([0.1, 0.2, 0.3])[0].data == model([0.1, 0.2, 0.3])[0].data
    nn.save(model.state_dict(), tmp_path / "state.json")
    assert nn.load(tmp_path / "state.json") == model.state_dict()
    mlp = nn.MLP(2, [3, 1], activation="tanh")
    nn.save(mlp, tmp_path / "mlp.json")
    assert nn.load(tmp_path / "mlp.json").state_dict() == mlp.state_dict()


@pytest.mark.parametrize("content, message", [
    ('{"format": "chainrule-model", "version": 1, "model": {"type": "Lay', "broken JSON.*truncated"),
    ("", "broken JSON"),
    ('{"hello": 1}', "not a chainrule model file"),
    ('[1, 2]', "not a chainrule model file"),
    ('{"format": "chainrule-model", "version": 9, "state": {}}', "version 9"),
    ('{"format": "chainrule-model", "version": 1, "state": {"a": "1"}}', "weight 'a' is '1', not a number"),
    ('{"format": "chainrule-model", "version": 1, "model": {"type": "os.system", "command": "echo hi"}, "state": {}}',
     "unknown module type 'os.system'"),
    ('{"format": "chainrule-model", "version": 1, "model": {"type": "Layer", "nin": 2, "nout": 1, "evil": 1}, '
     '"state": {}}', "cannot build Layer"),
    ('{"format": "chainrule-model", "version": 1, "model": {"type": "Layer", "nin": 1, "nout": 1}, '
     '"state": {"neurons.0.w.0": 0.5}}', "do not fit the architecture: it needs 2 weights and the file holds 1"),
    ('{"format": "chainrule-model", "version": 1, "model": {"type": "Layer", "nin": 1, "nout": 1}, '
     '"state": {"neurons.0.w.0": 0.5, "neurons.0.bias": 1, "x": 2}}', "do not fit the architecture.*unexpected"),
])
def test_corrupt_or_mismatched_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        nn.load(path)


def test_binary_garbage_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ValueError, match="not a chainrule model file"):
        nn.load(path)


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    nn.save(_model(), path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", explode)  # the temporary file exists and is half written
    with pytest.raises(OSError, match="disk full"):
        nn.save(_model(), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.json"]


def test_custom_modules_cannot_be_saved_whole(tmp_path):
    class Mine(nn.Module):
        def __init__(self):
            self.layer = nn.Layer(1, 1)

    with pytest.raises(TypeError, match="save its state_dict"):
        nn.save(Mine(), tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


# --- what the data functions refuse, quickly -------------------------------------------------

@pytest.mark.parametrize("make", [nn.data.moons, nn.data.xor, nn.data.animals])
@pytest.mark.parametrize("n", [10**400, 10**7, -(10**400), 1, True, 2.5, "100", None, float("nan")])
def test_sample_counts_are_bounded_whole_numbers(make, n):
    with pytest.raises(ValueError, match="n must be a whole number from"):
        make(n=n)


@pytest.mark.parametrize("make", [nn.data.moons, nn.data.xor, nn.data.animals])
def test_numpy_integers_are_taken_where_ints_are(make):
    np = pytest.importorskip("numpy")
    assert make(n=np.int64(40), seed=np.int32(3)) == make(n=40, seed=3)


@pytest.mark.parametrize("make", [nn.data.moons, nn.data.xor])
@pytest.mark.parametrize("noise", [float("nan"), float("inf"), -0.1, True, "0.1"])
def test_noise_must_be_a_finite_standard_deviation(make, noise):
    with pytest.raises(ValueError, match="noise must be a number"):
        make(n=10, noise=noise)


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_seeds_must_be_whole_numbers(seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        nn.data.moons(n=10, seed=seed)


def test_digits_scale_takes_only_a_bool():
    with pytest.raises(TypeError, match="scale must be True or False"):
        nn.data.digits(scale="no")


def test_train_test_split_keeps_a_sample_on_each_side():
    X_train, X_test, _, _ = nn.data.train_test_split([1, 2], [0, 1], test_size=0.9)
    assert len(X_train) == 1 and len(X_test) == 1
    for bad in (float("nan"), True):
        with pytest.raises(ValueError, match="test_size"):
            nn.data.train_test_split([1, 2], [0, 1], test_size=bad)
    with pytest.raises(ValueError, match="at least 2 samples"):
        nn.data.train_test_split([1], [0])
