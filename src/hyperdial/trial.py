"""Trials: one evaluation of the objective at one set of hyperparameters."""

from __future__ import annotations

import collections
import datetime
import logging
import math
import os
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hyperdial._checks import utcnow
from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import FIXED_PARAMS_ATTR, StudyView
from hyperdial.exceptions import (
    HyperdialWarning,
    InvalidSpaceError,
    InvalidValueError,
    UpdateFinishedTrialError,
)
from hyperdial.space import Categorical, CategoricalChoice, Distribution, Float, Int

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["FrozenTrial", "Trial", "TrialState"]

_logger = logging.getLogger("hyperdial")


class Trial:
    """A running trial, handed to the objective.

    The objective asks it for hyperparameters with ``suggest_*`` (define-by-run: branches
    and loops may ask for different parameters in different trials), reports intermediate
    values for pruning, and returns the value to minimize or maximize.

    Parameter writes are buffered and stored together with the next report, user attribute
    or the end of the trial, which keeps the cost of a trial to a few storage writes.

    Example:
        >>> def objective(trial):
        ...     lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        ...     n_layers = trial.suggest_int("n_layers", 1, 4)
        ...     units = [trial.suggest_int(f"n_units_l{i}", 16, 256, log=True)
        ...              for i in range(n_layers)]
        ...     optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        ...     return lr * sum(units)
    """

    def __init__(self, study: Study, frozen: FrozenTrial, *, leased: bool = False) -> None:
        self.study = study
        self._leased = leased
        self._frozen = frozen
        self._lock = threading.RLock()
        self._params: dict[str, Any] = dict(frozen.params)
        self._distributions: dict[str, Distribution] = dict(frozen.distributions)
        self._fixed: dict[str, Any] = dict(frozen.system_attrs.get(FIXED_PARAMS_ATTR) or {})
        self._user_attrs: dict[str, Any] = dict(frozen.user_attrs)
        self._system_attrs: dict[str, Any] = dict(frozen.system_attrs)
        self._intermediate: dict[int, float] = dict(frozen.intermediate_values)
        self._pending_params: dict[str, tuple[float, Distribution]] = {}
        self._pending_system_attrs: dict[str, Any] = {}
        self._relative: dict[str, Any] | None = None
        self._view: StudyView | None = None
        self._finished = False

    # -- identity ----------------------------------------------------------------------------

    @property
    def number(self) -> int:
        """Position of this trial in its study, from 0."""
        return self._frozen.number

    @property
    def trial_id(self) -> int:
        """Storage key of this trial."""
        return self._frozen.trial_id

    @property
    def params(self) -> dict[str, Any]:
        """The parameters suggested so far."""
        return {k: v for k, v in self._params.items() if k in self._distributions}

    @property
    def distributions(self) -> dict[str, Distribution]:
        """The distribution of each parameter suggested so far."""
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The user attributes set so far."""
        return dict(self._user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        """The system attributes recorded so far."""
        return dict(self._system_attrs)

    @property
    def datetime_start(self) -> datetime.datetime | None:
        """When the trial started."""
        return self._frozen.datetime_start

    # -- suggestions ---------------------------------------------------------------------------

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """Suggest a float in ``[low, high]``, on a log scale or a ``step`` grid if asked.

        Raises:
            InvalidSpaceError: if the range cannot hold, naming the parameter.
        """
        value = self.suggest(name, _build(name, Float, low, high, step=step, log=log))
        return float(value)

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """Suggest an integer in ``[low, high]``, on a log scale or a ``step`` grid if asked."""
        return int(self.suggest(name, _build(name, Int, low, high, step=step, log=log)))

    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoice]
    ) -> CategoricalChoice:
        """Suggest one of ``choices`` (None, bool, int, float or str values)."""
        try:
            distribution = Categorical(choices)
        except InvalidSpaceError as error:
            raise InvalidSpaceError(f"Parameter {name!r}: {error}") from None
        return self.suggest(name, distribution)  # type: ignore[no-any-return]

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """Suggest a value for ``name`` from any distribution of :mod:`hyperdial.space`.

        Asking twice for the same name in one trial returns the same value.
        """
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"A parameter name must be a non-empty string. Got {name!r}.")
        if not isinstance(distribution, Distribution):
            raise InvalidSpaceError(
                f"Parameter {name!r}: expected a Float, Int or Categorical distribution. "
                f"Got {distribution!r}."
            )
        with self._lock:
            known = self._distributions.get(name)
            if known is not None:
                if not known.is_compatible(distribution):
                    raise InvalidSpaceError(
                        f"Parameter {name!r} was suggested as {known!r} earlier in this trial and "
                        f"now as {distribution!r}; one parameter keeps one type. Use a new name."
                    )
                value = self._params[name]
                if distribution.contains_value(value):
                    return value
            self.study._check_param_kind(name, distribution)
            value = self._draw(name, distribution)
            internal = distribution.to_internal(value)
            self._params[name] = distribution.to_external(internal)
            self._distributions[name] = distribution
            if self._leased and not self._pending_params:
                _DELAYED_FLUSH.schedule(self)  # once per batch of unstored parameters
            self._pending_params[name] = (internal, distribution)
            return self._params[name]

    def _draw(self, name: str, distribution: Distribution) -> Any:
        if distribution.is_single():
            return distribution.to_external(distribution.from_unit(0.5))
        if name in self._fixed:
            value = self._fixed[name]
            if not distribution.contains_value(value):
                raise InvalidSpaceError(
                    f"Parameter {name!r}: the enqueued value {value!r} is not in {distribution!r}. "
                    "Enqueue a value inside the range, or widen the range."
                )
            return value
        if self._view is None:
            # One view per trial: built on the first suggestion that reaches the sampler.
            self._view = self.study._sampler_view(self._frozen).deferring_for(
                self.trial_id, self._pending_system_attrs
            )
        view = self._view
        if self._relative is None:
            self._relative = self.study.sampler.sample_relative(view, self._snapshot())
        if name in self._relative and distribution.contains_value(self._relative[name]):
            return self._relative[name]
        sampler = self.study.sampler
        value = sampler.sample_independent(view, self._snapshot(), name, distribution)
        if not distribution.contains_value(value):
            raise InvalidSpaceError(
                f"Parameter {name!r}: {sampler!r} proposed {value!r}, which is not in "
                f"{distribution!r}. This is a bug in the sampler."
            )
        return value

    # -- reports, pruning, attributes --------------------------------------------------------

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (validation accuracy after an epoch, say) at ``step``.

        Reporting a step that was already reported keeps the first value and warns; a step
        lower than one already reported is stored with a warning; a NaN is stored and ranks
        worst for pruners; steps must be non-negative integers.

        Raises:
            InvalidValueError: if ``value`` is not a number or ``step`` not an integer >= 0.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidValueError(
                f"trial.report step must be an integer >= 0. Got {step!r}; pass the epoch or "
                "iteration number."
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"trial.report value must be a number. Got {value!r} of type "
                f"{type(value).__name__}."
            ) from None
        with self._lock:
            if step in self._intermediate:
                warnings.warn(
                    f"Trial {self.number} already reported step {step}; the value "
                    f"{number!r} is ignored and {self._intermediate[step]!r} kept.",
                    HyperdialWarning,
                    stacklevel=2,
                )
                return
            if self._intermediate and step < max(self._intermediate):
                warnings.warn(
                    f"Trial {self.number} reported step {step} after step "
                    f"{max(self._intermediate)}; it is stored, and pruners keep judging "
                    "progress by the highest step. Report steps in increasing order.",
                    HyperdialWarning,
                    stacklevel=2,
                )
            self._intermediate[step] = number
            self._flush(intermediate_values={step: number})

    def should_prune(self) -> bool:
        """Ask the study's pruner whether this trial should stop now."""
        with self._lock:
            self._flush()
            snapshot = self._snapshot()
            view = self.study._history_view(snapshot)
            return bool(self.study.pruner.prune(view, snapshot))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serialisable value to this trial (shown by the CLI and dataframe)."""
        with self._lock:
            self._flush(user_attrs={key: value})
            self._user_attrs[key] = value

    def set_system_attr(self, key: str, value: Any) -> None:
        """Attach a value for hyperdial or a plug-in; users want :meth:`set_user_attr`."""
        with self._lock:
            self._flush(system_attrs={key: value})
            self._system_attrs[key] = value

    # -- plumbing ---------------------------------------------------------------------------

    def _flush(self, **extra: Any) -> None:
        """Write buffered parameters and attributes (and ``extra`` fields) in one step."""
        if not self._pending_params and not self._pending_system_attrs and not extra:
            return
        if self._finished:
            raise UpdateFinishedTrialError(
                f"Trial {self.number} has already finished; it cannot change any more."
            )
        params, system_attrs = self._take_pending()
        if "system_attrs" in extra:
            system_attrs.update(extra.pop("system_attrs"))
        self.study._storage.update_trial(
            self.trial_id, params=params or None, system_attrs=system_attrs or None, **extra
        )

    def _flush_params_quietly(self) -> None:
        """Store buffered parameters now, from the delayed-flush thread."""
        with self._lock:
            if self._finished or not self._pending_params:
                return
            try:
                self._flush()
            except Exception as error:  # the next report or tell tries again
                _logger.debug("Could not store trial %d's parameters yet: %s", self.number, error)

    def _take_pending(self) -> tuple[dict[str, tuple[float, Distribution]], dict[str, Any]]:
        """Hand over the buffered parameters and system attributes, clearing the buffers."""
        with self._lock:
            params, self._pending_params = self._pending_params, {}
            attrs = dict(self._pending_system_attrs)
            self._system_attrs.update(attrs)
            self._pending_system_attrs.clear()  # the sampler's view holds this very dict
            return params, attrs

    def _snapshot(
        self,
        state: TrialState = TrialState.RUNNING,
        values: list[float] | None = None,
        system_attrs: dict[str, Any] | None = None,
    ) -> FrozenTrial:
        finished = state.is_finished()
        return FrozenTrial(
            number=self.number,
            trial_id=self.trial_id,
            state=state,
            values=values,
            params=self.params,
            distributions=dict(self._distributions),
            user_attrs=dict(self._user_attrs),
            system_attrs={**self._system_attrs, **(system_attrs or {})},
            intermediate_values=dict(self._intermediate),
            datetime_start=self._frozen.datetime_start,
            datetime_complete=utcnow() if finished else None,
        )

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r})"


class _DelayedFlush:
    """Stores a leased trial's parameters shortly after they are suggested.

    Parameters are buffered so that a short trial costs few writes. A trial that holds a
    lease may be retried by another worker if its own dies, with the parameters stored by
    then; a trial that suggests everything and then trains for an hour without reporting
    would otherwise have none stored. This thread writes them ``DELAY_S`` after the first
    unstored suggestion, unless a report or the tell has done so already.
    """

    DELAY_S = 1.0

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # Due times only grow (a fixed delay after now), so a FIFO queue is in due order and
        # the thread sleeps until its head: scheduling costs an append, not a wake-up.
        self._due: collections.deque[tuple[float, weakref.ref[Trial]]] = collections.deque()
        self._pid = -1  # the thread does not survive fork: start one per process

    def schedule(self, trial: Trial) -> None:
        with self._cond:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._due.clear()
                thread = threading.Thread(target=self._run, name="hyperdial-flush", daemon=True)
                thread.start()
            self._due.append((time.monotonic() + self.DELAY_S, weakref.ref(trial)))
            if len(self._due) == 1:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due:
                    self._cond.wait()
                due, ref = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._due.popleft()
            trial = ref()
            if trial is not None:
                trial._flush_params_quietly()


_DELAYED_FLUSH = _DelayedFlush()


def _build(name: str, kind: type[Float] | type[Int], low: Any, high: Any, **kw: Any) -> Any:
    try:
        return kind(low, high, **kw)
    except InvalidSpaceError as error:
        raise InvalidSpaceError(f"Parameter {name!r}: {error}") from None


def check_values(value: Any, n_objectives: int) -> tuple[list[float] | None, str | None]:
    """Turn what an objective returned into stored values, or a reason it cannot be one.

    Returns:
        ``(values, None)`` for a valid result, ``(None, reason)`` otherwise.
    """
    items: Sequence[Any]
    items = value if isinstance(value, (list, tuple)) else [value]
    if len(items) != n_objectives:
        return None, (
            f"the objective returned {len(items)} values but the study has {n_objectives} "
            f"objective(s): {value!r}"
        )
    values = []
    for item in items:
        if item is None:
            return None, "the objective returned None; return a number such as the loss"
        if isinstance(item, (bool, str, bytes)):
            return None, (
                f"the objective returned {item!r} of type {type(item).__name__}; return a number"
            )
        if not isinstance(item, (int, float)):
            try:
                # numpy scalars, 0-d tensors and the like.
                number = float(item)
            except (TypeError, ValueError):
                return None, (
                    f"the objective returned {item!r} of type {type(item).__name__}; "
                    "return a number"
                )
        else:
            number = float(item)
        if math.isnan(number):
            return None, "the objective returned NaN (did training diverge?)"
        if math.isinf(number):
            return None, f"the objective returned {number} (did training diverge?)"
        values.append(number)
    return values, None
