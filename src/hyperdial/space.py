"""Search spaces: :class:`Float`, :class:`Int` and :class:`Categorical`.

A distribution describes the values one hyperparameter may take. The same objects serve a
define-by-run objective (``trial.suggest(name, Float(...))``), a declared grid
(``GridSampler({"lr": Float(...)})``) and a config file (``to_json`` / ``from_json``).

Each distribution has two representations of a value:

* the *external* value the objective sees (a float, an int, or one of the choices), and
* the *internal* float that storage keeps (the value itself, or a choice's index).

Samplers work in the unit cube: :meth:`Distribution.to_unit` maps an internal value to
``[0, 1]`` (log parameters in log space) and :meth:`Distribution.from_unit` maps back,
snapping to the step or integer grid.
"""

from __future__ import annotations

import json
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

from hyperdial.exceptions import InvalidSpaceError

__all__ = [
    "Categorical",
    "CategoricalChoice",
    "Distribution",
    "Float",
    "Int",
    "check_space",
    "distribution_from_json",
    "space_from_json",
    "space_to_json",
]

CategoricalChoice: TypeAlias = bool | int | float | str | None

# Relative tolerance when checking that a step divides a range: 0.1 / 0.01 is not exact in
# binary floating point.
_STEP_TOLERANCE = 1e-8


class Distribution(ABC):
    """Base class of the values one hyperparameter may take."""

    kind: ClassVar[str]

    @abstractmethod
    def to_internal(self, value: Any) -> float:
        """Return the float that storage keeps for an external ``value``."""

    @abstractmethod
    def to_external(self, internal: float) -> Any:
        """Return the value the objective sees for a stored ``internal`` float."""

    @abstractmethod
    def contains(self, internal: float) -> bool:
        """Whether an internal value lies in this distribution."""

    @abstractmethod
    def to_unit(self, internal: float) -> float:
        """Map an internal value to ``[0, 1]`` (log parameters in log space)."""

    @abstractmethod
    def from_unit(self, unit: float) -> float:
        """Map a point of ``[0, 1]`` to the nearest valid internal value."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict that :func:`distribution_from_json` reads back."""

    @abstractmethod
    def is_single(self) -> bool:
        """Whether only one value is possible."""

    def contains_value(self, value: Any) -> bool:
        """Whether an external value lies in this distribution."""
        try:
            return self.contains(self.to_internal(value))
        except (InvalidSpaceError, TypeError, ValueError):
            return False

    def is_compatible(self, other: Distribution) -> bool:
        """Whether one parameter may switch between ``self`` and ``other`` within a study.

        A study may widen a range or add a choice between trials; it may not turn a float
        into a categorical.
        """
        return self.kind == other.kind


def _is_bool(value: Any) -> bool:
    # numpy booleans are not numbers.Real, but guard explicitly: True must not pass as 1.
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _number(name: str, value: Any, owner: str) -> float:
    # numbers.Real also admits numpy scalars (np.float32, np.int64), which objectives often
    # pass as bounds.
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise InvalidSpaceError(
            f"{owner}: {name} must be a number. Got {value!r} of type {type(value).__name__}."
        )
    if not math.isfinite(value):
        raise InvalidSpaceError(f"{owner}: {name} must be finite. Got {value!r}.")
    return float(value)


def _check_bounds(owner: str, low: float, high: float, step: float | None, log: bool) -> None:
    if low > high:
        raise InvalidSpaceError(
            f"{owner}: low must be <= high. Got low={low!r}, high={high!r}; swap them."
        )
    if log and low <= 0:
        raise InvalidSpaceError(
            f"{owner}: a log-scale range needs low > 0. Got low={low!r}; "
            "raise low or drop log=True."
        )
    if step is not None:
        if step <= 0:
            raise InvalidSpaceError(f"{owner}: step must be > 0. Got step={step!r}.")
        if log and step != 1:
            raise InvalidSpaceError(
                f"{owner}: step and log=True cannot be combined. Got step={step!r}; "
                "use one or the other."
            )
        n_steps = (high - low) / step
        if abs(n_steps - round(n_steps)) > _STEP_TOLERANCE * max(1.0, abs(n_steps)):
            raise InvalidSpaceError(
                f"{owner}: step must divide high - low. Got low={low!r}, high={high!r}, "
                f"step={step!r} ({n_steps:.6g} steps); choose high = low + k * step."
            )


