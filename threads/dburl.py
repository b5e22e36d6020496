"""Parse `DATABASE_URL` into a Django `DATABASES` entry.

Accepted forms:
  postgres://user:password@host:port/name?sslmode=require   (also postgresql://, pgsql://)
  sqlite:///relative/path.sqlite3   (relative to the project directory)
  sqlite:////absolute/path.sqlite3
  sqlite://:memory:
Anything else raises ImproperlyConfigured with a one-line message.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
SQLITE_SCHEMES = {"sqlite", "sqlite3"}


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
    scheme = url.split("://", 1)[0].lower()
    if scheme in SQLITE_SCHEMES:
        return _parse_sqlite(url, base_dir)
    if scheme in POSTGRES_SCHEMES:
        return _parse_postgres(url)
    raise _malformed(url, f"unsupported scheme {scheme!r}; use postgres:// or sqlite://")


def _parse_sqlite(url: str, base_dir: Path) -> dict:
    rest = url.split("://", 1)[1]
    if rest in (":memory:", "/:memory:"):
        name: str | Path = ":memory:"
    elif rest.startswith("/") and len(rest) > 1:
        path = unquote(rest[1:].split("?", 1)[0])
        name = Path(path) if path.startswith("/") else base_dir / path
    else:
        raise _malformed(url, "expected sqlite:///relative/path or sqlite:////absolute/path")
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


def _parse_postgres(url: str) -> dict:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise _malformed(url, "the port is not a number") from None
    name = unquote(parts.path.lstrip("/"))
    if not name or "/" in name:
        raise _malformed(url, "missing or invalid database name after the host")
    try:
        options = dict(parse_qsl(parts.query, keep_blank_values=False, strict_parsing=bool(parts.query)))
    except ValueError:
        raise _malformed(url, "the query string is not key=value pairs") from None
    host = unquote(parts.hostname or "") if parts.hostname else options.pop("host", "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port) if port else "",
        "OPTIONS": options,
    }
