"""The fake OpenAI server speaks what the real SDK expects: Chat Completions and Responses,
structured outputs, refusals, the error envelope. And the client's error mapping."""

import time

import openai
import pytest
from pydantic import BaseModel

from integrations.openai.client import AiError, cost_microdollars, structured_completion
from tests.fakes.openai import API_KEY


class Triage(BaseModel):
    reply: str
    urgent: bool


def _sdk(fake) -> openai.OpenAI:
    return openai.OpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0, timeout=2)


def test_the_responses_api_parses_a_structured_answer(fake_openai):
    fake_openai.answer = {"reply": "See you Tuesday", "urgent": True}

    response = _sdk(fake_openai).responses.parse(
        model="gpt-4o-mini", input="Can I come Tuesday?", text_format=Triage
    )

    assert response.output_parsed == Triage(reply="See you Tuesday", urgent=True)
    sent = fake_openai.received[0]
    assert sent["path"] == "/v1/responses"
    assert sent["body"]["text"]["format"]["type"] == "json_schema"
    assert response.usage is not None and response.usage.total_tokens == 200


def test_chat_completions_carry_the_request_id_and_the_error_envelope(fake_openai):
    fake_openai.script = ["429"]

    with pytest.raises(openai.RateLimitError) as raised:
        _sdk(fake_openai).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )

    assert raised.value.status_code == 429
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.request_id == "req_fake_1"


def test_a_wrong_key_is_refused_and_reported_without_retrying(fake_openai, settings):
    settings.OPENAI_API_KEY = "sk-wrong"

    with pytest.raises(AiError) as raised:
        structured_completion(system="s", user="u", schema=Triage, model="gpt-4o-mini")

    assert raised.value.code == "ai_not_authorised"
    assert len(fake_openai.received) == 1


def test_an_unreachable_service_is_reported(settings):
    settings.OPENAI_API_KEY = API_KEY
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.NEXUS_AI_MAX_RETRIES = 0

    with pytest.raises(AiError) as raised:
        structured_completion(system="s", user="u", schema=Triage, model="gpt-4o-mini")

    assert raised.value.code == "ai_unreachable"


def test_cost_is_priced_by_model_family(settings):
    settings.NEXUS_AI_PRICES = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}

    assert (
        cost_microdollars(model="gpt-4o-mini-2024-07-18", prompt_tokens=1000, completion_tokens=100)
        == 210
    )
    assert cost_microdollars(model="gpt-4o", prompt_tokens=1000, completion_tokens=0) == 2500
    assert cost_microdollars(model="other", prompt_tokens=1000, completion_tokens=0) == 0


def test_the_sdk_waits_what_retry_after_ms_says_not_its_own_backoff(fake_openai, monkeypatch):
    fake_openai.script = ["429", "429"]
    fake_openai.retry_after_ms = 50
    client = openai.OpenAI(api_key=API_KEY, base_url=fake_openai.base_url, max_retries=2)
    # The waits are recorded, not timed: a clock-based bound fails on a loaded machine.
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)

    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )

    assert len(fake_openai.received) == 3
    # Its own backoff would wait at least 0.375 then 0.75 s; the header says 50 ms each time.
    assert waits == [pytest.approx(0.05), pytest.approx(0.05)]
