"""What a benchmark record was made with, so that stored records can be reused safely.

The quality benchmarks keep each finished run in ``results/raw/``. A record stays valid
while the code that produced it is unchanged: for hyperdial, its source; for a competitor,
its release. A rerun after a change to hyperdial then repeats only hyperdial's runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

__all__ = ["digest", "hyperdial_source", "release"]


def digest(paths: Iterable[Path]) -> str:
    """Return a short digest of the files' contents, in the order given."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()[:12]


@cache
def hyperdial_source() -> str:
    """Return ``"hyperdial source <digest>"`` over every module of the installed package."""
    import hyperdial

    return f"hyperdial source {digest(sorted(Path(hyperdial.__file__).parent.rglob('*.py')))}"


def release(package: str) -> str:
    """Return ``"<package> <version>"`` for an installed distribution."""
    return f"{package} {importlib.metadata.version(package)}"
