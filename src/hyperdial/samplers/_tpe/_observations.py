"""Finished trials of one study, encoded once for the Parzen estimators.

A finished trial never changes, so each COMPLETE or PRUNED trial is read once: its rank key,
its parameters and the group decomposition are updated when it first appears, and the
parameters of a group are encoded into the unit cube of given distributions once per trial
and kept in a growing matrix. An ask then costs one pass over the trial list to find new and
running trials, plus NumPy work on the cached matrices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hyperdial._frozen import FrozenTrial
from hyperdial.samplers._tpe._groups import GroupDecomposition
from hyperdial.samplers._tpe._parzen import Dim, Kind
from hyperdial.samplers._tpe._split import rank_key
from hyperdial.space import Categorical, Distribution, Float, Int

__all__ = ["Observations", "decode", "dim_of", "encode", "encode_params", "fingerprint", "snap"]

_ABSENT = object()
# Encoded matrices kept per study (one per group and set of distributions).
_MAX_MATRICES = 64


def fingerprint(trial: FrozenTrial) -> tuple[Any, ...]:
    """What identifies a trial across storages that may reuse ids and numbers."""
    return (trial.trial_id, trial.number, trial.datetime_start)


def dim_of(distribution: Distribution) -> Dim:
    """Return how the Parzen estimator models ``distribution``."""
    if isinstance(distribution, Categorical):
        return Dim(Kind.CATEGORICAL, len(distribution.choices))
    if isinstance(distribution, Int):
        return Dim(Kind.DISCRETE, (distribution.high - distribution.low) // distribution.step + 1)
    if isinstance(distribution, Float) and distribution.step is not None:
        n_steps = round((distribution.high - distribution.low) / distribution.step)
        return Dim(Kind.DISCRETE, n_steps + 1)
    return Dim(Kind.CONTINUOUS)


def encode(distribution: Distribution, value: Any) -> float:
    """Return ``value`` in the unit cube of ``distribution``, NaN if absent or out of range.

    Categorical values become choice indices, matched by value, so choices that moved or
    disappeared between trials are handled.
    """
    if value is _ABSENT:
        return math.nan
    if isinstance(distribution, Categorical):
        index = distribution.index_of(value)
        return math.nan if index is None else float(index)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return math.nan
    internal = float(value)
    low, high = distribution.low, distribution.high  # type: ignore[attr-defined]
    if not low <= internal <= high:
        return math.nan
    return distribution.to_unit(internal)


def decode(distribution: Distribution, coordinate: float) -> Any:
    """Return the external value at a unit coordinate (or choice index)."""
    if isinstance(distribution, Categorical):
        return distribution.to_external(float(int(coordinate)))
    return distribution.to_external(distribution.from_unit(coordinate))


def snap(
    distributions: list[Distribution], points: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Snap sampled points to valid values; return them with their cells.

    Discrete coordinates move to the unit coordinate of the value they round to, and
    ``(cell_low, cell_high)`` bound the part of the unit interval that rounds to it: the
    mass the estimators give that value. Other dimensions pass through.
    """
    x = points.copy()
    low = points.copy()
    high = points.copy()
    for j, dist in enumerate(distributions):
        if not isinstance(dist, (Int, Float)) or dim_of(dist).kind != Kind.DISCRETE:
            continue
        half = 0.5 * float(dist.step or 0.0)
        # Candidates drawn from one density often share values: find each value's cell once.
        cells: dict[float, tuple[float, float, float]] = {}
        column = []
        for unit in points[:, j].tolist():
            value = dist.from_unit(unit)
            cell = cells.get(value)
            if cell is None:
                cell = cells[value] = (
                    dist.to_unit(value),
                    max(0.0, dist.to_unit(value - half)),
                    min(1.0, dist.to_unit(value + half)),
                )
            column.append(cell)
        x[:, j], low[:, j], high[:, j] = np.array(column).T
    return x, low, high


