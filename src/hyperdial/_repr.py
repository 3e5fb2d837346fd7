"""scikit-learn style ``repr`` for objects that store their constructor arguments."""

from __future__ import annotations

import inspect

__all__ = ["constructor_repr"]


def constructor_repr(obj: object) -> str:
    """Return ``ClassName(arg=value, ...)`` from the constructor arguments ``obj`` stores."""
    params = inspect.signature(type(obj).__init__).parameters
    shown = [
        f"{name}={getattr(obj, name)!r}"
        for name, param in params.items()
        if name != "self"
        and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
        and hasattr(obj, name)
    ]
    return f"{type(obj).__name__}({', '.join(shown)})"
