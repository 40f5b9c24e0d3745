"""`train`: from a training set to a registered, calibrated, evaluated model.

    result = train(platform, "training_set", model="lightgbm", trials=50)
    result.metrics["roc_auc"], result.version      # models:/propensity@champion

The steps, in order: read the training set (keeping every positive and a share of the
negatives when it has more than `max_rows` rows); decide the columns' roles; refuse a feature
that is the label; split by person (and time); search hyperparameters on fold 0; cross-validate
the best ones (and the logistic-regression baseline) on every fold while the final model fits on
all development rows (fold 0's model is the search's best trial, not fitted again); choose and
fit the calibrator on the out-of-fold scores; evaluate on the held-out persons; compare with the
synthetic ground truth when there is one; register. Nothing is registered until every step
before it has succeeded.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from distillery.console import SilentConsole
from distillery.lake import labels
from distillery.ml import (
    calibrate,
    card,
    columns,
    crossval,
    data,
    estimators,
    evaluate,
    groundtruth,
    leakage,
    metrics,
    parallel,
    prepare,
    tune,
)
from distillery.ml import definition as defn
from distillery.ml import options as options_mod
from distillery.ml import split as split_mod
from distillery.ml.errors import TrainingError
from distillery.ml.model import CalibratedModel
from distillery.ml.registry import Registry


@dataclass
class TrainResult:
    """What a training produced.

    Attributes:
        name: Registered model name.
        version: The new version.
        run_id: The MLflow run.
        uri: `models:/{name}/{version}`.
        promoted: Whether the champion alias now points at this version.
        metrics: Every metric (held-out `roc_auc`, `cv_roc_auc_mean`, `ece`, ...).
        card: The model card.
        model: The fitted `CalibratedModel`.
        seconds: Wall time of the whole training.
    """

    name: str
    version: int
    run_id: str
    uri: str
    promoted: bool
    metrics: dict[str, float]
    card: dict[str, Any]
    model: CalibratedModel
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (what `distillery train --json` prints)."""
        return {"name": self.name, "version": self.version, "run_id": self.run_id,
                "uri": self.uri, "promoted": self.promoted, "seconds": self.seconds,
                "model": self.card["model"]["family"], "label": self.card["label"],
                "features": self.card["features"], "metrics": self.metrics,
                "notes": self.card["notes"]}


@dataclass
class Trained:
    """A trained model ready to be registered (see `Registry.log`)."""

    model: CalibratedModel
    card: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, Any]
    plots: Path | None
    signature: Any
    example: pd.DataFrame
    requirements: list[str]
    description: str
    started: float


@dataclass
class _Prepared:
    """The training set turned into model inputs."""

    cols: columns.Columns
    frame: pd.DataFrame
    y: np.ndarray
    persons: np.ndarray | None
    cutoffs: np.ndarray | None
    label_how: str
    dropped: int
    notes: list[str] = field(default_factory=list)
    kept_negatives: float = 1.0


def train(platform: Any, training_set: Any, **options: Any) -> TrainResult:
    """Train, tune, calibrate, evaluate and register a model.

    Args:
        platform: The platform (its lake holds the training set, its sandbox the registry).
        training_set: A dataset name, a path or URL of exported Parquet files, or a frame.
        **options: See `distillery.ml.options.TrainOptions` (model, trials, label, ...).

    Returns:
        The registered version and its metrics.

    Raises:
        ModelOptionError: an option is unknown or out of range.
        TrainingError: the training set cannot train a model (the message says why);
            nothing is registered and the champion alias is unchanged.
    """
    opts = options_mod.parse(**options)
    fam = estimators.family(opts.model)
    console = getattr(platform, "console", None) or SilentConsole()
    started = time.time()
    table, source = data.load(platform, training_set, snapshot=opts.snapshot,
                              storage_options=opts.storage_options)
    definition = source.feature_definition
    prepared = _prepare(table, source.name, definition, opts)
    _check_labels(platform, source, prepared.cols)
    # One thread for every library pool, not only during the fits: calibration's logistic
    # regression took seven times longer with BLAS threads spinning on the busy cores.
    with parallel.one_thread_per_fit():
        trained = fit(platform, prepared, source, definition, opts, fam, console, started)
    try:
        run_id, version = Registry.of(platform).log(trained, promote=opts.promote)
    finally:
        if trained.plots is not None:  # MLflow has copied them into the run's artifacts
            shutil.rmtree(trained.plots, ignore_errors=True)
    for note in trained.card["notes"]:
        console.note(note)
    return TrainResult(name=opts.name, version=version, run_id=run_id,
                       uri=f"models:/{opts.name}/{version}", promoted=opts.promote,
                       metrics=trained.metrics, card=trained.card, model=trained.model,
                       seconds=time.time() - started)


