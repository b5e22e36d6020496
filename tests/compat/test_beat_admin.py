"""The periodic-task admin: the list with crontabs in words, the task picker, enable/disable, run now (sent to
the real broker and read back from Redis)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from compat.contrib.django.beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

pytestmark = pytest.mark.django_db
TASK = "threads.tasks.batch_update_counters"
URL = "/admin/compat_beat/periodictask/"


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_list_shows_the_crontab_in_words(staff):
    cron = CrontabSchedule.objects.create(minute="0", hour="9", day_of_week="1-5", timezone="Europe/Berlin")
    PeriodicTask.objects.create(name="report", task=TASK, crontab=cron)
    page = staff.get(URL).content.decode()
    assert "report" in page and "At 09:00 AM, Monday through Friday Europe/Berlin" in page


def test_the_add_form_offers_registered_tasks_and_checks_json(staff):
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    page = staff.get(URL + "add/").content.decode()
    assert f'<option value="{TASK}">' in page
    form = {
        "name": "flush",
        "registered": TASK,
        "task": "",
        "interval": interval.pk,
        "args": "[1,",
        "kwargs": "{}",
        "headers": "{}",
        "enabled": "on",
        "total_run_count": 0,
    }
    assert "not valid JSON" in staff.post(URL + "add/", form).content.decode()
    assert staff.post(URL + "add/", {**form, "args": "[]"}).status_code == 302
    assert PeriodicTask.objects.get(name="flush").task == TASK


def test_enable_disable_and_run_now(staff, redis_client):
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    task = PeriodicTask.objects.create(name="flush", task=TASK, interval=interval, args="[]", queue="adminq")
    before = PeriodicTasks.last_change()
    staff.post(URL, {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert not task.enabled and PeriodicTasks.last_change() > before
    staff.post(URL, {"action": "enable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled

    from compat.app import get_current_app

    queue = f"{get_current_app().conf.broker_namespace}:adminq"
    redis_client.delete(queue, f"{queue}.msgs")
    staff.post(URL, {"action": "run_tasks", "_selected_action": [task.pk]})
    stored = [json.loads(v) for v in redis_client.hgetall(f"{queue}.msgs").values()]
    redis_client.delete(queue, f"{queue}.msgs")
    assert [m["actor_name"] for m in stored] == [TASK]
    task.refresh_from_db()
    assert task.total_run_count == 0 and task.last_run_at is None  # run now is not a scheduled run
