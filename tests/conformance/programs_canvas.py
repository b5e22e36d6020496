"""Canvas programs (issue 4): signatures, chain, group, chord, callbacks and errbacks, map/starmap/chunks."""

from __future__ import annotations

import json

from tests.conformance.harness import Raised, differs, exc, normalize, program

T = 10


def started(ns, canvas, *args, **kwargs):
    """``canvas.apply_async(...)``, or ``('raised', exception)`` when the call itself raises (eager)."""
    result = ns.catch(canvas.apply_async, *args, **kwargs)
    return ("raised", normalize(result)) if isinstance(result, Raised) else result


# -- chain -------------------------------------------------------------------------------------------
@program("canvas", expect=10)
def chain_prepends_previous_result(ns):
    return (ns.add.s(1, 1) | ns.mul.s(5)).apply_async().get(timeout=T)


@program("canvas", expect=3)
def chain_result_is_first_argument(ns):
    return ns.chain(ns.add.s(10, 1), ns.kw_only.s(scale=0, offset=3)).apply_async().get(timeout=T)


@program("canvas", expect={"eager": {"args": (None, 1), "kwargs": {"k": 2}},
                           "worker": {"args": [None, 1], "kwargs": {"k": 2}}})
def chain_prepends_none(ns):
    return ns.chain(ns.identity.s(None), ns.echo.s(1, k=2)).apply_async().get(timeout=T)


@program("canvas", expect=10)
def chain_immutable_step_ignores_result(ns):
    return ns.chain(ns.add.s(1, 1), ns.add.si(5, 5)).apply_async().get(timeout=T)


@program("canvas", expect=(4, 5))
def nested_chains_flatten(ns):
    c = ns.chain(ns.add.s(1, 1), ns.chain(ns.add.s(1), ns.add.s(1)), ns.add.s(1))
    return len(c.tasks), c.apply_async().get(timeout=T)


@program("canvas", expect=15)
def chain_apply_async_args_go_to_first_task(ns):
    return ns.chain(ns.add.s(1), ns.mul.s(3)).apply_async((4,)).get(timeout=T)


@program("canvas", expect=15)
def chain_called_with_args(ns):
    return ns.chain(ns.add.s(1), ns.mul.s(3))(4).get(timeout=T)


@program("canvas", expect=(10, 6, 3, True))
def chain_parent_walk(ns):
    r = (ns.add.s(1, 2) | ns.add.s(3) | ns.add.s(4)).apply_async()
    first = r.parent.parent
    return r.get(timeout=T), r.parent.get(timeout=T), first.get(timeout=T), first.parent is None


@program("canvas", expect={"eager": ("raised", exc("ValueError", "2")),
                           "worker": (exc("ValueError", "2"), "FAILURE", "FAILURE", "SUCCESS",
                                      exc("ValueError", "2"))})
def chain_failure_in_the_middle(ns):
    r = started(ns, ns.chain(ns.add.s(1, 1), ns.fail.s(), ns.add.s(1)))
    if isinstance(r, tuple):
        return r
    value = normalize(ns.get(r))
    # Celery's worker sends a chain's next step before it stores the step's own result: under load the
    # first step can still read PENDING after the last one failed, so each state is given time to settle.
    settled = ("FAILURE", "SUCCESS")
    states = [ns.wait_state(node, settled) for node in (r, r.parent, r.parent.parent)]
    return (value, *states, normalize(ns.get(r, follow_parents=False, propagate=False)))


@program("canvas", expect=("FAILURE", exc("ValueError", "2")))
def chain_failure_in_the_last_step(ns):
    r = started(ns, ns.chain(ns.add.s(1, 1), ns.fail.s()))
    if isinstance(r, tuple):
        return r
    return ns.wait_state(r, ("FAILURE",)), normalize(ns.get(r, propagate=False))


@program("canvas", expect=1)
def chain_errback_fires_once(ns):
    key = ns.key()
    c = ns.chain(ns.add.s(1, 1), ns.fail.s(), ns.add.s(1)).on_error(ns.errback_keyed.s(key))
    started(ns, c)
    return len(ns.records(key, 1, settle=0.3))


