"""DRF's JSON renderer, with the common case written by orjson.

Encoding the page is a tenth of an API list's CPU with the standard library's encoder
(issue 16: 0.2-0.3 ms of a 7 ms page of 25 patients); orjson writes the same bytes in a
tenth of that.
Same bytes is the contract, so orjson only writes what it writes exactly as DRF does:
strings, integers, booleans, null, lists and dicts (str keys). Everything else goes through
DRF's own encoder or the whole page does:
- dates, times and the like are handed to DRF's `JSONEncoder.default` (orjson's own RFC
  3339 differs: DRF writes "Z" for UTC);
- anything DRF would turn into a float (a raw Decimal), a non-str key, a too large integer
  or too deep nesting, and `; indent=` in Accept: DRF's renderer, unchanged;
- floats: orjson writes the same as Python's repr except below 1e-4 (0.00001 and 2e-7
  where Python writes 1e-05 and 2e-07); a page whose bytes could hold such a number is
  written again by DRF's renderer. NaN and infinity, which DRF refuses (strict JSON), orjson
  writes as null: no API response carries a computed float, and PostgreSQL's jsonb cannot
  hold either, so none can reach a response from a JSON field.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Where orjson's float differs from the standard library's: a negative exponent (1e-07
# against 2e-7; Python pads it, "1e-07") or a small number in full (0.00001 for 1e-05).
# Found by `bytes.find`, a regular expression over a 17 KB page costs more than the encoding;
# a string that happens to contain the same ("5e-", ":0.0000") only costs a second rendering.
_FLOAT_MARKERS = ((b"e-", b"0123456789"), (b"0.0000", b":,[-"))
_drf_encoder = JSONEncoder()


class _NotExact(Exception):
    """Raised inside orjson's `default`: DRF's encoder would give a float."""


def _default(value: Any) -> Any:
    converted = _drf_encoder.default(value)
    if isinstance(converted, float):
        raise _NotExact
    return converted


def _may_hold_other_float(rendered: bytes) -> bool:
    for marker, after in _FLOAT_MARKERS:
        at = rendered.find(marker)
        while at >= 0:
            if at == 0 or rendered[at - 1] in after:
                return True
            at = rendered.find(marker, at + 1)
    return False


class FastJSONRenderer(JSONRenderer):
    """`rest_framework.renderers.JSONRenderer`, byte for byte (tests/test_api_renderer.py)."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if (
            data is None
            or not self.compact
            or self.ensure_ascii
            or not self.strict
            or self.encoder_class is not JSONEncoder
            or self.get_indent(accepted_media_type or "", renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, _NotExact):
            return super().render(data, accepted_media_type, renderer_context)
        if _may_hold_other_float(rendered):
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: the two line separators JavaScript does not allow in a string literal.
        if b"\xe2" in rendered:  # one byte: memchr, where the three-byte search scans slowly
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                b"\xe2\x80\xa9", b"\\u2029"
            )
        return rendered
