"""Schemas: XDM classes to Arrow, files, inference, and the errors a bad schema gets."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from distillery.errors import SchemaError
from distillery.lake import xdm
from distillery.lake.schema import Field, FieldGroup, IdentityDescriptor, Schema, infer_schema


def test_experience_event_maps_to_nested_arrow() -> None:
    arrow = xdm.experience_event_schema("acme").to_arrow()
    assert arrow.field("_id").nullable is False
    assert arrow.field("timestamp").type == pa.timestamp("us", tz="UTC")
    web = arrow.field("web").type
    page = web.field("webPageDetails").type
    assert page.field("pageViews").type == pa.struct([("value", pa.float64())])
    assert arrow.field("_acme").type == pa.struct([("userid", pa.string())])
    imap = arrow.field("identityMap").type
    assert pa.types.is_map(imap) and imap.key_type == pa.string()


def test_profile_schema_has_the_reference_field_groups() -> None:
    schema = xdm.profile_schema()
    names = {g.name for g in schema.field_groups}
    assert {"personalDetails", "loyalty", "consents", "tenant"} <= names
    assert schema.primary_identity == IdentityDescriptor("_tenant.userid", "ECID", True)
    paths = dict(schema.leaves())
    assert paths["loyalty.tier"].enum == ("diamond", "platinum", "gold", "silver", "member")


def test_field_groups_merge_tenant_structs() -> None:
    schema = xdm.propensity_schema()
    tenant = schema.to_arrow().field("_tenant").type
    assert [tenant.field(i).name for i in range(tenant.num_fields)] == ["userid", "propensity"]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_schema_round_trips_through_files(tmp_path: Path, suffix: str) -> None:
    schema = xdm.experience_event_schema()
    path = tmp_path / f"s{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(schema.to_dict()))
    else:
        import yaml

        path.write_text(yaml.safe_dump(schema.to_dict()))
    assert Schema.load(path) == schema


def test_yaml_schema_written_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(
        "title: Orders\nclass: event\nfield_groups:\n"
        "  - name: base\n    fields:\n"
        "      - {name: _id, type: string, required: true}\n"
        "      - {name: timestamp, type: timestamp, required: true}\n"
        "      - {name: customer, type: string}\n"
        "      - {name: order, type: struct, fields: [{name: total, type: double}]}\n"
        "identities:\n  - {path: customer, namespace: CRM, primary: true}\n"
    )
    schema = Schema.load(path)
    assert schema.to_arrow().field("order").type == pa.struct([("total", pa.float64())])
    assert schema.primary_identity.namespace == "CRM"


@pytest.mark.parametrize(("data", "message"), [
    ({"title": "x", "class": "nope"}, "class must be one of"),
    ({"title": "x"}, "missing ['class']"),
    ({"title": "x", "class": "adhoc",
      "field_groups": [{"name": "g", "fields": [{"name": "a", "type": "varchar"}]}]},
     "field 'a' has unknown type 'varchar'"),
    ({"title": "x", "class": "adhoc",
      "field_groups": [{"name": "g", "fields": [{"name": "a", "type": "string"}]}],
      "identities": [{"path": "b", "namespace": "ECID"}]},
     "identity field 'b' is not a field"),
])
def test_bad_schemas_say_what_is_wrong(data: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Schema.from_dict(data)


def test_bad_schema_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(SchemaError, match="broken.json is not valid json"):
        Schema.load(path)


def test_conflicting_field_groups_are_refused() -> None:
    with pytest.raises(SchemaError, match="defined twice"):
        Schema("x", "adhoc", (FieldGroup("a", (Field("f", "string"),)),
                              FieldGroup("b", (Field("f", "long"),))))


def test_infer_schema_from_arrow() -> None:
    arrow = pa.schema([("id", pa.string()), ("n", pa.int32()), ("x", pa.float32()),
                       ("when", pa.timestamp("ms")), ("s", pa.struct([("a", pa.bool_())]))])
    schema = infer_schema(arrow, "byo")
    types = {p: f.type for p, f in schema.leaves()}
    assert types == {"id": "string", "n": "long", "x": "double", "when": "timestamp",
                     "s": "struct", "s.a": "boolean"}
