"""Data-usage labels: on datasets and fields in the catalog, their reach over field paths,
propagation to derived datasets, and the per-purpose check that names label and field."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.lake import labels, xdm
from distillery.lake.labels import GovernanceError, LabelError


@pytest.fixture
def profiles(platform: Platform):
    return platform.create_dataset("profiles", xdm.profile_schema(), labels=["PROFILE"])


@pytest.fixture
def scores(platform: Platform):
    return platform.create_dataset("scores", xdm.propensity_schema())


def test_field_and_dataset_labels_are_stored_in_the_catalog(platform, profiles) -> None:
    labels.add_labels(platform, "profiles", ["c2"], field="personalEmail.address")
    labels.add_labels(platform.catalog, profiles, ["C9"])
    assert labels.field_labels(platform, "profiles") == {"personalEmail.address":
                                                          frozenset({"C2"})}
    assert labels.dataset_labels(platform, "profiles") == {"C9"}
    # Non-usage table labels (PROFILE) stay where they were.
    assert platform.dataset("profiles").labels == ["PROFILE", "C9"]
    labels.remove_labels(platform, "profiles", ["C9"])
    labels.remove_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    assert labels.labels_for(platform, "profiles") == {}
    assert platform.dataset("profiles").labels == ["PROFILE"]


def test_a_label_covers_the_field_what_is_under_it_and_what_contains_it(platform,
                                                                         profiles) -> None:
    labels.add_labels(platform, "profiles", ["C4"], field="person.name")
    found = labels.labels_for(platform, "profiles",
                              ["person.name.lastName", "person", "person.gender",
                               "loyalty.tier"])
    assert found == {"person.name.lastName": {"C4"}, "person": {"C4"},
                     "person.gender": frozenset(), "loyalty.tier": frozenset()}
    labels.add_labels(platform, "profiles", ["C12"])
    assert labels.labels_for(platform, "profiles", ["loyalty.tier"]) == {
        "loyalty.tier": {"C12"}}
    assert labels.labels_for(platform, "profiles") == {"*": {"C12"}, "person.name": {"C4"}}


def test_unknown_labels_fields_and_purposes_are_named(platform, profiles) -> None:
    with pytest.raises(LabelError, match="unknown data-usage label 'C99'.*C2 \\(no export"):
        labels.add_labels(platform, "profiles", ["C99"])
    with pytest.raises(LabelError, match="field 'person.nmae' is not a field of dataset "
                                         "'profiles'"):
        labels.add_labels(platform, "profiles", ["C2"], field="person.nmae")
    with pytest.raises(LabelError, match="field 'nope'"):
        labels.labels_for(platform, "profiles", ["nope"])
    with pytest.raises(LabelError, match="unknown purpose 'selling'"):
        labels.check("selling", {})
    assert labels.field_labels(platform, "profiles") == {}


def test_check_refuses_naming_label_field_and_purpose(platform, profiles) -> None:
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    found = labels.labels_for(platform, "profiles", ["personalEmail.address", "person"])
    labels.check(["export", "activation:targeting"], found, dataset="profiles")  # allowed
    with pytest.raises(GovernanceError) as info:
        labels.check("activation:third-party", found, dataset="profiles")
    err = info.value
    assert (err.label, err.field, err.dataset, err.purpose) == (
        "C2", "personalEmail.address", "profiles", "activation:third-party")
    assert "label C2 (no export to third parties) on field 'personalEmail.address'" in str(err)


def test_c9_data_is_refused_for_training_only(platform, scores) -> None:
    labels.add_labels(platform, "scores", ["C9"], field="_tenant.propensity")
    found = labels.labels_for(platform, "scores", ["_tenant.propensity", "_tenant.userid"])
    with pytest.raises(GovernanceError, match="C9 \\(not for data science\\).*forbids training"):
        labels.check("training", found)
    labels.check(["export", "activation:third-party"], found)


def test_c12_forbids_every_export_and_a_dataset_label_names_every_field(platform,
                                                                         profiles) -> None:
    labels.add_labels(platform, "profiles", ["C12"])
    with pytest.raises(GovernanceError, match="label C12 .* on every field of dataset "
                                              "'profiles' forbids export"):
        labels.check("export", labels.labels_for(platform, "profiles"), dataset="profiles")


def test_propagation_without_lineage_labels_the_whole_target(platform, profiles,
                                                              scores) -> None:
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    labels.add_labels(platform, "scores", ["C5"])
    platform.create_dataset("derived", xdm.propensity_schema())
    added = labels.propagate(platform.catalog, ["profiles", "scores"], "derived")
    assert added == {"*": {"C2", "C5"}}
    assert labels.dataset_labels(platform, "derived") == {"C2", "C5"}


def test_propagation_with_lineage_labels_fields(platform, profiles, scores) -> None:
    target = platform.create_dataset("derived", xdm.propensity_schema())
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail")
    labels.add_labels(platform, "scores", ["C9"], field="_tenant.propensity")
    added = labels.propagate(
        platform, ["profiles", "scores"], target,
        {"_tenant.userid": [("profiles", "personalEmail.address")],
         "_tenant.propensity": [("scores", "_tenant.propensity")],
         "*": [("scores", "_tenant.userid")]})
    assert added == {"_tenant.userid": {"C2"}, "_tenant.propensity": {"C9"}}
    assert labels.labels_for(platform, target) == {"_tenant.userid": {"C2"},
                                                   "_tenant.propensity": {"C9"}}
    with platform.catalog.connect() as con:
        row = con.execute("SELECT origin FROM field_labels WHERE path = '_tenant.userid'")\
            .fetchone()
    assert row[0] == "propagated from profiles, scores"


def test_lineage_must_name_known_sources(platform, profiles, scores) -> None:
    target = platform.create_dataset("derived", xdm.propensity_schema())
    with pytest.raises(LabelError, match="lineage names dataset 'events'"):
        labels.propagate(platform, ["profiles"], target,
                         {"_tenant.userid": [("events", "_tenant.userid")]})
    with pytest.raises(LabelError, match="must name its dataset"):
        labels.propagate(platform, ["profiles", "scores"], target,
                         {"_tenant.userid": ["_tenant.userid"]})
    labels.add_labels(platform, "scores", ["C4"], field="_tenant.userid")
    assert labels.propagate(platform, ["scores"], target,
                            {"_tenant.userid": ["_tenant.userid"]}) == {
        "_tenant.userid": {"C4"}}


def test_with_lineage_dataset_labels_still_cover_the_whole_target(platform, profiles,
                                                                  scores) -> None:
    labels.add_labels(platform, "scores", ["C9"])
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    target = platform.create_dataset("derived", xdm.propensity_schema())
    added = labels.propagate(platform, ["profiles", "scores"], target,
                             {"_tenant.userid": [("profiles", "personalEmail.address")],
                              "_tenant.propensity": [("scores", "_tenant.propensity")]})
    # C9 covers every field of scores, so all that is derived from it: the whole target.
    assert added == {"*": {"C9"}, "_tenant.userid": {"C2"}}
    assert labels.labels_for(platform, target) == {"*": {"C9"}, "_tenant.userid": {"C2"}}


def test_a_lineage_path_outside_the_target_adds_nothing(platform, profiles) -> None:
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    labels.add_labels(platform, "profiles", ["C4"], field="person.name")
    target = platform.create_dataset("derived", xdm.propensity_schema())
    with pytest.raises(LabelError, match="field 'nope' is not a field of dataset 'derived'"):
        labels.propagate(platform, ["profiles"], target,
                         {"_tenant.userid": ["personalEmail.address"], "nope": ["person.name"]})
    with pytest.raises(LabelError, match=r"field 'person\.nmae' is not a field of dataset "
                                         r"'profiles'"):
        labels.propagate(platform, ["profiles"], target, {"_tenant.userid": ["person.nmae"]})
    assert labels.labels_for(platform, target) == {}
    assert not labels.has_labels(platform, target)
    assert labels.has_labels(platform, "profiles")
