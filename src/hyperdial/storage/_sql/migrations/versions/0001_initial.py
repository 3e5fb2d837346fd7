"""Initial schema: studies, directions, attrs, trials, values, params, reports.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables are spelt out here rather than taken from the models so that this revision
# keeps describing the schema as it was, whatever the models become.


# Constraint names follow the naming convention of the models' MetaData, so that later
# revisions can address them by name on every backend.


def _study_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["study_id"], ["studies.study_id"], ondelete="CASCADE", name=f"fk_{table}_study_id_studies"
    )


def _trial_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["trial_id"], ["trials.trial_id"], ondelete="CASCADE", name=f"fk_{table}_trial_id_trials"
    )


def _attr_table(name: str, owner: str) -> None:
    fk = _study_fk(name) if owner == "study_id" else _trial_fk(name)
    op.create_table(
        name,
        sa.Column(owner, sa.Integer, nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value_json", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(owner, "key", name=f"pk_{name}"),
        fk,
    )


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("study_name", sa.String(512), nullable=False),
        sa.Column("next_trial_number", sa.Integer, nullable=False, server_default="0"),
        sa.Column("datetime_create", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("study_id", name="pk_studies"),
        sa.UniqueConstraint("study_name", name="uq_studies_study_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "study_directions",
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("objective", sa.Integer, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("study_id", "objective", name="pk_study_directions"),
        _study_fk("study_directions"),
    )
    _attr_table("study_user_attrs", "study_id")
    _attr_table("study_system_attrs", "study_id")
    op.create_table(
        "trials",
        sa.Column("trial_id", sa.Integer, nullable=False),
        sa.Column("study_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("datetime_start", sa.DateTime, nullable=True),
        sa.Column("datetime_complete", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("trial_id", name="pk_trials"),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_id_number"),
        _study_fk("trials"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_trials_study_id_state_number", "trials", ["study_id", "state", "number"])
    op.create_table(
        "trial_values",
        sa.Column("trial_id", sa.Integer, nullable=False),
        sa.Column("objective", sa.Integer, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("value_type", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("trial_id", "objective", name="pk_trial_values"),
        _trial_fk("trial_values"),
    )
    op.create_table(
        "trial_params",
        sa.Column("trial_id", sa.Integer, nullable=False),
        sa.Column("param_name", sa.String(512), nullable=False),
        sa.Column("param_value", sa.Double, nullable=True),
        sa.Column("distribution_json", sa.Text, nullable=True),
        sa.Column("external_json", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("trial_id", "param_name", name="pk_trial_params"),
        _trial_fk("trial_params"),
    )
    op.create_table(
        "trial_intermediate_values",
        sa.Column("trial_id", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("value_type", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("trial_id", "step", name="pk_trial_intermediate_values"),
        _trial_fk("trial_intermediate_values"),
    )
    _attr_table("trial_user_attrs", "trial_id")
    _attr_table("trial_system_attrs", "trial_id")


def downgrade() -> None:
    for name in (
        "trial_system_attrs",
        "trial_user_attrs",
        "trial_intermediate_values",
        "trial_params",
        "trial_values",
    ):
        op.drop_table(name)
    op.drop_index("ix_trials_study_id_state_number", table_name="trials")
    for name in ("trials", "study_system_attrs", "study_user_attrs", "study_directions"):
        op.drop_table(name)
    op.drop_table("studies")
