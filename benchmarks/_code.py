"""What a benchmark record was made with, so that stored records can be reused safely.

The quality benchmarks keep each finished run in ``results/raw/``. A record stays valid
while the code that produced it is unchanged: for hyperdial, its source; for a competitor,
its release. A rerun after a change to hyperdial then repeats only hyperdial's runs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import platform
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["definition_digest", "digest", "hyperdial_source", "machine", "machines_line", "release"]


def digest(paths: Iterable[Path]) -> str:
    """Return a short digest of the files' contents, in the order given."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()[:12]


def _code_only(path: Path) -> str:
    """Return a module's syntax tree without docstrings (comments are not in it)."""
    return ast.dump(_syntax_tree(path))


def _syntax_tree(path: Path) -> ast.Module:
    """Return a module's syntax tree without docstrings."""
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
    return tree


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


def definition_digest(path: Path, is_root: Callable[[ast.AST], bool]) -> str:
    """Return a short digest of the module code a definition depends on, docs aside.

    The roots are the nodes of ``path`` for which ``is_root`` holds (a problem's entry in a
    table, say). To them are added, transitively, the module's top-level functions, classes
    and assignments whose names they use. An edit elsewhere in the module (another problem)
    leaves the digest alone; one to anything the roots call changes it.
    """
    tree = _syntax_tree(path)
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defined[name.id] = node
    pending = [node for node in ast.walk(tree) if is_root(node)]
    if not pending:
        raise ValueError(f"no definition in {path.name} matches {is_root!r}")
    seen: dict[int, ast.AST] = {}
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id in defined:
                pending.append(defined[name.id])
    # The roots (nested inside a table) first, then the definitions in file order.
    parts = sorted(seen.values(), key=lambda n: (getattr(n, "lineno", 0), ast.dump(n)))
    sha = hashlib.sha256()
    for node in parts:
        sha.update(ast.dump(node).encode() + b"\0")
    return sha.hexdigest()[:12]


@cache
def machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Return the machine a record is made on: CPU, core count and the BLAS kernels in use.

    Stored with each record (not in its key: a record stays valid on another machine). The
    same code and libraries can give other floating-point results on another CPU, and
    other timings, so the reports say where their records come from. Virtual machines often
    show only a vendor's family name ("AMD EPYC"), so the CPU's family and model numbers
    are added, and so is the kernel set OpenBLAS chose for it: hosts that pick different
    kernels (AVX-512 or not, say) round differently, and a Gaussian process's optimizer can
    turn that into a different run.
    """
    model, numbers = platform.processor(), {}
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                model = value
            elif key in ("cpu family", "model"):
                numbers.setdefault(key, value)
            elif not key:  # the first processor's block ends
                break
    except OSError:
        pass
    cpu = model or "unknown CPU"
    if len(numbers) == 2:
        cpu += f" (family {numbers['cpu family']}, model {numbers['model']})"
    return f"{platform.machine()}, {cpu}, {os.cpu_count()} cores{_blas_kernels()}"


def _blas_kernels() -> str:
    """Return ", OpenBLAS <architecture> kernels" for NumPy's BLAS, or "" if unknown."""
    import numpy  # noqa: F401  (loads the BLAS library that threadpoolctl inspects)
    from threadpoolctl import threadpool_info

    for library in threadpool_info():
        if library.get("internal_api") == "openblas" and library.get("architecture"):
            return f", OpenBLAS {library['architecture']} kernels"
    return ""


def machines_line(records: Iterable[dict[str, Any]]) -> str:
    """Return a report line naming the machines ``records`` were made on."""
    counts = Counter(str(r.get("machine") or "an unrecorded machine") for r in records)
    if len(counts) <= 1:
        return f"Runs made on one machine: {next(iter(counts), machine())}."
    listed = "; ".join(
        f"{name} ({n} run{'s' if n != 1 else ''})" for name, n in counts.most_common()
    )
    return (
        f"**Runs from {len(counts)} machines**: {listed}. Scores are comparable; times are "
        "not, and floating-point results may differ: rerun on one machine to compare."
    )
