"""The Parzen estimator: a kernel mixture over the unit cube.

TPE replaces the surrogate of Bayesian optimization by two densities, ``l(x)`` fitted to the
good observations and ``g(x)`` to the bad ones (Bergstra et al., 2011, Sec. 4). Each is a
mixture of one kernel per observation plus a prior component (Watanabe, 2023, Sec. 3)::

    p(x) = (prior_weight * u(x) + sum_i k(x | x_i)) / (prior_weight + n)

where ``u`` is the uniform density of the search space (the prior of random search) and
``k`` is a product kernel over the dimensions (Watanabe, 2023, Sec. 3, the multivariate
kernel). All dimensions live in the unit cube, so log parameters are already in log space:

* continuous: a Gaussian restricted to ``[0, 1]`` and not renormalized: the mass it would
  put beyond a bound is dropped, so a kernel next to a bound is no taller than the same
  kernel in the middle. Renormalizing it (a truncated Gaussian) would raise it by up to a
  factor of two at the bound, and since the good density's kernels are the narrower
  ones, the ratio ``l / g`` would then lean towards the bounds: the search would hug a
  bound near its first good trials instead of following the objective away from it.
  Candidates are still drawn from the truncated Gaussian, so every draw is a valid point;
* discrete (integers, stepped floats): the truncated Gaussian's probability mass over the
  cell of the unit interval that snaps to each value (renormalized, unlike the continuous
  kernel: dropping the mass beyond the end values made the benchmark's all-integer problem
  slower to solve), so a density ratio never favours a value for the width of its cell,
  mixed with the prior (uniform on the unit interval) with the weight ``b`` of the
  categorical kernel below. A few good observations on a grid soon share values and narrow
  the Gaussian to a cell or two; like the categorical kernel's ``b``, the uniform part
  keeps every value of the dimension in reach, with a weight that shrinks as observations
  accumulate, while the other dimensions of the kernel stay where the observation is.
  Without it, the search stays in the first good region it finds on a small grid;
* categorical: an Aitchison-Aitken kernel (Watanabe, 2023, Sec. 3), which keeps most of the
  weight on the observed choice and spreads the rest over all choices. Choices are indices.

Kernel widths follow one rule per dimension (see :func:`numeric_bandwidths`); optionally,
in continuous dimensions, each kernel scales its width by how crowded its neighbourhood is
(see :func:`local_factors`) and its weight by its volume, so that all kernels keep the same
height (see :func:`equal_height_weights`). Optionally, no kernel is narrower than the magic
clip (see :func:`minimum_bandwidth`).

Observations may carry weights (TPE weighs older trials less, see the sampler); the prior
keeps its own weight.

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

__all__ = ["Dim", "Kind", "ParzenEstimator", "equal_height_weights"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Standard deviation of the uniform distribution on [0, 1]: the spread assumed when there
# are too few observations to measure one.
_UNIFORM_STD = 1.0 / math.sqrt(12.0)
_TINY = 1e-300
# Reference observations of the pilot density of adaptive kernels (see local_factors): all
# of them up to this many, evenly spread ones beyond, which bounds the cost.
_PILOT_POINTS = 256
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
        prior_weight: Weight of the prior component.
        bandwidth: ``"scott"``, ``"hyperopt"`` or a positive factor; see
            :func:`numeric_bandwidths`.
        adaptive: With the ``"scott"`` or a fixed-factor rule, scale each kernel's width in
            the continuous dimensions by its :func:`local_factors` (a variable-kernel
            estimate) and its weight by :func:`equal_height_weights`; ignored by
            ``"hyperopt"``, which already gives each kernel its own width.
        weights: ``(n,)`` positive weight of each observation in the mixture; 1 each by
            default.
        magic_clip: Keep every numeric kernel at least as wide as the magic clip (see
            :func:`minimum_bandwidth`); always on with ``"hyperopt"``.

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
        adaptive: bool = False,
        weights: NDArray[np.float64] | None = None,
        magic_clip: bool = False,
    ) -> None:
        n, d = observations.shape
        self._n: int = int(n)
        self._dims = list(dims)
        self._missing = missing = np.isnan(observations)
        any_missing = bool(missing.any())
        mixture = np.append(np.ones(n) if weights is None else weights, prior_weight)
        self._prior_weight = float(prior_weight)
        self._reweigh(mixture[:n])
        # Kernel centres (NaN replaced so the arithmetic stays finite; those kernels are
        # uniform in that dimension anyway) and bandwidths (unused in categorical ones).
        self._mu = np.where(missing, 0.5, observations) if any_missing else observations
        self._sigma = np.ones((n, d))
        counts = n - np.count_nonzero(missing, axis=0) if any_missing else np.full(d, n)
        # Weight of the uniform part of each kernel in categorical and discrete dimensions
        # (Aitchison-Aitken for categorical ones; see the module docstring).
        self._cat_bandwidth = np.array(
            [
                categorical_bandwidth(int(counts[j])) if dim.kind != Kind.CONTINUOUS else 0.0
                for j, dim in enumerate(self._dims)
            ]
        )
        numeric_dims = [j for j, dim in enumerate(self._dims) if dim.kind != Kind.CATEGORICAL]
        self._discrete = [j for j, dim in enumerate(self._dims) if dim.kind == Kind.DISCRETE]
        categorical_dims = [j for j, dim in enumerate(self._dims) if dim.kind == Kind.CATEGORICAL]
        # Slices (views, no copies) when every dimension qualifies.
        self._numeric = numeric = _columns(numeric_dims, d)
        self._categorical = _columns(categorical_dims, d)
        self._n_numeric, self._n_categorical = len(numeric_dims), len(categorical_dims)
        self._sizes = np.array([float(dim.size) for dim in self._dims])
        # The "hyperopt" rule gives each kernel its own width, the others one per dimension.
        per_kernel = bandwidth == "hyperopt"
        if numeric_dims:
            clip = magic_clip or bandwidth == "hyperopt"
            minimum = np.array(
                [minimum_bandwidth(int(counts[j]), self._dims[j], clip) for j in numeric_dims]
            )
            if per_kernel:
                for j in numeric_dims:
                    present = ~missing[:, j]
                    self._sigma[present, j] = _neighbour_bandwidths(observations[present, j])
                self._sigma[:, numeric] = np.clip(self._sigma[:, numeric], minimum[None, :], 1.0)
            else:
                shared = _rule_bandwidths(observations[:, numeric], d, bandwidth, prior_weight)
                continuous = [j for j in numeric_dims if self._dims[j].kind == Kind.CONTINUOUS]
                if adaptive and n > 1 and continuous:
                    # Each kernel scales the shared width in its continuous dimensions;
                    # discrete ones keep theirs (a cell is the finest scale there anyway).
                    per_kernel = True
                    at = [numeric_dims.index(j) for j in continuous]
                    factors = local_factors(
                        observations[:, continuous], shared[at], len(continuous)
                    )
                    scale = np.ones((n, len(numeric_dims)))
                    scale[:, at] = factors[:, None]
                    self._sigma[:, numeric] = np.clip(scale * shared, minimum[None, :], 1.0)
                    self._reweigh(equal_height_weights(mixture[:n], factors, len(continuous)))
                else:
                    self._sigma[:, numeric] = np.clip(shared, minimum, 1.0)
        self._init_continuous(any_missing, per_kernel=per_kernel)
        self._init_lookups(any_missing, per_kernel=per_kernel)

    def _reweigh(self, observation_weights: NDArray[np.float64]) -> None:
        mixture = np.append(observation_weights, self._prior_weight)
        self._weights = mixture / mixture.sum()
        self._log_weights = np.log(self._weights)

    def _init_continuous(self, any_missing: bool, *, per_kernel: bool) -> None:
        # Continuous dimensions are evaluated together as one quadratic form per kernel:
        # sum_j ((x_j - mu_j) / sigma_j) ** 2 = x^2 . a - 2 x . b + c, with the inverse
        # bandwidth 0 where an observation is missing (a flat kernel there).
        n, d = self._mu.shape
        continuous = [j for j, dim in enumerate(self._dims) if dim.kind == Kind.CONTINUOUS]
        self._n_continuous = k = len(continuous)
        self._continuous = cont = _columns(continuous, d)
        mu_c, sigma_c = self._mu[:, cont], self._sigma[:, cont]
        # No division by the mass inside [0, 1] (see the module docstring): a kernel near a
        # bound keeps the height of a Gaussian and loses the mass beyond the bound.
        if any_missing and self._missing[:, cont].any():
            present_c = ~self._missing[:, cont]
            inv_var = np.where(present_c, 1.0 / sigma_c**2, 0.0)
            log_norm = -_LOG_SQRT_2PI - np.log(sigma_c)
            log_norm_sum = np.sum(np.where(present_c, log_norm, 0.0), axis=1)
        else:
            inv_var = 1.0 / sigma_c**2
            log_sigma_sum = np.sum(
                np.log(sigma_c) if per_kernel else np.log(sigma_c[0]) if n else np.zeros(k),
                axis=-1,
            )
            log_norm_sum = np.full(n, -_LOG_SQRT_2PI * k - log_sigma_sum)
        self._quad_a = inv_var
        self._quad_b = mu_c * inv_var
        self._quad_c = np.sum(mu_c * self._quad_b, axis=1)
        self._cont_log_norm = log_norm_sum

    def _init_lookups(self, any_missing: bool, *, per_kernel: bool) -> None:
        # Discrete and categorical dimensions are evaluated by table look-up: their kernels
        # take few distinct forms (a categorical kernel is fixed by its choice, a discrete
        # one by its centre and width), so log_pdf evaluates each distinct kernel once per
        # point and gathers the values by each observation's code. The last code of a table
        # stands for the uniform density: that of a missing value and of the prior, which
        # takes the last column of the gathered values.
        mu, missing = self._mu, self._missing
        self._lookups: list[_CategoricalLookup | _DiscreteLookup] = []
        for j, dim in enumerate(self._dims):
            if dim.kind == Kind.CATEGORICAL:
                choice = np.where(missing[:, j], dim.size, mu[:, j]) if any_missing else mu[:, j]
                codes = np.append(choice.astype(np.intp), dim.size)
                bandwidth = float(self._cat_bandwidth[j])
                self._lookups.append(_CategoricalLookup(j, dim.size, codes, bandwidth))
            elif dim.kind == Kind.DISCRETE:
                first, codes = _distinct(mu[:, j], self._sigma[:, j] if per_kernel else None)
                codes[missing[:, j]] = len(first)
                codes = np.append(codes, len(first))
                centre, width = mu[first, j], self._sigma[first, j]
                log_z = _log_mass_inside(centre, width)
                bandwidth = float(self._cat_bandwidth[j])
                self._lookups.append(_DiscreteLookup(j, codes, centre, width, log_z, bandwidth))

    @property
    def n_observations(self) -> int:
        """How many observations (kernels besides the prior) the mixture has."""
        return self._n

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Draw ``size`` points: unit coordinates (not yet snapped) or choice indices."""
        n, d = self._n, len(self._dims)
        component = rng.choice(n + 1, size=size, p=self._weights)
        # Two uniforms per point and dimension, u then v for each dimension in turn (one
        # draw of the stream that 2 d draws of ``size`` would take).
        uv = rng.random((d, 2, size))
        u, v = uv[:, 0].T, uv[:, 1].T
        # Uniform coordinates and choices: what the prior draws, and a kernel in a dimension
        # its observation misses.
        out = u.copy()
        numeric, categorical = self._numeric, self._categorical
        if self._n_categorical:
            sizes = self._sizes[categorical]
            out[:, categorical] = np.minimum(np.floor(u[:, categorical] * sizes), sizes - 1)
        if not n:
            return out
        kernel = np.minimum(component, n - 1)
        uniform = (component == n)[:, None] | self._missing[kernel]
        mu, sigma = self._mu[kernel], self._sigma[kernel]
        if self._n_numeric:
            mu_n, sigma_n = mu[:, numeric], sigma[:, numeric]
            # Inverse-CDF sampling of the Gaussian truncated to [0, 1] (a draw beyond a
            # bound is not a valid point; the density keeps the plain Gaussian's height).
            lo, hi = ndtr(-mu_n / sigma_n), ndtr((1.0 - mu_n) / sigma_n)
            drawn = np.clip(mu_n + sigma_n * ndtri(lo + v[:, numeric] * (hi - lo)), 0.0, 1.0)
            if self._discrete:
                # A discrete kernel draws from the prior with probability b in its dimension
                # (see _DiscreteLookup); drawn only when there are discrete dimensions, so
                # continuous spaces keep their random stream.
                discrete = self._discrete
                spread = np.zeros((size, d), dtype=bool)
                weight = self._cat_bandwidth[discrete]
                spread[:, discrete] = rng.random((size, len(discrete))) < weight
                uniform = uniform | spread
            out[:, numeric] = np.where(uniform[:, numeric], out[:, numeric], drawn)
        if self._n_categorical:
            # Aitchison-Aitken: the observed choice with probability 1 - b, else any choice
            # uniformly (which may be the observed one again).
            keep = ~uniform[:, categorical] & (
                v[:, categorical] >= self._cat_bandwidth[categorical]
            )
            out[:, categorical] = np.where(keep, mu[:, categorical], out[:, categorical])
        return out

    def sample_prior(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Draw ``size`` points from the prior component alone (uniform on the space)."""
        out = rng.random((size, len(self._dims)))
        if self._n_categorical:
            categorical = self._categorical
            sizes = self._sizes[categorical]
            out[:, categorical] = np.minimum(np.floor(out[:, categorical] * sizes), sizes - 1)
        return out

    def log_pdf(
        self,
        x: NDArray[np.float64],
        cell_low: NDArray[np.float64],
        cell_high: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Return the log density (log mass in discrete and categorical dimensions) at ``x``.

        In continuous dimensions the kernels are not renormalized to ``[0, 1]`` (see the
        module docstring), so the density integrates to less than 1 when kernels reach past
        a bound; TPE only compares ratios of two such densities.

        Args:
            x: ``(m, d)`` points: unit coordinates or choice indices.
            cell_low: ``(m, d)`` lower edge of each point's cell in discrete dimensions.
            cell_high: ``(m, d)`` upper edge of each point's cell in discrete dimensions.
        """
        m, n = x.shape[0], self._n
        # log of each component at each point: (m, n + 1), the last column the prior.
        log_k = np.empty((m, n + 1))
        if self._n_continuous:
            # Product of the kernels' Gaussians over all continuous dimensions at once (in
            # place: these are the largest arrays of an ask); the prior's density there is 1.
            xc = x[:, self._continuous]
            quad = (xc * xc) @ self._quad_a.T
            quad -= 2.0 * (xc @ self._quad_b.T)
            quad += self._quad_c
            np.maximum(quad, 0.0, out=quad)
            quad *= -0.5
            quad += self._cont_log_norm
            log_k[:, :n] = quad
            log_k[:, n] = 0.0
        else:
            log_k[:] = 0.0
        for lookup in self._lookups:
            log_k += np.take(lookup.table(x, cell_low, cell_high), lookup.codes, axis=1)
        log_k += self._log_weights
        return _logsumexp_rows(log_k)


@dataclass(frozen=True)
class _CategoricalLookup:
    """The kernels of categorical dimension ``j``: observation ``i`` has choice ``codes[i]``.

    Code ``size`` means missing.
    """

    j: int
    size: int
    codes: NDArray[np.intp]
    bandwidth: float

    def table(
        self,
        x: NDArray[np.float64],
        cell_low: NDArray[np.float64],
        cell_high: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Return the ``(m, size + 1)`` log kernel of each choice at ``m`` points.

        Aitchison-Aitken: ``1 - b + b / size`` on the kernel's own choice, ``b / size`` on
        each other one. The last column is the uniform mass of a missing value and of the
        prior.
        """
        b, size = self.bandwidth, self.size
        same = x[:, self.j, None] == np.arange(size + 1)
        table = np.where(same, math.log(1.0 - b + b / size), math.log(b / size))
        table[:, size] = -math.log(size)
        return table


@dataclass(frozen=True)
class _DiscreteLookup:
    """The distinct kernels of discrete dimension ``j``: observation ``i`` has ``codes[i]``.

    Kernel ``k`` is centred at ``mu[k]`` with width ``sigma[k]`` and mass ``exp(log_z[k])``
    inside ``[0, 1]``; code ``len(mu)`` means missing. Each kernel mixes its Gaussian
    (weight ``1 - bandwidth``) with the prior, uniform on ``[0, 1]`` (weight
    ``bandwidth``), as the Aitchison-Aitken kernel does for a categorical dimension.
    """

    j: int
    codes: NDArray[np.intp]
    mu: NDArray[np.float64]
    sigma: NDArray[np.float64]
    log_z: NDArray[np.float64]
    bandwidth: float

    def table(
        self,
        x: NDArray[np.float64],
        cell_low: NDArray[np.float64],
        cell_high: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Return the ``(m, k + 1)`` log mass each of the ``k`` kernels puts on each point's cell.

        The last column is the uniform mass of the cell: that of a missing value and of the
        prior.
        """
        k = len(self.mu)
        lo, hi = cell_low[:, self.j, None], cell_high[:, self.j, None]
        mu, sigma = self.mu[None, :], self.sigma[None, :]
        table = np.empty((x.shape[0], k + 1))
        mass = _interval_mass((lo - mu) / sigma, (hi - mu) / sigma)
        cell = np.maximum(cell_high[:, self.j] - cell_low[:, self.j], _TINY)
        b = self.bandwidth
        mixed = (1.0 - b) * mass / np.exp(self.log_z[None, :]) + b * cell[:, None]
        table[:, :k] = np.log(np.maximum(mixed, _TINY))
        table[:, k] = np.log(cell)
        return table


def minimum_bandwidth(n: int, dim: Dim, magic_clip: bool = False) -> float:
    """Return the narrowest kernel allowed in a numeric dimension with ``n`` observations.

    Never narrower than ``MIN_BANDWIDTH``, nor than half a cell in a discrete dimension;
    with ``magic_clip``, nor than the magic clip of Bergstra et al. (2011, Sec. 4), the
    range over ``min(100, n + 1)``, which Hyperopt and Optuna apply to every kernel: a
    density fitted to ``n`` observations then has no kernel narrower than the spacing of
    ``n + 1`` evenly spread points.

    Args:
        n: Observations of the density that have this dimension.
        dim: The dimension.
        magic_clip: Apply the magic clip.

    Example:
        >>> dim = Dim(Kind.CONTINUOUS)
        >>> minimum_bandwidth(9, dim), minimum_bandwidth(9, dim, magic_clip=True)
        (0.01, 0.1)
    """
    minimum = MIN_BANDWIDTH
    if magic_clip:
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
    # Most often nothing is missing: skip the masking then (same numbers).
    complete = bool(present.all())
    if complete:
        n = np.full(observations.shape[1], float(observations.shape[0]))
    else:
        n = np.sum(present, axis=0).astype(np.float64)
    shrink = np.maximum(n, 1.0) ** (-1.0 / (d + 4))
    if isinstance(rule, str):  # "scott"
        values = observations if complete else np.where(present, observations, 0.0)
        total = n + prior_weight
        mean = (np.sum(values, axis=0) + 0.5 * prior_weight) / total
        deviation = (values - mean) ** 2
        scatter = np.sum(deviation if complete else np.where(present, deviation, 0.0), axis=0)
        prior_scatter = prior_weight * (_UNIFORM_STD**2 + (0.5 - mean) ** 2)
        spread = np.sqrt((scatter + prior_scatter) / total)
        factor = (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0))
        result: NDArray[np.float64] = factor * shrink * spread
        return result
    fixed: NDArray[np.float64] = float(rule) * shrink
    return fixed


def local_factors(
    observations: NDArray[np.float64], widths: NDArray[np.float64], k: int
) -> NDArray[np.float64]:
    """Return each observation's factor on the shared widths: a sample-point adaptive KDE.

    One width per dimension (Scott's rule) suits a unimodal sample; the good observations
    of TPE are often in clusters, at several optima, or alone. A variable-kernel estimate
    (Breiman, Meisel and Purcell, 1977; Silverman, 1986, Sec. 5.3) narrows the kernels
    where observations crowd and widens them where they are sparse: observation ``i``
    gets ``lambda_i = (f(x_i) / G) ** -alpha``, where ``f`` is the fixed-width estimate
    (the pilot) and ``G`` the geometric mean of ``f`` over the observations, so the
    widths keep Scott's overall level. ``alpha = 1 / k`` in ``k`` dimensions makes a
    kernel's width follow the distance to its nearest neighbours (the kernels then hold
    similar mass), capped at Abramson's (1982) ``1 / 2``.

    Args:
        observations: ``(n, k)`` unit coordinates of ``k`` continuous dimensions, NaN where
            missing (a missing dimension does not count in the pilot's distances).
        widths: The ``k`` shared (pilot) widths.
        k: Number of dimensions, ``k >= 1``.

    Example:
        >>> x = np.array([[0.1], [0.11], [0.12], [0.9]])
        >>> f = local_factors(x, np.array([0.1]), 1)
        >>> bool(f[3] > 1.0 > f[1])
        True
    """
    n = len(observations)
    present = ~np.isnan(observations)
    y = np.where(present, observations / widths, 0.0)
    m = present.astype(np.float64)
    # Squared pilot distances sum_j m_ij m_rj (y_ij - y_rj) ** 2 to up to _PILOT_POINTS
    # reference observations, as matrix products (n x n at most, not n x n x k).
    ref = np.arange(n) if n <= _PILOT_POINTS else np.linspace(0, n - 1, _PILOT_POINTS)
    ref = ref.astype(np.intp)
    yr, mr = y[ref], m[ref]
    q = (y * y) @ mr.T + m @ (yr * yr).T - 2.0 * (y @ yr.T)
    np.maximum(q, 0.0, out=q)
    q *= -0.5
    log_f = _logsumexp_rows(q)
    # An observation missing every dimension has no place in the pilot: factor 1.
    has = present.any(axis=1)
    factor = np.ones(n)
    if has.any():
        alpha = 1.0 / max(k, 2)
        factor[has] = np.exp(-alpha * (log_f[has] - np.mean(log_f[has])))
    return factor


def equal_height_weights(
    weights: NDArray[np.float64], factors: NDArray[np.float64], k: int
) -> NDArray[np.float64]:
    """Return observation weights under which adaptive kernels keep equal heights.

    With :func:`local_factors`, kernels in a crowded neighbourhood are narrower, so with
    equal weights (equal mass) they are taller, and a cluster of ``m`` good observations
    outweighs a lone good observation ``m`` times. But good observations crowd where the
    sampler has already searched, not only where the objective is good: TPE proposes
    where ``l`` is high, so a region found early is sampled again and again, its good
    trials pile up, and ``l`` holds ever more of its mass there, even when those trials
    are no better than a lone good trial elsewhere (a plateau, or a ridge explored at one
    end). Scaling each weight by its kernel's volume factor ``lambda_i ** k`` (``k``
    continuous dimensions) gives every kernel the same peak height in those dimensions:
    ``l`` then says where good trials are, not how often each place was tried. The total
    weight of the observations is kept, so the prior's share does not change. Heights are
    equal before the widths are clipped to their allowed range (see
    :func:`minimum_bandwidth`); a clipped kernel keeps the weight of its unclipped width.

    Args:
        weights: ``(n,)`` weights of the observations (recency, for TPE).
        factors: ``(n,)`` width factors from :func:`local_factors`.
        k: Number of continuous dimensions the factors apply to.

    Example:
        >>> w = equal_height_weights(np.ones(3), np.array([0.5, 0.5, 2.0]), 2)
        >>> [round(float(x), 3) for x in w]  # the lone wide kernel weighs 16 times more
        [0.167, 0.167, 2.667]
    """
    scaled = weights * factors**k
    total = float(scaled.sum())
    if not math.isfinite(total) or total <= 0.0:
        return weights
    return scaled * (float(weights.sum()) / total)


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


def _distinct(
    mu: NDArray[np.float64], sigma: NDArray[np.float64] | None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Return one kernel per distinct ``(mu, sigma)`` pair, and each kernel's pair among them.

    ``sigma`` None means one width shared by all kernels.
    """
    order = np.argsort(mu) if sigma is None else np.lexsort((sigma, mu))
    new = np.ones(len(mu), dtype=bool)
    new[1:] = np.diff(mu[order]) != 0
    if sigma is not None:
        new[1:] |= np.diff(sigma[order]) != 0
    codes = np.empty(len(mu), dtype=np.intp)
    codes[order] = np.cumsum(new) - 1
    return order[new], codes


def _log_mass_inside(mu: NDArray[np.float64], sigma: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log mass of Gaussian kernels inside ``[0, 1]``, which always holds their centres."""
    z = ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma)
    result: NDArray[np.float64] = np.log(np.maximum(z, _TINY))
    return result


def _interval_mass(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard normal mass of ``[a, b]``, accurate in both tails."""
    # In the upper tail (a > 0), subtract survival functions instead of CDFs near 1:
    # ndtr(-a) - ndtr(-b) = -(ndtr(-b) - ndtr(-a)), so one flip of sign serves both cases.
    sign = np.where(a > 0, -1.0, 1.0)
    mass: NDArray[np.float64] = sign * (ndtr(sign * b) - ndtr(sign * a))
    return mass


def _columns(indices: list[int], d: int) -> list[int] | slice:
    """Index ``indices`` of ``d`` columns: a slice when they are all of them."""
    return slice(None) if len(indices) == d else indices


def _logsumexp_rows(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(sum(exp(a), axis=1))`` without overflow (rows hold at least one finite value).

    Overwrites ``a``.
    """
    peak = np.max(a, axis=1)
    a -= peak[:, None]
    np.exp(a, out=a)
    result: NDArray[np.float64] = peak + np.log(np.sum(a, axis=1))
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
