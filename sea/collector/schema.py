"""The collector's tables (SQLAlchemy Core). Changing them needs a new Alembic revision under
migrations/versions: the database is created and upgraded only through migrations.

Times are integer epoch milliseconds (`t_ms`): hour buckets are integer division on SQLite and
PostgreSQL alike, and the dashboard's plots take epoch numbers directly.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite gives autoincrement only to INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

nodes = sa.Table(
    "nodes", metadata,
    sa.Column("node_id", sa.String(128), primary_key=True),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger),
)

segments = sa.Table(
    "segments", metadata,
    sa.Column("node_id", sa.String(128), sa.ForeignKey("nodes.node_id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("model_id", sa.String(256), nullable=False),
    sa.Column("bundle_sha256", sa.String(64), nullable=False),
    sa.Column("hop_seconds", sa.Float, nullable=False),
    sa.Column("classes", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("n_windows", sa.Integer, nullable=False),
)

windows = sa.Table(
    "windows", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("node_id", sa.String(128), sa.ForeignKey("nodes.node_id"), nullable=False),
    sa.Column("idx", sa.BigInteger, nullable=False),  # the node-global window index
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("t_ms", sa.BigInteger, nullable=False),
    sa.Column("laeq", sa.Float),
    sa.Column("lafmax", sa.Float),
    sa.Column("lceq", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("top_label", sa.String(256)),
    sa.Column("top_prob", sa.Float),
    sa.Column("top", sa.JSON),
    sa.Column("model_id", sa.String(256), nullable=False),
    sa.Column("embedding", sa.LargeBinary),  # float32 little-endian
    sa.UniqueConstraint("node_id", "idx", name="uq_windows_node_idx"),
    sa.Index("ix_windows_node_t", "node_id", "t_ms"),
    sa.Index("ix_windows_t", "t_ms"),
    sa.Index("ix_windows_model_id", "model_id", "id"),
)

periods = sa.Table(
    "periods", metadata,
    sa.Column("node_id", sa.String(128), sa.ForeignKey("nodes.node_id"), primary_key=True),
    sa.Column("start_idx", sa.BigInteger, primary_key=True),
    sa.Column("end_idx", sa.BigInteger, nullable=False),
    sa.Column("t_ms", sa.BigInteger, nullable=False),
    sa.Column("laeq", sa.Float),
    sa.Column("top", sa.JSON, nullable=False),
)
