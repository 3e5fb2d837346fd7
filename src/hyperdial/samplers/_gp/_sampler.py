"""Bayesian optimization with a Gaussian process: :class:`GPSampler`."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from hyperdial._checks import check_int
from hyperdial._frozen import FrozenTrial, StudyDirection, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._claims import claim_point, is_finite
from hyperdial.samplers._gp._acquisition import LogEI
from hyperdial.samplers._gp._model import GPModel, Hyperparameters, fit_gp
from hyperdial.samplers._gp._optimize_acqf import optimize_acqf
from hyperdial.samplers._gp._search_space import EncodedSpace, grid_size
from hyperdial.samplers._gp._threads import single_threaded_blas
from hyperdial.samplers._gp._warping import warp_objective
from hyperdial.samplers._qmc import QMCSampler
from hyperdial.samplers._rng import resolve_seed, trial_rng
from hyperdial.space import Categorical, Distribution, Float, Int

__all__ = ["GPSampler"]

FloatArray = NDArray[np.float64]

# Trial system attribute with the point this sampler proposed, so that other workers can
# treat the trial as in flight before its parameters are stored.
_PROPOSAL_KEY = "GPSampler:proposal"
_N_INCUMBENTS = 5
# At most this many earlier trials still choosing their point are stepped over (each step
# costs one acquisition optimization).
_MAX_BLIND = 4
# Integers (and stepped floats) with at most this many values may explain when a conditional
# parameter is present (a number of layers and each layer's width).
_MAX_PARENT_VALUES = 32
# A multi-start hyperparameter search after this many new observations (or a fifth of
# the data, when more); warm start only in between.
_EXPLORE_EVERY = 10
# Hyperparameters are refitted once the data grew by 1/50 (every trial up to 100 trials,
# every 6th at 300); in between the model is conditioned on all data with the last fit.
_REFIT_FRACTION = 50


@dataclass(frozen=True)
class _Proposal:
    """A point the model proposed, and whether the space it was chosen from is finite."""

    params: dict[str, Any]
    finite: bool


@dataclass(frozen=True)
class _Fit:
    """Cached hyperparameters of one study and search space."""

    n_trials: int  # observations of the fit
    params: Hyperparameters
    n_trials_explored: int  # observations at the last multi-start fit


class GPSampler(Sampler):
    """Bayesian optimization with a Gaussian-process model and log expected improvement.

    Finds good hyperparameters in fewer trials than random or quasi-random search when each
    trial is expensive and the space has up to a few dozen mostly numerical parameters.

    How a trial's parameters are chosen:

    1. **Startup.** Until ``n_startup_trials`` trials have completed, scrambled Sobol points
       (trial ``n`` takes point ``n``, see :class:`~hyperdial.samplers.QMCSampler`).
    2. **Model.** A GP with a Matern-5/2 kernel, one lengthscale per parameter, and a
       constant mean, is fitted by MAP with dimension-scaled priors (after Hvarfner et al.
       2024) to the completed trials. Inputs are the unit cube (log parameters in log
       space); categorical parameters enter through a Hamming distance. Objective values
       are standardized; runs that diverged (an order of magnitude beyond the others, in
       robust units of the startup trials, a sample of the whole space) keep their rank but
       not their size, so one diverged run does not flatten the model.
       Hyperparameters are warm-started from the previous fit.
    3. **Acquisition.** Log expected improvement (Ament et al. 2023), augmented (Huang et
       al. 2006) so that it does not spend trials re-refining what the model already knows
       to the noise's resolution, maximized over Sobol candidates and perturbations of the
       best trials, then L-BFGS-B on continuous parameters and +-step / choice moves on
       integers, stepped floats and categoricals.

    Which trials it learns from:

    * **Search space.** The parameters present in every completed trial (with the latest
      trial's distribution; a categorical's choices are matched by value), and the
      parameters of conditional branches whose presence exactly one of those
      categoricals or integers explains (a model family's own hyperparameters, present
      exactly when ``model`` took certain values; the width of layer ``i``, present when
      ``n_layers > i``: such a parameter is active for the integer's values seen with it
      and those beyond them). A branch's parameters are modelled where active and filled
      with a constant elsewhere (Levesque et al. 2017), and proposed with their branch.
      Other parameters (nested deeper, present for reasons the history does not show, or
      explained by two parents at once, which a short history can do by coincidence) are
      drawn independently at random.
    * **Pruned trials** enter the model at the worst completed value: the pruner judged
      them worse than the runs it let finish, so the model is steered away from them.
    * **Failed trials** are ignored (they may have failed for reasons unrelated to their
      parameters).
    * **Running trials** (other workers'), whose parameters are stored or which this
      sampler proposed, are added as noise-free fantasies at the model's posterior mean
      ("kriging believer", Ginsbourger et al. 2010): the model's uncertainty vanishes
      there, so parallel workers spread out instead of proposing the same point. Workers
      that choose at the same moment cannot see each other's proposals; there the trial
      number breaks the tie: a trial with ``k`` earlier trials still choosing takes point
      ``k + 1`` of a greedy kriging-believer batch (at most 5), so they do not all take
      the acquisition's maximum.
    * **Repeats.** A point already evaluated or in flight is not proposed again, even
      where a model that learnt noise finds its acquisition maximum there. In a finite
      space (integers, stepped floats and categoricals only), where workers choosing at
      the same moment often find the same maximum, each trial claims its point atomically
      in the study's shared state; a trial that loses a claim proposes again without that
      point, so no two workers evaluate the same configuration. A failed trial's point is
      free again.

    Args:
        n_startup_trials: Completed trials before the model takes over.
        deterministic_objective: The objective gives the same value for the same
            parameters: the noise is fixed near zero instead of being learnt.
        n_candidates: Sobol points scored per trial before local optimization.
        n_local_starts: How many of the best candidates are refined by local search.
        consider_running_trials: Treat other workers' running trials as fantasies.
        seed: Same seed, same trials (in a sequential run); parallel copies of the sampler
            still propose different points since randomness is drawn per trial.

    Raises:
        InvalidValueError: if an option is out of range.

    Example:
        >>> import hyperdial
        >>> from hyperdial.samplers._gp import GPSampler
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -5.0, 5.0)
        ...     n = trial.suggest_int("n", 1, 8)
        ...     return (x - 1.0) ** 2 + (n - 3) ** 2
        >>> study = hyperdial.create_study(sampler=GPSampler(seed=0))
        >>> study.optimize(objective, n_trials=20, show_progress_bar=False)
        >>> study.best_value < 1.0
        True
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        n_candidates: int = 2048,
        n_local_starts: int = 5,
        consider_running_trials: bool = True,
        seed: int | None = None,
    ) -> None:
        self.n_startup_trials = check_int("GPSampler", "n_startup_trials", n_startup_trials, 1)
        self.n_candidates = check_int("GPSampler", "n_candidates", n_candidates, 1)
        self.n_local_starts = check_int("GPSampler", "n_local_starts", n_local_starts, 1)
        for name, flag in (
            ("deterministic_objective", deterministic_objective),
            ("consider_running_trials", consider_running_trials),
        ):
            if not isinstance(flag, bool):
                raise InvalidValueError(f"GPSampler: {name} must be True or False. Got {flag!r}.")
        self.deterministic_objective = deterministic_objective
        self.consider_running_trials = consider_running_trials
        self.seed = seed
        self._seed = resolve_seed(seed)
        self._startup = QMCSampler(seed=self._seed)
        # Per (study, search space): the last fit's hyperparameters, to warm-start the
        # next fit, or to reuse while few trials have finished since.
        self._fits: dict[tuple[str, tuple[str, ...]], _Fit] = {}
        self._lock = threading.Lock()
        self._propose_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Copies for worker processes (pickle, deepcopy) leave the lock behind.
        state = dict(self.__dict__)
        del state["_lock"], state["_propose_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._propose_lock = threading.Lock()

    # -- Sampler API -------------------------------------------------------------------------

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        if len(study.directions) != 1:
            raise InvalidValueError(
                "GPSampler optimizes a single objective; this study has "
                f"{len(study.directions)}. Use another sampler for multi-objective studies."
            )
        # One proposal at a time per process: a thread that asks while another is proposing
        # then reads that proposal as in flight instead of racing to the same point.
        with self._propose_lock:
            proposal = self._sample(study, trial)
            params = None if proposal is None else proposal.params
            if proposal is not None and self.consider_running_trials:
                params = self._settle(study, trial, proposal)
        if params is None:
            study.set_trial_system_attr(trial, "sampler", "GP-startup", defer=True)
            params = self._startup.sample_relative(study, trial)
            if params and self.consider_running_trials:
                # Other workers' models may already run: they must see this point as taken
                # (published) and, in a finite space, not take it before they read it
                # (claimed; a start-up point keeps its place in the Sobol sequence even if a
                # model's proposal claimed it first).
                study.set_trial_system_attr(trial, _PROPOSAL_KEY, params)
                if self._finite_startup_space(study, params):
                    claim_point(study, trial, "GPSampler", params, lambda lost: None)
            return params
        study.set_trial_system_attr(trial, "sampler", "GP", defer=True)
        return params

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        return self._startup.sample_independent(study, trial, name, distribution)

    def modelled_parameters(self, complete: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the parameters the model covers, given the completed trials.

        Those present in every completed trial, and those of conditional branches that one
        shared categorical or integer explains (see "Search space" above); the others
        would be drawn at random.
        """
        return self.modelled_space(complete)[0]

    def modelled_space(
        self, complete: Sequence[FrozenTrial]
    ) -> tuple[dict[str, Distribution], dict[str, str]]:
        """Return :meth:`modelled_parameters` and, for each conditional one, its parent."""
        space, conditions = _search_space(list(complete))
        return space, {name: parent for name, (parent, _) in conditions.items()}

    def _finite_startup_space(self, study: StudyView, params: dict[str, Any]) -> bool:
        # The start-up design's parameters take the distributions of the completed trial
        # that fixed its space (there is one, or the design would have proposed nothing).
        complete = study.get_trials(states=(TrialState.COMPLETE,))
        space = {n: d for t in complete[:1] for n, d in t.distributions.items() if n in params}
        return len(space) == len(params) and is_finite(space)

    def _settle(self, study: StudyView, trial: FrozenTrial, proposal: _Proposal) -> dict[str, Any]:
        """Publish the trial's point so that no other worker takes it; return the point.

        Workers that choose at the same moment do not see each other's proposals and may
        find the same maximum. In a finite space (integers, stepped floats, categoricals)
        that is common, so the point is claimed atomically in the study's shared state: a
        trial that loses the claim proposes again without the points it lost. Elsewhere
        two proposals coincide only on a bound, and a look at the running trials' published
        proposals is enough.
        """
        params = proposal.params
        study.set_trial_system_attr(trial, _PROPOSAL_KEY, params)
        if not proposal.finite:
            if _taken(study.get_trials(states=(TrialState.RUNNING,)), trial, params):
                # Another process proposed the same point meanwhile (both saw neither):
                # propose again, with that one in flight.
                again = self._sample(study, trial)
                params = params if again is None else again.params
                study.set_trial_system_attr(trial, _PROPOSAL_KEY, params)
            return params

        def propose_again(lost: list[dict[str, Any]]) -> dict[str, Any] | None:
            again = self._sample(study, trial, lost)
            return None if again is None else again.params

        claimed = claim_point(study, trial, "GPSampler", params, propose_again)
        if claimed != params:
            study.set_trial_system_attr(trial, _PROPOSAL_KEY, claimed)
        return claimed

    # -- the model ---------------------------------------------------------------------------

    def _sample(
        self, study: StudyView, trial: FrozenTrial, excluded: Sequence[dict[str, Any]] = ()
    ) -> _Proposal | None:
        """Propose a point for ``trial``, or None while the model cannot (startup)."""
        trials = study.get_trials()
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        if len(complete) < self.n_startup_trials:
            return None
        space, conditions = _search_space(complete)
        if not space:
            return None
        params = self._propose(study, trial, trials, complete, space, conditions, excluded)
        if params is None:
            return None
        return _Proposal(params, is_finite(space))

    def _propose(
        self,
        study: StudyView,
        trial: FrozenTrial,
        trials: list[FrozenTrial],
        complete: list[FrozenTrial],
        space: dict[str, Distribution],
        conditions: dict[str, tuple[str, list[Any]]],
        excluded: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any] | None:
        encoded = EncodedSpace(space, conditions)
        sign = 1.0 if study.direction == StudyDirection.MINIMIZE else -1.0
        rows, values = [], []
        for t in complete:
            row = encoded.encode(t.params)
            if row is not None and t.values is not None:
                rows.append(row)
                values.append(sign * t.values[0])
        if len(rows) < 2:
            return None
        # The first completed trials (the space-filling startup design, in a study this
        # sampler ran from the start) stand for the whole space in the warping's scale.
        targets = warp_objective(np.array(values), np.array(values[: self.n_startup_trials]))
        pruned_rows = [
            row
            for t in trials
            if t.state == TrialState.PRUNED
            for row in [encoded.encode(t.params)]
            if row is not None
        ]
        x = np.array(rows + pruned_rows)
        y = np.concatenate([targets, np.full(len(pruned_rows), targets.min())])

        with (
            single_threaded_blas(),
            np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"),
        ):
            try:
                model = self._fit(study, trial, encoded, x, y)
                # The incumbent of (A1): the best completed trial's target.
                best = float(targets.max())
                pending, n_blind = self._pending_rows(trials, trial, encoded)
                taken = x if pending is None else np.vstack([x, pending])
                lost = [row for p in excluded for row in [encoded.encode(p)] if row is not None]
                if lost:
                    taken = np.vstack([taken, np.array(lost)])
                if pending is not None:
                    # Kriging believer: pending trials are believed to return the posterior
                    # mean, exactly; a believed value above the incumbent becomes it.
                    mean, _, _, _ = model.posterior(pending)
                    model = model.condition_on(pending, mean)
                    best = max(best, float(mean.max()))
                order = np.argsort(-targets, kind="stable")[:_N_INCUMBENTS]

                def maximize(step: int) -> tuple[FloatArray, float]:
                    # Reads the current model, incumbent and taken rows (updated below). Step 0
                    # keeps the random stream of a plain proposal; later steps get their own.
                    keys = ("GPSampler", "acqf") + ((str(step),) if step else ())
                    return optimize_acqf(
                        LogEI(model, best),
                        encoded,
                        trial_rng(self._seed, trial.number, *keys),
                        n_candidates=self.n_candidates,
                        n_local_starts=self.n_local_starts,
                        incumbents=x[order],
                        taken=taken,
                    )

                # Trials that started before this one and are still choosing their point (in
                # another process, so neither sees the other's proposal) would find the same
                # maximum. The trial number breaks the tie: this trial takes the next point of
                # a greedy kriging-believer batch, in which those earlier trials come first,
                # each believed at the maximum this model gives it.
                for step in range(min(n_blind, _MAX_BLIND)):
                    row, value = maximize(step)
                    if not math.isfinite(value):
                        break
                    mean, _, _, _ = model.posterior(row[None, :])
                    model = model.condition_on(row[None, :], mean)
                    best = max(best, float(mean[0]))
                    taken = np.vstack([taken, row[None, :]])
                row, value = maximize(min(n_blind, _MAX_BLIND))
            except np.linalg.LinAlgError:
                return None
        if not (np.all(np.isfinite(row)) and math.isfinite(value)):
            return None
        return encoded.decode(row)

    def _fit(
        self,
        study: StudyView,
        trial: FrozenTrial,
        encoded: EncodedSpace,
        x: FloatArray,
        y: FloatArray,
    ) -> GPModel:
        key = (study.study_name, tuple(encoded.names))
        n = x.shape[0]
        with self._lock:
            cached = self._fits.get(key)
        if cached is not None and n - cached.n_trials < max(1, n // _REFIT_FRACTION):
            # No trial finished since the last fit, or too few to move the hyperparameters
            # (they settle as data accumulate): condition on all the data, refit later.
            return GPModel(x, y, encoded.categorical, cached.params)
        # Warm-started from the previous fit; a full multi-start search now and then (and
        # on the first fit) lets the hyperparameters leave a mode the data have outgrown.
        explore = cached is None or n - cached.n_trials_explored >= max(_EXPLORE_EVERY, n // 5)
        model = fit_gp(
            x,
            y,
            encoded.categorical,
            deterministic=self.deterministic_objective,
            rng=trial_rng(self._seed, trial.number, "GPSampler", "fit"),
            warm_starts=[] if cached is None else [cached.params],
            n_random_starts=2,
            explore=explore,
        )
        explored = n if explore or cached is None else cached.n_trials_explored
        with self._lock:
            self._fits[key] = _Fit(n, model.params, explored)
        return model

    def _pending_rows(
        self, trials: list[FrozenTrial], current: FrozenTrial, encoded: EncodedSpace
    ) -> tuple[FloatArray | None, int]:
        """Rows of the other running trials, and how many earlier ones have none yet.

        A running trial's row comes from its stored parameters, completed by the proposal
        it published. Earlier trials (smaller numbers) with neither are counted: they may
        be proposing at this very moment.
        """
        if not self.consider_running_trials:
            return None, 0
        rows = []
        n_blind = 0
        for t in trials:
            if t.state != TrialState.RUNNING or t.number == current.number:
                continue
            row = encoded.encode(t.params)
            if row is None:
                proposal = t.system_attrs.get(_PROPOSAL_KEY)
                if isinstance(proposal, dict):
                    row = encoded.encode({**proposal, **t.params})
                elif t.number < current.number:
                    n_blind += 1
            if row is not None:
                rows.append(row)
        return (np.array(rows) if rows else None), n_blind


def _taken(running: list[FrozenTrial], current: FrozenTrial, params: dict[str, Any]) -> bool:
    """Whether another running trial has (or was proposed) exactly ``params``."""
    return any(
        t.number != current.number
        and (t.system_attrs.get(_PROPOSAL_KEY) == params or t.params == params)
        for t in running
    )


def _search_space(
    complete: list[FrozenTrial],
) -> tuple[dict[str, Distribution], dict[str, tuple[str, list[Any]]]]:
    """The modelled parameters, and the conditions of those absent from some trials.

    Parameters of every completed trial are modelled (see :func:`_intersection_space`). A
    parameter present in only some trials is modelled too if its presence is explained by
    one of those shared categoricals or integers: the parent's values in the trials that
    have it and in those that do not are disjoint (a model family and that family's own
    hyperparameters; a number of layers and the width of a layer), and no other of them
    explains it. It is then active exactly for the values seen with it, and for an integer
    parent, for the values beyond them on the same side (a width seen with 2 and 3 layers
    is active with 4 as well).
    """
    space = _intersection_space(complete)
    parents = [name for name, dist in space.items() if isinstance(dist, Categorical)] + [
        name for name, dist in space.items() if _small_grid(dist)
    ]
    latest: dict[str, Distribution] = {}
    for t in complete:
        latest.update(t.distributions)
    conditions: dict[str, tuple[str, list[Any]]] = {}
    for name in sorted(set(latest) - set(space)):
        dist = latest[name]
        having = [t for t in complete if name in t.distributions]
        if dist.is_single() or not all(dist.is_compatible(t.distributions[name]) for t in having):
            continue
        explanations = [
            (parent, values)
            for parent in parents
            if (values := _explaining_values(space[parent], parent, having, complete, name))
            is not None
        ]
        # Two parents that both explain it (in a short history a batch size may split the
        # trials with a second layer from those without, as the number of layers does):
        # the history cannot tell which one decides, so the parameter waits, drawn at
        # random, until only one explanation is left.
        if len(explanations) == 1:
            space[name] = dist
            conditions[name] = explanations[0]
    return space, conditions


def _small_grid(dist: Distribution) -> bool:
    """Whether ``dist`` is an integer (or stepped float) with few enough values to branch on."""
    size = grid_size(dist)
    return size is not None and size <= _MAX_PARENT_VALUES


def _explaining_values(
    parent_dist: Distribution,
    parent: str,
    having: list[FrozenTrial],
    complete: list[FrozenTrial],
    name: str,
) -> list[Any] | None:
    """Return the parent's values that activate ``name``; None if they do not explain it."""
    if isinstance(parent_dist, Categorical):
        with_it = {parent_dist.index_of(t.params[parent]) for t in having}
        without = {
            parent_dist.index_of(t.params[parent]) for t in complete if name not in t.distributions
        }
        codes = sorted(i for i in with_it if i is not None)
        if len(codes) != len(with_it) or with_it & without:
            return None
        return [parent_dist.choices[i] for i in codes]
    grid = cast(Int | Float, parent_dist)
    with_values = {t.params[parent] for t in having}
    without_values = {t.params[parent] for t in complete if name not in t.distributions}
    if not all(grid.contains_value(v) for v in with_values | without_values):
        return None
    if with_values & without_values:
        return None
    step = cast(float, grid.step)
    # low + k * step can land a rounding error past high; the last value is high itself.
    every = [
        grid.to_external(min(grid.high, grid.low + k * step))
        for k in range(cast(int, grid_size(grid)))
    ]
    # A parameter asked for when the integer is at least (or at most) some value: the
    # values beyond those seen with it activate it too, so the search may propose them.
    # Values between the two sets, not seen yet, stay inactive: the threshold may be
    # anywhere there, and a trial that does ask for the parameter draws it at random.
    if without_values and min(with_values) > max(without_values):
        return [v for v in every if v >= min(with_values)]
    if without_values and max(with_values) < min(without_values):
        return [v for v in every if v <= max(with_values)]
    return sorted(with_values)


def _intersection_space(complete: list[FrozenTrial]) -> dict[str, Distribution]:
    """Parameters of every completed trial, with the latest one's distribution.

    Single-valued distributions are left out (nothing to choose), as are parameters whose
    kind changed between trials.
    """
    if not complete:
        return {}
    names = set(complete[-1].distributions)
    for t in complete:
        names.intersection_update(t.distributions)
    latest = complete[-1].distributions
    space: dict[str, Distribution] = {}
    for name in sorted(names):
        dist = latest[name]
        if dist.is_single():
            continue
        if all(dist.is_compatible(t.distributions[name]) for t in complete):
            space[name] = dist
    return space
