"""edit-agent: multi-turn, context-aware image editing.

>>> from edit_agent import EditSession
>>> from PIL import Image
>>> session = EditSession(store=getfixture("tmp_path"))
>>> session.edit(Image.new("RGB", (40, 30)), "flip it vertically and make it warmer").intent
'Flip the image vertically, then make the image warmer by 20%.'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from edit_agent.offline_imports import keep_imports_off_the_hub

keep_imports_off_the_hub()  # before anything imports diffusers, peft or bitsandbytes

if TYPE_CHECKING:
    from edit_agent.errors import EditAgentError
    from edit_agent.records import EditResult
    from edit_agent.session import EditSession

# The session pulls in the store, images and backends (about half a second): loaded when first named, so that
# `edit-agent --help`, or a Ctrl-C as the program starts, does not wait for it.
_EXPORTED_FROM = {"EditAgentError": "edit_agent.errors", "EditResult": "edit_agent.records",
                  "EditSession": "edit_agent.session"}

__all__ = ["EditAgentError", "EditResult", "EditSession", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTED_FROM:
        value = getattr(importlib.import_module(_EXPORTED_FROM[name]), name)
        globals()[name] = value  # looked up once
        return value
    try:  # a submodule, as `edit_agent.errors` was reached when the session was imported with the package
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module 'edit_agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
