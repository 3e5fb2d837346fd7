"""The Parzen estimator: a kernel mixture over the unit cube.

TPE replaces the surrogate of Bayesian optimization by two densities, ``l(x)`` fitted to the
good observations and ``g(x)`` to the bad ones (Bergstra et al., 2011, Sec. 4). Each is a
mixture of one kernel per observation plus a prior component (Watanabe, 2023, Sec. 3)::

    p(x) = (prior_weight * u(x) + sum_i k(x | x_i)) / (prior_weight + n)

where ``u`` is the uniform density of the search space (the prior of random search) and
``k`` is a product kernel over the dimensions (Watanabe, 2023, Sec. 3, the multivariate
kernel). All dimensions live in the unit cube, so log parameters are already in log space:

* continuous: a Gaussian truncated to ``[0, 1]``;
* discrete (integers, stepped floats): the same Gaussian's probability mass over the cell of
  the unit interval that snaps to each value, so a density ratio never favours a value for
  the width of its cell;
* categorical: an Aitchison-Aitken kernel (Watanabe, 2023, Sec. 3), which keeps most of the
  weight on the observed choice and spreads the rest over all choices. Choices are indices.

An observation may miss a dimension (NaN): a conditional parameter the trial did not have,
or a value outside the current range. Its kernel is then uniform in that dimension, so the
trial informs the model only through the dimensions it has.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

__all__ = ["Dim", "Kind", "ParzenEstimator"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Standard deviation of the uniform distribution on [0, 1]: the spread assumed when there
# are too few observations to measure one.
_UNIFORM_STD = 1.0 / math.sqrt(12.0)
_TINY = 1e-300
#: Narrowest kernel in the unit cube (Watanabe, 2023, Sec. 3: a minimum bandwidth factor
#: keeps the density from collapsing onto a point).
MIN_BANDWIDTH = 0.01


class Kind(enum.Enum):
    """How one dimension of the unit cube is modelled."""

    CONTINUOUS = "continuous"
    DISCRETE = "discrete"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Dim:
    """One dimension: its kind and, for discrete and categorical ones, how many values."""

    kind: Kind
    size: int = 0


class ParzenEstimator:
    """A mixture of a uniform prior and one product kernel per observation.

    Args:
        observations: ``(n, d)`` array: unit-cube coordinates for numeric dimensions, choice
            indices for categorical ones, NaN where an observation misses a dimension.
        dims: The ``d`` dimensions.
        prior_weight: Weight of the prior component; each observation weighs 1.
        bandwidth: ``"scott"``, ``"hyperopt"`` or a positive factor; see
            :func:`numeric_bandwidths`.

    Example:
        >>> import numpy as np
        >>> pe = ParzenEstimator(np.array([[0.2], [0.3]]), [Dim(Kind.CONTINUOUS)],
        ...                      prior_weight=1.0, bandwidth="scott")
        >>> x = pe.sample(np.random.default_rng(0), 4)
        >>> pe.log_pdf(x, x, x).shape
        (4,)
    """

    def __init__(
        self,
        observations: NDArray[np.float64],
        dims: Sequence[Dim],
        *,
        prior_weight: float,
        bandwidth: str | float,
    ) -> None:
        n, d = observations.shape
        self._n: int = int(n)
        self._dims = list(dims)
        self._obs = observations
        self._missing = np.isnan(observations)
        weights = np.append(np.ones(n), prior_weight)
        self._weights = weights / weights.sum()
        self._log_weights = np.log(self._weights)
        # Kernel centres (NaN replaced so the arithmetic stays finite; those kernels are
        # uniform in that dimension anyway), bandwidths and truncation constants.
        any_missing = bool(self._missing.any())
        self._mu = np.where(self._missing, 0.5, observations) if any_missing else observations
        self._sigma = np.ones((n, d))
        self._log_z = np.zeros((n, d))
        self._cat_bandwidth = np.zeros(d)
        counts = np.sum(~self._missing, axis=0)
        numeric_dims = [j for j, dim in enumerate(self._dims) if dim.kind != Kind.CATEGORICAL]
        for j in range(d):
            if j not in numeric_dims:
                self._cat_bandwidth[j] = categorical_bandwidth(int(counts[j]))
        # A slice (a view, no copy) when every dimension qualifies.
        numeric = _columns(numeric_dims, d)
        if numeric_dims:
            minimum = np.array(
                [minimum_bandwidth(int(counts[j]), self._dims[j], bandwidth) for j in numeric_dims]
            )
            if bandwidth == "hyperopt":
                for j in numeric_dims:
                    present = ~self._missing[:, j]
                    self._sigma[present, j] = _neighbour_bandwidths(observations[present, j])
                sigma = np.clip(self._sigma[:, numeric], minimum[None, :], 1.0)
            else:
                # One bandwidth per dimension, shared by its kernels.
                shared = _rule_bandwidths(observations[:, numeric], d, bandwidth, prior_weight)
                sigma = np.broadcast_to(np.clip(shared, minimum, 1.0), (n, len(numeric_dims)))
            self._sigma[:, numeric] = sigma
            mu = self._mu[:, numeric]
            # Mass of each kernel inside [0, 1]; the interval always holds the centre.
            z = ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma)
            self._log_z[:, numeric] = np.log(np.maximum(z, _TINY))
        # Continuous dimensions are evaluated together as one quadratic form per kernel:
        # sum_j ((x_j - mu_j) / sigma_j) ** 2 = x^2 . a - 2 x . b + c, with the inverse
        # bandwidth 0 where an observation is missing (a flat kernel there).
        continuous = [j for j, dim in enumerate(self._dims) if dim.kind == Kind.CONTINUOUS]
        self._n_continuous = len(continuous)
        self._continuous = cont = _columns(continuous, d)
        mu_c = self._mu[:, cont]
        if self._missing[:, cont].any():
            present_c = ~self._missing[:, cont]
            inv_var = np.where(present_c, 1.0 / self._sigma[:, cont] ** 2, 0.0)
            log_norm = -_LOG_SQRT_2PI - np.log(self._sigma[:, cont]) - self._log_z[:, cont]
            self._cont_log_norm = np.sum(np.where(present_c, log_norm, 0.0), axis=1)
        else:
            inv_var = 1.0 / self._sigma[:, cont] ** 2
            log_sigma = np.log(self._sigma[0, cont]) if n else np.zeros(self._n_continuous)
            per_kernel = bandwidth == "hyperopt"
            log_sigma_sum = np.sum(
                np.log(self._sigma[:, cont]) if per_kernel else log_sigma, axis=-1
            )
            self._cont_log_norm = (
                -_LOG_SQRT_2PI * self._n_continuous
                - log_sigma_sum
                - np.sum(self._log_z[:, cont], axis=1)
            )
        self._quad_a = inv_var
        self._quad_b = mu_c * inv_var
        self._quad_c = np.sum(mu_c * self._quad_b, axis=1)

    @property
    def n_observations(self) -> int:
        """How many observations (kernels besides the prior) the mixture has."""
        return self._n

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Draw ``size`` points: unit coordinates (not yet snapped) or choice indices."""
        n, d = self._n, len(self._dims)
        component = rng.choice(n + 1, size=size, p=self._weights)
        from_prior = component == n
        kernel = np.minimum(component, max(n - 1, 0))
        out = np.empty((size, d))
        for j, dim in enumerate(self._dims):
            u = rng.random(size)
            v = rng.random(size)
            uniform = from_prior | self._missing[kernel, j] if n else np.ones(size, dtype=bool)
            if dim.kind == Kind.CATEGORICAL:
                uniform_choice = np.minimum(np.floor(u * dim.size), dim.size - 1)
                if n:
                    observed = self._mu[kernel, j]
                    # Aitchison-Aitken: the observed choice with probability 1 - b, else
                    # any choice uniformly (which may be the observed one again).
                    keep = v >= self._cat_bandwidth[j]
                    out[:, j] = np.where(uniform | ~keep, uniform_choice, observed)
                else:
                    out[:, j] = uniform_choice
                continue
            if n:
                mu = self._mu[kernel, j]
                sigma = self._sigma[kernel, j]
                # Inverse-CDF sampling of the Gaussian truncated to [0, 1].
                lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
                drawn = mu + sigma * ndtri(lo + v * (hi - lo))
                out[:, j] = np.where(uniform, u, np.clip(drawn, 0.0, 1.0))
            else:
                out[:, j] = u
        return out

    def log_pdf(
        self,
        x: NDArray[np.float64],
        cell_low: NDArray[np.float64],
        cell_high: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Return the log density (log mass in discrete and categorical dimensions) at ``x``.

        Args:
            x: ``(m, d)`` points: unit coordinates or choice indices.
            cell_low: ``(m, d)`` lower edge of each point's cell in discrete dimensions.
            cell_high: ``(m, d)`` upper edge of each point's cell in discrete dimensions.
        """
        m, n = x.shape[0], self._n
        # log of each component at each point: (m, n + 1), the last column the prior.
        log_k = np.zeros((m, n + 1))
        if self._n_continuous:
            # Product of truncated Gaussians over all continuous dimensions at once; the
            # prior's density there is 1.
            xc = x[:, self._continuous]
            quad = (xc * xc) @ self._quad_a.T - 2.0 * (xc @ self._quad_b.T) + self._quad_c
            log_k[:, :n] = -0.5 * np.maximum(quad, 0.0) + self._cont_log_norm[None, :]
        for j, dim in enumerate(self._dims):
            if dim.kind == Kind.CONTINUOUS:
                continue
            missing = self._missing[:, j]
            uniform: float | NDArray[np.float64]
            if dim.kind == Kind.CATEGORICAL:
                b = self._cat_bandwidth[j]
                log_other = math.log(b / dim.size)
                log_same = math.log(1.0 - b + b / dim.size)
                same = x[:, j, None] == self._mu[None, :, j]
                log_kj = np.where(same, log_same, log_other)
                uniform = -math.log(dim.size)
            elif dim.kind == Kind.DISCRETE:
                lo, hi = cell_low[:, j, None], cell_high[:, j, None]
                mu, sigma = self._mu[None, :, j], self._sigma[None, :, j]
                mass = _interval_mass((lo - mu) / sigma, (hi - mu) / sigma)
                log_kj = np.log(np.maximum(mass, _TINY)) - self._log_z[None, :, j]
                uniform = np.log(np.maximum(cell_high[:, j] - cell_low[:, j], _TINY))[:, None]
            log_kj = np.where(missing[None, :], uniform, log_kj)
            log_k[:, :n] += log_kj
            log_k[:, n] += np.broadcast_to(uniform, (m, 1))[:, 0]
        return _logsumexp_rows(log_k + self._log_weights[None, :])


def minimum_bandwidth(n: int, dim: Dim, rule: str | float) -> float:
    """Return the narrowest kernel allowed in a numeric dimension with ``n`` observations."""
    minimum = MIN_BANDWIDTH
    if rule == "hyperopt":
        # Magic clip (Bergstra et al., 2011, Sec. 4): no kernel narrower than the range
        # over (number of observations + 1).
        minimum = max(minimum, 1.0 / min(100.0, n + 1.0))
    if dim.kind == Kind.DISCRETE:
        # At least half a cell, so a kernel always reaches its neighbouring values.
        minimum = max(minimum, 0.5 / max(dim.size, 1))
    return minimum


def categorical_bandwidth(n: int) -> float:
    """Return the Aitchison-Aitken bandwidth ``b`` for ``n`` observations.

    The kernel puts ``1 - b + b / k`` on the observed choice and ``b / k`` on each other
    one. ``b = 1 / (1 + sqrt(n))`` shrinks as evidence accumulates, like a numeric
    bandwidth; the prior component adds the remaining smoothing.
    """
    return 1.0 / (1.0 + math.sqrt(n))


def numeric_bandwidths(
    present: NDArray[np.float64], d: int, rule: str | float, prior_weight: float
) -> NDArray[np.float64]:
    """Return one bandwidth per observed value of a numeric dimension, before clipping.

    Rules:

    * ``"scott"``: Scott's rule for a ``d``-dimensional product kernel (Watanabe, 2023,
      Sec. 3), ``(4 / (d + 2)) ** (1 / (d + 4)) * n ** (-1 / (d + 4)) * s``. The spread
      ``s`` is the standard deviation of the whole mixture's sample: the observations
      (weight 1 each) pooled with the prior (weight ``prior_weight``, the variance of the
      uniform distribution). A few good observations that happen to lie close together
      therefore cannot collapse the density onto a point; the kernels narrow only as
      evidence accumulates.
    * ``"hyperopt"``: each kernel as wide as the larger gap to its neighbours, the domain
      edges included (Bergstra et al., 2011, Sec. 4).
    * a float ``c``: ``c * n ** (-1 / (d + 4))`` for every kernel.

    Args:
        present: The observed (non-missing) values of this dimension.
        d: Number of dimensions of the joint kernel.
        rule: The rule.
        prior_weight: Weight of the prior component.
    """
    if rule == "hyperopt":
        return _neighbour_bandwidths(present)
    width = _rule_bandwidths(present[:, None], d, rule, prior_weight)[0]
    return np.full(len(present), width)


def _rule_bandwidths(
    observations: NDArray[np.float64], d: int, rule: str | float, prior_weight: float
) -> NDArray[np.float64]:
    """Return the ``"scott"`` or fixed-factor bandwidth of each column (NaN = missing)."""
    present = ~np.isnan(observations)
    n = np.sum(present, axis=0).astype(np.float64)
    shrink = np.maximum(n, 1.0) ** (-1.0 / (d + 4))
    if isinstance(rule, str):  # "scott"
        values = np.where(present, observations, 0.0)
        total = n + prior_weight
        mean = (np.sum(values, axis=0) + 0.5 * prior_weight) / total
        scatter = np.sum(np.where(present, (values - mean) ** 2, 0.0), axis=0)
        prior_scatter = prior_weight * (_UNIFORM_STD**2 + (0.5 - mean) ** 2)
        spread = np.sqrt((scatter + prior_scatter) / total)
        factor = (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0))
        result: NDArray[np.float64] = factor * shrink * spread
        return result
    fixed: NDArray[np.float64] = float(rule) * shrink
    return fixed


def _neighbour_bandwidths(mu: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(mu) == 0:
        return np.ones(0)
    order = np.argsort(mu, kind="stable")
    points = np.concatenate(([0.0], mu[order], [1.0]))
    gaps = np.diff(points)
    widest = np.maximum(gaps[:-1], gaps[1:])
    sigma = np.empty(len(mu))
    sigma[order] = widest
    return sigma


def _interval_mass(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal mass of ``[a, b]``, accurate in both tails."""
    upper = a > 0
    # In the upper tail, subtract survival functions instead of CDFs near 1.
    mass: NDArray[np.float64] = np.where(upper, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    return mass


def _columns(indices: list[int], d: int) -> list[int] | slice:
    """Index ``indices`` of ``d`` columns: a slice when they are all of them."""
    return slice(None) if len(indices) == d else indices


def _logsumexp_rows(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(sum(exp(a), axis=1))`` without overflow (rows hold at least one finite value)."""
    peak = np.max(a, axis=1)
    result: NDArray[np.float64] = peak + np.log(np.sum(np.exp(a - peak[:, None]), axis=1))
    return result


def _interquartile_range(values: NDArray[np.float64]) -> float:
    """The distance between the 75th and 25th percentiles (linear interpolation)."""
    ordered = np.sort(values)
    last = len(ordered) - 1

    def quantile(q: float) -> float:
        position = q * last
        below = math.floor(position)
        above = min(below + 1, last)
        fraction = position - below
        return float(ordered[below] * (1.0 - fraction) + ordered[above] * fraction)

    return quantile(0.75) - quantile(0.25)
