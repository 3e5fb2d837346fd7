"""Runs every exported sampler through hyperdial.testing.samplers.SamplerConformance.

Enrolling a sampler is one line in CASES; test_every_exported_sampler_is_enrolled names any
exported sampler that is missing.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import hyperdial.samplers
from hyperdial import FrozenTrial, StudyView
from hyperdial.exceptions import InvalidSpaceError
from hyperdial.samplers import (
    AutoSampler,
    GPSampler,
    GridSampler,
    QMCSampler,
    RandomSampler,
    Sampler,
    TPESampler,
)
from hyperdial.space import Distribution, Float
from hyperdial.testing.samplers import (
    SMALL_SPACE,
    SamplerCase,
    SamplerConformance,
    finite_grid,
)

_FIXED_SPACE = (
    "the space is fixed when the sampler is built (or inferred from the first trial), and "
    "a relative value inside the widened range is kept"
)
_GRID_ONLY = "a grid tries only its declared points"

CASES = [
    SamplerCase("random", lambda seed, space: RandomSampler(seed=seed)),
    SamplerCase(
        "qmc-inferred",
        lambda seed, space: QMCSampler(seed=seed),
        unsupported={"explores_changed_space": _FIXED_SPACE},
    ),
    SamplerCase(
        "qmc-explicit",
        lambda seed, space: QMCSampler(space, seed=seed),
        unsupported={"explores_changed_space": _FIXED_SPACE},
    ),
    SamplerCase(
        "grid",
        lambda seed, space: GridSampler(finite_grid(space, max_values=2), seed=seed),
        unsupported={
            "explores_changed_space": _GRID_ONLY,
            "partially_enqueued_trials": (
                "a grid proposes whole points; it cannot fill in parameters of a trial it "
                "did not queue"
            ),
        },
    ),
    # tests/samplers/test_tpe.py runs the suite over more TPE configurations.
    SamplerCase("tpe", lambda seed, space: TPESampler(seed=seed)),
    # Small acquisition budgets keep the GP fast; tests/samplers/test_gp.py checks quality.
    SamplerCase(
        "gp",
        lambda seed, space: GPSampler(
            seed=seed, n_startup_trials=5, n_candidates=256, n_local_starts=3
        ),
    ),
    SamplerCase("auto", lambda seed, space: AutoSampler(seed=seed, n_startup_trials=3)),
]


class TestConformance(SamplerConformance):
    @pytest.fixture(params=CASES, ids=[case.name for case in CASES])
    def sampler_factory(self, request: pytest.FixtureRequest) -> SamplerCase:
        case: SamplerCase = request.param
        return case


def test_every_exported_sampler_is_enrolled() -> None:
    exported = {
        obj
        for name in hyperdial.samplers.__all__
        if isinstance(obj := getattr(hyperdial.samplers, name), type)
        and issubclass(obj, Sampler)
        and not inspect.isabstract(obj)
    }
    assert RandomSampler in exported  # the walk itself works
    enrolled = {type(case(0, SMALL_SPACE)) for case in CASES}
    missing = sorted(cls.__name__ for cls in exported - enrolled)
    assert not missing, (
        f"exported samplers missing from the conformance run: {missing}; add a SamplerCase "
        "line for each to CASES in tests/samplers/test_conformance.py"
    )


def test_unsupported_property_is_skipped_with_its_reason() -> None:
    case = SamplerCase(
        "declared", lambda seed, space: RandomSampler(seed=seed), {"repr": "no reason really"}
    )
    with pytest.raises(pytest.skip.Exception, match="no reason really"):
        SamplerConformance()._require(case, "repr")
    SamplerConformance()._require(case, "reproducible")  # undeclared: runs


class _RepeatingSampler(Sampler):
    """Draws from one generator held by the sampler: copies in workers repeat each other."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        return distribution.to_external(distribution.from_unit(self._rng.random()))


class _OutOfRangeSampler(Sampler):
    """Proposes past the upper end of numeric ranges."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        if isinstance(distribution, Float):
            return distribution.high + 1.0 + trial.number
        return distribution.to_external(distribution.from_unit(0.5))


def test_the_suite_catches_copies_that_repeat() -> None:
    case = SamplerCase("repeating", lambda seed, space: _RepeatingSampler(seed=seed))
    suite = SamplerConformance()
    suite.test_values_stay_in_distribution(case, "float")  # valid values: passes
    with pytest.raises(AssertionError, match="same point"):
        suite.test_copies_in_workers_do_not_repeat(case)


def test_values_outside_the_distribution_are_refused_naming_the_sampler() -> None:
    case = SamplerCase("out-of-range", lambda seed, space: _OutOfRangeSampler(seed=seed))
    with pytest.raises(InvalidSpaceError, match=r"_OutOfRangeSampler.*bug in the sampler"):
        SamplerConformance().test_values_stay_in_distribution(case, "float")
