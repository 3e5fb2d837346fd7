"""The Tree-structured Parzen Estimator sampler."""

from __future__ import annotations

import math
import numbers
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import qmc

from hyperdial._checks import check_int
from hyperdial._frozen import FrozenTrial, TrialState
from hyperdial._view import StudyView
from hyperdial.exceptions import InvalidValueError
from hyperdial.samplers._base import Sampler
from hyperdial.samplers._claims import claim_point
from hyperdial.samplers._rng import resolve_seed, trial_rng
from hyperdial.samplers._tpe._observations import (
    Observations,
    decode,
    dim_of,
    encode_params,
    fingerprint,
    snap,
)
from hyperdial.samplers._tpe._parzen import Kind, ParzenEstimator
from hyperdial.samplers._tpe._split import (
    default_gamma,
    good_mask,
    hold_to_checkpoints,
    n_good,
    rank_order,
)
from hyperdial.space import Distribution

__all__ = ["TPESampler"]

_BANDWIDTH_RULES = ("scott", "hyperopt")
# Sobol dimensions used by the start-up design; parameters beyond them are drawn at random.
_SOBOL_DIMS = 32
_SOBOL_MAX_LOG2 = 20
# Per-trial preparations kept for the sample_independent calls that follow sample_relative.
_MAX_CONTEXTS = 64
# Trial system attribute with the configuration this sampler proposed: other workers count
# the trial as running there before its parameters are stored (at its first report).
_PROPOSAL_KEY = "TPESampler:proposal"
#: The most recent observations of a density that keep full weight (Hyperopt's linear
#: forgetting, see recency_weights).
RECENT_FULL_WEIGHT = 25


@dataclass
class _Context:
    """What one trial's sampling needs, computed once when the trial starts."""

    startup: bool
    observations: Observations | None = None
    rows: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    good: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: The trials from best to worst, as positions in ``rows``.
    order: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    #: Parameters of the trials other workers are running, stored or proposed.
    running: list[dict[str, Any]] = field(default_factory=list)
    #: Whether other trials were running, stored parameters or not.
    others_running: bool = False


