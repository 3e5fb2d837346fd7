"""hyperdial: tune the hyperparameters of machine-learning models.

Example:
    >>> import hyperdial
    >>> def objective(trial):
    ...     lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    ...     return (lr - 1e-3) ** 2
    >>> study = hyperdial.create_study(direction="minimize")
    >>> study.optimize(objective, n_trials=10, show_progress_bar=False)
"""

from __future__ import annotations

from hyperdial import exceptions, pruners, samplers, space, storage
from hyperdial._frozen import FrozenTrial, StudyDirection, StudySummary, TrialState
from hyperdial._view import PluginState, StudyView
from hyperdial.exceptions import TrialPruned
from hyperdial.study import Study, create_study, delete_study, list_studies, load_study
from hyperdial.trial import Trial

__version__ = "0.1.0"

__all__ = [
    "FrozenTrial",
    "PluginState",
    "Study",
    "StudyDirection",
    "StudySummary",
    "StudyView",
    "Trial",
    "TrialPruned",
    "TrialState",
    "__version__",
    "create_study",
    "delete_study",
    "exceptions",
    "list_studies",
    "load_study",
    "pruners",
    "samplers",
    "space",
    "storage",
]
