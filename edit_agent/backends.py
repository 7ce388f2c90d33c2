"""Backends by name. Imports are lazy so that naming a light backend never loads torch or diffusers.

Each entry maps a name (what ``--reasoner``/``--editor`` and ``EditSession(reasoner=...)`` take) to
``"module:factory"``; the factory is called with the keyword options given by the caller.

A backend built from a name remembers its options (:func:`build_options`), so a session can record
them and rebuild the same model when it is reopened; :func:`shared_reasoner`/:func:`shared_editor`
give the process's one instance for a name and options, so models load once, not per session.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import threading
import weakref
from pathlib import Path
from typing import Any, Literal

from edit_agent.errors import InvalidArgumentError, UnknownBackendError
from edit_agent.protocols import Editor, Reasoner

REASONERS: dict[str, str] = {
    "rules": "edit_agent.reasoners.rules:RuleReasoner",
    "auto": "edit_agent.reasoners.auto:AutoReasoner",
    "world-lm": "edit_agent.reasoners.world_lm:WorldLMReasoner",
    "passthrough": "edit_agent.reasoners.passthrough:PassthroughReasoner",
    "scripted": "edit_agent.testing:ScriptedReasoner",
    "llm": "edit_agent.reasoners.llm:LLMReasoner",
    "vlm": "edit_agent.reasoners.vlm:VLMReasoner",
    "langchain": "edit_agent.reasoners.langchain:LangChainReasoner",
}

EDITORS: dict[str, str] = {
    "auto": "edit_agent.editors.auto:AutoEditor",
    "exact": "edit_agent.editors.exact:ExactEditor",
    "world": "edit_agent.editors.world:WorldEditor",
    "program": "edit_agent.editors.program:ProgramEditor",
    "identity": "edit_agent.editors.identity:IdentityEditor",
    "recording": "edit_agent.testing:RecordingEditor",
    "qwen-image-edit": "edit_agent.editors.qwen_image_edit:QwenImageEditEditor",
    "flux-kontext": "edit_agent.editors.flux_kontext:FluxKontextEditor",
    "instruct-pix2pix": "edit_agent.editors.instruct_pix2pix:InstructPix2PixEditor",
    "hybrid": "edit_agent.editors.hybrid:HybridEditor",
}

Kind = Literal["reasoner", "editor"]

SUMMARIES: dict[Kind, dict[str, str]] = {
    "reasoner": {
        "rules": "exact photo operations and MICE-World language",
        "auto": "the trained world model on MICE-World canvases, rules elsewhere",
        "world-lm": "the project's small trained model; MICE-World canvases only",
        "passthrough": "baseline: the raw instruction, no history",
        "llm": "a chat language model (offline: SmolLM2-135M, often falls back to the raw text)",
        "vlm": "an image-text model that also sees the image",
        "langchain": "any langchain chat model (set up in Python)",
    },
    "editor": {
        "auto": "the world editor on MICE-World canvases, exact operations on photos",
        "exact": "lossless photo operations (rotate, crop, colour...)",
        "world": "the project's trained MICE-World editor",
        "program": "MICE-World upper bound: redraws the scene exactly",
        "identity": "baseline: returns the image unchanged",
        "hybrid": "exact operations when possible, a generative editor otherwise",
        "qwen-image-edit": "generative (Qwen-Image-Edit)",
        "flux-kontext": "generative (FLUX.1 Kontext)",
        "instruct-pix2pix": "generative (InstructPix2Pix)",
    },
}
"""What each backend does, in one line (the app's settings, the agent tools' description), so that a
baseline is never mistaken for an editor."""
GENERATIVE_EDITORS = frozenset({"hybrid", "qwen-image-edit", "flux-kontext", "instruct-pix2pix"})
"""The editors that can make an edit that is no exact operation ("add snow on the roof")."""

DEFAULT_REASONER = "rules"
DEFAULT_EDITOR = "auto"

_options_of: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_shared: dict[tuple[Kind, str, str], Any] = {}
_shared_locks: dict[tuple[Kind, str, str], threading.Lock] = {}
_shared_locks_lock = threading.Lock()


def make_reasoner(spec: str | Reasoner | None = None, **options: Any) -> Reasoner:
    """Build a reasoner from a registered name, or pass an object through (``None``: the default)."""
    return _make(spec if spec is not None else DEFAULT_REASONER, REASONERS, "reasoner", options)


def make_editor(spec: str | Editor | None = None, **options: Any) -> Editor:
    """Build an editor from a registered name, or pass an object through (``None``: the default)."""
    return _make(spec if spec is not None else DEFAULT_EDITOR, EDITORS, "editor", options)


def check_backend_name(spec: object, kind: str) -> None:
    """Raise :class:`UnknownBackendError` now for a name that :func:`make_reasoner`/:func:`make_editor`
    would not know later (``kind`` is "reasoner" or "editor")."""
    table = REASONERS if kind == "reasoner" else EDITORS
    protocol = Reasoner if kind == "reasoner" else Editor
    if spec is None:
        return
    if isinstance(spec, str):
        if spec not in table:
            raise UnknownBackendError(f"Unknown {kind} {spec!r}; choose one of: {', '.join(sorted(table))}.")
    elif not isinstance(spec, protocol):
        raise UnknownBackendError(
            f"{type(spec).__name__} is not {'an' if kind == 'editor' else 'a'} {kind}: it must have a `name` and the {kind} methods "
            f"({'reconstruct' if kind == 'reasoner' else 'edit and info'})."
        )


def _make(spec: Any, table: dict[str, str], kind: str, options: dict[str, Any]) -> Any:
    check_backend_name(spec, kind)
    if not isinstance(spec, str):
        return spec
    target = table[spec]
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    _check_options(factory, spec, kind, options)
    built = factory(**options)
    recordable = _recordable(options)
    if recordable and len(recordable) == len(options):  # a Python object among them: not rebuildable
        with contextlib.suppress(TypeError):  # an object without weak references: nothing to record
            _options_of[built] = recordable
    return built


def build_options(backend: object) -> dict[str, Any]:
    """The keyword options ``backend`` was built with by name, as plain JSON values (local paths made
    absolute); ``{}`` for the defaults, an object built elsewhere, or options that are Python objects."""
    try:
        return dict(_options_of.get(backend, {}))
    except TypeError:
        return {}


def shared_reasoner(name: str, **options: Any) -> Reasoner:
    """The process's one instance of the reasoner ``name`` with these options: its model loads once."""
    return _shared_backend("reasoner", name, options)


