"""The API's JSON renderer (nexus/api/renderers.py) writes DRF's JSONRenderer's bytes."""

import datetime
import decimal
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from nexus.api.renderers import FastJSONRenderer

SYDNEY = ZoneInfo("Australia/Sydney")


def rendered(renderer: JSONRenderer, data: Any, media_type: str | None = None) -> Any:
    """The bytes, or the kind of error, a renderer gives."""
    try:
        return renderer.render(data, media_type, {})
    except Exception as exc:  # the kind of failure must match too
        return type(exc)


def assert_same(data: Any, media_type: str | None = "application/json") -> None:
    assert rendered(FastJSONRenderer(), data, media_type) == rendered(
        JSONRenderer(), data, media_type
    )


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    # NaN and infinity are the one known difference (test_nan_is_written_as_null).
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.text(),
    st.text(alphabet=st.sampled_from(["\u2028", "\u2029", "\x00", "\x1f", '"', "\\", "é", "😀"])),
    st.datetimes(timezones=st.sampled_from([datetime.UTC, SYDNEY])),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.uuids(),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
        st.dictionaries(st.integers(), children, max_size=2),
    ),
    max_leaves=20,
)


@given(documents)
def test_any_document_renders_as_drf_renders_it(data: Any) -> None:
    assert_same(data)


@given(documents)
def test_a_page_dict_of_drf_types_renders_as_drf_renders_it(data: Any) -> None:
    assert_same({"count": 1, "next": None, "results": ReturnList([data], serializer=None)})


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        [],
        0.00001,
        -2e-7,
        1e16,
        {"detail": ErrorDetail("Not found.", code="not_found"), "code": "not_found"},
        {"detail": gettext_lazy("Not found.")},
        ReturnDict({"id": 1, "name": "Ada\u2028Lovelace"}, serializer=None),
        {"at": datetime.datetime(2026, 11, 28, 9, 30, tzinfo=datetime.UTC)},
        {"at": datetime.datetime(2026, 11, 28, 9, 30, 0, 123456, tzinfo=SYDNEY)},
        {"at": datetime.time(9, 30, tzinfo=datetime.UTC)},
        {"amount": decimal.Decimal("12.50")},
        {"id": uuid.UUID(int=7)},
        {"nested": [[[[[[[[[[[]]]]]]]]]]]},
        {"big": 2**64},
        {"surrogate": "\ud800"},
        {1: "int key"},
        {"note": "re-book at 5e-3 or 0:0.0000"},
    ],
)
def test_edge_cases_render_as_drf_renders_them(data: Any) -> None:
    assert_same(data)


@pytest.mark.parametrize(
    "media_type",
    [None, "application/json", "application/json; indent=4", "application/json; indent=0"],
)
def test_the_accepted_media_type_is_honoured_as_drf_does(media_type: str | None) -> None:
    assert_same({"results": [{"id": 1, "name": "Ada"}]}, media_type)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_is_written_as_null(value: float) -> None:
    """DRF refuses NaN and infinity (strict JSON, a 500); orjson writes null. No response
    carries a computed float and jsonb cannot hold either (nexus/api/renderers.py)."""
    with pytest.raises(ValueError):
        JSONRenderer().render({"x": value})
    assert FastJSONRenderer().render({"x": value}) == b'{"x":null}'


def test_the_api_renders_with_it(settings: Any) -> None:
    from rest_framework.settings import api_settings

    assert list(api_settings.DEFAULT_RENDERER_CLASSES) == [FastJSONRenderer]
