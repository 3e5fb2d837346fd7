"""Tune a PyTorch multilayer perceptron on the digits data set, stopping hopeless trials early.

Each trial trains a network for up to MAX_EPOCHS epochs and reports its validation accuracy
after every epoch; Hyperband stops the trials that fall behind. Trials are kept in SQLite:
run the script again and it continues the same study. ``--fresh`` starts over.

    python examples/mlp_digits.py [--trials 100] [--jobs 1] [--fresh]
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

import hyperdial

STUDY = "mlp-digits"
STORAGE = "sqlite:///hyperdial.db"
# 3 ** 3: with a reduction factor of 3, Hyperband judges trials after 1, 3 and 9 epochs.
MAX_EPOCHS = 27
# Hyperband deals out trials in rounds of 49 over its four brackets (27 judged after 1 epoch,
# 12 after 3, 6 after 9, 4 never), most aggressive first. Two rounds let the conservative
# brackets train what the screening found; 40 trials, the cost of about 10 full-length ones,
# would end before the first round does.
TRIALS = 100

Data = dict[str, tuple[torch.Tensor, torch.Tensor]]


def load_data() -> Data:
    """Split digits 60/20/20 into train/valid/test, once, and standardize on the train part."""
    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    splits = {"train": (X_train, y_train), "valid": (X_valid, y_valid), "test": (X_test, y_test)}
    return {
        name: (torch.tensor(scaler.transform(X), dtype=torch.float32), torch.tensor(y))
        for name, (X, y) in splits.items()
    }


def suggest(trial: hyperdial.Trial) -> None:
    """The search space. ``trial.params`` then holds everything ``build`` needs."""
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    for i in range(trial.suggest_int("n_layers", 1, 4)):
        trial.suggest_int(f"n_units_l{i}", 16, 256, log=True)
    trial.suggest_float("dropout", 0.0, 0.5)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    trial.suggest_categorical("batch_size", [32, 64, 128, 256])
    trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])


def build(params: dict[str, Any]) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The network and its optimizer for one configuration."""
    layers: list[nn.Module] = []
    width = 64  # 8x8 pixels
    for i in range(params["n_layers"]):
        units = params[f"n_units_l{i}"]
        layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(params["dropout"])]
        width = units
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    lr, decay = params["lr"], params["weight_decay"]
    optimizer: torch.optim.Optimizer
    if params["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=decay)
    elif params["optimizer"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    else:
        optimizer = torch.optim.RMSprop(model.parameters(), lr=lr, weight_decay=decay)
    return model, optimizer


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, batch: int
) -> None:
    model.train()
    order = torch.randperm(len(X))
    for start in range(0, len(X), batch):
        rows = order[start : start + batch]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X[rows]), y[rows]).backward()
        optimizer.step()


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).float().mean().item()


def objective(trial: hyperdial.Trial, data: Data, max_epochs: int = MAX_EPOCHS) -> float:
    """Best validation accuracy over the epochs; its epoch is kept as a user attribute."""
    torch.set_num_threads(1)  # one thread per worker process: the workers share the cores
    torch.manual_seed(trial.number)  # the same trial number trains the same way every run
    suggest(trial)
    model, optimizer = build(trial.params)
    best, best_epoch = 0.0, 0
    for epoch in range(1, max_epochs + 1):
        train_epoch(model, optimizer, *data["train"], trial.params["batch_size"])
        value = accuracy(model, *data["valid"])
        if value > best:
            best, best_epoch = value, epoch
        trial.report(value, step=epoch)  # the step is the epoch: the resource pruners share
        if trial.should_prune():
            raise hyperdial.TrialPruned()
    trial.set_user_attr("best_epoch", best_epoch)
    return best


def test_accuracy(params: dict[str, Any], epochs: int, data: Data) -> float:
    """Retrain a configuration on train + validation, then measure it on the test set."""
    torch.manual_seed(0)
    X = torch.cat([data["train"][0], data["valid"][0]])
    y = torch.cat([data["train"][1], data["valid"][1]])
    model, optimizer = build(params)
    for _ in range(epochs):
        train_epoch(model, optimizer, X, y, params["batch_size"])
    return accuracy(model, *data["test"])


def summarize(study: hyperdial.Study, data: Data, max_epochs: int, storage: str) -> None:
    best = study.best_trial
    epochs = best.user_attrs["best_epoch"]
    print(f"\nBest trial #{best.number}: validation accuracy {best.value:.4f} at epoch {epochs}")
    for name, value in best.params.items():
        print(f"  {name:<13} {value:.4g}" if isinstance(value, float) else f"  {name:<13} {value}")
    test = test_accuracy(best.params, epochs, data)
    print(f"Retrained on train + validation for {epochs} epochs: test accuracy {test:.4f}")

    finished = (hyperdial.TrialState.COMPLETE, hyperdial.TrialState.PRUNED)
    trials = [t for t in study.get_trials(states=finished) if t.intermediate_values]
    run = sum(max(t.intermediate_values) for t in trials)
    full = len(trials) * max_epochs
    pruned = sum(t.state == hyperdial.TrialState.PRUNED for t in trials)
    print(f"\nPruning stopped {pruned} of {len(trials)} trials early.")
    print(
        f"Epochs trained: {run} instead of {full} without pruning: {full - run} epochs saved "
        f"({(full - run) / max(full, 1):.0%})."
    )
    option = "" if storage == STORAGE else f" --storage {storage}"
    print("\nInspect the study:")
    print(f"  hyperdial trials {STUDY}{option}")
    print(f"  hyperdial best {STUDY}{option}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials", type=int, default=TRIALS, help=f"trials to run now (default {TRIALS})"
    )
    # On a 2-core machine shared with other jobs, 2 workers were measured no faster than 1.
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--fresh", action="store_true", help="delete the study and start over")
    parser.add_argument("--max-epochs", type=int, default=MAX_EPOCHS, help="epochs of a trial")
    parser.add_argument("--storage", default=STORAGE, help=f"database URL (default {STORAGE})")
    args = parser.parse_args(argv)

    if args.fresh:
        try:
            hyperdial.delete_study(study_name=STUDY, storage=args.storage)
            print(f"Deleted study {STUDY!r}; starting fresh.")
        except hyperdial.exceptions.StudyNotFoundError:
            pass
    study = hyperdial.create_study(
        study_name=STUDY,
        storage=args.storage,
        direction="maximize",
        pruner=hyperdial.pruners.HyperbandPruner(
            min_resource=1, max_resource=args.max_epochs, reduction_factor=3
        ),
        load_if_exists=True,
    )
    if study.trials:
        print(f"Resumed study {STUDY!r}: {len(study.trials)} trials already run.")
    else:
        print(f"Created study {STUDY!r}.")
    torch.set_num_threads(1)
    data = load_data()
    print(f"Running {args.trials} trials of up to {args.max_epochs} epochs, {args.jobs} at a time.")
    study.optimize(
        partial(objective, data=data, max_epochs=args.max_epochs),
        n_trials=args.trials,
        n_jobs=args.jobs,
    )
    summarize(study, data, args.max_epochs, args.storage)


if __name__ == "__main__":
    main()
