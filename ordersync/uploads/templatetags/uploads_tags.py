from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def delimiter_name(value: str) -> str:
    """Return a delimiter as a person reads it."""
    names = {"\t": _("tab"), ",": "«,»", ";": "«;»", "|": "«|»", " ": _("space")}
    return names.get(value, f"«{value}»" if value else "")


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if isinstance(mapping, dict) else None
