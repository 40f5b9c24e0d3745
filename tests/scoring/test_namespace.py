"""Scores carry the identity namespace of the events the model was trained on: a model trained
on bring-your-own events keyed by Email scores Email identities, and the profile refresh merges
those scores onto the people the events belong to."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from distillery import Platform, profiles
from distillery.lake import byo
from distillery.scoring import ScoringError, score, score_dataset, score_schema

START = datetime(2024, 12, 1, tzinfo=UTC)
CUTOFFS = [datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)]
AS_OF = datetime(2025, 2, 20, tzinfo=UTC)


def shop_events(path: Path, people: int = 400, seed: int = 3) -> None:
    """A CSV of shop events keyed by email: browsing people buy more often."""
    rng = np.random.default_rng(seed)
    span = (AS_OF - START).total_seconds()
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "when", "what", "amount"])
        for n in range(people):
            interest = rng.random()
            for _ in range(1 + rng.poisson(12 * interest)):
                when = START + timedelta(seconds=float(rng.random() * span))
                kind = "purchase" if rng.random() < 0.15 * interest else \
                    str(rng.choice(["view", "cart"], p=[0.8, 0.2]))
                amount = f"{rng.integers(5, 200)}.5" if kind == "purchase" else ""
                out.writerow([f"shopper{n}@example.com", when.isoformat(), kind, amount])


@pytest.mark.slow
def test_a_model_trained_on_email_keyed_events_scores_email_identities(
        platform: Platform, tmp_path: Path) -> None:
    from distillery.features import build_training_set
    from distillery.ml import train

    path = tmp_path / "shop.csv"
    shop_events(path)
    plan = byo.plan(path, "shop", "event", identity={"email": "Email"}, timestamp="when",
                    event_type="what")
    platform.create_dataset("shop", plan.schema, profile_enabled=True)
    platform.ingest("shop", path, mapping=plan.mapping)
    built = build_training_set(platform, "shop", "shop_training", CUTOFFS, horizon="14d",
                               conversion_types=["purchase"], population="all")
    assert built.definition.identity_namespace == "Email"
    train(platform, "shop_training", trials=1, folds=2, baseline=False, plots=False,
          shap=False, ground_truth=False, params={"n_estimators": 20}, calibration="platt")

    result = score(platform, "propensity@champion", as_of=AS_OF, batch_rows=1000)
    scores = platform.dataset("propensity_scores")
    primary = scores.schema.primary_identity
    assert (primary.path, primary.namespace) == ("_tenant.userid", "Email")
    rows = platform.query("SELECT _tenant.userid, _tenant.propensity FROM propensity_scores") \
        .rows()
    people = {r[0] for r in platform.query("SELECT DISTINCT email FROM shop").rows()}
    assert result.rows == len(rows) == len(people) and {r[0] for r in rows} == people

    profiles.refresh(platform)
    merged = dict(platform.query(
        "SELECT person_id, _tenant.propensity FROM unified_profiles").rows())
    assert merged == {f"Email:{who}": p for who, p in rows}

    # Through the ingress CSV, the pick-up knows these people by their Email identities.
    again = score(platform, "propensity@champion", as_of=AS_OF, deliver="csv",
                  ingress_url=str(tmp_path / "landing"))
    batch = platform.catalog.batch(again.run.batch_id)
    assert (batch.state, batch.output_records, batch.failed_records) == \
        ("success", len(people), 0)


def test_scores_never_mix_namespaces_in_one_dataset(platform: Platform, tmp_path: Path) -> None:
    from distillery.features import FeatureDefinition
    from distillery.scoring import ScoringModel

    path = tmp_path / "shop.csv"
    shop_events(path, people=30)
    plan = byo.plan(path, "shop", "event", identity={"email": "Email"}, timestamp="when",
                    event_type="what")
    platform.create_dataset("shop", plan.schema, profile_enabled=True)
    platform.ingest("shop", path, mapping=plan.mapping)
    record = platform.dataset("shop")
    definition = FeatureDefinition(events="shop", events_id=record.id, identity="email",
                                   identity_namespace="Email", event_types=("view",),
                                   conversion={"event_types": ("purchase",)})

    class Constant:
        features = definition.feature_names()

        def probability(self, frame: object) -> np.ndarray:
            return np.full(frame.num_rows, 0.5)

    model = ScoringModel.of(Constant(), name="propensity", version="1",
                            definition=definition.model_dump(mode="json"))
    score_dataset(platform, "ecid_scores", score_schema(platform.tenant))
    with pytest.raises(ScoringError, match=r"'ecid_scores' holds ECID identities.*by Email"):
        score(platform, model, as_of=AS_OF, dataset="ecid_scores")
    assert platform.query("SELECT count(*) FROM ecid_scores").scalar() == 0

    unkeyed = ScoringModel.of(Constant(), name="propensity", version="2", definition={
        **definition.model_dump(mode="json"), "identity_namespace": None})
    with pytest.raises(ScoringError, match=r"keyed by 'email'.*not\s+mark"):
        score(platform, unkeyed, as_of=AS_OF)
    assert platform.lake.catalog.find_dataset("propensity_scores") is None
