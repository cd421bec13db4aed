from django import template

from ordersync.core.permissions import user_is_admin

register = template.Library()


@register.filter
def is_admin(user) -> bool:
    return user_is_admin(user)