def _check_labels(platform: Any, source: data.Source, cols: columns.Columns) -> None:
    """Refuse to train on a dataset, or fields of it, labelled C9 ("not for data science"),
    also once exported: the labels its manifest lists, and the dataset's labels today when it
    is still in this sandbox. Only the label and the features used count: a labelled column
    left out does not."""
    used = [*cols.features, cols.label]
    if source.kind == "files" and source.labels is not None:
        _check_export_labels(platform, source, source.labels, used)
    if source.kind not in ("dataset", "files") or source.dataset_id is None:
        return
    record = platform.catalog.find_dataset(source.dataset_id)
    if record is None:
        return
    known = {p for p, _ in record.schema.leaves()}
    used = [c for c in used if c in known]
    labels.check("training", labels.labels_for(platform, record, used), dataset=record.name)


def _check_export_labels(platform: Any, source: data.Source, marks: dict[str, Any],
                         used: list[str]) -> None:
    """`labels.check` for exported files: the dataset's labels cover every column, a field's
    cover the column if it is that field, a struct holding it or a field under it."""
    found = {labels.ALL_FIELDS: marks["dataset"]}
    found.update({c: [m for path, on in marks["fields"].items() if labels.related(path, c)
                      for m in on] for c in used})
    # Name the dataset as this sandbox knows it when it is here; the export's location says
    # which copy of its rows was refused.
    record = platform.catalog.find_dataset(source.dataset_id) \
        if platform is not None and source.dataset_id else None
    dataset = record.name if record is not None else source.dataset_id
    refused = labels.violations("training", found, dataset=dataset)
    if refused:
        first = replace(refused[0], note=f"in the export at {source.name}")
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise labels.GovernanceError(first.message() + more, label=first.label,
                                     field=first.field, dataset=first.dataset,
                                     purpose=first.purpose)


def _prepare(table: pa.Table, name: str, definition: dict[str, Any] | None,
             opts: options_mod.TrainOptions) -> _Prepared:
    cols = columns.resolve(table, label=opts.label, features=opts.features, exclude=opts.exclude,
                           kinds=opts.kinds, person=opts.person, cutoff=opts.cutoff,
                           definition=definition, name=f"training set {name!r}")
    keys = [(c, "ascending") for c in (cols.person, cols.cutoff) if c is not None]
    if keys:
        # Engines return rows in any order; a fixed order makes a seeded training repeatable.
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    y, valid, how = columns.binary_label(table[cols.label], cols.label)
    dropped = int((~valid).sum())
    if dropped:
        table = table.filter(pa.array(valid))
    notes = [f"{dropped} rows without a label were left out"] if dropped else []
    keep, kept = calibrate.sample_negatives(y, opts.max_rows, opts.seed)
    if keep is not None:
        table, y = table.filter(pa.array(keep)), y[keep]
        notes.append(f"max_rows {opts.max_rows:,}: every positive and {kept:.1%} of the "
                     f"negatives were kept ({len(y):,} rows); the model is corrected for it")
    if opts.sql_transform:
        notes.append("TRANSFORM: the features are those of its vector_assembler; imputing, "
                     "indexing, encoding and scaling follow Distillery's automatic preparation")
    return _Prepared(cols=cols, frame=prepare.to_frame(table, cols.kinds), y=y,
                     persons=_persons(table, cols.person), cutoffs=_cutoffs(table, cols.cutoff),
                     label_how=how, dropped=dropped, notes=notes, kept_negatives=kept)


def _persons(table: pa.Table, column: str | None) -> np.ndarray | None:
    if column is None:
        return None
    values = pc.cast(table[column], pa.string()).to_numpy(zero_copy_only=False)
    missing = pd.isna(values)
    if missing.any():
        # A row without a person is a person of its own.
        values = values.astype(object)
        values[missing] = [f"\0row{i}" for i in np.flatnonzero(missing)]
    return values.astype(str)


