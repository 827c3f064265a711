"""`sea collect migrate | add-node` and their one-line errors."""

from __future__ import annotations

import sqlalchemy as sa

from sea.cli import main
from sea.collector.auth import token_matches
from sea.collector.db import make_engine
from sea.collector.schema import nodes


def test_add_node_prints_token_once_and_stores_its_hash(tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no --db: sea-collector.db in the current directory
    assert main(["collect", "migrate"]) == 0
    assert "revision 0001" in capsys.readouterr().out
    assert main(["collect", "add-node", "node-7"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    engine = make_engine("sqlite:///sea-collector.db")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(nodes.c.token_sha256)).scalar_one()
    assert token not in stored and len(stored) == 64
    assert token_matches(engine, "node-7", token)
    assert not token_matches(engine, "node-7", token + "x")
    assert not token_matches(engine, "node-8", token)

    assert main(["collect", "add-node", "node-7"]) == 2
    assert "already registered (give it a new token with --replace)" in caplog.text
    assert main(["collect", "add-node", "--replace", "node-7"]) == 0
    assert not token_matches(engine, "node-7", token)
    engine.dispose()


def test_bad_node_id_and_bad_database_are_one_line(tmp_path, caplog):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["collect", "add-node", "--db", db, "../etc"]) == 2
    assert main(["collect", "migrate", "--db", "mysql://nobody@localhost/x"]) == 2
    assert main(["collect", "migrate", "--db", f"sqlite:///{tmp_path}/missing/dir/c.db"]) == 2
    err = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(err) == 3 and all("\n" not in line for line in err), err
    assert "node_id" in err[0] and "mysql" in err[1] and "cannot reach" in err[2]


def test_migrations_build_exactly_the_declared_schema(db_url):
    """schema.py and the shipped migrations agree (a table change needs a new revision)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sea.collector.db import migrate
    from sea.collector.schema import metadata

    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
