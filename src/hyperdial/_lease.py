"""Leases: a RUNNING trial stays its worker's only while the worker keeps renewing it.

A trial started by ``ask`` on a shared storage holds a lease that ends ``grace_period``
seconds later by the storage's clock. A keeper renews it every ``heartbeat_interval``
seconds until the trial is told. The keeper is a separate process, so that renewal goes on
while the objective holds the CPU or the GIL (a long NumPy or C call); it exits when the
worker that started it dies, and the lease then runs out. Any worker of the study that
finds an ended lease fails the trial as stale and, within the study's retries, queues a
new trial with the same parameters.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hyperdial.exceptions import InvalidValueError

if TYPE_CHECKING:
    from hyperdial.storage import Storage

__all__ = [
    "LEASE_OPTIONS_ATTR",
    "STALE_REASON",
    "LeaseHolder",
    "LeaseKeeper",
    "LeaseOptions",
]

_logger = logging.getLogger("hyperdial")

#: Study system attribute holding the lease options the study was created with.
LEASE_OPTIONS_ATTR = "hyperdial:leases"

#: Why a trial whose lease ran out failed.
STALE_REASON = (
    "stale: its lease expired, so its worker is taken to be dead (killed, out of memory, "
    "pre-empted or cut off from the storage)"
)

# How often a keeper checks that the process it serves is still alive.
_PARENT_CHECK_S = 0.5


def _check_seconds(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidValueError(f"{name} must be a number of seconds > 0. Got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class LeaseOptions:
    """How a study's trials hold their leases.

    Attributes:
        heartbeat_interval: Seconds between two renewals of a running trial's lease.
        grace_period: Seconds a lease lasts from its last renewal; a trial whose worker
            has not renewed it for this long is failed as stale.
        retries: How many times a stale trial is queued again with the same parameters.

    Example:
        >>> LeaseOptions(heartbeat_interval=5, grace_period=30, retries=2).grace_period
        30
    """

    heartbeat_interval: float = 10.0
    grace_period: float = 60.0
    retries: int = 1

    def __post_init__(self) -> None:
        interval = _check_seconds("heartbeat_interval", self.heartbeat_interval)
        grace = _check_seconds("grace_period", self.grace_period)
        if grace <= interval:
            raise InvalidValueError(
                f"grace_period must be longer than heartbeat_interval, or leases would run out "
                f"between two renewals. Got grace_period={self.grace_period!r} and "
                f"heartbeat_interval={self.heartbeat_interval!r}; a grace period of three or "
                "more intervals tolerates a slow storage."
            )
        retries = self.retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidValueError(
                f"retries must be an integer >= 0 (0 never retries a stale trial). Got {retries!r}."
            )

    def replace(
        self,
        *,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        retries: int | None = None,
    ) -> LeaseOptions:
        """Return a copy with the given options changed (None keeps the current one)."""
        return LeaseOptions(
            heartbeat_interval=self.heartbeat_interval
            if heartbeat_interval is None
            else heartbeat_interval,
            grace_period=self.grace_period if grace_period is None else grace_period,
            retries=self.retries if retries is None else retries,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the options as a JSON-ready dict."""
        return {
            "heartbeat_interval": self.heartbeat_interval,
            "grace_period": self.grace_period,
            "retries": self.retries,
        }

    @classmethod
    def from_json(cls, data: Any) -> LeaseOptions:
        """Return options stored by :meth:`to_json`; defaults for anything missing."""
        if not isinstance(data, dict):
            return cls()
        return cls().replace(
            heartbeat_interval=data.get("heartbeat_interval"),
            grace_period=data.get("grace_period"),
            retries=data.get("retries"),
        )


class LeaseHolder(Protocol):
    """Whatever renews the leases of the trials a process runs."""

    def hold(self, trial_id: int) -> None:
        """Start renewing the lease of a trial this process has started."""

    def release(self, trial_id: int) -> None:
        """Stop renewing it: the trial has finished."""


class LeaseKeeper:
    """Renews the leases of this process's trials from a separate keeper process.

    The keeper is forked at the first trial, which costs a few milliseconds, and stays
    idle while trials are shorter than half a heartbeat interval. When a lease will soon
    need renewing it replaces itself (exec) with a fresh interpreter that imports only the
    storage: a forked child must not open its own SQLite connections, as it would share
    SQLite's in-process lock bookkeeping with this process. It exits when this process
    closes it or dies, however it dies, so the leases then run out. Where fork is missing,
    the fresh interpreter is started at once.

    Args:
        storage: The storage the trials live in (it must pickle, as shared storages do).
        options: How often to renew and for how long.
    """

    def __init__(self, storage: Storage, options: LeaseOptions) -> None:
        self.owner_pid = os.getpid()
        self._lock = threading.Lock()
        config = pickle.dumps(
            (storage, options.heartbeat_interval, options.grace_period, os.getpid())
        ).hex()
        read_fd, self._write_fd = os.pipe()
        os.set_inheritable(read_fd, True)
        self._process: subprocess.Popen[bytes] | None = None
        if hasattr(os, "fork"):
            pid = os.fork()
            if pid == 0:  # the keeper
                try:
                    os.close(self._write_fd)
                    _wait_then_exec(read_fd, config, options.heartbeat_interval, self.owner_pid)
                finally:
                    os._exit(0)
        else:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(read_fd), config, ""],
                pass_fds=(read_fd,),
            )
            pid = self._process.pid
        #: The keeper's process id.
        self.pid = pid
        os.close(read_fd)

    def hold(self, trial_id: int) -> None:
        self._send(b"h %d\n" % trial_id)

    def release(self, trial_id: int) -> None:
        self._send(b"r %d\n" % trial_id)

    def _send(self, data: bytes) -> None:
        try:
            with self._lock:
                os.write(self._write_fd, data)
        except OSError:
            # The keeper is gone (killed from outside): the lease runs out and another
            # worker retries the trial. Nothing here can bring it back.
            _logger.warning("The lease keeper process is gone; running trials may go stale.")

    def close(self) -> None:
        """Stop the keeper; the leases it held run out unless the trials finish first."""
        with self._lock, contextlib.suppress(OSError):
            os.close(self._write_fd)
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            return
        _reap(self.pid)


