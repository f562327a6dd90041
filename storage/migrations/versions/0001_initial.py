"""initial schema: counsellors, invites, clients and their six dimensions, pending input,
processed updates

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Instants: timestamptz on PostgreSQL; on SQLite the ORM's UTCDateTime stores naive UTC.
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "counsellors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("timezone", sa.String(64), server_default="Asia/Shanghai", nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("client_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["counsellors.id"],
            name="fk_counsellors_supervisor_id_counsellors",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_counsellors"),
        sa.UniqueConstraint("telegram_id", name="uq_counsellors_telegram_id"),
    )

    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["counsellors.id"],
            name="fk_invites_created_by_counsellors",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["counsellors.id"],
            name="fk_invites_used_by_counsellors",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("code_hash", name="uq_invites_code_hash"),
    )

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sid", sa.String(64), nullable=True),
        sa.Column("major", sa.String(200), nullable=True),
        sa.Column("grade", sa.String(64), nullable=True),
        sa.Column("trust", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("risk", sa.String(16), server_default="low", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_contact_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_clients_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
        sa.UniqueConstraint("counsellor_id", "number", name="uq_clients_counsellor_id_number"),
    )
    op.create_index("ix_clients_counsellor_id_name", "clients", ["counsellor_id", "name"])
    op.create_index(
        "ix_clients_counsellor_id_last_contact_at", "clients", ["counsellor_id", "last_contact_at"]
    )

    op.create_table(
        "client_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_client_tags_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_client_tags"),
        sa.UniqueConstraint("client_id", "tag", name="uq_client_tags_client_id_tag"),
    )
    op.create_index("ix_client_tags_tag", "client_tags", ["tag"])

    op.create_table(
        "needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_needs_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_needs"),
    )
    op.create_index("ix_needs_client_id_created_at", "needs", ["client_id", "created_at"])

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("notes_enc", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_interactions_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
    )
    op.create_index("ix_interactions_client_id_at", "interactions", ["client_id", "at"])

    op.create_table(
        "plan_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_plan_items_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_items"),
    )
    op.create_index("ix_plan_items_client_id_due_at", "plan_items", ["client_id", "due_at"])
    op.create_index(
        "ix_plan_items_due_at_open",
        "plan_items",
        ["due_at"],
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )

    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old", sa.String(32), nullable=True),
        sa.Column("new", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_status_changes_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_status_changes_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_changes"),
    )
    op.create_index("ix_status_changes_client_id_at", "status_changes", ["client_id", "at"])
    op.create_index("ix_status_changes_counsellor_id", "status_changes", ["counsellor_id"])

    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("resource_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_referrals_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
    )
    op.create_index("ix_referrals_client_id_created_at", "referrals", ["client_id", "created_at"])

    op.create_table(
        "pending_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_pending_inputs_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pending_inputs"),
    )
    op.create_index(
        "ix_pending_inputs_counsellor_id_kind",
        "pending_inputs",
        ["counsellor_id", "kind", "created_at"],
    )
    op.create_index("ix_pending_inputs_expires_at", "pending_inputs", ["expires_at"])

    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_processed_updates"),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])


def downgrade() -> None:
    for table in (
        "processed_updates",
        "pending_inputs",
        "referrals",
        "status_changes",
        "plan_items",
        "interactions",
        "needs",
        "client_tags",
        "clients",
        "invites",
        "counsellors",
    ):
        op.drop_table(table)
