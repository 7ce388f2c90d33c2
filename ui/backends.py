"""Which backends this machine can run, and one shared instance of each.

A backend class may define ``availability()`` (a static or class method) returning ``None`` when
it can run here, or a short reason when it cannot. Without it the checks are: the module imports;
the constructor needs no object that only Python code can build; a ``default_model`` is in the
local Hugging Face cache and, for an editor whose model is too large for a CPU (``needs_gpu``),
there is a CUDA GPU; a default that names another registered editor (a hybrid's generative part)
is itself available.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any

from edit_agent.backends import EDITORS, REASONERS, SUMMARIES, Kind, shared_editor, shared_is_built, shared_reasoner
from edit_agent.errors import EditAgentError
from edit_agent.protocols import Editor, Reasoner

TEST_ONLY = frozenset({"recording", "scripted"})
"""Fakes from ``edit_agent.testing``: offered in the settings only when the app is configured with one."""

def registry(kind: Kind) -> dict[str, str]:
    return REASONERS if kind == "reasoner" else EDITORS


CHILD_CHECK_SECONDS = 300
"""The longest the child that checks the backends may take (see :func:`check_in_background`)."""
_FOUND_BY_A_CHILD: dict[tuple[str, str, str], str | None] = {}
"""(kind, name, what it is registered as) -> the reason a child process found (see :func:`check_in_background`)."""
_CHILD_ANSWERED = threading.Event()
"""Clear while a child checks: a check asked for meanwhile (the settings of a page opened at once) waits for it."""
_CHILD_ANSWERED.set()


@cache
def unavailable_reason(kind: Kind, name: str) -> str | None:
    """``None`` if the backend can run here, else why not (checked once per process)."""
    target = registry(kind).get(name)
    if target is None:
        return "not registered"
    _CHILD_ANSWERED.wait(CHILD_CHECK_SECONDS)
    if (kind, name, target) in _FOUND_BY_A_CHILD:
        return _FOUND_BY_A_CHILD[(kind, name, target)]
    module_name, _, attribute = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        return f"missing package {error.name or error}"
    except Exception as error:  # a backend that cannot even import must not take the app down
        return f"cannot load: {type(error).__name__}: {error}"
    check = getattr(factory, "availability", None)
    if callable(check):
        try:
            return check()
        except Exception as error:
            return f"availability check failed: {error}"
    return _required_object(factory) or _model_reason(kind, factory) or _delegate_reason(factory)


def _parameters(factory: Any) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return []


def _required_object(factory: Any) -> str | None:
    for parameter in _parameters(factory):
        if parameter.default is inspect.Parameter.empty and parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY,
        ):
            return f"needs a {parameter.name} object (build it in Python)"
    return None


def _model_reason(kind: Kind, factory: Any) -> str | None:
    model = getattr(factory, "default_model", None)
    if not isinstance(model, str):
        return _offline_default_reason(factory)
    from huggingface_hub import try_to_load_from_cache

    if not any(isinstance(try_to_load_from_cache(model, probe), str) for probe in ("model_index.json", "config.json")):
        return f"weights of {model} are not in the local cache"
    import torch

    if kind == "editor" and getattr(factory, "needs_gpu", True) and not torch.cuda.is_available():
        return "needs a CUDA GPU"
    return None


def _offline_default_reason(factory: Any) -> str | None:
    """Why a backend's offline default model (a file inside a PyPI wheel) is missing, or None."""
    locate = getattr(factory, "offline_default", None)
    if not callable(locate):
        return None
    try:
        locate()
    except EditAgentError as error:
        return str(error)
    return None


def _delegate_reason(factory: Any) -> str | None:
    for parameter in _parameters(factory):
        if isinstance(parameter.default, str) and parameter.default in EDITORS:
            reason = unavailable_reason("editor", parameter.default)
            if reason is not None:
                return f"uses {parameter.default} ({reason})"
    return None


_checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backend-check")


