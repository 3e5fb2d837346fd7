"""Claims on points of a finite space, so that parallel workers never evaluate one twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import PluginState, StudyView
from hyperdial.space import Categorical, Distribution, Float, Int

__all__ = ["claim_point", "is_finite"]


def is_finite(space: dict[str, Distribution]) -> bool:
    """Whether every parameter of ``space`` has finitely many values."""
    return all(
        isinstance(dist, (Int, Categorical)) or (isinstance(dist, Float) and dist.step is not None)
        for dist in space.values()
    )


def claim_point(
    study: StudyView,
    trial: FrozenTrial,
    namespace: str,
    params: dict[str, Any],
    propose_again: Callable[[list[dict[str, Any]]], dict[str, Any] | None],
    *,
    max_attempts: int = 8,
) -> dict[str, Any]:
    """Claim ``params`` for ``trial``; on losing, propose again without the points lost.

    Workers that choose at the same moment cannot see each other's proposals, and in a
    finite space they often find the same best point. The claim is atomic in the study's
    shared state (``namespace``), so exactly one trial takes a point; the others call
    ``propose_again`` with the points they lost and claim its answer.

    Args:
        study: The study's view.
        trial: The trial choosing its point.
        namespace: The sampler's corner of the shared state.
        params: The proposed point.
        propose_again: Returns another point, avoiding those given, or None if it has none.
        max_attempts: Proposals after which a lost point is taken anyway: a repeat is
            better than no trial when (nearly) every point is taken.

    Returns:
        The point the trial takes.
    """
    claims = study.state(namespace)
    lost: list[dict[str, Any]] = []
    while not _claim(study, claims, _claim_key(params), trial.number):
        lost.append(params)
        again = propose_again(lost) if len(lost) <= max_attempts else None
        if again is None or again in lost:
            break
        params = again
    return params


def _claim(study: StudyView, claims: PluginState, key: str, number: int) -> bool:
    """Claim ``key`` for trial ``number``; a claim whose trial failed may be taken over."""
    failed: set[int] | None = None
    while not claims.set_if_absent(key, number):
        owner = claims.get(key)
        if owner == number:
            return True
        if failed is None:
            failed = {t.number for t in study.get_trials(states=(TrialState.FAIL,))}
        if owner not in failed:
            return False
        # The point was never evaluated (a crash, say): it is free again. Claims on it go
        # under a key named after the failed trial, so exactly one worker takes it over.
        key = f"{key}:{owner}"
    return True


def _claim_key(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, default=repr)
    return "point:" + hashlib.sha256(text.encode()).hexdigest()[:24]
