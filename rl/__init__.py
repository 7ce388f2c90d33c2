"""Joint text+image RL for multi-turn editing (Edit-R2): pure functions first, a thin trainer second."""
