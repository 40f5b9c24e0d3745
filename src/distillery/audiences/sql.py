"""Data Distiller's audience statements in the Query Service:

    CREATE AUDIENCE [IF NOT EXISTS] a WITH (primary_identity=userid, identity_namespace=ECID
                                            [, ttl_days=30] [, description='...']) AS SELECT ...
    INSERT INTO AUDIENCE a SELECT ...          add members
    INSERT OVERWRITE INTO [AUDIENCE] a SELECT ...   replace members (entered / exited)
    DROP AUDIENCE [IF EXISTS] a
    SHOW AUDIENCES

`install(service, platform)` registers them (the platform wires it through SQL_EXTENSIONS).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from distillery.audiences.errors import AudienceError
from distillery.audiences.service import Audiences, expires_at
from distillery.audiences.store import JobRecord
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.platform import Platform
    from distillery.sql.service import QueryService, Session

_NAME = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
_OPTIONS = r"(?P<options>(?:'(?:[^']|'')*'|\"[^\"]*\"|[^)'\"])*)"
CREATE = (r"^\s*CREATE\s+AUDIENCE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?" + _NAME
          + r"\s*(?:WITH\s*\(" + _OPTIONS + r"\))?\s*AS\s+(?P<query>.+?)\s*$")
INSERT = r"^\s*INSERT\s+INTO\s+AUDIENCE\s+" + _NAME + r"\s+(?P<query>.+?)\s*$"
OVERWRITE = r"^\s*INSERT\s+OVERWRITE\s+INTO\s+(?:AUDIENCE\s+)?" + _NAME + r"\s+(?P<query>.+?)\s*$"
DROP = r"^\s*DROP\s+AUDIENCE\s+(?P<ie>IF\s+EXISTS\s+)?" + _NAME + r"\s*$"
SHOW = r"^\s*SHOW\s+AUDIENCES\s*$"
_OPTION = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^']|'')*'|\"[^\"]*\"|[^,]+?)\s*(?:,|$)")
OPTIONS = ("primary_identity", "identity_namespace", "ttl_days", "description")


def install(service: QueryService, platform: Platform) -> None:
    """Register the audience statements with a Query Service."""
    audiences = Audiences(platform)

    def create(svc: QueryService, session: Session, m: re.Match[str],
               params: dict[str, Any] | None) -> Result:
        opts = parse_options(m.group("options") or "", m.group("name"))
        rec, job = audiences.create_sql(
            m.group("name"), m.group("query"), primary_identity=opts.get("primary_identity", ""),
            identity_namespace=opts.get("identity_namespace", ""),
            ttl_days=opts.get("ttl_days"), description=opts.get("description", ""),
            if_not_exists=bool(m.group("ine")), params=params, session=session)
        return _job_result(rec.name, rec.id, job, "CREATE AUDIENCE")

    def insert(svc: QueryService, session: Session, m: re.Match[str],
               params: dict[str, Any] | None) -> Result:
        job = audiences.insert(m.group("name"), m.group("query"), params=params,
                               session=session)
        return _job_result(job.audience, job.audience_id, job, "INSERT AUDIENCE")

    def overwrite(svc: QueryService, session: Session, m: re.Match[str],
                  params: dict[str, Any] | None) -> Result:
        job = audiences.insert(m.group("name"), m.group("query"), overwrite=True,
                               params=params, session=session)
        return _job_result(job.audience, job.audience_id, job, "INSERT OVERWRITE AUDIENCE")

    def drop(svc: QueryService, session: Session, m: re.Match[str],
             params: dict[str, Any] | None) -> Result:
        audiences.drop(m.group("name"), if_exists=bool(m.group("ie")))
        return Result.message("DROP AUDIENCE")

    def show(svc: QueryService, session: Session, m: re.Match[str],
             params: dict[str, Any] | None) -> Result:
        return Result.of(show_audiences(audiences))

    service.register_statement(CREATE, create)
    service.register_statement(INSERT, insert)
    service.register_statement(OVERWRITE, overwrite)
    service.register_statement(DROP, drop)
    service.register_statement(SHOW, show, writes=False)


def parse_options(text: str, name: str) -> dict[str, str]:
    """`key=value, ...` of a WITH clause; AudienceError names an unknown or malformed one."""
    out: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _OPTION.match(text, pos)
        if m is None:
            raise AudienceError(f"audience {name!r}: cannot read option text "
                                f"{text[pos:pos + 40]!r}; write key=value, ...")
        key, value = m.group(1).lower(), m.group(2).strip()
        if key not in OPTIONS:
            raise AudienceError(f"audience {name!r}: unknown option {key!r}; use "
                                f"{', '.join(OPTIONS)}")
        if value[:1] in ("'", '"'):
            value = value[1:-1].replace("''", "'") if value[0] == "'" else value[1:-1]
        out[key] = value
        pos = m.end()
    return out


def show_audiences(audiences: Audiences) -> pa.Table:
    """SHOW AUDIENCES: one row per audience with its TTL, expiry and last evaluation."""
    rows = []
    for a in audiences.list():
        job = audiences.store.last_succeeded(a.id)
        expires = expires_at(a, job)
        rows.append({"name": a.name, "id": a.id, "kind": a.kind, "source": a.source,
                     "identity": a.identity, "namespace": a.namespace,
                     "ttl_days": a.ttl_days, "expires_at": expires.isoformat() if expires
                     else None, "last_evaluated": job.finished_at if job else None,
                     "qualified": job.qualified if job else None,
                     "created_at": a.created_at})
    schema = pa.schema([("name", pa.string()), ("id", pa.string()), ("kind", pa.string()),
                        ("source", pa.string()), ("identity", pa.string()),
                        ("namespace", pa.string()), ("ttl_days", pa.int64()),
                        ("expires_at", pa.string()), ("last_evaluated", pa.string()),
                        ("qualified", pa.int64()), ("created_at", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def _job_result(name: str, audience_id: str, job: JobRecord | None, status: str) -> Result:
    data = {"audience": [name], "audience_id": [audience_id],
            "job": [job.number if job else None], "state": [job.state if job else "EXISTS"],
            "qualified": [job.qualified if job else None],
            "realized": [job.realized if job else None],
            "existing": [job.existing if job else None],
            "exited": [job.exited if job else None]}
    return Result.of(pa.table(data), status=status)
