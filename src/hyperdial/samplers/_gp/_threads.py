"""Run the GP's linear algebra on one BLAS thread.

The matrices here are small (a few hundred rows). A multi-threaded BLAS gains little on
them, and when the cores are busy, as they are while other workers train models, its
threads wait on each other: a 300 x 300 Cholesky solve then takes tens of milliseconds
instead of one. ``threadpoolctl`` (installed with scikit-learn) sets the limit for the
duration of a proposal; without it the BLAS defaults are kept.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_threaded_blas"]

_lock = threading.Lock()
_controller: Any = None
_unavailable = False


def _get_controller() -> Any:
    global _controller, _unavailable
    with _lock:
        if _controller is None and not _unavailable:
            try:
                import scipy.linalg  # noqa: F401 - load scipy's BLAS before inspecting

                threadpoolctl = importlib.import_module("threadpoolctl")
            except ImportError:
                _unavailable = True
            else:
                _controller = threadpoolctl.ThreadpoolController()
        return _controller


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS libraries to one thread inside the block, where threadpoolctl exists."""
    controller = _get_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield
