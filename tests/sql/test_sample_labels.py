"""TABLESAMPLE samples hold their table's rows, so they carry its data-usage labels: on the
dataset and on the same fields; the labels of the fields a FILTERCONTEXT reads go on the whole
sample; and a use the labels forbid is refused on the sample too."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.lake import labels
from distillery.lake.labels import GovernanceError
from distillery.ml import train


@pytest.fixture
def people(platform: Platform) -> Platform:
    platform.query("CREATE TABLE people AS SELECT x AS visits, CAST(x % 3 AS STRING) AS plan, "
                   "named_struct('a', x % 7, 'b', 'v' || CAST(x AS STRING)) AS s, "
                   "x % 2 AS label FROM range(400) t(x)")
    labels.add_labels(platform, "people", ["C2"])
    labels.add_labels(platform, "people", ["C9"], field="plan")
    labels.add_labels(platform, "people", ["C3"], field="s.b")
    return platform


def test_a_sample_carries_its_tables_labels(people: Platform) -> None:
    people.query("ANALYZE TABLE people TABLESAMPLE SAMPLERATE 0.5 REPEATABLE (3)")
    assert labels.dataset_labels(people, "people_sample_1") == {"C2"}
    # The same fields, no more: the label on s.b does not spread to the struct or to s.a.
    assert labels.field_labels(people, "people_sample_1") == {
        "plan": frozenset({"C9"}), "s.b": frozenset({"C3"})}
    assert labels.labels_for(people, "people_sample_1") == labels.labels_for(people, "people")


def test_the_fields_a_filter_reads_label_the_whole_sample(people: Platform) -> None:
    # Which rows are in the sample depends on s.b and plan, so every field holds a trace of them.
    people.query("ANALYZE TABLE people TABLESAMPLE FILTERCONTEXT (people.s.b LIKE 'v1%' AND "
                 "plan = '1') SAMPLERATE 1")
    assert labels.dataset_labels(people, "people_sample_1") == {"C2", "C3", "C9"}
    assert labels.field_labels(people, "people_sample_1") == {
        "plan": frozenset({"C9"}), "s.b": frozenset({"C3"})}
    # A filter on an unlabelled field adds nothing.
    people.query("ANALYZE TABLE people TABLESAMPLE FILTERCONTEXT (visits > 10) SAMPLERATE 1")
    assert labels.dataset_labels(people, "people_sample_2") == {"C2"}


def test_a_filtered_sample_of_an_unlabelled_table_has_no_labels(platform: Platform) -> None:
    platform.query("CREATE TABLE big AS SELECT x FROM range(100) t(x)")
    platform.query("ANALYZE TABLE big TABLESAMPLE FILTERCONTEXT (x < 10) SAMPLERATE 1")
    assert not labels.has_labels(platform, "big_sample_1")


def test_training_on_a_sample_refuses_a_c9_feature(people: Platform) -> None:
    people.query("ANALYZE TABLE people TABLESAMPLE SAMPLERATE 0.5 REPEATABLE (3)")
    with pytest.raises(GovernanceError, match="C9") as refused:
        train(people, "people_sample_1", label="label", exclude=["s"], trials=1, folds=2,
              baseline=False, plots=False, shap=False, ground_truth=False)
    assert (refused.value.field, refused.value.dataset) == ("plan", "people_sample_1")
