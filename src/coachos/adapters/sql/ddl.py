"""Database-specific guarantees that Core tables cannot express portably."""

from __future__ import annotations

#: PostgreSQL: two active appointments of one coach never overlap, enforced by the index itself.
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap
    EXCLUDE USING gist (coach_id WITH =, tstzrange(starts_at, blocks_until, '[)') WITH &&)
    WHERE (seats_taken > 0)
    """,
]
POSTGRES_DOWN = ["ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap"]

_SQLITE_OVERLAP = """
    EXISTS (
        SELECT 1 FROM appointments AS other
        WHERE other.coach_id = NEW.coach_id
          AND other.id != NEW.id
          AND other.seats_taken > 0
          AND other.starts_at < NEW.blocks_until
          AND other.blocks_until > NEW.starts_at
    )
"""

#: SQLite: the same rule as triggers. Writers are serialized (BEGIN IMMEDIATE), so checking
#: inside the writing transaction cannot race.
SQLITE_UP = [
    f"""
    CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments
    WHEN NEW.seats_taken > 0 AND {_SQLITE_OVERLAP}
    BEGIN SELECT RAISE(ABORT, 'appointments_no_overlap'); END
    """,
    f"""
    CREATE TRIGGER appointments_no_overlap_update
    BEFORE UPDATE OF coach_id, starts_at, blocks_until, seats_taken ON appointments
    WHEN NEW.seats_taken > 0 AND {_SQLITE_OVERLAP}
    BEGIN SELECT RAISE(ABORT, 'appointments_no_overlap'); END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER appointments_no_overlap_insert",
    "DROP TRIGGER appointments_no_overlap_update",
]