def check_in_background() -> Future[None]:
    """Check every backend in a worker thread: importing model libraries takes seconds, so the
    app starts serving first and the settings panel fills in when the checks are done.

    The imports happen in a child process at low priority: in the server they took about 8 CPU-seconds from the
    first turns and kept some 400 MB of model libraries that no session might use. A backend is imported here
    when it is picked; where the child fails, the checks run here as before."""
    def check_all() -> None:
        entries = [(kind, name, target) for kind in ("reasoner", "editor") for name, target in registry(kind).items()]
        try:
            _FOUND_BY_A_CHILD.update(_reasons_from_a_child(entries))
        finally:
            _CHILD_ANSWERED.set()
        for kind, name, _ in entries:
            unavailable_reason(kind, name)

    _CHILD_ANSWERED.clear()
    return _checker.submit(check_all)


_ANSWER_MARK = "edit-agent backend reasons: "
"""Begins the child's answer, its last line: a backend may print on import too."""


def _reasons_from_a_child(entries: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str | None]:
    """What a child found for each entry. A backend it could not import at all (one made in the server's own
    Python, say) is left out, to be checked here."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    try:  # -P: the working directory first on the path could hold another "ui"
        done = subprocess.run([sys.executable, "-P", "-m", "ui.backends"], input=json.dumps(entries),
                              capture_output=True, text=True, env=environment, timeout=CHILD_CHECK_SECONDS, check=True)
        answer = done.stdout.rstrip("\n").rpartition("\n")[2]
        reasons = json.loads(answer.removeprefix(_ANSWER_MARK)) if answer.startswith(_ANSWER_MARK) else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    if not isinstance(reasons, list) or len(reasons) != len(entries):
        return {}
    return {tuple(entry): reason for entry, reason in zip(entries, reasons, strict=True)  # type: ignore[misc]
            if not (isinstance(reason, str) and reason.startswith(("missing package", "cannot load")))}


def _check_what_the_parent_registered() -> None:
    """The child's side: the registry entries on standard input, a reason (or null) for each as its last line."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # the server's turns come first
    entries = json.load(sys.stdin)
    for kind, name, target in entries:
        registry(kind)[name] = target  # the server's registrations, made in Python before it started, included
    answer, sys.stdout = sys.stdout, sys.stderr  # what a backend prints on import is not the answer
    reasons = [unavailable_reason(kind, name) for kind, name, _ in entries]
    answer.write(f"\n{_ANSWER_MARK}{json.dumps(reasons)}\n")


if __name__ == "__main__":
    _check_what_the_parent_registered()


def choices(kind: Kind, configured: str, *, loaded: bool = False) -> tuple[list[str], dict[str, str]]:
    """(available names, {unavailable name: reason}) for the settings panel. ``loaded``: the configured
    backend was built with its own options (a model folder) when the app started, so it runs here
    whatever its default model would need."""
    available: list[str] = []
    unavailable: dict[str, str] = {}
    for name in registry(kind):
        if name in TEST_ONLY and name != configured:
            continue
        reason = None if loaded and name == configured else unavailable_reason(kind, name)
        if reason is None:
            available.append(name)
        else:
            unavailable[name] = reason
    return available, unavailable


def reasoner(name: str, **options: Any) -> Reasoner:
    """The process's one instance of a reasoner (with these options): models load once, not per request."""
    return shared_reasoner(name, **options)


def is_loaded(kind: Kind, name: str, **options: Any) -> bool:
    """Whether the process's instance of a backend is built already (its model loaded)."""
    return shared_is_built(kind, name, **options)


def editor(name: str, **options: Any) -> Editor:
    """The process's one instance of an editor (with these options)."""
    return shared_editor(name, **options)


def labelled(kind: Kind, names: list[str], models: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """Radio choices ``(label, name)``: each name with what it does, and the model it was configured with."""
    models = models or {}

    def label(name: str) -> str:
        text = f"{name} — {SUMMARIES[kind][name]}" if name in SUMMARIES[kind] else name
        return f"{text} [model: {models[name]}]" if models.get(name) else text

    return [(label(name), name) for name in names]
