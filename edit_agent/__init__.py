"""edit-agent: multi-turn, context-aware image editing.

>>> from edit_agent import EditSession
>>> from PIL import Image
>>> session = EditSession(store=getfixture("tmp_path"))
>>> session.edit(Image.new("RGB", (40, 30)), "flip it vertically and make it warmer").intent
'Flip the image vertically, then make the image warmer by 20%.'
"""

__version__ = "0.1.0"

from edit_agent.offline_imports import keep_imports_off_the_hub

keep_imports_off_the_hub()  # before anything imports diffusers, peft or bitsandbytes

from edit_agent.errors import EditAgentError  # noqa: E402
from edit_agent.records import EditResult  # noqa: E402
from edit_agent.session import EditSession  # noqa: E402

__all__ = ["EditAgentError", "EditResult", "EditSession", "__version__"]
