"""Word-level tokenizer over the MICE-World vocabulary (the self-contained intents the reasoner writes).

>>> tok = WorldTokenizer()
>>> ids, mask = tok(["Recolor the small red circle at the top left to blue."])
>>> tok.decode(ids[0][mask[0]].tolist())
'recolor the small red circle at the top left to blue .'
>>> tok.decode(tok(["Paint the zebra."])[0][0].tolist())
'paint the <unk> .'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from edit_agent.world.scene import BACKGROUNDS, COLORS, SHAPES, SIZES

PAD, UNK = "<pad>", "<unk>"
FUNCTION_WORDS: tuple[str, ...] = (
    ".", ",", "a", "an", "the", "at", "to", "into", "of", "and", "in", "with", "its", "it", "no", "change",
    "add", "remove", "delete", "recolor", "move", "turn", "make", "paint", "resize", "reshape", "replace",
    "background", "shape", "shapes", "object", "every", "all", "new", "must", "be", "from", "now", "on",
    "top", "middle", "bottom", "left", "center", "right", "up", "down", "one", "step", "cell", "big", "color",
    "colour", "size", "original", "back", "start", "leave", "unchanged", "undo", "restore", "enlarge", "shrink",
)
WORLD_VOCABULARY: tuple[str, ...] = (PAD, UNK) + FUNCTION_WORDS + COLORS + BACKGROUNDS + SHAPES + SIZES
"""Every word the tokenizer knows; any other word becomes ``<unk>``. Saved with the weights."""

_WORD = re.compile(r"[a-z]+|[.,]")


class WorldTokenizer:
    """Lower-cases, splits into words and ``.``/``,``, maps each to an id; pads a batch to its longest text."""

    def __init__(self, vocabulary: Sequence[str] = WORLD_VOCABULARY, max_tokens: int = 64) -> None:
        self.vocabulary = tuple(dict.fromkeys(vocabulary))
        if self.vocabulary[:2] != (PAD, UNK):
            raise ValueError(f"the vocabulary must start with {PAD!r} and {UNK!r}")
        self.max_tokens = max_tokens
        self._ids = {word: i for i, word in enumerate(self.vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, cut to ``max_tokens`` (intents are far shorter)."""
        words = _WORD.findall(text.lower().replace("-", " ")) or [UNK]
        return [self._ids.get(word, 1) for word in words][: self.max_tokens]

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, mask)``: long (B, L) ids padded with 0, and a bool (B, L) mask that is True on real tokens."""
        encoded = [self.encode(text) for text in texts]
        length = max(len(ids) for ids in encoded)
        ids = torch.zeros(len(encoded), length, dtype=torch.long)
        mask = torch.zeros(len(encoded), length, dtype=torch.bool)
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = True
        return ids, mask

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocabulary[i] for i in ids)
