"""Training, registering and loading never open a network connection."""

from __future__ import annotations

import socket

import pytest

from distillery import Platform
from distillery.ml import load_champion, train
from tests.ml.conftest import FAST


def test_no_connection_leaves_the_machine(ml_platform: Platform, training_set: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"network access attempted: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: guarded(
        socket.socket(), address))
    result = train(ml_platform, training_set, **FAST)
    assert load_champion(ml_platform).version == result.version
    assert attempts == []
