"""Errors a user can act on. Every failure that reaches a caller is one of these."""

from __future__ import annotations

import re
import unicodedata


class EditAgentError(Exception):
    """Base class of every error edit-agent raises on purpose."""


class InvalidImageError(EditAgentError, ValueError):
    """The image cannot be used: undecodable, of a rejected format, too large or too small."""


class InvalidInstructionError(EditAgentError, ValueError):
    """The instruction is empty, too long or of the wrong type."""


class UnsupportedInstructionError(InvalidInstructionError):
    """The chosen reasoner/editor cannot carry out this instruction (e.g. it needs a generative editor)."""


class NeedsGenerativeEditorError(UnsupportedInstructionError):
    """The instruction is no exact photo operation: only a generative editor could make it.

    ``what`` says what it is not ("'make the car red' is not an exact photo operation (...)"), so that a
    session whose editor is generative can say what to change instead (the reasoner).
    """

    def __init__(self, what: str, *, also: str = "") -> None:
        super().__init__(f"{what}; a generative editor is needed for it." + (f" {also}" if also else ""))
        self.what = what
        self.also = also
        """What else it may mean, and how to do that instead."""


class InvalidArgumentError(EditAgentError, ValueError):
    """Another argument (a seed, a session id, image limits, a folder) has the wrong type or value."""


class StoreError(EditAgentError, RuntimeError):
    """The store folder cannot be opened, or a file it needs is missing or damaged."""


class ImagesGoneError(StoreError):
    """Images an import or a turn was about to name are gone from the store: another session's deletion removed
    those they shared meanwhile. Nothing was stored; ``digests`` names them (the caller writes them again)."""

    def __init__(self, digests: list[str]) -> None:
        super().__init__(f"{len(digests)} image(s) were removed from the store by another session's deletion while "
                         "they were being saved; nothing was saved. Try again.")
        self.digests = digests


class UnknownSessionError(EditAgentError, KeyError):
    """No session with this id exists in the store."""

    def __str__(self) -> str:  # KeyError would print the repr with quotes
        return str(self.args[0]) if self.args else ""


class UnknownTurnError(EditAgentError, KeyError):
    """No turn with this id exists in the session."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownBackendError(EditAgentError, ValueError):
    """No reasoner or editor is registered under this name."""


class ModelUnavailableError(EditAgentError, RuntimeError):
    """The model's weights are not available (not cached, and the hub is unreachable or disabled)."""


class OutOfMemoryError(EditAgentError, RuntimeError):
    """The device ran out of memory during a turn; memory was freed and the session is unchanged."""


class ConcurrentEditError(EditAgentError, RuntimeError):
    """Another process changed the session while this turn or import ran (moved its head, started it,
    or stored the same ids); nothing was committed."""


class InvalidExportError(EditAgentError, ValueError):
    """A folder given to import is not a valid session export."""


def one_line(error: BaseException) -> str:
    """``error`` as one line for a message: pydantic's errors as "field: problem; ...", any other
    error's first line, or its type's name when it has no text."""
    errors = getattr(error, "errors", None)
    if callable(errors) and type(error).__name__ == "ValidationError":  # pydantic's, without importing it here
        # a check of the whole model has no field to name: its message says what it is about
        return "; ".join(f"{'.'.join(map(str, item['loc']))}: " * bool(item["loc"])
                         + item["msg"].removeprefix("Value error, ") for item in errors()[:3])
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".:") if text else type(error).__name__


def is_valid_text(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate): what SQLite, JSON and file names can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters other than tab and line breaks, which typed text does not hold, and the bidirectional
embeddings, overrides and isolates, which make shown text read otherwise than it is stored."""


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: spaces, line breaks and format characters (zero-width space, BOM) only."""
    return all(unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc", "Cf"} for char in text)


def quoted(text: str, most: int = 100) -> str:
    """``repr(text)``, with its middle left out when it is longer than ``most`` characters: a refusal that quotes a
    long instruction still reads as one line, and keeps its start and end.

    >>> quoted("make it " + "very " * 40 + "bright")
    "'make it very very very very very very very very very ve … ery very very very very very bright'"
    """
    if len(text) <= most:
        return repr(text)
    head, tail = text[: most * 11 // 20], text[-most * 7 // 20:]
    return repr(f"{head} … {tail}")
