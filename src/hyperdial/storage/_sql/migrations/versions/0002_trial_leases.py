"""Trial leases: when a RUNNING trial's lease runs out unless its worker renews it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: trials started before this revision, and trials started without a lease,
    # never go stale.
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("lease_expires", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("lease_expires")
