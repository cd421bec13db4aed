from celery import shared_task

from ordersync.core import services


@shared_task(name="core.health_ping_answer")
def health_ping_answer(ping_id: int) -> None:
    """Mark the ping as answered by this worker."""
    services.health_ping_answer(
        ping_id=ping_id, worker=health_ping_answer.request.hostname or ""
    )
