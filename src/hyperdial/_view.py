"""The read-only view of a study that samplers and pruners get."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from hyperdial._best import best_trial_of
from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial.storage._base import Storage, TrialTemplate

__all__ = ["FIXED_PARAMS_ATTR", "PluginState", "StudyView"]

#: Trial system attribute holding an enqueued trial's fixed parameters. They become params
#: only when the objective asks for them, so a branch not taken leaves no trace.
FIXED_PARAMS_ATTR = "fixed_params"


class PluginState:
    """A plug-in's own corner of the study's stored state, shared by all workers.

    Keys live under a namespace (usually the plug-in's class name), so plug-ins cannot step
    on each other or on hyperdial's own records. Values must be JSON-serialisable.

    Example:
        >>> state = view.state("GridSampler")  # doctest: +SKIP
        >>> state.set_if_absent("point:3", 17)  # True for the one worker that claims it
    """

    def __init__(self, storage: Storage, study_id: int, namespace: str) -> None:
        self._storage = storage
        self._study_id = study_id
        self._prefix = f"{namespace}:"

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        return self.items().get(key, default)

    def items(self) -> dict[str, Any]:
        """Return every key and value in this namespace."""
        attrs = self._storage.get_study_system_attrs(self._study_id)
        n = len(self._prefix)
        return {k[n:]: v for k, v in attrs.items() if k.startswith(self._prefix)}

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        self._storage.set_study_system_attr(self._study_id, self._prefix + key, value)

    def set_if_absent(self, key: str, value: Any) -> bool:
        """Store ``value`` only if ``key`` is unset; atomic across workers and machines.

        Returns:
            True if this call stored it.
        """
        return self._storage.set_study_system_attr_if_absent(
            self._study_id, self._prefix + key, value
        )


class StudyView:
    """What a sampler or pruner may see of a study: its trials and directions.

    It reads through the public storage API only, and writes only to a plug-in's namespaced
    :class:`PluginState` and to a trial's system attributes under the plug-in's name.

    Example:
        >>> view = study.view  # doctest: +SKIP
        >>> complete = view.get_trials(states=(TrialState.COMPLETE,))  # doctest: +SKIP
    """

    def __init__(
        self,
        storage: Storage,
        study_id: int,
        study_name: str,
        trial_filter: Callable[[list[FrozenTrial]], list[FrozenTrial]] | None = None,
    ) -> None:
        self._storage = storage
        self._study_id = study_id
        self.study_name = study_name
        self._directions: list[StudyDirection] | None = None
        self._trial_filter = trial_filter
        self._deferred: tuple[int, dict[str, Any]] | None = None

    def restricted(
        self, trial_filter: Callable[[list[FrozenTrial]], list[FrozenTrial]]
    ) -> StudyView:
        """Return a view whose ``get_trials`` passes through ``trial_filter``.

        The study hands samplers such a view when the pruner narrows what a trial should
        learn from (see :meth:`hyperdial.pruners.Pruner.trials_for_sampler`). Restricting a
        restricted view applies both filters, this view's first. The filter may also return
        re-scored copies of trials (the :class:`~hyperdial.samplers.AutoSampler` does, to
        model a pruned study at a lower budget), as long as it does so consistently: samplers
        cache what they learn from a finished trial.
        """
        outer = self._trial_filter
        combined = trial_filter
        if outer is not None:
            combined = lambda trials: trial_filter(outer(trials))  # noqa: E731
        view = StudyView(self._storage, self._study_id, self.study_name, combined)
        view._directions = self._directions
        # Labels a sampler defers through the narrower view still go with the trial's next
        # write rather than costing one of their own.
        view._deferred = self._deferred
        return view

    @property
    def directions(self) -> list[StudyDirection]:
        """The study's directions, one per objective."""
        if self._directions is None:
            self._directions = self._storage.get_study_directions(self._study_id)
        return list(self._directions)

    @property
    def direction(self) -> StudyDirection:
        """The direction of a single-objective study."""
        directions = self.directions
        if len(directions) != 1:
            raise RuntimeError("This study has several objectives; use directions.")
        return directions[0]

    def get_trials(
        self, *, states: Container[TrialState] | None = None, deepcopy: bool = False
    ) -> list[FrozenTrial]:
        """Return the study's trials in number order, optionally only those in ``states``.

        With ``deepcopy=False`` (the default here) the trials may be shared caches: read
        them, never change them.
        """
        trials = self._storage.get_all_trials(self._study_id, states=states, deepcopy=deepcopy)
        return trials if self._trial_filter is None else self._trial_filter(trials)

    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials, in number order."""
        return self.get_trials()

    def n_trials(self, states: Container[TrialState] | None = None) -> int:
        """How many trials the study has (in ``states`` if given)."""
        return self._storage.get_n_trials(self._study_id, states)

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best COMPLETE trial so far, or None."""
        return best_trial_of(self.get_trials(states=(TrialState.COMPLETE,)), self.directions)

    def state(self, namespace: str) -> PluginState:
        """Return the shared state store of one plug-in."""
        return PluginState(self._storage, self._study_id, namespace)

    def set_trial_system_attr(
        self, trial: FrozenTrial, key: str, value: Any, *, defer: bool = False
    ) -> None:
        """Record something about an unfinished trial, such as which algorithm proposed it.

        Args:
            trial: The trial, as handed to the sampler or pruner.
            key: The attribute's name.
            value: A JSON-serialisable value.
            defer: Store it with the trial's next write (its next report or its end) rather
                than now, saving a storage write. Use it for labels no other worker needs
                before then; write at once what other workers must see (an in-flight point).
        """
        if defer and self._deferred is not None and self._deferred[0] == trial.trial_id:
            self._deferred[1][key] = value
            return
        self._storage.update_trial(trial.trial_id, system_attrs={key: value})

    def deferring_for(self, trial_id: int, pending: dict[str, Any]) -> StudyView:
        """Return a view that collects deferred attributes of ``trial_id`` into ``pending``.

        The live trial hands such a view to its sampler and writes ``pending`` with its next
        storage write.
        """
        view = StudyView(self._storage, self._study_id, self.study_name, self._trial_filter)
        view._directions = self._directions
        view._deferred = (trial_id, pending)
        return view

    def enqueue(self, params: dict[str, Any], system_attrs: dict[str, Any] | None = None) -> int:
        """Queue a trial with fixed parameters, claimed later by exactly one worker.

        Returns:
            The queued trial's number.
        """
        attrs = {**(system_attrs or {}), FIXED_PARAMS_ATTR: dict(params)}
        template = TrialTemplate(state=TrialState.WAITING, system_attrs=attrs)
        return self._storage.create_trial(self._study_id, template).number

    def get_trial(self, number: int) -> FrozenTrial:
        """Return one trial by number, fresh from storage."""
        return self._storage.get_trial(self._storage.get_trial_id(self._study_id, number))
