"""The enqueue script's packed EVALSHA (``compat/brokers/redis/packed.py``) on a private redis-server:
the bytes redis-py would send, and redis-py's handling back whenever the fast path meets the unusual."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis

from compat import Celery
from compat.brokers.redis.packed import PackedScript, close_slots
from tests.helpers import wait_for
from threads.redis_server import PrivateRedis

SOURCE = "return {#ARGV, ARGV[1], ARGV[#ARGV]}"


@pytest.fixture
def server(tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def admin(server):
    admin = redis.Redis.from_url(server.url)
    yield admin
    admin.close()


@pytest.fixture
def client(server):
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


def test_the_packed_command_is_the_one_redis_py_packs(client):
    script = PackedScript(client.register_script(SOURCE))
    args = ["ns", 16, 1, "default", "2f0c", b'{"a": "\xc3\xa9"}', "caf\u00e9", 0, -3]
    connection = client.connection_pool.get_connection()
    try:
        expected = b"".join(connection.pack_command("EVALSHA", script.script.sha, 0, *args))
    finally:
        client.connection_pool.release(connection)
    assert script.pack(args) == expected


def test_a_call_returns_the_script_reply(client):
    script = PackedScript(client.register_script(SOURCE))
    script.script(keys=[], args=["load"], client=client)  # loaded, so the fast path answers
    assert script(client, ["first", 2, b"last"]) == [3, b"first", b"last"]


def test_an_unloaded_script_is_loaded_and_called(client):
    """NOSCRIPT (a fresh or restarted server, SCRIPT FLUSH) goes to redis-py, which loads the script."""
    script = PackedScript(client.register_script(SOURCE))
    client.script_flush()
    assert script(client, ["a", "b"]) == [2, b"a", b"b"]
    assert client.script_exists(script.script.sha) == [True]


def test_a_connection_the_server_closed_is_replaced(client):
    script = PackedScript(client.register_script(SOURCE))
    assert script(client, ["x"]) == [1, b"x", b"x"]
    client.client_kill_filter(_type="normal", skipme=True)  # the pooled connection, closed by the server
    assert script(client, ["y"]) == [1, b"y", b"y"]


def test_a_server_that_is_gone_raises_redis_py_s_connection_error(server, client):
    script = PackedScript(client.register_script(SOURCE))
    assert script(client, ["x"]) == [1, b"x", b"x"]
    server.stop()
    with pytest.raises(redis.ConnectionError):
        script(client, ["y"])


def test_a_script_error_is_raised_as_redis_py_raises_it(client):
    script = PackedScript(client.register_script("return redis.error_reply('refused: ' .. ARGV[1])"))
    with pytest.raises(redis.ResponseError, match="refused: no"):
        script(client, ["no"])
    assert client.ping()  # the connection went back to the pool in a usable state


def test_arguments_of_other_types_are_refused_before_anything_is_sent(client):
    script = PackedScript(client.register_script(SOURCE))
    for bad in (1.5, True, None):
        with pytest.raises(TypeError, match="bytes, str or int"):
            script(client, ["x", bad])


def test_delay_on_a_flushed_server_still_enqueues(server, client):
    """The facade's publish path end to end: after SCRIPT FLUSH the message is still stored and queued."""
    app = Celery("packed", broker=server.url, backend=server.url, set_as_current=False)

    @app.task
    def add(x, y):
        return x + y

    add.delay(1, 1)
    client.script_flush()
    result = add.delay(2, 2)
    queue = f"{app.conf.broker_namespace}:{app.conf.task_default_queue}"
    assert client.llen(queue) == 2
    stored = client.hvals(f"{queue}.msgs")
    assert len(stored) == 2 and any(result.id.encode() in data for data in stored)


