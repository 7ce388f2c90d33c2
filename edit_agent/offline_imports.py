"""No import fetches code from a model hub.

bitsandbytes (imported by peft, which diffusers imports whenever it is installed) asks the Hugging Face
Hub for a compiled CPU kernel (``kernels-community/quantization-bitsandbytes``) at import time on CPUs
with AVX512-BF16, even when nothing is quantized. edit-agent downloads nothing it was not asked to, so
its first import of bitsandbytes runs with the Hub switched off: bitsandbytes then uses its own CPU
code, and the NF4 paths that matter (CUDA) are unchanged.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Iterator
from types import ModuleType

GUARDED = "bitsandbytes"


@contextlib.contextmanager
def hub_switched_off() -> Iterator[None]:
    """huggingface_hub in offline mode for the duration (it reads the switch at each call), and the
    loggers that would report the kernel it did not fetch quiet. The switch is the process's: a download
    another thread starts during those seconds of import is refused too (and says the Hub is offline)."""
    from huggingface_hub import constants

    loggers = [logging.getLogger(name) for name in ("bitsandbytes", "kernels")]
    saved = constants.HF_HUB_OFFLINE, [logger.level for logger in loggers]
    constants.HF_HUB_OFFLINE = True
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved[0]
        for logger, level in zip(loggers, saved[1], strict=True):
            logger.setLevel(level)


class _OfflineLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The real loader goes back on the module, so that importlib.resources and pkgutil see its files.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with hub_switched_off():
            self.loader.exec_module(module)


class _OfflineImportFinder(importlib.abc.MetaPathFinder):
    """Finds bitsandbytes as usual, and loads it (its submodules too) with the Hub switched off."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name != GUARDED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _OfflineLoader(spec.loader)
        return spec


def keep_imports_off_the_hub() -> None:
    """Install the finder (once), unless bitsandbytes is already imported."""
    if GUARDED not in sys.modules and not any(isinstance(f, _OfflineImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _OfflineImportFinder())
