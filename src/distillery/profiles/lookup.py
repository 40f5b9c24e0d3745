"""One person's profile by any of their identities: attributes, identities, recent events,
scores with model versions, audience memberships.

    view = profile(platform, "ECID:0123...")      # or "Email:a@example.com"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.profiles import store
from distillery.profiles.errors import IdentityError, ProfileNotFoundError
from distillery.profiles.graph import DROPPED
from distillery.profiles.merge import MEMBERSHIPS, PERSON
from distillery.profiles.refresh import refresh
from distillery.profiles.sources import Source, profile_sources
from distillery.profiles.sqlparts import fetch, param, path, read_files

_META = {PERSON, "identityMap", MEMBERSHIPS, "mergePolicy", "updatedAt"}
_SCORE_FIELDS = ("propensity", "decile", "percentile", "modelName", "modelVersion", "scoredAt")


@dataclass
class ProfileView:
    """A person as the unified profile shows them.

    Attributes:
        person_id: The person's id (`NAMESPACE:value`).
        identities: Every identity of the person (namespace, id, status, last_seen).
        attributes: The merged attributes, nested as in the schemas.
        memberships: Audience memberships (audience, status).
        events: The most recent experience events (dataset, timestamp, eventType, _id).
        scores: Scores from score datasets, newest first (dataset, propensity, decile,
            percentile, modelName, modelVersion, scoredAt).
        merge_policy: The policy the attributes were merged by.
        updated_at: When the person's row was last merged.
    """

    person_id: str
    identities: list[dict[str, Any]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    merge_policy: str | None = None
    updated_at: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"person_id": self.person_id, "identities": self.identities,
                "attributes": self.attributes, "memberships": self.memberships,
                "events": self.events, "scores": self.scores,
                "merge_policy": self.merge_policy, "updated_at": self.updated_at}


def parse_identity(text: str) -> tuple[str, str]:
    """`NAMESPACE:value` (ECID:0123..., Email:a@example.com) as (namespace, value)."""
    namespace, sep, value = text.partition(":")
    if not sep or not namespace.strip() or not value.strip():
        raise IdentityError(f"identity {text!r} must be NAMESPACE:value, e.g. ECID:0123... or "
                            "Email:someone@example.com")
    return namespace.strip(), value.strip()


def profile(platform: Any, identity: str, *, events: int = 10, scores: int = 20,
            up_to_date: bool = True) -> ProfileView:
    """The unified profile of the person holding `identity`.

    Args:
        platform: The platform.
        identity: `NAMESPACE:value`; the namespace is matched case-insensitively.
        events: How many recent events to show.
        scores: How many scores to show.
        up_to_date: Refresh the profiles first (incremental; nothing to do when current).

    Raises:
        IdentityError: the identity is malformed.
        ProfileNotFoundError: no person holds it.
    """
    namespace, value = parse_identity(identity)
    if up_to_date:
        refresh(platform)
    person = _person_of(platform, namespace, value)
    view = ProfileView(person)
    view.identities = _identities(platform, person)
    _fill_row(platform, view)
    sources = profile_sources(platform)
    view.events = _events(platform, sources, view.identities, events)
    view.scores = _scores(platform, sources, view.identities, scores)
    return view


def _graph_rows(platform: Any, where: exp.Expr, params: dict[str, Any]) -> pa.Table:
    files = store.files(platform, store.GRAPH)
    if not files:
        raise ProfileNotFoundError("no unified profiles yet: no profile-enabled dataset has "
                                   "identities")
    query = exp.select("namespace", "id", PERSON, "status", "last_seen", copy=False).from_(
        read_files("files"), copy=False).where(where, copy=False) \
        .order_by("namespace", "id", copy=False)
    return fetch(platform, query, {"files": files, **params})


def _person_of(platform: Any, namespace: str, value: str) -> str:
    where = exp.and_(exp.func("lower", exp.column("namespace")).eq(
        exp.func("lower", param("ns"))), exp.column("id").eq(param("id")))
    rows = _graph_rows(platform, where, {"ns": namespace, "id": value}).to_pylist()
    if not rows:
        raise ProfileNotFoundError(f"no profile holds identity {namespace}:{value}")
    row = rows[0]
    if row["status"] == DROPPED or row[PERSON] is None:
        raise ProfileNotFoundError(f"identity {namespace}:{value} was dropped from its graph "
                                   "(more than the identities a person may have); it resolves "
                                   "to no profile")
    return str(row[PERSON])


def _identities(platform: Any, person: str) -> list[dict[str, Any]]:
    return _graph_rows(platform, exp.column(PERSON).eq(param("person")),
                       {"person": person}).select(["namespace", "id", "status",
                                                   "last_seen"]).to_pylist()


def _fill_row(platform: Any, view: ProfileView) -> None:
    files = store.files(platform, store.UNIFIED)
    if not files:
        return
    query = exp.select("*", copy=False).from_(read_files("files"), copy=False) \
        .where(exp.column(PERSON).eq(param("person")), copy=False)
    rows = fetch(platform, query, {"files": files, "person": view.person_id}).to_pylist()
    if not rows:
        return
    row = rows[0]
    view.attributes = _prune({k: v for k, v in row.items() if k not in _META}) or {}
    view.memberships = row.get(MEMBERSHIPS) or []
    view.merge_policy = row.get("mergePolicy")
    view.updated_at = row.get("updatedAt")


def _prune(value: Any) -> Any:
    """Attributes without the empty branches (a struct whose fields are all null)."""
    if isinstance(value, dict):
        kept = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None} or None
    return value


def _ids_in(src: Source, identities: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
    """The dataset's primary identity field and the person's values in its namespace."""
    primary = src.identities[0] if src.identities else None
    if primary is None:
        return None
    values = [i["id"] for i in identities if i["namespace"] == primary.namespace]
    return (primary.path, values) if values else None


def _matching(src: Source, ids: tuple[str, list[str]], columns: list[exp.Expr]
              ) -> tuple[exp.Select, dict[str, Any]]:
    """The rows of `src` whose primary identity is one of the person's.

    One person has few rows, so they are sorted and cut in Python: DuckDB 2.0 fails
    internally on ORDER BY ... LIMIT over a filter on a struct field (late materialization).
    """
    field_path, values = ids
    params: dict[str, Any] = {"files": list(src.files)}
    params.update({f"v{i}": v for i, v in enumerate(values)})
    rows = exp.Table(this=read_files("files"), alias=exp.TableAlias(this=exp.to_identifier("f")))
    query = (exp.select(*columns, copy=False).from_(rows, copy=False)
             .where(path(field_path, "f").isin(*(param(f"v{i}") for i in range(len(values)))),
                    copy=False))
    return query, params


def _events(platform: Any, sources: list[Source], identities: list[dict[str, Any]],
            limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for src in sources:
        ids = _ids_in(src, identities)
        if not src.is_events or not src.files or ids is None or limit <= 0:
            continue
        columns = [path(c, "f").as_(c) for c in ("timestamp", "eventType", "_id")]
        query, params = _matching(src, ids, columns)
        for row in fetch(platform, query, params).to_pylist():
            out.append({"dataset": src.dataset.name, **row})
    return sorted(out, key=lambda r: r["timestamp"], reverse=True)[:limit]


def _scores(platform: Any, sources: list[Source], identities: list[dict[str, Any]],
            limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for src in sources:
        tenant = f"_{src.dataset.schema.tenant}"
        leaves = {p for p, _ in src.dataset.schema.leaves()}
        ids = _ids_in(src, identities)
        if src.is_events or not src.files or ids is None or f"{tenant}.propensity" not in leaves:
            continue
        present = [n for n in _SCORE_FIELDS if f"{tenant}.{n}" in leaves]
        columns = [path(f"{tenant}.{n}", "f").as_(n) for n in present]
        if src.time_field and "scoredAt" not in present:
            columns.append(path(src.time_field, "f").as_("scoredAt"))
        query, params = _matching(src, ids, columns)
        for row in fetch(platform, query, params).to_pylist():
            out.append({"dataset": src.dataset.name, **row})
    return sorted(out, key=lambda r: (r.get("scoredAt") is not None, r.get("scoredAt")),
                  reverse=True)[:limit]

