"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run on one torch thread, then restore the count: tiny models run fastest on one thread, and on a
    busy machine extra threads only wait on each other (the RL trainer also sets the count itself)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_lm_folder(tmp_path):
    """A tiny random chat model saved to a folder, as a user's own model would be."""
    from tests import model_fixtures

    model, tokenizer = model_fixtures.tiny_chat_lm()
    folder = tmp_path / "my-lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
