"""Names of audit actions; other apps add theirs to ACTION_LABELS."""

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "auth.login": _("Signed in"),
    "auth.logout": _("Signed out"),
    "auth.login_failed": _("Sign-in refused"),
    "auth.locked_out": _("Locked out after failed sign-ins"),
    "access.denied": _("Page refused"),
    "account.connected": _("Yandex account connected"),
    "account.token_replaced": _("Token replaced"),
    "account.token_refreshed": _("Token refreshed"),
    "account.token_invalid": _("Token found invalid"),
    "account.disconnected": _("Yandex account disconnected"),
    "account.oauth_failed": _("Connection attempt failed"),
    "counter.added": _("Counter added"),
    "counter.removed": _("Counter removed"),
    "counter.settings_changed": _("Counter settings changed"),
    "counters.synced": _("Counters synchronised"),
    "grant.added": _("Access granted"),
    "grant.removed": _("Access removed"),
    "keys.rotated": _("Token keys rotated"),
}


def action_label(action: str) -> str:
    """Return the translated name of an action, or its code when unknown."""
    return str(ACTION_LABELS.get(action, action))
