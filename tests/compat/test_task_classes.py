"""Task classes, pure logic on in-memory apps: ``task_cls``, annotations, attribute defaults, current task,
``Task.replace``'s refusals, mixed setting names. Behaviour on real workers is in tests/conformance
(``programs_classes.py``) and ``test_real_projects.py``."""

from __future__ import annotations

import sys
import types

import pytest

import compat
from compat import Celery, Task, chain, group
from compat._state import get_current_task, get_current_worker_task
from compat.annotations import prepare, resolve
from compat.exceptions import ImproperlyConfigured


def new_app(**options) -> Celery:
    app = Celery("classes", broker="memory://", backend="cache+memory://", set_as_current=False, **options)
    app.conf.task_always_eager = True
    return app


class Stamped(Task):
    stamp = "stamped"


@pytest.fixture
def stamped_module():
    module = types.ModuleType("stamped_tasks_module")
    module.Stamped = Stamped
    sys.modules[module.__name__] = module
    yield module.__name__
    sys.modules.pop(module.__name__, None)


# -- task_cls --------------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["{}:Stamped", "{}.Stamped"])
def test_task_cls_string_is_resolved_when_the_first_task_is_declared(stamped_module, spelling):
    app = new_app(task_cls=spelling.format(stamped_module))

    @app.task
    def double(x):
        return 2 * x

    assert isinstance(double, Stamped) and double.stamp == "stamped"
    assert issubclass(app.Task, Stamped) and app.Task.app is app
    assert double.delay(4).get() == 8


def test_task_cls_class_and_base_per_task():
    class Other(Task):
        stamp = "other"

    app = new_app(task_cls=Stamped)

    @app.task(base=Other)
    def one():
        return 1

    @app.task
    def two():
        return 2

    assert (one.stamp, two.stamp) == ("other", "stamped")


def test_task_cls_that_is_not_a_task_class_is_refused_at_the_first_task():
    app = new_app(task_cls=dict)
    with pytest.raises(TypeError, match="must be a compat.Task subclass"):
        app.task(lambda: None, name="refused")
    assert "refused" not in app.tasks


def test_task_cls_that_cannot_be_imported_raises_the_import_error():
    app = new_app(task_cls="no_such_module_anywhere:Task")
    with pytest.raises(ModuleNotFoundError):
        app.task(lambda: None, name="refused")


# -- attribute defaults ----------------------------------------------------------------------------
def test_unset_attributes_read_the_settings_live():
    app = new_app()

    @app.task
    def plain():
        return None

    assert (plain.ignore_result, plain.track_started, plain.acks_late, plain.typing, plain.priority) == (
        False, False, False, True, None)
    app.conf.update(task_ignore_result=True, task_default_priority=5)
    assert (plain.ignore_result, plain.priority) == (True, 5)
    assert plain.actor_priority == 0  # Dramatiq's in-process order is untouched


def test_a_none_option_leaves_the_setting():
    app = new_app()
    app.conf.task_track_started = True

    @app.task(track_started=None, priority=None)
    def opted():
        return None

    assert opted.track_started is True and opted.priority is None


# -- annotations -----------------------------------------------------------------------------------
class ByName:
    def annotate(self, task):
        return {"rate_limit": "5/s"} if task.name == "a.one" else None


def test_annotations_first_match_then_star_in_that_order():
    annotations = prepare([ByName(), {"a.one": {"rate_limit": "1/s"}, "*": {"rate_limit": "9/s", "x": 1}}])
    one = types.SimpleNamespace(name="a.one")
    two = types.SimpleNamespace(name="a.two")
    assert resolve(annotations, one) == [{"rate_limit": "5/s"}, {"rate_limit": "9/s", "x": 1}]
    assert resolve(annotations, two) == [{"rate_limit": "9/s", "x": 1}]
    assert prepare(None) == [] and len(prepare({"a": {}})) == 1


