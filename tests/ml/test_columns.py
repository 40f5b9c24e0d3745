"""Roles of a training set's columns and reading the label."""

from __future__ import annotations

import pyarrow as pa
import pytest

from distillery.ml.columns import binary_label, resolve
from distillery.ml.errors import LabelError, TrainingError
from tests.ml.conftest import make_set


def test_roles_are_inferred_from_names_and_types() -> None:
    cols = resolve(make_set(200))
    assert (cols.label, cols.person, cols.cutoff) == ("label", "userid", "cutoff")
    assert cols.features == ["visits", "spend", "plan", "opted_in"]
    assert cols.kinds == {"visits": "numeric", "spend": "numeric", "plan": "categorical",
                          "opted_in": "boolean"}


def test_feature_definition_names_the_label_and_person() -> None:
    table = make_set(200).rename_columns(["who", "cutoff", "visits", "spend", "plan",
                                          "opted_in", "converted_14d"])
    cols = resolve(table, definition={"label": "converted_14d", "identity_column": "who"})
    assert (cols.label, cols.person) == ("converted_14d", "who")
    assert "who" not in cols.features


def test_timestamps_identifiers_and_empty_columns_are_left_out_with_a_reason() -> None:
    rows = 300
    table = make_set(rows).append_column("order_id", pa.array([f"o{i}" for i in range(rows)])) \
        .append_column("nothing", pa.nulls(rows, pa.float64())) \
        .append_column("seen_at", pa.array([None] * rows, pa.timestamp("us")))
    cols = resolve(table, exclude=["spend"])
    assert cols.features == ["visits", "plan", "opted_in"]
    assert set(cols.excluded) == {"order_id", "nothing", "seen_at", "spend"}
    assert "identifier" in cols.excluded["order_id"]


def test_declared_kind_overrides_the_type() -> None:
    cols = resolve(make_set(200), kinds={"visits": "categorical"})
    assert cols.kinds["visits"] == "categorical"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label": "nope"}, "label column 'nope' is not in"),
    ({"features": ["visits", "ghost"]}, "column 'ghost' is not in"),
    ({"features": ["visits", "label"]}, "cannot be a feature: it is the label"),
    ({"kinds": {"visits": "text"}}, "feature kind 'text' is unknown"),
])
def test_bad_column_options_name_the_column(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        resolve(make_set(200), **kwargs)


def test_a_set_without_a_label_says_to_pass_one() -> None:
    with pytest.raises(LabelError, match="no label column: pass --label"):
        resolve(make_set(50).drop_columns(["label"]))


@pytest.mark.parametrize(("values", "expected", "how"), [
    ([True, False, None, True], [1, 0, 1], "boolean"),
    ([0, 1, 1, None], [0, 1, 1], "0/1"),
    ([0, 2, 1, 0], [0, 1, 1, 0], "count (positive when above 0)"),
    (["yes", "No", "YES"], [1, 0, 1], "true/false text"),
])
def test_labels_of_several_kinds_become_zero_one(values: list, expected: list,
                                                 how: str) -> None:
    y, valid, read_as = binary_label(pa.chunked_array([pa.array(values)]), "label")
    assert y.tolist() == expected and read_as == how
    assert valid.tolist() == [v is not None for v in values]


@pytest.mark.parametrize(("values", "message"), [
    ([0.5, 1.0, 0.0], "holds values such as 0, 0.5, 1"),
    (["gold", "silver"], "holds text values"),
    ([0, 0, 0], "has only negative rows"),
])
def test_unusable_labels_are_refused_with_the_reason(values: list, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        binary_label(pa.chunked_array([pa.array(values)]), "label")
