from celery import shared_task

from ordersync.uploads import services


@shared_task(name="uploads.run_job")
def upload_run_job(upload_id: int) -> None:
    """Read, count or check the upload's file, whichever it waits for."""
    services.upload_run_job(upload_id=upload_id)


@shared_task(name="uploads.requeue_stuck")
def upload_requeue_stuck_task() -> None:
    """Start again the jobs whose worker died, or give up after a few attempts."""
    services.upload_requeue_stuck()
