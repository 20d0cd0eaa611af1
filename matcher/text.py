"""Splitting texts into sentences, and sentences into passages that fit a model's window."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

# A sentence ends at . ! or ? followed by whitespace and an upper-case letter, digit or bracket;
# abbreviations common in the field (e.g., i.e., approx., vs., Dr.) do not end one.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")
_ABBREVIATIONS = ("e.g.", "i.e.", "approx.", "vs.", "Dr.", "et al.", "incl.", "no.", "Fig.", "ca.")


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, in order, without empty ones. Line breaks always end a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        pieces = _BOUNDARY.split(line.strip())
        buffer = ""
        for piece in pieces:
            buffer = f"{buffer} {piece}".strip() if buffer else piece.strip()
            if not buffer.endswith(_ABBREVIATIONS):
                sentences.append(buffer)
                buffer = ""
        if buffer:
            sentences.append(buffer)
    return [s for s in sentences if s]


def passages(text: str, max_words: int) -> list[str]:
    """Sentences of the text, with any sentence longer than `max_words` cut into windows.

    Windows overlap by a quarter so that no phrase is only ever seen cut in two. Nothing of the
    text is dropped: this is how texts longer than the model's window are chunked, not truncated.
    """
    if max_words < 4:
        raise ValueError("max_words must be at least 4")
    out: list[str] = []
    step = max_words - max_words // 4
    for sentence in split_sentences(text):
        words = sentence.split()
        if len(words) <= max_words:
            out.append(sentence)
            continue
        start = 0
        while True:
            out.append(" ".join(words[start : start + max_words]))
            if start + max_words >= len(words):
                break
            start += step
    return out


def chunks(
    text: str,
    max_words: int,
    size_of: Callable[[list[str]], list[int]] | None = None,
    window: int | None = None,
) -> list[str]:
    """Consecutive sentences packed into windows of at most `window` units (`size_of` measures
    sentences, by default in words; `window` defaults to `max_words`).

    A text that fits the window is one chunk, so it embeds exactly as a whole; a longer one is
    cut at sentence boundaries (and a sentence over `max_words` into overlapping windows).
    """
    pieces = passages(text, max_words)
    sizes = size_of(pieces) if size_of else [len(p.split()) for p in pieces]
    limit = window if window is not None else max_words
    out: list[str] = []
    current: list[str] = []
    size = 0
    for piece, n in zip(pieces, sizes, strict=True):
        if current and size + n > limit:
            out.append(" ".join(current))
            current, size = [], 0
        current.append(piece)
        size += n
    if current:
        out.append(" ".join(current))
    return out


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens (hyphenated terms such as 'car-t' stay whole)."""
    return _WORD.findall(text.lower())
