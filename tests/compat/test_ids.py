"""``compat.utils.ids.uuid4_str``: what ``str(uuid.uuid4())`` gives, for task ids users parse and store."""

from __future__ import annotations

import uuid

from compat.utils.ids import uuid4_str


def test_ids_are_random_version_4_uuids_in_their_usual_text_form():
    ids = [uuid4_str() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lowercase, hyphenated 8-4-4-4-12
    assert {text[19] for text in ids} == set("89ab")  # every variant digit occurs: the bits are random


def test_task_ids_from_delay_are_uuid4_strings():
    from compat import Celery

    app = Celery("ids", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task
    def echo(x):
        return x

    result = echo.delay(1)
    assert uuid.UUID(result.id).version == 4 and app.new_id() != result.id
