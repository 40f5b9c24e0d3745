"""Shared settings of the notebooks, and the catch-up that lets each one run on its own.

Every notebook opens the same home: `$DISTILLERY_HOME`, else `.distillery` in the folder the
notebook runs in (git ignores it). The population is `$DISTILLERY_NOTEBOOK_USERS` users
(default 20,000: each notebook then runs in well under two minutes on a laptop).

A notebook for step N starts with `catch_up(platform, N)`: it runs, with the same settings
the earlier notebooks use, every earlier step whose output is not in the home yet, and skips
the others. So notebooks 01 to 07 in order do each step once, and any notebook opened alone
on a fresh home still works.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distillery import Platform

# tqdm (through MLflow and Optuna) warns that Jupyter widgets are missing; the notebooks show
# no progress bars anyway.
warnings.filterwarnings("ignore", message="IProgress not found")

HOME_ENV = "DISTILLERY_HOME"
USERS_ENV = "DISTILLERY_NOTEBOOK_USERS"
USERS = int(os.environ.get(USERS_ENV, "20000"))
SEED = 7
# A fixed "today", so every run simulates the same people and events: the events fall in the
# 10 weeks that end two weeks before it.
AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
CUTOFF = AS_OF - timedelta(days=42)  # training cutoff T: features before, label after
HORIZON = "14d"  # label: converted within 14 days after T
SCORE_AS_OF = AS_OF - timedelta(days=14)  # score everyone as of the end of the events
LATER = AS_OF  # "two weeks later": the second scoring and evaluation in notebook 07
EVENTS, PROFILES = "experience_events", "profiles"
TRAINING, REFERENCE = "training", "reference_training"
EXPORT_FLOW = "training-export"
MODEL = "propensity@champion"
TRAIN_OPTIONS = {"model": "lightgbm", "trials": 10, "folds": 3, "seed": SEED}


def home() -> Path:
    """The notebooks' home folder."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".distillery").absolute()


def open_platform() -> Platform:
    """The platform of the notebooks' home (sandbox prod)."""
    return Platform.open(home())


def landing(platform: Platform) -> Path:
    """The sandbox's landing zone: `cmle/egress` (exports) and `cmle/ingress` (scores)."""
    return platform.root / "landing"


def egress(platform: Platform) -> str:
    """Where training sets are exported, as the reference's `export_path`."""
    return str(landing(platform) / "cmle" / "egress")


def _has_rows(platform: Platform, name: str) -> bool:
    found = platform.catalog.find_dataset(name)
    return found is not None and found.version >= 0


# Step 1 ----------------------------------------------------------------------------------------

def generate_data(platform: Platform) -> str:
    """Simulate USERS users (profiles and experience events), unless the home has events."""
    from distillery.synth import generate

    if _has_rows(platform, EVENTS):
        return "1 generate: events already in the home"
    result = generate(platform, USERS, seed=SEED, as_of=AS_OF)
    return f"1 generate: {result.users:,} users, {result.events:,} events"


# Step 2 ----------------------------------------------------------------------------------------

def build_training_sets(platform: Platform) -> str:
    """The point-in-time training set and the reference-compatible one, unless present."""
    from distillery.features import build_reference_training_set, build_training_set

    if _has_rows(platform, TRAINING) and _has_rows(platform, REFERENCE):
        return "2 featurize: training sets already in the home"
    built = build_training_set(platform, EVENTS, TRAINING, [CUTOFF], horizon=HORIZON,
                               replace=True)
    build_reference_training_set(platform, EVENTS, REFERENCE, seed=SEED, replace=True)
    return f"2 featurize: {built.rows:,} training rows, {built.positives:,} positive"


# Step 3 ----------------------------------------------------------------------------------------

def export_flow(platform: Platform) -> str:
    """The saved dataflow that exports the training set (created once)."""
    from distillery.errors import NotFoundError
    from distillery.flows.dataflows import Dataflows

    flows = Dataflows(platform)
    try:
        flows.get(EXPORT_FLOW)
    except NotFoundError:
        flows.create(EXPORT_FLOW, {"kind": "export", "dataset": TRAINING,
                                   "url": egress(platform), "format": "parquet",
                                   "compression": "gzip"})
    return EXPORT_FLOW


def export_training_set(platform: Platform) -> str:
    """Export the training set's current snapshot, unless the latest export holds it."""
    from distillery.flows.dataflows import Dataflows
    from distillery.flows.discovery import latest_export

    ds = platform.dataset(TRAINING)
    found = latest_export(egress(platform), ds.id)
    if found is not None and found.manifest.get("snapshot") == ds.version:
        return "3 export: the latest export holds the current training set"
    run = Dataflows(platform).run(export_flow(platform))
    return f"3 export: {run.rows:,} rows in {run.files} file(s), {run.state}"


# Step 4 ----------------------------------------------------------------------------------------

def exported_snapshot(platform: Platform) -> int:
    """The training set snapshot the latest export holds (what step 4 trains on)."""
    from distillery.flows.discovery import latest_export

    found = latest_export(egress(platform), platform.dataset(TRAINING).id)
    if found is None:
        raise RuntimeError("no export of the training set yet: run notebook 03")
    return int(found.manifest["snapshot"])


def train_champion(platform: Platform) -> str:
    """Train and register a champion, unless there is one."""
    from distillery.ml import train
    from distillery.ml.errors import ModelNotFoundError
    from distillery.ml.registry import Registry

    try:
        version, _ = Registry.of(platform).resolve("propensity", "champion")
        return f"4 train: champion is version {version}"
    except ModelNotFoundError:
        pass
    result = train(platform, TRAINING, snapshot=exported_snapshot(platform), **TRAIN_OPTIONS)
    return f"4 train: version {result.version}, test ROC AUC {result.metrics['roc_auc']:.3f}"


# Steps 5 and 6 ---------------------------------------------------------------------------------

def score_everyone(platform: Platform) -> str:
    """Score every person with the champion, unless a scoring run exists."""
    from distillery import scoring

    if scoring.list_runs(platform.catalog):
        return "5 score: scores already in the home"
    result = scoring.score(platform, MODEL, as_of=SCORE_AS_OF, deliver="csv",
                           ingress_url=str(landing(platform)))
    return f"5 score: {result.rows:,} people scored"


def refresh_profiles(platform: Platform) -> str:
    """Bring the unified profiles up to date (a no-op when nothing changed)."""
    from distillery import profiles

    result = profiles.refresh(platform)
    if result.mode == "none":
        return "6 profiles: the unified profiles are up to date"
    return f"6 profiles: {result.mode} refresh, {result.persons:,} people"


STEPS: list[tuple[int, Callable[[Platform], str]]] = [
    (1, generate_data), (2, build_training_sets), (3, export_training_set),
    (4, train_champion), (5, score_everyone), (6, refresh_profiles),
]


def catch_up(platform: Platform, step: int) -> list[str]:
    """Make sure the outputs of every step before `step` exist; say what was done."""
    return [run(platform) for number, run in STEPS if number < step]
