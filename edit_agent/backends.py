"""Backends by name. Imports are lazy so that naming a light backend never loads torch or diffusers.

Each entry maps a name (what ``--reasoner``/``--editor`` and ``EditSession(reasoner=...)`` take) to
``"module:factory"``; the factory is called with the keyword options given by the caller.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

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

DEFAULT_REASONER = "rules"
DEFAULT_EDITOR = "auto"


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
            f"{type(spec).__name__} is not a {kind}: it must have a `name` and the {kind} methods."
        )


def _make(spec: Any, table: dict[str, str], kind: str, options: dict[str, Any]) -> Any:
    check_backend_name(spec, kind)
    if not isinstance(spec, str):
        return spec
    target = table[spec]
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    _check_options(factory, spec, kind, options)
    return factory(**options)


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
