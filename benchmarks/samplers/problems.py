"""Benchmark problems: a declarative search space and a deterministic objective each.

A problem's space is declared once, as a tuple of :class:`Param`; every tuner adapter in
:mod:`runners` translates it (hyperdial ``space.*``, Optuna distributions, Hyperopt ``hp.*``).
A parameter may be conditional: it exists only when an earlier categorical has a given value.

The synthetic functions have known optima. The machine-learning problems are 5-fold
cross-validated losses on data shipped with scikit-learn (no download), with fixed folds
and fixed model seeds, so the same parameters always give the same loss. Data and folds are
built once per process and reused; sizes are kept small so that one evaluation stays cheap
next to the samplers being measured.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Params = Mapping[str, Any]
Folds = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

N_FOLDS = 5
CV_SEED = 0


# -- declarative search spaces ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    Attributes:
        name: Unique within the problem.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low, high: Bounds, both included (numbers only).
        log: Log scale (numbers only).
        step: Grid step of an integer.
        choices: The values of a categorical.
        when: ``(parent, value)``: the parameter exists only when the earlier categorical
            ``parent`` took ``value``.
    """

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: int = 1
    choices: tuple[Any, ...] = ()
    when: tuple[str, Any] | None = None

    def active(self, params: Params) -> bool:
        """Whether the parameter exists given the values of the earlier ones."""
        return self.when is None or params.get(self.when[0]) == self.when[1]

    def from_unit(self, u: float) -> Any:
        """Map a point of [0, 1) to a value: uniform (in log space if ``log``) over the range."""
        if self.kind == "categorical":
            return self.choices[min(len(self.choices) - 1, int(u * len(self.choices)))]
        if self.kind == "float":
            if self.log:
                return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
            return self.low + u * (self.high - self.low)
        # Integers: each value owns an equal cell (in log space for a log range).
        n_values = round((self.high - self.low) / self.step) + 1
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return min(int(self.high), max(int(self.low), round(math.exp(lo + u * (hi - lo)))))
        return int(self.low + self.step * min(n_values - 1, int(u * n_values)))


def float_param(name: str, low: float, high: float, *, log: bool = False, **kw: Any) -> Param:
    return Param(name, "float", low, high, log=log, **kw)


def int_param(
    name: str, low: int, high: int, *, step: int = 1, log: bool = False, **kw: Any
) -> Param:
    return Param(name, "int", low, high, log=log, step=step, **kw)


def cat_param(name: str, choices: Sequence[Any], **kw: Any) -> Param:
    return Param(name, "categorical", choices=tuple(choices), **kw)


@dataclass(frozen=True)
class Problem:
    """A search space, an objective to minimize, and its optimum if known."""

    name: str
    space: tuple[Param, ...]
    make_objective: Callable[[], Callable[[Params], float]] = field(repr=False)
    optimum: float | None = None  # None: the best value any run found stands in
    synthetic: bool = False
    description: str = ""

    @functools.cached_property
    def objective(self) -> Callable[[Params], float]:
        """The objective, built on first use (loads data and folds once per process)."""
        return self.make_objective()


# -- synthetic functions ---------------------------------------------------------------------


def branin(p: Params) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def ackley(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(len(p))])
    d = len(x)
    term1 = -20.0 * math.exp(-0.2 * math.sqrt(float(np.sum(x**2)) / d))
    term2 = -math.exp(float(np.sum(np.cos(2 * math.pi * x))) / d)
    return term1 + term2 + 20.0 + math.e


# -- machine-learning objectives ---------------------------------------------------------------


