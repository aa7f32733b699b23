"""The `openai` backend: any OpenAI-compatible chat-completions server (vLLM, SGLang, a proxy).

Only the URLs the user gives are contacted: the client ignores proxy variables and .netrc
(`trust_env=False`) and never follows redirects. Requests are spread round-robin over the
URLs; a failed attempt moves to the next one. Timeouts, 5xx/429/408 answers, dropped
connections and malformed bodies are retried with exponential backoff and jitter; any other
4xx is a clear, immediate error that the runner records on the item's row. The API key is
read from the environment variable named by `api_key_env`, kept in memory for the
Authorization header and never put in a message, a row or a log.

`generate` streams (SSE) and yields text as it arrives. If a stream breaks after some text was
yielded, the retry's answer must start with that same text (greedy decoding makes it so) and
only its remainder is yielded; otherwise the item fails with a clear error rather than
yielding an answer stitched from two different generations.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.backends.base import (
    BackendError,
    BackendUnavailable,
    Cancelled,
    GenerationTimeout,
    ModelRequest,
    register_backend,
)
from engine.backends.openai_messages import AudioPart, MediaOptions, build_messages

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_ERROR_BODY = 2000


@dataclass(frozen=True)
class HttpOptions:
    """Connection and retry policy (seconds)."""

    timeout: float = 600.0
    connect_timeout: float = 10.0
    retries: int = 4
    backoff: float = 1.0
    backoff_max: float = 30.0
    stream: bool = True
    temperature: float = 0.0


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may not (message for the final error)."""

    def __init__(self, message: str, timed_out: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.retry_after = retry_after


def chat_completions_url(url: str) -> str:
    """Accept a server root, a `/v1` base or the full endpoint; only http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendUnavailable(f"--url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path = (path if path.endswith("/v1") else path + "/v1") + "/chat/completions"
    return f"{parts.scheme}://{parts.netloc}{path}"


class OpenAIBackend:
    """Chat completions over httpx; thread-safe, so a runner may call `generate` concurrently."""

    name = "openai"

    def __init__(self, urls: list[str], model: str, *, api_key_env: str | None = None, concurrency: int = 1,
                 http: HttpOptions | None = None, media: MediaOptions | None = None) -> None:
        import httpx

        http = http or HttpOptions()

        if not urls:
            raise BackendUnavailable("the openai backend needs --url (repeat it to spread requests over servers)")
        if not model:
            raise BackendUnavailable("the openai backend needs --model: the model name the server serves")
        if concurrency < 1:
            raise BackendUnavailable(f"--concurrency must be at least 1, got {concurrency}")
        self.urls = [chat_completions_url(u) for u in urls]
        self.model_id = model
        self.concurrency = concurrency
        self.http = http
        self.media = media or MediaOptions()
        self._api_key = _read_api_key(api_key_env)
        self._api_key_env = api_key_env
        self._url_cycle = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()
        connections = max(concurrency, 1) * len(self.urls)
        self._client = httpx.Client(
            trust_env=False, follow_redirects=False,
            timeout=httpx.Timeout(http.timeout, connect=http.connect_timeout),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def check_servers(self) -> None:
        """Fail fast, before item 1: every server unreachable, a key refused, or a model name the
        servers do not serve (from `GET /v1/models`, where a server answers it) is one clear error."""
        import httpx

        unreachable = []
        for url in self.urls:
            models_url = url.removesuffix("/chat/completions") + "/models"
            try:
                response = self._client.get(models_url, headers=self._headers("application/json"),
                                            timeout=self.http.connect_timeout)
            except httpx.HTTPError as exc:
                unreachable.append(f"{url} ({_describe(exc)})")
                continue
            if response.status_code in (401, 403):
                where = f"${self._api_key_env}" if self._api_key_env else "no key (--api-key-env VAR)"
                raise BackendUnavailable(f"{models_url} refused the key (HTTP {response.status_code}); check {where}")
            served = _served_models(response)
            if served is not None and self.model_id not in served:
                raise BackendUnavailable(f"{url.removesuffix('/chat/completions')} serves {', '.join(served) or 'no model'}, "
                                         f"not --model {self.model_id!r}")
        if len(unreachable) == len(self.urls):
            raise BackendUnavailable(f"cannot reach the server: {'; '.join(unreachable)}")

    # --- the Backend interface -------------------------------------------------------------

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield the answer's text as it streams; retry transient failures (see module doc)."""
        cancel = cancel or threading.Event()
        body = self._body(request)
        yielded = ""
        last: _Retryable | None = None
        start = self._next_url_index()
        for attempt in range(self.http.retries + 1):
            if attempt:
                self._sleep_before_retry(attempt, last, cancel)
            url = self.urls[(start + attempt) % len(self.urls)]
            try:
                for text in _skip_prefix(self._attempt(url, body, cancel), yielded, url):
                    yielded += text
                    yield text
                return
            except _Retryable as exc:
                last = exc
        assert last is not None
        kind = GenerationTimeout if last.timed_out else BackendError
        raise kind(f"{last} (gave up after {self.http.retries + 1} attempts)")

    def close(self) -> None:
        self._client.close()

    # --- one attempt -----------------------------------------------------------------------

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        messages, extra = build_messages(request, self.media)
        body: dict[str, Any] = {
            "model": self.model_id, "messages": messages, "max_tokens": request.max_new_tokens,
            "temperature": self.http.temperature, "stream": self.http.stream,
        }
        body.update(extra)
        return body

    def _headers(self, accept: str | None = None) -> dict[str, str]:
        headers = {"Accept": accept or ("text/event-stream" if self.http.stream else "application/json")}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _attempt(self, url: str, body: dict, cancel: threading.Event) -> Iterator[str]:
        import httpx

        deadline = time.monotonic() + self.http.timeout
        try:
            with self._client.stream("POST", url, json=body, headers=self._headers()) as response:
                self._check_status(response, url)
                if "text/event-stream" in response.headers.get("content-type", ""):
                    yield from _sse_text(response, url, deadline, cancel)
                else:
                    response.read()
                    yield _json_text(response.content, url)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer from {url} within {self.http.timeout:g} s", timed_out=True) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection to {url} failed: {_describe(exc)}") from None

    def _check_status(self, response: Any, url: str) -> None:
        status = response.status_code
        if status < 300:
            return
        response.read()
        message = _error_message(response.content)
        if status in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {status} from {url}: {message}", retry_after=_retry_after(response))
        if 300 <= status < 400:
            raise BackendError(f"HTTP {status} from {url}: a redirect to {response.headers.get('location', '?')} "
                               "(not followed: only the given URLs are contacted; pass the final URL)")
        hint = ""
        if status in (401, 403):
            hint = f" (check the key in ${self._api_key_env})" if self._api_key_env else " (the server wants a key: --api-key-env VAR)"
        elif status == 404:
            hint = f" (check the URL and the model name {self.model_id!r})"
        raise BackendError(f"HTTP {status} from {url}: {message}{hint}")

    # --- retry plumbing --------------------------------------------------------------------

    def _next_url_index(self) -> int:
        with self._lock:
            return next(self._url_cycle)

    def _sleep_before_retry(self, attempt: int, last: _Retryable | None, cancel: threading.Event) -> None:
        delay = backoff_delay(attempt, self.http.backoff, self.http.backoff_max)
        if last is not None and last.retry_after is not None:
            delay = max(delay, min(last.retry_after, self.http.backoff_max))
        if cancel.wait(delay):
            raise Cancelled("cancelled")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2**(attempt-1))."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling * (0.5 + random.random() / 2)


