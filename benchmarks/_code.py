"""What a benchmark record was made with, so that stored records can be reused safely.

The quality benchmarks keep each finished run in ``results/raw/``. A record stays valid
while the code that produced it is unchanged: for hyperdial, its source; for a competitor,
its release. A rerun after a change to hyperdial then repeats only hyperdial's runs.
"""

from __future__ import annotations

import ast
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


def _code_only(path: Path) -> str:
    """Return a module's syntax tree without docstrings (comments are not in it)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@cache
def hyperdial_source() -> str:
    """Return ``"hyperdial code <digest>"`` over every module of the installed package.

    Docstrings and comments are left out, so editing documentation keeps stored runs valid.
    """
    import hyperdial

    sha = hashlib.sha256()
    for path in sorted(Path(hyperdial.__file__).parent.rglob("*.py")):
        sha.update(f"{path.name}\0{_code_only(path)}\0".encode())
    return f"hyperdial code {sha.hexdigest()[:12]}"


def release(package: str) -> str:
    """Return ``"<package> <version>"`` for an installed distribution."""
    return f"{package} {importlib.metadata.version(package)}"
