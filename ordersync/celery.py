"""The Celery application; configuration comes from Django settings (CELERY_*)."""

import os
import resource

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")

app = Celery("ordersync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def cap_worker_memory(**kwargs) -> None:
    """Cap each worker child's address space, so one hostile file kills one task."""
    from django.conf import settings

    limit_mb = settings.WORKER_MEMORY_LIMIT_MB
    if limit_mb > 0:
        limit = limit_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
