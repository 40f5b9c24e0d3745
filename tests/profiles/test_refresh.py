"""Unified profiles over real datasets: the identity graph from identityMap and descriptors,
merge policies, incremental and full refreshes, the commit hook, memberships, one row per
person."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillery import Platform, profiles
from distillery.lake import xdm
from distillery.lake.schema import Field, FieldGroup, Schema
from distillery.profiles.errors import MergePolicyError, ProfileError
from distillery.profiles.rules import GraphRules
from tests.conftest import ECID_A, ECID_B, event_rows
from tests.profiles.conftest import ECID_C, crm_row, profile_row


def unified(platform: Platform, *columns: str) -> dict[str, tuple]:
    cols = ", ".join(columns)
    rows = platform.query(f"SELECT person_id, {cols} FROM unified_profiles").rows()
    assert len(rows) == len({r[0] for r in rows}), "a person appears twice"
    return {r[0]: r[1:] for r in rows}


def graph(platform: Platform) -> dict[str, str | None]:
    rows = platform.query("SELECT namespace, id, person_id FROM identity_graph").rows()
    return {f"{ns}:{i}": p for ns, i, p in rows}


def test_identities_across_datasets_make_one_person(platform: Platform, profiles_ds,
                                                    crm_ds, events) -> None:
    platform.ingest(profiles_ds, [profile_row(ECID_A, emails=("ann@x.com",),
                                              person={"name": {"firstName": "Ann"}}),
                                  profile_row(ECID_B, person={"name": {"firstName": "Bob"}})])
    platform.ingest(crm_ds, [crm_row("C-1", email="ann@x.com", tier="gold", points=10.0)])
    platform.ingest(events, event_rows(2, ECID_C))
    result = profiles.refresh(platform)
    assert (result.mode, result.persons, result.identities) == ("full", 3, 5)
    g = graph(platform)
    assert g["ECID:" + ECID_A] == g["Email:ann@x.com"] == g["CRMID:C-1"] == "CRMID:C-1"
    got = unified(platform, "person.name.firstName", "loyalty.tier", "crm.points",
                  "identityMap['ECID'][0].id")
    assert got == {"CRMID:C-1": ("Ann", "gold", 10.0, ECID_A),
                   f"ECID:{ECID_B}": ("Bob", None, None, ECID_B),
                   f"ECID:{ECID_C}": (None, None, None, ECID_C)}  # events only: no attributes


def test_timestamp_ordered_latest_value_wins_and_nulls_never_erase(
        platform: Platform, profiles_ds) -> None:
    platform.ingest(profiles_ds, [profile_row(ECID_A, loyalty={"tier": "gold", "points": 5.0},
                                              person={"name": {"firstName": "Ann"}}),
                                  profile_row(ECID_B), profile_row(ECID_C)])
    profiles.refresh(platform)
    # Read the table without the Query Service: serving a query attaches the commit hook,
    # which would refresh on the next batch by itself.
    before = {r["person_id"]: (r["updatedAt"],) for r in pq.read_table(
        platform.lake.files(platform.dataset("unified_profiles"))).to_pylist()}
    platform.ingest(profiles_ds, [profile_row(ECID_A, loyalty={"tier": "platinum"})])
    result = profiles.refresh(platform)
    assert (result.mode, result.merged, result.persons) == ("incremental", 1, 3)
    after = unified(platform, "loyalty.tier", "loyalty.points", "person.name.firstName",
                    "updatedAt")
    assert after[f"ECID:{ECID_A}"][:3] == ("platinum", 5.0, "Ann")
    assert after[f"ECID:{ECID_A}"][3] > before[f"ECID:{ECID_A}"][0]
    for other in (ECID_B, ECID_C):  # rows of people not merged again are kept as they were
        assert after[f"ECID:{other}"][3] == before[f"ECID:{other}"][0]


def test_a_record_timestamp_orders_fragments_before_commit_time(platform: Platform) -> None:
    schema = Schema(title="Scores", cls="profile", field_groups=(
        xdm.PROFILE_CLASS, xdm.tenant_group("tenant", Field("score", "double"),
                                            Field("at", "timestamp"))),
        identities=(xdm.userid_identity("tenant"),))
    ds = platform.create_dataset("scores", schema, profile_enabled=True)
    newer = datetime(2025, 3, 2, tzinfo=UTC).isoformat()
    older = datetime(2025, 3, 1, tzinfo=UTC).isoformat()
    platform.ingest(ds, [{"_tenant": {"userid": ECID_A, "score": 0.9, "at": newer}}])
    platform.ingest(ds, [{"_tenant": {"userid": ECID_A, "score": 0.1, "at": older}}])
    profiles.refresh(platform)
    assert unified(platform, "_tenant.score") == {f"ECID:{ECID_A}": (0.9,)}


def test_dataset_precedence_ignores_time_and_unlisted_datasets(
        platform: Platform, profiles_ds, crm_ds) -> None:
    platform.ingest(crm_ds, [crm_row("C-1", ecid=ECID_A, tier="silver")])
    platform.ingest(profiles_ds, [profile_row(ECID_A, loyalty={"tier": "gold"})])
    profiles.refresh(platform)
    assert unified(platform, "loyalty.tier") == {"CRMID:C-1": ("gold",)}  # latest
    profiles.create_policy(platform, "crm-first", "dataSetPrecedence", ["crm", "profiles"],
                           default=True)
    result = profiles.refresh(platform)
    assert result.mode == "full" and "crm-first" in result.reason
    assert unified(platform, "loyalty.tier", "mergePolicy") == {"CRMID:C-1": ("silver",
                                                                              "crm-first")}
    profiles.create_policy(platform, "profiles-only", "dataSetPrecedence", ["profiles"],
                           default=True)
    profiles.refresh(platform)
    assert unified(platform, "crm.points", "loyalty.tier") == {"CRMID:C-1": (None, "gold")}


def test_merge_policies_are_stored_and_checked(platform: Platform, profiles_ds) -> None:
    names = [(p.name, p.kind, p.is_default) for p in profiles.list_policies(platform.catalog)]
    assert names == [("timestamp-ordered", "timestampOrdered", True)]
    with pytest.raises(MergePolicyError, match="needs the datasets"):
        profiles.create_policy(platform, "p1", "dataSetPrecedence")
    with pytest.raises(MergePolicyError, match="'nope', which does not exist"):
        profiles.create_policy(platform, "p2", "dataSetPrecedence", ["nope"])
    with pytest.raises(MergePolicyError, match="kind 'latest' is unknown"):
        profiles.create_policy(platform, "p3", "latest")
    plain = platform.create_dataset("plain", xdm.profile_schema())
    with pytest.raises(MergePolicyError, match="not enabled for profile"):
        profiles.create_policy(platform, "p4", "dataSetPrecedence", [plain.name])
    profiles.create_policy(platform, "p5", "dataSetPrecedence", ["profiles"])
    assert profiles.get_policy(platform.catalog).name == "timestamp-ordered"
    with pytest.raises(MergePolicyError, match="is the default"):
        profiles.delete_policy(platform.catalog, "timestamp-ordered")
    profiles.set_default(platform.catalog, "p5")
    profiles.delete_policy(platform.catalog, "timestamp-ordered")
    assert [p.name for p in profiles.list_policies(platform.catalog)] == ["p5"]


def test_only_the_first_twenty_identities_of_a_record_count(platform: Platform,
                                                            profiles_ds) -> None:
    emails = tuple(f"e{i:02d}@x.com" for i in range(25))
    platform.ingest(profiles_ds, [profile_row(ECID_A, emails=emails)])
    profiles.refresh(platform)
    g = graph(platform)
    assert len(g) == 20 and f"ECID:{ECID_A}" in g  # the primary identity comes first
    assert "Email:e18@x.com" in g and "Email:e19@x.com" not in g


def test_junk_identities_are_ignored(platform: Platform, crm_ds) -> None:
    platform.ingest(crm_ds, [crm_row("C-1", email="ann@x.com"),
                             crm_row("unknown-device", email="bob@x.com")])
    rules = GraphRules(junk=(*GraphRules().junk, "unknown-device"))
    profiles.refresh(platform, rules=rules)
    assert set(graph(platform)) == {"CRMID:C-1", "Email:ann@x.com", "Email:bob@x.com"}
    assert graph(platform)["Email:bob@x.com"] == "Email:bob@x.com"


def test_a_reverted_batch_is_merged_out(platform: Platform, profiles_ds) -> None:
    platform.ingest(profiles_ds, [profile_row(ECID_A, loyalty={"tier": "gold"})])
    bad = platform.ingest(profiles_ds, [profile_row(ECID_A, loyalty={"tier": "member"}),
                                        profile_row(ECID_B)])
    profiles.refresh(platform)
    assert len(unified(platform, "loyalty.tier")) == 2
    platform.lake.revert_batch(bad.id)
    result = profiles.refresh(platform)
    assert result.mode == "full" and "removed" in result.reason
    assert unified(platform, "loyalty.tier") == {f"ECID:{ECID_A}": ("gold",)}


def test_conflicting_field_types_name_both_datasets(platform: Platform, profiles_ds) -> None:
    other = Schema(title="Other", cls="profile", field_groups=(
        xdm.PROFILE_CLASS, xdm.tenant_group("tenant"),
        FieldGroup("l", (Field("loyalty", "struct", fields=(Field("points", "string"),)),))),
        identities=(xdm.userid_identity("tenant"),))
    ds = platform.create_dataset("other", other, profile_enabled=True)
    platform.ingest(ds, [{"_tenant": {"userid": ECID_A}, "loyalty": {"points": "many"}}])
    with pytest.raises(ProfileError, match=r"'loyalty.points' is double in dataset 'profiles' "
                                           r"but string in dataset 'other'"):
        profiles.refresh(platform)


def test_the_commit_hook_refreshes_after_each_batch_once_built(platform: Platform,
                                                               profiles_ds) -> None:
    profiles.attach(platform)
    profiles.attach(platform)  # idempotent
    platform.ingest(profiles_ds, [profile_row(ECID_A)])
    assert platform.lake.catalog.find_dataset("unified_profiles") is None  # not built yet
    profiles.refresh(platform)
    platform.ingest(profiles_ds, [profile_row(ECID_B, loyalty={"tier": "gold"})])
    assert unified(platform, "loyalty.tier")[f"ECID:{ECID_B}"] == ("gold",)
    assert profiles.refresh(platform).mode == "none"


def test_a_failing_refresh_never_fails_the_batch(platform: Platform, profiles_ds) -> None:
    notes: list[str] = []
    platform.console.note = notes.append  # type: ignore[method-assign]
    profiles.attach(platform)
    platform.ingest(profiles_ds, [profile_row(ECID_A)])
    profiles.refresh(platform)
    other = Schema(title="Clash", cls="profile", field_groups=(
        xdm.PROFILE_CLASS, xdm.tenant_group("tenant", Field("userid2", "string")),
        FieldGroup("p", (Field("person", "struct", fields=(Field("gender", "double"),)),))),
        identities=(xdm.userid_identity("tenant"),))
    clash = platform.create_dataset("clash", other, profile_enabled=True)
    rec = platform.ingest(clash, [{"_tenant": {"userid": ECID_B}, "person": {"gender": 1.0}}])
    assert rec.state == "success"
    assert notes and "not refreshed" in notes[0] and "person.gender" in notes[0]


def test_audience_memberships_of_the_latest_job_are_listed(platform: Platform,
                                                           profiles_ds) -> None:
    platform.ingest(profiles_ds, [profile_row(ECID_A), profile_row(ECID_B)])
    profiles.refresh(platform)
    rows = [  # job 1: A and B qualify; job 2: A stays, B exits. B is addressed by identity.
        {"audience_id": "a1", "audience": "likely", "job": 1, "person_id": f"ECID:{ECID_A}",
         "namespace": None, "status": "realized"},
        {"audience_id": "a1", "audience": "likely", "job": 1, "person_id": ECID_B,
         "namespace": "ECID", "status": "realized"},
        {"audience_id": "a1", "audience": "likely", "job": 2, "person_id": f"ECID:{ECID_A}",
         "namespace": None, "status": "existing"},
        {"audience_id": "a1", "audience": "likely", "job": 2, "person_id": ECID_B,
         "namespace": "ECID", "status": "exited"},
    ]
    graph_version = platform.catalog.find_dataset("identity_graph").version
    # Read without the Query Service, which would attach the commit hook (see above).
    before = {r["person_id"]: (r["updatedAt"], r["_tenant"]["userid"]) for r in pq.read_table(
        platform.lake.files(platform.dataset("unified_profiles"))).to_pylist()}
    platform.lake.write("audience_memberships", pa.Table.from_pylist(rows))
    result = profiles.refresh(platform)
    assert (result.mode, result.merged, result.persons) == ("incremental", 0, 2)
    got = unified(platform, "audienceMemberships", "updatedAt", "_tenant.userid")
    assert got[f"ECID:{ECID_A}"] == ([{"audience": "likely", "status": "existing"}],
                                     *before[f"ECID:{ECID_A}"])
    assert got[f"ECID:{ECID_B}"] == ([{"audience": "likely", "status": "exited"}],
                                     *before[f"ECID:{ECID_B}"])
    # No new links: the stored graph stands (no new snapshot of it).
    assert platform.catalog.find_dataset("identity_graph").version == graph_version


def test_deferred_refreshes_once_after_several_batches(platform: Platform,
                                                       profiles_ds) -> None:
    platform.ingest(profiles_ds, [profile_row(ECID_A)])
    profiles.attach(platform)
    profiles.refresh(platform)
    version = platform.catalog.find_dataset("unified_profiles").version
    row = {"audience_id": "a1", "audience": "likely", "job": 1,
           "person_id": f"ECID:{ECID_A}", "namespace": None, "status": "realized"}
    with profiles.deferred(platform):
        platform.lake.write("audience_memberships", pa.Table.from_pylist([row]))
        platform.ingest(profiles_ds, [profile_row(ECID_B, loyalty={"tier": "gold"})])
        assert platform.catalog.find_dataset("unified_profiles").version == version
    assert platform.catalog.find_dataset("unified_profiles").version == version + 1
    got = unified(platform, "audienceMemberships", "loyalty.tier")
    assert got == {f"ECID:{ECID_A}": ([{"audience": "likely", "status": "realized"}], None),
                   f"ECID:{ECID_B}": (None, "gold")}
    assert profiles.refresh(platform).mode == "none"


def test_many_people_across_many_files_never_mix(platform: Platform) -> None:
    from distillery.synth import generate

    generate(platform, 3000, seed=2, as_of=datetime(2025, 3, 1, tzinfo=UTC), batch_users=1000,
             truth=False)
    result = profiles.refresh(platform)
    assert (result.persons, result.identities) == (3000, 6000)
    rows = platform.query("SELECT status, count(*), count(DISTINCT person_id) FROM "
                          "identity_graph GROUP BY 1").rows()
    assert rows == [("linked", 6000, 3000)]
    pairs = platform.query("SELECT count(*) FROM unified_profiles WHERE "
                           "personalEmail.address = identityMap['Email'][0].id").scalar()
    assert pairs == 3000  # each person's e-mail identity is their own profile's address


def test_appended_links_are_compacted(platform: Platform, profiles_ds,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from distillery.profiles import store

    monkeypatch.setattr(store, "COMPACT_AFTER", 1)
    platform.ingest(profiles_ds, [profile_row(ECID_A, emails=("ann@x.com",))])
    profiles.refresh(platform)
    for tier in ("gold", "silver"):  # the same pairs again, seen later
        platform.ingest(profiles_ds, [profile_row(ECID_A, emails=("ann@x.com",),
                                                  loyalty={"tier": tier})])
        profiles.refresh(platform)
    links = platform.query("SELECT a_id, b_id, first_seen < last_seen FROM identity_links "
                           "ORDER BY b_id").rows()
    assert links == [(ECID_A, ECID_A, True), (ECID_A, "ann@x.com", True)]
    live = [b for b in platform.catalog.batches(platform.dataset("identity_links").id)
            if b.state == "success"]
    assert len(live) == 1