def _folds(X: np.ndarray, y: np.ndarray, *, stratified: bool, scale: bool) -> Folds:
    """Fixed shuffled folds, each (X_train, y_train, X_test, y_test), optionally standardized
    with the training fold's statistics."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if stratified else KFold)(
        n_splits=N_FOLDS, shuffle=True, random_state=CV_SEED
    )
    folds: Folds = []
    for train, test in splitter.split(X, y):
        X_train, X_test = X[train], X[test]
        if scale:
            mean, std = X_train.mean(axis=0), X_train.std(axis=0)
            std[std == 0] = 1.0
            X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
        folds.append((X_train, y[train], X_test, y[test]))
    return folds


def _quiet_sklearn() -> None:
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of a binary task (Mann-Whitney U, ties averaged).

    The same number as ``sklearn.metrics.roc_auc_score``, without its input checks, which
    cost more than the small models scored here.
    """
    from scipy.stats import rankdata

    ranks = rankdata(score)
    positive = y_true == 1
    n_pos = int(positive.sum())
    n_neg = len(y_true) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc_loss(folds: Folds, make_model: Callable[[], Any]) -> float:
    """1 - mean ROC AUC over the folds (binary tasks; continuous, unlike the error rate)."""
    aucs = []
    for X_train, y_train, X_test, y_test in folds:
        model = make_model().fit(X_train, y_train)
        if hasattr(model, "decision_function"):
            score = model.decision_function(X_test)
        else:
            score = model.predict_proba(X_test)[:, 1]
        aucs.append(roc_auc(y_test, score))
    return 1.0 - float(np.mean(aucs))


def _error_loss(folds: Folds, make_model: Callable[[], Any]) -> float:
    """Mean misclassification rate over the folds."""
    errors = [
        1.0 - make_model().fit(X_train, y_train).score(X_test, y_test)
        for X_train, y_train, X_test, y_test in folds
    ]
    return float(np.mean(errors))


@functools.cache
def _breast_cancer_folds() -> Folds:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return _folds(X, y, stratified=True, scale=True)


def make_svc() -> Callable[[Params], float]:
    from sklearn.svm import SVC

    _quiet_sklearn()
    folds = _breast_cancer_folds()
    return lambda p: _auc_loss(folds, lambda: SVC(C=p["C"], gamma=p["gamma"]))


# Digits is subsampled (stratified, fixed) and projected on its first principal components, and
# training stops after a few epochs, so that a 5-fold MLP evaluation stays cheap.
DIGITS_SAMPLES = 400
DIGITS_COMPONENTS = 16
MLP_MAX_ITER = 20


@functools.cache
def _digits_folds() -> Folds:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=DIGITS_SAMPLES, stratify=y, random_state=CV_SEED)
    X = PCA(n_components=DIGITS_COMPONENTS, random_state=CV_SEED).fit_transform(X)
    return _folds(X, y, stratified=True, scale=True)


def make_mlp() -> Callable[[Params], float]:
    from sklearn.neural_network import MLPClassifier

    _quiet_sklearn()
    folds = _digits_folds()

    def objective(p: Params) -> float:
        return _error_loss(
            folds,
            lambda: MLPClassifier(
                hidden_layer_sizes=(p["hidden"],),
                alpha=p["alpha"],
                learning_rate_init=p["lr"],
                activation=p["activation"],
                solver=p["solver"],
                max_iter=MLP_MAX_ITER,
                random_state=0,
            ),
        )

    return objective


# A class given no vote costs at most -log(1e-3): one sample cannot swamp the mean.
FOREST_MIN_PROBA = 1e-3


@functools.cache
def _wine_folds() -> Folds:
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return _folds(X, y, stratified=True, scale=False)


def make_forest() -> Callable[[Params], float]:
    from sklearn.ensemble import RandomForestClassifier

    _quiet_sklearn()
    folds = _wine_folds()

    def objective(p: Params) -> float:
        # Log loss rather than the error rate: wine is easy, and error rates tie.
        losses = []
        for X_train, y_train, X_test, y_test in folds:
            model = RandomForestClassifier(
                n_estimators=p["n_estimators"],
                max_depth=p["max_depth"],
                min_samples_split=p["min_samples_split"],
                n_jobs=1,
                random_state=0,
            ).fit(X_train, y_train)
            proba = np.clip(model.predict_proba(X_test), FOREST_MIN_PROBA, 1.0)
            losses.append(-float(np.mean(np.log(proba[np.arange(len(y_test)), y_test]))))
        return float(np.mean(losses))

    return objective


@functools.cache
def _diabetes_folds() -> Folds:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return _folds(X, y, stratified=False, scale=True)


def make_elasticnet() -> Callable[[Params], float]:
    from sklearn.linear_model import ElasticNet

    _quiet_sklearn()
    folds = _diabetes_folds()

    def objective(p: Params) -> float:
        # Mean squared error relative to the target variance (1 - R^2, pooled).
        errors = []
        for X_train, y_train, X_test, y_test in folds:
            model = ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=2000)
            pred = model.fit(X_train, y_train).predict(X_test)
            errors.append(float(np.mean((pred - y_test) ** 2) / np.var(y_test)))
        return float(np.mean(errors))

    return objective


