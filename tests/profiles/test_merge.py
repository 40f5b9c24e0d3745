"""Identity maps of the unified profiles, checked against DuckDB's ordered aggregates."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from distillery.lake import xdm
from distillery.profiles.merge import identity_maps

GRAPH = pa.table({
    "namespace": ["Email", "ECID", "ECID", "CRMID", "Email", "ECID", "Email", "ECID"],
    "id": ["b@x.com", "222", "111", "C-1", "a@x.com", "333", "lost@x.com", "444"],
    "person_id": ["CRMID:C-1", "CRMID:C-1", "CRMID:C-1", "CRMID:C-1", "CRMID:C-1",
                  "ECID:333", None, "ECID:444"],
})

# What the merge used to compute in SQL: lists ordered by namespace, then by id.
REFERENCE = """
SELECT person_id, map(list(namespace ORDER BY namespace), list(l ORDER BY namespace)) AS m
FROM (SELECT person_id, namespace,
             list({'id': id, 'authenticatedState': CAST(NULL AS VARCHAR),
                   'primary': namespace || ':' || id = person_id} ORDER BY id) AS l
      FROM g WHERE person_id IS NOT NULL GROUP BY person_id, namespace)
GROUP BY person_id ORDER BY person_id
"""


def test_identity_maps_equal_the_ordered_sql_aggregates() -> None:
    maps = identity_maps(GRAPH)
    assert maps.schema.field("identityMap").type == xdm.IDENTITY_MAP.arrow_type()
    g = GRAPH  # noqa: F841 - read by DuckDB's replacement scan
    expected = duckdb.sql(REFERENCE).fetchall()
    got = sorted(zip(maps.column("person_id").to_pylist(),
                     maps.column("identityMap").to_pylist(), strict=True))
    assert [(p, dict(m)) for p, m in got] == [(p, m) for p, m in expected]
    crm = dict(got[0][1])
    assert list(crm) == ["CRMID", "ECID", "Email"]  # keys in namespace order
    assert [i["id"] for i in crm["ECID"]] == ["111", "222"]
    assert [i["primary"] for i in crm["CRMID"]] == [True]
    assert not any(i["primary"] for i in crm["Email"])


def test_identity_maps_of_a_graph_in_build_order() -> None:
    """`build_graph` returns identities sorted by (namespace, id): no sort is needed, and
    the maps are the same."""
    ordered = GRAPH.sort_by([("namespace", "ascending"), ("id", "ascending")])
    assert sorted(identity_maps(ordered).to_pylist(), key=str) == \
        sorted(identity_maps(GRAPH).to_pylist(), key=str)


def test_identity_maps_of_affected_people_only() -> None:
    maps = identity_maps(GRAPH, pa.table({"person_id": ["ECID:444", "ECID:999"]}))
    assert maps.column("person_id").to_pylist() == ["ECID:444"]
    assert maps.column("identityMap").to_pylist() == [
        [("ECID", [{"id": "444", "authenticatedState": None, "primary": True}])]]
    assert identity_maps(GRAPH.slice(0, 0)).num_rows == 0
