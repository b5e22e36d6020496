"""Moving code into packages (issue 15) keeps the import paths users rely on, as Celery has them."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "compat": ["Celery", "Signature", "Task", "chain", "chord", "current_app", "group", "shared_task"],
    "compat.canvas": [
        "Signature",
        "chain",
        "chord",
        "freeze_step",
        "group",
        "maybe_unroll_group",
        "signature",
        "subtask",
        "without_repeated_module",
    ],
    "compat.result": [
        "E_WOULDBLOCK",
        "AsyncResult",
        "EagerResult",
        "GroupResult",
        "ResultSet",
        "TimeoutError",
        "assert_will_not_block",
        "result_from_tuple",
    ],
    "compat.states": [
        "PENDING",
        "RECEIVED",
        "STARTED",
        "SUCCESS",
        "FAILURE",
        "REVOKED",
        "REJECTED",
        "RETRY",
        "IGNORED",
        "READY_STATES",
        "UNREADY_STATES",
        "EXCEPTION_STATES",
        "PROPAGATE_STATES",
        "ALL_STATES",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_stay_importable(module):
    loaded = importlib.import_module(module)
    assert [name for name in PUBLIC[module] if not hasattr(loaded, name)] == []


def test_the_celery_names_match_celerys_own_modules():
    """Every name above that Celery's module of the same role has is importable from compat's."""
    import celery.canvas
    import celery.result
    import celery.states

    for ours, theirs in (("compat.canvas", celery.canvas), ("compat.result", celery.result)):
        shared = [name for name in PUBLIC[ours] if hasattr(theirs, name)]
        assert len(shared) >= 5, (ours, shared)
    assert [name for name in PUBLIC["compat.states"] if not hasattr(celery.states, name)] == []


def test_compat_result_and_compat_results_are_the_same_classes():
    import compat.result
    import compat.results

    assert compat.result.AsyncResult is compat.results.AsyncResult
    assert compat.result.GroupResult is compat.results.GroupResult
