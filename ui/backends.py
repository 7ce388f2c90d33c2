"""Which backends this machine can run, and one shared instance of each.

A backend class may define ``availability()`` (a static or class method) returning ``None`` when
it can run here, or a short reason when it cannot ("needs a CUDA GPU", "weights not in the cache").
Without it, a backend counts as available when its module imports.
"""

from __future__ import annotations

import importlib
import threading
from functools import cache
from typing import Literal

from edit_agent.backends import EDITORS, REASONERS, make_editor, make_reasoner
from edit_agent.protocols import Editor, Reasoner

Kind = Literal["reasoner", "editor"]

TEST_ONLY = frozenset({"recording", "scripted"})
"""Fakes from ``edit_agent.testing``: offered in the settings only when the app is configured with one."""

_build_lock = threading.Lock()


def registry(kind: Kind) -> dict[str, str]:
    return REASONERS if kind == "reasoner" else EDITORS


@cache
def unavailable_reason(kind: Kind, name: str) -> str | None:
    """``None`` if the backend can run here, else why not (checked once per process)."""
    target = registry(kind).get(name)
    if target is None:
        return "not registered"
    module_name, _, attribute = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        return f"missing package {error.name or error}"
    except Exception as error:  # a backend that cannot even import must not take the app down
        return f"cannot load: {type(error).__name__}: {error}"
    check = getattr(factory, "availability", None)
    if not callable(check):
        return None
    try:
        return check()
    except Exception as error:
        return f"availability check failed: {error}"


def choices(kind: Kind, configured: str) -> tuple[list[str], dict[str, str]]:
    """(available names, {unavailable name: reason}) for the settings panel."""
    available: list[str] = []
    unavailable: dict[str, str] = {}
    for name in registry(kind):
        if name in TEST_ONLY and name != configured:
            continue
        reason = unavailable_reason(kind, name)
        if reason is None:
            available.append(name)
        else:
            unavailable[name] = reason
    return available, unavailable


def reasoner(name: str) -> Reasoner:
    """The process's one instance of a reasoner: models load once, not per request."""
    with _build_lock:  # two first requests must not load the same weights twice
        return _reasoner(name)


def editor(name: str) -> Editor:
    """The process's one instance of an editor."""
    with _build_lock:
        return _editor(name)


@cache
def _reasoner(name: str) -> Reasoner:
    return make_reasoner(name)


@cache
def _editor(name: str) -> Editor:
    return make_editor(name)
