"""A local stand-in for the OpenAI API (integrations.md §6), driven by the real `openai` SDK.

`POST /v1/chat/completions` and `POST /v1/responses` check the bearer key and answer in the
shapes the SDK parses, with structured outputs: when the request carries a JSON schema
(`response_format.json_schema` or `text.format`), the answer is a JSON document with every
property of that schema. By default the first property repeats the user's message (so a test
sees what the model "saw" come back) and the others say "Not recorded."; `answer` overrides.

Tests script the next answers with `script`: "ok", "429" (with `retry-after-ms`), "500",
"refusal", "length", "content_filter", "garbage" (not JSON) or "timeout" (holds the request
until the client gives up). Each request's JSON body and headers (lower-cased names) are
kept in `received`. Binds 127.0.0.1 on a free port (§8.7).
"""

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes._server import FakeServer

API_KEY = "sk-test-nexus-fake"
MODEL_SNAPSHOT = "gpt-4o-mini-2024-07-18"


@dataclass
class FakeOpenAI(FakeServer):
    script: list[str] = field(default_factory=list)
    answer: dict[str, Any] | None = None
    retry_after_ms: int = 20
    usage: tuple[int, int] = (120, 80)  # prompt, completion tokens
    received: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls) -> "FakeOpenAI":
        return cls().serve(_Handler)

    def stop(self) -> None:
        self._release.set()  # Any request held by "timeout" returns first.
        super().stop()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        with self._lock:
            self.script, self.answer, self.received = [], None, []
            self.retry_after_ms, self.usage = 20, (120, 80)
            self._ids = itertools.count(1)
        self._release.set()
        self._release = threading.Event()

    def settings(self) -> dict[str, Any]:
        """The Django settings that point Nexus at this fake."""
        return {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": self.base_url}

    def sent_text(self) -> str:
        """Everything the fake was sent, as one string: what left Nexus."""
        with self._lock:
            return "\n".join(json.dumps(item["body"], ensure_ascii=False) for item in self.received)

    def _next(self) -> tuple[str, int]:
        with self._lock:
            mode = self.script.pop(0) if self.script else "ok"
            return mode, next(self._ids)


def _schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    text_format = (body.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema":
        return text_format["schema"]
    return None


def _user_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(
            str(m.get("content", "")) for m in body["messages"] if m.get("role") == "user"
        )
    given = body.get("input", "")
    if isinstance(given, list):
        return "\n".join(str(m.get("content", "")) for m in given if m.get("role") == "user")
    return str(given)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, payload: dict[str, Any], **headers: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str, code: str | None, **headers: str):
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._json(status, {"error": error}, **headers)

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with fake._lock:
            fake.received.append(
                {
                    "path": self.path,
                    "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
            )
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
            return
        if self.path not in ("/v1/chat/completions", "/v1/responses"):
            self._error(404, "Unknown path.", "invalid_request_error", None)
            return
        mode, number = fake._next()
        request_id = f"req_fake_{number}"
        if mode == "429":
            self._error(
                429,
                "Rate limit reached for gpt-4o-mini.",
                "requests",
                "rate_limit_exceeded",
                x_request_id=request_id,
                retry_after_ms=str(fake.retry_after_ms),
            )
            return
        if mode == "500":
            self._error(
                500,
                "The server had an error while processing your request.",
                "server_error",
                None,
                x_request_id=request_id,
            )
            return
        if mode == "timeout":
            fake._release.wait(30)
            return
        if self.path == "/v1/responses":
            self._json(200, _response(fake, body, mode, number), x_request_id=request_id)
        else:
            self._json(200, _completion(fake, body, mode, number), x_request_id=request_id)


def _completion(fake: FakeOpenAI, body: dict[str, Any], mode: str, number: int) -> dict[str, Any]:
    content: str | None = fake_document(fake, body)
    refusal = None
    finish = "stop"
    if mode == "refusal":
        content, refusal = None, "I'm sorry, I can't help with that."
    elif mode == "length":
        content, finish = (content or "")[:20], "length"
    elif mode == "content_filter":
        content, finish = None, "content_filter"
    elif mode == "garbage":
        content = '{"subjective": "half an answer'  # not JSON, let alone the schema
    prompt, completion = fake.usage
    return {
        "id": f"chatcmpl-fake{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_SNAPSHOT,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _response(fake: FakeOpenAI, body: dict[str, Any], mode: str, number: int) -> dict[str, Any]:
    prompt, completion = fake.usage
    if mode == "refusal":
        content = [{"type": "refusal", "refusal": "I'm sorry, I can't help with that."}]
    else:
        content = [{"type": "output_text", "text": fake_document(fake, body), "annotations": []}]
    incomplete = mode == "length"
    return {
        "id": f"resp_fake{number}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "model": MODEL_SNAPSHOT,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"),
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": body.get("temperature", 1.0),
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "output": [
            {
                "type": "message",
                "id": f"msg_fake{number}",
                "status": "completed",
                "role": "assistant",
                "content": content,
            }
        ],
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def fake_document(fake: FakeOpenAI, body: dict[str, Any]) -> str:
    """The JSON document a structured-output request asked for (see the module docstring)."""
    schema = _schema_of(body)
    if schema is None:
        return "A plain answer."
    names = list(schema.get("properties", {}))
    if fake.answer is not None:
        return json.dumps({name: fake.answer.get(name, "Not recorded.") for name in names})
    text = _user_text(body)
    return json.dumps(
        {name: (text if index == 0 else "Not recorded.") for index, name in enumerate(names)}
    )