class Float(Distribution):
    """A real-valued hyperparameter in ``[low, high]``, optionally on a log scale or a grid.

    Args:
        low: Lower bound, included.
        high: Upper bound, included.
        step: If given, only ``low + k * step`` values are possible.
        log: Sample in log space; needs ``low > 0``. Cannot be combined with ``step``.

    Example:
        >>> from hyperdial.space import Float
        >>> lr = Float(1e-5, 1e-1, log=True)
        >>> lr.contains_value(1e-3)
        True
    """

    kind: ClassVar[str] = "float"

    def __init__(
        self, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> None:
        owner = "Float"
        self.low = _number("low", low, owner)
        self.high = _number("high", high, owner)
        self.step = None if step is None else _number("step", step, owner)
        self.log = bool(log)
        if self.log and self.step is not None:
            raise InvalidSpaceError(
                f"{owner}: step and log=True cannot be combined. Got step={step!r}; "
                "use one or the other."
            )
        _check_bounds(owner, self.low, self.high, self.step, self.log)

    def __repr__(self) -> str:
        extra = f", step={self.step!r}" if self.step is not None else ""
        extra += ", log=True" if self.log else ""
        return f"Float({self.low!r}, {self.high!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Float) and (self.low, self.high, self.step, self.log) == (
            other.low,
            other.high,
            other.step,
            other.log,
        )

    def __hash__(self) -> int:
        return hash((Float, self.low, self.high, self.step, self.log))

    def to_internal(self, value: Any) -> float:
        return _number("value", value, repr(self))

    def to_external(self, internal: float) -> float:
        return float(internal)

    def contains(self, internal: float) -> bool:
        if not (self.low <= internal <= self.high):
            return False
        if self.step is None:
            return True
        k = (internal - self.low) / self.step
        return abs(k - round(k)) <= _STEP_TOLERANCE * max(1.0, abs(k))

    def is_single(self) -> bool:
        return self.low == self.high

    def to_unit(self, internal: float) -> float:
        if self.low == self.high:
            return 0.5
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(internal) - lo) / (hi - lo)
        if self.step is not None:
            # As for Int: each grid value owns an equal-width cell, so that uniform points
            # of the unit interval are uniform over the grid (the end values included).
            lo_c, hi_c = self.low - 0.5 * self.step, self.high + 0.5 * self.step
            return (internal - lo_c) / (hi_c - lo_c)
        return (internal - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> float:
        unit = min(1.0, max(0.0, float(unit)))
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + unit * (hi - lo))
        elif self.step is not None:
            lo_c, hi_c = self.low - 0.5 * self.step, self.high + 0.5 * self.step
            n_steps = round((self.high - self.low) / self.step)
            k = min(n_steps, max(0, round((lo_c + unit * (hi_c - lo_c) - self.low) / self.step)))
            value = self.low + k * self.step
        else:
            value = self.low + unit * (self.high - self.low)
        return min(self.high, max(self.low, value))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


