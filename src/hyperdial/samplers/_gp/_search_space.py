"""The GP's view of a search space: rows of floats, and moves between valid points.

Each parameter is one column:

* continuous ``Float``: its unit-cube coordinate (``Distribution.to_unit``, so log ranges
  are modelled in log space);
* discrete ``Int`` or ``Float(step=...)``: the unit coordinate of a grid point; the search
  moves between grid points by their index ``k`` (value ``low + k * step``);
* ``Categorical``: the index of the choice (a code compared for equality by the kernel).
  Values no longer among the choices (choices may change between trials) get codes past
  the last choice, so they resemble none of the current choices.

**Conditional parameters.** A parameter may exist only when a *parent* takes certain values:
a categorical (a model family's own hyperparameters, say) or an integer (the width of
layer ``i``, asked for when ``n_layers > i``). Where it is inactive its column
holds a fixed filler (the middle of the unit range, or code -1 for a categorical), in the
data and in every candidate alike: imputation, one of the ways of fitting a standard
kernel to a conditional space studied by Levesque, Durand, Gagne & Sabourin (2017),
"Bayesian Optimization for Conditional Hyperparameter Spaces". Two trials of one branch
then agree on the other branches' columns, so only their own parameters separate them,
and trials of different branches are told apart by the parent's categorical term. The
search keeps candidates consistent: :meth:`EncodedSpace.snap` puts the filler in every
inactive column, and moves never change one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from hyperdial.exceptions import InvalidSpaceError
from hyperdial.space import Categorical, Distribution, Float, Int

__all__ = ["EncodedSpace", "grid_size"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

# Discrete dimensions with more grid points than this are relaxed to continuous values
# during gradient steps (then snapped); smaller ones move only by grid steps.
_RELAX_ABOVE = 32


_TABLE_LIMIT = 1 << 16
# Column value of an inactive conditional parameter (see the module docstring).
_FILL_NUMERIC = 0.5
_FILL_CATEGORICAL = -1.0


def grid_size(dist: Distribution) -> int | None:
    """Return how many values an Int or stepped Float has; None for any other distribution."""
    if not isinstance(dist, (Int, Float)) or dist.step is None:
        return None
    return round((dist.high - dist.low) / dist.step) + 1


@functools.lru_cache(maxsize=256)
def _unit_table(dist: Float | Int, size: int) -> FloatArray:
    assert dist.step is not None
    return np.array([dist.to_unit(dist.low + k * dist.step) for k in range(size)])


class _Grid:
    """Grid points ``low + k * step`` of an Int or stepped Float, with their unit coordinates.

    Unit coordinates come from the distribution itself (``to_unit``/``from_unit``), through
    a table for grids of up to 65536 points, so the search and the study agree exactly.
    """

    def __init__(self, dist: Float | Int) -> None:
        assert dist.step is not None
        self.dist = dist
        self.size = cast(int, grid_size(dist))
        self.table = _unit_table(dist, self.size) if self.size <= _TABLE_LIMIT else None

    def index_to_unit(self, k: FloatArray) -> FloatArray:
        index = np.clip(np.asarray(k), 0, self.size - 1).astype(np.int64)
        if self.table is not None:
            return self.table[index]
        dist, step = self.dist, float(self.dist.step or 1.0)
        return np.array([dist.to_unit(dist.low + int(i) * step) for i in index], dtype=float)

    def unit_to_index(self, u: FloatArray) -> FloatArray:
        u = np.asarray(u, dtype=np.float64)
        if self.table is not None:
            # Nearest grid point in unit coordinates; the table is increasing.
            right = np.clip(np.searchsorted(self.table, u), 1, self.size - 1)
            left = right - 1
            nearer_left = np.abs(u - self.table[left]) <= np.abs(self.table[right] - u)
            index = np.where(nearer_left, left, right)
            if self.size == 1:
                index = np.zeros_like(index)
            return index.astype(np.float64)
        dist, step = self.dist, float(self.dist.step or 1.0)
        values = np.array([dist.from_unit(float(v)) for v in u.ravel()]).reshape(u.shape)
        return np.clip(np.round((values - dist.low) / step), 0, self.size - 1)


class EncodedSpace:
    """A search space as GP inputs.

    Args:
        space: Parameter name to distribution; none may be single-valued.
        conditions: For a conditional parameter, ``(parent, values)``: it is active exactly
            when ``parent`` (itself in ``space`` and unconditional: a categorical, an
            integer or a stepped float) takes one of ``values``. Parameters not listed are
            always active.

    Raises:
        InvalidSpaceError: if a distribution cannot be modelled or a condition does not
            name an unconditional categorical or discrete parent in ``space``.
    """

    def __init__(
        self,
        space: Mapping[str, Distribution],
        conditions: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
    ) -> None:
        self.names = list(space)
        self.dists = [space[name] for name in self.names]
        dim = len(self.dists)
        self.categorical = np.zeros(dim, dtype=bool)
        self.discrete = np.zeros(dim, dtype=bool)
        self.n_choices = np.zeros(dim, dtype=np.int64)
        self.grids: dict[int, _Grid] = {}
        for j, dist in enumerate(self.dists):
            if isinstance(dist, Categorical):
                self.categorical[j] = True
                self.n_choices[j] = len(dist.choices)
            elif isinstance(dist, Int) or (isinstance(dist, Float) and dist.step is not None):
                self.discrete[j] = True
                self.grids[j] = _Grid(dist)
            elif not isinstance(dist, Float):
                raise InvalidSpaceError(f"GPSampler cannot model {dist!r}.")
        self.continuous = ~self.categorical & ~self.discrete
        # Dimensions L-BFGS-B moves: continuous ones and wide grids.
        self.relaxed = self.continuous.copy()
        for j, grid in self.grids.items():
            self.relaxed[j] = grid.size > _RELAX_ABOVE
        self._unknown: list[dict[tuple[str, str], int]] = [{} for _ in range(dim)]
        self.fill = np.where(self.categorical, _FILL_CATEGORICAL, _FILL_NUMERIC)
        # Conditional columns: the parent's column and the parent's codes that activate
        # them (choice codes of a categorical, grid indices of a discrete parent).
        self.conditions: dict[int, tuple[int, FloatArray]] = {}
        for name, (parent, values) in (conditions or {}).items():
            j, p = self.names.index(name), self.names.index(parent)
            if parent in (conditions or {}) or not (self.categorical[p] or self.discrete[p]):
                raise InvalidSpaceError(
                    f"The parent of a conditional parameter must be an unconditional "
                    f"categorical, integer or stepped float. Got {parent!r} for {name!r}."
                )
            self.conditions[j] = (p, self._codes(p, values))

    def _codes(self, p: int, values: Sequence[Any]) -> FloatArray:
        """Return the codes of the parent ``p`` taking ``values`` (unknown ones left out)."""
        dist = self.dists[p]
        if isinstance(dist, Categorical):
            codes = [dist.index_of(v) for v in values]
            return np.array([c for c in codes if c is not None], dtype=float)
        low, step = self.grids[p].dist.low, float(self.grids[p].dist.step or 1)
        index = [
            round((dist.to_internal(v) - low) / step) for v in values if dist.contains_value(v)
        ]
        return np.array(index, dtype=float)

    def _parent_code(self, p: int, column: FloatArray) -> FloatArray:
        """Return a parent's codes from its column: choice codes, or grid indices."""
        grid = self.grids.get(p)
        return column if grid is None else grid.unit_to_index(column)

    @property
    def dim(self) -> int:
        return len(self.dists)

    def inactive(self, x: FloatArray) -> BoolArray:
        """Which entries of the rows ``x`` belong to inactive conditional parameters."""
        out = np.zeros(x.shape, dtype=bool)
        for j, (p, codes) in self.conditions.items():
            out[:, j] = ~np.isin(self._parent_code(p, x[:, p]), codes)
        return out

    # -- trials <-> rows -------------------------------------------------------------------

    def encode(self, params: Mapping[str, Any]) -> FloatArray | None:
        """Return the row of a trial's external ``params``, or None if one cannot be read."""
        row = self.fill.copy()
        # Unconditional columns first: the conditional ones read their parent's code.
        order = [j for j in range(self.dim) if j not in self.conditions] + list(self.conditions)
        for j in order:
            name, dist = self.names[j], self.dists[j]
            if j in self.conditions:
                p, codes = self.conditions[j]
                if not np.isin(self._parent_code(p, row[p : p + 1]), codes)[0]:
                    continue  # inactive: the filler, whatever the trial holds
            if name not in params:
                return None
            value = params[name]
            if isinstance(dist, Categorical):
                index = dist.index_of(value)
                if index is None:
                    unknown = self._unknown[j]
                    key = (type(value).__name__, repr(value))
                    index = unknown.setdefault(key, len(dist.choices) + len(unknown))
                row[j] = index
                continue
            try:
                unit = dist.to_unit(dist.to_internal(value))
            except (InvalidSpaceError, TypeError, ValueError):
                return None
            if not math.isfinite(unit):
                return None
            # A value from a wider past range stays informative, but not arbitrarily far.
            row[j] = min(2.0, max(-1.0, unit))
        return row

    def decode(self, row: FloatArray) -> dict[str, Any]:
        """Return external parameter values for a row (active parameters only)."""
        params: dict[str, Any] = {}
        inactive = self.inactive(row[None, :])[0]
        for j, (name, dist) in enumerate(zip(self.names, self.dists, strict=True)):
            if inactive[j]:
                continue
            if isinstance(dist, Categorical):
                index = int(min(max(round(float(row[j])), 0), len(dist.choices) - 1))
                params[name] = dist.to_external(float(index))
            else:
                params[name] = dist.to_external(dist.from_unit(float(row[j])))
        return params

    # -- search moves -------------------------------------------------------------------------

    def from_unit_cube(self, u: FloatArray) -> FloatArray:
        """Map points of the unit cube (QMC or random draws) to valid rows."""
        x = np.clip(u, 0.0, 1.0)
        for j in np.flatnonzero(self.categorical):
            x[:, j] = np.minimum(np.floor(x[:, j] * self.n_choices[j]), self.n_choices[j] - 1)
        return self.snap(x)

    def snap(self, x: FloatArray) -> FloatArray:
        """Return valid rows: clipped to the cube, grids snapped, inactive columns filled.

        A column that has just become active (its parent changed) keeps the filler as its
        starting value: the middle of its range, or the first choice.
        """
        x = x.copy()
        num = ~self.categorical
        x[:, num] = np.clip(x[:, num], 0.0, 1.0)
        for j in self.conditions:
            if self.categorical[j]:
                x[:, j] = np.maximum(x[:, j], 0.0)
        for j, grid in self.grids.items():
            x[:, j] = grid.index_to_unit(grid.unit_to_index(x[:, j]))
        if self.conditions:
            x = np.where(self.inactive(x), self.fill[None, :], x)
        return x

    def neighbors(
        self, x: FloatArray, rng: np.random.Generator, max_choices: int = 32
    ) -> FloatArray:
        """Return rows that differ from ``x`` in one discrete coordinate.

        Grid coordinates move by +-1, 2, 4, ... steps (so wide integer ranges are crossed in
        a few moves); categorical ones take each other choice (at most ``max_choices`` of
        them, drawn at random, for high-cardinality parameters).
        """
        out: list[FloatArray] = []
        inactive = self.inactive(x[None, :])[0]
        for j, grid in self.grids.items():
            if inactive[j]:
                continue
            k = float(grid.unit_to_index(np.array([x[j]]))[0])
            shifts = [2.0**m for m in range(max(1, math.ceil(math.log2(grid.size))))]
            targets = [k + s for s in shifts] + [k - s for s in shifts]
            targets = [t for t in targets if 0 <= t < grid.size]
            if not targets:
                continue
            block = np.repeat(x[None, :], len(targets), axis=0)
            block[:, j] = grid.index_to_unit(np.array(targets))
            out.append(block)
        for c in np.flatnonzero(self.categorical & ~inactive):
            current = round(float(x[c]))
            others = np.array([i for i in range(int(self.n_choices[c])) if i != current])
            if others.size > max_choices:
                others = rng.choice(others, size=max_choices, replace=False)
            if others.size == 0:
                continue
            block = np.repeat(x[None, :], others.size, axis=0)
            block[:, c] = others
            out.append(block)
        if not out:
            return np.empty((0, self.dim))
        # A new choice of a parent switches its children on or off.
        return self.snap(np.vstack(out)) if self.conditions else np.vstack(out)

    def perturb(self, base: FloatArray, n: int, rng: np.random.Generator) -> FloatArray:
        """Return ``n`` valid rows near the rows of ``base`` (local exploration).

        Each draw changes a random subset of coordinates (about five, or all if fewer): a
        Gaussian step with a log-uniform scale in ``[1e-3, 0.2]`` on numerical coordinates,
        a new random choice on categorical ones.
        """
        dim = self.dim
        rows = base[rng.integers(0, base.shape[0], size=n)].copy()
        mask = rng.random((n, dim)) < min(1.0, 5.0 / dim)
        empty = ~mask.any(axis=1)
        mask[empty, rng.integers(0, dim, size=int(empty.sum()))] = True
        scale = np.exp(rng.uniform(math.log(1e-3), math.log(0.2), size=(n, 1)))
        step = rng.normal(size=(n, dim)) * scale
        num = ~self.categorical
        rows[:, num] += np.where(mask[:, num], step[:, num], 0.0)
        for j in np.flatnonzero(self.categorical):
            draw = rng.integers(0, self.n_choices[j], size=n).astype(np.float64)
            invalid = rows[:, j] >= self.n_choices[j]  # a choice that no longer exists
            rows[:, j] = np.where(mask[:, j] | invalid, draw, rows[:, j])
        return self.snap(rows)
