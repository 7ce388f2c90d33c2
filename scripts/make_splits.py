"""Regenerate the standard MICE-World splits and print the checksums to pin in evals/splits/__init__.py.

    python scripts/make_splits.py
"""

from __future__ import annotations

import argparse

from evals.splits import SPLITS, file_checksum, split_path, split_text


def main() -> None:
    for name in SPLITS:
        path = split_path(name)
        path.write_text(split_text(name), encoding="utf-8")
        print(f'    "{name}": "{file_checksum(path)}",')


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, and no stray arguments
    main()
