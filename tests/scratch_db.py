"""Scratch databases for tests that run Django in other processes (migrations, scheduler daemons).

On PostgreSQL (``DATABASE_URL=postgres://...``) each one is a new database on that server, named after
the branch's database plus a random suffix, dropped afterwards; otherwise a SQLite file under pytest's tmp.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.split("://", 1)[0] in ("postgres", "postgresql", "pgsql") else None


@contextlib.contextmanager
def scratch_database(tmp_path: Path, label: str) -> Iterator[str]:
    """Yield a ``DATABASE_URL`` for an empty database of its own."""
    base = postgres_url()
    if base is None:
        yield f"sqlite:///{tmp_path / (label + '.sqlite3')}"
        return
    import psycopg

    parts = urlsplit(base)
    name = f"{(parts.path.lstrip('/') or 'scratch')[:30]}_{label}_{uuid.uuid4().hex[:8]}"
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
