"""Collector fixtures: a throwaway PostgreSQL server (skipped with the reason when it cannot
start), a database per test on SQLite and on PostgreSQL, and an in-process collector."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("fastapi", reason="the collector tests need the collector extra")

from collector_support import PgServer, Unavailable  # noqa: E402

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = PgServer()
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"sea_test_{next(_databases)}")


@pytest.fixture
def pg_url(pg_server) -> str:
    return pg_server.create_database(f"sea_test_{next(_databases)}")


@pytest.fixture
def collector(db_url):
    """(TestClient, engine) of a collector on `db_url` with node-1 registered; the token is
    client.token."""
    from fastapi.testclient import TestClient

    from sea.collector.app import create_app
    from sea.collector.auth import add_node

    app = create_app(db_url, max_segment_bytes=200_000)
    with TestClient(app) as client:
        client.token = add_node(app.state.engine, "node-1")
        yield client, app.state.engine
    app.state.engine.dispose()
