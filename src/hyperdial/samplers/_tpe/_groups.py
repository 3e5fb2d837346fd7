"""Group decomposition of a define-by-run search space.

In a conditional space, trials ask for different sets of parameters. The parameters are
partitioned into the coarsest groups such that every trial's parameter set is a union of
whole groups: two parameters share a group exactly when every trial that has one has the
other. Each group is then modelled by one joint Parzen estimator over the trials that have
it, and groups are sampled independently of each other.

The partition is refined one trial at a time: a trial with parameter set ``S`` splits each
group ``G`` into ``G & S`` and ``G - S``, and its parameters no group held yet form a new
group. The result does not depend on the order the trials arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["GroupDecomposition", "decompose"]


class GroupDecomposition:
    """The parameter groups of the trials seen so far, refined as trials arrive.

    Example:
        >>> groups = GroupDecomposition()
        >>> groups.add({"family", "lr"})
        >>> groups.add({"family", "depth"})
        >>> sorted(sorted(g) for g in groups.groups)
        [['depth'], ['family'], ['lr']]
    """

    def __init__(self) -> None:
        self.groups: list[frozenset[str]] = []
        self._known: set[str] = set()

    def add(self, names: Iterable[str]) -> None:
        """Refine the groups with the parameter set of one more trial."""
        current = frozenset(names)
        if not current:
            return
        refined: list[frozenset[str]] = []
        for group in self.groups:
            inside = group & current
            outside = group - inside
            refined.extend(part for part in (inside, outside) if part)
        new = current - self._known
        if new:
            refined.append(new)
            self._known |= new
        self.groups = refined


def decompose(param_sets: Iterable[Iterable[str]]) -> list[frozenset[str]]:
    """Return the groups of several trials' parameter sets, largest first then by name.

    Example:
        >>> [sorted(g) for g in decompose([{"x", "y"}, {"x", "y", "z"}])]
        [['x', 'y'], ['z']]
    """
    groups = GroupDecomposition()
    for names in param_sets:
        groups.add(names)
    return sorted(groups.groups, key=lambda g: (-len(g), sorted(g)))
