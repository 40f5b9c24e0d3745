"""The identity graph: identities linked into people, with AEP's guardrails.

Links (identity pairs seen in one record) become an undirected graph whose connected components
(SciPy) are people. Two rules then reshape the few components that break them:

- Unique namespace: a component holding two identities of a unique namespace (two ECIDs, two CRM
  ids) is rebuilt link by link, newest first, refusing any link that would give a person a second
  identity of such a namespace. A shared device or e-mail address thus stays with the person who
  used it most recently, and two people are never collapsed into one.
- Size: a person of more than `max_per_graph` identities keeps the most recently seen ones; the
  others are dropped (status `dropped_graph_limit`) and resolve to nobody.

Each person is named after its identity in the first namespace of the priority order
(`ECID:0123...`), so its id survives refreshes as long as that identity stays its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from distillery.profiles.rules import GraphRules

LINKED, SPLIT, DROPPED = "linked", "unique_namespace_split", "dropped_graph_limit"

GRAPH_SCHEMA = pa.schema([
    pa.field("namespace", pa.string(), nullable=False),
    pa.field("id", pa.string(), nullable=False),
    pa.field("person_id", pa.string()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("last_seen", pa.timestamp("us", tz="UTC")),
])


@dataclass
class Nodes:
    """Identities in index order, sorted by (namespace, id).

    Attributes:
        namespace: Namespace of each identity.
        id: Value of each identity.
        last_seen: When each identity was last seen (microseconds since the epoch).
    """

    namespace: pa.Array
    id: pa.Array
    last_seen: np.ndarray

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class Edges:
    """Links between identities, by node index, with when each was last seen."""

    a: np.ndarray
    b: np.ndarray
    last_seen: np.ndarray


_NONE = np.iinfo(np.int64).min


def from_links(links: pa.Table) -> tuple[Nodes, Edges]:
    """The nodes and edges of a links table (a_ns, a_id, b_ns, b_id, last_seen).

    Nodes are the identities at either end, sorted by (namespace, id), each last seen when its
    latest link was; edges join distinct identities, one per ordered pair, last seen when its
    latest link was (missing times count as 0). Vectorised: identities become integer codes
    whose order is that of (namespace, id), so nodes and edges come from `np.unique`. The
    two grouping queries this replaces read every link twice and joined on text.
    """
    n = links.num_rows
    ns_rank, ns_sorted = _ranks(pa.chunked_array(links.column("a_ns").chunks +
                                                 links.column("b_ns").chunks))
    id_rank, id_sorted = _ranks(pa.chunked_array(links.column("a_id").chunks +
                                                 links.column("b_id").chunks))
    width = max(len(id_sorted), 1)
    keys, ends = np.unique(ns_rank * width + id_rank, return_inverse=True)
    seen = pc.cast(links.column("last_seen"), pa.int64()).fill_null(_NONE).to_numpy()
    last = np.full(len(keys), _NONE, dtype=np.int64)
    np.maximum.at(last, ends, np.concatenate([seen, seen]))
    nodes = Nodes(ns_sorted.take(pa.array(keys // width)), id_sorted.take(pa.array(keys % width)),
                  np.where(last == _NONE, 0, last))
    a, b = ends[:n], ends[n:]
    distinct = a != b
    pairs, which = np.unique(a[distinct] * len(keys) + b[distinct], return_inverse=True)
    pair_seen = np.full(len(pairs), _NONE, dtype=np.int64)
    np.maximum.at(pair_seen, which, seen[distinct])
    return nodes, Edges(pairs // len(keys), pairs % len(keys),
                        np.where(pair_seen == _NONE, 0, pair_seen))


def _ranks(values: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Per value, the rank of its distinct value in sorted order; and the sorted values."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[encoded.indices.to_numpy()], encoded.dictionary.take(pa.array(order))


def resolve(nodes: Nodes, edges: Edges, rules: GraphRules) -> pa.Table:
    """People from identities and links; one row per identity (see GRAPH_SCHEMA)."""
    n = len(nodes)
    if n == 0:
        return GRAPH_SCHEMA.empty_table()
    labels = _components(n, edges)
    status = np.full(n, LINKED, dtype=object)
    labels = _split_unique(labels, nodes, edges, rules, status)
    kept = _limit_size(labels, nodes, rules.max_per_graph)
    status[~kept] = DROPPED
    person = _person_ids(labels, kept, nodes, rules)
    return pa.Table.from_arrays(
        [nodes.namespace, nodes.id, person, pa.array(status.tolist(), pa.string()),
         pa.array(nodes.last_seen, pa.timestamp("us", tz="UTC"))],
        schema=GRAPH_SCHEMA)


def _components(n: int, edges: Edges) -> np.ndarray:
    matrix = coo_matrix((np.ones(len(edges.a), dtype=np.int8), (edges.a, edges.b)),
                        shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    return labels.astype(np.int64)


def _unique_codes(nodes: Nodes, rules: GraphRules) -> np.ndarray:
    """Per node, the index of its namespace in rules.unique_namespaces, or -1."""
    codes = pc.index_in(nodes.namespace, pa.array(list(rules.unique_namespaces), pa.string()))
    return np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _split_unique(labels: np.ndarray, nodes: Nodes, edges: Edges, rules: GraphRules,
                  status: np.ndarray) -> np.ndarray:
    """Rebuild components that hold two identities of one unique namespace."""
    codes = _unique_codes(nodes, rules)
    conflicted = np.zeros(labels.max() + 1, dtype=bool)
    for code in range(len(rules.unique_namespaces)):
        counts = np.bincount(labels[codes == code], minlength=len(conflicted))
        conflicted |= counts > 1
    if not conflicted.any():
        return labels
    in_conflict = conflicted[labels]
    status[in_conflict] = SPLIT
    chosen = in_conflict[edges.a]
    roots = _constrained_union(np.flatnonzero(in_conflict), edges.a[chosen], edges.b[chosen],
                               edges.last_seen[chosen], codes)
    out = labels.copy()
    members = np.fromiter(roots.keys(), dtype=np.int64, count=len(roots))
    root_of = np.fromiter(roots.values(), dtype=np.int64, count=len(roots))
    _, fresh = np.unique(root_of, return_inverse=True)
    out[members] = labels.max() + 1 + fresh
    return out


def _constrained_union(members: np.ndarray, a: np.ndarray, b: np.ndarray, seen: np.ndarray,
                       codes: np.ndarray) -> dict[int, int]:
    """Union-find over the links of conflicted components, newest link first, refusing a
    union that would join two identities of one unique namespace. Returns node -> root."""
    parent = {int(m): int(m) for m in members}
    unique = {int(m): {int(codes[m]): int(m)} for m in members if codes[m] >= 0}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in np.lexsort((b, a, -seen)):
        ra, rb = find(int(a[i])), find(int(b[i]))
        if ra == rb:
            continue
        ua, ub = unique.get(ra, {}), unique.get(rb, {})
        if any(ns in ub and ub[ns] != node for ns, node in ua.items()):
            continue  # a second CRM id / ECID for one person: the older link loses
        if len(ua) < len(ub):
            ra, rb, ua, ub = rb, ra, ub, ua
        parent[rb] = ra
        if ub:
            unique[ra] = {**ua, **ub}
    return {m: find(m) for m in parent}


def _limit_size(labels: np.ndarray, nodes: Nodes, limit: int) -> np.ndarray:
    """True for identities kept: per person, the `limit` most recently seen."""
    sizes = np.bincount(labels)
    if sizes.max() <= limit:
        return np.ones(len(labels), dtype=bool)
    order = np.lexsort((np.arange(len(labels)), -nodes.last_seen, labels))
    starts = np.concatenate([[0], np.cumsum(sizes)])[labels[order]]
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - starts
    return rank < limit


def _person_ids(labels: np.ndarray, kept: np.ndarray, nodes: Nodes,
                rules: GraphRules) -> pa.Array:
    """Each kept identity's person id: `NAMESPACE:value` of the person's first identity in
    namespace priority order (then by value)."""
    ranks = pc.index_in(nodes.namespace, pa.array(list(rules.priority), pa.string()))
    rank = np.asarray(ranks.fill_null(len(rules.priority)).to_numpy(zero_copy_only=False))
    # Node indices follow (namespace, id) order, so the index breaks ties by value.
    index = np.arange(len(labels))
    candidates = np.flatnonzero(kept)
    order = candidates[np.lexsort((index[candidates], rank[candidates], labels[candidates]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    best = np.full(labels.max() + 1, -1, dtype=np.int64)
    best[labels[order][first]] = order[first]
    names = pc.binary_join_element_wise(nodes.namespace, nodes.id, ":")
    chosen = best[labels]
    valid = kept & (chosen >= 0)
    taken = names.take(pa.array(np.where(valid, chosen, 0)))
    return pc.if_else(pa.array(valid), taken, pa.scalar(None, pa.string()))