class Observations:
    """The COMPLETE and PRUNED trials of one study seen so far, one row each."""

    def __init__(self) -> None:
        self.row_of: dict[int, int] = {}
        self.numbers: list[int] = []
        self._params: list[Mapping[str, Any]] = []
        self.groups = GroupDecomposition()
        #: The distribution each parameter had in the highest-numbered trial seen.
        self.latest: dict[str, tuple[int, Distribution]] = {}
        #: Every trial numbered below the watermark has finished and been seen; the rows of
        #: the COMPLETE and PRUNED ones among them, and the id of the trial just below it.
        self.watermark = 0
        self.prefix_rows = _Indices()
        self.watermark_id: tuple[Any, ...] | None = None
        # Rank keys, one row per trial: pruned, last step, value, number.
        self._keys = _Rows(4)
        # Each row's reports, and per step the rows' values there (filled as asked for).
        self._reports: list[Mapping[int, float]] = []
        self._at_step: dict[int, _Rows] = {}
        self._matrices: dict[tuple[tuple[str, Distribution], ...], _Rows] = {}

    def __len__(self) -> int:
        return len(self.numbers)

    def add(self, trial: FrozenTrial) -> int:
        """Add a finished trial; return its row."""
        row = len(self.numbers)
        self.row_of[trial.trial_id] = row
        self.numbers.append(trial.number)
        pruned, step, value = rank_key(trial)
        self._keys.append([float(pruned), float(step), value, float(trial.number)])
        # Shared, read-only snapshot: finished trials never change.
        self._params.append(trial.params)
        self._reports.append(trial.intermediate_values)
        self.groups.add(trial.params)
        for name, dist in trial.distributions.items():
            known = self.latest.get(name)
            if known is None or known[0] < trial.number:
                self.latest[name] = (trial.number, dist)
        return row

    def advance(self, trial: FrozenTrial, row: int | None) -> None:
        """Move the watermark past ``trial``, finished, with its row (None for FAIL)."""
        self.watermark += 1
        self.watermark_id = fingerprint(trial)
        if row is not None:
            self.prefix_rows.append(row)

    def rank_keys(self) -> NDArray[np.float64]:
        """Return the ``(n, 4)`` rank keys of all rows: pruned, last step, value, number."""
        return self._keys.view()

    def values_at(self, step: int) -> NDArray[np.float64]:
        """Return each row's value reported at ``step``, NaN where none was."""
        column = self._at_step.get(step)
        if column is None:
            column = self._at_step[step] = _Rows(1)
        for row in range(len(column), len(self._reports)):
            column.append([self._reports[row].get(step, math.nan)])
        return column.view()[:, 0]

    def matrix(self, names: list[str], distributions: list[Distribution]) -> NDArray[np.float64]:
        """Return the ``(n, d)`` encoding of parameters ``names`` in ``distributions``.

        Rows are encoded once per set of distributions and extended as trials arrive.
        """
        key = tuple(zip(names, distributions, strict=True))
        rows = self._matrices.pop(key, None)
        if rows is None:
            rows = _Rows(len(names))
        # Most recently used last; a space that changes every trial must not grow the cache
        # without bound.
        self._matrices[key] = rows
        while len(self._matrices) > _MAX_MATRICES:
            del self._matrices[next(iter(self._matrices))]
        for params in self._params[len(rows) :]:
            rows.append(encode_params(params, names, distributions))
        return rows.view()


class _Indices:
    """A growing vector of row indices, with amortized constant-time appends."""

    def __init__(self) -> None:
        self._data = np.empty(16, dtype=np.intp)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, index: int) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate((self._data, np.empty_like(self._data)))
        self._data[self._n] = index
        self._n += 1

    def view(self) -> NDArray[np.intp]:
        """The indices so far; later appends do not change it."""
        return self._data[: self._n]


class _Rows:
    """A float matrix that grows by rows, with amortized constant-time appends."""

    def __init__(self, width: int) -> None:
        self._data = np.empty((16, width))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, row: list[float]) -> None:
        if self._n == len(self._data):
            grown = np.empty((2 * len(self._data), self._data.shape[1]))
            grown[: self._n] = self._data
            self._data = grown
        self._data[self._n] = row
        self._n += 1

    def view(self) -> NDArray[np.float64]:
        return self._data[: self._n]


def encode_params(
    params: Mapping[str, Any], names: list[str], distributions: list[Distribution]
) -> list[float]:
    """Encode one trial's parameters for the given names (NaN where absent)."""
    return [encode(d, params.get(n, _ABSENT)) for n, d in zip(names, distributions, strict=True)]
