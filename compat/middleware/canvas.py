"""What happens after a facade task ends: link callbacks, the next chain step, chord barriers, errbacks.

Success: ``link`` callbacks get the result prepended; the next chain step is sent with the result
prepended and the rest of the chain; a chord header member records itself in the chord's barrier (a
Redis set, so a redelivered member counts once) and the one member that completes it sends the body
with the header's results in header order. A failure for good: errbacks run once, every later chain
step is marked FAILURE with the same exception, and a chord's body fails with ``ChordError``.

Exactly once under redelivery: the member that completed a chord may die after its barrier count and
before its message is acknowledged (before or after it sent the body); its message comes back and it
runs again. The store gives that member the header again (the claim is its own), so it sends the body
again, each send with a token of its own (``chord_send``); the body's worker runs only the first send it
sees (``claim_delivery``; a redelivery of that send still runs) and acknowledges any other unrun.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

from dramatiq.middleware import Middleware, SkipMessage

from .. import runs, states
from ..canvas import Signature, group
from ..canvas.callbacks import apply_callbacks, run_errbacks
from ..exceptions import ChordError, Ignore, Reject, Retry
from ..results.chord import ChordHeader, join_chord
from ..serialization import exception_from_meta
from ..task import is_facade_task

logger = logging.getLogger("compat.canvas")


class CanvasContinuation(Middleware):
    """Continues chains, chords and callbacks from message options after each facade task; runs one
    send of a chord body."""

    def before_process_message(self, broker, message):
        token = message.options.get("chord_send")
        if token is None:
            return
        task = is_facade_task(broker, message)
        claim = getattr(task.app.backend, "claim_delivery", None) if task is not None else None
        if claim is None or claim(message.message_id, token):
            return
        logger.warning(
            "Chord body %s was sent again by a redelivered header member; this copy does not run.",
            message.message_id,
        )
        raise SkipMessage(f"chord body {message.message_id} sent again")

    def after_process_message(self, broker, message, *, result=None, exception=None):
        task = is_facade_task(broker, message)
        if task is None or isinstance(exception, (Retry, Ignore, Reject)):
            return
        options = message.options
        if not (
            options.get("link") or options.get("chain") or options.get("chord") or options.get("link_error")
        ):
            return
        app = task.app
        run = runs.of(message)
        request = run.request if run is not None and run.request is not None else None
        request = request or task.request_from_message(message)
        if exception is None:
            self.on_success(app, message, request, result, run)
        else:
            self.on_failure(app, message, request, exception)

    # -- success -----------------------------------------------------------------------------------
    def on_success(self, app: Any, message: Any, request: Any, result: Any, run: Any = None) -> None:
        options = message.options
        task_id = message.message_id
        root_id = request.root_id
        apply_callbacks(app, options.get("link"), result, parent_id=task_id, root_id=root_id)
        chain = options.get("chain")
        if chain:
            next_step = Signature.from_dict(chain[0], app=app)
            next_step.apply_async((result,), chain=chain[1:] or None, parent_id=task_id, root_id=root_id)
        chord = options.get("chord")
        if chord:
            joined = run.chord_join if run is not None else runs.NOT_JOINED  # joined in TaskState's write
            if joined is runs.NOT_JOINED:
                joined = join_chord(app.backend, chord, task_id)
            if joined is not None:
                self.chord_complete(app, chord, joined, task_id, root_id)

    def chord_complete(
        self, app: Any, chord: dict, header: ChordHeader, task_id: str, root_id: str | None
    ) -> None:
        """Send the body with the header's results, or fail it with the first failed member's error."""
        member_ids, metas = header
        body = Signature.from_dict(chord["body"], app=app)
        for member_id, meta in zip(member_ids, metas, strict=True):
            if meta is None or meta["status"] != states.SUCCESS:
                exc = exception_from_meta(meta["result"]) if meta else RuntimeError("result missing")
                self.fail_body(app, body, ChordError(f"Dependency {member_id} raised {exc!r}"))
                return
        values = [meta["result"] for meta in metas]
        body.apply_async((values,), parent_id=task_id, root_id=root_id, chord_send=uuid.uuid4().hex)

    # -- failure -----------------------------------------------------------------------------------
    def on_failure(self, app: Any, message: Any, request: Any, exc: BaseException) -> None:
        options = message.options
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        run_errbacks(app, options.get("link_error"), request, exc, text)
        for step in options.get("chain") or ():
            self.mark_failed(app, Signature.from_dict(step, app=app), exc, text)
        chord = options.get("chord")
        if chord and app.backend.claim(chord["id"], message.message_id):
            body = Signature.from_dict(chord["body"], app=app)
            self.fail_body(app, body, ChordError(f"Dependency {message.message_id} raised {exc!r}"))

    def fail_body(self, app: Any, body: Signature, exc: BaseException) -> None:
        """Mark a chord body (and what follows it) FAILURE and fire its errbacks."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.mark_failed(app, body, exc, text)
        target = body.tasks[0] if hasattr(body, "tasks") and body.subtask_type == "chain" else body
        errbacks = target.options.get("link_error")
        if errbacks and target.id:
            from ..request import Context

            run_errbacks(app, errbacks, Context(id=target.id, called_directly=False), exc, text)

    def mark_failed(self, app: Any, sig: Signature, exc: BaseException, text: str) -> None:
        """Store FAILURE for every task id frozen into ``sig`` (a task, chain, group or chord)."""
        for task_id in frozen_ids(sig):
            app.backend.set_state(task_id, states.failure(task_id, exc, traceback=text))


def frozen_ids(sig: Signature) -> list[str]:
    """The task ids a signature was frozen with, through chains, groups and chords."""
    kind = sig.subtask_type
    if kind == "chain":
        return [task_id for step in sig.tasks for task_id in frozen_ids(step)]
    if kind == "group" or isinstance(sig, group):
        return [task_id for member in sig.tasks for task_id in frozen_ids(member)]
    if kind == "chord":
        return frozen_ids(sig.body)
    return [sig.id] if sig.id else []
