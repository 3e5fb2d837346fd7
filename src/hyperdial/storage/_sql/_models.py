"""The SQL schema, as SQLAlchemy Core tables.

The tables mirror the migrations in ``migrations/versions``; a test checks that the two
agree. Every value is a plain column or JSON text, so any SQL client can read a study.

Objective values are kept as a float plus a ``value_type`` tag because SQLite turns NaN
into NULL and some drivers reject infinities; the tag makes ``inf``, ``-inf`` and ``nan``
round-trip on every backend.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "metadata",
    "studies",
    "study_directions",
    "study_system_attrs",
    "study_user_attrs",
    "trial_intermediate_values",
    "trial_params",
    "trial_system_attrs",
    "trial_user_attrs",
    "trial_values",
    "trials",
    "decode_float",
    "encode_float",
]

#: The Alembic revision this code expects; bump it with every new migration.
HEAD_REVISION = "0002"

#: Hyperdial's own version table, so that a database shared with another Alembic-managed
#: application keeps both histories apart.
VERSION_TABLE = "hyperdial_alembic_version"

# Named constraints let later migrations drop or alter them on every backend (SQLite's
# batch mode needs names to find them).
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_NAME_LENGTH = 512


def _study_fk() -> sa.ForeignKey:
    return sa.ForeignKey("studies.study_id", ondelete="CASCADE")


def _trial_fk() -> sa.ForeignKey:
    return sa.ForeignKey("trials.trial_id", ondelete="CASCADE")


studies = sa.Table(
    "studies",
    metadata,
    sa.Column("study_id", sa.Integer, primary_key=True),
    sa.Column("study_name", sa.String(_NAME_LENGTH), nullable=False, unique=True),
    # Counter for trial numbers: bumped in the same transaction as the trial insert so that
    # numbers stay unique and contiguous under any number of writers.
    sa.Column("next_trial_number", sa.Integer, nullable=False, server_default="0"),
    sa.Column("datetime_create", sa.DateTime, nullable=False),
    # AUTOINCREMENT stops SQLite from reusing the id of a deleted study, which a reader's
    # per-process cache could otherwise confuse with the old one.
    sqlite_autoincrement=True,
)

study_directions = sa.Table(
    "study_directions",
    metadata,
    sa.Column("study_id", sa.Integer, _study_fk(), primary_key=True),
    sa.Column("objective", sa.Integer, primary_key=True),
    sa.Column("direction", sa.String(16), nullable=False),
)

study_user_attrs = sa.Table(
    "study_user_attrs",
    metadata,
    sa.Column("study_id", sa.Integer, _study_fk(), primary_key=True),
    sa.Column("key", sa.String(_NAME_LENGTH), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
)

study_system_attrs = sa.Table(
    "study_system_attrs",
    metadata,
    sa.Column("study_id", sa.Integer, _study_fk(), primary_key=True),
    sa.Column("key", sa.String(_NAME_LENGTH), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, _study_fk(), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    # A plain string rather than a CHECK-ed enum so that adding a state later needs no
    # table rebuild on SQLite.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("datetime_start", sa.DateTime, nullable=True),
    sa.Column("datetime_complete", sa.DateTime, nullable=True),
    # When a RUNNING trial counts as abandoned unless its worker renews the lease first,
    # by the database's clock; NULL for a trial without a lease.
    sa.Column("lease_expires", sa.DateTime, nullable=True),
    sa.UniqueConstraint("study_id", "number"),
    sa.Index(None, "study_id", "state", "number"),
    sqlite_autoincrement=True,
)

trial_values = sa.Table(
    "trial_values",
    metadata,
    sa.Column("trial_id", sa.Integer, _trial_fk(), primary_key=True),
    sa.Column("objective", sa.Integer, primary_key=True),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("value_type", sa.String(8), nullable=False),
)

trial_params = sa.Table(
    "trial_params",
    metadata,
    sa.Column("trial_id", sa.Integer, _trial_fk(), primary_key=True),
    sa.Column("param_name", sa.String(_NAME_LENGTH), primary_key=True),
    # The internal float, when the distribution is known.
    sa.Column("param_value", sa.Double, nullable=True),
    sa.Column("distribution_json", sa.Text, nullable=True),
    # The external value as given, for enqueued parameters whose distribution is not known
    # yet (or does not contain them).
    sa.Column("external_json", sa.Text, nullable=True),
)

trial_intermediate_values = sa.Table(
    "trial_intermediate_values",
    metadata,
    sa.Column("trial_id", sa.Integer, _trial_fk(), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("value_type", sa.String(8), nullable=False),
)

trial_user_attrs = sa.Table(
    "trial_user_attrs",
    metadata,
    sa.Column("trial_id", sa.Integer, _trial_fk(), primary_key=True),
    sa.Column("key", sa.String(_NAME_LENGTH), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
)

trial_system_attrs = sa.Table(
    "trial_system_attrs",
    metadata,
    sa.Column("trial_id", sa.Integer, _trial_fk(), primary_key=True),
    sa.Column("key", sa.String(_NAME_LENGTH), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
)

_FINITE, _INF_POS, _INF_NEG, _NAN = "FINITE", "INF_POS", "INF_NEG", "NAN"


def encode_float(value: float) -> tuple[float | None, str]:
    """Return the ``(value, value_type)`` columns for a float."""
    value = float(value)
    if math.isnan(value):
        return None, _NAN
    if math.isinf(value):
        return None, _INF_POS if value > 0 else _INF_NEG
    return value, _FINITE


def decode_float(value: float | None, value_type: str) -> float:
    """Return the float stored as ``(value, value_type)``."""
    if value_type == _FINITE:
        assert value is not None  # the column is only NULL for the special values
        return float(value)
    if value_type == _INF_POS:
        return math.inf
    if value_type == _INF_NEG:
        return -math.inf
    return math.nan
