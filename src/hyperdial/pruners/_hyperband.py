"""Hyperband: several ASHA brackets, from aggressive to none, sharing one study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from hyperdial._frozen import FrozenTrial
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.pruners._base import Pruner
from hyperdial.pruners._common import ViewMemo, check_int, estimated_max_step
from hyperdial.pruners._successive_halving import asha_prune

__all__ = ["HyperbandPruner"]


class HyperbandPruner(Pruner):
    """Hyperband: successive halving in brackets of different aggressiveness.

    Hyperband (Li et al., 2018, "Hyperband: A Novel Bandit-Based Approach to
    Hyperparameter Optimization", JMLR) hedges over how early a trial can be judged. With
    ``s_max = floor(log_eta(max_resource / min_resource))`` it runs ``s_max + 1`` brackets;
    bracket ``b`` is asynchronous successive halving (see
    :class:`SuccessiveHalvingPruner`) whose first rung is at ``min_resource * eta ** b``
    steps. Bracket 0 judges trials after ``min_resource`` steps; the last bracket never
    stops a trial (plain random search at full length). Rungs stop at ``s_max``: a trial
    that passed the rung below ``max_resource`` runs to the end.

    Every trial belongs to one bracket, and is compared only with trials of its bracket.
    The bracket follows from the trial number alone, so every worker and every re-run of
    the study agree on it. Trials are dealt out in rounds, as the paper's outer loop runs
    its brackets: each round starts ``ceil((s_max + 1) * eta ** h / (h + 1))``
    configurations in the bracket with ``h`` halvings, which gives each bracket about the
    same total budget, most aggressive bracket first. Going aggressive first means the
    study screens many configurations cheaply before it trains any to full length
    unjudged, and by the time the conservative brackets run, the sampler has learned from
    the cheap ones, so their full-length trials are well-chosen ones (BOHB's argument).

    Samplers learn from the trials of every bracket, as in BOHB (Falkner et al., 2018): one
    model for all brackets, fed by all of them. Splitting the history by bracket (what
    ``share_trials=False`` does, and Optuna's Hyperband does) leaves each bracket a fraction
    of the observations, so its sampler stays in its start-up phase, proposing points at
    random, for most of the study: with four brackets the least aggressive one gets one
    trial in twelve. Trials stopped at different steps are still told apart: a pruned trial
    ranks below every trial that got further on merit; a trial of a conservative bracket
    that went on unjudged but fell behind the trials stopped at a step ranks as stopped
    there (see :class:`~hyperdial.samplers.TPESampler`).

    ``max_resource="auto"`` measures it as the largest step reported by the first trial to
    complete (the lowest-numbered COMPLETE trial with reports), shared with every worker
    through the study's state. Nothing is stopped until that first trial completes.

    Args:
        min_resource: Steps before the first rung of the most aggressive bracket; >= 1.
        max_resource: Steps of a full trial, an integer > ``min_resource``, or "auto".
        reduction_factor: How selective each rung is (``eta`` in the papers); >= 2.
        bootstrap_count: A trial reaching a rung before this many trials of its bracket
            (itself included) have reached it is stopped; >= 0.
        share_trials: Samplers learn from the trials of all brackets (True) or, for a
            trial, only from the trials of its bracket (False).

    Raises:
        InvalidValueError: if an argument is out of range.

    Example:
        >>> import hyperdial
        >>> pruner = hyperdial.pruners.HyperbandPruner(min_resource=1, max_resource=81)
        >>> study = hyperdial.create_study(pruner=pruner)
    """

    def __init__(
        self,
        *,
        min_resource: int = 1,
        max_resource: int | Literal["auto"] = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
        share_trials: bool = True,
    ) -> None:
        owner = type(self).__name__
        self.min_resource = check_int(owner, "min_resource", min_resource, 1)
        if max_resource != "auto" and (
            isinstance(max_resource, bool)
            or not isinstance(max_resource, int)
            or max_resource <= min_resource
        ):
            raise InvalidValueError(
                f"{owner}: max_resource must be 'auto' or an integer > min_resource "
                f"({min_resource!r}). Got {max_resource!r}."
            )
        self.max_resource = max_resource
        self.reduction_factor = check_int(owner, "reduction_factor", reduction_factor, 2)
        self.bootstrap_count = check_int(owner, "bootstrap_count", bootstrap_count, 0)
        if not isinstance(share_trials, bool):
            raise InvalidValueError(
                f"{owner}: share_trials must be True or False. Got {share_trials!r}."
            )
        self.share_trials = share_trials
        self._memo = ViewMemo()

    # -- brackets ------------------------------------------------------------------------

    def resolved_max_resource(
        self, study: StudyView, trials: Sequence[FrozenTrial] | None = None
    ) -> int | None:
        """Return ``max_resource``, measured for "auto" (None until it can be)."""
        if self.max_resource != "auto":
            return int(self.max_resource)
        return estimated_max_step(study, self._memo, trials)

    def n_brackets(self, max_resource: int) -> int:
        """Return ``s_max + 1``, the number of brackets for a trial length of ``max_resource``."""
        s_max = 0
        while self.min_resource * self.reduction_factor ** (s_max + 1) <= max_resource:
            s_max += 1
        return s_max + 1

    def bracket_weights(self, max_resource: int) -> list[int]:
        """Return, per bracket, how many configurations a round starts in it.

        Bracket ``b`` has ``h = s_max - b`` halvings and starts ``ceil((s_max + 1) * eta **
        h / (h + 1))`` configurations: ``n = ceil(B / R * eta ** s / (s + 1))`` in Li et al.
        (2018), Algorithm 1, with budget ``B = (s_max + 1) * R`` and ``s = h``.
        """
        s_max = self.n_brackets(max_resource) - 1
        eta = self.reduction_factor
        return [-(-(s_max + 1) * eta ** (s_max - b) // (s_max - b + 1)) for b in range(s_max + 1)]

    def bracket_of(self, trial_number: int, max_resource: int) -> int:
        """Return the bracket of a trial, from its number alone.

        A round is ``sum(bracket_weights)`` consecutive trial numbers: the first
        ``bracket_weights[0]`` of them go to bracket 0, the next to bracket 1, and so on.
        """
        return _bracket(trial_number, self.bracket_weights(max_resource))

    # -- Pruner ----------------------------------------------------------------------------

    def prune(self, study: StudyView, trial: FrozenTrial) -> bool:
        if trial.last_step is None:
            return False
        max_resource = self.resolved_max_resource(study)
        if max_resource is None:
            return False
        weights = self.bracket_weights(max_resource)
        bracket = _bracket(trial.number, weights)
        return asha_prune(
            study,
            trial,
            owner=type(self).__name__,
            min_resource=self.min_resource,
            reduction_factor=self.reduction_factor,
            # Bracket b is the paper's bracket s = s_max - b (Algorithm 1): its first
            # rung r = R * eta ** -s is rung b of the ladder min_resource * eta ** i ...
            min_early_stopping_rate=bracket,
            bootstrap_count=self.bootstrap_count,
            # ... and its last rung, i = s, is the full length R: the inner loop's final
            # top_k picks the result there and trains nobody further, so no decision.
            top_rung=len(weights) - 1,
            memo=self._memo,
            same_group=lambda number: _bracket(number, weights) == bracket,
        )

    def trials_for_sampler(
        self, study: StudyView, trial: FrozenTrial, trials: Sequence[FrozenTrial]
    ) -> list[FrozenTrial]:
        """Return every trial, or with ``share_trials=False`` only those of ``trial``'s bracket.

        Until brackets are known (``max_resource="auto"`` before a trial completed), all.
        """
        if self.share_trials:
            return list(trials)
        max_resource = self.resolved_max_resource(study)
        if max_resource is None:
            return list(trials)
        weights = self.bracket_weights(max_resource)
        bracket = _bracket(trial.number, weights)
        return [t for t in trials if _bracket(t.number, weights) == bracket]


def _bracket(trial_number: int, weights: Sequence[int]) -> int:
    position = trial_number % sum(weights)
    for bracket, weight in enumerate(weights):
        if position < weight:
            return bracket
        position -= weight
    raise AssertionError("unreachable: position < sum(weights)")
