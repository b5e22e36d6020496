"""``manage.py scheduler --list``: the counter flush is scheduled by default, interval from settings."""

from io import StringIO

from django.core.management import call_command
from django.test import override_settings

pytestmark = __import__("pytest").mark.django_db  # the database scheduler reads the periodic tasks


def listing() -> str:
    out = StringIO()
    call_command("scheduler", "--list", stdout=out)
    return out.getvalue()


def test_list_shows_the_counter_flush_with_next_three_runs():
    text = listing()
    line = next(li for li in text.splitlines() if li.startswith("batch_update_counters:"))
    assert "task=threads.tasks.batch_update_counters" in line and "every 5s" in line
    following = text.splitlines()[text.splitlines().index(line) + 1]
    assert following.strip().startswith("next:") and following.count(",") == 2


@override_settings(THREADS_COUNTER_FLUSH_INTERVAL=2)
def test_flush_interval_comes_from_settings():
    assert "every 2s" in listing()


@override_settings(THREADS_COUNTER_FLUSH_INTERVAL=0)
def test_flush_can_be_disabled():
    assert "batch_update_counters" not in listing()
