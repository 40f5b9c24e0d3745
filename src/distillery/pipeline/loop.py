"""The whole loop of the reference workflow, in one call: `run_loop(platform, users=...)`.

Seven steps, as the reference's notebooks: generate synthetic data; EDA and featurize; export
the training set to the landing zone; train and register; score every person; ingest the
scores back through the source dataflow; create the reference's audience and a top-decile
audience and activate them to a file destination. Each step is one call into the library;
this module only orders them, names their outputs and collects a summary.

What the loop chooses for speed (measured with `bench/e2e.py`): ten generation batches
whatever the population; the training set exported as zstd Parquet; training with ten trials
of patience 25, no logistic-regression baseline and at most `max_training_rows` rows
(negatives sampled and corrected for, see `LoopOptions`); one refresh of the unified profiles
for both audiences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from distillery.pipeline.runner import Runner, StepResult
from distillery.platform import Platform

EVENTS = "experience_events"
TRAINING_SET = "propensity_training_set"
MODEL = "propensity"
HORIZON_DAYS = 14
REFERENCE_AUDIENCE = "reference_propensity"
REFERENCE_RULE = "_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93"
TOP_DECILE_AUDIENCE = "top_decile"
TOP_DECILE_RULE = "_{tenant}.decile = 10"
DESTINATION = "activation_files"


@dataclass
class LoopOptions:
    """What the loop runs on.

    Attributes:
        users: Synthetic users to generate.
        seed: Random seed of the generator.
        as_of: The generator's reference date (default: today); the data window ends two
            weeks before it.
        landing_zone: Storage URL of the landing zone (default: a folder in the home).
        activation: Storage URL the audiences are activated to (default: a folder in the
            home).
        trials: Hyperparameter trials (default 10; `distillery train` searches 50). The loop
            trains as `distillery train` does (person folds, held-out test, calibration on
            out-of-fold scores, ground truth) but without the logistic-regression baseline,
            which it does not report.
        patience: Early-stopping patience of the trials in boosting rounds (default 25;
            `distillery train` waits 50). On the reference scenario the best round comes
            early and both find the same model; the wait was half of every trial.
        model: Model family.
        max_training_rows: Train on about this many rows at most: a larger training set
            keeps every positive and a seeded share of its negatives, and the model is
            corrected for that share (`train(max_rows=...)`). 100,000 users give about 89,000
            rows, all used; 1,000,000 users give 890,000, of which about a quarter are used.
    """

    users: int = 100_000
    seed: int = 42
    as_of: datetime | None = None
    landing_zone: str | None = None
    activation: str | None = None
    trials: int = 10
    patience: int = 25
    model: str = "lightgbm"
    max_training_rows: int = 250_000

    def params(self) -> dict[str, Any]:
        """The parameters that make a run's results (a change starts afresh)."""
        return {"users": self.users, "seed": self.seed,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "landing_zone": self.landing_zone, "activation": self.activation,
                "trials": self.trials, "patience": self.patience, "model": self.model,
                "max_training_rows": self.max_training_rows}


def run_loop(platform: Platform, options: LoopOptions, force: bool = False) -> dict[str, Any]:
    """Run the seven steps (skipping those a previous run with the same options finished).

    Returns:
        A summary: per step its rows, seconds and processor seconds, model quality next to
        the ground truth's ceilings, audience sizes and the files written.
    """
    as_of = options.as_of or datetime.now(UTC).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
    options.as_of = as_of
    landing = options.landing_zone or str(platform.home / "landing-zone")
    activation_url = options.activation or str(platform.home / "activation")
    steps = _Steps(platform, options, as_of, landing, activation_url)
    runner = Runner(platform.root / "runs" / "loop.json", options.params(), platform.console)
    results = runner.run([
        ("generate", steps.generate),
        ("featurize", steps.featurize),
        ("export", steps.export),
        ("train", steps.train),
        ("score", steps.score),
        ("ingest_scores", steps.ingest_scores),
        ("audiences", steps.audiences),
        ("activate", steps.activate),
    ], force=force)
    return summarise(results)


def summarise(results: list[StepResult]) -> dict[str, Any]:
    """The run's summary (what `distillery run --json` prints)."""
    by_name = {r.name: r for r in results}
    train = by_name.get("train", StepResult("train")).outputs
    audiences = by_name.get("audiences", StepResult("audiences")).outputs
    files = [f for r in results for f in r.outputs.get("files", [])]
    return {
        "steps": [{"name": r.name, "rows": r.rows, "seconds": r.seconds,
                   "cpu_seconds": r.cpu_seconds, "skipped": r.skipped} for r in results],
        "seconds": round(sum(r.seconds for r in results if not r.skipped), 3),
        "cpu_seconds": round(sum(r.cpu_seconds for r in results if not r.skipped), 3),
        "roc_auc": train.get("roc_auc"),
        "cv_roc_auc_mean": train.get("cv_roc_auc_mean"),
        "latent_auc": train.get("latent_auc"),
        "clairvoyant_auc": train.get("clairvoyant_auc"),
        "ece": train.get("ece"),
        "model_version": train.get("version"),
        "audiences": audiences.get("sizes", {}),
        "files": files,
    }