def _skip_prefix(chunks: Iterator[str], already: str, url: str) -> Iterator[str]:
    """Yield only what goes beyond `already`, which a retried stream must repeat exactly first."""
    seen = ""
    for chunk in chunks:
        if len(seen) >= len(already):
            yield chunk
            continue
        seen += chunk
        if len(seen) < len(already):
            if not already.startswith(seen):
                raise _diverged(url, already)
            continue
        if not seen.startswith(already):
            raise _diverged(url, already)
        rest = seen[len(already):]
        if rest:
            yield rest
    if len(seen) < len(already) and already:
        raise _diverged(url, already)


def _diverged(url: str, already: str) -> BackendError:
    return BackendError(f"the stream broke after {len(already)} characters and the retry on {url} answered "
                        "differently; not stitching two answers (a resumed run retries this item)")


def _sse_text(response: Any, url: str, deadline: float, cancel: threading.Event) -> Iterator[str]:
    """Text deltas of a server-sent-events stream; a stream without `[DONE]` is a broken one."""
    for line in response.iter_lines():
        if cancel.is_set():
            raise Cancelled("cancelled")
        if time.monotonic() > deadline:
            raise _Retryable(f"the answer from {url} took longer than the time limit", timed_out=True)
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        text = _delta_text(payload, url)
        if text:
            yield text
    raise _Retryable(f"the stream from {url} ended without [DONE]")


