"""The worker's broker consumer: Celery's own, made to outlive a broker that stops while the
worker holds unacknowledged messages (DESIGN "Failure contract").

Works around two bugs in kombu 5.7.0's Redis transport (the newest release at the time of
writing; no fixed one exists), both hit when the connection breaks with a task in flight
(acks_late, so its message is unacknowledged), each killing the worker with an
`Unrecoverable error: AttributeError(...)`:

- Celery's `on_connection_error_after_connected` calls `connection.collect()`: closing the
  default channel fails half-way on the dead socket (while the consumer waits in BRPOP),
  before the channel restores its unacknowledged messages; `collect()` then detaches the
  transport (`transport.client = None`) yet keeps the channel. `connection.close()` closes
  that channel again, its restore builds a new Redis pool from `transport.client.hostname`:
  "'NoneType' object has no attribute 'hostname'".
- The task still running finishes after the reconnect and is acknowledged on the old, closed
  channel, which builds a pool from `channel.connection.client` (now None): "'NoneType'
  object has no attribute 'client'", raised from the event loop.

So before Celery tears the broken connection down, its default channel stops settling
messages: no restore at close, and acks and rejects are dropped. The broker that handed those
messages out is gone; Redis keeps them in its unacked hash and hands them out again after the
visibility timeout (deliveries are idempotent), and the outbox sweep resends what the
database says is undelivered long before that. Remove this module (and CELERY_WORKER_CONSUMER)
once kombu settles messages of a closed channel without a transport; the broker outage tests
in tests/test_outage_broker.py guard it.
"""

from __future__ import annotations

from celery.worker.consumer import Consumer


class BrokerOutageConsumer(Consumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        _stop_settling_on_broken_channel(self.connection)
        super().on_connection_error_after_connected(exc)


def _stop_settling_on_broken_channel(connection: object) -> None:
    # Cached attributes only: the public `default_channel` and `qos` properties would create
    # a channel (dialling the broker) or a fresh QoS.
    channel = getattr(connection, "_default_channel", None)
    qos = getattr(channel, "_qos", None)
    if qos is None:
        return
    qos.restore_at_shutdown = False
    qos.ack = _left_to_the_visibility_timeout
    qos.reject = _left_to_the_visibility_timeout


def _left_to_the_visibility_timeout(delivery_tag: object, requeue: bool = False) -> None:
    """Settling a message of a broken connection: nothing to do, see the module docstring."""
