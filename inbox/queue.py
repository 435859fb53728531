"""The dramatiq side: one broker per Heard, the tasks declared as actors on it.

`memory://` is dramatiq's in-process StubBroker with a Worker in this process (the embedded
default; the store re-enqueues pending work on start, so a crash loses nothing). `redis://` is
the RedisBroker, for several machines sharing the work.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from inbox import tasks

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

QUEUE_NAME = "heard"

# name -> (task, actor options)
ACTORS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "route": (tasks.route, {"max_retries": 5, "min_backoff": 500, "time_limit": 120_000}),
    "route_many": (
        tasks.route_many,
        {"max_retries": 5, "min_backoff": 500, "time_limit": 600_000},
    ),
    "deliver": (tasks.deliver, {"max_retries": 0, "time_limit": 300_000}),
    "sla_tick": (tasks.sla_tick, {"max_retries": 0, "time_limit": 300_000}),
    "sweep": (tasks.sweep, {"max_retries": 0, "time_limit": 300_000}),
}


def make_broker(url: str, namespace: str) -> dramatiq.Broker:
    if url.startswith("memory://"):
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=namespace)  # type: ignore[no-untyped-call]
    if url.startswith("amqp://"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"unsupported broker URL {url!r}")


class Queue:
    def __init__(self, heard: Heard, *, worker: bool = True) -> None:
        self.heard = heard
        settings = heard.settings.queue
        self.broker = make_broker(settings.broker, settings.namespace)
        self.actors: dict[str, dramatiq.Actor[Any, Any]] = {}
        for name, (fn, options) in ACTORS.items():
            bound = functools.update_wrapper(functools.partial(_run, fn, heard), fn)
            self.actors[name] = dramatiq.Actor(
                bound,
                broker=self.broker,
                actor_name=name,
                queue_name=QUEUE_NAME,
                priority=0,
                options=dict(options),
            )
        self.worker: dramatiq.Worker | None = None
        if worker:
            self.worker = dramatiq.Worker(
                self.broker, worker_threads=settings.worker_threads, worker_timeout=100
            )

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def enqueue(self, name: str, *args: Any, delay_ms: int = 0) -> None:
        self.actors[name].send_with_options(args=args, delay=delay_ms or None)

    def drain(self, timeout: float = 120.0, fail_fast: bool = False) -> None:
        """Wait until every queued job, and every job those enqueue, has run."""
        if isinstance(self.broker, StubBroker):
            self.broker.join(QUEUE_NAME, timeout=int(timeout * 1000), fail_fast=fail_fast)
        else:
            self.broker.join(QUEUE_NAME, timeout=int(timeout * 1000))
        if self.worker is not None:
            self.worker.join()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout=30_000)
            self.worker = None
        self.broker.close()


def _run(fn: Callable[..., Any], heard: Heard, *args: Any) -> None:
    """Run a task for the broker; what it returns is for direct callers and tests only
    (dramatiq warns about return values without a results backend)."""
    fn(heard, *args)


def start_queue(heard: Heard, *, worker: bool = True, loop: Any = None) -> Queue:
    """Give `heard` a queue and a channel loop; with a worker, jobs start running now."""
    from inbox.channels import ChannelLoop

    if heard.channels is None:
        heard.channels = ChannelLoop(heard, loop)
    queue = Queue(heard, worker=worker)
    heard.queue = queue
    queue.start()
    return queue


def stop_queue(heard: Heard) -> None:
    if heard.queue is not None:
        heard.queue.close()
        heard.queue = None
    if heard.channels is not None:
        heard.channels.close()
        heard.channels = None
