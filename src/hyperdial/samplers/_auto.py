"""The default sampler: picks an algorithm per ask from the space and the history."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hyperdial._checks import check_int
from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._gp import GPSampler
from hyperdial.samplers._qmc import QMCSampler
from hyperdial.samplers._rng import resolve_seed
from hyperdial.samplers._tpe import TPESampler
from hyperdial.space import Categorical, Distribution

__all__ = ["AutoSampler"]

# Lower-budget TPEs kept at once (see AutoSampler.choose).
_MAX_BUDGETS = 4


class AutoSampler(Sampler):
    """Chooses, for every trial, the algorithm that suits the space and the history.

    The rule, applied when a trial starts:

    1. **QMC** (scrambled Sobol) while fewer than ``n_startup_trials`` trials have finished
       (COMPLETE or PRUNED): an even first look at the space, better than random points for
       the same count. Pruned trials count: under Hyperband most trials of a bracket are
       pruned, and waiting for completed ones would keep such a bracket on QMC for good.
    2. **GP** (Gaussian-process Bayesian optimization) when it is affordable and the space
       suits it: at most ``gp_max_trials`` completed trials, no more than a third of the
       finished trials pruned (a GP models full-budget values), every parameter modelled
       by the GP (present in every completed trial, or a branch's own parameter whose
       presence one categorical explains, such as a model family's hyperparameters), at
       most ``gp_max_dims`` of them, and no categorical with more than ``gp_max_choices``
       choices. A GP gets the most out of few trials on smooth spaces.
    3. **TPE** otherwise: deeper conditional spaces, many or high-cardinality categoricals,
       long histories and pruned studies, where TPE models well (it ranks a pruned trial
       below those that got further) and its ask stays cheap at thousands of trials.

    In a pruned study TPE is fitted, as in BOHB (Falkner et al., 2018, "BOHB: Robust and
    Efficient Hyperparameter Optimization at Scale", ICML), on the highest budget that has
    enough observations: the full length once ``n_startup_trials`` trials have completed,
    before that the largest step that at least ``n_startup_trials`` finished trials reached.
    At such a step ``b`` every trial that got there is ranked by the value it reported at
    ``b`` (its first report at or past ``b``), whether it was stopped later or completed;
    trials stopped before ``b`` rank below them, as TPE ranks pruned trials. Early in a
    Hyperband or ASHA study, when most trials stop after a few steps and few complete, the
    model thus learns from many comparable observations rather than from the two or three
    completed trials alone.

    Each trial records the algorithm that proposed it in its ``sampler`` system attribute
    (``QMC``, ``GP`` or ``TPE``), shown by ``hyperdial trials``. Pruned trials are used as
    TPE uses them (ranked below trials that got further, and at the budget above while few
    trials have completed); the GP models completed trials.

    Args:
        n_startup_trials: Finished trials drawn by QMC before a model is used; also how many
            observations a budget needs for TPE to be fitted there in a pruned study.
        gp_max_trials: Largest history the GP is used for.
        gp_max_dims: Largest number of parameters the GP is used for.
        gp_max_choices: Largest categorical the GP is used for.
        seed: Seed shared by the three algorithms.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=hyperdial.samplers.AutoSampler(seed=0))
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 10,
        gp_max_trials: int = 200,
        gp_max_dims: int = 16,
        gp_max_choices: int = 6,
        seed: int | None = None,
    ) -> None:
        self.n_startup_trials = check_int("AutoSampler", "n_startup_trials", n_startup_trials, 1)
        self.gp_max_trials = check_int("AutoSampler", "gp_max_trials", gp_max_trials, 0)
        self.gp_max_dims = check_int("AutoSampler", "gp_max_dims", gp_max_dims, 1)
        self.gp_max_choices = check_int("AutoSampler", "gp_max_choices", gp_max_choices, 2)
        self.seed = seed
        self._seed = resolve_seed(seed)
        self._qmc = QMCSampler(seed=self._seed)
        # The GP takes the same start-up count as the QMC phase: its output warping measures
        # distances in units of the start-up trials (a sample of the whole space), so it must
        # see them all. In a pruned study it may be handed fewer completed trials; its own
        # start-up then continues the same Sobol sequence (same seed, point n for trial n).
        self._gp = GPSampler(n_startup_trials=n_startup_trials, seed=self._seed)
        self._tpe = TPESampler(n_startup_trials=n_startup_trials, seed=self._seed)
        # One TPE per lower budget: a TPE caches what it learned from each finished trial,
        # and a trial's value at a given step never changes, so each keeps a valid cache.
        self._tpe_at: dict[int, _AtBudget] = {}
        self._chosen: dict[tuple[str, int], tuple[str, Sampler]] = {}

    def choose(self, study: StudyView) -> tuple[str, Sampler]:
        """Return the name and sampler the rule picks for the next trial of ``study``."""
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        if len(finished) < self.n_startup_trials:
            return "QMC", self._qmc
        complete = [t for t in finished if t.state == TrialState.COMPLETE]
        n_pruned = len(finished) - len(complete)
        if (
            complete
            and len(complete) <= self.gp_max_trials
            and 3 * n_pruned <= len(finished)
            and self._suits_gp(complete)
        ):
            return "GP", self._gp
        budget = self._model_budget(finished, len(complete))
        if budget is None:
            return "TPE", self._tpe
        sampler = self._tpe_at.pop(budget, None)
        if sampler is None:
            tpe = TPESampler(n_startup_trials=self.n_startup_trials, seed=self._seed)
            sampler = _AtBudget(tpe, budget)
        # Most recently used last. A study's budget only rises (more trials reach each
        # step), so older ones are rarely asked for again: keep a few, not one per step.
        self._tpe_at[budget] = sampler
        while len(self._tpe_at) > _MAX_BUDGETS:
            del self._tpe_at[next(iter(self._tpe_at))]
        return "TPE", sampler

    def _model_budget(self, finished: Sequence[FrozenTrial], n_complete: int) -> int | None:
        """Return the step to fit TPE at, or None for the full length (plain ranking).

        BOHB's rule: the highest budget with enough observations. The full length has
        enough once ``n_startup_trials`` trials completed (or when nothing was pruned).
        Otherwise it is the largest step reached by at least ``n_startup_trials`` finished
        trials, among the steps trials were stopped at.
        """
        if n_complete >= self.n_startup_trials or n_complete == len(finished):
            return None
        reached = sorted((t.last_step for t in finished if t.last_step is not None), reverse=True)
        if len(reached) < self.n_startup_trials:
            return None
        # The n-th largest last step is reached by at least n trials; the step to fit at is
        # the last step of a pruned trial at or below it (where observations are).
        cutoff = reached[self.n_startup_trials - 1]
        stops = [
            t.last_step
            for t in finished
            if t.state == TrialState.PRUNED and t.last_step is not None and t.last_step <= cutoff
        ]
        return max(stops, default=None)

    def _suits_gp(self, complete: list[FrozenTrial]) -> bool:
        seen: set[str] = set()
        for t in complete:
            seen.update(t.distributions)
        modelled = self._gp.modelled_parameters(complete)
        if not modelled or len(modelled) > self.gp_max_dims:
            return False
        # Every parameter with a choice to make must be modelled; the GP would draw the
        # others at random (a branch nested deeper than one categorical, say).
        single = {n for t in complete for n, d in t.distributions.items() if d.is_single()}
        if seen - single - set(modelled):
            return False
        return not any(
            isinstance(dist, Categorical) and len(dist.choices) > self.gp_max_choices
            for dist in modelled.values()
        )

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        name, sampler = self.choose(study)
        self._chosen[(study.study_name, trial.number)] = (name, sampler)
        proposal = sampler.sample_relative(study, trial)
        # The chosen algorithm may label the trial itself (GP, TPE); this label is the rule's.
        study.set_trial_system_attr(trial, "sampler", name, defer=True)
        return proposal

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        chosen = self._chosen.get((study.study_name, trial.number))
        sampler = chosen[1] if chosen is not None else self.choose(study)[1]
        return sampler.sample_independent(study, trial, name, distribution)

    def after_trial(self, study: StudyView, trial: FrozenTrial) -> None:
        self._chosen.pop((study.study_name, trial.number), None)
        for sampler in (self._qmc, self._gp, self._tpe, *self._tpe_at.values()):
            sampler.after_trial(study, trial)


class _AtBudget(Sampler):
    """TPE fitted on the values trials reported at one step (see :class:`AutoSampler`)."""

    def __init__(self, tpe: TPESampler, budget: int) -> None:
        self.tpe = tpe
        self.budget = budget

    def _view(self, study: StudyView) -> StudyView:
        return study.restricted(self._rescored)

    def _rescored(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        # A finished trial that reached the budget counts as completed with its value there;
        # the others keep their state, so pruned ones rank below by how far they got (and a
        # completed trial that reported nothing keeps its final value).
        budget = self.budget
        result = []
        for trial in trials:
            if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
                steps = [s for s in trial.intermediate_values if s >= budget]
                if steps:
                    value = trial.intermediate_values[min(steps)]
                    trial = dataclasses.replace(trial, state=TrialState.COMPLETE, values=[value])
            result.append(trial)
        return result

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        return self.tpe.sample_relative(self._view(study), trial)

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        return self.tpe.sample_independent(self._view(study), trial, name, distribution)

    def after_trial(self, study: StudyView, trial: FrozenTrial) -> None:
        self.tpe.after_trial(study, trial)