class Int(Distribution):
    """An integer hyperparameter in ``[low, high]``.

    Args:
        low: Lower bound, included.
        high: Upper bound, included.
        step: Only ``low + k * step`` values are possible.
        log: Sample in log space; needs ``low >= 1`` and ``step == 1``.

    Example:
        >>> from hyperdial.space import Int
        >>> Int(16, 512, log=True).contains_value(64)
        True
    """

    kind: ClassVar[str] = "int"

    def __init__(self, low: int, high: int, *, step: int = 1, log: bool = False) -> None:
        owner = "Int"
        for name, value in (("low", low), ("high", high), ("step", step)):
            if _is_bool(value) or not isinstance(value, numbers.Real):
                raise InvalidSpaceError(
                    f"{owner}: {name} must be an integer. Got {value!r} of type "
                    f"{type(value).__name__}."
                )
            if not isinstance(value, numbers.Integral) and not float(value).is_integer():
                raise InvalidSpaceError(
                    f"{owner}: {name} must be an integer. Got {value!r} of type "
                    f"{type(value).__name__}."
                )
        self.low = int(low)
        self.high = int(high)
        self.step = int(step)
        self.log = bool(log)
        _check_bounds(owner, self.low, self.high, self.step, self.log)

    def __repr__(self) -> str:
        extra = f", step={self.step!r}" if self.step != 1 else ""
        extra += ", log=True" if self.log else ""
        return f"Int({self.low!r}, {self.high!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Int) and (self.low, self.high, self.step, self.log) == (
            other.low,
            other.high,
            other.step,
            other.log,
        )

    def __hash__(self) -> int:
        return hash((Int, self.low, self.high, self.step, self.log))

    def to_internal(self, value: Any) -> float:
        if _is_bool(value) or not isinstance(value, numbers.Real):
            raise InvalidSpaceError(f"{self!r}: value must be an integer. Got {value!r}.")
        return float(value)

    def to_external(self, internal: float) -> int:
        return round(internal)

    def contains(self, internal: float) -> bool:
        if not (self.low <= internal <= self.high) or internal != round(internal):
            return False
        return (round(internal) - self.low) % self.step == 0

    def is_single(self) -> bool:
        return self.low == self.high or self.high - self.low < self.step

    def to_unit(self, internal: float) -> float:
        # Each integer owns an equal-width cell of the unit interval, so uniform sampling in
        # the cube is uniform over the integers.
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return (math.log(internal) - lo) / (hi - lo)
        lo_c, hi_c = self.low - 0.5 * self.step, self.high + 0.5 * self.step
        return (internal - lo_c) / (hi_c - lo_c)

    def from_unit(self, unit: float) -> float:
        unit = min(1.0, max(0.0, float(unit)))
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = math.exp(lo + unit * (hi - lo))
        else:
            lo_c, hi_c = self.low - 0.5 * self.step, self.high + 0.5 * self.step
            value = lo_c + unit * (hi_c - lo_c)
        k = round((value - self.low) / self.step)
        snapped = self.low + k * self.step
        return float(min(self.high - (self.high - self.low) % self.step, max(self.low, snapped)))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "log": self.log}  # fmt: skip


class Categorical(Distribution):
    """A hyperparameter that takes one of a list of choices.

    Choices are ``None``, ``bool``, ``int``, ``float`` or ``str`` so that they store as
    JSON. The internal value is the index of the choice.

    Args:
        choices: The possible values, at least one, each distinct.

    Example:
        >>> from hyperdial.space import Categorical
        >>> optimizer = Categorical(["sgd", "adam", "rmsprop"])
        >>> optimizer.to_internal("adam")
        1.0
    """

    kind: ClassVar[str] = "categorical"

    def __init__(self, choices: Sequence[CategoricalChoice]) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            raise InvalidSpaceError(
                f"Categorical: choices must be a list or tuple. Got {choices!r}."
            )
        if len(choices) == 0:
            raise InvalidSpaceError(
                "Categorical: choices must not be empty. Got []; give at least one choice."
            )
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise InvalidSpaceError(
                    f"Categorical: each choice must be None, bool, int, float or str so that "
                    f"it can be stored. Got {choice!r} of type {type(choice).__name__}; "
                    "store a name and map it to the object in the objective."
                )
        keys = [_choice_key(c) for c in choices]
        if len(set(keys)) != len(keys):
            raise InvalidSpaceError(
                f"Categorical: choices must be distinct. Got {list(choices)!r}."
            )
        self.choices: tuple[CategoricalChoice, ...] = tuple(choices)
        self._index = {key: i for i, key in enumerate(keys)}

    def __repr__(self) -> str:
        return f"Categorical({list(self.choices)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Categorical) and [_choice_key(c) for c in self.choices] == [
            _choice_key(c) for c in other.choices
        ]

    def __hash__(self) -> int:
        return hash((Categorical, tuple(_choice_key(c) for c in self.choices)))

    def index_of(self, value: Any) -> int | None:
        """Return the index of ``value`` among the choices, or None if absent."""
        try:
            return self._index.get(_choice_key(value))
        except TypeError:
            return None

    def to_internal(self, value: Any) -> float:
        index = self.index_of(value)
        if index is None:
            raise InvalidSpaceError(f"{self!r}: {value!r} is not one of the choices.")
        return float(index)

    def to_external(self, internal: float) -> CategoricalChoice:
        return self.choices[int(internal)]

    def contains(self, internal: float) -> bool:
        return internal == int(internal) and 0 <= int(internal) < len(self.choices)

    def is_single(self) -> bool:
        return len(self.choices) == 1

    def to_unit(self, internal: float) -> float:
        return (internal + 0.5) / len(self.choices)

    def from_unit(self, unit: float) -> float:
        return float(min(len(self.choices) - 1, max(0, int(unit * len(self.choices)))))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "choices": list(self.choices)}