def _delta_text(payload: str, url: str) -> str:
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        raise _Retryable(f"malformed event in the stream from {url}: {payload[:80]!r}") from None
    if not isinstance(event, dict):
        raise _Retryable(f"malformed event in the stream from {url}: {payload[:80]!r}")
    if "error" in event:
        raise _Retryable(f"error in the stream from {url}: {_error_text(event['error'])}")
    choices = event.get("choices") or []
    if not choices:
        return ""  # usage-only events
    delta = choices[0].get("delta") or {}
    return delta.get("content") or ""


def _json_text(content: bytes, url: str) -> str:
    """The answer of a non-streamed completion."""
    try:
        body = json.loads(content)
        message = body["choices"][0]["message"]
        return message.get("content") or ""
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError):
        raise _Retryable(f"malformed response body from {url}: {content[:80]!r}") from None


def _error_message(content: bytes) -> str:
    """The server's own error message (OpenAI shape `{"error": {"message": ...}}`), else the body."""
    try:
        body = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return content[:MAX_ERROR_BODY].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(body, dict) and "error" in body:
        return _error_text(body["error"])
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return json.dumps(body)[:MAX_ERROR_BODY]


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _retry_after(response: Any) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _served_models(response: Any) -> list[str] | None:
    """Model ids of an OpenAI `/v1/models` answer; None when the server does not answer it."""
    if response.status_code != 200:
        return None
    try:
        data = response.json()["data"]
        return [str(entry["id"]) for entry in data]
    except (ValueError, KeyError, TypeError):
        return None


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _read_api_key(env_name: str | None) -> str | None:
    if not env_name:
        return None
    key = os.environ.get(env_name)
    if not key:
        raise BackendUnavailable(f"--api-key-env names ${env_name}, which is not set (or empty)")
    return key


def create_openai_backend(*, url: str | list[str] | None = None, model: str | None = None,
                          api_key_env: str | None = None, concurrency: int | None = None,
                          request_timeout: float | None = None, timeout: float | None = None,
                          retries: int | None = None, backoff: float | None = None, stream: bool | None = None,
                          audio_part: AudioPart | None = None, max_pixels: int | None = None,
                          check: bool = True, **_other_backends_options: Any) -> OpenAIBackend:
    """`avr infer --backend openai` options (None: the default); other backends' options are ignored.

    `request_timeout` bounds one HTTP attempt; `timeout` is the runner's budget for the whole
    item, so no single attempt may outlast it either. `check` asks the servers for their models
    first (see `OpenAIBackend.check_servers`).
    """
    defaults = HttpOptions()
    urls = [url] if isinstance(url, str) else list(url or [])
    per_attempt = float(request_timeout) if request_timeout else defaults.timeout
    if timeout:
        per_attempt = min(per_attempt, float(timeout))
    http = HttpOptions(
        timeout=per_attempt,
        retries=defaults.retries if retries is None else int(retries),
        backoff=defaults.backoff if backoff is None else float(backoff),
        stream=defaults.stream if stream is None else bool(stream),
    )
    media = MediaOptions(audio_part=audio_part or "input_audio", max_pixels=max_pixels)
    backend = OpenAIBackend(urls, model or "", api_key_env=api_key_env, concurrency=int(concurrency or 1),
                            http=http, media=media)
    if check:
        try:
            backend.check_servers()
        except BaseException:
            backend.close()
            raise
    return backend


register_backend("openai", create_openai_backend)
