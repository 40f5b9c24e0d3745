"""Session commands about the session itself: transactions and settings.

The Query Service has no transactions (every statement commits on its own), but drivers wrap
work in BEGIN/COMMIT and rely on PostgreSQL's rules: after an error inside a block, commands
are refused until ROLLBACK. Those rules are kept so drivers behave as against PostgreSQL.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from distillery.errors import QueryError
from distillery.sql.pgwire import lexer
from distillery.sql.pgwire.results import WireResult
from distillery.sql.pgwire.settings import REPORTED, Settings

if TYPE_CHECKING:
    from distillery.sql.pgwire.session import WireSession

Match = re.Match[str]


def _close_cursors(session: WireSession) -> None:
    # Cursors declared WITHOUT HOLD end with the transaction block.
    for name in [n for n, c in session.cursors.items() if not c.hold]:
        session.cursors.pop(name).stream.close()


def begin(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """BEGIN / START TRANSACTION."""
    tag = "START TRANSACTION" if match.group(0).upper().startswith("START") else "BEGIN"
    if session.tx != "I":
        return [WireResult.message(tag, notices=[
            ("WARNING", "25001", "there is already a transaction in progress")])]
    session.tx = "T"
    return [WireResult.message(tag)]


def commit(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """COMMIT / END: in a failed block it rolls back, as PostgreSQL does."""
    return _end(session, "ROLLBACK" if session.tx == "E" else "COMMIT")


def rollback(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """ROLLBACK / ABORT."""
    return _end(session, "ROLLBACK")


def _end(session: WireSession, tag: str) -> list[WireResult]:
    notices = [] if session.tx != "I" else [
        ("WARNING", "25P01", "there is no transaction in progress")]
    session.tx = "I"
    _close_cursors(session)
    return [WireResult.message(tag, notices=notices)]


def savepoint(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SAVEPOINT / RELEASE: accepted inside a block (there is nothing to undo)."""
    keyword = match.group(0).split()[0].upper()
    if session.tx == "I":
        raise QueryError(f"{keyword} can only be used in transaction blocks", sqlstate="25P01")
    return [WireResult.message(keyword)]


def rollback_to(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """ROLLBACK TO SAVEPOINT: leaves a failed block usable again."""
    if session.tx == "I":
        raise QueryError("ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                         sqlstate="25P01")
    session.tx = "T"
    return [WireResult.message("ROLLBACK")]


def unsupported(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """Statements PostgreSQL has and the Query Service does not."""
    raise QueryError(f"{match.group(0).strip().split()[0].upper()} is not supported by the "
                     "Distillery Query Service", sqlstate="0A000")


# Settings -------------------------------------------------------------------------------------


def setting_value(text: str) -> str | None:
    """The value of SET's right-hand side (None for DEFAULT)."""
    text = text.strip()
    if text.upper() in ("DEFAULT", "LOCAL"):
        return None
    tokens = [t for t in lexer.tokenize(text) if t.kind != "comment" and t.text.strip()]
    if len(tokens) == 1 and tokens[0].kind in ("string", "ident"):
        return str(tokens[0].value)
    return text


def set_time_zone(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SET TIME ZONE value."""
    changed = session.set_setting("timezone", setting_value(match.group("value")))
    return [WireResult.message("SET", parameter_status=changed)]


def set_noop(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SET TRANSACTION / SET SESSION CHARACTERISTICS: every statement is read committed."""
    return [WireResult.message("SET")]


def set_role(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SET ROLE / SESSION AUTHORIZATION: only to oneself (roles are fixed by the login)."""
    value = setting_value(match.group("value"))
    if value is not None and value.lower() not in ("none", session.identity.user):
        raise QueryError(f'permission denied to set role "{value}"', sqlstate="42501")
    return [WireResult.message("SET")]


def set_setting(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SET name {= | TO} value: a PostgreSQL setting here, any other by the Query Service."""
    name = match.group("name").strip('"')
    if not session.settings.owns(name):
        # A Query Service setting (auto_to_json, ...): its own SET handles it.
        text = f"SET {name} = {match.group('value')}"
        return session.service_query(text, values)
    changed = session.set_setting(name, setting_value(match.group("value")))
    return [WireResult.message("SET", parameter_status=changed)]


def reset(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """RESET name | RESET ALL."""
    name = " ".join(match.group("name").split())
    if name.upper() == "ALL":
        changed = session.settings.reset_all()
        session.qs.settings.clear()
    elif name.upper() in ("ROLE", "SESSION AUTHORIZATION"):
        changed = {}
    else:
        changed = session.set_setting(name, None)
    return [WireResult.message("RESET", parameter_status=changed)]


def show(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """SHOW name | SHOW ALL; other SHOW statements (SHOW TABLES) are the Query Service's."""
    name = " ".join(match.group("name").split())
    if name.upper() == "ALL":
        rows = session.settings.rows()
        table = pa.table({"name": [r[0] for r in rows], "setting": [r[1] for r in rows]})
        return [WireResult.of_table(table, "SHOW", counted=False)]
    value = session.settings.get(name)
    if value is not None:
        return [show_result(name, value)]
    try:
        return session.service_query(match.group(0), values)
    except QueryError as exc:
        if exc.sqlstate == "0A000" and re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise QueryError(f'unrecognized configuration parameter "{name}"',
                             sqlstate="42704") from None
        raise


def show_result(name: str, value: str) -> WireResult:
    """SHOW's one row and column."""
    column = session_column_name(name)
    return WireResult.of_table(pa.table({column: [value]}), "SHOW", counted=False)


def session_column_name(name: str) -> str:
    """The column SHOW names after the setting (PostgreSQL: lower case, `TimeZone` kept)."""
    key = Settings.normalise(name)
    return REPORTED.get(key, key)


def discard(session: WireSession, match: Match, values: list[Any]) -> list[WireResult]:
    """DISCARD ALL resets the session (connection pools send it); PLANS, TEMP do nothing."""
    what = match.group("what").upper()
    if what != "ALL":
        return [WireResult.message(f"DISCARD {what}")]
    if session.tx != "I":
        raise QueryError("DISCARD ALL cannot run inside a transaction block", sqlstate="25001")
    changed = session.settings.reset_all()
    session.qs.settings.clear()
    session.qs.variables.clear()
    for cursor in session.cursors.values():
        cursor.stream.close()
    session.cursors.clear()
    session.statements = {k: v for k, v in session.statements.items() if k == ""}
    return [WireResult.message("DISCARD ALL", parameter_status=changed)]