@program("canvas", expect=1)
def chain_link_error_option_fires_once(ns):
    key = ns.key()
    started(ns, ns.chain(ns.add.s(1, 1), ns.fail.s(), ns.add.s(1)), link_error=ns.errback_keyed.s(key))
    return len(ns.records(key, 1, settle=0.3))


@program("canvas", expect=(3, [3]))  # the link goes to the last task only
def chain_link_option(ns):
    key = ns.key()
    r = ns.chain(ns.add.s(1, 1), ns.add.s(1)).apply_async(link=ns.remember.s(key))
    return r.get(timeout=T), ns.records(key, 1, settle=0.2)


@program("canvas", expect={"eager": (None, 2, "EagerResult"), "worker": (None, 2, "AsyncResult")})
def empty_and_single_chains(ns):
    single = ns.chain(ns.add.s(1, 1)).apply_async()
    return ns.chain().apply_async(), single.get(timeout=T), type(single).__name__


@program("canvas", expect=16)
def invert_operator(ns):
    return ~(ns.add.s(4, 4) | ns.add.s(8))


_STORED_FIRST = ("a worker stores a step's outcome before it sends the chain's next step or its link "
                 "callbacks (Celery sends them first), so a continuation starts with its parent's state "
                 "stored; the stored children list only what the task body sent (docs/compat.md, Canvas)")


@differs(_STORED_FIRST, compat=lambda celery, mode: {"returned": []})
@program("canvas", modes=("worker",), expect=[True])
def chain_step_children_include_the_next_step(ns):
    """Celery's worker sends a chain's next step before it stores the step's result ("callback tasks must
    be applied before the result is stored, so that result.children is populated")."""
    r = ns.chain(ns.add.s(1, 1), ns.add.s(1)).apply_async()
    r.get(timeout=T)
    first = ns.AsyncResult(r.parent.id)
    return [child.id == r.id for child in first.children or ()]


@differs(_STORED_FIRST, compat=lambda celery, mode: {"returned": []})
@program("canvas", modes=("worker",), expect=["AsyncResult"])
def link_callback_is_a_child(ns):
    key = ns.key()
    r = ns.add.apply_async((1, 2), link=ns.remember.s(key))
    r.get(timeout=T)
    ns.records(key)
    return [type(child).__name__ for child in ns.AsyncResult(r.id).children or ()]


# -- request ids through canvases --------------------------------------------------------------------
@program("canvas", expect={"eager": (False, True, True), "worker": (True, True, True)})
def chain_step_parent_and_root_ids(ns):
    r = ns.chain(ns.req.s(), ns.req.s()).apply_async()
    second = r.get(timeout=T)
    first = r.parent.get(timeout=T)
    return second["parent_id"] == first["id"], first["root_id"] == first["id"], second["id"] == r.id


@program("canvas", expect={"eager": [False, False], "worker": [True, True]})
def group_members_know_their_group(ns):
    g = ns.group(ns.req.s(), ns.req.s()).apply_async()
    return [seen["group"] == g.id for seen in g.get(timeout=T)]


# -- callbacks ---------------------------------------------------------------------------------------
@program("canvas", expect=(3, [3]))
def link_callback_gets_result_prepended(ns):
    key = ns.key()
    r = ns.add.apply_async((1, 2), link=ns.remember.s(key))
    return r.get(timeout=T), ns.records(key)


@program("canvas", expect=["fixed"])
def link_immutable_callback(ns):
    key = ns.key()
    ns.add.apply_async((1, 2), link=ns.remember.si("fixed", key)).get(timeout=T)
    return ns.records(key, settle=0.1)


@program("canvas", expect=[3, 3])
def link_several_callbacks(ns):
    key = ns.key()
    ns.add.apply_async((1, 2), link=[ns.remember.s(key), ns.remember.s(key)]).get(timeout=T)
    return ns.records(key, 2)


