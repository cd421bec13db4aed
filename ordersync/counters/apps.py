from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def check_token_keys(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from ordersync.counters import crypto

    try:
        crypto.check_keys()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="counters.E001")]
    return []


class CountersConfig(AppConfig):
    name = "ordersync.counters"
    label = "counters"
    verbose_name = _("Yandex accounts and counters")

    def ready(self) -> None:
        checks.register(check_token_keys)
