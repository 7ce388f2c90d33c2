"""Importing edit-agent and the model libraries it uses contacts no model hub."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import socket
hosts = []
def no_network(host, *args, **kwargs):
    hosts.append(host)
    raise OSError("no network in this test")
socket.getaddrinfo = no_network
import edit_agent
import diffusers, peft, bitsandbytes  # diffusers imports peft, and peft bitsandbytes
from huggingface_hub import constants
import importlib.resources
print(sorted(set(hosts)), constants.HF_HUB_OFFLINE, type(bitsandbytes.__loader__).__name__,
      any(importlib.resources.files("bitsandbytes").iterdir()))
"""


def test_importing_the_model_libraries_contacts_no_hub_even_online():
    # bitsandbytes asks the Hub for a CPU kernel when imported on CPUs with AVX512-BF16; on others this
    # test passes either way. The offline switches are removed: a user's shell does not set them.
    environment = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    # no host looked up, the user's online setting is back, and the package's own loader reads its files
    assert result.stdout.strip() == "[] False SourceFileLoader True"
    assert "kernels-community" not in result.stderr


def test_the_world_lm_training_script_contacts_no_hub_either():
    # It imports transformers' trainer utilities, which import bitsandbytes: after edit_agent, not before.
    environment = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    result = subprocess.run([sys.executable, "scripts/train_world_lm.py", "--help"], env=environment, capture_output=True,
                            text=True, timeout=600, check=False, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0 and "kernels-community" not in result.stderr, result.stderr
