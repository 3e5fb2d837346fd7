"""Every exported pruner against the conformance suite."""

from __future__ import annotations

import inspect

import pytest

from hyperdial import pruners
from hyperdial.pruners import (
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatientPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
)
from hyperdial.testing.pruners import PrunerConformance, PrunerFactory

# Pruners whose decisions do not depend on the sign of the values.
DIRECTIONAL: dict[str, PrunerFactory] = {
    "nop": NopPruner,
    "median": lambda: MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    "median-interval": lambda: MedianPruner(n_startup_trials=2, interval_steps=3, n_min_trials=2),
    "percentile": lambda: PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=1),
    "patient": lambda: PatientPruner(None, patience=2, min_delta=0.02),
    "patient-median": lambda: PatientPruner(MedianPruner(n_startup_trials=2), patience=1),
    "asha-auto": SuccessiveHalvingPruner,
    "asha": lambda: SuccessiveHalvingPruner(min_resource=2, reduction_factor=2),
    "hyperband-auto": HyperbandPruner,
    "hyperband": lambda: HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3),
    "hyperband-per-bracket": lambda: HyperbandPruner(max_resource=27, share_trials=False),
}
# Pruners that stop even the first trial to reach a rung, until enough trials have.
BOOTSTRAPPED: dict[str, PrunerFactory] = {
    "asha-bootstrap": lambda: SuccessiveHalvingPruner(
        min_resource=1, min_early_stopping_rate=1, bootstrap_count=2
    ),
    "hyperband-bootstrap": lambda: HyperbandPruner(max_resource=27, bootstrap_count=3),
}
# Pruners with absolute bounds: negating the values changes what they do.
ABSOLUTE: dict[str, PrunerFactory] = {
    "threshold-upper": lambda: ThresholdPruner(upper=1.2, n_warmup_steps=1),
    "threshold-both": lambda: ThresholdPruner(lower=-1.5, upper=1.5, interval_steps=2),
}


class TestDirectionalPruners(PrunerConformance):
    @pytest.fixture(params=list(DIRECTIONAL))
    def pruner_factory(self, request: pytest.FixtureRequest) -> PrunerFactory:
        return DIRECTIONAL[request.param]


class TestBootstrappedPruners(PrunerConformance):
    spares_leader = False

    @pytest.fixture(params=list(BOOTSTRAPPED))
    def pruner_factory(self, request: pytest.FixtureRequest) -> PrunerFactory:
        return BOOTSTRAPPED[request.param]


class TestThresholdPruners(PrunerConformance):
    symmetric_in_direction = False
    # A leader by rank may still sit outside absolute bounds when maximizing.
    spares_leader = False

    @pytest.fixture(params=list(ABSOLUTE))
    def pruner_factory(self, request: pytest.FixtureRequest) -> PrunerFactory:
        return ABSOLUTE[request.param]


def test_every_exported_pruner_is_in_the_run() -> None:
    exported = {
        obj
        for name in pruners.__all__
        if inspect.isclass(obj := getattr(pruners, name))
        and issubclass(obj, Pruner)
        and not inspect.isabstract(obj)
    }
    covered = {
        type(factory())
        for factory in [*DIRECTIONAL.values(), *BOOTSTRAPPED.values(), *ABSOLUTE.values()]
    }
    missing = sorted(cls.__name__ for cls in exported - covered)
    assert not missing, f"add these pruners to the conformance run: {missing}"
    expected: set[type[Pruner]] = {MedianPruner, HyperbandPruner, ThresholdPruner}
    assert expected <= exported