def test_annotations_win_over_options_and_wrap_methods():
    calls = []

    def around(original):
        def wrapped(self, *args, **kwargs):
            calls.append(self.name)
            return original(self, *args, **kwargs)
        return wrapped

    app = new_app()
    app.conf.task_annotations = {"anno.limited": {"max_retries": 9, "queue": "slow", "@after_return": around}}

    @app.task(name="anno.limited", max_retries=1)
    def limited():
        return "ok"

    assert limited.max_retries == 9 and limited.queue_name == "slow"
    assert limited.delay().get() == "ok"
    assert calls == ["anno.limited"]


def test_annotation_import_path_is_instantiated(monkeypatch):
    module = types.ModuleType("annotation_module")
    module.ByName = ByName
    monkeypatch.setitem(sys.modules, module.__name__, module)
    app = new_app()
    app.conf.task_annotations = "annotation_module:ByName"

    @app.task(name="a.one")
    def one():
        return 1

    assert one.rate_limit == "5/s"


# -- current task ----------------------------------------------------------------------------------
def test_current_task_is_none_outside_and_the_task_inside():
    app = new_app()
    seen = []

    @app.task(bind=True)
    def who(self):
        seen.append((get_current_task() is self, get_current_worker_task() is self, compat.current_task.name))
        return None

    assert get_current_task() is None and not compat.current_task
    who.delay()
    who()
    assert seen == [(True, True, who.name), (True, False, who.name)]


# -- Task.replace refusals -------------------------------------------------------------------------
def test_replace_refuses_a_chord_member_and_an_empty_chain():
    app = new_app()

    @app.task
    def add(x, y):
        return x + y

    @app.task(bind=True)
    def replacer(self, how):
        if how == "chord":
            return self.replace(add.s(1, 1).set(chord={"id": "x"}))
        return self.replace(chain(app=app))

    with pytest.raises(ImproperlyConfigured, match="must not be part of a chord"):
        replacer.apply(("chord",), throw=True)
    with pytest.raises(ImproperlyConfigured, match="empty chain"):
        replacer.apply(("empty",), throw=True)


def test_replace_with_a_group_gives_the_list_to_the_original_id():
    app = new_app()

    @app.task
    def add(x, y):
        return x + y

    @app.task(bind=True)
    def replacer(self, n):
        return self.replace(group(add.s(n, 1), add.s(n, 2)))

    result = replacer.apply((1,))
    assert result.get() == [2, 3]


# -- mixed setting names ---------------------------------------------------------------------------
def test_mixing_old_and_new_names_is_refused_on_read_and_changes_nothing():
    app = new_app()
    app.config_from_object({"CELERY_DEFAULT_QUEUE": "old", "task_routes": {}, "result_expires": 5})
    for _ in range(2):
        with pytest.raises(ImproperlyConfigured, match="CELERY_DEFAULT_QUEUE -> task_default_queue"):
            app.conf.task_default_queue  # noqa: B018 - the read raises
    # the new spelling given too (task_always_eager, set above, for CELERY_ALWAYS_EAGER): nothing to rename
    app.config_from_object({"CELERY_ALWAYS_EAGER": True, "task_default_queue": "q"})
    assert app.conf.task_default_queue == "q"


def test_a_namespace_is_always_the_new_style():
    app = new_app()
    settings = {"CELERY_TASK_DEFAULT_QUEUE": "ns", "CELERY_ALWAYS_EAGER": True}
    app.config_from_object(settings, namespace="CELERY")
    assert app.conf.task_default_queue == "ns"


def test_on_bound_and_on_replace_are_called_as_celery_calls_them():
    bound, replaced = [], []

    class Hooked(Task):
        @classmethod
        def on_bound(cls, app):
            bound.append((cls.name, app.main))

        def on_replace(self, sig):
            replaced.append(sig.task)
            return super().on_replace(sig)

    app = new_app()

    @app.task
    def add(x, y):
        return x + y

    @app.task(base=Hooked, bind=True, name="hooked.replacer")
    def replacer(self, n):
        return self.replace(add.s(n, 1))

    assert bound == [("hooked.replacer", "classes")]
    assert replacer.apply((1,)).get() == 2
    assert replaced == [add.name]
