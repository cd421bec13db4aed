import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class HealthPing(models.Model):
    """A round trip through the broker to a worker, written back by the worker."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("health ping")
        verbose_name_plural = _("health pings")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.token)