class _Steps:
    """The seven steps; each returns a StepResult for the runner."""

    def __init__(self, platform: Platform, options: LoopOptions, as_of: datetime,
                 landing: str, activation_url: str) -> None:
        self.platform, self.options, self.as_of = platform, options, as_of
        self.landing, self.activation_url = landing, activation_url
        # The generator's window ends two weeks before as-of; the cutoff leaves a full
        # horizon of outcomes after it, and scoring looks at everyone as of the window's end.
        self.window_end = as_of - timedelta(weeks=2)
        self.cutoff = self.window_end - timedelta(days=HORIZON_DAYS)

    def generate(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.synth import generate

        # Ten batches whatever the population: each batch is a Delta commit per dataset, and
        # a commit costs more the longer the table's log (100 batches of 10,000 users spent
        # most of a million-user generation committing); fewer files also read faster later.
        batch_users = max(10_000, -(-self.options.users // 10))
        result = generate(self.platform, self.options.users, self.options.seed, self.as_of,
                          batch_users=batch_users)
        return StepResult("generate", rows=result.events, outputs={
            "users": result.users, "events": result.events, "converters": result.converters})

    def featurize(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.features import build_training_set, check_leakage, explore

        eda = explore(self.platform, EVENTS)
        built = build_training_set(self.platform, EVENTS, TRAINING_SET, [self.cutoff],
                                   horizon=f"{HORIZON_DAYS}d", replace=True)
        leakage = check_leakage(self.platform, TRAINING_SET)
        return StepResult("featurize", rows=built.rows, outputs={
            "positives": built.positives, "leakage_findings": len(leakage.findings),
            "cutoff": self.cutoff.isoformat(), "files": [str(f) for f in eda.files]})

    def export(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.flows.export import export_dataset

        # zstd rather than Parquet's usual gzip: as small, and several times faster to write
        # (gzip took most of the step for a million users' training rows).
        result = export_dataset(self.platform, TRAINING_SET, f"{self.landing}/cmle/egress",
                                run_id=f"loop-{self.options.seed}-{self.options.users}",
                                compression="zstd")
        folder = result.url  # {landing}/cmle/egress/{dataset_id}/exportTime=...
        return StepResult("export", rows=result.rows, outputs={
            "bytes": result.bytes, "folder": folder,
            "files": [f"{folder}/{f.name}" for f in result.files]})

    def train(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.ml import train

        # As the reference: train from the files in the landing zone, not the lake.
        folder = done["export"].outputs["folder"]
        result = train(self.platform, folder, model=self.options.model,
                       trials=self.options.trials, patience=self.options.patience,
                       baseline=False, max_rows=self.options.max_training_rows, name=MODEL)
        m = result.metrics
        return StepResult("train", rows=done["featurize"].rows, outputs={
            "version": result.version, "run_id": result.run_id,
            "roc_auc": m.get("roc_auc"), "cv_roc_auc_mean": m.get("cv_roc_auc_mean"),
            "latent_auc": m.get("truth_latent_roc_auc"),
            "clairvoyant_auc": m.get("truth_clairvoyant_roc_auc"), "ece": m.get("ece")})

    def score(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.scoring import score

        # CSV delivery: the scores land in the ingress path and the source dataflow ingests
        # them into the profile-enabled score dataset, as the reference does.
        result = score(self.platform, f"{MODEL}@champion", as_of=self.window_end,
                       deliver="csv", ingress_url=self.landing)
        return StepResult("score", rows=result.rows, outputs={
            "files": [result.file] if result.file else [], "seconds": result.seconds})

    def ingest_scores(self, done: dict[str, StepResult]) -> StepResult:
        from distillery import profiles

        # The score records the source dataflow ingested become profile fragments; the
        # unified profiles are kept fresh after every later batch.
        profiles.attach(self.platform)
        profiles.refresh(self.platform)
        tenant = self.platform.tenant
        rows = self.platform.query("SELECT count(*) FROM unified_profiles "
                                   f"WHERE _{tenant}.propensity IS NOT NULL").scalar()
        return StepResult("ingest_scores", rows=int(rows or 0),
                          outputs={"profiles_with_scores": int(rows or 0)})

    def audiences(self, done: dict[str, StepResult]) -> StepResult:
        from distillery import profiles
        from distillery.audiences import Audiences

        audiences = Audiences(self.platform)
        sizes = {}
        # Each evaluation writes a membership batch; the unified profiles, which list
        # memberships, are refreshed once for both rather than after each.
        with profiles.deferred(self.platform):
            for name, rule in ((REFERENCE_AUDIENCE, REFERENCE_RULE),
                               (TOP_DECILE_AUDIENCE, TOP_DECILE_RULE)):
                if audiences.store.find(name) is None:
                    audiences.create(name, rule, ttl_days=60,
                                     description="created by distillery run")
                sizes[name] = audiences.evaluate(name).qualified
        return StepResult("audiences", rows=sum(sizes.values()), outputs={"sizes": sizes})

    def activate(self, done: dict[str, StepResult]) -> StepResult:
        from distillery.destinations import Destinations, activate

        destinations = Destinations(self.platform)
        destinations.create(DESTINATION, "files", replace=True, url=self.activation_url,
                            format="csv")
        files: list[str] = []
        sent = 0
        for name in (REFERENCE_AUDIENCE, TOP_DECILE_AUDIENCE):
            run = activate(self.platform, name, to=DESTINATION)
            sent += run.sent
            delivery = run.details.get("delivery", {})
            files += [f"{delivery['url']}/{f['name']}" for f in delivery.get("files", [])]
            if "manifest" in delivery:
                files.append(f"{delivery['url']}/{delivery['manifest']}")
        return StepResult("activate", rows=sent, outputs={"files": files})

