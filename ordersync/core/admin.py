from django.contrib import admin

from ordersync.core.models import AuditEvent, HealthPing


@admin.register(HealthPing)
class HealthPingAdmin(admin.ModelAdmin):
    list_display = ["token", "created_at", "answered_at", "worker"]
    readonly_fields = ["token", "created_at", "answered_at", "worker"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "target_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target_repr"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
