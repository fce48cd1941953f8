"""Engine and session factory, SQLite pragmas, and Alembic migrations run from code."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot import metrics
from bot.errors import ConfigError

__all__ = [
    "POOL_SIZE",
    "SchemaOutdated",
    "check_schema",
    "create_engine",
    "head_revision",
    "is_sqlite",
    "masked_url",
    "open_database",
    "problem",
    "session_factory",
    "upgrade",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


POOL_SIZE = 8


class SchemaOutdated(Exception):
    """The database is behind the code's migrations; run `python -m bot db upgrade`."""


async def open_database(url: str, *, migrate: bool) -> AsyncEngine:
    """An engine on a database the bot can use, or ConfigError naming `storage.url` and why.

    Applies the migrations (`migrate`) or checks the schema is at the newest one, then writes
    once (a no-op update) so a read-only file, a missing database or a user without rights
    stops the bot at start with one line instead of failing every message later."""
    engine = create_engine(url)
    try:
        if migrate:
            await upgrade(engine)
        else:
            await check_schema(engine)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except SchemaOutdated as exc:
        await engine.dispose()
        raise ConfigError("storage.url", masked_url(url), f"{exc}; run `python -m bot db upgrade`") from None
    except (DBAPIError, OSError, ValueError) as exc:
        await engine.dispose()
        await _settle_sqlite_threads()
        raise ConfigError("storage.url", masked_url(url), f"cannot use the database: {_reason(exc)}") from None
    return engine


async def _settle_sqlite_threads() -> None:
    """Let aiosqlite's worker threads of failed connections end while the loop still runs.

    aiosqlite 0.22 stops the thread of a connection that failed to open without waiting for
    it; if the event loop closes first (the bot exits right after this error), that thread
    prints a "loop is closed" traceback. Joining it here keeps the error to one line."""
    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    for worker in workers:
        await asyncio.to_thread(worker.join, 2.0)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite, WAL, foreign keys on) or PostgreSQL (asyncpg)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("storage.url", url, "a SQLAlchemy URL like sqlite+aiosqlite:///gpt2bot.db") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS or parsed.drivername != _DRIVERS[backend]:
        allowed = "sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
        raise ConfigError("storage.url", masked_url(url), allowed)
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = f"cannot create the database's folder {folder}: {exc.strerror or exc}"
                raise ConfigError("storage.url", url, reason) from None
        # A fixed pool: SQLite writes one transaction at a time anyway, and every aiosqlite
        # connection is a thread; overflow connections were opened and closed by the hundred.
        engine = create_async_engine(
            parsed, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=0, pool_timeout=60
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(parsed, pool_pre_ping=True)
    _time_statements(engine)
    return engine


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on this engine's database."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def check_schema(engine: AsyncEngine) -> None:
    """Raise SchemaOutdated when the database is not at the newest migration."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    if current != head_revision():
        raise SchemaOutdated(f"database schema is at {current or 'nothing'}, code needs {head_revision()}")


async def problem(engine: AsyncEngine, timeout_s: float = 3.0) -> str | None:
    """Why the database cannot serve right now (unreachable, not migrated), or None: for /readyz."""
    try:
        await asyncio.wait_for(check_schema(engine), timeout_s)
    except SchemaOutdated as exc:
        return f"{exc}; run `python -m bot db upgrade`"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except (OSError, SQLAlchemyError) as exc:
        return f"unreachable ({type(exc).__name__}: {_reason(exc)})"
    return None


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    return head or ""


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _time_statements(engine: AsyncEngine) -> None:
    """Every statement's time goes to gpt2bot_db_query_seconds, labelled by its SQL verb."""

    def before(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        context.gpt2bot_started = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        started = getattr(context, "gpt2bot_started", None)
        if started is not None:
            metrics.DB_QUERY_SECONDS.labels(metrics.sql_verb(statement)).observe(time.perf_counter() - started)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


def masked_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def _reason(exc: BaseException) -> str:
    """The driver's own words (first line), without SQLAlchemy's statement and background link."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text_ = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return text_[:300]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
