from django import template

from ordersync.core.permissions import user_is_admin

register = template.Library()


@register.filter
def is_admin(user) -> bool:
    return user_is_admin(user)


@register.filter
def as_minutes(value) -> int:
    """Return a timedelta as whole minutes, rounded up."""
    seconds = int(value.total_seconds()) if value else 0
    return -(-seconds // 60)
