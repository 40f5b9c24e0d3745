"""Fixtures for destinations: an evaluated audience over the scored world, and a real HTTP
endpoint on 127.0.0.1 that misbehaves on purpose, following a script.

The endpoint applies each batch at most once per `Idempotency-Key` (a retried batch gets the
answer of the first), so the tests can see whether anything arrived twice.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from distillery.audiences import Audiences
from tests.audiences.conftest import NOW, World, world  # noqa: F401 (shared fixture)

RULE = "_{tenant}.propensity >= 0.2"  # people 2 ... 9; person 3 refused marketing


@pytest.fixture
def likely(world: World) -> World:  # noqa: F811 (the shared fixture)
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    audiences.evaluate("likely", as_of=NOW)
    return world


@dataclass
class Endpoint:
    """What the test server was told to do and what it saw."""

    url: str = ""
    script: list[str] = field(default_factory=list)
    slow_s: float = 1.0
    reject_once: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def apply(self, key: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        """Apply a batch once per key; a repeated key gets the first answer again."""
        with self.lock:
            if key in self.answers:
                return self.answers[key]
            rejected = []
            for record in payload["records"]:
                rid = record["identities"]["ECID"]
                if rid in self.reject_once:
                    self.reject_once.discard(rid)
                    rejected.append({"id": rid, "reason": "unknown person"})
                else:
                    self.applied.append(record)
            answer = (200, json.dumps({"rejected": rejected}).encode())
            self.answers[key] = answer
            return answer

    def applied_ids(self) -> Counter[str]:
        """How many times each person was applied (any status)."""
        return Counter(r["identities"]["ECID"] for r in self.applied)


class _Handler(BaseHTTPRequestHandler):
    endpoint: Endpoint

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        key = self.headers.get("Idempotency-Key", "")
        action = self.endpoint.next_action()
        with self.endpoint.lock:
            self.endpoint.requests.append({"key": key, "action": action, "body": body,
                                           "headers": dict(self.headers)})
        payload = json.loads(body)
        if action in ("500", "401", "400"):
            self._answer(int(action), b'{"error": "as scripted"}')
        elif action in ("429", "503"):
            self._answer(int(action), b"{}", {"Retry-After": "0"})
        elif action == "echo-auth":
            self._answer(401, f"bad credentials: {self.headers.get('Authorization')}".encode())
        elif action == "timeout":
            self.endpoint.apply(key, payload)  # processed, but the answer comes too late
            time.sleep(self.endpoint.slow_s)
            self._answer(200, b"{}")
        elif action == "drop":
            self._drop()
        elif action == "apply-drop":
            self.endpoint.apply(key, payload)
            self._drop()
        else:
            self._answer(*self.endpoint.apply(key, payload))

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a scripted timeout)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A misbehaving JSON endpoint on a free port of 127.0.0.1, stopped after the test."""
    state = Endpoint()
    handler = type("Handler", (_Handler,), {"endpoint": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/audiences"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
