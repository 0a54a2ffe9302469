"""Database layer: engine/session factories, time-sortable ids, models, migrations.

Models live in :mod:`fedisora.db.models`; schema changes only ever happen via
alembic migrations (:mod:`fedisora.db.migrate`).
"""

from fedisora.db.engine import make_engine, make_sessionmaker, normalize_url, ping
from fedisora.db.ids import id_for_time, new_id, time_of_id

__all__ = [
    "make_engine",
    "make_sessionmaker",
    "normalize_url",
    "ping",
    "new_id",
    "id_for_time",
    "time_of_id",
]
