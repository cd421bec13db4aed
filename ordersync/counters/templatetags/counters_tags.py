from django import template

from ordersync.counters import selectors

register = template.Library()


@register.simple_tag
def accounts_needing_attention(user) -> int:
    return selectors.account_needs_attention_count(user)