@program("canvas", expect=(["old"], True))
def link_error_old_style(ns):
    r = ns.fail.apply_async(("e-old",), link_error=ns.errback_old.s())
    ns.get(r, propagate=False)
    return ns.records(f"errback:{r.id}"), r.failed()


@program("canvas", expect=[["new", "ValueError", "e-new", True]])
def link_error_new_style(ns):
    r = ns.fail.apply_async(("e-new",), link_error=ns.errback_new.s())
    ns.get(r, propagate=False)
    return ns.records(f"errback:{r.id}")


@program("canvas", expect=["<id>"])
def link_error_arity_after_partial_args(ns):
    # remember(value, key) takes two positionals, but one is given by the signature: one remains, so it
    # is an old-style errback called with the failed task's id.
    key = ns.key()
    r = ns.fail.apply_async(("arity",), link_error=ns.remember.s(key))
    ns.get(r, propagate=False)
    return ns.records(key, 1, wait=0.5)


@program("canvas", expect={"eager": ("raised", []), "worker": ("sent", ["old"])})
def errbacks_skipped_under_eager_propagation(ns):
    with ns.conf(task_eager_propagates=True):
        r = ns.catch(ns.fail.apply_async, ("prop",), link_error=ns.errback_old.s())
    if isinstance(r, Raised):
        return "raised", []
    ns.get(r, propagate=False)
    return "sent", ns.records(f"errback:{r.id}")


@program("canvas", expect=2)
def group_link_error_reaches_every_member(ns):
    key = ns.key()
    g = ns.group(ns.fail.s("a"), ns.fail.s("b"))
    g.link_error(ns.errback_keyed.s(key))
    r = g.apply_async()
    ns.get(r, propagate=False)
    return len(ns.records(key, 2, settle=0.2))


# -- group -------------------------------------------------------------------------------------------
@program("canvas", expect=["slow", "fast"])
def group_results_in_group_order(ns):
    return ns.group(ns.slow.s(0.3, "slow"), ns.slow.s(0, "fast")).apply_async().get(timeout=T)


@program("canvas", expect=("GroupResult", 2, True, True, 2, False, [3, 7]))
def group_result_api(ns):
    r = ns.group(ns.add.s(1, 2), ns.add.s(3, 4)).apply_async()
    values = r.get(timeout=T)
    return type(r).__name__, len(r), r.ready(), r.successful(), r.completed_count(), r.failed(), values


@program("canvas", expect=("GroupResult", [], True, True, 0))
def empty_group(ns):
    r = ns.group([]).apply_async()
    return type(r).__name__, r.get(timeout=T), r.ready(), r.successful(), r.completed_count()


@program("canvas", expect=[11, 12])
def group_args_prepended_to_every_member(ns):
    return ns.group(ns.add.s(1), ns.add.s(2)).apply_async((10,)).get(timeout=T)


@program("canvas", expect=[3, 6])
def group_of_chains(ns):
    g = ns.group(ns.chain(ns.add.s(1, 1), ns.add.s(1)), ns.chain(ns.add.s(2, 2), ns.add.s(2)))
    return g.apply_async().get(timeout=T)


@program("canvas", expect=([2, exc("ValueError", "g"), 4], exc("ValueError", "g"), 2, True, False, True))
def group_with_a_failing_member(ns):
    r = ns.group(ns.add.s(1, 1), ns.fail.s("g"), ns.add.s(2, 2)).apply_async()
    values = normalize(ns.get(r, propagate=False))
    return values, normalize(ns.get(r)), r.completed_count(), r.failed(), r.successful(), r.ready()


@program("canvas", expect=(exc("TypeError", "Cannot add link to group: use a chord"),
                           exc("TypeError", "Cannot add link to group: do that on individual tasks")))
def group_link_options_raise(ns):
    g = ns.group(ns.add.s(1, 1), ns.add.s(2, 2))
    return normalize(ns.catch(g.apply_async, link=ns.identity.s())), \
        normalize(ns.catch(g.apply_async, link_error=ns.identity.s()))


