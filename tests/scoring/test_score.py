"""`score`: every person scored with the model's own features, ranked over the population,
written back by batch or through the ingress CSV, and re-scoring that never duplicates."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillery import Platform, profiles
from distillery.features import FeatureDefinition, compute_features
from distillery.scoring import ModelRef, ScoringError, ScoringModel, list_runs, score
from distillery.scoring.ranks import check_people
from tests.scoring.conftest import AS_OF, World, copy_of


def scores_of(platform: Platform) -> dict[str, dict]:
    rows = platform.query("SELECT _tenant.* FROM propensity_scores").arrow().to_pylist()
    return {r["userid"]: r for r in rows}


def test_scores_every_person_with_the_models_own_features(world: World,
                                                          world_platform: Platform) -> None:
    model = world.model()
    result = score(world_platform, model, as_of=AS_OF)
    features = compute_features(world_platform, FeatureDefinition.model_validate(
        world.definition), AS_OF).read_all()
    expected = dict(zip(features.column("userid").to_pylist(),
                        world.booster.probability(features).tolist(), strict=True))
    got = scores_of(world_platform)
    assert result.rows == len(expected) == len(got)
    assert set(got) == set(expected)
    assert all(got[p]["propensity"] == pytest.approx(expected[p], abs=1e-12) for p in expected)
    first = next(iter(got.values()))
    assert (first["modelName"], first["modelVersion"]) == ("propensity", "1")
    assert first["scoredAt"] == datetime.fromisoformat(result.run.scored_at)


def test_deciles_and_percentiles_rank_the_whole_population(world: World,
                                                           world_platform: Platform) -> None:
    score(world_platform, world.model(), as_of=AS_OF, batch_rows=1000)
    rows = list(scores_of(world_platform).values())
    p = np.array([r["propensity"] for r in rows])
    pct = np.array([r["percentile"] for r in rows])
    dec = np.array([r["decile"] for r in rows])
    # cume_dist: the share of people scored at or below each propensity.
    share = np.array([(p <= v).mean() for v in p])
    assert (pct == np.ceil(100 * share)).all() and (dec == np.ceil(10 * share)).all()
    assert dec.min() >= 1 and dec.max() == 10 and pct.max() == 100
    same = p == p[np.argmax(np.bincount(pct))]
    assert len(set(pct[same])) == 1  # equal propensities share a rank


def test_small_batches_give_the_same_scores_as_one_batch(world: World, tmp_path: Path,
                                                         world_platform: Platform) -> None:
    run = score(world_platform, world.model(), as_of=AS_OF, batch_rows=1000).run
    small = {k: (v["propensity"], v["decile"]) for k, v in scores_of(world_platform).items()}
    assert run.rows > 2000  # several batches went through the stream
    with copy_of(world, tmp_path / "other") as other:
        score(other, world.model(), as_of=AS_OF, batch_rows=100_000)
        large = {k: (v["propensity"], v["decile"]) for k, v in scores_of(other).items()}
    assert small == large


def test_a_model_whose_features_are_missing_writes_nothing(world: World,
                                                           world_platform: Platform) -> None:
    wrong = ScoringModel.of(world.booster, name="propensity", version="9",
                            features=[*world.booster.features, "count_all__not_a_feature"],
                            definition=world.definition)
    with pytest.raises(ScoringError, match="count_all__not_a_feature"):
        score(world_platform, wrong, as_of=AS_OF)
    assert world_platform.lake.catalog.find_dataset("propensity_scores") is None
    assert list_runs(world_platform.catalog) == []


def test_a_model_that_returns_no_probabilities_writes_nothing(world: World,
                                                              world_platform: Platform) -> None:
    class Broken:
        features = world.booster.features

        def probability(self, frame: pa.Table) -> np.ndarray:
            out = world.booster.probability(frame)
            out[0] = np.nan
            return out

    model = ScoringModel.of(Broken(), name="propensity", version="2",
                            definition=world.definition)
    with pytest.raises(ScoringError, match="not probabilities"):
        score(world_platform, model, as_of=AS_OF)
    assert world_platform.lake.catalog.find_dataset("propensity_scores") is None


def test_duplicate_people_fail_the_run(world_platform: Platform, tmp_path: Path) -> None:
    staged = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"person": ["a", "b", "a"], "propensity": [0.1, 0.2, 0.3]}), staged)
    with pytest.raises(ScoringError, match=r"1 duplicate person row\(s\), e.g. 'a'"):
        check_people(world_platform, staged, "propensity")


def test_rescoring_replaces_each_persons_score_and_never_duplicates(
        world: World, world_platform: Platform) -> None:
    first = score(world_platform, world.model("1"), as_of=AS_OF)
    profiles.refresh(world_platform)
    second = score(world_platform, world.model("2"), as_of=AS_OF)
    profiles.refresh(world_platform)
    counts = world_platform.query(
        "SELECT count(*), count(DISTINCT person_id), count(_tenant.propensity),"
        " min(_tenant.modelVersion), max(_tenant.modelVersion),"
        " min(_tenant.scoredAt) FROM unified_profiles").rows()[0]
    persons = world_platform.query("SELECT count(DISTINCT _tenant.userid) FROM profiles").scalar()
    assert counts[0] == counts[1] == persons
    assert counts[2] == second.rows and counts[3:5] == ("2", "2")
    assert counts[5] == datetime.fromisoformat(second.run.scored_at)
    history = world_platform.query("SELECT _tenant.modelVersion, count(*) FROM "
                                   "propensity_scores GROUP BY 1 ORDER BY 1").rows()
    assert history == [("1", first.rows), ("2", second.rows)]


def test_csv_and_batch_delivery_give_the_same_profile_attributes(
        world: World, world_platform: Platform, tmp_path: Path) -> None:
    query = ("SELECT person_id, _tenant.propensity, _tenant.decile, _tenant.percentile,"
             " _tenant.modelName, _tenant.modelVersion, _tenant.scoredAt"
             " FROM unified_profiles ORDER BY person_id")
    by_batch = score(world_platform, world.model(), as_of=AS_OF)
    profiles.refresh(world_platform)
    a = world_platform.query(query).rows()
    with copy_of(world, tmp_path / "csv-home") as via_csv:
        by_csv = score(via_csv, world.model(), as_of=AS_OF, deliver="csv",
                       ingress_url=str(tmp_path / "landing"))
        profiles.refresh(via_csv)
        b = via_csv.query(query).rows()
    assert len(a) > 0 and [r[:6] for r in a] == [r[:6] for r in b]
    assert {r[6] for r in a if r[6]} == {datetime.fromisoformat(by_batch.run.scored_at)}
    assert {r[6] for r in b if r[6]} == {datetime.fromisoformat(by_csv.run.scored_at)}
    assert by_csv.file is not None and re.search(
        rf"/cmle/ingress/{by_csv.run.dataset_id}/exportTime=\d{{14}}/part-00000\.csv$",
        by_csv.file)
    header = Path(by_csv.file).read_text().splitlines()[0].replace('"', "")
    assert header.startswith("userId,prediction,decile,percentile")


def test_model_references_parse() -> None:
    assert ModelRef.parse("propensity@champion") == ModelRef("propensity", "champion")
    assert ModelRef.parse("propensity/3") == ModelRef("propensity", "3")
    assert ModelRef.parse("churn") == ModelRef("churn", None)
    assert str(ModelRef.parse("p:7")) == "p/7"
    with pytest.raises(ScoringError, match="NAME@ALIAS"):
        ModelRef.parse("bad model@")
