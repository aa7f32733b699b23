"""A real OpenAI-style chat-completions server on 127.0.0.1 for tests and benchmarks.

Each request is answered according to `behaviour(n, body)` (n counts requests from 0), one of:
"ok", "slow:SECONDS" (sleep, then answer), "500", "429", "400", "404", "broken" (200 with a
body that is not JSON), "drop" (close the connection without answering), "drop_mid" (stream
part of the answer, then close the connection), "redirect:URL". Streams are SSE over HTTP/1.1
chunked encoding, as vLLM sends them. Every request body, header set and accepted connection
is recorded so tests can check what reached the server. `GET /v1/models` lists `models`
(404 when none are given, as on a minimal server). `delay` makes every request take that
long; `capacity` caps how many are served at once (a GPU server's batch), for benchmarks.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[int, dict], str]
Answer = Callable[[dict], str]


def default_answer(body: dict) -> str:
    """"<answer>N</answer>" with N the number of image parts received (checks the frames arrived)."""
    parts = [p for m in body.get("messages", []) if isinstance(m.get("content"), list) for p in m["content"]]
    return f"<answer>{sum(p.get('type') == 'image_url' for p in parts)}</answer>"


class ChatServer:
    """Start with `with ChatServer(...) as server:`; `server.url` is the `/v1` base URL."""

    def __init__(self, behaviour: Behaviour | None = None, answer: Answer = default_answer,
                 delay: float = 0.0, chunk_chars: int = 4, capacity: int | None = None,
                 models: list[str] | None = None) -> None:
        self.behaviour = behaviour or (lambda n, body: "ok")
        self.answer = answer
        self.delay = delay
        self.chunk_chars = chunk_chars
        self.slots = threading.BoundedSemaphore(capacity) if capacity else None
        self.models = models
        self.gets: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def work(self, seconds: float) -> None:
        """Take `seconds` per request; with a capacity, at most that many requests at once (a GPU's batch)."""
        if self.slots is None:
            time.sleep(seconds)
            return
        with self.slots:
            time.sleep(seconds)

    def _record(self, body: dict, headers: dict, path: str) -> int:
        with self._lock:
            self.requests.append({"body": body, "headers": headers, "path": path})
            return len(self.requests) - 1

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ChatServer

    def process_request(self, request, client_address):  # noqa: ANN001 - http.server signature
        self.owner._count_connection()
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):  # noqa: ANN001 - http.server signature
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up: expected here
            super().handle_error(request, client_address)


def _handler_for(owner: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_ChatHandler):
        server_owner = owner

    return Handler


class _ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: ChatServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """`/v1/models` lists `models` when the server was given some; otherwise 404 (a minimal server)."""
        owner = self.server_owner
        with owner._lock:
            owner.gets.append(self.path)
        if owner.models is None or not self.path.endswith("/models"):
            self._send_json(404, {"error": {"message": "not found"}})
        else:
            self._send_json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in owner.models]})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.loads(raw)
        owner = self.server_owner
        n = owner._record(body, dict(self.headers), self.path)
        action = owner.behaviour(n, body)
        if owner.delay:
            owner.work(owner.delay)
        if action.startswith("slow:"):
            time.sleep(float(action.split(":", 1)[1]))
            action = "ok"
        if action == "drop":
            self.close_connection = True
            return
        if action in ("500", "429", "400", "404"):
            self._send_json(int(action), {"error": {"message": f"scripted {action}", "type": "test"}})
        elif action == "broken":
            self._send_bytes(200, b'{"choices": [{"message": {"content": "trunc', "application/json")
        elif action.startswith("redirect:"):
            self.send_response(307)
            self.send_header("Location", action.split(":", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif body.get("stream"):
            self._stream(owner.answer(body), drop_mid=(action == "drop_mid"))
        else:
            self._send_json(200, {"choices": [{"index": 0, "message": {"role": "assistant",
                                                                        "content": owner.answer(body)}}]})

    def _send_json(self, status: int, payload: dict) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, text: str, drop_mid: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        size = self.server_owner.chunk_chars
        pieces = [text[i:i + size] for i in range(0, len(text), size)] or [""]
        if drop_mid:
            pieces = pieces[: max(1, len(pieces) // 2)]
        for piece in pieces:
            event = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
        if drop_mid:
            self.wfile.flush()
            self.close_connection = True
            return
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