@program("canvas", expect=3)
def one_member_group_is_unrolled_in_chain(ns):
    return (ns.add.s(1, 1) | ns.group(ns.add.s(1))).apply_async().get(timeout=T)


@program("canvas", expect=("GroupResult", [3, 4]))
def chain_ending_in_a_group(ns):
    r = (ns.add.s(1, 1) | ns.group(ns.add.s(1), ns.add.s(2))).apply_async()
    return type(r).__name__, r.get(timeout=T)


@program("canvas", expect=7)
def chain_group_then_task_is_a_chord(ns):
    c = ns.chain(ns.add.s(1, 1), ns.group(ns.add.s(1), ns.add.s(2)), ns.tsum.s())
    return c.apply_async().get(timeout=T)


@program("canvas", expect=[6, 7])
def chain_group_to_group(ns):
    c = ns.chain(ns.group(ns.add.s(1, 1), ns.add.s(2, 2)), ns.group(ns.tsum.s(), ns.tsum.s(1)))
    return c.apply_async().get(timeout=T)


# -- chord -------------------------------------------------------------------------------------------
@program("canvas", expect=16)
def chord_body_gets_header_results(ns):
    return ns.chord([ns.add.s(1, 1), ns.add.s(2, 2)], ns.tsum.s(10)).apply_async().get(timeout=T)


@program("canvas", expect=6)
def chord_called_with_body(ns):
    return ns.chord([ns.add.s(1, 1), ns.add.s(2, 2)])(ns.tsum.s()).get(timeout=T)


@program("canvas", expect=[1, 2, 3, 4, 5, 6, 7, 8])
def chord_header_order_is_kept(ns):
    header = [ns.slow.s(0.05 * (8 - i), i) for i in range(1, 9)]
    return ns.chord(header, ns.identity.s()).apply_async().get(timeout=T)


@program("canvas", expect=0)
def chord_with_empty_header(ns):
    return ns.chord([], ns.tsum.s()).apply_async().get(timeout=T)


@program("canvas", expect="x")
def chord_immutable_body(ns):
    return ns.chord([ns.add.s(1, 1)], ns.identity.si("x")).apply_async().get(timeout=T)


@program("canvas", expect={"eager": ("raised", exc("ValueError", "hdr")),
                           "worker": (exc("ValueError", "hdr"), "FAILURE",
                                      exc("ChordError", "Dependency <id> raised ValueError('hdr')"))})
def chord_header_failure(ns):
    r = started(ns, ns.chord([ns.add.s(1, 1), ns.fail.s("hdr")], ns.tsum.s()))
    if isinstance(r, tuple):
        return r
    first = normalize(ns.get(r))
    body = normalize(ns.get(r, follow_parents=False, propagate=False))
    return first, r.state, body


@program("canvas", expect={"eager": (2, None), "worker": (2, "GroupResult")})
def chord_result_parent(ns):
    r = ns.chord([ns.add.s(1, 1)], ns.tsum.s()).apply_async()
    value = r.get(timeout=T)
    return value, None if r.parent is None else type(r.parent).__name__


# -- signatures --------------------------------------------------------------------------------------
@program("canvas", expect={
    "sig|sig": "_chain", "sig|chain": "_chain", "chain|chain": "_chain", "sig|group1": "_chain",
    "group|sig": "chord", "chain+group|sig": "_chain", "chain+group|sig last": "chord", "chord|sig": "chord",
    "group|group": "chord", "chain|emptygroup": "_chain", "chain()": "_chain", "len chain|chain": 4,
    "len chain|emptygroup": 2})
