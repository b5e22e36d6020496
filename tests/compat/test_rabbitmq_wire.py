"""The publish written straight to the socket (``compat/brokers/rabbitmq/wire.py``).

Its bytes must be pika's, frame for frame, and what it sends must arrive on a real RabbitMQ as pika's
publish would: body, properties, priority, in order, confirmed. Where it cannot write (a body larger than
a frame, pika holding output) the message goes through pika and still arrives once.
"""

from __future__ import annotations

import dramatiq
import pika
import pika.frame
import pika.spec
import pytest

from compat import Celery
from compat.brokers.rabbitmq.confirms import READ_EVERY, Pending, Pipeline
from compat.brokers.rabbitmq.wire import ENCODED_PROPERTIES, SocketWriter, content_frames, method_frame
from tests.helpers import wait_for
from tests.rabbitmq_support import closing_apps, node_and_vhost, queued_ids

QUEUE = "wire"
APP_QUEUE = "wire-app"  # declared by the app, with its own arguments


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    yield from node_and_vhost(tmp_path_factory)


@pytest.fixture
def connection(rabbit):
    found, vhost = rabbit
    conn = pika.BlockingConnection(pika.URLParameters(found.url(vhost)))
    conn.channel().queue_declare(QUEUE, arguments={"x-max-priority": 10})
    try:
        yield conn
    finally:
        if conn.is_open:
            conn.channel().queue_delete(QUEUE)
            conn.close()


def pika_frames(channel: int, routing_key: str, body: bytes, properties: pika.BasicProperties) -> bytes:
    method = pika.spec.Basic.Publish(exchange="", routing_key=routing_key, mandatory=True)
    return b"".join(
        (
            pika.frame.Method(channel, method).marshal(),
            pika.frame.Header(channel, len(body), properties).marshal(),
            pika.frame.Body(channel, body).marshal(),
        )
    )


@pytest.mark.parametrize(
    "properties",
    [
        pika.BasicProperties(delivery_mode=2, message_id="0b6f4a59-0c7e-4c0e-9d45-5a8a1b2c3d4e"),
        pika.BasicProperties(delivery_mode=2, priority=9, message_id="x"),
        pika.BasicProperties(delivery_mode=2, priority=0, message_id="é" * 100),
        pika.BasicProperties(delivery_mode=1),
    ],
)
def test_the_frames_are_the_bytes_pika_marshals(properties):
    body = b'{"args": [1, 2]}' * 50
    ours = method_frame(7, "celery.queue-é") + content_frames(7, body, properties)
    assert ours == pika_frames(7, "celery.queue-é", body, properties)


@pytest.mark.parametrize("options, delay", [({}, None), ({"priority": 5}, None), ({"priority": 3}, 1000)])
def test_the_broker_sets_no_property_the_writer_does_not_encode(rabbit, options, delay):
    found, vhost = rabbit
    app = Celery("wire", broker=found.url(vhost), set_as_current=False, stores_url=False)
    try:
        message = dramatiq.Message(
            queue_name=QUEUE, actor_name="wire.add", args=(1, 2), kwargs={}, options=options
        )
        properties = app.broker._prepare(message, delay)[3]
    finally:
        app.close()
    set_fields = {name for name, value in vars(properties).items() if value is not None}
    assert set_fields <= set(ENCODED_PROPERTIES)
    assert properties.message_id == message.message_id


def test_a_written_message_arrives_with_its_body_and_properties(connection):
    channel = connection.channel()
    writer = SocketWriter.attach(channel)
    assert writer is not None, "pika's plain transport no longer has what the writer reads"
    sent = []
    for priority in (None, 1, 9):
        properties = pika.BasicProperties(delivery_mode=2, priority=priority, message_id=f"id-{priority}")
        body = f'{{"p": {priority}}}'.encode()
        assert writer.publish(QUEUE, body, properties)
        sent.append((properties.message_id, body))
    received = []
    reader = connection.channel()
    for _ in sent:
        method, properties, body = _get(connection, reader)
        received.append((properties.message_id, body, properties.priority, properties.delivery_mode))
    # priority 9 first, then 1, then none (a priority queue), all persistent
    assert received == [
        ("id-9", sent[2][1], 9, 2),
        ("id-1", sent[1][1], 1, 2),
        ("id-None", sent[0][1], None, 2),
    ]


def _get(connection, channel, timeout: float = 10.0):
    found = []

    def take():
        method, properties, body = channel.basic_get(QUEUE, auto_ack=True)
        if method is not None:
            found.append((method, properties, body))
        return bool(found)

    wait_for(take, timeout, "a message in the queue")
    return found[0]


