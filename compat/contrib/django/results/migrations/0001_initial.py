"""django-celery-results' tables, created only where they are missing.

A project that ran django-celery-results' own migrations already has these tables, with rows in them. So
this migration declares the models to Django's migration state (``state_operations``) but, in the
database, only creates what is not there yet (``database_operations``): each missing table, in a table
that exists each missing column (a database last migrated by an older django-celery-results gets the
columns added since, with their defaults), and each missing index. Existing tables and rows are never
altered or dropped, and no column either, but one: ``hidden``, a NOT NULL column of django-celery-results
before 1.1 that its own migration 0007 drops (with it no row could be added). Unapplying this migration
leaves the tables alone. The result, on a new or
an existing database, is django-celery-results 2.6's layout: ``tests/compat/test_django_results_tables.py``
compares the two column by column.
"""

from django.db import migrations, models

MODELS = ("TaskResult", "GroupResult", "ChordCounter")


def create_missing(apps, schema_editor):
    """Create each missing table; in a table that exists, each missing column and index."""
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    for name in MODELS:
        model = apps.get_model("compat_results", name)
        table = model._meta.db_table
        if table not in existing:
            schema_editor.create_model(model)
            continue
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            constraints = set(connection.introspection.get_constraints(cursor, table))
        for field in model._meta.local_fields:
            if field.column not in columns:
                add_column(schema_editor, model, field)
        if name == "TaskResult" and "hidden" in columns:  # django-celery-results < 1.1's NOT NULL column,
            drop_column(schema_editor, table, "hidden")  # which its own 0007 drops: rows could not be added
            with connection.cursor() as cursor:
                constraints = set(connection.introspection.get_constraints(cursor, table))
        for index in model._meta.indexes:
            if index.name not in constraints:
                schema_editor.add_index(model, index)


def drop_column(schema_editor, table, column):
    """Drop ``column`` and, first, its indexes (SQLite does not drop them with it)."""
    connection, quote = schema_editor.connection, schema_editor.quote_name
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    for index, info in found.items():
        if info["columns"] == [column] and info["index"] and not info["primary_key"]:
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(index)}")
    schema_editor.execute(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}")


def add_column(schema_editor, model, field):
    """``ALTER TABLE ... ADD COLUMN``; on SQLite without Django's table rebuild (which would copy the
    column from the full historical model, then add it a second time)."""
    if schema_editor.connection.vendor != "sqlite":
        schema_editor.add_field(model, field)
        return
    definition, params = schema_editor.column_sql(model, field, include_default=True)
    table, column = schema_editor.quote_name(model._meta.db_table), schema_editor.quote_name(field.column)
    schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}", params)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ChordCounter",
                    fields=[
                        (
                            "id",
                            models.AutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("group_id", models.CharField(max_length=255, unique=True, verbose_name="Group ID")),
                        ("sub_tasks", models.TextField()),
                        ("count", models.PositiveIntegerField()),
                    ],
                    options={
                        "db_table": "django_celery_results_chordcounter",
                    },
                ),
                migrations.CreateModel(
                    name="GroupResult",
                    fields=[
                        (
                            "id",
                            models.AutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("group_id", models.CharField(max_length=255, unique=True, verbose_name="Group ID")),
                        (
                            "date_created",
                            models.DateTimeField(auto_now_add=True, verbose_name="Created DateTime"),
                        ),
                        ("date_done", models.DateTimeField(auto_now=True, verbose_name="Completed DateTime")),
                        (
                            "content_type",
                            models.CharField(max_length=128, verbose_name="Result Content Type"),
                        ),
                        ("content_encoding", models.CharField(max_length=64, verbose_name="Result Encoding")),
                        (
                            "result",
                            models.TextField(
                                default=None, editable=False, null=True, verbose_name="Result Data"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "group result",
                        "verbose_name_plural": "group results",
                        "db_table": "django_celery_results_groupresult",
                        "ordering": ["-date_done"],
                        "indexes": [
                            models.Index(fields=["date_created"], name="django_cele_date_cr_bd6c1d_idx"),
                            models.Index(fields=["date_done"], name="django_cele_date_do_caae0e_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="TaskResult",
                    fields=[
                        (
                            "id",
                            models.AutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("task_id", models.CharField(max_length=255, unique=True, verbose_name="Task ID")),
                        (
                            "periodic_task_name",
                            models.CharField(max_length=255, null=True, verbose_name="Periodic Task Name"),
                        ),
                        ("task_name", models.CharField(max_length=255, null=True, verbose_name="Task Name")),
                        ("task_args", models.TextField(null=True, verbose_name="Task Positional Arguments")),
                        ("task_kwargs", models.TextField(null=True, verbose_name="Task Named Arguments")),
                        (
                            "status",
                            models.CharField(default="PENDING", max_length=50, verbose_name="Task State"),
                        ),
                        (
                            "worker",
                            models.CharField(default=None, max_length=100, null=True, verbose_name="Worker"),
                        ),
                        (
                            "content_type",
                            models.CharField(max_length=128, verbose_name="Result Content Type"),
                        ),
                        ("content_encoding", models.CharField(max_length=64, verbose_name="Result Encoding")),
                        (
                            "result",
                            models.TextField(
                                default=None, editable=False, null=True, verbose_name="Result Data"
                            ),
                        ),
                        (
                            "date_created",
                            models.DateTimeField(auto_now_add=True, verbose_name="Created DateTime"),
                        ),
                        (
                            "date_started",
                            models.DateTimeField(default=None, null=True, verbose_name="Started DateTime"),
                        ),
                        ("date_done", models.DateTimeField(auto_now=True, verbose_name="Completed DateTime")),
                        ("traceback", models.TextField(blank=True, null=True, verbose_name="Traceback")),
                        (
                            "meta",
                            models.TextField(
                                default=None, editable=False, null=True, verbose_name="Task Meta Information"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "task result",
                        "verbose_name_plural": "task results",
                        "db_table": "django_celery_results_taskresult",
                        "ordering": ["-date_done"],
                        "indexes": [
                            models.Index(fields=["task_name"], name="django_cele_task_na_08aec9_idx"),
                            models.Index(fields=["status"], name="django_cele_status_9b6201_idx"),
                            models.Index(fields=["worker"], name="django_cele_worker_d54dd8_idx"),
                            models.Index(fields=["date_created"], name="django_cele_date_cr_f04a50_idx"),
                            models.Index(fields=["date_done"], name="django_cele_date_do_f59aad_idx"),
                            models.Index(
                                fields=["periodic_task_name"], name="django_cele_periodi_1993cf_idx"
                            ),
                        ],
                    },
                ),
            ],
        ),
        # Then, in the database, only what is missing (see the module docstring).
        migrations.RunPython(create_missing, migrations.RunPython.noop),
    ]