def _choice_key(choice: Any) -> tuple[str, Any]:
    # True == 1 == 1.0 in Python; choices of different types must stay distinct.
    if isinstance(choice, float) and math.isnan(choice):
        return ("nan", None)
    return (type(choice).__name__, choice)


def distribution_from_json(data: Mapping[str, Any] | str) -> Distribution:
    """Build a distribution from :meth:`Distribution.to_json` output or its JSON text.

    Example:
        >>> distribution_from_json({"type": "int", "low": 1, "high": 4})
        Int(1, 4)
    """
    if isinstance(data, str):
        data = json.loads(data)
    assert isinstance(data, Mapping)  # for mypy: json.loads of a str above
    kind = data.get("type")
    if kind == Float.kind:
        return Float(data["low"], data["high"], step=data.get("step"), log=data.get("log", False))
    if kind == Int.kind:
        return Int(data["low"], data["high"], step=data.get("step", 1), log=data.get("log", False))
    if kind == Categorical.kind:
        return Categorical(data["choices"])
    raise InvalidSpaceError(
        f"Unknown distribution type {kind!r}; expected 'float', 'int' or 'categorical'. "
        f"Got {dict(data)!r}."
    )


def check_space(space: Mapping[str, Any]) -> dict[str, Distribution]:
    """Check a declared search space and return it as a dict of distributions.

    Values may be distributions, their JSON dicts, or (for grids) plain lists of choices.

    Raises:
        InvalidSpaceError: naming the parameter that does not hold.
    """
    if not isinstance(space, Mapping):
        raise InvalidSpaceError(
            f"A search space must be a dict of parameter name to distribution. Got {space!r}."
        )
    checked: dict[str, Distribution] = {}
    for name, value in space.items():
        if not isinstance(name, str) or not name:
            raise InvalidSpaceError(f"Parameter names must be non-empty strings. Got {name!r}.")
        try:
            if isinstance(value, Distribution):
                checked[name] = value
            elif isinstance(value, Mapping):
                checked[name] = distribution_from_json(value)
            elif isinstance(value, (list, tuple)):
                checked[name] = Categorical(value)
            else:
                raise InvalidSpaceError(
                    f"expected Float, Int, Categorical or a list of choices. Got {value!r}."
                )
        except InvalidSpaceError as error:
            raise InvalidSpaceError(f"Parameter {name!r}: {error}") from None
    return checked


def space_to_json(space: Mapping[str, Distribution]) -> dict[str, dict[str, Any]]:
    """Return a declared search space as a JSON-ready dict."""
    return {name: dist.to_json() for name, dist in space.items()}


def space_from_json(data: Mapping[str, Any] | str) -> dict[str, Distribution]:
    """Read a search space written by :func:`space_to_json` (a dict or its JSON text)."""
    if isinstance(data, str):
        data = json.loads(data)
    return check_space(data)  # type: ignore[arg-type]