class ShortSocket:
    """The connection's real socket, taking at most ``limit`` bytes per ``send`` (a full send buffer)."""

    def __init__(self, sock, limit: int) -> None:
        self.sock, self.limit, self.short_sends = sock, limit, 0

    def send(self, data) -> int:
        if len(data) > self.limit:
            self.short_sends += 1
        return self.sock.send(bytes(data[: self.limit]))

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_short_write_is_finished_by_pika_in_order(connection):
    channel = connection.channel()
    writer = SocketWriter.attach(channel)
    transport = connection._impl._transport
    real = transport._sock
    transport._sock = short = ShortSocket(real, 10)
    try:
        for n in range(3):
            properties = pika.BasicProperties(delivery_mode=2, message_id=f"short-{n}")
            assert writer.publish(QUEUE, b"x" * 500 + str(n).encode(), properties)
            assert transport.get_write_buffer_size() == 0  # pika flushed the rest before returning
    finally:
        transport._sock = real
    assert short.short_sends >= 3
    reader = connection.channel()
    bodies = [_get(connection, reader)[2] for _ in range(3)]
    assert bodies == [b"x" * 500 + b"0", b"x" * 500 + b"1", b"x" * 500 + b"2"]
    assert connection.is_open


def test_it_does_not_write_while_pika_holds_output_or_for_a_body_larger_than_a_frame(connection):
    channel = connection.channel()
    writer = SocketWriter.attach(channel)
    # pika's own publish, queued in its transport and not flushed yet
    channel._impl.basic_publish("", QUEUE, b"first", pika.BasicProperties(message_id="first"))
    assert connection._impl._transport.get_write_buffer_size() > 0
    assert not writer.publish(QUEUE, b"second", pika.BasicProperties(message_id="second"))
    connection.process_data_events(0)
    assert writer.publish(QUEUE, b"second", pika.BasicProperties(message_id="second"))
    big = b"y" * (connection._impl._body_max_length + 1)
    assert not writer.publish(QUEUE, big, pika.BasicProperties(message_id="big"))
    reader = connection.channel()
    assert [_get(connection, reader)[2] for _ in range(2)] == [b"first", b"second"]


@pytest.fixture
def app_and_add(rabbit):
    """An app on the module's vhost (no stores) sending ``wire.add`` to ``APP_QUEUE``; emptied after."""
    found, vhost = rabbit
    with closing_apps(
        lambda: Celery(
            "wire", broker=found.url(vhost), set_as_current=False, stores_url=False,
            task_default_queue=APP_QUEUE,
        )
    ) as make:
        app = make()
        yield app, app.task(name="wire.add")(lambda x, y: x + y)


def test_delay_writes_to_the_socket_and_every_message_is_confirmed_once(app_and_add):
    app, add = app_and_add
    count = 3 * READ_EVERY + 5
    ids = [add.delay(n, n).id for n in range(count)]
    big = add.delay("z" * 200_000, "").id  # larger than a frame: pika writes it
    pipelines = [slot.__dict__.get("pipeline") for slot in app.broker._pipelined_slots()]
    assert any(isinstance(p, Pipeline) and p.writer is not None for p in pipelines)
    assert app.broker.flush_confirms(timeout=20) == 0
    assert sorted(queued_ids(app.conf.broker_url, APP_QUEUE)) == sorted([*ids, big])


def test_a_task_id_longer_than_an_amqp_short_string_is_refused_and_nothing_is_owed(app_and_add):
    app, add = app_and_add
    with pytest.raises(ValueError, match="at most 255 bytes"):
        add.apply_async((1, 2), task_id="x" * 300)
    assert app.broker.unconfirmed() == 0
    sent = add.delay(1, 2).id
    assert app.broker.flush_confirms(timeout=20) == 0
    assert queued_ids(app.conf.broker_url, APP_QUEUE) == [sent]


def test_a_message_that_cannot_be_framed_leaves_nothing_owed_on_the_pipeline(connection):
    pipeline = Pipeline(connection)
    too_long = pika.BasicProperties(delivery_mode=2, message_id="y" * 300)
    with pytest.raises(ValueError):
        pipeline.send(Pending(QUEUE, b"body", too_long))
    assert pipeline.unconfirmed == {}
    pipeline.send(Pending(QUEUE, b"body", pika.BasicProperties(delivery_mode=2, message_id="ok")))
    wait_for(lambda: pipeline.read(0.05) or not pipeline.unconfirmed, 10, "the confirm of the next send")
