"""Each program runs on real Celery 5.7 and on compat, eager and on real workers; outcomes must match.

Test ids: ``<program>-<stack>-<mode>``. A ``celery-*`` test runs the program on Celery (cached for the
session) and checks it against what the suite knows Celery does (``expect=``), which guards the
harness; the ``compat-*`` test asserts compat's outcome equals Celery's for the same mode (or, for a
``@differs`` program, compat's documented outcome).
"""

from __future__ import annotations

import pprint

import pytest

from tests.conformance import (  # noqa: F401 - registers
    programs,
    programs_canvas,
    programs_classes,
    programs_signals,
)
from tests.conformance.conftest import as_imported
from tests.conformance.harness import _NOTHING, PROGRAMS, STACKS

CASES = [
    pytest.param(prog, stack, mode, id=f"{name}-{stack}-{mode}")
    for name, prog in PROGRAMS.items()
    for mode in prog.modes
    for stack in STACKS
] + [
    # compat on RabbitMQ: every worker-mode program, against Celery's outcome (conftest.rabbit_stack)
    pytest.param(prog, "compat-rabbitmq", "worker", id=f"{name}-compat-rabbitmq-worker")
    for name, prog in PROGRAMS.items()
    if "worker" in prog.modes
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("prog", "stack", "mode"), CASES)
def test_program(stacks, prog, stack, mode, request):
    celery = stacks.outcome("celery", prog, mode)
    if stack == "compat-rabbitmq" and stack not in stacks.by_name:
        stacks.by_name[stack] = request.getfixturevalue("rabbit_stack")
    if stack == "celery":
        known = prog.expected_for(mode)
        if known is not _NOTHING:
            if celery != {"returned": known}:
                pytest.fail(f"Celery itself did not do what the suite expects in {mode} mode\n"
                            f"  expected: {pprint.pformat(known, width=100)}\n"
                            f"  celery:   {pprint.pformat(celery, width=100)}", pytrace=False)
        return
    expected = prog.compat_expect(celery, mode) if prog.differs else celery
    with as_imported(stacks.by_name[stack].module):  # classes rebuilt by name are the stack's own
        got = stacks.outcome(stack, prog, mode)
    if got != expected:
        pytest.fail(f"compat differs from {'its documented outcome' if prog.differs else 'Celery'} in {mode} "
                    f"mode\n  expected: {pprint.pformat(expected, width=100)}\n"
                    f"  compat:   {pprint.pformat(got, width=100)}", pytrace=False)
