"""`DATABASE_URL` to a Django `DATABASES` entry: dj-database-url parses, this module checks and explains.

Accepted forms:
  postgres://user:password@host:port/name?sslmode=require   (also postgresql://, pgsql://)
  sqlite:///relative/path.sqlite3   (relative to the project directory)
  sqlite:////absolute/path.sqlite3
  sqlite://:memory:
Anything else raises ImproperlyConfigured with a one-line message that never shows the password. The
checks on top of dj-database-url are the ones it leaves out: only the two engines this project ships
drivers for, a database name, a numeric port, a well-formed query string (its values kept as text), and
a relative SQLite path anchored at the project.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
SQLITE_SCHEMES = {"sqlite", "sqlite3"}
KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")


def _masked(url: str) -> str:
    """The URL with any password replaced by ***, for error messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def _malformed(url: str, reason: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"DATABASE_URL is malformed ({reason}): {_masked(url)!r}")


def parse_database_url(url: str, base_dir: Path) -> dict:
    """Return the Django database settings dict that `url` describes."""
    url = url.strip()
    if "://" not in url:
        raise _malformed(url, "expected scheme://..., e.g. postgres://user@host:5432/name")
    scheme, rest = url.split("://", 1)
    if scheme.lower() in SQLITE_SCHEMES:
        if not (rest in (":memory:", "/:memory:") or (rest.startswith("/") and len(rest) > 1)):
            raise _malformed(url, "expected sqlite:///relative/path or sqlite:////absolute/path")
        return _sqlite(_parse(url, "sqlite://" + rest), base_dir)
    if scheme.lower() in POSTGRES_SCHEMES:
        return _postgres(url)
    raise _malformed(url, f"unsupported scheme {scheme.lower()!r}; use postgres:// or sqlite://")


def _parse(url: str, normalised: str) -> dict:
    try:
        return dj_database_url.parse(normalised)
    except ValueError as exc:
        raise _malformed(url, str(exc).split("\n", 1)[0].rstrip(".")) from None


def _sqlite(parsed: dict, base_dir: Path) -> dict:
    name = parsed["NAME"]
    if name != ":memory:":
        name = Path(name) if name.startswith("/") else base_dir / name
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


def _postgres(url: str) -> dict:
    parts = urlsplit(url)
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise _malformed(url, "the port is not a number") from None
    try:
        parse_qsl(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        raise _malformed(url, "the query string is not key=value pairs") from None
    parsed = _parse(url, "postgres://" + url.split("://", 1)[1])
    if not parsed["NAME"] or "/" in parsed["NAME"]:
        raise _malformed(url, "missing or invalid database name after the host")
    db = {key: parsed.get(key, "") for key in KEYS}
    db["PORT"] = str(db["PORT"] or "")
    # Query values as given (dj-database-url makes numbers ints and repeated keys lists: the last wins).
    db["OPTIONS"] = dict(parse_qsl(parts.query))
    return db