def test_a_slot_keeps_one_connection_and_replaces_it_when_the_server_closed_it(server, client, admin):
    script = PackedScript(client.register_script(SOURCE))
    slot = SimpleNamespace()
    assert script(client, ["x"], slot) == [1, b"x", b"x"]
    kept = slot.redis
    before = {entry["id"] for entry in admin.client_list()}
    assert script(client, ["y"], slot) == [1, b"y", b"y"]
    assert slot.redis is kept and {entry["id"] for entry in admin.client_list()} == before  # no new one
    admin.client_kill_filter(_type="normal", skipme=True)  # every other client: the slot's too
    assert script(client, ["z"], slot) == [1, b"z", b"z"]  # redis-py's retry, then the slot reconnects
    assert script(client, ["w"], slot) == [1, b"w", b"w"]
    connected = {entry["id"] for entry in admin.client_list()}
    close_slots([slot])
    wait_for(lambda: len({entry["id"] for entry in admin.client_list()}) == len(connected) - 1, 5,
             "the slot's connection to close")


# -- a script that answers an integer: its reply is read on the socket (the enqueue script's path) ------
COUNT = "return #ARGV"


def ping_calls(admin) -> int:
    return int(admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


def client_ids(admin) -> set:
    return {entry["id"] for entry in admin.client_list()}


def test_an_integer_reply_is_read_directly_and_the_health_check_is_pushed_back(server, admin):
    client = redis.Redis.from_url(server.url, health_check_interval=30)
    try:
        script = PackedScript(client.register_script(COUNT), integer_reply=True)
        slot = SimpleNamespace()
        assert script(client, ["a"], slot) == 1  # connected (redis-py checks a new connection once)
        pings = ping_calls(admin)
        assert [script(client, ["a"] * n, slot) for n in (1, 2, 3)] == [1, 2, 3]
        assert ping_calls(admin) == pings  # each reply counts as the connection's proof of health
        slot.redis.next_health_check = 0  # as if 30 s had passed: the next call checks first
        assert script(client, ["a"], slot) == 1 and ping_calls(admin) == pings + 1
    finally:
        close_slots([slot])
        client.close()


def test_an_integer_script_error_is_raised_and_the_connection_kept(client, admin):
    source = "if ARGV[1] == 'no' then return redis.error_reply('refused: no') end return 7"
    script = PackedScript(client.register_script(source), integer_reply=True)
    slot = SimpleNamespace()
    assert script(client, ["yes"], slot) == 7
    kept = client_ids(admin)
    with pytest.raises(redis.ResponseError, match="refused: no"):
        script(client, ["no"], slot)
    assert script(client, ["yes"], slot) == 7 and client_ids(admin) == kept
    close_slots([slot])


def test_an_integer_script_unloaded_is_loaded_on_the_same_connection(client, admin):
    script = PackedScript(client.register_script(COUNT), integer_reply=True)
    slot = SimpleNamespace()
    assert script(client, ["a"], slot) == 1
    client.script_flush()
    kept = client_ids(admin)
    assert script(client, ["a", "b"], slot) == 2
    assert client.script_exists(script.script.sha) == [True] and client_ids(admin) == kept
    close_slots([slot])


def test_an_integer_script_survives_a_closed_connection_and_reports_a_server_gone(server, client, admin):
    script = PackedScript(client.register_script(COUNT), integer_reply=True)
    slot = SimpleNamespace()
    assert script(client, ["a"], slot) == 1
    admin.client_kill_filter(_type="normal", skipme=True)
    assert script(client, ["a", "b"], slot) == 2  # redis-py's retry, then the slot reconnects
    assert script(client, ["a", "b", "c"], slot) == 3
    server.stop()
    with pytest.raises(redis.ConnectionError):
        script(client, ["a"], slot)


def test_a_script_declared_integer_that_answers_otherwise_is_an_error(client):
    script = PackedScript(client.register_script("return 'text'"), integer_reply=True)
    slot = SimpleNamespace()
    with pytest.raises(redis.ResponseError, match="unexpected reply"):
        script(client, [], slot)
    close_slots([slot])
