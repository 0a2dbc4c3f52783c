"""The first schema: requests, items, and each item's component scores.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", ID, primary_key=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("run", sa.String(200), nullable=False),
        sa.Column("step", sa.BigInteger),
        sa.Column("weights", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("profile", sa.String(100)),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("elapsed_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_requests_time", "requests", ["time"])
    op.create_index("ix_requests_run", "requests", ["run"])
    op.create_table(
        "items",
        sa.Column("id", ID, primary_key=True),
        sa.Column("request_id", ID, sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run", sa.String(200), nullable=False),
        sa.Column("step", sa.BigInteger),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("group_name", sa.String(200)),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("completion", sa.Text, nullable=False),
        sa.Column("chat", sa.Boolean, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("reward", sa.Float, nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
    )
    op.create_index("ix_items_request_id", "items", ["request_id"])
    op.create_index("ix_items_group_name", "items", ["group_name"])
    op.create_index("ix_items_run_step", "items", ["run", "step"])
    op.create_index("ix_items_run_reward", "items", ["run", "reward"])
    op.create_table(
        "scores",
        sa.Column("id", ID, primary_key=True),
        sa.Column("item_pk", ID, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("error_kind", sa.String(60)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_scores_item_pk", "scores", ["item_pk"])
    op.create_index("ix_scores_name_value", "scores", ["name", "value"])
    op.create_index("ix_scores_error_kind", "scores", ["error_kind"])


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("items")
    op.drop_table("requests")