def shared_editor(name: str, **options: Any) -> Editor:
    """The process's one instance of the editor ``name`` with these options."""
    return _shared_backend("editor", name, options)


def _shared_backend(kind: Kind, name: str, options: dict[str, Any]) -> Any:
    check_backend_name(name, kind)
    key = _shared_key(kind, name, options)
    if key is None:  # options that are Python objects: not the same backend twice
        return _make(name, REASONERS if kind == "reasoner" else EDITORS, kind, options)
    # One lock per backend: two first requests must not load its weights twice, and one that is
    # loading must not hold up requests for the others (built ones answer at once).
    with _shared_locks_lock:
        lock = _shared_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _shared:  # a failed build is not kept: the next request tries again
            _shared[key] = _make(name, REASONERS if kind == "reasoner" else EDITORS, kind, options)
        return _shared[key]


def shared_is_built(kind: Kind, name: str, **options: Any) -> bool:
    """Whether the process's one instance of this backend is built already: its model loaded, so asking for it
    answers at once."""
    key = _shared_key(kind, name, options)
    return key is not None and key in _shared


def _shared_key(kind: Kind, name: str, options: dict[str, Any]) -> tuple[Kind, str, str] | None:
    """Which shared instance these options name; ``None`` where an option is a Python object (never shared)."""
    recordable = _recordable(options)
    return (kind, name, json.dumps(recordable, sort_keys=True)) if len(recordable) == len(options) else None


def forget_shared(kind: Kind, name: str) -> None:
    """Drop the shared instances of one backend (all options), e.g. after its registration changed."""
    for key in [key for key in _shared if key[:2] == (kind, name)]:
        del _shared[key]


_PATH_OPTIONS = frozenset({"model", "lora"})
"""Options that may name a local folder or file (else a model id)."""


def _recordable(options: dict[str, Any]) -> dict[str, Any]:
    """The options that are plain values (text, numbers, switches, paths); a local model or adapter path
    is made absolute, so that a session reopened from another folder finds it."""
    plain: dict[str, Any] = {}
    for key, value in options.items():
        names_a_path = isinstance(value, Path) or (key in _PATH_OPTIONS and isinstance(value, str) and value)
        if names_a_path and Path(value).expanduser().exists():
            plain[key] = str(Path(value).expanduser().resolve())
        elif isinstance(value, Path):
            plain[key] = str(value)
        elif value is None or isinstance(value, bool | int | float | str):
            plain[key] = value
    return plain


def _check_options(factory: Any, name: str, kind: str, options: dict[str, Any]) -> None:
    """One clear error for an option the backend does not take (``--model`` for the exact editor, say) or
    one it cannot do without (``langchain`` needs a chat model object)."""
    parameters = inspect.signature(factory).parameters
    required = [key for key, parameter in parameters.items()
                if parameter.default is inspect.Parameter.empty
                and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    missing = [key for key in required if key not in options]
    if missing:
        raise InvalidArgumentError(
            f"The {kind} {name!r} needs {', '.join(missing)}, so its name alone cannot build it: pass an object "
            f"(e.g. EditSession({kind}=...)) built in Python."
        )
    accepted = _accepted_options(factory)
    if accepted is None:  # a **options that goes nowhere we can see
        return
    unknown = sorted(set(options) - accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no options"
        raise InvalidArgumentError(f"The {kind} {name!r} does not take {', '.join(unknown)} (it takes: {takes}).")


def _accepted_options(factory: Any) -> set[str] | None:
    """The keyword options a factory takes, following a class's ``**options`` to the base classes it passes
    them to (the diffusers editors, the world LM); None when they lead somewhere else."""
    accepted: set[str] = set()
    if inspect.isclass(factory):  # the __init__ each class defines, most derived first
        callables = [cls.__dict__["__init__"] for cls in inspect.getmro(factory)
                     if cls is not object and "__init__" in cls.__dict__]
    else:
        callables = [factory]
    for function in callables:
        signature = inspect.signature(function).parameters
        accepted |= {key for key, parameter in signature.items() if key != "self" and parameter.kind not in
                     (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
        if not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in signature.values()):
            return accepted
    return None if callables else accepted
