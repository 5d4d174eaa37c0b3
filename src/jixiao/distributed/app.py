"""The Celery application: `celery -A jixiao.distributed.app worker` (what `jixiao worker` runs).

Delivery is at least once: a task is acknowledged only after it finished (`acks_late`), a
worker process that dies mid-task sends its task back (`task_reject_on_worker_lost`), and a
worker takes one task at a time (prefetch 1), so a worker that dies holds at most its own
documents. Duplicates that at-least-once delivery allows are absorbed by the database
(storeonce.py); results are never kept in Celery (`task_ignore_result`): they are in the
database.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from jixiao.distributed.settings import QUEUE, DistributedSettings, broker_url


def configure(app: Celery) -> None:
    settings = DistributedSettings.from_env()
    vt = settings.visibility_timeout
    app.conf.update(
        broker_url=broker_url(required=False) or "redis://127.0.0.1:6379/0",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart is waited out, not fatal
        task_publish_retry=True,
        broker_transport_options=_transport_options(vt),
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )


def _transport_options(visibility_timeout: int) -> dict[str, Any]:
    options: dict[str, Any] = {"visibility_timeout": visibility_timeout}
    if visibility_timeout < 600:
        # A short timeout (tests, small documents) is only useful if the sweep that hands an
        # abandoned task to another worker runs about as often; kombu's default is ~100 s.
        options["unacked_restore_interval"] = max(1, visibility_timeout // 4)
        options["unacked_restore_throttle"] = 1
    return options


app = Celery("jixiao", include=["jixiao.distributed.tasks"])
configure(app)