def operator_types(ns):
    a, b = ns.add.s(1, 1), ns.add.s(2)
    c2 = ns.chain(ns.add.s(1, 1), ns.add.s(1))
    g = ns.group(ns.add.s(1), ns.add.s(2))
    cg = ns.chain(ns.add.s(1, 1), ns.group(ns.add.s(1), ns.add.s(2))) | ns.tsum.s()
    t = ns.type_name
    return {
        "sig|sig": t(a | b), "sig|chain": t(a | c2), "chain|chain": t(c2 | c2),
        "sig|group1": t(a | ns.group(ns.add.s(1))), "group|sig": t(g | ns.tsum.s()),
        "chain+group|sig": t(cg), "chain+group|sig last": t(cg.tasks[-1]),
        "chord|sig": t(ns.chord([a], ns.tsum.s()) | ns.identity.s()), "group|group": t(g | g),
        "chain|emptygroup": t(c2 | ns.group([])), "chain()": t(ns.chain(a, b)),
        "len chain|chain": len((c2 | c2).tasks), "len chain|emptygroup": len((c2 | ns.group([])).tasks),
    }


@program("canvas", expect=("Signature", "<tasks>.add", [1], {"b": 2}, {"countdown": 1}, False, 3))
def signature_json_roundtrip(ns):
    data = json.loads(json.dumps(ns.add.s(1, b=2).set(countdown=1)))
    sig = ns.signature(data, app=ns.app)
    return type(sig).__name__, sig.task, list(sig.args), sig.kwargs, sig.options, sig.immutable, \
        sig.apply_async(countdown=None).get(timeout=T)


@program("canvas", expect=("_chain", 4))
def chain_json_roundtrip(ns):
    data = json.loads(json.dumps(ns.chain(ns.add.s(1, 1), ns.add.s(2))))
    sig = ns.signature(data, app=ns.app)
    return ns.type_name(sig), sig.apply_async().get(timeout=T)


@program("canvas", expect=("chord", 6))
def chord_json_roundtrip(ns):
    data = json.loads(json.dumps(ns.chord([ns.add.s(1, 1), ns.add.s(2, 2)], ns.tsum.s())))
    sig = ns.signature(data, app=ns.app)
    return ns.type_name(sig), sig.apply_async().get(timeout=T)


@program("canvas")
def signature_reprs(ns):
    return [repr(ns.add.s(1, 2)), repr(ns.add.s(1, b=2)), repr(ns.add.si(1, 2)),
            repr(ns.chain(ns.add.s(1, 1), ns.mul.s(2))), repr(ns.group(ns.add.s(1, 1), ns.mul.s(2, 2))),
            repr(ns.chord([ns.add.s(1, 1)], ns.tsum.s()))]


@program("canvas", expect=((2,), (10, 1), {"a": 1, "b": 3}))
def signature_clone(ns):
    return ns.add.si(2).clone(args=(10,)).args, ns.add.s(1).clone(args=(10,)).args, \
        ns.echo.s(a=1, b=2).clone(kwargs={"b": 3}).kwargs


@program("canvas", expect=(True, True, True, True, True))
def signature_link_set_on_error_return_values(ns):
    sig, cb, eb = ns.add.s(1, 1), ns.identity.s(), ns.identity.s()
    return sig.link(cb) is cb, sig.on_error(eb) is sig, sig.set(countdown=1) is sig, \
        sig.link_error(eb) is eb, sig.options["countdown"] == 1


@program("canvas", expect=(True, 2))
def signature_freeze_fixes_the_id(ns):
    sig = ns.add.s(1, 1)
    frozen = sig.freeze()
    r = sig.apply_async()
    return frozen.id == r.id, r.get(timeout=T)


# -- map / starmap / chunks --------------------------------------------------------------------------
@program("canvas", expect=[3, 7])
def task_map(ns):
    return ns.tsum.map([[1, 2], [3, 4]]).apply_async().get(timeout=T)


@program("canvas", expect=[3, 7])
def task_starmap(ns):
    return ns.add.starmap([(1, 2), (3, 4)]).apply_async().get(timeout=T)


@program("canvas", expect=[[0, 2], [4, 6], [8, 10]])
def task_chunks(ns):
    return ns.add.chunks(zip(range(6), range(6), strict=True), 2).apply_async().get(timeout=T)


