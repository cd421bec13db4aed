from django.contrib import admin

from ordersync.counters.models import (
    Counter,
    CounterGrant,
    SavedMapping,
    StatusDictionary,
    YandexAccount,
)


@admin.register(YandexAccount)
class YandexAccountAdmin(admin.ModelAdmin):
    # The encrypted columns are not editable and never listed; the fingerprint
    # tells tokens apart.
    list_display = ["login", "status", "masked_token", "expires_at", "last_success_at"]
    list_filter = ["status", "source"]
    search_fields = ["login", "uid"]
    fields = [
        "login",
        "uid",
        "status",
        "source",
        "masked_token",
        "scopes",
        "expires_at",
        "token_obtained_at",
        "last_success_at",
        "last_checked_at",
        "last_error",
        "counters_reachable",
        "connected_by",
        "connected_at",
    ]
    readonly_fields = [f for f in fields if f != "status"]

    def has_add_permission(self, request) -> bool:
        return False


class CounterGrantInline(admin.TabularInline):
    model = CounterGrant
    extra = 0
    fields = ["user", "group", "granted_by", "created_at"]
    readonly_fields = ["granted_by", "created_at"]


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["name", "metrika_id", "account", "permission", "enabled"]
    list_filter = ["enabled", "permission", "account"]
    search_fields = ["name", "site", "metrika_id"]
    readonly_fields = ["account", "metrika_id", "permission", "reachable", "synced_at"]
    inlines = [CounterGrantInline]


@admin.register(SavedMapping)
class SavedMappingAdmin(admin.ModelAdmin):
    list_display = ["name", "counter", "updated_at"]


@admin.register(StatusDictionary)
class StatusDictionaryAdmin(admin.ModelAdmin):
    list_display = ["name", "counter", "updated_at"]
