"""OpenAI through its official SDK (integrations.md §6): one structured-output call.

The SDK does the HTTP work: the base URL (`OPENAI_BASE_URL`, a local fake in tests), the
timeout per attempt, and the retries of timeouts, 429s and 5xx, honouring `retry-after-ms`
and `retry-after`. This module turns its answers and exceptions into `AiResult` or
`AiError`, whose `reason` is a sentence for the clinician and never contains patient data.
"""

from dataclasses import dataclass
from typing import Generic, TypeVar

import openai
import structlog
from django.conf import settings
from pydantic import BaseModel, ValidationError

log = structlog.get_logger(__name__)

Schema = TypeVar("Schema", bound=BaseModel)


class AiError(Exception):
    """The call produced nothing usable. `code` is stable for API clients."""

    def __init__(self, reason: str, *, code: str, request_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class AiResult(Generic[Schema]):
    parsed: Schema
    model: str
    request_id: str
    prompt_tokens: int
    completion_tokens: int


def ai_configured() -> bool:
    """A key is set: without one the feature is off and its buttons are hidden."""
    return bool(settings.OPENAI_API_KEY)


def _client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        # Empty: the SDK's own default (OPENAI_BASE_URL from the environment, else OpenAI).
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.NEXUS_AI_TIMEOUT_S,
        max_retries=settings.NEXUS_AI_MAX_RETRIES,
    )


def structured_completion(
    *, system: str, user: str, schema: type[Schema], model: str
) -> AiResult[Schema]:
    """Ask `model` for a document matching `schema` (Chat Completions, strict JSON schema)."""
    try:
        completion = _client().chat.completions.parse(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            response_format=schema,
            temperature=0.2,
        )
    except openai.LengthFinishReasonError as error:
        raise AiError(
            "The draft was longer than the model may write and was cut off, so nothing was "
            "saved. Shorten the shorthand or choose fewer notes.",
            code="ai_length",
            request_id=_request_id_of(error),
        ) from error
    except openai.ContentFilterFinishReasonError as error:
        raise AiError(
            "The AI service's content filter stopped this draft, so nothing was saved.",
            code="ai_content_filter",
            request_id=_request_id_of(error),
        ) from error
    except openai.RateLimitError as error:
        raise AiError(
            "The AI service is busy (too many requests). Try again in a minute.",
            code="ai_rate_limited",
            request_id=error.request_id or "",
        ) from error
    except openai.APITimeoutError as error:
        raise AiError(
            "The AI service did not answer in time. Try again later.", code="ai_timeout"
        ) from error
    except openai.APIConnectionError as error:
        raise AiError(
            "The AI service could not be reached. Try again later.", code="ai_unreachable"
        ) from error
    except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
        raise AiError(
            "The AI service refused Nexus's key. Ask your practice administrator.",
            code="ai_not_authorised",
            request_id=error.request_id or "",
        ) from error
    except openai.APIStatusError as error:
        raise AiError(
            f"The AI service failed (HTTP {error.status_code}). Try again later.",
            code="ai_failed",
            request_id=error.request_id or "",
        ) from error
    except (ValidationError, ValueError):
        # An answer that does not fit the schema (the error would quote it: not re-raised).
        raise AiError(
            "The AI service answered in a form Nexus could not read, so nothing was saved.",
            code="ai_bad_answer",
        ) from None
    request_id = getattr(completion, "_request_id", None) or completion.id
    choice = completion.choices[0]
    if choice.message.refusal or choice.message.parsed is None:
        raise AiError(
            "The AI model declined to write this draft, so nothing was saved.",
            code="ai_refused",
            request_id=request_id,
        )
    usage = completion.usage
    return AiResult(
        parsed=choice.message.parsed,
        model=completion.model,
        request_id=request_id,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
    )


def _request_id_of(error: Exception) -> str:
    # LengthFinishReasonError / ContentFilterFinishReasonError carry the completion.
    completion = getattr(error, "completion", None)
    return str(getattr(completion, "id", "") or "")


def cost_microdollars(*, model: str, prompt_tokens: int, completion_tokens: int) -> int:
    """What the call cost in millionths of a US dollar, from NEXUS_AI_PRICES (0 if unknown).
    A dated model name ("gpt-4o-mini-2024-07-18") is priced as its family."""
    prices = settings.NEXUS_AI_PRICES
    family = max((name for name in prices if model.startswith(name)), key=len, default=None)
    if family is None:
        return 0
    per_input, per_output = prices[family]
    return round(prompt_tokens * per_input + completion_tokens * per_output)