def _reap(pid: int, timeout: float = 5.0) -> None:
    """Wait for a child to exit (it will, having lost its pipe), killing it if it hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _read_messages(fd: int, pending: bytes) -> tuple[list[tuple[bool, int]] | None, bytes]:
    """Read the worker's ``h <id>`` (hold) and ``r <id>`` (release) lines from ``fd``.

    Returns:
        ``(hold?, trial id)`` per complete line, or None once the pipe is closed, and the
        bytes of an incomplete last line, to prepend to the next read.
    """
    chunk = os.read(fd, 65536)
    if not chunk:
        return None, pending
    *lines, rest = (pending + chunk).split(b"\n")
    return [(line[:1] == b"h", int(line[2:])) for line in lines], rest


def _wait_then_exec(fd: int, config: str, interval: float, parent_pid: int) -> None:
    """The forked keeper's first phase: follow the held trials until one needs renewing.

    It runs in a fork of a worker that may have other threads, so it only uses system
    calls (no locks, logging or imports) until it execs.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    held: dict[int, float] = {}
    pending = b""
    while True:
        now = time.monotonic()
        # Half an interval after a hold, so that the fresh interpreter's start-up (a few
        # tenths of a second, more on a loaded machine) still ends before the first renewal
        # is due; trials shorter than that never pay for it.
        due = min(held.values(), default=now + _PARENT_CHECK_S) + interval / 2
        if held and now >= due:
            ids = ",".join(str(trial_id) for trial_id in held)
            os.execv(sys.executable, [sys.executable, "-c", _BOOTSTRAP, str(fd), config, ids])
        readable, _, _ = select.select([fd], [], [], min(max(0.0, due - now), _PARENT_CHECK_S))
        if readable:
            messages, pending = _read_messages(fd, pending)
            if messages is None:
                return  # the worker closed the pipe or died
            for hold, trial_id in messages:
                if hold:
                    held[trial_id] = time.monotonic()
                else:
                    held.pop(trial_id, None)
        if os.getppid() != parent_pid:
            return  # the worker died and this process was handed to init


# The fresh keeper runs this. It imports the storage modules without running the package's
# __init__ (which loads every sampler and SciPy), so it starts in a fraction of a second.
_BOOTSTRAP = """
import importlib.util, sys, types
spec = importlib.util.find_spec("hyperdial")
package = types.ModuleType("hyperdial")
package.__path__ = list(spec.submodule_search_locations)
package.__spec__ = spec
sys.modules["hyperdial"] = package
from hyperdial._lease import keeper_main
keeper_main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
"""


def keeper_main(fd: int, config: str, held_ids: str) -> None:
    """The fresh keeper: renew held leases every interval until the worker is gone.

    Args:
        fd: The pipe the worker writes ``h <id>`` (hold) and ``r <id>`` (release) lines to.
        config: Hex of the pickled ``(storage, interval, grace, worker pid)``.
        held_ids: Comma-separated ids already held, whose renewal is due now.
    """
    # Ctrl-C reaches the whole process group; the worker handles it, the keeper goes on
    # until the worker exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    storage, interval, grace, parent_pid = pickle.loads(bytes.fromhex(config))
    held = {int(i) for i in held_ids.split(",") if i}
    pending = b""
    next_renewal = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now >= next_renewal:
                if held:
                    try:
                        held.difference_update(storage.renew_leases(sorted(held), grace))
                    except Exception as error:  # the storage may be restarting: keep trying
                        _logger.warning("Could not renew trial leases (%s); retrying.", error)
                next_renewal = time.monotonic() + interval
            wait = min(max(0.0, next_renewal - now), _PARENT_CHECK_S)
            readable, _, _ = select.select([fd], [], [], wait)
            if readable:
                messages, pending = _read_messages(fd, pending)
                if messages is None:
                    return  # the worker closed the pipe or died
                for hold, trial_id in messages:
                    if hold:
                        held.add(trial_id)
                    else:
                        held.discard(trial_id)
            if os.getppid() != parent_pid:
                return  # the worker died and this process was handed to init
    finally:
        storage.remove_session()