def _cutoffs(table: pa.Table, column: str | None) -> np.ndarray | None:
    if column is None:
        return None
    values = table[column]
    try:
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.timestamp("us", tz="UTC"))
        return np.asarray(pc.cast(values, pa.timestamp("us")).to_numpy(zero_copy_only=False),
                          dtype="datetime64[us]")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise TrainingError(f"cutoff column {column!r} holds {values.type}, not times") from None


@dataclass
class _Run:
    """What one training has found so far, step by step (read by the card)."""

    opts: options_mod.TrainOptions
    fam: estimators.Family
    source: data.Source
    definition: dict[str, Any] | None
    p: _Prepared
    split: split_mod.Split
    suspects: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    found: tune.Search | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cv: crossval.CrossValidation | None = None
    baseline: crossval.CrossValidation | None = None
    choice: calibrate.Choice | None = None
    negative_rate: float | None = None
    threshold: float = 0.5
    evaluation: evaluate.Evaluation | None = None
    truth: groundtruth.Comparison | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    plots: Path | None = None


def fit(platform: Any, prepared: _Prepared, source: data.Source,
        definition: dict[str, Any] | None, opts: options_mod.TrainOptions,
        fam: estimators.Family, console: Any, started: float) -> Trained:
    """Every step between a prepared training set and a registrable model."""
    p = prepared
    suspects = leakage.check(p.frame, p.y, p.cols.label, opts.seed)
    p.notes += [f"feature {s['feature']!r} alone ranks the label with ROC AUC "
                f"{s['roc_auc']:.3f}: check it is known before the cutoff" for s in suspects]
    split = split_mod.make(p.y, p.persons, p.cutoffs, folds=opts.folds,
                           test_size=opts.test_size, seed=opts.seed,
                           name=f"training set {source.name!r}")
    run = _Run(opts, fam, source, definition, p, split, suspects)
    final = _search_and_fit(run, console)
    model = _calibrate(run, final)
    _evaluate(platform, run, model)
    run.plots = _plots(run, model, console)
    model_card = card.build(**_card_parts(run))
    return Trained(model=model, card=model_card, metrics=run.metrics,
                   params={"model": fam.name, **run.params, "trials": opts.trials,
                           "folds": opts.folds, "test_size": opts.test_size, "seed": opts.seed,
                           "calibration": model.calibrator.method,
                           "negative_rate": run.negative_rate, "training_set": source.name,
                           "label": p.cols.label},
                   plots=run.plots, signature=card.signature(p.cols.kinds),
                   example=p.frame.iloc[:5].reset_index(drop=True),
                   requirements=card.requirements(fam.name),
                   description=card.describe(model_card), started=started)


def _search_and_fit(run: _Run, console: Any) -> Any:
    """Search, then cross-validate and fit the final model; return the final pipeline."""
    p, opts = run.p, run.opts
    jobs = opts.jobs or parallel.cores()
    with parallel.one_thread_per_fit():
        t = time.perf_counter()
        run.found = tune.search(run.fam, p.cols.kinds, p.frame, p.y, run.split,
                                trials=opts.trials, seed=opts.seed, jobs=jobs,
                                fixed=dict(opts.params), timeout=opts.timeout,
                                patience=opts.patience, console=console)
        run.timings["tuning"] = time.perf_counter() - t
        run.params = estimators.final_params(run.fam, run.found.params, run.found.rounds)
        t = time.perf_counter()
        run.cv, final, run.baseline = _fit_all(run.fam, p, run.split, run.params, opts, jobs,
                                               console, run.found.valid_p)
        run.timings["cross_validation_and_final_fit"] = time.perf_counter() - t
    return final


def _calibrate(run: _Run, final: Any) -> CalibratedModel:
    """Choose the calibrator on out-of-fold scores; pick the decision threshold."""
    p, split, cv = run.p, run.split, run.cv
    assert cv is not None
    built = run.opts.negative_rate or defn.negative_rate(run.definition) or 1.0
    rate = built * p.kept_negatives  # sampled when built, then again for max_rows
    run.negative_rate = None if rate >= 1 else rate
    run.choice = calibrate.choose(cv.oof, p.y[split.dev], cv.fold, run.opts.calibration)
    weight = calibrate.sampling_weights(p.y[split.dev], run.negative_rate)
    run.threshold = _threshold(run.opts, run.choice, cv, p.y[split.dev], run.negative_rate,
                               weight)
    return CalibratedModel(final, run.choice.calibrator, run.negative_rate, p.cols.features,
                           p.cols.kinds, run.fam.name)


