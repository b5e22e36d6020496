"""Celery's RabbitMQ URL spellings turned into pika connection parameters.

Celery (kombu) reads ``amqp://user:password@host:port/vhost`` differently from pika's own URL parser, and
projects write it Celery's way: ``amqp://guest@localhost//`` is the vhost ``/``, an empty path is ``/``
too, a missing user or password is ``guest``, ``pyamqp://`` is ``amqp://`` and ``amqps://`` is TLS (port
5671). Several URLs separated by ``;`` (or a list) are failover brokers, tried in order.
``broker_use_ssl`` (``True`` or Celery's dict of ``keyfile``, ``certfile``, ``ca_certs``, ``cert_reqs``,
``server_hostname``) turns TLS on for every URL.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pika

from ...exceptions import ImproperlyConfigured

SCHEMES = ("amqp", "pyamqp", "amqps")
#: Query options a URL may carry (kombu's names), with their type.
QUERY_OPTIONS: dict[str, type] = {"heartbeat": int, "connection_timeout": float}
SSL_KEYS = {"keyfile", "certfile", "ca_certs", "cert_reqs", "server_hostname", "ssl_version", "ciphers"}
FAILOVER_STRATEGIES = (None, "round-robin", "shuffle")


def split_urls(url: str | Sequence[str]) -> list[str]:
    """The broker URLs of a ``broker_url`` value: one URL, ``;``-separated URLs or a list of them."""
    items = [url] if isinstance(url, str) else list(url)
    urls = [part.strip() for item in items for part in str(item).split(";") if part.strip()]
    if not urls:
        raise ImproperlyConfigured("broker_url names no RabbitMQ URL")
    return urls


def tls_context(use_ssl: Any) -> tuple[ssl.SSLContext, str | None] | None:
    """The TLS context ``broker_use_ssl`` asks for (None when it is off)."""
    if not use_ssl:
        return None
    options = use_ssl if isinstance(use_ssl, dict) else {}
    if not isinstance(use_ssl, (bool, dict)):
        raise ImproperlyConfigured(f"broker_use_ssl must be True, False or a dict, not {use_ssl!r}")
    unknown = set(options) - SSL_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"broker_use_ssl: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(SSL_KEYS))})"
        )
    context = ssl.create_default_context(cafile=options.get("ca_certs"))
    if options.get("certfile"):
        context.load_cert_chain(options["certfile"], options.get("keyfile"))
    reqs = options.get("cert_reqs", ssl.CERT_REQUIRED)
    if reqs == ssl.CERT_NONE:
        context.check_hostname = False
    context.verify_mode = reqs
    if options.get("ciphers"):
        context.set_ciphers(options["ciphers"])
    return context, options.get("server_hostname")


def parameters(
    url: str, *, use_ssl: Any = False, heartbeat: int | None = None, timeout: float | None = None
) -> pika.ConnectionParameters:
    """pika's parameters for one Celery-style RabbitMQ URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"Invalid RabbitMQ URL {_safe(url)!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ImproperlyConfigured(f"Invalid RabbitMQ URL {_safe(url)!r}: use amqp://, pyamqp:// or amqps://")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - set(QUERY_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(
            f"RabbitMQ URL {_safe(url)!r}: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(QUERY_OPTIONS)})"
        )
    try:
        extra = {name: QUERY_OPTIONS[name](value) for name, value in query.items()}
    except ValueError as exc:
        raise ImproperlyConfigured(f"RabbitMQ URL {_safe(url)!r}: {exc}") from None
    tls = tls_context(True if parts.scheme == "amqps" and not use_ssl else use_ssl)
    vhost = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    options: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port or (5671 if tls else 5672),
        "virtual_host": vhost or "/",
        "credentials": pika.PlainCredentials(
            unquote(parts.username) if parts.username else "guest",
            unquote(parts.password) if parts.password is not None else "guest",
        ),
    }
    beat = extra.get("heartbeat", heartbeat)
    if beat is not None:
        options["heartbeat"] = int(beat)
    wait = extra.get("connection_timeout", timeout)
    if wait:
        options["socket_timeout"] = float(wait)
        options["blocked_connection_timeout"] = max(float(wait), 30.0)
    if tls is not None:
        context, hostname = tls
        options["ssl_options"] = pika.SSLOptions(context, hostname or options["host"])
    return pika.ConnectionParameters(**options)


def from_conf(conf: Any, url: str | Sequence[str]) -> list[pika.ConnectionParameters]:
    """Every failover broker of ``url`` with the app's TLS, heartbeat and timeout settings, in try order."""
    strategy = conf.broker_failover_strategy
    if strategy not in FAILOVER_STRATEGIES:
        raise ImproperlyConfigured(
            f"broker_failover_strategy {strategy!r}: use 'round-robin' (try in order) or 'shuffle'"
        )
    found = [
        parameters(
            item,
            use_ssl=conf.broker_use_ssl,
            heartbeat=conf.broker_heartbeat,
            timeout=conf.broker_connection_timeout,
        )
        for item in split_urls(url)
    ]
    if strategy == "shuffle":
        random.shuffle(found)
    return found


def _safe(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
