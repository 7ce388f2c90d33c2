"""MICE-World: a small synthetic world whose every state is known exactly (docs/world.md).

Scenes render to pixels and parse back; a session's English instructions have one exact meaning,
computed by the interpreter; the generator makes seeded sessions with varied phrasing.
"""

from edit_agent.world.canvas import is_world_canvas
from edit_agent.world.generator import GeneratorConfig, generate_sessions, random_scene
from edit_agent.world.interpreter import (
    TurnOutcome,
    WorldInterpreter,
    apply_program,
    interpret,
)
from edit_agent.world.language import WorldLanguageError, parse_program, parse_turn
from edit_agent.world.parse import parse
from edit_agent.world.render import render
from edit_agent.world.scene import Scene, SceneObject
from edit_agent.world.sessions import (
    PhotoSession,
    SessionFileError,
    WorldSession,
    WorldTurn,
    complete,
    read_sessions,
    read_world_sessions,
    write_sessions,
)

__all__ = [
    "GeneratorConfig", "PhotoSession", "Scene", "SceneObject", "SessionFileError", "TurnOutcome", "WorldInterpreter",
    "WorldLanguageError", "WorldSession", "WorldTurn", "apply_program", "complete", "generate_sessions", "interpret",
    "is_world_canvas", "parse", "parse_program", "parse_turn", "random_scene", "read_sessions", "read_world_sessions",
    "render", "write_sessions",
]
