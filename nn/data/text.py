"""Text data for the GPT of notebook 6: the names, a seeded train/validation split, and a
character tokenizer (26 letters plus one boundary token).

>>> from nn import data
>>> names = data.names()
>>> len(names), names[:3]
(32033, ['emma', 'olivia', 'ava'])
>>> tok = data.CharTokenizer()
>>> tok.encode("ava"), tok.decode([0, 21, 0]), tok.vocab_size, tok.boundary_id
([0, 21, 0], 'ava', 27, 26)
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterable
from importlib import resources
from typing import Any

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def names() -> list[str]:
    """The 32,033 names of the capstone data set, lower-case, in file order.

    The file ships compressed with the package (``nn/data/names.txt.gz``; its source is in
    nn/data/README.md), so this works offline.
    """
    raw = resources.files(__package__).joinpath("names.txt.gz").read_bytes()
    return gzip.decompress(raw).decode("ascii").split()


def names_split(val_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train, validation)``: the names shuffled with ``seed``, the last ``val_fraction`` held out.

    >>> from nn import data
    >>> train, val = data.names_split(seed=0)
    >>> len(train), len(val), sorted(train + val) == sorted(data.names())
    (28830, 3203, True)
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"names_split: val_fraction must be between 0 and 1, got {val_fraction!r}")
    shuffled = names()
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * val_fraction))
    return shuffled[:-n_val], shuffled[-n_val:]


class CharTokenizer:
    """Text ↔ token ids, one id per character: ``'a'``–``'z'`` are 0–25, and one more id
    (``boundary_id``, 26) marks where a name starts and ends, written ``boundary`` (``"."``).

    A name becomes ``[boundary_id, *encode(name), boundary_id]`` for training: from the
    boundary the model learns how names start, and predicting it means "the name ends here".

    >>> from nn.data import CharTokenizer
    >>> tok = CharTokenizer()
    >>> ids = [tok.boundary_id, *tok.encode("emma"), tok.boundary_id]
    >>> ids, tok.decode(ids)
    ([26, 4, 12, 12, 0, 26], '.emma.')
    """

    def __init__(self, alphabet: str = LETTERS, boundary: str = "."):
        if not isinstance(alphabet, str) or len(set(alphabet)) != len(alphabet) or not alphabet:
            raise ValueError(f"CharTokenizer: alphabet must be a non-empty string of distinct characters, got {alphabet!r}")
        if not isinstance(boundary, str) or len(boundary) != 1 or boundary in alphabet:
            raise ValueError(f"CharTokenizer: boundary must be one character outside the alphabet, got {boundary!r}")
        self.alphabet = alphabet
        self.boundary = boundary
        self.boundary_id = len(alphabet)
        self.vocab_size = len(alphabet) + 1
        self._ids = {c: i for i, c in enumerate(alphabet)}

    def encode(self, text: str) -> list[int]:
        """The token id of each character of ``text`` (the boundary is not added)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a string, got {type(text).__name__}")
        try:
            return [self._ids[c] for c in text]
        except KeyError as e:
            raise ValueError(
                f"CharTokenizer.encode: {e.args[0]!r} in {text!r} is not in the alphabet {self.alphabet!r}"
            ) from None

    def decode(self, ids: Iterable[Any]) -> str:
        """The text of token ids; the boundary id becomes ``boundary``."""
        chars = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.vocab_size:
                raise ValueError(f"CharTokenizer.decode: {i!r} is not a token id (0 to {self.vocab_size - 1})")
            chars.append(self.boundary if i == self.boundary_id else self.alphabet[i])
        return "".join(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer({len(self.alphabet)} characters + boundary {self.boundary!r})"
