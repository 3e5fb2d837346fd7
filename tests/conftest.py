"""Set-up shared by every test module."""

from __future__ import annotations

import signal


def pytest_configure() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # in every process started from them. The Ctrl-C tests send SIGINT to a study running in
    # a child process: restore the default handler, so that it arrives there as it would
    # from a terminal, wherever the suite is started from.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