# -- more canvas -------------------------------------------------------------------------------------
@program("canvas", expect=3)
def empty_group_in_chain_is_skipped(ns):
    return ns.chain(ns.add.s(1, 1), ns.group([]), ns.add.s(1)).apply_async().get(timeout=T)


@program("canvas", expect=(True, 4))
def chain_freeze_is_the_last_task(ns):
    c = ns.chain(ns.add.s(1, 1), ns.add.s(2))
    frozen = c.freeze()
    r = c.apply_async()
    return frozen.id == r.id, r.get(timeout=T)


@program("canvas", expect=[5, 6])
def group_called_with_args(ns):
    return ns.group(ns.add.s(1), ns.add.s(2))(4).get(timeout=T)


@program("canvas", expect=(True, [2, 4]))
def group_result_save_and_restore(ns):
    r = ns.group(ns.add.s(1, 1), ns.add.s(2, 2)).apply_async()
    values = r.get(timeout=T)
    r.save()
    restored = ns.GroupResult.restore(r.id, app=ns.app)
    return [c.id for c in restored.results] == [c.id for c in r.results], values


@program("canvas", expect=[True, True, True, [2, 4], "SUCCESS"], modes=("worker",))
def app_bound_result_classes(ns):
    """``app.GroupResult.restore(id)`` and ``app.AsyncResult(id)`` as Celery's docs use them."""
    r = ns.group(ns.add.s(1, 1), ns.add.s(2, 2)).apply_async()
    r.get(timeout=T)
    r.save()
    restored = ns.app.GroupResult.restore(r.id)
    one = ns.app.AsyncResult(r.results[0].id)
    return [
        isinstance(restored, ns.GroupResult),
        isinstance(one, ns.app.AsyncResult),
        [c.id for c in restored.results] == [c.id for c in r.results],
        restored.get(timeout=T),
        one.state,
    ]


@program("canvas", expect=9)
def signature_by_name(ns):
    return ns.signature(f"{ns.tasks_module}.add", args=(4, 5), app=ns.app).delay().get(timeout=T)


@program("canvas", expect={"eager": None, "worker": "conf"})
def call_options_override_signature_options(ns):
    return ns.routed_req.s().set(queue="conf_explicit").apply_async(queue="conf").get(timeout=T)


@program("canvas", expect=(True, (1, 2)))
def set_immutable(ns):
    sig = ns.add.s(1, 2)
    sig.set_immutable(True)
    return sig.immutable, tuple(sig.clone(args=(9,)).args)


@program("canvas", expect=("xmap", "xstarmap", "chunks", "group"))
def map_starmap_chunks_types(ns):
    chunks = ns.add.chunks([(1, 1)], 1)
    return ns.type_name(ns.add.map([1])), ns.type_name(ns.add.starmap([(1, 1)])), ns.type_name(chunks), \
        ns.type_name(chunks.group())


@program("canvas", expect=("EagerResult", 2))
def signature_apply_runs_locally(ns):
    r = ns.add.s(1).apply((1,))
    return type(r).__name__, r.get()


@program("canvas", expect={"eager": ("raised", 0), "worker": ("sent", 1)})
def chord_header_failure_fires_body_errback(ns):
    key = ns.key()
    body = ns.tsum.s().on_error(ns.errback_keyed.s(key))
    r = started(ns, ns.chord([ns.add.s(1, 1), ns.fail.s("hdr")], body))
    if isinstance(r, tuple):
        return "raised", len(ns.records(key, 1, wait=0.3))
    ns.get(r, propagate=False)
    return "sent", len(ns.records(key, 1, settle=0.2))


@program("canvas", expect=["linked"])
def group_link_goes_to_first_member_immutably(ns):
    key = ns.key()
    g = ns.group(ns.req.s(), ns.req.s())
    g.link(ns.remember.s("linked", key))  # a mutable link would get the result prepended: too many args
    r = g.apply_async()
    r.get(timeout=T)
    return ns.records(key, 1, settle=0.3)
