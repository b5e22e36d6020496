"""Search: the database's own full-text engine, or Elasticsearch when ``ELASTICSEARCH_URL`` is set.

``es_client()`` returns an object with the two calls the app makes, shaped like the official
Elasticsearch client's: ``index(index=, id=, body=)`` (the guide's call, verbatim) and
``search_ids(query, limit)``. The database one writes ``SearchEntry`` rows; PostgreSQL matches them
with a generated ``tsvector`` column and its GIN index, SQLite with an FTS5 table (migration 0002).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from threads.models import SearchEntry


class DatabaseIndex:
    """Full-text search in the database's own engine."""

    def index(self, index: str, id: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Upsert the entry for ``(body['type'], id)``; ``index`` is accepted for the client's shape."""
        created_at = body.get("created_at")
        if isinstance(created_at, str):
            created_at = datetime.fromisoformat(created_at)
        _, created = SearchEntry.objects.update_or_create(
            content_type=body.get("type", "post"),
            content_id=int(id),
            defaults={
                "text": body.get("content", ""),
                "author": body.get("author", ""),
                "created_at": created_at,
            },
        )
        return {"result": "created" if created else "updated", "_id": str(id)}

    def delete(self, content_type: str, content_id: int) -> None:
        SearchEntry.objects.filter(content_type=content_type, content_id=content_id).delete()

    def search_ids(self, query: str, limit: int = 20, content_type: str = "post") -> list[int]:
        """Ids of matching content, best match first."""
        vendor = connection.vendor
        if vendor == "postgresql":
            sql = (
                "SELECT content_id FROM threads_searchentry "
                "WHERE content_type = %s AND search @@ websearch_to_tsquery('english', %s) "
                "ORDER BY ts_rank(search, websearch_to_tsquery('english', %s)) DESC, created_at DESC LIMIT %s"
            )
            params: list[Any] = [content_type, query, query, limit]
        elif vendor == "sqlite":
            terms = fts5_query(query)
            if not terms:
                return []
            sql = (
                "SELECT e.content_id FROM threads_searchentry_fts f "
                "JOIN threads_searchentry e ON e.id = f.rowid "
                "WHERE threads_searchentry_fts MATCH %s AND e.content_type = %s "
                "ORDER BY f.rank, e.created_at DESC LIMIT %s"
            )
            params = [terms, content_type, limit]
        else:
            qs = SearchEntry.objects.filter(content_type=content_type, text__icontains=query)
            return list(qs.order_by("-created_at").values_list("content_id", flat=True)[:limit])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]


def fts5_query(query: str) -> str:
    """User text as an FTS5 query: every word must match (as a prefix), no FTS5 syntax passes through."""
    words = re.findall(r"\w+", query.lower())
    return " ".join(f'"{word}"*' for word in words[:16])


class ElasticsearchIndex:
    """The official Elasticsearch client (the optional ``elasticsearch`` extra), imported lazily."""

    def __init__(self, url: str, index_name: str) -> None:
        try:
            from elasticsearch import Elasticsearch
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(
                "ELASTICSEARCH_URL is set but the 'elasticsearch' package is not installed: "
                "pip install 'threads-dramatiq[elasticsearch]'"
            ) from exc
        self.client = Elasticsearch(url)
        self.index_name = index_name

    def index(self, index: str, id: Any, body: dict[str, Any]) -> Any:
        return self.client.index(index=index, id=id, body=body)

    def delete(self, content_type: str, content_id: int) -> None:
        self.client.delete(index=self.index_name, id=content_id, ignore_status=404)

    def search_ids(self, query: str, limit: int = 20, content_type: str = "post") -> list[int]:
        response = self.client.search(
            index=self.index_name,
            query={
                "bool": {"must": {"match": {"content": query}}, "filter": {"term": {"type": content_type}}}
            },
            size=limit,
        )
        return [int(hit["_id"]) for hit in response["hits"]["hits"]]


@functools.lru_cache(maxsize=4)
def _elasticsearch(url: str, index_name: str) -> ElasticsearchIndex:
    return ElasticsearchIndex(url, index_name)


def es_client() -> DatabaseIndex | ElasticsearchIndex:
    """The configured search index (read from settings on every call)."""
    if settings.ELASTICSEARCH_URL:
        return _elasticsearch(settings.ELASTICSEARCH_URL, settings.ELASTICSEARCH_INDEX)
    return DatabaseIndex()


def search_post_ids(query: str, limit: int = 20) -> list[int]:
    """Ids of posts matching ``query``, best first."""
    return es_client().search_ids(query, limit=limit, content_type="post")


class ConfiguredIndex:
    """A stand-in for a module-level client object (the guide's ``es_client``), resolved per call."""

    def __getattr__(self, name: str) -> Any:
        return getattr(es_client(), name)
