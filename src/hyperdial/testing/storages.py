"""A conformance suite for :class:`~hyperdial.storage.Storage` implementations.

Every invariant in the ``Storage`` docstring and every method's contract is checked by a
small test here. Hyperdial runs it against its own storages; a third-party storage author
runs it against theirs by subclassing :class:`StorageConformance` and providing a
``storage`` fixture that yields a fresh, empty storage for each test::

    # test_my_storage.py
    import pytest
    from hyperdial.testing.storages import StorageConformance

    from my_package import MyStorage


    class TestMyStorage(StorageConformance):
        @pytest.fixture
        def storage(self, tmp_path):
            storage = MyStorage(tmp_path / "studies")
            yield storage
            storage.remove_session()

For pytest's detailed assertion messages, register the module for assertion rewriting
before it is imported, in a ``conftest.py``::

    pytest.register_assert_rewrite("hyperdial.testing.storages")

The suite runs in one process. Concurrency (unique trial numbers, exactly-once claims and
atomic ``set_study_system_attr_if_absent`` under many writers) needs the storage to be
opened from several processes, which only its author knows how to do; test it separately.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial.exceptions import (
    DuplicatedStudyError,
    MaxTrialsReached,
    StaleTrialError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from hyperdial.space import Categorical, Float, Int
from hyperdial.storage import Storage, TrialTemplate

__all__ = ["StorageConformance"]

MIN = StudyDirection.MINIMIZE
MAX = StudyDirection.MAXIMIZE
FINISHED_STATES = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
# An id that no storage hands out in a fresh store.
UNKNOWN_ID = 987_654_321


class _NotJSON:
    """A value no JSON encoder accepts."""


def _finish(storage: Storage, study_id: int, value: float, **kwargs: Any) -> FrozenTrial:
    trial = storage.create_trial(study_id)
    storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[value], **kwargs)
    return storage.get_trial(trial.trial_id)


class StorageConformance:
    """Tests every :class:`~hyperdial.storage.Storage` must pass.

    Subclass it in a test module (its name must start with ``Test``) and provide a
    ``storage`` fixture yielding a fresh, empty storage.

    Example:
        >>> class TestInMemory(StorageConformance):  # doctest: +SKIP
        ...     @pytest.fixture
        ...     def storage(self):
        ...         yield InMemoryStorage()
    """

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        """A fresh, empty storage; subclasses must override this fixture."""
        raise NotImplementedError(
            "Subclasses of StorageConformance must define a `storage` fixture yielding a "
            "fresh, empty Storage."
        )
        yield  # pragma: no cover - makes this a generator like the overrides

    @pytest.fixture
    def study_id(self, storage: Storage) -> int:
        """A single-objective minimising study."""
        return storage.create_study([MIN], "conformance")

    # -- studies ---------------------------------------------------------------------------

    def test_create_study_ids_and_names(self, storage: Storage) -> None:
        first = storage.create_study([MIN], "first")
        second = storage.create_study([MAX], "second")
        assert first != second
        assert storage.get_study_id("first") == first
        assert storage.get_study_id("second") == second
        assert storage.get_study_name(first) == "first"
        assert storage.get_study_name(second) == "second"

    def test_duplicate_study_name_is_rejected(self, storage: Storage) -> None:
        study_id = storage.create_study([MIN], "taken")
        with pytest.raises(DuplicatedStudyError):
            storage.create_study([MAX], "taken")
        assert [s.study_id for s in storage.list_studies()] == [study_id]
        assert storage.get_study_directions(study_id) == [MIN]

    def test_unknown_study_raises(self, storage: Storage) -> None:
        with pytest.raises(StudyNotFoundError):
            storage.get_study_id("missing")
        for call in (
            storage.get_study_name,
            storage.get_study_directions,
            storage.get_study_user_attrs,
            storage.get_study_system_attrs,
            storage.delete_study,
            storage.create_trial,
            storage.claim_waiting_trial,
            storage.get_all_trials,
            storage.get_n_trials,
        ):
            with pytest.raises(StudyNotFoundError):
                call(UNKNOWN_ID)
        with pytest.raises(StudyNotFoundError):
            storage.set_study_user_attr(UNKNOWN_ID, "key", 1)
        with pytest.raises(StudyNotFoundError):
            storage.set_study_system_attr_if_absent(UNKNOWN_ID, "key", 1)

    @pytest.mark.parametrize(
        "directions", [[MIN], [MAX], [MIN, MAX], [MAX, MAX, MIN]], ids=["min", "max", "2", "3"]
    )
    def test_study_directions(self, storage: Storage, directions: list[StudyDirection]) -> None:
        study_id = storage.create_study(directions, "directions")
        assert storage.get_study_directions(study_id) == directions

    def test_delete_study_removes_it_and_its_trials(self, storage: Storage) -> None:
        doomed = storage.create_study([MIN], "doomed")
        kept = storage.create_study([MIN], "kept")
        doomed_trial = _finish(storage, doomed, 1.0, user_attrs={"a": 1})
        kept_trial = _finish(storage, kept, 2.0)
        storage.get_all_trials(doomed)  # cached reads must not outlive the study
        late_trial = _finish(storage, doomed, 3.0)
        storage.delete_study(doomed)
        with pytest.raises(StudyNotFoundError):
            storage.get_study_id("doomed")
        with pytest.raises(StudyNotFoundError):
            storage.get_all_trials(doomed)
        for trial in (doomed_trial, late_trial):
            with pytest.raises(TrialNotFoundError):
                storage.get_trial(trial.trial_id)
        assert [s.study_name for s in storage.list_studies()] == ["kept"]
        assert storage.get_all_trials(kept) == [kept_trial]
        # The name is free again, and the new study starts empty.
        reborn = storage.create_study([MAX], "doomed")
        assert storage.get_all_trials(reborn) == []
        assert storage.create_trial(reborn).number == 0

    def test_list_studies(self, storage: Storage) -> None:
        assert storage.list_studies() == []
        first = storage.create_study([MIN], "b-first")
        second = storage.create_study([MIN, MAX], "a-second")
        storage.set_study_user_attr(first, "owner", "ada")
        storage.create_trial(first)
        storage.create_trial(first, TrialTemplate(state=TrialState.WAITING))
        summaries = storage.list_studies()
        assert [(s.study_id, s.study_name) for s in summaries] == [
            (first, "b-first"),
            (second, "a-second"),
        ]
        assert summaries[0].n_trials == 2
        assert summaries[0].user_attrs == {"owner": "ada"}
        assert summaries[0].datetime_start is not None
        assert summaries[1].directions == [MIN, MAX]
        assert summaries[1].n_trials == 0
        assert summaries[1].datetime_start is None
        assert summaries[1].best_trial is None

    @pytest.mark.parametrize("direction", [MIN, MAX])
    def test_study_summary_best_trial(self, storage: Storage, direction: StudyDirection) -> None:
        study_id = storage.create_study([direction], "best")
        trials = [_finish(storage, study_id, value) for value in (3.0, 1.0, 5.0, 1.0, 5.0)]
        running = storage.create_trial(study_id)
        storage.update_trial(running.trial_id, values=[-100.0 if direction == MIN else 100.0])
        failed = storage.create_trial(study_id)
        storage.update_trial(failed.trial_id, state=TrialState.FAIL)
        (summary,) = storage.list_studies()
        # Only COMPLETE trials count; on ties the lowest number wins.
        expected = trials[1] if direction == MIN else trials[2]
        assert summary.best_trial is not None
        assert summary.best_trial.trial_id == expected.trial_id
        assert summary.best_trial.values == expected.values
        assert summary.n_trials == 7

    def test_multi_objective_study_has_no_single_best_trial(self, storage: Storage) -> None:
        study_id = storage.create_study([MIN, MAX], "pareto")
        trial = storage.create_trial(study_id)
        storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[1.0, 2.0])
        assert storage.get_trial(trial.trial_id).values == [1.0, 2.0]
        (summary,) = storage.list_studies()
        assert summary.best_trial is None

    # -- study attributes ------------------------------------------------------------------

    def test_study_user_and_system_attrs(self, storage: Storage, study_id: int) -> None:
        assert storage.get_study_user_attrs(study_id) == {}
        assert storage.get_study_system_attrs(study_id) == {}
        storage.set_study_user_attr(study_id, "dataset", "mnist")
        storage.set_study_user_attr(study_id, "nested", {"a": [1, 2.5, None, True]})
        storage.set_study_user_attr(study_id, "dataset", "cifar")  # overwrites
        storage.set_study_system_attr(study_id, "sampler", {"seed": 1})
        assert storage.get_study_user_attrs(study_id) == {
            "dataset": "cifar",
            "nested": {"a": [1, 2.5, None, True]},
        }
        assert storage.get_study_system_attrs(study_id) == {"sampler": {"seed": 1}}

    def test_study_attrs_are_copies(self, storage: Storage, study_id: int) -> None:
        storage.set_study_user_attr(study_id, "list", [1, 2])
        storage.get_study_user_attrs(study_id)["list"].append(3)
        assert storage.get_study_user_attrs(study_id) == {"list": [1, 2]}

    def test_set_study_system_attr_if_absent(self, storage: Storage, study_id: int) -> None:
        assert storage.set_study_system_attr_if_absent(study_id, "lock", "first") is True
        assert storage.set_study_system_attr_if_absent(study_id, "lock", "second") is False
        assert storage.get_study_system_attrs(study_id) == {"lock": "first"}
        storage.set_study_system_attr(study_id, "other", 1)
        assert storage.set_study_system_attr_if_absent(study_id, "other", 2) is False
        assert storage.get_study_system_attrs(study_id)["other"] == 1

    def test_non_json_study_attr_raises_type_error(self, storage: Storage, study_id: int) -> None:
        with pytest.raises(TypeError):
            storage.set_study_user_attr(study_id, "bad", _NotJSON())
        with pytest.raises(TypeError):
            storage.set_study_system_attr(study_id, "bad", {1, 2})
        with pytest.raises(TypeError):
            storage.set_study_system_attr_if_absent(study_id, "bad", _NotJSON())
        assert storage.get_study_user_attrs(study_id) == {}
        assert storage.get_study_system_attrs(study_id) == {}

    # -- creating trials -------------------------------------------------------------------

    def test_trial_numbers_are_contiguous_per_study(self, storage: Storage) -> None:
        a = storage.create_study([MIN], "a")
        b = storage.create_study([MIN], "b")
        numbers: dict[int, list[int]] = {a: [], b: []}
        ids = set()
        for study_id in (a, a, b, a, b, b, a):
            trial = storage.create_trial(study_id)
            numbers[study_id].append(trial.number)
            ids.add(trial.trial_id)
        assert numbers == {a: [0, 1, 2, 3], b: [0, 1, 2]}
        assert len(ids) == 7  # ids are unique across studies

    def test_create_trial_defaults_to_running(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        assert trial.state == TrialState.RUNNING
        assert trial.datetime_start is not None
        assert trial.datetime_complete is None
        assert trial.values is None
        assert trial.params == {} and trial.distributions == {}
        assert trial.user_attrs == {} and trial.system_attrs == {}
        assert trial.intermediate_values == {}
        assert storage.get_trial(trial.trial_id) == trial

    def test_waiting_template_keeps_params_without_distributions(
        self, storage: Storage, study_id: int
    ) -> None:
        template = TrialTemplate(
            state=TrialState.WAITING,
            params={"lr": 0.01, "layers": 3, "optimizer": "adam", "flag": None},
            user_attrs={"source": "enqueue"},
            system_attrs={"fixed": True},
        )
        created = storage.create_trial(study_id, template)
        stored = storage.get_trial(created.trial_id)
        for trial in (created, stored):
            assert trial.state == TrialState.WAITING
            assert trial.params == {"lr": 0.01, "layers": 3, "optimizer": "adam", "flag": None}
            assert trial.distributions == {}
            assert trial.user_attrs == {"source": "enqueue"}
            assert trial.system_attrs == {"fixed": True}
            assert trial.datetime_start is None
            assert trial.datetime_complete is None

    def test_template_params_with_distributions(self, storage: Storage, study_id: int) -> None:
        dists = {"x": Float(0.0, 1.0), "n": Int(1, 8), "c": Categorical(["a", "b"])}
        template = TrialTemplate(params={"x": 0.25, "n": 4, "c": "b"}, distributions=dists)
        trial = storage.get_trial(storage.create_trial(study_id, template).trial_id)
        assert trial.state == TrialState.RUNNING
        assert trial.params == {"x": 0.25, "n": 4, "c": "b"}
        assert trial.distributions == dists

    @pytest.mark.parametrize("state", FINISHED_STATES, ids=lambda s: s.name)
    def test_finished_template(self, storage: Storage, study_id: int, state: TrialState) -> None:
        template = TrialTemplate(
            state=state,
            params={"x": 0.5},
            distributions={"x": Float(0.0, 1.0)},
            values=[0.125],
            intermediate_values={0: 1.0, 3: 0.5},
        )
        created = storage.create_trial(study_id, template)
        stored = storage.get_trial(created.trial_id)
        for trial in (created, stored):
            assert trial.state == state
            assert trial.values == [0.125]
            assert trial.intermediate_values == {0: 1.0, 3: 0.5}
            assert trial.params == {"x": 0.5}
            assert trial.datetime_start is not None
            assert trial.datetime_complete is not None
        with pytest.raises(UpdateFinishedTrialError):
            storage.update_trial(created.trial_id, user_attrs={"late": 1})

    def test_non_json_template_attr_raises_type_error(
        self, storage: Storage, study_id: int
    ) -> None:
        with pytest.raises(TypeError):
            storage.create_trial(study_id, TrialTemplate(user_attrs={"bad": _NotJSON()}))
        with pytest.raises(TypeError):
            storage.create_trial(study_id, TrialTemplate(system_attrs={"bad": _NotJSON()}))
        assert storage.get_n_trials(study_id) == 0
        assert storage.create_trial(study_id).number == 0

    # -- claiming --------------------------------------------------------------------------

    def test_claim_waiting_trial_in_number_order(self, storage: Storage, study_id: int) -> None:
        waiting = TrialTemplate(state=TrialState.WAITING)
        first = storage.create_trial(
            study_id, TrialTemplate(state=TrialState.WAITING, params={"x": 1})
        )
        storage.create_trial(study_id)  # RUNNING: never claimed
        second = storage.create_trial(study_id, waiting)
        claimed = storage.claim_waiting_trial(study_id)
        assert claimed is not None
        assert claimed.trial_id == first.trial_id
        assert claimed.state == TrialState.RUNNING
        assert claimed.datetime_start is not None
        assert claimed.params == {"x": 1}
        assert storage.get_trial(first.trial_id).state == TrialState.RUNNING
        again = storage.claim_waiting_trial(study_id)
        assert again is not None and again.trial_id == second.trial_id
        assert storage.claim_waiting_trial(study_id) is None
        assert storage.get_n_trials(study_id, states=[TrialState.WAITING]) == 0
        assert storage.get_n_trials(study_id, states=[TrialState.RUNNING]) == 3

    def test_claim_waiting_trial_is_per_study(self, storage: Storage) -> None:
        a = storage.create_study([MIN], "a")
        b = storage.create_study([MIN], "b")
        storage.create_trial(a, TrialTemplate(state=TrialState.WAITING))
        assert storage.claim_waiting_trial(b) is None
        assert storage.claim_waiting_trial(a) is not None

    def test_start_trial_claims_waiting_before_creating(
        self, storage: Storage, study_id: int
    ) -> None:
        queued = storage.create_trial(
            study_id, TrialTemplate(state=TrialState.WAITING, system_attrs={"q": 1})
        )
        template = TrialTemplate(system_attrs={"worker": "w"})
        claimed = storage.start_trial(study_id, template)
        assert claimed.trial_id == queued.trial_id
        assert claimed.state == TrialState.RUNNING
        # A claimed trial keeps its own attributes and gets the template's (the worker).
        assert claimed.system_attrs == {"q": 1, "worker": "w"}
        created = storage.start_trial(study_id, template)
        assert created.number == 1
        assert created.state == TrialState.RUNNING
        assert created.system_attrs == {"worker": "w"}
        assert created.datetime_start is not None
        assert storage.get_trial(created.trial_id).system_attrs == {"worker": "w"}

    def test_start_trial_in_missing_study_raises(self, storage: Storage) -> None:
        with pytest.raises(StudyNotFoundError):
            storage.start_trial(12345)

    # -- updating trials -------------------------------------------------------------------

    def test_update_trial_params(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        x, c = Float(0.0, 10.0), Categorical(["sgd", "adam"])
        storage.update_trial(trial.trial_id, params={"x": (2.5, x)})
        storage.update_trial(trial.trial_id, params={"c": (1.0, c), "n": (3.0, Int(1, 5))})
        stored = storage.get_trial(trial.trial_id)
        assert stored.params == {"x": 2.5, "c": "adam", "n": 3}
        assert isinstance(stored.params["n"], int)
        assert stored.distributions == {"x": x, "c": c, "n": Int(1, 5)}

    def test_update_trial_overrides_enqueued_param(self, storage: Storage, study_id: int) -> None:
        storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING, params={"x": 3}))
        claimed = storage.claim_waiting_trial(study_id)
        assert claimed is not None
        storage.update_trial(claimed.trial_id, params={"x": (3.0, Float(0.0, 5.0))})
        stored = storage.get_trial(claimed.trial_id)
        assert stored.params == {"x": 3.0}
        assert stored.distributions == {"x": Float(0.0, 5.0)}

    def test_update_trial_intermediate_values(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        storage.update_trial(trial.trial_id, intermediate_values={0: 1.0, 1: 0.5})
        storage.update_trial(trial.trial_id, intermediate_values={1: 0.25, 5: 0.125})
        assert storage.get_trial(trial.trial_id).intermediate_values == {
            0: 1.0,
            1: 0.25,
            5: 0.125,
        }

    def test_update_trial_attrs(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id, TrialTemplate(user_attrs={"a": 1}))
        storage.update_trial(trial.trial_id, user_attrs={"b": [1, "x"]}, system_attrs={"s": {}})
        storage.update_trial(trial.trial_id, user_attrs={"a": 2})
        stored = storage.get_trial(trial.trial_id)
        assert stored.user_attrs == {"a": 2, "b": [1, "x"]}
        assert stored.system_attrs == {"s": {}}

    def test_numbers_and_texts_read_back_exactly(self, storage: Storage, study_id: int) -> None:
        # Storages may ship numbers as text (JSON, SQL literals): every float must come
        # back bit for bit (the sign of -0.0 aside: SQLite keeps it as 0), and every string
        # unchanged.
        floats = [1 / 3, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 123456789.123456789]
        trial = storage.start_trial(study_id)
        wide = Float(-1.7976931348623157e308, 1.7976931348623157e308)
        storage.update_trial(
            trial.trial_id,
            params={f"p{i}": (v, wide) for i, v in enumerate(floats)},
            intermediate_values=dict(enumerate(floats)),
            user_attrs={'quote"s': "back\\slash 'é' {1,2} NULL", "n": None},
        )
        storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[floats[0]])
        stored = storage.get_trial(trial.trial_id)
        assert [stored.params[f"p{i}"] for i in range(len(floats))] == floats
        assert list(stored.intermediate_values.values()) == floats
        assert stored.user_attrs == {'quote"s': "back\\slash 'é' {1,2} NULL", "n": None}
        assert stored.values == [floats[0]]

    def test_started_trial_matches_what_is_stored(self, storage: Storage, study_id: int) -> None:
        started = storage.start_trial(
            study_id, TrialTemplate(system_attrs={"worker": "w"}, lease=30.0)
        )
        assert storage.get_trial(started.trial_id) == started

    def test_non_json_trial_attr_writes_nothing(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        with pytest.raises(TypeError):
            storage.update_trial(
                trial.trial_id,
                params={"x": (1.0, Float(0.0, 2.0))},
                user_attrs={"ok": 1, "bad": _NotJSON()},
            )
        with pytest.raises(TypeError):
            storage.update_trial(trial.trial_id, system_attrs={"bad": _NotJSON()})
        assert storage.get_trial(trial.trial_id) == trial

    @pytest.mark.parametrize("state", FINISHED_STATES, ids=lambda s: s.name)
    def test_update_trial_to_finished_state(
        self, storage: Storage, study_id: int, state: TrialState
    ) -> None:
        trial = storage.create_trial(study_id)
        values = [0.5] if state == TrialState.COMPLETE else None
        storage.update_trial(trial.trial_id, state=state, values=values)
        stored = storage.get_trial(trial.trial_id)
        assert stored.state == state
        assert stored.values == values
        assert stored.datetime_start == trial.datetime_start
        assert stored.datetime_complete is not None
        assert trial.datetime_start is not None
        assert stored.datetime_complete >= trial.datetime_start

    def test_update_waiting_trial_to_running_sets_start(
        self, storage: Storage, study_id: int
    ) -> None:
        trial = storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        storage.update_trial(trial.trial_id, state=TrialState.RUNNING)
        stored = storage.get_trial(trial.trial_id)
        assert stored.state == TrialState.RUNNING
        assert stored.datetime_start is not None

    @pytest.mark.parametrize("state", FINISHED_STATES, ids=lambda s: s.name)
    @pytest.mark.parametrize(
        "write",
        [
            {"params": {"y": (1.0, Float(0.0, 2.0))}},
            {"intermediate_values": {9: 9.0}},
            {"user_attrs": {"late": 1}},
            {"system_attrs": {"late": 1}},
            {"state": TrialState.RUNNING},
            {"state": TrialState.COMPLETE, "values": [-1.0]},
            {"values": [-1.0]},
            {},
        ],
        ids=["params", "report", "user", "system", "running", "complete", "values", "empty"],
    )
    def test_finished_trial_is_immutable(
        self, storage: Storage, study_id: int, state: TrialState, write: dict[str, Any]
    ) -> None:
        trial = storage.create_trial(study_id)
        storage.update_trial(
            trial.trial_id,
            params={"x": (0.5, Float(0.0, 1.0))},
            intermediate_values={0: 2.0},
            user_attrs={"u": 1},
            system_attrs={"s": 1},
        )
        values = [1.0] if state == TrialState.COMPLETE else None
        storage.update_trial(trial.trial_id, state=state, values=values)
        before = storage.get_trial(trial.trial_id)
        with pytest.raises(UpdateFinishedTrialError):
            storage.update_trial(trial.trial_id, **write)
        assert storage.get_trial(trial.trial_id) == before
        assert storage.get_all_trials(study_id) == [before]

    def test_unknown_trial_raises(self, storage: Storage, study_id: int) -> None:
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(UNKNOWN_ID)
        with pytest.raises(TrialNotFoundError):
            storage.update_trial(UNKNOWN_ID, user_attrs={"a": 1})
        with pytest.raises(TrialNotFoundError):
            storage.update_trial(UNKNOWN_ID, state=TrialState.COMPLETE, values=[1.0])

    # -- reading trials --------------------------------------------------------------------

    def test_get_trial_id(self, storage: Storage, study_id: int) -> None:
        trials = [storage.create_trial(study_id) for _ in range(3)]
        for trial in trials:
            assert storage.get_trial_id(study_id, trial.number) == trial.trial_id
        storage.get_all_trials(study_id)  # also answer from a warm cache
        assert storage.get_trial_id(study_id, 2) == trials[2].trial_id
        with pytest.raises(TrialNotFoundError):
            storage.get_trial_id(study_id, 3)
        with pytest.raises(TrialNotFoundError):
            storage.get_trial_id(study_id, -1)
        with pytest.raises(StudyNotFoundError):
            storage.get_trial_id(UNKNOWN_ID, 0)

    def test_get_all_trials_order_and_states(self, storage: Storage, study_id: int) -> None:
        complete = _finish(storage, study_id, 1.0)
        running = storage.create_trial(study_id)
        waiting = storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        pruned = storage.create_trial(study_id)
        storage.update_trial(pruned.trial_id, state=TrialState.PRUNED)
        trials = storage.get_all_trials(study_id)
        assert [t.number for t in trials] == [0, 1, 2, 3]
        assert [t.trial_id for t in trials] == [
            complete.trial_id,
            running.trial_id,
            waiting.trial_id,
            pruned.trial_id,
        ]
        assert [t.state for t in trials] == [
            TrialState.COMPLETE,
            TrialState.RUNNING,
            TrialState.WAITING,
            TrialState.PRUNED,
        ]
        finished = storage.get_all_trials(study_id, states=(TrialState.COMPLETE, TrialState.PRUNED))
        assert [t.number for t in finished] == [0, 3]
        assert storage.get_all_trials(study_id, states=()) == []
        assert storage.get_all_trials(study_id, states={TrialState.WAITING}) == [waiting]

    def test_get_all_trials_sees_every_change(self, storage: Storage, study_id: int) -> None:
        # Reads between writes must never serve a stale unfinished trial.
        first = storage.create_trial(study_id)
        assert storage.get_all_trials(study_id, deepcopy=False)[0].state == TrialState.RUNNING
        storage.update_trial(first.trial_id, intermediate_values={0: 1.0})
        assert storage.get_all_trials(study_id)[0].intermediate_values == {0: 1.0}
        storage.update_trial(first.trial_id, state=TrialState.COMPLETE, values=[3.0])
        second = storage.create_trial(study_id)
        trials = storage.get_all_trials(study_id, deepcopy=False)
        assert [(t.state, t.values) for t in trials] == [
            (TrialState.COMPLETE, [3.0]),
            (TrialState.RUNNING, None),
        ]
        storage.update_trial(second.trial_id, state=TrialState.FAIL)
        assert storage.get_all_trials(study_id)[1].state == TrialState.FAIL
        assert storage.get_all_trials(study_id) == storage.get_all_trials(study_id)

    def test_get_all_trials_deepcopy(self, storage: Storage, study_id: int) -> None:
        trial = _finish(
            storage,
            study_id,
            1.0,
            params={"x": (0.5, Float(0.0, 1.0))},
            user_attrs={"list": [1, 2]},
            intermediate_values={0: 1.0},
        )
        copied = storage.get_all_trials(study_id, deepcopy=True)[0]
        copied.user_attrs["list"].append(3)
        copied.user_attrs["new"] = True
        copied.params["x"] = 99.0
        copied.intermediate_values[1] = 5.0
        assert copied.values is not None
        copied.values[0] = 42.0
        for fresh in (
            storage.get_all_trials(study_id, deepcopy=False)[0],
            storage.get_all_trials(study_id)[0],
            storage.get_trial(trial.trial_id),
        ):
            assert fresh == trial
            assert fresh.user_attrs == {"list": [1, 2]}

    def test_get_trial_returns_a_copy(self, storage: Storage, study_id: int) -> None:
        trial = _finish(storage, study_id, 1.0, user_attrs={"list": [1]})
        storage.get_trial(trial.trial_id).user_attrs["list"].append(2)
        assert storage.get_trial(trial.trial_id).user_attrs == {"list": [1]}

    def test_trials_handed_out_and_attrs_taken_in_are_copies(
        self, storage: Storage, study_id: int
    ) -> None:
        # Neither the caller's later edits to what it passed in, nor its edits to the
        # trial it got back, may reach the stored trial.
        nested = {"a": [1]}
        template = TrialTemplate(user_attrs={"nested": nested}, system_attrs={"tags": ["x"]})
        created = storage.create_trial(study_id, template)
        nested["a"].append(2)
        created.user_attrs["nested"]["a"].append(3)
        created.system_attrs["tags"].append("y")
        stored = storage.get_trial(created.trial_id)
        assert stored.user_attrs == {"nested": {"a": [1]}}
        assert stored.system_attrs == {"tags": ["x"]}
        given: dict[str, Any] = {"b": [1, (2, [3])]}
        storage.update_trial(created.trial_id, user_attrs={"given": given})
        given["b"][1][1].append(4)
        assert storage.get_trial(created.trial_id).user_attrs["given"] in (
            {"b": [1, (2, [3])]},
            {"b": [1, [2, [3]]]},  # a storage that keeps JSON gives tuples back as lists
        )
        values = [1.0]
        finished = storage.create_trial(
            study_id, TrialTemplate(state=TrialState.COMPLETE, values=values)
        )
        values.append(2.0)
        assert finished.values is not None
        finished.values.append(3.0)
        assert storage.get_trial(finished.trial_id).values == [1.0]
        started = storage.start_trial(study_id, TrialTemplate(system_attrs={"w": {"id": 1}}))
        started.system_attrs["w"]["id"] = 2
        assert storage.get_trial(started.trial_id).system_attrs == {"w": {"id": 1}}

    def test_get_n_trials(self, storage: Storage, study_id: int) -> None:
        assert storage.get_n_trials(study_id) == 0
        _finish(storage, study_id, 1.0)
        _finish(storage, study_id, 2.0)
        storage.create_trial(study_id)
        storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        assert storage.get_n_trials(study_id) == 4
        assert storage.get_n_trials(study_id, states=(TrialState.COMPLETE,)) == 2
        assert storage.get_n_trials(study_id, states=[TrialState.RUNNING]) == 1
        assert storage.get_n_trials(study_id, states=()) == 0
        unfinished = {TrialState.RUNNING, TrialState.WAITING}
        assert storage.get_n_trials(study_id, states=unfinished) == 2

    # -- values ----------------------------------------------------------------------------

    @pytest.mark.parametrize("value", [math.inf, -math.inf, 0.0, -0.0, 1e300, 1e-300, -2.5])
    def test_values_round_trip(self, storage: Storage, study_id: int, value: float) -> None:
        trial = _finish(storage, study_id, value)
        assert trial.values == [value]

    def test_nan_values_round_trip(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        storage.update_trial(
            trial.trial_id,
            intermediate_values={0: math.nan, 1: math.inf, 2: -math.inf, 3: 1.5},
        )
        storage.update_trial(trial.trial_id, state=TrialState.PRUNED, values=[math.nan])
        stored = storage.get_trial(trial.trial_id)
        reports = stored.intermediate_values
        assert sorted(reports) == [0, 1, 2, 3]
        assert math.isnan(reports[0])
        assert reports[1] == math.inf and reports[2] == -math.inf and reports[3] == 1.5
        assert stored.values is not None and math.isnan(stored.values[0])

    def test_nan_in_attrs_round_trip(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id)
        storage.update_trial(trial.trial_id, user_attrs={"loss": math.nan, "top": math.inf})
        attrs = storage.get_trial(trial.trial_id).user_attrs
        assert math.isnan(attrs["loss"]) and attrs["top"] == math.inf

    def test_multi_objective_values(self, storage: Storage) -> None:
        study_id = storage.create_study([MIN, MAX, MIN], "three")
        trial = storage.create_trial(study_id)
        storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[3.0, -1.0, 0.0])
        assert storage.get_trial(trial.trial_id).values == [3.0, -1.0, 0.0]
        assert storage.get_all_trials(study_id)[0].values == [3.0, -1.0, 0.0]

    # -- time ------------------------------------------------------------------------------

    def test_datetimes_are_naive_utc(self, storage: Storage, study_id: int) -> None:
        before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        trial = _finish(storage, study_id, 1.0)
        now = storage.now()
        assert now.tzinfo is None
        assert trial.datetime_start is not None and trial.datetime_complete is not None
        assert trial.datetime_start.tzinfo is None
        assert trial.datetime_start <= trial.datetime_complete
        # The storage's clock may be another machine's: allow for some skew, not a time
        # zone's worth.
        skew = datetime.timedelta(minutes=5)
        for moment in (now, trial.datetime_start, trial.datetime_complete):
            assert abs(moment - before) < skew

    # -- leases ----------------------------------------------------------------------------

    def test_trial_without_lease_never_goes_stale(self, storage: Storage, study_id: int) -> None:
        storage.create_trial(study_id)
        assert storage.fail_stale_trials(study_id, reason="stale") == []

    def test_lease_expires_unless_renewed(self, storage: Storage, study_id: int) -> None:
        short = storage.create_trial(study_id, TrialTemplate(lease=0.2))
        kept = storage.create_trial(study_id, TrialTemplate(lease=0.2))
        assert storage.fail_stale_trials(study_id, reason="stale") == []
        time.sleep(0.1)
        assert storage.renew_leases([kept.trial_id], 60.0) == []
        time.sleep(0.2)
        failed = storage.fail_stale_trials(study_id, reason="stale: lease expired")
        assert [(f.number, r) for f, r in failed] == [(short.number, None)]
        stored = storage.get_trial(short.trial_id)
        assert stored.state == TrialState.FAIL
        assert stored.datetime_complete is not None
        assert stored.system_attrs["fail_reason"] == "stale: lease expired"
        assert stored.system_attrs["stale"] is True
        assert storage.get_trial(kept.trial_id).state == TrialState.RUNNING
        # Each stale trial is failed once: a second reaper finds nothing.
        assert storage.fail_stale_trials(study_id, reason="stale") == []

    def test_renew_reports_lost_trials(self, storage: Storage, study_id: int) -> None:
        running = storage.create_trial(study_id, TrialTemplate(lease=60.0))
        done = _finish(storage, study_id, 1.0)
        lost = storage.renew_leases([running.trial_id, done.trial_id, UNKNOWN_ID], 60.0)
        assert sorted(lost) == sorted([done.trial_id, UNKNOWN_ID])
        assert storage.renew_leases([], 60.0) == []

    def test_renew_with_zero_seconds_ends_the_lease(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id, TrialTemplate(lease=60.0))
        assert storage.renew_leases([trial.trial_id], 0.0) == []
        time.sleep(0.05)
        failed = storage.fail_stale_trials(study_id, reason="stale")
        assert [f.trial_id for f, _ in failed] == [trial.trial_id]

    def test_finished_trial_is_not_stale(self, storage: Storage, study_id: int) -> None:
        trial = storage.create_trial(study_id, TrialTemplate(lease=0.05))
        storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[1.0])
        time.sleep(0.1)
        assert storage.fail_stale_trials(study_id, reason="stale") == []
        assert storage.get_trial(trial.trial_id).state == TrialState.COMPLETE

    def test_claimed_trial_gets_the_lease(self, storage: Storage, study_id: int) -> None:
        storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        claimed = storage.claim_waiting_trial(study_id, lease=0.05)
        assert claimed is not None
        storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        started = storage.start_trial(study_id, TrialTemplate(lease=0.05))
        assert started.number == 1
        time.sleep(0.1)
        failed = storage.fail_stale_trials(study_id, reason="stale")
        assert [f.number for f, _ in failed] == [0, 1]

    def test_stale_trials_are_per_study(self, storage: Storage, study_id: int) -> None:
        other = storage.create_study([MIN], "other")
        storage.create_trial(other, TrialTemplate(lease=0.05))
        time.sleep(0.1)
        assert storage.fail_stale_trials(study_id, reason="stale") == []
        assert len(storage.fail_stale_trials(other, reason="stale")) == 1

    def test_fail_given_trials_whatever_their_lease(self, storage: Storage, study_id: int) -> None:
        leased = storage.create_trial(study_id, TrialTemplate(lease=60.0))
        unleased = storage.create_trial(study_id)
        done = _finish(storage, study_id, 1.0)
        failed = storage.fail_stale_trials(
            study_id,
            reason="worker died",
            trial_ids=[leased.trial_id, unleased.trial_id, done.trial_id],
        )
        assert [f.number for f, _ in failed] == [leased.number, unleased.number]
        assert storage.get_trial(done.trial_id).state == TrialState.COMPLETE
        assert storage.get_trial(unleased.trial_id).fail_reason == "worker died"

    def test_stale_trial_retry_is_created_and_linked(self, storage: Storage, study_id: int) -> None:
        dist = Float(0.0, 1.0)
        trial = storage.create_trial(study_id, TrialTemplate(lease=0.05))
        storage.update_trial(trial.trial_id, params={"x": (0.25, dist)})
        time.sleep(0.1)
        seen: list[FrozenTrial] = []

        def retry(failed: FrozenTrial) -> TrialTemplate:
            seen.append(failed)
            return TrialTemplate(
                state=TrialState.WAITING,
                system_attrs={"retry_of": failed.number, "fixed_params": dict(failed.params)},
            )

        [(failed, retried)] = storage.fail_stale_trials(study_id, reason="stale", retry=retry)
        assert seen[0].params == {"x": 0.25} and seen[0].state == TrialState.FAIL
        assert retried is not None and retried.state == TrialState.WAITING
        assert failed.system_attrs["retried_as"] == retried.number
        assert storage.get_trial(trial.trial_id).system_attrs["retried_as"] == retried.number
        claimed = storage.claim_waiting_trial(study_id)
        assert claimed is not None and claimed.number == retried.number
        assert claimed.system_attrs["retry_of"] == trial.number

    def test_late_write_to_stale_trial_raises_stale_error(
        self, storage: Storage, study_id: int
    ) -> None:
        trial = storage.create_trial(study_id, TrialTemplate(lease=0.05))
        time.sleep(0.1)
        storage.fail_stale_trials(study_id, reason="stale")
        with pytest.raises(StaleTrialError, match="stale"):
            storage.update_trial(trial.trial_id, state=TrialState.COMPLETE, values=[1.0])
        stored = storage.get_trial(trial.trial_id)
        assert stored.state == TrialState.FAIL and stored.values is None
        # Other finished trials still raise the plain error.
        done = _finish(storage, study_id, 1.0)
        with pytest.raises(UpdateFinishedTrialError) as info:
            storage.update_trial(done.trial_id, user_attrs={"a": 1})
        assert not isinstance(info.value, StaleTrialError)

    # -- budgets ---------------------------------------------------------------------------

    def test_start_trial_respects_max_trials(self, storage: Storage, study_id: int) -> None:
        storage.start_trial(study_id, max_trials=2)
        storage.start_trial(study_id, max_trials=2)
        with pytest.raises(MaxTrialsReached):
            storage.start_trial(study_id, max_trials=2)
        assert storage.get_n_trials(study_id) == 2
        # A queued trial (a retry, say) is still claimed past the budget.
        storage.create_trial(study_id, TrialTemplate(state=TrialState.WAITING))
        assert storage.start_trial(study_id, max_trials=2).number == 2
        with pytest.raises(StudyNotFoundError):
            storage.start_trial(UNKNOWN_ID, max_trials=2)
