"""`{% route 'name' %}`: the URL of a route without arguments, reversed once per process.

The staff pages' top bar links a dozen such routes, and `{% url %}` reverses each on every
page (about 0.1 ms apiece here, ~1 ms a page; issue 16). Their URLs change only with the URL
configuration or the script prefix, which are part of the key.
"""

from functools import lru_cache

from django import template
from django.urls import URLResolver, get_resolver, get_script_prefix, get_urlconf, reverse

register = template.Library()


@lru_cache(maxsize=256)
def _reverse(name: str, prefix: str, urlconf: str | None, resolver: URLResolver) -> str:
    # `resolver` is rebuilt when ROOT_URLCONF changes (tests' override_settings).
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def route(name: str) -> str:
    urlconf = get_urlconf()
    return _reverse(name, get_script_prefix(), urlconf, get_resolver(urlconf))