def _evaluate(platform: Any, run: _Run, model: CalibratedModel) -> None:
    """Held-out evaluation, the ground-truth comparison, and the flat metrics."""
    p = run.p
    t = time.perf_counter()
    weight = calibrate.sampling_weights(p.y, run.negative_rate)
    run.evaluation = evaluate.run(model, p.frame, p.y, run.split.test, run.threshold, weight,
                                  run.opts.seed)
    run.timings["evaluation"] = time.perf_counter() - t
    horizon = run.opts.horizon or defn.horizon(run.definition)
    run.truth = _truth(platform, p, run.split, run.evaluation, horizon, run.definition,
                       run.opts)
    assert run.cv is not None and run.found is not None
    run.metrics = _metrics(run.evaluation, run.cv, run.baseline, run.found, run.truth)


def _fit_all(fam: estimators.Family, p: _Prepared, split: split_mod.Split,
             params: dict[str, Any], opts: options_mod.TrainOptions, jobs: int, console: Any,
             fold0: np.ndarray | None = None
             ) -> tuple[crossval.CrossValidation, Any, crossval.CrossValidation | None]:
    """Fold models, the final model and the baseline's fold models, side by side.

    `fold0`: fold 0's out-of-fold scores when the search already fitted that model (its best
    trial fitted these hyperparameters on fold 0's training rows), so it is not fitted again.
    """
    kinds, frame, y = p.cols.kinds, p.frame, p.y
    folds = crossval.fold_tasks(fam, kinds, frame, y, split, params, opts.seed)
    if fold0 is not None and len(fold0) == len(split.folds[0][1]):
        folds[0] = lambda: fold0
    dev = split.dev
    base = estimators.family("logreg") if opts.baseline and fam.name != "logreg" else None
    base_folds = crossval.fold_tasks(base, kinds, frame, y, split, base.defaults, opts.seed) \
        if base is not None else []
    # The final fit is the longest; started first, it ends alongside the fold fits.
    tasks = [lambda: crossval.fit(fam, kinds, frame.iloc[dev], y[dev], params, opts.seed),
             *folds, *base_folds]
    k = len(split.folds)
    with console.task(f"Cross-validating and fitting {fam.name}", total=len(tasks)) as task:
        results = parallel.run([_advancing(t, task) for t in tasks], jobs)
    cv = crossval.collect(split, y, results[1:k + 1])
    baseline = crossval.collect(split, y, results[k + 1:]) if base is not None else None
    return cv, results[0], baseline


def _advancing(task: Any, progress: Any) -> Any:
    def run() -> Any:
        out = task()
        progress.advance(1)
        return out

    return run


def _threshold(opts: options_mod.TrainOptions, choice: calibrate.Choice,
               cv: crossval.CrossValidation, y_dev: np.ndarray, negative_rate: float | None,
               weight: np.ndarray | None) -> float:
    if opts.threshold != "f1":
        return float(opts.threshold)
    dev_p = calibrate.correct_for_sampling(choice.calibrator.predict(cv.oof), negative_rate)
    return metrics.best_f1_threshold(y_dev, dev_p, weight)


def _truth(platform: Any, p: _Prepared, split: split_mod.Split, e: evaluate.Evaluation,
           horizon: Any, definition: dict[str, Any] | None,
           opts: options_mod.TrainOptions) -> groundtruth.Comparison:
    if not opts.ground_truth:
        return groundtruth.Comparison(note="ground truth not compared (turned off)")
    cutoffs = p.cutoffs[split.test] if p.cutoffs is not None else None
    single = defn.cutoff_time(definition)
    if cutoffs is None and single is not None:
        cutoffs = np.full(len(split.test), np.datetime64(single.replace(tzinfo=None), "us"))
    persons = p.persons[split.test] if p.persons is not None else None
    return groundtruth.compare(platform, persons, cutoffs, e.y, e.p, horizon)


def _metrics(e: evaluate.Evaluation, cv: crossval.CrossValidation,
             baseline: crossval.CrossValidation | None, found: tune.Search,
             truth: groundtruth.Comparison) -> dict[str, float]:
    flat = dict(e.metrics)
    flat |= {"cv_roc_auc_mean": cv.mean, "cv_roc_auc_std": cv.std,
             "tuning_best_roc_auc": found.score, "tuning_trials": float(found.trials),
             "tuning_pruned": float(found.pruned), "tuning_seconds": found.seconds}
    if baseline is not None:
        flat |= {"baseline_cv_roc_auc_mean": baseline.mean,
                 "baseline_cv_roc_auc_std": baseline.std,
                 "cv_roc_auc_gain_over_baseline": cv.mean - baseline.mean}
    return flat | truth.metrics


