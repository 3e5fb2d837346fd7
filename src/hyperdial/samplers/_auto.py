"""The default sampler: picks an algorithm per ask from the space and the history."""

from __future__ import annotations

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


class AutoSampler(Sampler):
    """Chooses, for every trial, the algorithm that suits the space and the history.

    The rule, applied when a trial starts:

    1. **QMC** (scrambled Sobol) while fewer than ``n_startup_trials`` trials have finished
       (COMPLETE or PRUNED): an even first look at the space, better than random points for
       the same count. Pruned trials count: under Hyperband most trials of a bracket are
       pruned, and waiting for completed ones would keep such a bracket on QMC for good.
    2. **GP** (Gaussian-process Bayesian optimization) when it is affordable and the space
       suits it: at most ``gp_max_trials`` completed trials, no more than a third of the
       finished trials pruned (a GP models full-budget values), every completed trial has
       the same parameters (no conditional branches), at most ``gp_max_dims`` parameters,
       and no categorical with more than ``gp_max_choices`` choices. A GP gets the most out
       of few trials on smooth, fixed spaces.
    3. **TPE** otherwise: conditional spaces, many or high-cardinality categoricals, long
       histories and pruned studies, where TPE models well (it ranks a pruned trial below
       those that got further) and its ask stays cheap at thousands of trials.

    Each trial records the algorithm that proposed it in its ``sampler`` system attribute
    (``QMC``, ``GP`` or ``TPE``), shown by ``hyperdial trials``. Pruned trials are used as
    TPE uses them (ranked below trials that got further); the GP models completed trials.

    Args:
        n_startup_trials: Completed trials drawn by QMC before a model is used.
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
        # The models start where the QMC phase ends, so their own start-up does not run: the
        # rule hands the GP a study with at least two thirds of its start-up trials complete.
        self._gp = GPSampler(n_startup_trials=max(2, n_startup_trials // 2), seed=self._seed)
        self._tpe = TPESampler(n_startup_trials=n_startup_trials, seed=self._seed)
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
        return "TPE", self._tpe

    def _suits_gp(self, complete: list[FrozenTrial]) -> bool:
        names = set(complete[0].distributions)
        if not names or len(names) > self.gp_max_dims:
            return False
        if any(set(t.distributions) != names for t in complete):
            return False  # a conditional space: parameters differ between trials
        return not any(
            isinstance(dist, Categorical) and len(dist.choices) > self.gp_max_choices
            for dist in complete[-1].distributions.values()
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
        for sampler in (self._qmc, self._gp, self._tpe):
            sampler.after_trial(study, trial)
