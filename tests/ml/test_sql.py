"""SQL models in the Query Service, on the same training code and registry."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.errors import AlreadyExistsError
from distillery.ml import load_model, models
from distillery.ml.errors import LeakageError, ModelNotFoundError, ModelOptionError

SELECT = "SELECT visits, spend, plan, opted_in, label FROM ts"
FAST = "FOLDS=3, PLOTS=false"


def test_create_evaluate_predict_show_drop(ml_platform: Platform, training_set: str) -> None:
    q = ml_platform.query
    created = q(f"CREATE MODEL churn OPTIONS(MODEL_TYPE='logistic_reg', LABEL='label', "
                f"MAX_ITER=300, {FAST}) AS {SELECT}").arrow().to_pylist()[0]
    assert (created["model_name"], created["model_version"]) == ("churn", 1)
    card = load_model(ml_platform, "churn").card
    assert card["model"]["family"] == "logreg" and card["model"]["params"]["max_iter"] == 300
    assert card["training_set"]["kind"] == "query" and "FROM ts" in card["training_set"]["name"]

    evaluated = q(f"SELECT * FROM model_evaluate(churn, 1, {SELECT})").arrow().to_pylist()[0]
    assert {"auc_roc", "accuracy", "precision", "recall"} <= set(evaluated)
    assert evaluated["auc_roc"] > 0.7 and evaluated["rows"] == 3000

    predicted = q("SELECT * FROM model_predict(churn, 'champion', SELECT visits, spend, plan, "
                  "opted_in FROM ts LIMIT 5)").arrow()
    assert predicted.column_names == ["visits", "spend", "plan", "opted_in", "prediction",
                                      "probability"]
    assert all(0 <= p <= 1 for p in predicted["probability"].to_pylist())

    shown = q("SHOW MODELS").arrow().to_pylist()
    assert [(r["model_name"], r["model_version"], r["aliases"]) for r in shown] == [
        ("churn", 1, "champion")]
    assert q("DROP MODEL churn").status == "DROP MODEL"
    assert models(ml_platform) == []
    assert q("DROP MODEL IF EXISTS churn").status == "DROP MODEL"
    with pytest.raises(ModelNotFoundError, match="'churn' is not registered"):
        q("DROP MODEL churn")


@pytest.mark.slow
def test_update_makes_a_version_and_or_replace_retires_the_latest(ml_platform: Platform,
                                                                  training_set: str) -> None:
    q = ml_platform.query
    q(f"CREATE MODEL m OPTIONS(type='gradient_boosted_tree_classifier', MAX_DEPTH=3, {FAST}) "
      f"AS {SELECT}")
    assert q(f"CREATE MODEL IF NOT EXISTS m OPTIONS({FAST}) AS {SELECT}").status == \
        "CREATE MODEL"
    with pytest.raises(AlreadyExistsError, match="model 'm' exists already"):
        q(f"CREATE MODEL m OPTIONS({FAST}) AS {SELECT}")
    updated = q(f"UPDATE MODEL m OPTIONS(STEP_SIZE=0.1) AS {SELECT}").arrow().to_pylist()[0]
    assert updated["model_version"] == 2
    v2 = load_model(ml_platform, "m", 2).card
    # UPDATE starts from the options the model was created with.
    assert v2["model"]["params"]["max_depth"] == 3
    assert v2["model"]["params"]["learning_rate"] == 0.1
    q(f"CREATE OR REPLACE MODEL m OPTIONS(type='random_forest_classifier', NUM_TREES=20, "
      f"{FAST}) AS {SELECT}")
    assert [v["version"] for v in models(ml_platform)] == [3, 1]
    assert load_model(ml_platform, "m").card["model"]["family"] == "random_forest"
    q("DROP MODEL m 1")
    assert [v["version"] for v in models(ml_platform)] == [3]


def test_transform_vector_assembler_chooses_the_features(ml_platform: Platform,
                                                         training_set: str) -> None:
    ml_platform.query(
        "CREATE MODEL t TRANSFORM(numeric_imputer(visits, 'mean') visits_i, "
        "string_indexer(plan) plan_i, vector_assembler(array(visits_i, plan_i)) features) "
        f"OPTIONS(MODEL_TYPE='logistic_reg', {FAST}) AS SELECT * FROM ts")
    card = load_model(ml_platform, "t").card
    assert card["features"] == ["visits", "plan"]
    assert "vector_assembler" in card["sql_transform"]
    assert any(n.startswith("TRANSFORM: the features are") for n in card["notes"])


@pytest.mark.parametrize(("sql", "error", "message"), [
    (f"CREATE MODEL x OPTIONS(MODEL_TYPE='kmeans') AS {SELECT}", ModelOptionError,
     "MODEL_TYPE 'kmeans' is not supported"),
    (f"CREATE MODEL x OPTIONS(COLOUR='red') AS {SELECT}", ModelOptionError,
     "option 'COLOUR' is unknown"),
    (f"CREATE MODEL x OPTIONS(MODEL_TYPE='logistic_reg', NUM_TREES=3) AS {SELECT}",
     ModelOptionError, "NUM_TREES does not apply to model type logreg"),
    ("CREATE MODEL x OPTIONS(LABEL='churned') AS SELECT visits, label > 0 AS churned, "
     "label > 0 AS was_churned FROM ts", LeakageError,
     "'was_churned' is the same expression as the label 'churned'"),
    ("CREATE MODEL x TRANSFORM(word2vec(plan) w, vector_assembler(array(w)) f) AS "
     f"{SELECT}", ModelOptionError, "TRANSFORM function\\(s\\) word2vec"),
    ("SELECT * FROM model_predict(nothing, 1, SELECT 1 AS a)", ModelNotFoundError,
     "'nothing' is not registered"),
])
def test_bad_statements_name_what_is_wrong_and_register_nothing(
        ml_platform: Platform, training_set: str, sql: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ml_platform.query(sql)
    assert models(ml_platform) == []


def test_model_evaluate_needs_the_label_column(ml_platform: Platform, training_set: str) -> None:
    ml_platform.query(f"CREATE MODEL e OPTIONS(MODEL_TYPE='logistic_reg', {FAST}) AS {SELECT}")
    with pytest.raises(ModelOptionError, match="no label column 'label'"):
        ml_platform.query("SELECT * FROM model_evaluate(e, 1, SELECT visits, spend FROM ts)")
