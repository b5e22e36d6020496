"""The search index."""

from __future__ import annotations

from typing import Any

from compat import shared_task
from threads.services.content import get_content
from threads.services.search import ConfiguredIndex

es_client = ConfiguredIndex()  # the database's full-text index, or Elasticsearch (ELASTICSEARCH_URL)


@shared_task(name="threads.tasks.update_search_index")
def update_search_index(first: Any, second: Any = "post") -> dict[str, Any]:
    """Index a post or comment. Two call shapes:

    * ``update_search_index(content_id, content_type)`` — the guide's definition (``content_type`` is
      ``"post"`` or ``"comment"``);
    * ``update_search_index(previous_result, post_id)`` — chained as ``update_search_index.s(post_id)`` in
      ``post_created_event``, so Celery prepends ``notify_followers``' result: a post is indexed.

    The second argument tells them apart: a string is a content type, an integer a post id.
    Returns ``{"content_id", "content_type", "indexed"}``.
    """
    if isinstance(second, str):
        content_id, content_type = first, second
    else:
        content_id, content_type = second, "post"
    content = get_content(content_id, content_type)

    # update Elasticsearch (or the database's own full-text index: same call)
    es_client.index(
        index="content",
        id=content_id,
        body={
            "content": content.text,
            "author": content.author_name,
            "created_at": content.created_at,
            "type": content_type
        }
    )
    return {"content_id": content_id, "content_type": content_type, "indexed": True}
