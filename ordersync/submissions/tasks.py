from celery import shared_task

from ordersync.submissions import services
from ordersync.uploads import services as upload_services


@shared_task(name="submissions.process")
def submission_process_task(submission_id: int) -> None:
    """Advance one submission (send, reconcile or confirm)."""
    services.submission_process(submission_id=submission_id)


@shared_task(name="submissions.sweep")
def submission_sweep_task() -> None:
    """Re-queue lost tasks and recover submissions whose worker died."""
    services.submission_sweep()


@shared_task(name="submissions.purge_files")
def submission_purge_files_task() -> None:
    """Delete original and prepared files older than the retention period, and
    abandon drafts never confirmed."""
    upload_services.upload_drafts_expire()
    services.upload_files_purge()
