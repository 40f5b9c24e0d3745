"""The identity graph's rules on small graphs: linking, the unique-namespace rule, the size
guardrail and person naming."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillery.profiles.graph import DROPPED, LINKED, SPLIT, Edges, Nodes, resolve
from distillery.profiles.rules import DEFAULT_RULES, GraphRules

Link = tuple[str, str, int]  # "NS:id", "NS:id", last seen


def people(links: list[Link], rules: GraphRules = DEFAULT_RULES,
           seen: dict[str, int] | None = None) -> dict[str, tuple[str | None, str]]:
    """Identity -> (person id, status) for links given as ("NS:a", "NS:b", time)."""
    keys = sorted({k for a, b, _ in links for k in (a, b)},
                  key=lambda k: tuple(k.split(":", 1)))
    index = {k: i for i, k in enumerate(keys)}
    last = np.zeros(len(keys), dtype=np.int64)
    for a, b, t in links:
        last[index[a]] = max(last[index[a]], t)
        last[index[b]] = max(last[index[b]], t)
    for k, t in (seen or {}).items():
        last[index[k]] = t
    nodes = Nodes(pa.array([k.split(":", 1)[0] for k in keys]),
                  pa.array([k.split(":", 1)[1] for k in keys]), last)
    edges = Edges(np.array([index[a] for a, _, _ in links], dtype=np.int64),
                  np.array([index[b] for _, b, _ in links], dtype=np.int64),
                  np.array([t for _, _, t in links], dtype=np.int64))
    table = resolve(nodes, edges, rules).to_pylist()
    return {f"{r['namespace']}:{r['id']}": (r["person_id"], r["status"]) for r in table}


def test_identities_seen_together_are_one_person_named_by_priority() -> None:
    got = people([("ECID:1", "Email:a@x", 1), ("Email:a@x", "Phone:555", 2),
                  ("ECID:2", "ECID:2", 3)])
    assert got == {"ECID:1": ("ECID:1", LINKED), "Email:a@x": ("ECID:1", LINKED),
                   "Phone:555": ("ECID:1", LINKED), "ECID:2": ("ECID:2", LINKED)}
    crm = people([("ECID:1", "CRMID:c9", 1)])
    assert crm["ECID:1"][0] == crm["CRMID:c9"][0] == "CRMID:c9"


def test_a_shared_identity_never_collapses_two_people() -> None:
    # A family tablet's e-mail login: first used by ECID:1, later by ECID:2.
    links = [("ECID:1", "Email:family@x", 10), ("ECID:2", "Email:family@x", 20),
             ("ECID:1", "Phone:111", 5)]
    got = people(links)
    assert got["ECID:1"] == ("ECID:1", SPLIT) and got["Phone:111"][0] == "ECID:1"
    assert got["ECID:2"] == ("ECID:2", SPLIT)
    assert got["Email:family@x"][0] == "ECID:2"  # the most recent link wins
    without_rule = people(links, GraphRules(unique_namespaces=()))
    assert len({p for p, _ in without_rule.values()}) == 1


def test_two_crm_ids_through_a_chain_stay_apart() -> None:
    links = [("CRMID:a", "Email:e1", 1), ("Email:e1", "ECID:9", 2), ("ECID:9", "Email:e2", 3),
             ("Email:e2", "CRMID:b", 4)]
    got = people(links)
    assert got["CRMID:a"][0] == "CRMID:a" and got["CRMID:b"][0] == "CRMID:b"
    assert got["ECID:9"][0] == "CRMID:b"  # joined through the newer links


def test_a_graph_keeps_its_most_recently_seen_identities() -> None:
    links = [("ECID:1", f"Email:e{i:02d}@x", i) for i in range(1, 10)]
    got = people(links, GraphRules(max_per_graph=5))
    kept = {k for k, (p, s) in got.items() if s == LINKED}
    dropped = {k for k, (p, s) in got.items() if s == DROPPED}
    # ECID:1 was seen at time 9 (its newest link); then e09, e08, e07, e06.
    assert kept == {"ECID:1", "Email:e09@x", "Email:e08@x", "Email:e07@x", "Email:e06@x"}
    assert len(dropped) == 5 and all(got[k][0] is None for k in dropped)
    assert {got[k][0] for k in kept} == {"ECID:1"}


def test_the_default_guardrail_is_fifty_identities() -> None:
    links = [("ECID:1", f"Email:e{i:03d}@x", i) for i in range(1, 61)]
    got = people(links)
    assert sum(s == LINKED for _, s in got.values()) == 50
    assert sum(s == DROPPED for _, s in got.values()) == 11


def test_an_empty_graph() -> None:
    assert people([]) == {}


# What build_graph computed in SQL before `from_links`: nodes sorted by (namespace, id) and
# edges between distinct identities, each with its latest time.
_NODES_SQL = """
SELECT ns AS namespace, id, epoch_us(max(last_seen)) AS last_seen FROM (
  SELECT a_ns AS ns, a_id AS id, last_seen FROM links UNION ALL SELECT b_ns, b_id, last_seen
  FROM links) GROUP BY ns, id ORDER BY ns, id
"""
_EDGES_SQL = """
SELECT na.idx AS a, nb.idx AS b, epoch_us(max(l.last_seen)) AS last_seen
FROM links AS l JOIN nodes AS na ON na.namespace = l.a_ns AND na.id = l.a_id
JOIN nodes AS nb ON nb.namespace = l.b_ns AND nb.id = l.b_id
WHERE na.idx <> nb.idx GROUP BY na.idx, nb.idx ORDER BY 1, 2
"""


def test_nodes_and_edges_from_links_equal_the_grouping_queries() -> None:
    import duckdb

    from distillery.profiles.graph import from_links

    rng = np.random.default_rng(7)
    size = 400
    ns = rng.choice(["ECID", "Email", "CRMID"], (2, size))
    ids = rng.integers(0, 60, (2, size)).astype(str)  # the same id in several namespaces
    seen = rng.integers(0, 10**12, size)
    links = pa.table({  # DuckDB reads it by name, as its replacement scan does
        "a_ns": ns[0], "a_id": ids[0], "b_ns": ns[1], "b_id": ids[1],
        "last_seen": pa.array(seen, pa.timestamp("us", tz="UTC"),
                              mask=rng.random(size) < 0.1)})
    nodes, edges = from_links(links)
    con = duckdb.connect()
    want = con.sql(_NODES_SQL).arrow().read_all()
    assert nodes.namespace.to_pylist() == want.column("namespace").to_pylist()
    assert nodes.id.to_pylist() == want.column("id").to_pylist()
    assert nodes.last_seen.tolist() == want.column("last_seen").fill_null(0).to_pylist()
    indexed = want.append_column("idx", pa.array(np.arange(want.num_rows)))
    con.register("nodes", indexed)
    want_edges = con.sql(_EDGES_SQL).fetchall()
    got = sorted(zip(edges.a.tolist(), edges.b.tolist(), edges.last_seen.tolist(),
                     strict=True))
    assert got == [(a, b, t or 0) for a, b, t in want_edges]
    self_links = (ns[0] == ns[1]) & (ids[0] == ids[1])
    assert len(got) > 100 and self_links.any()  # self-links are left out
