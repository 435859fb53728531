"""conversations.sla_due_at and the queue views' indexes (keyset paging at a million rows)

Revision ID: 0005_web
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import inbox.models

revision = "0005_web"
down_revision = "0001"
branch_labels = None
depends_on = None

NO_DUE = inbox.models.NO_DUE
QUEUE_INDEXES = {
    "ix_conversations_sla": ["status", "sla_due_at", "id"],
    "ix_conversations_assignee_sla": ["assignee", "status", "sla_due_at", "id"],
    "ix_conversations_team_sla": ["team", "status", "sla_due_at", "id"],
    "ix_conversations_priority": ["status", "priority", "sla_due_at", "id"],
    "ix_conversations_activity_id": ["status", "last_activity_at", "id"],
}


def upgrade() -> None:
    when = inbox.models.UTCDateTime(timezone=True)
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("sla_due_at", when, nullable=True))
    table = sa.table(
        "conversations",
        sa.column("status", sa.String()),
        sa.column("first_response_at", when),
        sa.column("first_response_due", when),
        sa.column("resolution_due", when),
        sa.column("sla_due_at", when),
    )
    due = sa.case(
        (table.c.status == "resolved", sa.null()),
        (
            sa.and_(table.c.first_response_at.is_(None), table.c.first_response_due.isnot(None)),
            table.c.first_response_due,
        ),
        else_=table.c.resolution_due,
    )
    op.execute(table.update().values(sla_due_at=sa.func.coalesce(due, sa.literal(NO_DUE, when))))
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("sla_due_at", existing_type=when, nullable=False)
    for name, columns in QUEUE_INDEXES.items():
        op.create_index(name, "conversations", columns, unique=False)


def downgrade() -> None:
    for name in QUEUE_INDEXES:
        op.drop_index(name, table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("sla_due_at")
