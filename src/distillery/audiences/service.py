"""`Audiences`: the Python API of audiences in one sandbox.

    audiences = Audiences(platform)
    audiences.create("likely", "_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93",
                     ttl_days=60)
    job = audiences.evaluate("likely")          # job.state, job.qualified, job.realized, ...
    audiences.members("likely")                 # Arrow: person_id, status, ...

SQL audiences (`create_sql`, `insert`) are what `CREATE AUDIENCE` and `INSERT INTO AUDIENCE`
run; their members live in a dataset named after the audience.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.audiences import definitions, evaluation, members, sqlaudiences
from distillery.audiences.errors import AudienceError, AudienceExpiredError
from distillery.audiences.store import AudienceRecord, AudienceStore, JobRecord
from distillery.errors import AlreadyExistsError, DistilleryError
from distillery.lake.catalog import now_iso

if TYPE_CHECKING:
    from distillery.audiences.reach import Reach
    from distillery.platform import Platform
    from distillery.sql.service import Session


class Audiences:
    """Create, evaluate and inspect the audiences of one sandbox."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store = AudienceStore(platform.catalog)

    # Definitions ----------------------------------------------------------------------------

    def create(self, name: str, rule: str, *, source: str | None = None,
               identity: str | None = None, namespace: str | None = None,
               events: str | None = None, events_identity: str | None = None,
               ttl_days: int | None = None, schedule: str | None = None,
               description: str = "") -> AudienceRecord:
        """Define a rule audience (PQL). Nothing is evaluated until `evaluate`.

        Args:
            name: Audience name (letters, digits, '_').
            rule: The PQL rule; `{tenant}` stands for the tenant id.
            source: Profile table (default: the unified profile table, else `profiles`).
            identity: The identity field (default: the table's primary identity).
            namespace: Its namespace (default: the identity descriptor's).
            events: Events table for `xEvent` (default: `experience_events`, else `events`).
            events_identity: The events' identity field (default: their primary identity).
            ttl_days: Days a membership stays valid after its evaluation (default: never
                expires; any TTL is shown and enforced, never silent).
            schedule: Cron expression or interval for `evaluate_due`.
            description: Free text.

        Raises:
            RuleError: the rule does not parse or names fields the tables lack.
            AudienceError: a bad name, TTL, schedule, table or identity.
            AlreadyExistsError: the name is taken.
        """
        rec = definitions.new_rule_audience(
            self.platform, name, rule, source=source, identity=identity, namespace=namespace,
            events=events, events_identity=events_identity, ttl_days=ttl_days,
            schedule=schedule, description=description)
        self._check_free(name)
        if rec.schedule:
            rec.next_run_at = _next_run(rec.schedule)
        self.store.add(rec)
        return rec

    def create_sql(self, name: str, query: str, *, primary_identity: str,
                   identity_namespace: str, ttl_days: int | str | None = None,
                   description: str = "", if_not_exists: bool = False,
                   params: dict[str, Any] | None = None,
                   session: Session | None = None) -> tuple[AudienceRecord, JobRecord | None]:
        """`CREATE AUDIENCE name WITH (primary_identity=..., identity_namespace=...) AS query`:
        run the query into the audience's dataset and evaluate it."""
        existing = self.store.find(name)
        if existing is not None and if_not_exists:
            return existing, None
        self._check_free(name)
        return sqlaudiences.create(self.platform, self.store, name, query,
                                   primary_identity=primary_identity,
                                   identity_namespace=identity_namespace,
                                   ttl_days=ttl_days, description=description, params=params,
                                   session=session)

    def insert(self, name: str, query: str, *, overwrite: bool = False,
               params: dict[str, Any] | None = None,
               session: Session | None = None) -> JobRecord:
        """`INSERT INTO AUDIENCE` (add members) or `INSERT OVERWRITE INTO` (replace them)."""
        audience = self.get(name)
        if audience.kind != "sql":
            raise AudienceError(f"audience {name!r} is defined by a rule; only SQL audiences "
                                "take INSERT INTO AUDIENCE")
        return sqlaudiences.insert(self.platform, audience, query, overwrite=overwrite,
                                   params=params, session=session)

    def _check_free(self, name: str) -> None:
        definitions.check_name(name)
        if self.store.find(name) is not None:
            raise AlreadyExistsError(f"audience {name!r} exists already; drop it first or "
                                     "choose another name")

    def get(self, name: str) -> AudienceRecord:
        """An audience by name or id."""
        return self.store.get(name)

    def list(self) -> list[AudienceRecord]:
        """Every audience of the sandbox."""
        return self.store.all()

    def drop(self, name: str, *, if_exists: bool = False) -> AudienceRecord | None:
        """Delete an audience's definition (and a SQL audience's dataset). Its past
        memberships stay in `audience_memberships` as history."""
        audience = self.store.find(name)
        if audience is None:
            if if_exists:
                return None
            self.store.get(name)
        assert audience is not None
        self.store.remove(audience.id)
        if audience.kind == "sql" and self.platform.catalog.find_dataset(audience.source):
            self.platform.drop_dataset(audience.source)
        return audience

    def update(self, name: str, *, ttl_days: Any = ..., schedule: Any = ...,
               description: str | None = None) -> AudienceRecord:
        """Change an audience's TTL, schedule or description (None clears TTL/schedule)."""
        audience = self.get(name)
        values: dict[str, Any] = {"updated_at": now_iso()}
        if ttl_days is not ...:
            values["ttl_days"] = definitions.check_ttl(ttl_days)
        if schedule is not ...:
            values["schedule"] = definitions.check_schedule(schedule)
            values["next_run_at"] = _next_run(values["schedule"]) if values["schedule"] else None
        if description is not None:
            values["description"] = description
        self.store.update(audience.id, **values)
        return self.get(audience.id)

    # Evaluation -----------------------------------------------------------------------------

    def evaluate(self, name: str, *, as_of: datetime | None = None,
                 trigger: str = "manual") -> JobRecord:
        """Run an evaluation job now; see `evaluation.evaluate`."""
        return evaluation.evaluate(self.platform, self.get(name), trigger=trigger, as_of=as_of)

    def evaluate_due(self, now: datetime | None = None) -> builtins.list[JobRecord]:
        """Evaluate every scheduled audience whose next run time has come."""
        moment = now or datetime.now(UTC)
        jobs = []
        for audience in self.store.all():
            if not audience.schedule or not audience.next_run_at:
                continue
            if datetime.fromisoformat(audience.next_run_at) > moment:
                continue
            self.store.update(audience.id, next_run_at=_next_run(audience.schedule, moment))
            jobs.append(evaluation.evaluate(self.platform, audience, trigger="schedule",
                                            as_of=moment))
        return jobs

    def jobs(self, name: str | None = None,
             limit: int | None = None) -> builtins.list[JobRecord]:
        """Evaluation jobs, newest first (of one audience, or all)."""
        audience_id = self.get(name).id if name else None
        return self.store.jobs(audience_id, limit)

    def job(self, key: str | int) -> JobRecord:
        """An evaluation job by id or number."""
        return self.store.job(key)

    def current_job(self, name: str, *, allow_expired: bool = False) -> JobRecord:
        """The evaluation whose membership is current.

        Raises:
            AudienceError: the audience was never evaluated.
            AudienceExpiredError: its membership is older than its TTL.
        """
        audience = self.get(name)
        job = self.store.last_succeeded(audience.id)
        if job is None:
            raise AudienceError(f"audience {audience.name!r} has not been evaluated yet; run "
                                f"`distillery audience evaluate {audience.name}`")
        expires = expires_at(audience, job)
        if expires is not None and not allow_expired and expires <= datetime.now(UTC):
            raise AudienceExpiredError(
                f"audience {audience.name!r}: its membership from evaluation {job.number} "
                f"expired at {expires.isoformat()} (ttl {audience.ttl_days} days); evaluate it "
                "again before using it")
        return job

    def members(self, name: str, *, job: int | None = None, with_exited: bool = False,
                allow_expired: bool = False) -> pa.Table:
        """The membership rows of one evaluation (default: the current one)."""
        number = job if job is not None else self.current_job(
            name, allow_expired=allow_expired).number
        tree = members.of_job("job", with_exited=with_exited,
                              columns=("namespace", "status", "job", "evaluated_at"))
        tree = tree.order_by(exp.column("person_id"))
        return self.platform.sql.select(self.platform.sql.session(), tree,
                                        {"job": number}).arrow()

    # Reach and size -------------------------------------------------------------------------

    def size(self, rule: str, *, source: str | None = None, identity: str | None = None,
             events: str | None = None, events_identity: str | None = None,
             as_of: datetime | None = None) -> int:
        """How many people of the profile table a rule qualifies now (nothing is saved)."""
        from distillery.audiences.reach import rule_size

        return rule_size(self.platform, rule, source=source, identity=identity, events=events,
                         events_identity=events_identity, as_of=as_of)

    def reach(self, *, source: str | None = None, score: str | None = None,
              rule: str | None = None, bins: int = 20, **options: Any) -> Reach:
        """The reach table of a score over profiles; see `reach.reach`."""
        from distillery.audiences.reach import reach

        return reach(self.platform, source=source, score=score, rule=rule, bins=bins, **options)

    # Inspection -----------------------------------------------------------------------------

    def sql_of(self, name: str) -> str:
        """The SQL that selects the audience's members now (engine dialect)."""
        query, _ = definitions.members_query(self.platform, self.get(name))
        return self.platform.sql.compile(query)

    def describe(self, name: str) -> dict[str, Any]:
        """An audience with its TTL, expiry, last evaluation and fields read, for display."""
        audience = self.get(name)
        job = self.store.last_succeeded(audience.id)
        expires = expires_at(audience, job) if job else None
        problem = None
        try:
            _, used = definitions.members_query(self.platform, audience)
        except DistilleryError as exc:  # a table it reads is gone: still describe it
            used, problem = set(), str(exc)
        return {
            "id": audience.id, "name": audience.name, "kind": audience.kind,
            "description": audience.description, "expression": audience.expression,
            "source": audience.source, "identity": audience.identity,
            "namespace": audience.namespace, "options": audience.options,
            "ttl_days": audience.ttl_days,
            "ttl": f"{audience.ttl_days} days" if audience.ttl_days else "none (never expires)",
            "expires_at": expires.isoformat() if expires else None,
            "expired": bool(expires and expires <= datetime.now(UTC)),
            "schedule": audience.schedule, "next_run_at": audience.next_run_at,
            "last_job": job.__dict__ if job else None,
            "fields": sorted(f"{t}.{p}" for t, p in used),
            "problem": problem,
            "created_at": audience.created_at,
        }


def expires_at(audience: AudienceRecord, job: JobRecord | None) -> datetime | None:
    """When a job's membership expires under the audience's TTL (None: never)."""
    if audience.ttl_days is None or job is None or not job.finished_at:
        return None
    return datetime.fromisoformat(job.finished_at) + timedelta(days=audience.ttl_days)


def _next_run(schedule: str, after: datetime | None = None) -> str:
    from distillery.flows import schedule as schedules

    return schedules.next_after(schedule, after or datetime.now(UTC)).isoformat()
