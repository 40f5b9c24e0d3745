"""The client of HTTP destinations: one POST per batch, retried with backoff, keyed for
idempotency. Secrets are resolved when the run opens and masked in everything it records."""

from __future__ import annotations

import hashlib
import json
import os
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pyarrow as pa

from distillery.destinations.base import (
    REJECTIONS,
    STATUS_COLUMN,
    DestinationClient,
    DestinationError,
    SendOutcome,
)
from distillery.destinations.http import SECRET_REF, HttpSpec
from distillery.errors import ConfigError

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
STOP_STATUSES = {401, 403, 404, 405, 410}
_BODY_SHOWN = 200


class HttpClient(DestinationClient):
    """POSTs JSON batches; see `distillery.destinations.http` for the protocol."""

    def open(self) -> None:
        spec = self.spec
        self._secrets: list[str] = []
        headers = {"Content-Type": "application/json", "User-Agent": "distillery"}
        for name, value in spec.headers.items():
            headers[name] = self._resolve(value, f"header {name!r}")
        if spec.token:
            headers["Authorization"] = "Bearer " + self._resolve(spec.token, "token")
        self._http = httpx.Client(timeout=spec.timeout_s, headers=headers,
                                  follow_redirects=False)
        self._sequence = 0

    @property
    def spec(self) -> HttpSpec:
        spec = self.destination.spec
        assert isinstance(spec, HttpSpec)
        return spec

    def _resolve(self, value: str, what: str) -> str:
        ref = SECRET_REF.match(value)
        if ref is None:
            return value
        kind, key = ref.groups()
        if kind == "env":
            found = os.environ.get(key)
            if not found:
                raise ConfigError(f"destination {self.destination.name!r}: {what} comes from "
                                  f"environment variable {key}, which is not set")
        else:
            from distillery.flows.connections import SECRETS_FILE, read_secrets_file

            stored = read_secrets_file(self.context.home)
            if key not in stored:
                raise ConfigError(f"destination {self.destination.name!r}: {what} names secret "
                                  f"{key!r}, which is not in {self.context.home / SECRETS_FILE}")
            found = str(stored[key])
        self._secrets.append(found)
        return found

    def redact(self, text: str) -> str:
        """`text` with every resolved secret masked."""
        for value in sorted(self._secrets, key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text

    # Sending ---------------------------------------------------------------------------------

    def send(self, batch: pa.RecordBatch) -> SendOutcome:
        self._sequence += 1
        rows = batch.to_pylist()
        records = [self._record(row) for row in rows]
        key = idempotency_key(self.destination.name, self.context.audience.id, records,
                              [row.get(REJECTIONS, 0) for row in rows])
        body = json.dumps({
            "destination": self.destination.name,
            "audience": {"id": self.context.audience.id, "name": self.context.audience.name},
            "batch": {"id": key, "sequence": self._sequence, "run": self.context.run_id,
                      "size": len(records)},
            "records": records,
        }, sort_keys=True, default=str).encode()
        return self._post(body, key, [r["identities"][self._primary] for r in records])

    @property
    def _primary(self) -> str:
        return self.context.identity_columns[0]

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "identities": {c: row.get(c) for c in self.context.identity_columns
                           if row.get(c) is not None},
            "attributes": {c: row.get(c) for c in self.context.attribute_columns},
            "status": row.get(STATUS_COLUMN),
        }

    def _post(self, body: bytes, key: str, ids: list[str]) -> SendOutcome:
        seen: list[Any] = []
        spec = self.spec
        for attempt in range(1, spec.max_attempts + 1):
            try:
                response = self._http.post(self.spec.url, content=body,
                                           headers={"Idempotency-Key": key})
            except httpx.TimeoutException:
                seen.append("timeout")
                self._wait(attempt, None)
                continue
            except httpx.TransportError as exc:
                seen.append(f"connection error: {self.redact(type(exc).__name__)}")
                self._wait(attempt, None)
                continue
            seen.append(response.status_code)
            outcome = self._answer(response, key, ids, seen, attempt)
            if outcome is not None:
                return outcome
        return SendOutcome(failed=True, details={"key": key, "attempts": len(seen),
                                                 "statuses": seen, "outcome": "failed"})

    def _answer(self, response: httpx.Response, key: str, ids: list[str], seen: list[Any],
                attempt: int) -> SendOutcome | None:
        """The batch's outcome, or None to try again (after waiting)."""
        status = response.status_code
        details = {"key": key, "attempts": len(seen), "statuses": seen}
        if 200 <= status < 300:
            rejected = _rejected(response, set(ids))
            return SendOutcome(rejected=rejected, details={
                **details, "outcome": "accepted" if not rejected else "partly rejected"})
        if status in STOP_STATUSES:
            raise DestinationError(f"destination {self.destination.name!r} answered HTTP "
                                   f"{status} ({self._short(response)}); check its URL and "
                                   "credentials", status=status)
        if status in RETRY_STATUSES:
            if attempt < self.spec.max_attempts:
                self._wait(attempt, response.headers.get("Retry-After"))
            return None
        reason = f"HTTP {status}: {self._short(response)}"
        return SendOutcome(rejected=dict.fromkeys(ids, reason),
                           details={**details, "outcome": "rejected"})

    def _short(self, response: httpx.Response) -> str:
        return self.redact(response.text[:_BODY_SHOWN].replace("\n", " "))

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        if attempt >= self.spec.max_attempts:
            return
        delay = min(self.spec.max_backoff_s, self.spec.backoff_s * 2 ** (attempt - 1))
        asked = _retry_after(retry_after)
        if asked is not None:
            delay = min(self.spec.max_backoff_s, max(asked, 0.0))
        time.sleep(delay)

    def close(self, ok: bool) -> dict[str, Any]:
        self._http.close()
        return {"url": _display(self.spec.url), "batches": self._sequence}


def idempotency_key(destination: str, audience_id: str, records: list[dict[str, Any]],
                    rejections: list[int] | None = None) -> str:
    """A key that is the same whenever the same records go to the same place, until the
    endpoint has rejected one of them (sending it again is then a new delivery)."""
    digest = hashlib.sha256()
    digest.update(f"{destination}\x1f{audience_id}\x1f".encode())
    digest.update(json.dumps(records, sort_keys=True, default=str).encode())
    digest.update(json.dumps(rejections or []).encode())
    return digest.hexdigest()[:40]


def _rejected(response: httpx.Response, ids: set[str]) -> dict[str, str]:
    try:
        data = response.json()
    except ValueError:
        return {}
    items = data.get("rejected", []) if isinstance(data, dict) else []
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        rid, reason = (item.get("id"), str(item.get("reason", "rejected"))) \
            if isinstance(item, dict) else (item, "rejected")
        if isinstance(rid, str) and rid in ids:
            out[rid] = reason[:_BODY_SHOWN]
    return out


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.timestamp() - time.time()


def _display(url: str) -> str:
    from distillery.flows.storage import display_url

    return display_url(url)
