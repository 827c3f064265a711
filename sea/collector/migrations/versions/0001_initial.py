"""Initial schema: nodes, segments, windows (unique per node and index), periods.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(128), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger),
    )
    op.create_table(
        "segments",
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
    op.create_table(
        "windows",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("node_id", sa.String(128), sa.ForeignKey("nodes.node_id"), nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
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
        sa.Column("embedding", sa.LargeBinary),
        sa.UniqueConstraint("node_id", "idx", name="uq_windows_node_idx"),
    )
    op.create_index("ix_windows_node_t", "windows", ["node_id", "t_ms"])
    op.create_index("ix_windows_t", "windows", ["t_ms"])
    op.create_index("ix_windows_model_id", "windows", ["model_id", "id"])
    op.create_table(
        "periods",
        sa.Column("node_id", sa.String(128), sa.ForeignKey("nodes.node_id"), primary_key=True),
        sa.Column("start_idx", sa.BigInteger, primary_key=True),
        sa.Column("end_idx", sa.BigInteger, nullable=False),
        sa.Column("t_ms", sa.BigInteger, nullable=False),
        sa.Column("laeq", sa.Float),
        sa.Column("top", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("periods", "windows", "segments", "nodes"):
        op.drop_table(table)
