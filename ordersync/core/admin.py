from django.contrib import admin

from ordersync.core.models import HealthPing


@admin.register(HealthPing)
class HealthPingAdmin(admin.ModelAdmin):
    list_display = ["token", "created_at", "answered_at", "worker"]
    readonly_fields = ["token", "created_at", "answered_at", "worker"]
