from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "ordersync.core"
    verbose_name = _("OrderSync core")

    def ready(self) -> None:
        from django.conf import settings

        # The project's Celery app, so tasks queued by the web process use it.
        from ordersync import celery  # noqa: F401
        from ordersync.core import signals  # noqa: F401  (connects the receivers)

        # The filesystem broker and local media need their folders before the
        # first message or file is written, in the web process and the worker alike.
        folders = list(
            getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).values()
        )
        folders = [f for f in folders if isinstance(f, str)]
        for folder in [*folders, str(settings.MEDIA_ROOT)]:
            from pathlib import Path

            Path(folder).mkdir(parents=True, exist_ok=True)
