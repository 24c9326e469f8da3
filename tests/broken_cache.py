"""A cache backend whose server is down: every call raises, as Redis does when unreachable."""

from django.core.cache.backends.base import BaseCache


class BrokenCache(BaseCache):
    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        raise ConnectionError("cache server unreachable")

    add = get = set = delete = touch = incr = clear = has_key = get_many = set_many = _fail