def _plots(run: _Run, model: CalibratedModel, console: Any) -> Path | None:
    if not run.opts.plots:
        return None
    assert run.evaluation is not None
    folder = Path(tempfile.mkdtemp(prefix="distillery-plots-"))
    shown = ("baseline_cv_roc_auc_mean", "truth_latent_roc_auc", "truth_clairvoyant_roc_auc")
    baselines: dict[str, float] = {k: run.metrics[k] for k in shown if k in run.metrics}
    with parallel.one_thread_per_fit():
        run.p.notes.extend(evaluate.draw(folder, run.evaluation, model,
                                         run.p.frame.iloc[run.split.test], baselines,
                                         shap=run.opts.shap, seed=run.opts.seed))
    return folder


def _card_parts(r: _Run) -> dict[str, Any]:
    opts, p, split, e = r.opts, r.p, r.split, r.evaluation
    cv, found, choice, truth = r.cv, r.found, r.choice, r.truth
    assert e is not None and cv is not None and found is not None and choice is not None
    assert truth is not None
    baseline, negative_rate = r.baseline, r.negative_rate
    built = opts.negative_rate or defn.negative_rate(r.definition) or 1.0
    sampled_by = [by for by, used in (("option" if opts.negative_rate else
                                       "feature definition", built < 1),
                                      ("max_rows", p.kept_negatives < 1)) if used]
    return {
        "name": opts.name,
        "sql_options": opts.sql_options, "sql_transform": opts.sql_transform,
        "model": {"family": r.fam.name, "params": r.params, "seed": opts.seed},
        "training_set": {**r.source.to_dict(), "rows_used": len(p.y),
                         "rows_without_label": p.dropped, "positives": int(p.y.sum()),
                         "persons": split.persons},
        "feature_definition": r.definition,
        "label": p.cols.label, "label_encoding": p.label_how,
        "features": p.cols.features, "feature_kinds": p.cols.kinds,
        "input_types": card.input_types(p.cols.kinds), "excluded_columns": p.cols.excluded,
        "person_column": p.cols.person, "cutoff_column": p.cols.cutoff,
        "split": {"test_size": opts.test_size, "folds": opts.folds, "by_time": split.by_time,
                  "development_rows": len(split.dev), "test_rows": len(split.test),
                  "by_person": p.cols.person is not None},
        "tuning": {"trials": found.trials, "pruned": found.pruned,
                   "best_validation_roc_auc": found.score, "seconds": found.seconds,
                   "sampler": "TPE (multivariate, seeded)", "pruner": "median",
                   "objective": "validation ROC AUC (fold 0)"},
        "cross_validation": {"folds": opts.folds, "roc_auc_mean": cv.mean,
                             "roc_auc_std": cv.std, "roc_auc_folds": cv.aucs,
                             "baseline": None if baseline is None else {
                                 "family": "logreg", "roc_auc_mean": baseline.mean,
                                 "roc_auc_std": baseline.std, "roc_auc_folds": baseline.aucs}},
        "calibration": {"method": choice.method, "requested": opts.calibration,
                        "chosen_by": "cross-validated log loss on out-of-fold scores",
                        "candidates": choice.scores,
                        "reliability": e.reliability, "reliability_uniform":
                            e.reliability_uniform},
        "sampling": {"negative_rate": negative_rate,
                     "source": " and ".join(sampled_by) if sampled_by else None,
                     "max_rows": opts.max_rows, "corrected": negative_rate is not None},
        "threshold": {"value": r.threshold, "chosen_by": "given" if opts.threshold != "f1"
                      else "best F1 on out-of-fold development predictions"},
        "metrics": r.metrics, "deciles": e.deciles,
        "importance": {"measure": "mean drop in test ROC AUC when shuffled",
                       "values": e.importance},
        "ground_truth": {"metrics": truth.metrics, "note": truth.note},
        "leakage": {"suspects": r.suspects},
        "plots": sorted(f.name for f in r.plots.iterdir()) if r.plots else [],
        "timings": r.timings,
        "notes": [*p.notes, *([truth.note] if truth.note else [])],
    }
