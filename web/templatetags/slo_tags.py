"""Small filters for the SLO templates."""

from django import template

from web.views import percent as percent_text

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`mapping|get_item:key`: a dict lookup with a variable key."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def percent(value, digits: int = 3):
    """0.9995 -> "99.95%"; "–" for no value."""
    if value is None or value == "":
        return percent_text(None)
    return percent_text(float(value), digits=int(digits))
