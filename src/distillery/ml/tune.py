"""Hyperparameter search with Optuna: seeded TPE, median pruning, early stopping.

Trials run in rounds of `jobs` (one per core, see `parallel`): each round's hyperparameters are
drawn in order on the main thread, the fits run side by side, and results are told in order.
With a seeded sampler, and a pruner that compares only with completed trials, the search is
then reproducible although it uses every core. The family's defaults are the first trial, so a
search never ends worse than no search on the validation fold. Preparation is fitted once on
the fit rows and shared by every trial, and so is the family's own form of the data
(`Family.trial_data`: LightGBM's binned datasets). The best trial's validation predictions are
kept: they are fold 0's out-of-fold scores, so cross-validation does not fit that model again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from distillery.ml import parallel, prepare
from distillery.ml.estimators import PATIENCE, Family, Fitted
from distillery.ml.split import Split


@dataclass(frozen=True)
class Search:
    """The outcome of a search.

    Attributes:
        params: Best hyperparameters (fixed ones included).
        rounds: Boosting rounds early stopping kept for the best trial (None if not boosting).
        score: Best validation ROC AUC.
        trials: Trials run; pruned: of which pruned.
        seconds: Wall time of the search.
        valid_p: The best trial's predictions on the validation rows of fold 0: the
            out-of-fold scores of fold 0 under the best hyperparameters, reused by
            cross-validation rather than fitted again.
    """

    params: dict[str, Any]
    rounds: int | None
    score: float
    trials: int
    pruned: int
    seconds: float
    valid_p: np.ndarray | None = field(default=None, repr=False, compare=False)


def search(fam: Family, kinds: dict[str, str], frame: pd.DataFrame, y: np.ndarray,
           split: Split, *, trials: int, seed: int, jobs: int,
           fixed: dict[str, Any] | None = None, timeout: float | None = None,
           patience: int = PATIENCE, console: Any = None) -> Search:
    """Search `fam`'s hyperparameters on the tuning split of `split`.

    Args:
        fam: Model family.
        kinds: Feature kinds.
        frame: Features of every row (see `prepare.to_frame`).
        y: Labels of every row.
        split: The split; its fold 0 is validated, the other folds fitted.
        trials: Number of trials (at least 1: the defaults).
        seed: Seed of the sampler and the estimators.
        jobs: Trials fitted at the same time.
        fixed: Hyperparameters not searched.
        timeout: Start no new round after this many seconds.
        patience: Boosting stops after this many rounds without a better validation ROC AUC.
        console: Progress reporting.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = dict(fixed or {})
    fit_rows, valid_rows = split.tuning
    prep = prepare.preparation(kinds, fam.flavour)
    data = fam.search_data(prep.fit_transform(frame.iloc[fit_rows], y[fit_rows]), y[fit_rows],
                           prep.transform(frame.iloc[valid_rows]), y[valid_rows], seed)
    early_stop = patience if fam.rounds_param is not None and fam.rounds_param not in fixed \
        else 0
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                           n_startup_trials=min(10, max(trials // 4, 1))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=50))
    study.enqueue_trial({k: v for k, v in fam.defaults.items() if k not in fixed})
    total, done, start = max(trials, 1), 0, time.perf_counter()
    predictions: dict[int, np.ndarray | None] = {}
    with _task(console, f"Tuning {fam.name}", total) as task:
        while done < total:
            if timeout is not None and done and time.perf_counter() - start > timeout:
                break
            batch = [study.ask() for _ in range(min(jobs, total - done))]
            done += len(batch)
            drawn = [{**fam.space(t), **fixed} for t in batch]
            outcomes = parallel.run([_trial(fam, p, t, data, seed, early_stop)
                                     for p, t in zip(drawn, batch, strict=True)], jobs)
            for trial, outcome in zip(batch, outcomes, strict=True):
                _tell(study, trial, outcome)
                if isinstance(outcome, Fitted):
                    predictions[trial.number] = outcome.p
                task.advance(1)
    return _result(study, fam, fixed, time.perf_counter() - start, predictions)


def _trial(fam: Family, params: dict[str, Any], trial: Any, data: tuple[Any, ...], seed: int,
           early_stop: int) -> Any:
    def fit() -> Fitted | Exception:
        import optuna

        try:
            return fam.fit_trial(fam.build(params, seed, 1), *data, trial, early_stop)
        except optuna.TrialPruned as pruned:
            return pruned

    return fit


def _tell(study: Any, trial: Any, outcome: Fitted | Exception) -> None:
    import optuna

    if not isinstance(outcome, Fitted):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    trial.set_user_attr("rounds", outcome.rounds)
    study.tell(trial, outcome.score)


def _result(study: Any, fam: Family, fixed: dict[str, Any], seconds: float,
            predictions: dict[int, np.ndarray | None]) -> Search:
    import optuna

    best = study.best_trial
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return Search(params={**fam.defaults, **best.params, **fixed},
                  rounds=best.user_attrs.get("rounds"), score=float(best.value),
                  trials=len(study.trials), pruned=pruned, seconds=seconds,
                  valid_p=predictions.get(best.number))


def _task(console: Any, description: str, total: int) -> Any:
    from distillery.console import SilentConsole

    return (console or SilentConsole()).task(description, total=total)
