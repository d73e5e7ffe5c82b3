"""Built-in data sets: offline, deterministic by seed, returned as plain lists ``(X, y)``.

>>> from nn import data
>>> X, y = data.moons(n=100, seed=0)
>>> len(X), X[0][:1] == data.moons(n=100, seed=0)[0][0][:1], sorted(set(y))
(100, True, [0, 1])
"""

from __future__ import annotations

import gzip
import math
import numbers
import random
from collections.abc import Sequence
from importlib import resources
from typing import Any

from autograd.check import whole_number

from .text import CharTokenizer, names, names_split  # noqa: F401  (public: nn.data.names, ...)

ANIMAL_CLASSES = ("cat", "dog")


MAX_SAMPLES = 1_000_000  # plain Python lists: more would take minutes and gigabytes, not a data set for this


def _check_n(n: Any, least: int = 2) -> int:
    return whole_number(n, "n", least, MAX_SAMPLES)


def _check_noise(noise: Any) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 <= noise <= 1e6:  # type: ignore[operator]
        raise ValueError(f"noise must be a number from 0 to 1e6 (a standard deviation), got {_short(noise)}")
    return float(noise)


def _check_seed(seed: Any) -> int:
    return whole_number(seed, "seed")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``): labels 0 and 1."""
    n, noise, rng = _check_n(n), _check_noise(noise), random.Random(_check_seed(seed))
    n_top = n // 2
    X, y = [], []
    for i in range(n):
        top = i < n_top
        count = n_top if top else n - n_top
        t = math.pi * (i if top else i - n_top) / max(count - 1, 1)
        x0, x1 = (math.cos(t), math.sin(t)) if top else (1 - math.cos(t), 0.5 - math.sin(t))
        X.append([x0 + rng.gauss(0, noise), x1 + rng.gauss(0, noise)])
        y.append(0 if top else 1)
    return _shuffled(X, y, rng)


def xor(n: int = 200, noise: float = 0.3, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """Four clusters around (±1, ±1): label 1 where the signs differ (not linearly separable)."""
    n, noise, rng = _check_n(n, 4), _check_noise(noise), random.Random(_check_seed(seed))
    X, y = [], []
    for i in range(n):
        sx, sy = (1 if i % 2 else -1), (1 if (i // 2) % 2 else -1)
        X.append([sx + rng.gauss(0, noise), sy + rng.gauss(0, noise)])
        y.append(int(sx != sy))
    return _shuffled(X, y, rng)


def animals(n: int = 200, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """Cats (label 0) and dogs (label 1) by ``[weight in kg, length in cm]``.

    Plausible, overlapping clusters: house cats weigh about 4.5 kg (±1.2) and measure about
    46 cm (±5) without the tail; the dogs are small to medium breeds, about 11 kg (±4.5) and
    62 cm (±12), so a small dog can look like a large cat. ``ANIMAL_CLASSES`` names the labels.
    The hard-coded rule and the learned one in notebook 2 both work on this.
    """
    n, rng = _check_n(n), random.Random(_check_seed(seed))
    X, y = [], []
    for i in range(n):
        dog = i % 2
        if dog:
            weight, length = rng.gauss(11.0, 4.5), rng.gauss(62.0, 12.0)
        else:
            weight, length = rng.gauss(4.5, 1.2), rng.gauss(46.0, 5.0)
        X.append([round(max(weight, 1.5), 1), round(max(length, 25.0), 1)])
        y.append(dog)
    return _shuffled(X, y, rng)


def digits(scale: bool = True) -> tuple[list[list[float]], list[int]]:
    """The 1,797 handwritten digits, 8×8 pixels each, flattened row by row to 64 numbers.

    Pixels are 0–16 in the file; ``scale=True`` divides them by 16 (to 0–1). Labels are 0–9.
    The file ships with the package (see nn/data/README.md for its source and licence).
    """
    if not isinstance(scale, bool):  # bool("no") is True: take only a real bool
        raise TypeError(f"digits: scale must be True or False, got {_short(scale)}")
    raw = resources.files(__name__).joinpath("digits.csv.gz").read_bytes()
    X, y = [], []
    for line in gzip.decompress(raw).decode("ascii").split():
        *pixels, label = (int(v) for v in line.split(","))
        X.append([p / 16.0 for p in pixels] if scale else [float(p) for p in pixels])
        y.append(label)
    return X, y


def train_test_split(X: Sequence[Any], y: Sequence[Any], test_size: float = 0.25, seed: int = 0) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Shuffle with ``seed`` and split: ``X_train, X_test, y_train, y_test`` (as scikit-learn)."""
    if len(X) != len(y):
        raise ValueError(f"train_test_split: {len(X)} samples but {len(y)} labels")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"train_test_split: test_size must be between 0 and 1, got {_short(test_size)}")
    if len(X) < 2:
        raise ValueError(f"train_test_split: needs at least 2 samples to split, got {len(X)}")
    order = list(range(len(X)))
    random.Random(_check_seed(seed)).shuffle(order)
    n_test = min(max(1, round(len(X) * test_size)), len(X) - 1)  # both parts keep at least one sample
    test, train = order[:n_test], order[n_test:]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


def _shuffled(X: list[Any], y: list[Any], rng: random.Random) -> tuple[list[Any], list[Any]]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]