_L1_RATIO = {"l1": 1.0, "l2": 0.0}


def make_model_choice() -> Callable[[Params], float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    _quiet_sklearn()
    folds = _breast_cancer_folds()

    def objective(p: Params) -> float:
        family = p["model"]
        if family == "svc":
            return _auc_loss(folds, lambda: SVC(C=p["svc_C"], gamma=p["svc_gamma"]))
        if family == "logreg":
            return _auc_loss(
                folds,
                lambda: LogisticRegression(
                    C=p["lr_C"],
                    l1_ratio=_L1_RATIO[p["lr_penalty"]],
                    solver="liblinear",
                    # liblinear visits coordinates in a random order: seeded, the loss of
                    # a configuration is the same every time it is evaluated.
                    random_state=0,
                ),
            )
        return _auc_loss(
            folds,
            lambda: KNeighborsClassifier(n_neighbors=p["knn_k"], weights=p["knn_weights"]),
        )

    return objective


# -- the problem set ---------------------------------------------------------------------------


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "branin",
            (float_param("x1", -5.0, 10.0), float_param("x2", 0.0, 15.0)),
            lambda: branin,
            optimum=0.397887357729739,
            synthetic=True,
            description="Branin, 2-D continuous",
        ),
        Problem(
            "hartmann6",
            tuple(float_param(f"x{i}", 0.0, 1.0) for i in range(6)),
            lambda: hartmann6,
            optimum=-3.322368011391339,
            synthetic=True,
            description="Hartmann, 6-D continuous",
        ),
        Problem(
            "ackley10",
            tuple(float_param(f"x{i}", -32.768, 32.768) for i in range(10)),
            lambda: ackley,
            optimum=0.0,
            synthetic=True,
            description="Ackley, 10-D continuous",
        ),
        Problem(
            "svc",
            (float_param("C", 1e-2, 1e3, log=True), float_param("gamma", 1e-5, 1.0, log=True)),
            make_svc,
            description="SVC (RBF) on breast_cancer, 1 - ROC AUC, 2 log-scale floats",
        ),
        Problem(
            "mlp",
            (
                int_param("hidden", 4, 64, log=True),
                float_param("alpha", 1e-6, 1e-1, log=True),
                float_param("lr", 1e-4, 1e-1, log=True),
                cat_param("activation", ["relu", "tanh", "logistic"]),
                cat_param("solver", ["adam", "sgd"]),
            ),
            make_mlp,
            description=(
                "MLPClassifier on digits, error rate, mixed space "
                f"({DIGITS_SAMPLES} samples, {DIGITS_COMPONENTS} PCA components, "
                f"max_iter={MLP_MAX_ITER})"
            ),
        ),
        Problem(
            "forest",
            (
                int_param("n_estimators", 2, 20, step=2),
                int_param("max_depth", 1, 10),
                int_param("min_samples_split", 2, 20),
            ),
            make_forest,
            description="RandomForestClassifier on wine, log loss, 3 integers",
        ),
        Problem(
            "elasticnet",
            (float_param("alpha", 1e-4, 1e1, log=True), float_param("l1_ratio", 0.0, 1.0)),
            make_elasticnet,
            description="ElasticNet on diabetes, MSE / variance, log float + float",
        ),
        Problem(
            "model_choice",
            (
                cat_param("model", ["svc", "logreg", "knn"]),
                float_param("svc_C", 1e-2, 1e3, log=True, when=("model", "svc")),
                float_param("svc_gamma", 1e-5, 1.0, log=True, when=("model", "svc")),
                float_param("lr_C", 1e-4, 1e2, log=True, when=("model", "logreg")),
                cat_param("lr_penalty", ["l1", "l2"], when=("model", "logreg")),
                int_param("knn_k", 1, 50, log=True, when=("model", "knn")),
                cat_param("knn_weights", ["uniform", "distance"], when=("model", "knn")),
            ),
            make_model_choice,
            description="SVC / logistic regression / k-NN on breast_cancer, 1 - ROC AUC, "
            "conditional space",
        ),
    ]
}

SYNTHETIC = [name for name, p in PROBLEMS.items() if p.synthetic]
