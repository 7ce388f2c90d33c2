"""edit-agent: multi-turn, context-aware image editing.

>>> from edit_agent import EditSession
>>> from PIL import Image
>>> session = EditSession(store=getfixture("tmp_path"))
>>> session.edit(Image.new("RGB", (40, 30)), "flip it vertically and make it warmer").intent
'Flip the image vertically, then make the image warmer by 20%.'
"""

__version__ = "0.1.0"

from edit_agent.errors import EditAgentError
from edit_agent.records import EditResult
from edit_agent.session import EditSession

__all__ = ["EditAgentError", "EditResult", "EditSession", "__version__"]
