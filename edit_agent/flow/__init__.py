"""The world editor's model: a small conditional rectified-flow editor for MICE-World canvases.

- :mod:`edit_agent.flow.model`: :class:`FlowEditorModel` (velocity / x0 prediction, save/load) and its config.
- :mod:`edit_agent.flow.sampling`: the ODE sampler and the Flow-GRPO SDE step with log-probabilities.
- :mod:`edit_agent.flow.data`: training triples streamed from the world generator and interpreter.
- :mod:`edit_agent.flow.canvas`: resampling to the model canvas and palette snapping.
"""

from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
from edit_agent.flow.sampling import Trajectory, euler_step, sample, sde_log_prob, sde_mean, sde_sigma, sde_step, timesteps
from edit_agent.flow.tokenizer import WorldTokenizer

__all__ = [
    "FlowEditorConfig", "FlowEditorModel", "Trajectory", "WorldTokenizer", "euler_step", "sample", "sde_log_prob",
    "sde_mean", "sde_sigma", "sde_step", "timesteps",
]
