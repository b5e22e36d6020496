"""The full-text part of the search index, in each database's own engine.

PostgreSQL: a generated ``tsvector`` column on ``threads_searchentry`` with a GIN index.
SQLite: an FTS5 table ``threads_searchentry_fts`` whose rowid is the entry's id, kept in step by
triggers. Other databases get no full-text part (search falls back to ``icontains``).
"""

from django.db import migrations

POSTGRES_UP = [
    "ALTER TABLE threads_searchentry ADD COLUMN search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', coalesce(text, '') || ' ' || coalesce(author, ''))) STORED",
    "CREATE INDEX threads_searchentry_search_gin ON threads_searchentry USING GIN (search)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS threads_searchentry_search_gin",
    "ALTER TABLE threads_searchentry DROP COLUMN IF EXISTS search",
]
SQLITE_UP = [
    "CREATE VIRTUAL TABLE threads_searchentry_fts USING fts5("
    "text, author, content='threads_searchentry', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER threads_searchentry_ai AFTER INSERT ON threads_searchentry BEGIN "
    "INSERT INTO threads_searchentry_fts(rowid, text, author) VALUES (new.id, new.text, new.author); END",
    "CREATE TRIGGER threads_searchentry_ad AFTER DELETE ON threads_searchentry BEGIN "
    "INSERT INTO threads_searchentry_fts(threads_searchentry_fts, rowid, text, author) "
    "VALUES ('delete', old.id, old.text, old.author); END",
    "CREATE TRIGGER threads_searchentry_au AFTER UPDATE ON threads_searchentry BEGIN "
    "INSERT INTO threads_searchentry_fts(threads_searchentry_fts, rowid, text, author) "
    "VALUES ('delete', old.id, old.text, old.author); "
    "INSERT INTO threads_searchentry_fts(rowid, text, author) VALUES (new.id, new.text, new.author); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS threads_searchentry_au",
    "DROP TRIGGER IF EXISTS threads_searchentry_ad",
    "DROP TRIGGER IF EXISTS threads_searchentry_ai",
    "DROP TABLE IF EXISTS threads_searchentry_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("threads", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        )
    ]
