"""Tune a scikit-learn classifier on the digits data set, stored in SQLite.

Run it twice: the second run continues the same study. ``--fresh`` starts over.

    python examples/sklearn_digits.py [--trials 40] [--jobs 2] [--fresh]
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hyperdial

STORAGE = "sqlite:///hyperdial.db"
STUDY = "digits-sklearn"

X, y = load_digits(return_X_y=True)


def objective(trial: hyperdial.Trial) -> float:
    """Validation error of a model family chosen by the trial, then its own parameters."""
    family = trial.suggest_categorical("model", ["svc", "logistic"])
    if family == "svc":
        model = make_pipeline(
            StandardScaler(),
            SVC(
                C=trial.suggest_float("svc_C", 1e-2, 1e3, log=True),
                gamma=trial.suggest_float("svc_gamma", 1e-5, 1e-1, log=True),
            ),
        )
    else:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=trial.suggest_float("logistic_C", 1e-4, 1e2, log=True), max_iter=300
            ),
        )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, X, y, cv=folds).mean()
    return 1.0 - float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="trials to run now")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--fresh", action="store_true", help="delete the study and start over")
    args = parser.parse_args()

    if args.fresh:
        try:
            hyperdial.delete_study(study_name=STUDY, storage=STORAGE)
            print(f"Deleted study {STUDY!r}; starting fresh.")
        except hyperdial.exceptions.StudyNotFoundError:
            pass
    study = hyperdial.create_study(
        study_name=STUDY, storage=STORAGE, direction="minimize", load_if_exists=True
    )
    done = len(study.trials)
    if done:
        print(f"Resuming study {STUDY!r} with {done} trials already run (--fresh starts over).")
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)

    best = study.best_trial
    print(f"\nBest trial #{best.number}: validation error {best.value:.4f}")
    for name, value in best.params.items():
        print(f"  {name} = {value!r}")
    print("\nLook at the study:")
    print(f"  hyperdial trials {STUDY} --storage {STORAGE}")
    print(f"  hyperdial best {STUDY} --storage {STORAGE}")


if __name__ == "__main__":
    main()
