"""update_search_index through the official Elasticsearch client, tested at its HTTP boundary.

A local HTTP server answers like Elasticsearch; the test checks what the client sends (the guide's
``es_client.index(index="content", id=..., body=...)``) and how search results come back.
Skipped when the optional ``elasticsearch`` extra is not installed.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.threads.support import make_user
from threads.models import Post, SearchEntry
from threads.services.search import search_post_ids
from threads.tasks import update_search_index

pytest.importorskip("elasticsearch")
pytestmark = pytest.mark.django_db


class FakeElasticsearch:
    def __init__(self, hits: list[int]):
        self.requests: list[tuple[str, str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.elasticsearch+json; compatible-with=9")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append((self.command, self.path, body))
                if "/_search" in self.path:
                    self._answer(
                        {
                            "took": 1,
                            "timed_out": False,
                            "hits": {
                                "total": {"value": len(hits), "relation": "eq"},
                                "hits": [{"_index": "content", "_id": str(h), "_score": 1.0} for h in hits],
                            },
                        }
                    )
                else:
                    self._answer(
                        {
                            "_index": "content",
                            "_id": self.path.rsplit("/", 1)[-1],
                            "_version": 1,
                            "result": "created",
                            "_shards": {"total": 1, "successful": 1, "failed": 0},
                            "_seq_no": 0,
                            "_primary_term": 1,
                        }
                    )

            do_PUT = do_POST = do_GET = _handle  # noqa: N815 - http.server's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_index_and_search_go_to_elasticsearch(eager):
    post = Post.objects.create(author=make_user("esauthor"), content="Indexed in Elasticsearch")
    fake = FakeElasticsearch(hits=[post.pk])
    try:
        eager.ELASTICSEARCH_URL = fake.url
        update_search_index.delay(post.pk, "post")
        assert search_post_ids("elasticsearch") == [post.pk]
    finally:
        fake.close()
    (method, path, body), (search_method, search_path, query) = fake.requests
    assert (method, path) == ("PUT", f"/content/_doc/{post.pk}")
    assert body["content"] == "Indexed in Elasticsearch" and body["author"] == "esauthor"
    assert body["type"] == "post" and body["created_at"].startswith(str(post.created_at.date()))
    assert search_path.startswith("/content/_search")
    assert query["query"]["bool"]["must"]["match"]["content"] == "elasticsearch"
    assert not SearchEntry.objects.exists()  # the database index is not used