class TPESampler(Sampler):
    """Bayesian optimization with the Tree-structured Parzen Estimator (TPE).

    TPE (Bergstra et al., 2011, "Algorithms for Hyper-Parameter Optimization") ranks the
    finished trials, calls the best ``gamma(n)`` of them good and the rest bad, fits a
    density ``l(x)`` to the good parameters and ``g(x)`` to the bad ones, draws
    ``n_ei_candidates`` points from ``l`` and proposes the one maximizing ``l(x) / g(x)``,
    which maximizes expected improvement (Bergstra et al., 2011, Sec. 4). The components
    follow the recommendations of Watanabe (2023, "Tree-Structured Parzen Estimator:
    Understanding Its Algorithm Components and Their Roles for Better Empirical
    Performance"): a multivariate kernel, a prior component, Scott's rule for bandwidths and
    the Aitchison-Aitken kernel for categorical parameters. In continuous dimensions the
    good density ``l`` scales each kernel's width by how crowded its neighbourhood is (a
    variable-kernel estimate, Breiman et al., 1977), so that tight clusters of good trials
    are searched finely while good trials far from the others, often at another optimum,
    keep wide kernels. Those kernels also keep equal heights (a kernel's weight scales with
    its volume): good trials crowd where the search has already been, so with equal weights
    a region found early would hold ever more of ``l`` just for having been sampled often,
    and the search could stay on a plateau there. A continuous kernel next to a bound is not
    renormalized to the range (the mass beyond the bound is dropped), so ``l / g`` does not
    lean towards a bound just because good trials sit near it. Integer and stepped
    parameters get a discrete Gaussian kernel that, like the Aitchison-Aitken kernel, keeps
    part of its mass (shrinking as trials accumulate) on every value, so the search keeps
    trying other values of a small grid. The bad density ``g``, a smooth model of where the
    bad trials are, has no kernel narrower than the magic clip of Bergstra et al. (2011),
    ``1 / min(100, n + 1)`` of the range for ``n`` observations, as in Hyperopt and Optuna;
    the good density keeps its adaptive widths, which the clip would widen while there are
    few good trials. In both densities, observations older than the 25 newest weigh less and
    less (Hyperopt's linear forgetting), so ``g`` follows where the search is now.

    * **Start-up.** Until ``n_startup_trials`` trials have finished (COMPLETE or PRUNED),
      trial ``n`` takes point ``n`` of a scrambled Sobol sequence (the ``k``-th parameter a
      trial asks for takes coordinate ``k``), which covers the space more evenly than
      random points.
    * **Ranking.** COMPLETE trials by value; PRUNED trials below every trial that got
      further (a trial stopped at step ``s`` ranks below all trials that reached later
      steps, trials stopped at the same step by the value reported there). Going further
      has to be earned: a trial that went past a step where others were stopped, with a
      value there that does not beat three quarters of theirs (a pruner let it go on
      unjudged, as Hyperband's conservative brackets do), ranks as stopped at that step
      with that value. FAIL trials are ignored.
    * **Constant liar.** With ``constant_liar=True``, trials other workers are running count
      as bad observations (as if they had returned the worst value), so parallel workers
      spread out instead of proposing the same point. A running trial is seen once its
      parameters are stored, or, when other trials were running as it started, as soon as
      this sampler proposed them (the proposal is published at once).
    * **Joint model.** With ``multivariate=True`` the parameters are modelled jointly. In a
      define-by-run space with ``group=True`` they are partitioned into groups of
      parameters that always occur together, and each group is modelled jointly on the
      trials that have it; with ``group=False`` all parameters form one joint model in which
      a trial missing a parameter is uninformative (uniform) in that dimension. With
      ``multivariate=False`` each parameter is modelled on its own, as in the original TPE.
      Parameters no finished trial has yet are drawn uniformly at random.
    * **Conditional parameters.** Parameters that only some trials have (a branch of a
      conditional space) are split into good and bad among those trials: the best
      ``gamma(m)`` of the ``m`` trials that have them are good. A branch whose trials are
      all worse than another branch's best is thus still tuned towards its own best
      trials whenever it is chosen, instead of drawn at random until it happens to win.
    * **Finite spaces.** When the joint model covers a whole configuration of integers,
      stepped floats and categoricals (one group, as in a space without conditions), a
      candidate equal to a finished trial (or, with ``constant_liar``, a running one) is
      not proposed: its value is known, so it cannot improve, and without this rule the good
      density soon proposes its best configuration again and again. When every candidate
      repeats one, candidates drawn uniformly are scored instead; only when they all repeat
      too is a configuration proposed again. With ``constant_liar``, each proposal is also
      claimed atomically in the study's shared state, and a worker that loses the claim
      proposes again without that configuration, so workers choosing at the same moment
      never take the same one (the start-up design's points are not claimed).
    * **Changing spaces.** Each parameter is modelled in the distribution of the most
      recent trial that had it; older values outside its range or choices count as
      missing, and new choices get the prior's mass. A parameter asked for with another
      distribution than proposed is modelled on its own in the distribution asked for.
    * **Cost.** Finished trials are encoded once per study and cached, so an ask is one
      pass over the trial list plus vectorized NumPy work, a few milliseconds at thousands
      of trials. Each trial also gets one system attribute write, ``"sampler"``: ``"TPE"``
      or ``"TPE-startup"``, recording which algorithm proposed it.

    Args:
        gamma: How many of ``n`` finished trials are good: a callable ``n -> int``, or a
            fraction in ``(0, 1]`` (``ceil(gamma * n)``). The default
            :func:`default_gamma` is ``min(ceil(0.1 n), 25)``.
        prior_weight: Weight of the uniform prior component of both densities, relative to
            1 per observation. Must be > 0, which keeps every point possible.
        n_ei_candidates: Candidates drawn from ``l(x)`` per proposal; more exploits more.
        n_startup_trials: Finished trials to collect with the Sobol design before the model
            takes over.
        multivariate: Model parameters jointly (recommended) or each on its own.
        group: With ``multivariate``, model a conditional space by groups of parameters that
            occur together (see above); ignored without ``multivariate``.
        constant_liar: Count trials that are still running as bad observations.
        bandwidth: Kernel width rule for numeric parameters, in the unit cube: ``"scott"``
            (Scott's rule for a ``d``-dimensional kernel on the spread of the observations
            pooled with the prior, so that a few close observations cannot collapse the
            density), ``"hyperopt"`` (distance to the neighbouring observations, Bergstra et
            al., 2011), or a positive float ``c`` for the fixed width
            ``c * n ** (-1 / (d + 4))``. With ``"scott"`` or ``c``, the good density's
            continuous kernels then scale the rule's width by their neighbourhood's crowding
            (see above). Kernels are never narrower than 0.01, nor than half a cell for
            integers and stepped floats, nor than the magic clip ``1 / min(100, n + 1)`` in
            the bad density, and with ``"hyperopt"`` in both.
        seed: Same seed, same trials; copies of the sampler in parallel workers still
            propose different points.

    Example:
        >>> import hyperdial
        >>> from hyperdial.samplers import TPESampler
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -5.0, 5.0)
        ...     kind = trial.suggest_categorical("kind", ["a", "b"])
        ...     return (x - 1.0) ** 2 + (0.0 if kind == "a" else 1.0)
        >>> study = hyperdial.create_study(sampler=TPESampler(seed=0))
        >>> study.optimize(objective, n_trials=40, show_progress_bar=False)
        >>> study.best_value < 0.1
        True
    """

    def __init__(
        self,
        *,
        gamma: Callable[[int], int] | float = default_gamma,
        prior_weight: float = 1.0,
        n_ei_candidates: int = 24,
        n_startup_trials: int = 10,
        multivariate: bool = True,
        group: bool = True,
        constant_liar: bool = True,
        bandwidth: str | float = "scott",
        seed: int | None = None,
    ) -> None:
        if isinstance(gamma, bool) or not (
            callable(gamma)
            or (isinstance(gamma, numbers.Real) and math.isfinite(gamma) and 0 < gamma <= 1)
        ):
            raise InvalidValueError(
                "TPESampler: gamma must be a callable n -> number of good trials, or a "
                f"fraction in (0, 1]. Got {gamma!r}."
            )
        if (
            isinstance(prior_weight, bool)
            or not isinstance(prior_weight, numbers.Real)
            or not math.isfinite(prior_weight)
            or prior_weight <= 0
        ):
            raise InvalidValueError(
                f"TPESampler: prior_weight must be a finite number > 0. Got {prior_weight!r}."
            )
        check_int("TPESampler", "n_ei_candidates", n_ei_candidates, 1)
        check_int("TPESampler", "n_startup_trials", n_startup_trials, 0)
        for name, flag in (
            ("multivariate", multivariate),
            ("group", group),
            ("constant_liar", constant_liar),
        ):
            if not isinstance(flag, (bool, np.bool_)):
                raise InvalidValueError(f"TPESampler: {name} must be True or False. Got {flag!r}.")
        if isinstance(bandwidth, str):
            if bandwidth not in _BANDWIDTH_RULES:
                raise InvalidValueError(
                    f"TPESampler: bandwidth must be 'scott', 'hyperopt' or a number > 0. "
                    f"Got {bandwidth!r}."
                )
        elif (
            isinstance(bandwidth, bool)
            or not isinstance(bandwidth, numbers.Real)
            or not math.isfinite(bandwidth)
            or bandwidth <= 0
        ):
            raise InvalidValueError(
                f"TPESampler: bandwidth must be 'scott', 'hyperopt' or a number > 0. "
                f"Got {bandwidth!r}."
            )
        self.gamma: Callable[[int], int] | float = gamma
        self.prior_weight: float = prior_weight
        self.n_ei_candidates: int = n_ei_candidates
        self.n_startup_trials: int = n_startup_trials
        self.multivariate: bool = multivariate
        self.group: bool = group
        self.constant_liar: bool = constant_liar
        self.bandwidth: str | float = bandwidth
        self.seed: int | None = seed
        self._seed: int = resolve_seed(seed)
        self._init_caches()

    def _init_caches(self) -> None:
        self._lock = threading.Lock()
        # Encoded finished trials, by study name: one sampler may serve several studies.
        self._observations: dict[str, Observations] = {}
        self._contexts: OrderedDict[tuple[str, int], _Context] = OrderedDict()
        self._sobol: NDArray[np.float64] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Copies go to worker processes (pickle) and other studies (deepcopy); a lock cannot
        # be copied and the caches are rebuilt by each copy.
        state = self.__dict__.copy()
        for key in ("_lock", "_observations", "_contexts", "_sobol"):
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    # -- the Sampler interface ------------------------------------------------------------

    def sample_relative(self, study: StudyView, trial: FrozenTrial) -> dict[str, Any]:
        with self._lock:
            context = self._context(study, trial, fresh=True)
            proposal: dict[str, Any] = {}
            finite = False
            if not context.startup and self.multivariate:
                proposal, finite = self._sample_joint(context, trial)
        if proposal and self.constant_liar:
            proposal = self._publish(study, trial, context, proposal, finite)
        # One storage write per trial, recording which algorithm proposed it.
        study.set_trial_system_attr(
            trial, "sampler", "TPE-startup" if context.startup else "TPE", defer=True
        )
        return proposal

    def _publish(
        self,
        study: StudyView,
        trial: FrozenTrial,
        context: _Context,
        proposal: dict[str, Any],
        finite: bool,
    ) -> dict[str, Any]:
        """Let other workers see the proposal at once; in a finite space, claim it.

        A trial's parameters are stored at its first report, which may be an epoch away:
        until then the constant liar of other workers would not see it. In a finite space,
        workers choosing at the same moment often find the same configuration, so it is
        claimed atomically in the study's shared state; a trial that loses the claim
        proposes again without it.
        """
        if finite:

            def propose_again(lost: list[dict[str, Any]]) -> dict[str, Any] | None:
                with self._lock:
                    return self._sample_joint(context, trial, lost)[0]

            proposal = claim_point(study, trial, "TPESampler", proposal, propose_again)
        if context.others_running:
            # Other workers may be choosing now (in a sequential study nobody reads it:
            # no write).
            study.set_trial_system_attr(trial, _PROPOSAL_KEY, proposal)
        return proposal

    def sample_independent(
        self, study: StudyView, trial: FrozenTrial, name: str, distribution: Distribution
    ) -> Any:
        with self._lock:
            context = self._context(study, trial, fresh=False)
            if context.startup:
                return self._sample_startup(trial, name, distribution)
            observations = context.observations
            assert observations is not None
            rng = trial_rng(self._seed, trial.number, "tpe-independent", name)
            if name not in observations.latest:
                # A parameter no finished trial has: nothing to learn from yet.
                return decode(distribution, _uniform(rng, distribution))
            return self._sample_group(context, [name], [distribution], rng)[name]

    # -- preparation ------------------------------------------------------------------------

    def _context(self, study: StudyView, trial: FrozenTrial, *, fresh: bool) -> _Context:
        key = (study.study_name, trial.number)
        if not fresh:
            known = self._contexts.get(key)
            if known is not None:
                return known
        context = self._prepare(study, trial)
        self._contexts[key] = context
        self._contexts.move_to_end(key)
        while len(self._contexts) > _MAX_CONTEXTS:
            self._contexts.popitem(last=False)
        return context

    def _prepare(self, study: StudyView, trial: FrozenTrial) -> _Context:
        directions = study.directions
        if len(directions) != 1:
            raise InvalidValueError(
                f"TPESampler optimizes single-objective studies; study {study.study_name!r} "
                f"has {len(directions)} objectives."
            )
        observations = self._observations.get(study.study_name)
        if observations is None:
            observations = self._observations[study.study_name] = Observations()
        trials = study.get_trials(deepcopy=False)
        # Trials numbered below the watermark had all finished when last seen, so their rows
        # are known and they are not visited again (trial numbers are contiguous from 0
        # unless a pruner filters the trials, in which case every trial is visited).
        contiguous = not trials or trials[-1].number == len(trials) - 1
        start = (
            observations.watermark if contiguous and observations.watermark <= len(trials) else 0
        )
        if start and fingerprint(trials[start - 1]) != observations.watermark_id:
            # Another study of the same name (in a new storage): start again.
            del self._observations[study.study_name]
            return self._prepare(study, trial)
        # Rows of the trials below the watermark, then of the finished ones after it.
        prefix = observations.prefix_rows.view() if start else None
        rows: list[int] = []
        running: list[dict[str, Any]] = []
        others_running = False
        row_of = observations.row_of
        complete, pruned, run = TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING
        liar = self.constant_liar
        advancing = contiguous and start == observations.watermark
        for index in range(start, len(trials)):
            other = trials[index]
            state = other.state
            if state is complete or state is pruned:
                row = row_of.get(other.trial_id)
                if row is None:
                    row = observations.add(other)
                rows.append(row)
                if advancing:
                    observations.advance(other, row)
            elif state is TrialState.FAIL:
                if advancing:
                    observations.advance(other, None)
            else:
                advancing = False
                if liar and state is run and other.number != trial.number:
                    others_running = True
                    published = other.system_attrs.get(_PROPOSAL_KEY)
                    params = {**published, **other.params} if published else other.params
                    if params:
                        running.append(params)
        selected = np.asarray(rows, dtype=np.intp)
        if prefix is not None:
            selected = np.concatenate((prefix, selected))
        n = len(selected)
        if n < self.n_startup_trials or n == 0:
            return _Context(startup=True)
        keys = observations.rank_keys()[selected]
        stopped, last_step, value = hold_to_checkpoints(
            keys[:, 0] > 0.5,
            keys[:, 1].astype(np.int64),
            keys[:, 2],
            lambda step: observations.values_at(step)[selected],
            directions[0],
        )
        order = rank_order(stopped, last_step, value, keys[:, 3].astype(np.int64), directions[0])
        good = good_mask(order, n_good(self.gamma, n))
        return _Context(
            startup=False,
            observations=observations,
            rows=selected,
            good=good,
            order=order,
            running=running,
            others_running=others_running,
        )

    # -- sampling ---------------------------------------------------------------------------

    def _sample_joint(
        self, context: _Context, trial: FrozenTrial, excluded: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Propose the model's parameters; also say whether they span a finite space.

        ``excluded`` configurations (claimed by other trials) are not proposed.
        """
        observations = context.observations
        assert observations is not None
        if self.group:
            groups = [sorted(g) for g in observations.groups.groups]
        else:
            groups = [sorted(observations.latest)]
        proposal: dict[str, Any] = {}
        # With one group, a group's values are a whole configuration.
        whole = len(groups) == 1
        finite = False
        for names in groups:
            # Model each parameter in the distribution of the latest trial that had it;
            # single-value parameters need no sampling.
            names = [n for n in names if not observations.latest[n][1].is_single()]
            if not names:
                continue
            distributions = [observations.latest[n][1] for n in names]
            finite = whole and all(dim_of(d).kind != Kind.CONTINUOUS for d in distributions)
            rng = trial_rng(self._seed, trial.number, "tpe", *names)
            proposal.update(
                self._sample_group(
                    context, names, distributions, rng, finite=finite, excluded=excluded
                )
            )
        return proposal, finite

    def _sample_group(
        self,
        context: _Context,
        names: list[str],
        distributions: list[Distribution],
        rng: np.random.Generator,
        *,
        finite: bool = False,
        excluded: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Propose values for parameters modelled jointly: argmax of l(x) / g(x).

        With ``finite``, the parameters make up the whole configuration of a trial and have
        finitely many values, so a candidate equal to a finished or running trial, or to an
        ``excluded`` one, would repeat it.
        """
        observations = context.observations
        assert observations is not None
        x = observations.matrix(names, distributions)[context.rows]
        # A trial that has none of these parameters (in range) says nothing about them.
        informative = ~np.all(np.isnan(x), axis=1)
        good = context.good
        if not informative.all():
            good = self._good_among(context, informative)
        below = x[informative & good]
        above = x[informative & ~good]
        numbers = observations.rank_keys()[context.rows, 3]
        below_numbers = numbers[informative & good]
        above_numbers = numbers[informative & ~good]
        if context.running:
            # Constant liar: running trials count as bad observations.
            lies = np.array(
                [encode_params(params, names, distributions) for params in context.running],
                dtype=np.float64,
            ).reshape(len(context.running), len(names))
            lies = lies[~np.all(np.isnan(lies), axis=1)]
            above = np.concatenate((above, lies))
            # Running trials are the newest observations.
            above_numbers = np.concatenate((above_numbers, np.full(len(lies), np.inf)))
        dims = [dim_of(d) for d in distributions]
        weight, rule = float(self.prior_weight), self.bandwidth
        # The good density gets adaptive kernels (see local_factors), of equal height (see
        # equal_height_weights): its few observations often sit at several optima or in one
        # tight cluster, which one width per dimension describes poorly. The bad density
        # covers most of the space and keeps the fixed widths.
        l_x = ParzenEstimator(
            below,
            dims,
            prior_weight=weight,
            bandwidth=rule,
            adaptive=True,
            weights=recency_weights(below_numbers),
        )
        # The magic clip on g only: g has many observations, so the clip only stops a pile
        # of bad trials at one value from making g a spike there; on l, with a handful of
        # observations, it would widen the kernels the most exactly while the search is
        # young, which costs more early on than it brings later.
        g_x = ParzenEstimator(
            above,
            dims,
            prior_weight=weight,
            bandwidth=rule,
            weights=recency_weights(above_numbers),
            magic_clip=True,
        )
        candidates, cell_low, cell_high = snap(distributions, l_x.sample(rng, self.n_ei_candidates))
        # Bergstra et al. (2011), Sec. 4: EI is monotone in l(x) / g(x), so maximize
        # log l(x) - log g(x) over candidates drawn from l.
        score = l_x.log_pdf(candidates, cell_low, cell_high) - g_x.log_pdf(
            candidates, cell_low, cell_high
        )
        if finite:
            # On a finite grid, the good density soon puts most candidates on the best
            # configuration found, and the ratio picks it again and again. The expected
            # improvement that l / g stands for (Bergstra et al., 2011, Sec. 4) is zero at
            # a configuration whose value is already known, so those candidates are out;
            # when all are, the prior's candidates (uniform on the grid) are scored.
            seen = np.concatenate((below, above))
            if excluded:
                claimed = [encode_params(p, names, distributions) for p in excluded]
                seen = np.concatenate((seen, np.array(claimed, dtype=np.float64)))
            repeat = _repeats(candidates, seen)
            if repeat.all():
                candidates, cell_low, cell_high = snap(
                    distributions, l_x.sample_prior(rng, self.n_ei_candidates)
                )
                score = l_x.log_pdf(candidates, cell_low, cell_high) - g_x.log_pdf(
                    candidates, cell_low, cell_high
                )
                repeat = _repeats(candidates, seen)
            if not repeat.all():
                score = np.where(repeat, -np.inf, score)
        best = candidates[int(np.argmax(score))]
        return {
            name: decode(dist, float(value))
            for name, dist, value in zip(names, distributions, best, strict=True)
        }

    def _good_among(self, context: _Context, informative: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Return the best ``gamma(m)`` of the ``m`` informative trials (a mask of all).

        Parameters that only some trials have (a branch of a conditional space) are split
        among those trials: ``l`` models the best of the branch. With the study-wide split,
        a branch whose trials are all worse than the best branch's has no good
        observations, so its parameters stay uniformly random whenever it is chosen and it
        cannot improve enough to be chosen again. A branch-wide quantile keeps what the
        quantile ``gamma`` is for (Bergstra et al., 2011, Sec. 4): enough good
        observations to model, here within the branch the proposal is in.
        """
        ranked = context.order[informative[context.order]]
        good = np.zeros(len(informative), dtype=bool)
        good[ranked[: n_good(self.gamma, len(ranked))]] = True
        return good

    def _sample_startup(self, trial: FrozenTrial, name: str, distribution: Distribution) -> Any:
        # Point trial.number of a scrambled Sobol sequence; the k-th parameter this trial
        # asks for takes coordinate k, so one code path gets a low-discrepancy design.
        coordinate = sum(1 for n in trial.params if n != name)
        unit = self._sobol_point(trial.number, coordinate)
        if unit is None:
            unit = _uniform(trial_rng(self._seed, trial.number, "tpe-startup", name), distribution)
            return decode(distribution, unit)
        dim = dim_of(distribution)
        if dim.kind == Kind.CATEGORICAL:
            return decode(distribution, min(math.floor(unit * dim.size), dim.size - 1))
        # from_unit maps a uniform coordinate to a uniform cell of an integer or step grid.
        return decode(distribution, unit)

    def _sobol_point(self, index: int, coordinate: int) -> float | None:
        if coordinate >= _SOBOL_DIMS or index >= 2**_SOBOL_MAX_LOG2:
            return None
        if self._sobol is None or index >= len(self._sobol):
            log2 = max(4, math.ceil(math.log2(index + 1)))
            engine = qmc.Sobol(_SOBOL_DIMS, scramble=True, seed=self._seed)
            self._sobol = engine.random_base2(log2)
        return float(self._sobol[index, coordinate])


def recency_weights(numbers: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the mixture weight of each observation of a density, from its trial number.

    Hyperopt's linear forgetting (Bergstra, Yamins and Cox, 2013; the default weighting of
    Hyperopt's and Optuna's TPE, the "old-decay" weighting of Watanabe, 2023, Sec. 3): the
    ``RECENT_FULL_WEIGHT`` newest observations weigh 1, older ones weigh less and less, down
    to ``1 / m`` for the oldest of ``m``. The bad density gathers nearly every trial, most
    of them from the early, widely spread search; forgetting them slowly lets ``g`` follow
    where the search is now, so the ratio ``l / g`` keeps telling apart the good region
    from the bad trials around it instead of from the start-up design. With the default
    ``gamma`` the good density never has more than 25 observations, so it keeps equal
    weights.

    Args:
        numbers: ``(m,)`` trial numbers of the observations (``inf`` for running trials,
            the newest).

    Example:
        >>> recency_weights(np.arange(3.0))
        array([1., 1., 1.])
        >>> w = recency_weights(np.arange(30.0)[::-1])
        >>> float(w[-1]), float(w[0])
        (0.03333333333333333, 1.0)
    """
    m = len(numbers)
    weights = np.ones(m)
    if m > RECENT_FULL_WEIGHT:
        oldest = np.argsort(numbers, kind="stable")[: m - RECENT_FULL_WEIGHT]
        weights[oldest] = np.linspace(1.0 / m, 1.0, m - RECENT_FULL_WEIGHT)
    return weights


def _repeats(candidates: NDArray[np.float64], seen: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Return which candidates equal one of the ``seen`` rows (snapped grid coordinates)."""
    if not len(seen):
        return np.zeros(len(candidates), dtype=bool)
    # Snapping maps a value to one coordinate, so equal values compare equal exactly.
    equal: NDArray[np.bool_] = np.all(candidates[:, None, :] == seen[None, :, :], axis=2)
    return np.asarray(equal.any(axis=1))


def _uniform(rng: np.random.Generator, distribution: Distribution) -> float:
    """Return a uniform unit coordinate, or a uniform choice index for a categorical."""
    dim = dim_of(distribution)
    if dim.kind == Kind.CATEGORICAL:
        return float(rng.integers(dim.size))
    return float(rng.random())
