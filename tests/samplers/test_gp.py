"""GPSampler: kernel, model, acquisition and warping units; robustness; search quality."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import special

import hyperdial
from hyperdial import FrozenTrial, TrialState
from hyperdial.exceptions import InvalidSpaceError, InvalidValueError, TrialPruned
from hyperdial.samplers import RandomSampler
from hyperdial.samplers._gp import GPSampler
from hyperdial.samplers._gp._acquisition import LogEI, log_augmentation, log_h
from hyperdial.samplers._gp._kernel import (
    matern52,
    matern52_and_derivative,
    pairwise_components,
    scaled_sq_dist,
)
from hyperdial.samplers._gp._model import GPModel, Hyperparameters, _MapObjective, fit_gp
from hyperdial.samplers._gp._optimize_acqf import optimize_acqf
from hyperdial.samplers._gp._sampler import _search_space
from hyperdial.samplers._gp._search_space import EncodedSpace
from hyperdial.samplers._gp._threads import single_threaded_blas
from hyperdial.samplers._gp._warping import warp_objective
from hyperdial.space import Categorical, Float, Int
from hyperdial.testing.samplers import SMALL_SPACE
from hyperdial.trial import Trial

# Small budgets keep the suite fast; the defaults are exercised by the quality tests.
FAST: dict[str, Any] = {"n_candidates": 256, "n_local_starts": 3}


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    # As the sampler does: unit tests call the model directly.
    with single_threaded_blas():
        yield


def _model(x: np.ndarray, y: np.ndarray, categorical: np.ndarray) -> GPModel:
    params = Hyperparameters(np.full(x.shape[1], math.log(0.3)), 0.0, math.log(1e-6))
    return GPModel(x, y, categorical, params)


# -- kernel ------------------------------------------------------------------------------------


def test_kernel_matches_matern52_formula() -> None:
    rng = np.random.default_rng(0)
    xa, xb = rng.random((5, 3)), rng.random((4, 3))
    inv_sq = np.array([4.0, 1.0, 0.25])
    d2 = scaled_sq_dist(xa, xb, inv_sq, np.zeros(3, dtype=bool))
    r = np.sqrt((((xa[:, None, :] - xb[None, :, :]) ** 2) * inv_sq).sum(-1))
    expected = 2.0 * (1 + math.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-math.sqrt(5) * r)
    np.testing.assert_allclose(matern52(d2, 2.0), expected, rtol=1e-10)
    k, dk = matern52_and_derivative(np.array([0.0, 1e-3, 1.0]), 1.5)
    assert k[0] == 1.5 and np.all(np.isfinite(dk))
    h = 1e-7
    numeric = (matern52(np.array([1.0 + h]), 1.5) - matern52(np.array([1.0 - h]), 1.5)) / (2 * h)
    np.testing.assert_allclose(dk[2], numeric[0], rtol=1e-6)


def test_categorical_dimension_is_hamming() -> None:
    x = np.array([[0.1, 0.0], [0.1, 1.0], [0.1, 2.0], [0.1, 0.0]])
    categorical = np.array([False, True])
    d2 = scaled_sq_dist(x, x, np.array([1.0, 3.0]), categorical)
    # Every pair of distinct choices is equally far apart; equal choices are at distance 0.
    assert d2[0, 1] == d2[0, 2] == d2[1, 2] == 3.0
    assert d2[0, 3] == 0.0
    comp = pairwise_components(x, categorical)
    np.testing.assert_array_equal(comp[:, :, 1] * 3.0, d2)
    gram = matern52(d2, 1.0)
    assert np.linalg.eigvalsh(gram).min() > -1e-12


# -- model -------------------------------------------------------------------------------------


def test_posterior_interpolates_noise_free_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((12, 2))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    model = fit_gp(x, y, np.zeros(2, dtype=bool), deterministic=True, rng=rng)
    mean, var, _, _ = model.posterior(x)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    assert np.all(var < 1e-3)
    # Away from the data, the model is uncertain again.
    _, far_var, _, _ = model.posterior(np.array([[5.0, 5.0]]))
    assert far_var[0] > 0.5 * model.outputscale


@pytest.mark.parametrize("deterministic", [False, True])
def test_marginal_likelihood_gradient_matches_finite_differences(deterministic: bool) -> None:
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.random(15), rng.random(15), rng.integers(0, 3, 15)])
    y = rng.normal(size=15)
    fixed = math.log(1e-6) if deterministic else None
    objective = _MapObjective(x, y, np.array([False, False, True]), fixed)
    theta = np.array([math.log(0.4), math.log(0.7), math.log(1.3), 0.2, math.log(0.05)])
    if deterministic:
        theta = theta[:-1]
    _, grad = objective(theta)
    h = 1e-6
    numeric = np.array(
        [
            (objective(theta + h * e)[0] - objective(theta - h * e)[0]) / (2 * h)
            for e in np.eye(theta.size)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_posterior_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.random(10), rng.random(10), rng.integers(0, 2, 10)])
    y = rng.normal(size=10)
    model = _model(x, y, np.array([False, False, True]))
    xq = np.array([[0.3, 0.6, 1.0], [0.8, 0.1, 0.0]])
    _, _, dmean, dvar = model.posterior(xq, with_grad=True)
    acqf = LogEI(model, best=float(y.max()))
    value, dvalue = acqf.value_and_grad(xq)
    np.testing.assert_allclose(value, acqf(xq))
    assert dmean is not None and dvar is not None
    h = 1e-6
    for j in range(2):
        step = np.zeros(3)
        step[j] = h
        mp, vp, _, _ = model.posterior(xq + step)
        mm, vm, _, _ = model.posterior(xq - step)
        np.testing.assert_allclose(dmean[:, j], (mp - mm) / (2 * h), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dvar[:, j], (vp - vm) / (2 * h), rtol=1e-5, atol=1e-7)
        numeric = (acqf(xq + step) - acqf(xq - step)) / (2 * h)
        np.testing.assert_allclose(dvalue[:, j], numeric, rtol=1e-4, atol=1e-6)
    # Categorical coordinates have no gradient.
    assert np.all(dmean[:, 2] == 0.0) and np.all(dvalue[:, 2] == 0.0)


def test_fit_survives_duplicates_and_constant_targets() -> None:
    x = np.repeat(np.array([[0.2, 0.4], [0.7, 0.9]]), 10, axis=0)
    for y in (np.zeros(20), np.tile([1.0, -1.0], 10), np.random.default_rng(0).normal(size=20)):
        for deterministic in (False, True):
            model = fit_gp(
                x, y, np.zeros(2, dtype=bool), deterministic=deterministic,
                rng=np.random.default_rng(0),
            )  # fmt: skip
            mean, var, _, _ = model.posterior(np.array([[0.5, 0.5], [0.2, 0.4]]))
            assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var > 0)


def _smooth_data(n: int, noise_sd: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    f = np.sin(6 * x[:, 0]) + x[:, 1] ** 2
    f = (f - f.mean()) / f.std()
    return x, f + noise_sd * rng.normal(size=n)


def test_learnt_noise_is_tiny_on_noise_free_data() -> None:
    # A prior that insists on some noise smooths over the small differences near an optimum;
    # the data of a deterministic objective must be able to drive the noise to its floor.
    x, y = _smooth_data(30, 0.0, seed=4)
    model = fit_gp(x, y, np.zeros(2, dtype=bool), deterministic=False, rng=np.random.default_rng(0))
    assert math.exp(model.params.log_noise) < 1e-5


@pytest.mark.parametrize("noise_sd", [0.1, 0.3])
def test_real_noise_is_still_learnt(noise_sd: float) -> None:
    x, y = _smooth_data(60, noise_sd, seed=5)
    y = y / y.std()
    true_noise = noise_sd**2 / float(np.var(_smooth_data(60, noise_sd, seed=5)[1]))
    model = fit_gp(x, y, np.zeros(2, dtype=bool), deterministic=False, rng=np.random.default_rng(0))
    assert true_noise / 3 < math.exp(model.params.log_noise) < 3 * true_noise


# -- acquisition -------------------------------------------------------------------------------


def test_log_h_matches_direct_formula_where_it_is_stable() -> None:
    z = np.linspace(-8.0, 8.0, 301)
    direct = np.log(special.ndtr(z) * z + np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi))
    np.testing.assert_allclose(log_h(z), direct, rtol=1e-10, atol=1e-12)


def test_log_ei_is_finite_and_monotone_where_ei_underflows() -> None:
    z = -np.logspace(0.5, 12, 200)  # from -3 to -1e12
    values = log_h(z)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) < 0)  # further below the incumbent, less improvement
    # Direct EI underflows to zero from about z = -38 on...
    with np.errstate(divide="ignore"):
        direct = np.log(special.ndtr(z) * z + np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi))
    assert not np.all(np.isfinite(direct))
    # ...while the asymptote phi(z) / z**2 still describes log EI there
    tail = z < -40
    asymptote = -0.5 * z[tail] ** 2 - 0.5 * math.log(2 * math.pi) - 2 * np.log(-z[tail])
    # (its relative error in EI is O(1/z**2)).
    tolerance = 4.0 / z[tail] ** 2 + 1e-12 * np.abs(asymptote)
    assert np.all(np.abs(values[tail] - asymptote) <= tolerance)


def test_augmentation_factor_matches_its_formula_and_vanishes_below_the_noise() -> None:
    noise = 1e-4
    var = np.logspace(-12, 1, 60)
    value, grad = log_augmentation(var, noise)
    with np.errstate(divide="ignore"):
        direct = np.log(1.0 - math.sqrt(noise) / np.sqrt(var + noise))
    stable = var > 1e-6  # where the direct formula does not cancel
    np.testing.assert_allclose(value[stable], direct[stable], rtol=1e-9)
    assert np.all(np.isfinite(value)) and np.all(np.diff(value) > 0)
    # Far below the noise the factor is var / (2 noise): no reward for re-refining.
    np.testing.assert_allclose(value[:5], np.log(var[:5] / (2 * noise)), rtol=1e-4)
    h = 1e-6 * var
    numeric = (log_augmentation(var + h, noise)[0] - log_augmentation(var - h, noise)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


def test_augmentation_discounts_points_the_model_already_knows() -> None:
    # A basin sampled densely (values differing by 1e-3 of the spread) and a few far points.
    xc = np.linspace(0.2, 0.3, 30)
    x = np.concatenate([xc, [0.0, 0.6, 0.8, 1.0]])[:, None]
    y = np.concatenate([1 - 1e-3 * ((xc - 0.25) / 0.05) ** 2, [-1.0, -1.0, -1.0, -1.0]])
    params = Hyperparameters(np.array([math.log(0.2)]), 0.0, math.log(1e-6))
    model = GPModel(x, y, np.array([False]), params)
    plain, augmented = LogEI(model, float(y.max()), noise=0.0), LogEI(model, float(y.max()))
    inside, outside = np.array([[0.2501]]), np.array([[0.7]])
    # Between two close observations the posterior is as sure as the noise allows: one
    # more evaluation there could not tell much; far from the data nothing changes.
    assert (augmented(inside) - plain(inside))[0] < -2.0
    assert (augmented(outside) - plain(outside))[0] > -0.01


# -- warping -------------------------------------------------------------------------------------


class _Peaked:
    """An acquisition function peaked at ``center`` (for optimizer tests)."""

    def __init__(self, center: np.ndarray) -> None:
        self.center = center

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return -np.sum((x - self.center) ** 2, axis=1)

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self(x), -2.0 * (x - self.center)


def test_acquisition_maximum_on_a_taken_point_is_not_returned() -> None:
    space = EncodedSpace({"n": Int(0, 10), "c": Categorical(["a", "b"])})
    peak = space.encode({"n": 5, "c": "b"})
    assert peak is not None
    kwargs: dict[str, Any] = {"n_candidates": 64, "n_local_starts": 3}
    row, _ = optimize_acqf(
        _Peaked(peak), space, np.random.default_rng(0), incumbents=peak[None, :], **kwargs
    )
    assert space.decode(row) == {"n": 5, "c": "b"}
    # Already evaluated there: the best point left is one grid step away.
    row, _ = optimize_acqf(
        _Peaked(peak), space, np.random.default_rng(0), incumbents=peak[None, :],
        taken=peak[None, :], **kwargs,
    )  # fmt: skip
    assert space.decode(row) in ({"n": 4, "c": "b"}, {"n": 6, "c": "b"})


def test_a_skewed_tail_without_divergence_stays_linear() -> None:
    # A plateau and a long but continuous bad tail (ElasticNet-like): no value is an order
    # of magnitude beyond the rest, so the targets are plain standardized values. Squashing
    # the tail would flatten the slopes that lead off the plateau.
    rng = np.random.default_rng(3)
    values = np.concatenate([0.51 + 1e-4 * rng.random(12), 0.51 + np.geomspace(2e-4, 0.3, 8)])
    plain = -(values - values.mean()) / values.std()
    np.testing.assert_allclose(warp_objective(values, values[:10]), plain, atol=1e-12)


def test_warping_is_monotone_and_standardized() -> None:
    rng = np.random.default_rng(4)
    values = rng.lognormal(0.0, 2.0, size=50)
    t = warp_objective(values)
    order = np.argsort(values)
    assert np.all(np.diff(t[order]) < 0)  # smaller loss -> larger target
    assert abs(t.mean()) < 1e-9 and abs(t.std() - 1.0) < 1e-9
    np.testing.assert_array_equal(warp_objective(np.full(7, 3.0)), np.zeros(7))
    assert warp_objective(np.array([])).size == 0


def test_one_diverged_run_does_not_flatten_the_others() -> None:
    values = np.concatenate([np.linspace(0.1, 1.0, 19), [1e12]])
    t = warp_objective(values)
    good = t[:19]
    # The ordinary runs still span most of the standardized range.
    assert good.max() - good.min() > 1.5
    assert t[19] == t.min() and t[19] > -10


def test_warping_scale_comes_from_the_reference_sample() -> None:
    # A sampler crowds its trials into the best basin: 40 values within 1e-6 of each other.
    rng = np.random.default_rng(0)
    survey = rng.uniform(0.5, 1.5, size=10)  # space-filling startup trials
    crowd = 0.5 + 1e-6 * rng.random(40)
    values = np.concatenate([survey, crowd])
    # Their IQR alone would put every surveyed value in the squashed tail...
    alone = warp_objective(values)[:10]
    assert np.ptp(alone) < 0.05
    # ...the survey's keeps the surveyed values apart, in order.
    t = warp_objective(values, survey)[:10]
    assert np.ptp(t) > 1.0
    assert np.all(np.diff(t[np.argsort(survey)]) < 0)
    # A reference without spread falls back to the values themselves.
    np.testing.assert_array_equal(warp_objective(values, np.ones(3)), warp_objective(values))


# -- search space encoding ---------------------------------------------------------------------


def test_encoding_round_trips_and_snaps_to_grids() -> None:
    space = {
        "f": Float(1e-3, 1.0, log=True),
        "s": Float(0.0, 1.0, step=0.1),
        "i": Int(1, 1000, log=True),
        "j": Int(0, 30, step=3),
        "c": Categorical(["a", None, 2.5]),
    }
    encoded = EncodedSpace(space)
    params = {"f": 0.01, "s": 0.3, "i": 17, "j": 9, "c": None}
    row = encoded.encode(params)
    assert row is not None
    decoded = encoded.decode(row)
    assert decoded["i"] == 17 and decoded["j"] == 9 and decoded["c"] is None
    assert math.isclose(decoded["f"], 0.01) and math.isclose(decoded["s"], 0.3)
    rng = np.random.default_rng(0)
    rows = encoded.from_unit_cube(rng.random((200, 5)))
    for name, dist in space.items():
        j = encoded.names.index(name)
        for u in rows[:, j]:
            if isinstance(dist, Categorical):
                assert u in (0.0, 1.0, 2.0)
            else:
                # Snapped rows sit exactly where to_unit puts a valid value.
                assert math.isclose(u, dist.to_unit(dist.from_unit(u)), abs_tol=1e-12)
    for neighbor in encoded.neighbors(rows[0], rng):
        assert np.sum(neighbor != rows[0]) == 1
    # A choice that no longer exists resembles none of the current ones.
    row = encoded.encode({**params, "c": "gone"})
    assert row is not None and row[encoded.names.index("c")] >= 3


def test_conditional_parameters_are_filled_where_inactive() -> None:
    space = {
        "model": Categorical(["svc", "knn", "tree"]),
        "c": Float(1e-2, 1e2, log=True),
        "k": Int(1, 50),
        "w": Categorical(["uniform", "distance"]),
    }
    conditions: dict[str, tuple[str, list[Any]]] = {
        "c": ("model", ["svc"]), "k": ("model", ["knn", "tree"]), "w": ("model", ["knn"]),
    }  # fmt: skip
    encoded = EncodedSpace(space, conditions)
    col = {name: j for j, name in enumerate(encoded.names)}
    row = encoded.encode({"model": "knn", "k": 7, "w": "distance", "c": 5.0})
    assert row is not None
    assert row[col["c"]] == 0.5  # inactive: the filler, whatever the trial holds
    assert encoded.decode(row) == {"model": "knn", "k": 7, "w": "distance"}
    svc = encoded.encode({"model": "svc", "c": 1.0})
    assert svc is not None and svc[col["w"]] == -1.0
    assert encoded.decode(svc) == {"model": "svc", "c": pytest.approx(1.0)}
    # An active parameter missing from the trial makes the row unreadable.
    assert encoded.encode({"model": "knn", "k": 7}) is None
    # Every candidate is consistent: inactive columns hold the filler, active ones a value.
    rng = np.random.default_rng(1)
    rows = np.vstack([encoded.from_unit_cube(rng.random((300, 4))), encoded.neighbors(row, rng)])
    rows = np.vstack([rows, encoded.perturb(rows, 300, rng)])
    inactive = encoded.inactive(rows)
    np.testing.assert_array_equal(
        rows[inactive], np.broadcast_to(encoded.fill, rows.shape)[inactive]
    )
    assert np.all(rows[~inactive & encoded.categorical[None, :]] >= 0)
    for r in rows:
        params = encoded.decode(r)
        active = {"svc": {"c"}, "knn": {"k", "w"}, "tree": {"k"}}[params["model"]]
        assert set(params) == {"model"} | active


def test_conditions_are_inferred_from_the_history() -> None:
    study = hyperdial.create_study(sampler=RandomSampler(seed=0))

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        family = trial.suggest_categorical("family", ["a", "b", "c"])
        if family == "a":
            x += trial.suggest_float("lr", 1e-3, 1.0, log=True)
        elif family == "b":
            x += trial.suggest_int("depth", 1, 8)
        if trial.number % 2:
            x += trial.suggest_float("sometimes", 0.0, 1.0)  # not explained by a choice
        return x

    study.optimize(objective, n_trials=30, show_progress_bar=False)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    space, conditions = _search_space(complete)
    assert set(space) == {"x", "family", "lr", "depth"}
    assert conditions == {"lr": ("family", ["a"]), "depth": ("family", ["b"])}


def test_an_integer_parent_switches_its_children() -> None:
    # Layer widths under a number of layers: width i is active when n_layers > i.
    space = {"n_layers": Int(1, 4), "w0": Int(16, 256, log=True), "w1": Int(16, 256, log=True)}
    encoded = EncodedSpace(space, {"w1": ("n_layers", [2, 3, 4])})
    col = {name: j for j, name in enumerate(encoded.names)}
    one = encoded.encode({"n_layers": 1, "w0": 64, "w1": 100})
    assert one is not None and one[col["w1"]] == 0.5  # inactive: the filler
    assert encoded.decode(one) == {"n_layers": 1, "w0": 64}
    three = encoded.encode({"n_layers": 3, "w0": 64, "w1": 100})
    assert three is not None and encoded.decode(three) == {"n_layers": 3, "w0": 64, "w1": 100}
    assert encoded.encode({"n_layers": 2, "w0": 64}) is None  # w1 active but missing
    rng = np.random.default_rng(0)
    rows = np.vstack([encoded.from_unit_cube(rng.random((200, 3))), encoded.neighbors(one, rng)])
    rows = np.vstack([rows, encoded.perturb(rows, 200, rng)])
    for r in rows:
        params = encoded.decode(r)
        assert ("w1" in params) == (params["n_layers"] >= 2), params
    # A neighbour that adds a layer switches its width on.
    assert any("w1" in encoded.decode(r) for r in encoded.neighbors(one, rng))
    with pytest.raises(InvalidSpaceError, match="parent"):
        EncodedSpace({"x": Float(0, 1), "y": Float(0, 1)}, {"y": ("x", [0.5])})


def test_conditions_on_an_integer_are_inferred_and_extended_beyond_the_values_seen() -> None:
    study = hyperdial.create_study(sampler=RandomSampler(seed=0))

    def objective(trial: Trial) -> float:
        # Completed trials have 1 to 3 layers; a width seen with 2 and 3 layers (never
        # with 1) is active with 4 as well, so the GP may propose a fourth layer.
        n = trial.suggest_int("n_layers", 1, 4)
        if n == 4:
            raise TrialPruned()
        return sum(trial.suggest_int(f"w{i}", 16, 256, log=True) for i in range(n)) / 100

    study.optimize(objective, n_trials=30, show_progress_bar=False)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    space, conditions = _search_space(complete)
    assert set(space) == {"n_layers", "w0", "w1", "w2"}
    assert conditions == {"w1": ("n_layers", [2, 3, 4]), "w2": ("n_layers", [3, 4])}
    modelled, parents = GPSampler().modelled_space(complete)
    assert modelled == space and parents == {"w1": "n_layers", "w2": "n_layers"}


def test_widths_under_a_number_of_layers_are_modelled() -> None:
    # The best network has two layers of 128 units; the GP proposes every width it needs.
    def objective(trial: Trial) -> float:
        n = trial.suggest_int("n_layers", 1, 3)
        widths = [trial.suggest_int(f"w{i}", 16, 256, log=True) for i in range(n)]
        # Early on a later categorical can split the trials as n_layers does; such a
        # coincidence must not switch a width on for the wrong trials.
        batch = trial.suggest_categorical("batch", [32, 64, 128])
        return (n - 2) ** 2 + sum((math.log2(w) - 7) ** 2 for w in widths) / n + batch / 3200

    sampler = GPSampler(seed=0, n_startup_trials=8, **FAST)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(objective, n_trials=30, show_progress_bar=False)
    for trial in study.get_trials()[8:]:
        proposal = trial.system_attrs.get("GPSampler:proposal")
        assert isinstance(proposal, dict), trial.number
        widths = {name for name in proposal if name.startswith("w")}
        assert widths <= {f"w{i}" for i in range(proposal["n_layers"])}, proposal
    assert study.best_params["n_layers"] == 2
    assert study.best_value < 0.1


def _layers_trial(number: int, n_layers: int, batch: int) -> FrozenTrial:
    """A completed trial with ``w1`` present from two layers on."""
    params: dict[str, Any] = {"n_layers": n_layers, "batch": batch}
    distributions: dict[str, Any] = {"n_layers": Int(1, 4), "batch": Categorical([32, 64])}
    if n_layers > 1:
        params["w1"], distributions["w1"] = 64, Int(16, 256, log=True)
    return FrozenTrial(
        number=number,
        trial_id=number,
        state=TrialState.COMPLETE,
        params=params,
        distributions=distributions,
        values=[0.0],
    )


def test_a_stepped_float_parent_keeps_its_top_value() -> None:
    # 0.0 + 3 * 0.1 is a rounding error past 0.3; the grid's last value is 0.3 itself.
    rate = Float(0.0, 0.3, step=0.1)
    complete = [
        FrozenTrial(
            number=i,
            trial_id=i,
            state=TrialState.COMPLETE,
            params={"rate": r, **({"w": 5} if r >= 0.2 else {})},
            distributions={"rate": rate, **({"w": Int(1, 9)} if r >= 0.2 else {})},
            values=[0.0],
        )
        for i, r in enumerate((0.0, 0.2, 0.1, 0.2))
    ]
    assert _search_space(complete)[1] == {"w": ("rate", [0.2, 0.3])}
    encoded = EncodedSpace(*_search_space(complete))
    top = encoded.encode({"rate": 0.3, "w": 5})
    assert top is not None and encoded.decode(top) == {"rate": 0.3, "w": 5}


def test_a_parameter_two_parents_explain_is_not_modelled() -> None:
    # Both ``batch`` and ``n_layers`` separate the trials with ``w1`` from those without;
    # the history cannot say which decides.
    history = ((1, 64), (2, 32), (1, 64), (3, 32))
    complete = [_layers_trial(i, n, b) for i, (n, b) in enumerate(history)]
    space, conditions = _search_space(complete)
    assert set(space) == {"n_layers", "batch"} and conditions == {}
    # One more trial tells them apart: a second layer with batch size 64.
    space, conditions = _search_space([*complete, _layers_trial(4, 2, 64)])
    assert conditions == {"w1": ("n_layers", [2, 3, 4])}


def test_a_value_between_those_seen_with_and_without_stays_inactive() -> None:
    # Seen with 3 layers and with 1, never with 2: the threshold may be 2 or 3, so the GP
    # switches ``w1`` on for 3 and 4 only.
    complete = [_layers_trial(i, n, 32) for i, n in enumerate((1, 3, 1, 3))]
    complete += [_layers_trial(4, 1, 64), _layers_trial(5, 3, 64)]
    assert _search_space(complete)[1] == {"w1": ("n_layers", [3, 4])}


def test_branch_parameters_are_modelled() -> None:
    # Each family has its own narrow optimum; the GP proposes the branch parameters too.
    def objective(trial: Trial) -> float:
        family = trial.suggest_categorical("family", ["a", "b"])
        if family == "a":
            return (trial.suggest_float("u", 0.0, 1.0) - 0.3) ** 2
        return 0.5 + (trial.suggest_float("v", 0.0, 1.0) - 0.7) ** 2

    sampler = GPSampler(seed=1, n_startup_trials=6, **FAST)
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(objective, n_trials=25, show_progress_bar=False)
    proposals = [t.system_attrs.get("GPSampler:proposal") for t in study.get_trials()[6:]]
    assert all(isinstance(p, dict) and len(p) == 2 for p in proposals), proposals
    assert study.best_value < 1e-4


# -- the sampler ---------------------------------------------------------------------------------


def test_options_are_validated() -> None:
    for kwargs in (
        {"n_startup_trials": 0},
        {"n_startup_trials": 2.5},
        {"n_candidates": 0},
        {"n_local_starts": True},
        {"deterministic_objective": 1},
        {"consider_running_trials": "yes"},
        {"seed": -1},
    ):
        with pytest.raises(InvalidValueError):
            GPSampler(**kwargs)
    text = repr(GPSampler(seed=3))
    assert text.startswith("GPSampler(") and "seed=3" in text and "n_startup_trials=10" in text


def _mixed_objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 64, log=True)
    s = trial.suggest_float("s", 0.0, 1.0, step=0.25)
    k = trial.suggest_int("k", 0, 20, step=4)
    c = trial.suggest_categorical("c", ["a", "b", None, 3])
    return (
        (x - 0.5) ** 2
        + math.log10(lr / 1e-2) ** 2
        + abs(math.log2(n) - 3)
        + s
        + k / 20
        + (0.0 if c is None else 1.0)
    )


def test_mixed_space_values_are_valid_and_attributed() -> None:
    study = hyperdial.create_study(sampler=GPSampler(seed=0, n_startup_trials=5, **FAST))
    study.optimize(_mixed_objective, n_trials=20, show_progress_bar=False)
    trials = study.get_trials()
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for trial in trials:
        for name, value in trial.params.items():
            dist = trial.distributions[name]
            assert dist.contains_value(value), (name, value)
        assert type(trial.params["n"]) is int and type(trial.params["k"]) is int
        assert trial.params["k"] % 4 == 0
    sources = [t.system_attrs["sampler"] for t in trials]
    assert sources[:5] == ["GP-startup"] * 5 and set(sources[5:]) == {"GP"}


def test_same_seed_same_trials() -> None:
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(sampler=GPSampler(seed=11, n_startup_trials=4, **FAST))
        study.optimize(_mixed_objective, n_trials=10, show_progress_bar=False)
        runs.append([t.params for t in study.get_trials()])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("deterministic", [False, True])
def test_constant_objective_and_duplicates(deterministic: bool) -> None:
    sampler = GPSampler(seed=1, n_startup_trials=3, deterministic_objective=deterministic, **FAST)
    study = hyperdial.create_study(sampler=sampler)

    # Six points in all: duplicates are unavoidable, and the value never changes.
    def objective(trial: Trial) -> float:
        trial.suggest_int("i", 0, 2)
        trial.suggest_categorical("c", ["a", "b"])
        return 1.0

    study.optimize(objective, n_trials=20, show_progress_bar=False)
    trials = study.get_trials()
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.system_attrs["sampler"] for t in trials[3:]} == {"GP"}


def test_twenty_dimensions_and_a_huge_loss() -> None:
    def objective(trial: Trial) -> float:
        x = np.array([trial.suggest_float(f"x{i:02d}", 0.0, 1.0) for i in range(20)])
        if trial.number == 4:
            return 1e300  # a diverged run
        return float(np.sum((x - 0.3) ** 2))

    study = hyperdial.create_study(sampler=GPSampler(seed=2, n_startup_trials=8, **FAST))
    study.optimize(objective, n_trials=20, show_progress_bar=False)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 20
    assert study.best_value < 1.5


def test_one_dimension_maximize() -> None:
    study = hyperdial.create_study(
        direction="maximize", sampler=GPSampler(seed=3, n_startup_trials=3, **FAST)
    )
    study.optimize(
        lambda t: -((t.suggest_float("x", -10.0, 10.0) - 3.3) ** 2), n_trials=12,
        show_progress_bar=False,
    )  # fmt: skip
    assert study.best_value > -0.05


def _study_past_startup(consider_running_trials: bool) -> hyperdial.Study:
    """A 1-D study whose GP has just finished its 6 start-up trials."""
    sampler = GPSampler(
        seed=4, n_startup_trials=6, consider_running_trials=consider_running_trials, **FAST
    )
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(
        lambda t: math.sin(8 * t.suggest_float("x", 0.0, 1.0)), n_trials=6,
        show_progress_bar=False,
    )  # fmt: skip
    return study


def _three_workers_at_once(consider_running_trials: bool) -> list[float]:
    study = _study_past_startup(consider_running_trials)
    # Three workers ask before any of them reports: their parameters are not stored yet,
    # but each sees the others' proposals as in flight.
    live = [study.ask() for _ in range(3)]
    return [t.suggest_float("x", 0.0, 1.0) for t in live]


def test_running_trials_make_workers_spread_out() -> None:
    def spread(xs: list[float]) -> float:
        return min(abs(a - b) for i, a in enumerate(xs) for b in xs[i + 1 :])

    together = _three_workers_at_once(True)
    alone = _three_workers_at_once(False)
    assert spread(together) > 1e-3
    assert spread(together) > 10 * spread(alone)


def _propose_with_an_earlier_trial_still_choosing(consider_running_trials: bool) -> float:
    study = _study_past_startup(consider_running_trials)
    # Trial 6 was asked first (as by another worker) and has neither parameters nor a
    # proposal yet when trial 7 chooses its point.
    study.ask()
    return study.ask().suggest_float("x", 0.0, 1.0)


def test_later_trial_steps_over_an_earlier_one_still_choosing() -> None:
    alone = _three_workers_at_once(False)[0]  # where trial 6 goes when no one else asks
    second = _propose_with_an_earlier_trial_still_choosing(True)
    unaware = _propose_with_an_earlier_trial_still_choosing(False)
    # Without the trial-number tie-break, trial 7 would go where trial 6 is about to go.
    assert abs(unaware - alone) < 1e-3
    assert abs(second - alone) > 1e-2


def test_threads_never_propose_the_same_point() -> None:
    study = hyperdial.create_study(sampler=GPSampler(seed=7, n_startup_trials=3, **FAST))

    def worker() -> None:
        for _ in range(4):
            trial = study.ask()
            x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
            study.tell(trial, (x - 0.3) ** 2 + (y - 0.6) ** 2)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    points = [(t.params["x"], t.params["y"]) for t in study.get_trials()]
    assert len(set(points)) == len(points) == 12


def _discrete_study(consider_running_trials: bool) -> hyperdial.Study:
    sampler = GPSampler(
        seed=5, n_startup_trials=5, consider_running_trials=consider_running_trials, **FAST
    )
    study = hyperdial.create_study(sampler=sampler)
    study.optimize(_discrete_objective, n_trials=6, show_progress_bar=False)
    return study


def _discrete_objective(trial: Trial) -> float:
    n = trial.suggest_int("n", 0, 30)
    return (n - 17) ** 2 + (3.0 if trial.suggest_categorical("c", ["a", "b"]) == "a" else 0.0)


def _point(trial: hyperdial.Trial) -> tuple[int, str]:
    return trial.suggest_int("n", 0, 30), trial.suggest_categorical("c", ["a", "b"])


@pytest.mark.parametrize("aware", [True, False])
def test_a_point_another_worker_claimed_is_not_taken_again(aware: bool) -> None:
    # Another worker (here: a twin study, same seed and history) chose at the same moment,
    # found the same maximum and claimed it before its proposal became visible.
    twin = _discrete_study(aware)
    asked = twin.ask()
    n, c = _point(asked)
    study = _discrete_study(aware)
    if aware:
        attrs = twin._storage.get_study_system_attrs(twin._study_id)
        claim = [k for k, v in attrs.items() if k.startswith("GPSampler:") and v == asked.number]
        assert len(claim) == 1
        study._storage.set_study_system_attr(study._study_id, claim[0], 99)
    trial = study.ask()
    point = _point(trial)
    assert (point != (n, c)) is aware
    if aware:
        # The trial published the point it did take, for the other workers' models.
        stored = next(t for t in study.trials if t.number == trial.number)
        assert stored.system_attrs["GPSampler:proposal"] == {"n": point[0], "c": point[1]}


def test_workers_on_a_discrete_space_never_take_the_same_point(tmp_path: Path) -> None:
    study = hyperdial.create_study(
        storage=f"sqlite:///{tmp_path}/s.db", sampler=GPSampler(seed=0, n_startup_trials=4, **FAST)
    )
    # A near-instant objective: workers often choose at the same moment.
    study.optimize(_flat_objective, n_trials=30, n_jobs=3, show_progress_bar=False)
    points = [_key(t.params) for t in study.trials]
    assert len(points) == 30
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len(set(points)) == len(points)


def _flat_objective(trial: Trial) -> float:
    return float(_point(trial)[0] % 3)


def _key(params: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted(params.items()))


def test_pruned_failed_and_conditional_history() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        family = trial.suggest_categorical("family", ["a", "b"])
        if family == "a":
            trial.suggest_int("depth", 1, 8)
        if trial.number % 5 == 3:
            raise ValueError("failed")
        if trial.number % 5 == 4:
            trial.report(x, 0)
            raise TrialPruned()
        return (x - 0.7) ** 2

    study = hyperdial.create_study(sampler=GPSampler(seed=5, n_startup_trials=4, **FAST))
    study.optimize(objective, n_trials=25, catch=ValueError, show_progress_bar=False)
    states = [t.state for t in study.get_trials()]
    assert states.count(TrialState.COMPLETE) == 15
    assert all("depth" in t.params for t in study.get_trials() if t.params.get("family") == "a")


def test_changed_choices_are_matched_by_value() -> None:
    study = hyperdial.create_study(sampler=GPSampler(seed=6, n_startup_trials=4, **FAST))
    for number in range(12):
        choices = ["sgd", "adam"] if number < 6 else ["adam", "lion", "sgd"]
        trial = study.ask()
        opt = trial.suggest_categorical("opt", choices)
        x = trial.suggest_float("x", 0.0, 1.0)
        assert opt in choices
        study.tell(trial, x + (0.0 if opt == "adam" else 1.0))


# -- search quality ------------------------------------------------------------------------------


def _branin(trial: Trial) -> float:
    x1 = trial.suggest_float("x1", -5.0, 10.0)
    x2 = trial.suggest_float("x2", 0.0, 15.0)
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)  # fmt: skip
_H_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)  # fmt: skip
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(trial: Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)])
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


@pytest.mark.parametrize(
    ("objective", "optimum"), [(_branin, 0.397887), (_hartmann6, -3.32237)], ids=["branin", "h6"]
)
def test_beats_random_search(objective: Any, optimum: float) -> None:
    regrets: dict[str, list[float]] = {"gp": [], "random": []}
    for seed in range(3):
        for name, sampler in (
            ("gp", GPSampler(seed=seed, **FAST)),
            ("random", RandomSampler(seed=seed)),
        ):
            study = hyperdial.create_study(sampler=sampler)
            study.optimize(objective, n_trials=40, show_progress_bar=False)
            regrets[name].append(study.best_value - optimum)
    gp, rnd = float(np.mean(regrets["gp"])), float(np.mean(regrets["random"]))
    assert gp < 0.5 * rnd, regrets
    assert max(regrets["gp"]) < max(regrets["random"]), regrets


def test_small_space_is_modelled() -> None:
    sampler = GPSampler(seed=0, n_startup_trials=5, **FAST)
    study = hyperdial.create_study(sampler=sampler)

    def objective(trial: Trial) -> float:
        total = 0.0
        for name, dist in SMALL_SPACE.items():
            value = trial.suggest(name, dist)
            total += (dist.to_unit(dist.to_internal(value)) - 0.3) ** 2
        return total

    study.optimize(objective, n_trials=15, show_progress_bar=False)
    assert study.get_trials()[-1].system_attrs["sampler"] == "GP"
